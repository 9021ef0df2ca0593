"""Durations history: recent means, excluded statuses, idempotent updates, bad files."""

from __future__ import annotations

import json
from pathlib import Path

from sparkrig.report.history import (
    RECENT_RUNS,
    history_path,
    load_expected_durations,
    update_history,
)
from sparkrig.results import Attempt, RunResult, ScenarioResult, Status


def run_with(run_id: str, *results: tuple[str, Status, float]) -> RunResult:
    scenarios = []
    for name, status, duration in results:
        attempts = [Attempt(number=1, namespace=f"spark-test-{name}-{run_id}", release="r",
                            started_at="2025-01-01T00:00:00Z", ended_at="2025-01-01T00:00:01Z",
                            status=status)]
        scenarios.append(ScenarioResult(name=name, tier="smoke", status=status,
                                        duration=duration, attempts=attempts))
    return RunResult(run_id=run_id, started_at="2025-01-01T00:00:00Z", scenarios=scenarios)


def test_missing_history_is_empty(tmp_path: Path) -> None:
    assert load_expected_durations(tmp_path) == {}


def test_expected_is_mean_of_recent_runs(tmp_path: Path) -> None:
    for index, duration in enumerate([100.0, 10.0, 20.0, 30.0, 40.0, 50.0]):
        update_history(tmp_path, run_with(f"r{index}", ("a", Status.PASSED, duration)))

    assert RECENT_RUNS == 5
    assert load_expected_durations(tmp_path) == {"a": 30.0}


def test_failed_runs_count_and_skipped_do_not(tmp_path: Path) -> None:
    update_history(tmp_path, run_with("r1", ("a", Status.FAILED, 8.0),
                                      ("b", Status.SKIPPED, 0.0),
                                      ("c", Status.ERROR, 1.0),
                                      ("d", Status.TIMED_OUT, 600.0)))

    assert load_expected_durations(tmp_path) == {"a": 8.0}


def test_same_run_twice_counts_once(tmp_path: Path) -> None:
    run = run_with("r1", ("a", Status.PASSED, 10.0))
    update_history(tmp_path, run)
    update_history(tmp_path, run)

    data = json.loads(history_path(tmp_path).read_text())
    assert len(data["scenarios"]["a"]["samples"]) == 1


def test_history_file_is_versioned(tmp_path: Path) -> None:
    update_history(tmp_path, run_with("r1", ("a", Status.PASSED, 10.0)))

    data = json.loads(history_path(tmp_path).read_text())
    assert data["version"] == 1
    assert data["scenarios"]["a"]["expected"] == 10.0


def test_corrupt_history_is_replaced(tmp_path: Path) -> None:
    path = history_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")

    assert load_expected_durations(tmp_path) == {}
    update_history(tmp_path, run_with("r1", ("a", Status.PASSED, 4.0)))
    assert load_expected_durations(tmp_path) == {"a": 4.0}


def test_other_version_is_ignored(tmp_path: Path) -> None:
    path = history_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": 2, "scenarios": {"a": {"expected": 1.0}}}))

    assert load_expected_durations(tmp_path) == {}
