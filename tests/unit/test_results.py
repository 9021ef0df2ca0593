"""The result model's dict form, as results.json and result.json store it."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

from sparkrig.results import Attempt, RunResult, ScenarioResult, Status, write_json_atomic


def _sample_run() -> RunResult:
    attempts = [
        Attempt(1, "ns-1", "rel-1", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z",
                Status.ERROR, None, "api error"),
        Attempt(2, "ns-2", "rel-2", "2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z",
                Status.PASSED, 0, ""),
    ]
    scenario = ScenarioResult(name="a", tier="smoke", status=Status.PASSED, tags=["x", "y"],
                              attempts=attempts, flaky=True, duration=2.5)
    return RunResult(
        run_id="r1",
        started_at="2026-01-01T00:00:00Z",
        cluster={"provider": "local", "capabilities": ["c"], "capacity": {"pods": 10}},
        selection={"tiers": ["smoke"], "shard": None},
        scenarios=[scenario, ScenarioResult(name="b", tier="e2e", status=Status.SKIPPED)],
        merged_from=[{"run_id": "r0", "count": 1}],
    )


def _reference(run: RunResult) -> dict[str, object]:
    data = dataclasses.asdict(run)
    for scenario in data["scenarios"]:
        scenario["status"] = str(scenario["status"])
        for attempt in scenario["attempts"]:
            attempt["status"] = str(attempt["status"])
    return data


def test_run_to_dict_matches_asdict() -> None:
    run = _sample_run()
    data = run.to_dict()
    assert data == _reference(run)
    assert list(data) == list(_reference(run))
    field_names = [field.name for field in dataclasses.fields(ScenarioResult)]
    assert list(data["scenarios"][0]) == field_names


def test_run_to_dict_statuses_are_plain_strings() -> None:
    data = _sample_run().to_dict()
    assert type(data["scenarios"][0]["status"]) is str
    assert type(data["scenarios"][0]["attempts"][0]["status"]) is str


def test_run_to_dict_copies_nested_values() -> None:
    run = _sample_run()
    data = run.to_dict()
    data["cluster"]["capacity"]["pods"] = 99
    data["scenarios"][0]["tags"].append("z")
    data["merged_from"][0]["count"] = 5
    assert run.cluster["capacity"] == {"pods": 10}
    assert run.scenarios[0].tags == ["x", "y"]
    assert run.merged_from[0]["count"] == 1


def test_run_round_trips_through_dict() -> None:
    run = _sample_run()
    assert RunResult.from_dict(run.to_dict()) == run


def test_write_json_atomic_mode_follows_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "a.json", {"x": 1})
        os.umask(0o027)
        write_json_atomic(tmp_path / "b.json", {"x": 2})
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o640
