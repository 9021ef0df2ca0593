"""Validate the steps of a YAML scenario, kind by kind.

A step is a mapping with one key, the step kind, whose value contains the step's
fields (docs/scenarios.md lists them). Every kind takes `name` and `timeout`;
the other fields are checked here and stored in `Step.options` with their
defaults filled in, so the executor reads `options["wait"]` without guessing:

- install: values (list of str), set (dict of str), wait, expect_failure,
  output_contains (list of str)
- wait: resource (str) or kind and selector (str), for (str)
- assert: resource or kind and selector, match (dict), count (int or None)
- run: command (str) or argv (list of str), expect_exit (int), output_contains
- test: logs
- uninstall: wait

`output_contains` is always a list here, also where the file gives one string.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sparkrig.errors import ScenarioError
from sparkrig.scenario._fields import Fields, describe_type
from sparkrig.scenario.model import DEFAULT_STEP_TIMEOUT_SECONDS, STEP_KINDS, Step
from sparkrig.scenario.quantities import parse_duration

__all__ = ["parse_step"]

# The forms `kubectl wait --for` accepts that the executor implements.
_WAIT_FOR = re.compile(r"condition=[^=\s]+(=\S+)?|jsonpath=\{[^}]+\}(=\S*)?|delete")
_NAME_LIMIT = 60


def _target(fields: Fields, *, allow_count: bool = False) -> dict[str, Any]:
    """Read `resource`, or `kind` with `selector`: the objects a wait or assert looks at."""
    resource = fields.string("resource")
    kind = fields.string("kind")
    selector = fields.string("selector")
    if resource and (kind or selector):
        raise fields.error(
            "resource", "give either resource (kind/name) or kind with selector, not both"
        )
    if resource:
        if resource.count("/") != 1 or resource.startswith("/") or resource.endswith("/"):
            raise fields.error(
                "resource", f"expected kind/name such as deployment/web, got {resource!r}"
            )
    elif not kind:
        raise fields.error(
            None, "missing the target; expected resource (kind/name) or kind with selector"
        )
    elif not selector:
        raise fields.error(
            "selector", f"missing; kind {kind!r} needs a label selector such as app=web"
        )
    return {"resource": resource or None, "kind": kind or None, "selector": selector or None}


def _output_contains(fields: Fields) -> list[str]:
    return list(fields.string_list("output_contains"))


def _install(fields: Fields) -> dict[str, Any]:
    return {
        "values": list(fields.string_list("values")),
        "set": fields.scalar_mapping("set"),
        "wait": fields.boolean("wait", default=True),
        "expect_failure": fields.boolean("expect_failure", default=False),
        "output_contains": _output_contains(fields),
    }


def _wait(fields: Fields) -> dict[str, Any]:
    options = _target(fields)
    condition = fields.string("for", required=True)
    if not _WAIT_FOR.fullmatch(condition):
        raise fields.error(
            "for",
            f"invalid condition {condition!r}; "
            "expected condition=X, jsonpath={.path}=value or delete",
        )
    options["for"] = condition
    return options


def _assert(fields: Fields) -> dict[str, Any]:
    options = _target(fields)
    match = fields.mapping("match")
    count_given = fields.has("count")
    count = fields.integer("count", default=0) if count_given else None
    if count is not None and not options["selector"]:
        raise fields.error("count", "count needs kind with selector, not resource")
    if match is None and count is None:
        raise fields.error(None, "nothing to check; expected match (a partial object) or count")
    options.update({"match": match or {}, "count": count})
    return options


def _run(fields: Fields) -> dict[str, Any]:
    command = fields.string("command")
    argv = fields.string_list("argv")
    if command and argv:
        raise fields.error(
            "argv", "give either command (a shell string) or argv (a list), not both"
        )
    if not command and not argv:
        raise fields.error(
            None, "missing the command; expected command (a shell string) or argv (a list)"
        )
    return {
        "command": command or None,
        "argv": list(argv) or None,
        "expect_exit": fields.integer("expect_exit", default=0),
        "output_contains": _output_contains(fields),
    }


def _test(fields: Fields) -> dict[str, Any]:
    return {"logs": fields.boolean("logs", default=True)}


def _uninstall(fields: Fields) -> dict[str, Any]:
    return {"wait": fields.boolean("wait", default=True)}


_PARSERS: dict[str, Callable[[Fields], dict[str, Any]]] = {
    "install": _install,
    "wait": _wait,
    "assert": _assert,
    "run": _run,
    "test": _test,
    "uninstall": _uninstall,
}
_ALLOWED = {
    "install": "name, timeout, values, set, wait, expect_failure, output_contains",
    "wait": "name, timeout, resource, kind, selector, for",
    "assert": "name, timeout, resource, kind, selector, match, count",
    "run": "name, timeout, command, argv, expect_exit, output_contains",
    "test": "name, timeout, logs",
    "uninstall": "name, timeout, wait",
}


def _default_name(kind: str, options: dict[str, Any]) -> str:
    if kind in ("wait", "assert"):
        target = options["resource"] or f"{options['kind']} -l {options['selector']}"
        name = f"{kind} {target}"
    elif kind == "run":
        name = "run " + (options["command"] or " ".join(options["argv"]))
    else:
        name = kind
    return name if len(name) <= _NAME_LIMIT else name[: _NAME_LIMIT - 3] + "..."


def parse_step(path: Path, index: int, item: object) -> Step:
    """Validate step number `index` (0-based) of the file at `path`."""
    prefix = f"steps[{index}]"
    kinds = ", ".join(STEP_KINDS)
    if not isinstance(item, dict) or len(item) != 1:
        if isinstance(item, dict):
            found = f"found {len(item)} keys: {', '.join(map(str, item)) or 'none'}"
        else:
            found = f"got {describe_type(item)}"
        raise ScenarioError(
            str(path),
            prefix,
            f"expected a mapping with one key, the step kind ({kinds}); {found}. "
            "Indent a step's fields under its kind",
        )
    ((kind, body),) = item.items()
    if kind not in _PARSERS:
        raise ScenarioError(
            str(path), prefix, f"unknown step kind {kind!r}; expected one of: {kinds}"
        )
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ScenarioError(
            str(path),
            f"{prefix}.{kind}",
            f"expected a mapping of fields, got {describe_type(body)}",
        )

    fields = Fields(path, body, f"{prefix}.{kind}")
    name = fields.string("name")
    timeout = fields.parsed("timeout", parse_duration, default=DEFAULT_STEP_TIMEOUT_SECONDS)
    options = _PARSERS[kind](fields)
    fields.reject_unknown(allowed=_ALLOWED[kind])
    return Step(
        kind=kind, name=name or _default_name(kind, options), timeout=timeout, options=options
    )
