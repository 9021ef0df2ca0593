"""The result model: what a run produced, scenario by scenario.

`results.json` is the single source of truth of a run, and JUnit XML, HTML and
the Markdown summary are generated from it. Workers write each scenario's
`result.json` atomically as soon as the scenario ends, so a crash or an
interrupt still leaves every finished result on disk. The run's `results.json`
comes from the parent's records, and from those files for any scenario whose
outcome the parent did not receive.

The JSON form is versioned by `SCHEMA_VERSION` and described by the JSON Schema
file `report/results.schema.json`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = [
    "SCHEMA_VERSION",
    "Status",
    "Attempt",
    "ScenarioResult",
    "RunResult",
    "write_json_atomic",
]

SCHEMA_VERSION = 1


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"

    @property
    def is_success(self) -> bool:
        return self in (Status.PASSED, Status.SKIPPED)


@dataclass
class Attempt:
    """One execution of a scenario in its own namespace and release."""

    number: int
    namespace: str
    release: str
    started_at: str
    ended_at: str
    status: Status
    exit_code: int | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = _fields_dict(self)
        data["status"] = str(self.status)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attempt:
        return cls(**{**data, "status": Status(data["status"])})


@dataclass
class ScenarioResult:
    """The outcome of one scenario (all its attempts) in one run."""

    name: str
    tier: str
    status: Status
    reason: str = ""
    tags: list[str] = field(default_factory=list)
    description: str = ""
    source: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    duration: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    flaky: bool = False
    output_path: str | None = None
    diagnostics_path: str | None = None
    output_tail: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = _fields_dict(self)
        data["status"] = str(self.status)
        data["attempts"] = [attempt.to_dict() for attempt in self.attempts]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScenarioResult:
        attempts = [Attempt.from_dict(item) for item in data.get("attempts", [])]
        return cls(**{**data, "status": Status(data["status"]), "attempts": attempts})


@dataclass
class RunResult:
    """One invocation of the rig: its metadata and every scenario's result."""

    run_id: str
    started_at: str
    ended_at: str | None = None
    sparkrig_version: str = ""
    cluster: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)
    max_parallel: int = 4
    exit_code: int | None = None
    scenarios: list[ScenarioResult] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION
    # The runs that `sparkrig report --merge` joined into this one: path, run_id, times, count.
    merged_from: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = _fields_dict(self)
        data["scenarios"] = [result.to_dict() for result in self.scenarios]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        scenarios = [ScenarioResult.from_dict(item) for item in data.get("scenarios", [])]
        return cls(**{**data, "scenarios": scenarios})

    @classmethod
    def load(cls, path: Path) -> RunResult:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # per result class, in declaration order


def _plain_copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain_copy(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain_copy(item) for key, item in value.items()}
    return value


def _fields_dict(instance: Any) -> dict[str, Any]:
    """Return the fields of a result dataclass in order, lists and dicts copied.

    `dataclasses.asdict` gives the same for these classes, whose nested
    dataclasses (`attempts`, `scenarios`) each `to_dict` replaces, but it took
    10 ms for 200 scenarios against 1 ms here, and the run waits for it.
    """
    names = _FIELD_NAMES.get(type(instance))
    if names is None:
        names = _FIELD_NAMES[type(instance)] = tuple(item.name for item in fields(instance))
    return {name: _plain_copy(getattr(instance, name)) for name in names}


def _current_umask() -> int:
    """Return the process umask without changing it, which os.umask alone cannot do."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    # NOTE: this fallback sets the umask briefly, so a thread creating a file meanwhile gets 0o077.
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def write_json_atomic(path: Path, data: Any, *, durable: bool = True) -> None:
    """Write JSON to `path` so that readers see the old file or the whole new one.

    The rename alone keeps that promise when a process crashes or is killed.
    `durable` also syncs the data to disk before the rename, so that the new
    file survives a power loss too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file 0600; give it the mode open() would, like the other reports.
        os.fchmod(fd, 0o666 & ~_current_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=False)
            handle.write("\n")
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
