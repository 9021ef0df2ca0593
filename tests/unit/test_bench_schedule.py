"""Unit tests of the benchmark's schedule arithmetic (bench/schedule.py)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

# bench/ is a folder of scripts at the repository root, not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.schedule import (  # noqa: E402 - needs the path above
    list_schedule_makespan,
    longest_first,
    lower_bound,
    phases,
    ratio,
    summarize,
)


def test_lower_bound_equal_jobs() -> None:
    assert lower_bound([0.2] * 200, 8) == pytest.approx(5.0)


def test_lower_bound_longest_job_dominates() -> None:
    assert lower_bound([10.0, 1.0, 1.0, 1.0], 4) == 10.0


def test_lower_bound_of_empty_workload_is_zero() -> None:
    assert lower_bound([], 4) == 0.0


def test_lower_bound_rejects_zero_slots() -> None:
    with pytest.raises(ValueError, match="parallelism must be at least 1"):
        lower_bound([1.0], 0)


def test_list_schedule_fifo_suffers_from_long_job_last() -> None:
    durations = [1.0, 1.0, 1.0, 1.0, 4.0]
    assert list_schedule_makespan(durations, 2) == pytest.approx(6.0)


def test_list_schedule_longest_first_reaches_bound() -> None:
    durations = [1.0, 1.0, 1.0, 1.0, 4.0]
    assert list_schedule_makespan(longest_first(durations), 2) == pytest.approx(4.0)
    assert lower_bound(durations, 2) == pytest.approx(4.0)


def test_list_schedule_with_more_slots_than_jobs() -> None:
    assert list_schedule_makespan([3.0, 2.0], 16) == 3.0


def test_list_schedule_never_beats_lower_bound() -> None:
    durations = [0.7, 2.3, 0.1, 5.0, 1.1, 0.4, 3.3, 0.9, 2.2]
    for slots in (1, 2, 3, 4, 8):
        bound = lower_bound(durations, slots)
        assert list_schedule_makespan(durations, slots) >= bound - 1e-9
        assert list_schedule_makespan(longest_first(durations), slots) >= bound - 1e-9


def test_list_schedule_on_one_slot_is_total() -> None:
    assert list_schedule_makespan([1.5, 2.5, 3.0], 1) == pytest.approx(7.0)


def test_ratio_of_measured_over_reference() -> None:
    assert ratio(5.1, 5.0) == pytest.approx(1.02)


def test_ratio_with_zero_reference_is_nan() -> None:
    assert math.isnan(ratio(1.0, 0.0))


def test_summarize_median_min_max() -> None:
    summary = summarize([5.3, 5.1, 5.2])
    assert summary.median == 5.2
    assert summary.minimum == 5.1
    assert summary.maximum == 5.3
    assert summary.count == 3


def test_summarize_even_count_averages_middle_pair() -> None:
    assert summarize([1.0, 2.0, 4.0, 8.0]).median == 3.0


def test_summarize_rejects_no_samples() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        summarize([])


def test_summary_format_shows_range() -> None:
    assert summarize([5.3, 5.1, 5.2]).format() == "5.20 s (5.10-5.30)"


def test_summary_format_single_sample_has_no_range() -> None:
    assert summarize([0.25]).format(unit="ms", digits=1) == "0.2 ms"


def test_phases_split_run() -> None:
    result = phases(launched=100.0, exited=107.5, starts=[100.8, 101.0], ends=[106.0, 106.9],
                    recorded=[0.25, 0.27], work=[0.2, 0.2])
    assert result.startup == pytest.approx(0.8)
    assert result.schedule == pytest.approx(6.1)
    assert result.finish == pytest.approx(0.6)
    assert result.per_job == pytest.approx(0.06)


def test_phases_rejects_no_jobs() -> None:
    with pytest.raises(ValueError, match="at least one job"):
        phases(launched=0.0, exited=1.0, starts=[], ends=[], recorded=[], work=[])


def test_phases_rejects_length_mismatch() -> None:
    with pytest.raises(ValueError, match="2 recorded durations for 1 jobs"):
        phases(launched=0.0, exited=1.0, starts=[0.1], ends=[0.2], recorded=[0.1, 0.1],
               work=[0.1])
