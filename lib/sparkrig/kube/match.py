"""Pure logic of steps: placeholders, partial matching, JSONPath and wait conditions.

Kept apart from the step runner so it can be tested without a cluster. Live
objects are the camelCase JSON dicts that the API server returns.

Partial matching (assert steps): a mapping matches when every expected key
matches the live value under that key; a list matches when every expected item
matches some live item (order and extra live items do not matter); scalars
match when equal, where a string also equals a number or boolean of the same
text (`"1"` equals `1`, `"true"` equals `true`), because YAML authors quote
inconsistently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "PLACEHOLDERS",
    "substitute",
    "substitute_all",
    "match_partial",
    "jsonpath_values",
    "parse_wait_for",
    "WaitFor",
    "condition_state",
]

PLACEHOLDERS = ("NAMESPACE", "RELEASE", "RUN_ID", "CHART", "SCENARIO_DIR")
_PLACEHOLDER = re.compile(r"\$\{(" + "|".join(PLACEHOLDERS) + r")\}")


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace `${NAMESPACE}`, `${RELEASE}`, `${RUN_ID}`, `${CHART}` and `${SCENARIO_DIR}`.

    Other `${...}` forms are left for the shell, so run steps can still use
    their own variables.
    """
    return _PLACEHOLDER.sub(lambda found: values.get(found.group(1), found.group(0)), text)


def substitute_all(value: Any, values: Mapping[str, str]) -> Any:
    """Substitute placeholders in every string inside lists and mappings (keys too)."""
    if isinstance(value, str):
        return substitute(value, values)
    if isinstance(value, list):
        return [substitute_all(item, values) for item in value]
    if isinstance(value, dict):
        return {substitute_all(key, values): substitute_all(item, values)
                for key, item in value.items()}
    return value


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _scalars_equal(expected: Any, actual: Any) -> bool:
    if expected == actual and type(expected) is type(actual):
        return True
    if isinstance(expected, bool) != isinstance(actual, bool) and not (
        isinstance(expected, str) or isinstance(actual, str)
    ):
        return False  # 1 == True in Python, but not in a Kubernetes object
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return bool(expected == actual)
    if isinstance(expected, str) or isinstance(actual, str):
        return _scalar_text(expected) == _scalar_text(actual)
    return bool(expected == actual)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def match_partial(expected: Any, actual: Any, path: str = "") -> str | None:
    """Return None when `actual` matches `expected` partially, else where and how it differs."""
    where = path or "(object)"
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"{where}: expected a mapping, got {_short(actual)}"
        for key, value in expected.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in actual:
                return f"{child}: missing (expected {_short(value)})"
            problem = match_partial(value, actual[key], child)
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected a list, got {_short(actual)}"
        for index, item in enumerate(expected):
            if not any(match_partial(item, candidate, "") is None for candidate in actual):
                return f"{path}[{index}]: no live item matches {_short(item)}"
        return None
    if _scalars_equal(expected, actual):
        return None
    return f"{where}: expected {_short(expected)}, got {_short(actual)}"


_JSONPATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+|\*)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def jsonpath_values(obj: Any, expression: str) -> list[Any]:
    """Evaluate a kubectl-style JSONPath such as `{.status.conditions[0].type}`.

    Supports dotted fields, `[N]` indexes, `[*]` wildcards and quoted keys
    (`['app.kubernetes.io/name']`); filters and recursive descent are not
    supported. Returns every value found (none when the path is missing).
    """
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text in ("", "."):
        return [obj]
    position = 0
    current = [obj]
    while position < len(text):
        token = _JSONPATH_TOKEN.match(text, position)
        if token is None:
            raise ValueError(
                f"unsupported JSONPath {expression!r} at {text[position:]!r}; "
                "use fields, [N], [*] or ['key'], e.g. {.status.phase}"
            )
        position = token.end()
        field_name, index, single, double = token.groups()
        key = field_name
        if key is None:
            key = single if single is not None else double
        following: list[Any] = []
        for value in current:
            if key is not None and isinstance(value, Mapping) and key in value:
                following.append(value[key])
            elif index == "*" and isinstance(value, list):
                following.extend(value)
            elif index not in (None, "*") and isinstance(value, list) and int(index) < len(value):
                following.append(value[int(index)])
        current = following
    return current


class WaitFor:
    """A parsed `for` of a wait step: condition=X[=V], jsonpath={...}[=V] or delete."""

    def __init__(self, kind: str, subject: str = "", value: str | None = None) -> None:
        self.kind = kind  # "condition", "jsonpath" or "delete"
        self.subject = subject
        self.value = value

    def __repr__(self) -> str:
        return f"WaitFor({self.kind!r}, {self.subject!r}, {self.value!r})"


def parse_wait_for(text: str) -> WaitFor:
    """Parse the `for` field of a wait step; raises ValueError naming the accepted forms."""
    if text == "delete":
        return WaitFor("delete")
    if text.startswith("condition="):
        name, _, value = text[len("condition="):].partition("=")
        if name:
            return WaitFor("condition", name, value or "True")
    if text.startswith("jsonpath="):
        rest = text[len("jsonpath="):]
        closing = rest.find("}")
        if rest.startswith("{") and closing > 0:
            expression = rest[: closing + 1]
            remainder = rest[closing + 1:]
            if not remainder:
                return WaitFor("jsonpath", expression, None)
            if remainder.startswith("="):
                return WaitFor("jsonpath", expression, remainder[1:])
    raise ValueError(
        f"invalid wait condition {text!r}; expected condition=X, jsonpath={{.path}}=value "
        "or delete"
    )


def condition_state(obj: Mapping[str, Any], wait_for: WaitFor) -> tuple[bool, str]:
    """Return whether `obj` meets a condition or JSONPath wait, and its current state in words."""
    if wait_for.kind == "condition":
        conditions = (obj.get("status") or {}).get("conditions") or []
        for condition in conditions:
            # kubectl compares condition types and statuses case-insensitively.
            if str(condition.get("type", "")).lower() != wait_for.subject.lower():
                continue
            status = str(condition.get("status", ""))
            met = status.lower() == str(wait_for.value).lower()
            detail = condition.get("reason") or condition.get("message") or ""
            return met, f"{condition.get('type')}={status}" + (f" ({detail})" if detail else "")
        return False, f"no condition {wait_for.subject}"
    if wait_for.kind == "jsonpath":
        found = jsonpath_values(obj, wait_for.subject)
        if wait_for.value is None:
            return bool(found), f"{wait_for.subject} " + ("present" if found else "missing")
        texts = [_scalar_text(value) for value in found]
        met = bool(texts) and all(text == wait_for.value for text in texts)
        return met, f"{wait_for.subject}={','.join(texts) or '(missing)'}"
    raise ValueError(f"condition_state does not handle {wait_for.kind!r}")
