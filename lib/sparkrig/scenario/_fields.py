"""Typed access to the fields of a parsed mapping, with errors that name the field.

`Fields` wraps one mapping of a scenario file (the top level, `chart`,
`resources` or one step) and a dotted prefix such as `steps[2].wait`. Each
getter checks the type of one key and raises `ScenarioError` naming the file,
the full field path and what is expected; `reject_unknown` lists the keys that
no getter read, so a typo such as `timout` is an error, not a silent default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sparkrig.errors import ScenarioError

T = TypeVar("T")


def closest_name(name: str, known: Iterable[str]) -> str | None:
    """Return the known name most like `name`, for a "did you mean" hint, or None."""
    import difflib  # only for error messages: not at start-up

    close = difflib.get_close_matches(name, list(known), n=1)
    return close[0] if close else None


def describe_type(value: object) -> str:
    """Name the YAML type of a parsed value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class Fields:
    """The keys of one mapping in a scenario file, read with type checks."""

    def __init__(self, path: Path, data: Mapping[str, Any], prefix: str = "") -> None:
        self.path = path
        self.data = data
        self.prefix = prefix
        self._read: set[str] = set()

    def field(self, key: str) -> str:
        """Return the full dotted name of `key`, as error messages show it."""
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str | None, problem: str) -> ScenarioError:
        field = self.field(key) if key else (self.prefix or None)
        return ScenarioError(str(self.path), field, problem)

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def raw(self, key: str) -> Any:
        self._read.add(key)
        return self.data.get(key)

    def string(self, key: str, *, required: bool = False, default: str = "") -> str:
        value = self.raw(key)
        if value is None:
            if required:
                raise self.error(key, "missing; expected a non-empty string")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(key, f"expected a string, got {describe_type(value)}")
        text = str(value).strip()
        if required and not text:
            raise self.error(key, "empty; expected a non-empty string")
        return text

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def integer(self, key: str, *, default: int, minimum: int = 0) -> int:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected a whole number, got {value!r}")
        if value < minimum:
            raise self.error(key, f"expected a number of at least {minimum}, got {value}")
        return value

    def string_list(self, key: str) -> tuple[str, ...]:
        """Read a list of strings; a single string counts as a list of one."""
        value = self.raw(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.error(key, f"expected a list of strings, got {describe_type(value)}")
        items: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise self.error(f"{key}[{index}]", f"expected a string, got {describe_type(item)}")
            text = str(item).strip()
            if not text:
                raise self.error(f"{key}[{index}]", "empty; expected a non-empty string")
            items.append(text)
        return tuple(items)

    def mapping(self, key: str) -> dict[str, Any] | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping, got {describe_type(value)}")
        for name in value:
            if not isinstance(name, str):
                raise self.error(key, f"expected string keys, got {name!r}")
        return value

    def scalar_mapping(self, key: str) -> dict[str, str]:
        """Read a mapping of names to scalars, with the scalars as Helm/label strings."""
        value = self.mapping(key) or {}
        pairs: dict[str, str] = {}
        for name, item in value.items():
            if isinstance(item, bool):
                pairs[name] = "true" if item else "false"
            elif isinstance(item, str | int | float):
                pairs[name] = str(item)
            else:
                raise self.error(
                    f"{key}.{name}",
                    f"expected a string, number or boolean, got {describe_type(item)}",
                )
        return pairs

    def parsed(self, key: str, parse: Callable[[object], T], *, default: T) -> T:
        """Read a value through `parse`, whose ValueError becomes a ScenarioError."""
        value = self.raw(key)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from exc

    def reject_unknown(self, *, allowed: str | None = None) -> None:
        unknown = sorted(set(self.data) - self._read)
        if unknown:
            known = allowed or ", ".join(sorted(self._read))
            raise self.error(unknown[0], f"unknown field; expected one of: {known}")
