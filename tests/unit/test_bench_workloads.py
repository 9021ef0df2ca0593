"""Unit tests of the benchmark workloads (bench/workloads.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# bench/ is a folder of scripts at the repository root, not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.schedule import list_schedule_makespan, longest_first, lower_bound  # noqa: E402
from bench.workloads import (  # noqa: E402 - needs the path above
    constant_durations,
    pareto_durations,
    scenario_script,
    synthetic_run,
    write_scenarios,
)

from sparkrig.results import RunResult, Status  # noqa: E402


def test_constant_durations_count_and_value() -> None:
    assert constant_durations(3, 0.2) == [0.2, 0.2, 0.2]


def test_constant_durations_rejects_zero_count() -> None:
    with pytest.raises(ValueError, match="count must be at least 1"):
        constant_durations(0, 0.2)


def test_pareto_durations_same_seed_same_list() -> None:
    first = pareto_durations(60, parallelism=4, target_bound=12.0)
    second = pareto_durations(60, parallelism=4, target_bound=12.0)
    assert first == second


def test_pareto_durations_other_seed_other_list() -> None:
    first = pareto_durations(60, parallelism=4, target_bound=12.0, seed=1)
    second = pareto_durations(60, parallelism=4, target_bound=12.0, seed=2)
    assert first != second


def test_pareto_durations_scaled_to_target_bound() -> None:
    durations = pareto_durations(60, parallelism=4, target_bound=12.0)
    assert lower_bound(durations, 4) == pytest.approx(12.0, abs=0.1)


def test_pareto_durations_respect_minimum_and_step() -> None:
    durations = pareto_durations(200, parallelism=4, target_bound=5.0, minimum=0.05)
    assert min(durations) >= 0.05
    for value in durations:
        assert round(value, 2) == value


def test_pareto_durations_are_heavy_tailed() -> None:
    durations = sorted(pareto_durations(60, parallelism=4, target_bound=12.0))
    median = durations[len(durations) // 2]
    assert durations[-1] > 5 * median


def test_default_skewed_workload_rewards_longest_first() -> None:
    durations = pareto_durations(60, parallelism=4, target_bound=12.0)
    fifo = list_schedule_makespan(durations, 4)
    lpt = list_schedule_makespan(longest_first(durations), 4)
    assert lpt < fifo
    assert lpt <= 1.05 * lower_bound(durations, 4)


def test_scenario_script_has_meta_header_and_sleep() -> None:
    text = scenario_script("bench-x-001", 0.2)
    lines = text.splitlines()
    assert lines[0] == "#!/bin/sh"
    assert "# @meta" in lines
    assert "# name: bench-x-001" in lines
    assert "# tier: smoke" in lines
    assert "# @endmeta" in lines
    assert lines[-1] == "exec sleep 0.20"


def test_scenario_script_declares_no_estimated_time() -> None:
    assert "estimated_time" not in scenario_script("bench-x-001", 3.0)


def test_write_scenarios_in_sorted_order_and_executable(tmp_path: Path) -> None:
    paths = write_scenarios(tmp_path, [0.1, 0.2, 0.3], "bench-t")
    assert [path.name for path in paths] == ["bench-t-000.sh", "bench-t-001.sh", "bench-t-002.sh"]
    assert sorted(paths) == paths
    for path in paths:
        assert os.access(path, os.X_OK)
    assert paths[2].read_text(encoding="utf-8").endswith("exec sleep 0.30\n")


def test_write_scenarios_widens_numbers_for_large_counts(tmp_path: Path) -> None:
    paths = write_scenarios(tmp_path, [0.01] * 1001, "bench-w")
    assert paths[0].name == "bench-w-0000.sh"
    assert sorted(paths) == paths


def test_synthetic_run_count_and_statuses() -> None:
    run = synthetic_run(1000)
    assert len(run.scenarios) == 1000
    statuses = {result.status for result in run.scenarios}
    assert Status.PASSED in statuses
    assert Status.FAILED in statuses
    assert Status.TIMED_OUT in statuses
    assert len({result.name for result in run.scenarios}) == 1000


def test_synthetic_run_failures_carry_output() -> None:
    run = synthetic_run(200)
    for result in run.scenarios:
        if result.status.is_success:
            assert result.output_tail == ""
        else:
            assert result.output_tail.count("\n") == 39


def test_synthetic_run_round_trips_through_json_form() -> None:
    run = synthetic_run(50)
    assert RunResult.from_dict(run.to_dict()) == run
