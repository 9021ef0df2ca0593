"""Parse the units that scenario files use: durations and Kubernetes quantities.

Durations are a number of seconds (`90`, `0.5`) or a string of one or more
number-unit pairs in the style of Go's `time.ParseDuration` (`30s`, `5m`,
`1h30m`, `250ms`). CPU and memory follow the Kubernetes quantity format: CPU in
cores or millicores (`2`, `0.5`, `500m`), memory in bytes with a decimal
(`k`, `M`, `G`, `T`, `P`, `E`) or binary (`Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`)
suffix, or an exponent (`1e9`).

Each parser raises `ValueError` with a message that states the accepted forms;
the loader turns it into a `ScenarioError` that names the file and the field.
"""

from __future__ import annotations

import math
import re

__all__ = ["parse_duration", "parse_cpu_millis", "parse_memory_bytes", "format_duration"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

_MEMORY_SUFFIXES = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)(?:([eE]\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E))?")
_CPU = re.compile(r"(\d+(?:\.\d+)?)(m?)")

DURATION_FORMS = "a number of seconds or a duration such as 30s, 5m, 1h or 1m30s"
CPU_FORMS = 'cores or millicores, such as "2", "0.5" or "500m"'
MEMORY_FORMS = 'bytes with an optional suffix, such as "512Mi", "4Gi" or "1G"'


def _is_number(value: object) -> bool:
    # YAML turns `yes`/`true` into bool, which is an int subclass: not a number here.
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_duration(value: object) -> float:
    """Return the duration in seconds; it must be greater than zero."""
    if _is_number(value):
        seconds = float(value)  # type: ignore[arg-type]  # _is_number checked the type
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        else:
            parts = _DURATION_PART.findall(text)
            if not parts or "".join(number + unit for number, unit in parts) != text:
                raise ValueError(f"invalid duration {value!r}: expected {DURATION_FORMS}")
            seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
    else:
        raise ValueError(f"invalid duration {value!r}: expected {DURATION_FORMS}")

    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"invalid duration {value!r}: expected a value greater than zero")
    return seconds


def parse_cpu_millis(value: object) -> int:
    """Return a CPU quantity in millicores (rounded up, as Kubernetes does)."""
    if _is_number(value):
        text = repr(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"invalid CPU quantity {value!r}: expected {CPU_FORMS}")

    match = _CPU.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid CPU quantity {value!r}: expected {CPU_FORMS}")
    number, milli = match.groups()
    return math.ceil(float(number) if milli else float(number) * 1000)


def parse_memory_bytes(value: object) -> int:
    """Return a memory quantity in bytes (rounded up)."""
    if _is_number(value):
        text = repr(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"invalid memory quantity {value!r}: expected {MEMORY_FORMS}")

    match = _MEMORY.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid memory quantity {value!r}: expected {MEMORY_FORMS}")
    number: str = match.group(1)
    exponent: str | None = match.group(2)
    suffix: str = match.group(3) or ""
    if exponent:
        return math.ceil(float(number) * 10.0 ** int(exponent[1:]))
    return math.ceil(float(number) * _MEMORY_SUFFIXES[suffix])


def format_duration(seconds: float) -> str:
    """Format seconds for tables and progress lines: 45s, 2m05s, 1h02m."""
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
