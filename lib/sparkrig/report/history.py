"""Durations history: expected scenario durations learnt from earlier runs.

`<results_dir>/history/durations.json` stores, per scenario name, the last
`RECENT_RUNS` durations of runs where it passed or failed, and their mean as
`expected` (seconds). Skipped, errored, timed-out and interrupted results are
left out because their duration tells little about a normal run. The scheduler
reads `load_expected_durations` to start the longest scenarios first and to
balance `--shard`; every run and every `report --merge` calls
`update_history`, so the file needs no manual upkeep.

Each sample carries a key (the last attempt's namespace, unique per attempt,
else the run id), so adding the same run twice, or a merged run whose shards
were already added, does not count a duration twice. Updates hold an
exclusive `flock` on a lock file beside the history, because shards running
on one machine may finish at the same moment.

File format (version 1):

    {"version": 1, "updated_at": "...", "scenarios": {
        "connect-ready": {"expected": 41.2,
                          "samples": [{"key": "spark-test-...", "duration": 40.1}, ...]}}}
"""

from __future__ import annotations

import fcntl
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sparkrig.results import RunResult, ScenarioResult, Status, write_json_atomic

__all__ = [
    "HISTORY_VERSION",
    "RECENT_RUNS",
    "history_path",
    "load_expected_durations",
    "update_history",
]

logger = logging.getLogger(__name__)

HISTORY_VERSION = 1
RECENT_RUNS = 5
_COUNTED_STATUSES = frozenset({Status.PASSED, Status.FAILED})


def history_path(results_dir: Path) -> Path:
    return results_dir / "history" / "durations.json"


def _read(path: Path) -> dict[str, Any]:
    """Read the history file; a missing, unreadable or other-version file yields an empty one.

    The history only orders and balances scenarios, so a bad file is logged
    and replaced instead of stopping the run.
    """
    empty: dict[str, Any] = {"version": HISTORY_VERSION, "scenarios": {}}
    if not path.is_file():
        return empty
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        logger.warning("ignoring unreadable durations history %s: %s", path, exc)
        return empty
    if not isinstance(data, dict) or data.get("version") != HISTORY_VERSION \
            or not isinstance(data.get("scenarios"), dict):
        logger.warning("ignoring durations history %s: expected version %d with a "
                       "'scenarios' mapping", path, HISTORY_VERSION)
        return empty
    return data


def load_expected_durations(results_dir: Path) -> dict[str, float]:
    """Return the expected duration in seconds of each scenario that has a history."""
    scenarios: dict[str, Any] = _read(history_path(results_dir))["scenarios"]
    expected: dict[str, float] = {}
    for name, entry in scenarios.items():
        try:
            expected[name] = float(entry["expected"])
        except (KeyError, TypeError, ValueError):
            logger.warning("ignoring durations history entry %r without a numeric 'expected'", name)
    return expected


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(f".{path.name}.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _sample_key(result: ScenarioResult, run_id: str) -> str:
    if result.attempts and result.attempts[-1].namespace:
        return result.attempts[-1].namespace
    return f"{run_id}/{result.name}"


def update_history(results_dir: Path, run: RunResult) -> None:
    """Add the durations of the run's passed and failed scenarios to the history."""
    path = history_path(results_dir)
    with _locked(path):
        data = _read(path)
        scenarios: dict[str, Any] = data["scenarios"]
        added = 0
        for result in run.scenarios:
            if result.status not in _COUNTED_STATUSES:
                continue
            entry = scenarios.setdefault(result.name, {"samples": []})
            samples = [sample for sample in entry.get("samples", []) if isinstance(sample, dict)]
            key = _sample_key(result, run.run_id)
            if any(sample.get("key") == key for sample in samples):
                continue
            samples = [*samples, {"key": key, "duration": round(result.duration, 3)}]
            entry["samples"] = samples[-RECENT_RUNS:]
            durations = [float(sample["duration"]) for sample in entry["samples"]]
            entry["expected"] = round(sum(durations) / len(durations), 3)
            added += 1
        data["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        write_json_atomic(path, data)
    logger.info("durations history %s: added %d samples from run %s", path, added, run.run_id)
