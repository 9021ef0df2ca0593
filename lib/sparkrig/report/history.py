"""Durations history: expected scenario durations learnt from earlier runs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sparkrig.results import RunResult, Status, write_json_atomic

__all__ = ["HISTORY_VERSION", "history_path", "load_expected_durations", "update_history"]

logger = logging.getLogger(__name__)

HISTORY_VERSION = 1
RECENT_RUNS = 5


def history_path(results_dir: Path) -> Path:
    return results_dir / "history" / "durations.json"


def load_expected_durations(results_dir: Path) -> dict[str, float]:
    """Return the expected duration in seconds of each scenario with a history."""
    path = history_path(results_dir)
    if not path.is_file():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    scenarios: dict[str, Any] = data.get("scenarios", {})
    return {name: float(entry["expected"]) for name, entry in scenarios.items()}


def update_history(results_dir: Path, run: RunResult) -> None:
    """Add the durations of the run's passed and failed scenarios to the history."""
    path = history_path(results_dir)
    data: dict[str, Any] = {"version": HISTORY_VERSION, "scenarios": {}}
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
    scenarios: dict[str, Any] = data.setdefault("scenarios", {})
    for result in run.scenarios:
        if result.status not in (Status.PASSED, Status.FAILED):
            continue
        entry = scenarios.setdefault(result.name, {"samples": []})
        samples = [*entry["samples"], round(result.duration, 3)][-RECENT_RUNS:]
        entry["samples"] = samples
        entry["expected"] = round(sum(samples) / len(samples), 3)
    write_json_atomic(path, data)
