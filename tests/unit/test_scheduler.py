"""The scheduler's strategies: ordering, sharding, admission and the dependency queue."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from sparkrig.cluster.base import Capacity
from sparkrig.errors import UsageError
from sparkrig.results import Status
from sparkrig.scenario.model import Resources, Scenario
from sparkrig.scheduler.admission import CapacityAdmission
from sparkrig.scheduler.ordering import expected_durations, ordered, priorities
from sparkrig.scheduler.queue import ScenarioQueue
from sparkrig.scheduler.sharding import assign_shards, parse_shard, select_shard


def scenario(
    name: str,
    seconds: float | None = None,
    *,
    depends_on: tuple[str, ...] = (),
    timeout: float = 600.0,
    resources: Resources | None = None,
) -> Scenario:
    return Scenario(
        name=name,
        tier="smoke",
        source=Path(f"{name}.yaml"),
        estimated_time=seconds,
        depends_on=depends_on,
        timeout=timeout,
        resources=resources or Resources(),
    )


# --- ordering ---------------------------------------------------------------


def test_expected_prefers_history_then_estimate_then_timeout() -> None:
    scenarios = [scenario("a", 10), scenario("b", 20), scenario("c", timeout=400)]

    expected = expected_durations(scenarios, {"a": 99.0})

    assert expected == {"a": 99.0, "b": 20.0, "c": 100.0}


def test_order_longest_first_ties_by_name() -> None:
    scenarios = [scenario("short", 1), scenario("long", 30), scenario("b", 5), scenario("a", 5)]
    expected = expected_durations(scenarios, {})

    names = [item.name for item in ordered(scenarios, priorities(scenarios, expected))]

    assert names == ["long", "a", "b", "short"]


def test_order_puts_dependency_of_long_chain_first() -> None:
    scenarios = [
        scenario("setup", 1),
        scenario("soak", 60, depends_on=("setup",)),
        scenario("medium", 30),
    ]
    priority = priorities(scenarios, expected_durations(scenarios, {}))

    assert priority == {"setup": 61.0, "soak": 60.0, "medium": 30.0}
    assert [item.name for item in ordered(scenarios, priority)] == ["setup", "soak", "medium"]


def test_priority_ignores_unselected_dependency() -> None:
    scenarios = [scenario("b", 5, depends_on=("not-selected",))]

    assert priorities(scenarios, expected_durations(scenarios, {})) == {"b": 5.0}


# --- sharding ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"), [("1/1", (1, 1)), ("2/4", (2, 4)), (" 3 / 3 ", (3, 3))]
)
def test_parse_shard_valid(text: str, parsed: tuple[int, int]) -> None:
    assert parse_shard(text) == parsed


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "1/257", "a/b", "2", "1/2/3", ""])
def test_parse_shard_invalid(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        parse_shard(text)


def test_shards_balanced_by_expected_duration() -> None:
    durations = [50, 40, 30, 30, 20, 20, 10, 10, 5, 5]
    scenarios = [scenario(f"s{index:02d}", seconds) for index, seconds in enumerate(durations)]
    expected = expected_durations(scenarios, {})

    shards = assign_shards(scenarios, expected, 3)

    loads = [sum(expected[item.name] for item in shard) for shard in shards]
    assert sum(loads) == sum(durations)
    assert max(loads) - min(loads) <= 10
    assert sorted(item.name for shard in shards for item in shard) == sorted(expected)


def test_shards_deterministic_across_input_order() -> None:
    scenarios = [scenario(f"s{index}", float(index % 4 + 1)) for index in range(12)]
    expected = expected_durations(scenarios, {})
    reference = assign_shards(scenarios, expected, 4)

    for permutation in itertools.islice(itertools.permutations(scenarios), 0, 50, 7):
        assert assign_shards(list(permutation), expected, 4) == reference
    assert list(reversed(scenarios)) != scenarios
    assert assign_shards(list(reversed(scenarios)), expected, 4) == reference


def test_shards_keep_dependency_chain_together() -> None:
    scenarios = [
        scenario("a", 10),
        scenario("b", 10, depends_on=("a",)),
        scenario("c", 10, depends_on=("b",)),
        scenario("d", 10),
        scenario("e", 10),
    ]
    expected = expected_durations(scenarios, {})

    shards = assign_shards(scenarios, expected, 3)
    chain_shard = [
        index
        for index, shard in enumerate(shards)
        for item in shard
        if item.name in ("a", "b", "c")
    ]

    assert len(set(chain_shard)) == 1
    assert sorted(len(shard) for shard in shards) == [1, 1, 3]


def test_shards_more_than_scenarios_leave_empty_shards() -> None:
    scenarios = [scenario("a", 1), scenario("b", 2)]
    expected = expected_durations(scenarios, {})

    shards = [select_shard(scenarios, expected, index, 4) for index in range(1, 5)]

    assert [[item.name for item in shard] for shard in shards] == [["b"], ["a"], [], []]


# --- admission --------------------------------------------------------------


def test_admission_fits_until_capacity() -> None:
    admission = CapacityAdmission(Capacity(cpu_millis=4000, memory_bytes=8 * 2**30, pods=20))
    big = scenario("big", resources=Resources(cpu_millis=3000, memory_bytes=2**30, pods=5))
    small = scenario("small", resources=Resources(cpu_millis=1000, memory_bytes=2**30, pods=5))

    assert admission.fits(big)
    admission.reserve(big)
    assert admission.fits(small)
    admission.reserve(small)
    assert not admission.fits(small)
    admission.release(big)
    assert admission.fits(small)


def test_admission_never_fits_names_request_and_capacity() -> None:
    admission = CapacityAdmission(Capacity(cpu_millis=2000, memory_bytes=2**30, pods=110))
    huge = scenario("huge", resources=Resources(cpu_millis=4000, memory_bytes=2**30, pods=1))

    reason = admission.never_fits(huge)

    assert reason is not None
    assert "huge" in reason
    assert "cpu 4000m" in reason
    assert "cpu 2000m" in reason
    assert admission.never_fits(scenario("none")) is None


def test_admission_reason_leaves_out_unrequested() -> None:
    admission = CapacityAdmission(Capacity(cpu_millis=2000, memory_bytes=2**30, pods=110))
    huge = scenario("huge", resources=Resources(cpu_millis=4000, memory_bytes=0, pods=0))

    reason = admission.never_fits(huge)

    assert reason is not None
    assert "requests cpu 4000m, more than the cluster's allocatable cpu 2000m, memory 1024Mi, " \
           "pods 110" in reason


# --- the queue --------------------------------------------------------------


def make_queue(
    scenarios: list[Scenario], admission: CapacityAdmission | None = None
) -> ScenarioQueue:
    expected = expected_durations(scenarios, {})
    return ScenarioQueue(scenarios, priorities(scenarios, expected), admission)


def test_queue_waits_for_dependency() -> None:
    queue = make_queue([scenario("a", 1), scenario("b", 100, depends_on=("a",))])

    first = queue.next_to_start()
    assert first is not None and first.name == "a"
    assert queue.next_to_start() is None
    assert queue.finish("a", Status.PASSED) == []
    second = queue.next_to_start()
    assert second is not None and second.name == "b"
    assert not queue.has_pending


@pytest.mark.parametrize("status", [Status.FAILED, Status.ERROR, Status.TIMED_OUT, Status.SKIPPED])
def test_queue_skips_dependants_transitively(status: Status) -> None:
    queue = make_queue(
        [
            scenario("a", 1),
            scenario("b", 1, depends_on=("a",)),
            scenario("c", 1, depends_on=("b",)),
            scenario("d", 1),
        ]
    )
    assert [queue.next_to_start(), queue.next_to_start()] != [None, None]

    skipped = queue.finish("a", status)

    assert [(item.scenario.name, item.reason) for item in skipped] == [
        ("b", f"dependency a {status}"),
        ("c", "dependency b skipped"),
    ]
    assert all(item.status == Status.SKIPPED for item in skipped)


def test_queue_skip_cascades() -> None:
    queue = make_queue([scenario("a", 1), scenario("b", 1, depends_on=("a",))])

    skipped = queue.skip("a", Status.SKIPPED, "requires containers")

    assert [item.scenario.name for item in skipped] == ["a", "b"]
    assert skipped[0].reason == "requires containers"
    assert not queue.has_pending


def test_queue_admission_backfills_smaller() -> None:
    admission = CapacityAdmission(Capacity(cpu_millis=4000, memory_bytes=2**40, pods=100))
    queue = make_queue(
        [
            scenario("big1", 50, resources=Resources(cpu_millis=3000)),
            scenario("big2", 40, resources=Resources(cpu_millis=3000)),
            scenario("small", 10, resources=Resources(cpu_millis=1000)),
        ],
        admission,
    )

    started = [queue.next_to_start(), queue.next_to_start(), queue.next_to_start()]

    assert [item.name if item else None for item in started] == ["big1", "small", None]
    queue.finish("big1", Status.PASSED)
    again = queue.next_to_start()
    assert again is not None and again.name == "big2"


def test_queue_requeue_goes_first() -> None:
    queue = make_queue([scenario("a", 10), scenario("b", 5)])
    first = queue.next_to_start()
    assert first is not None

    queue.requeue(first.name)

    again = queue.next_to_start()
    assert again is not None and again.name == "a"


def test_queue_drain_returns_all_pending() -> None:
    queue = make_queue([scenario("a", 3), scenario("b", 2), scenario("c", 1)])
    queue.next_to_start()

    drained = queue.drain(Status.INTERRUPTED, "not started: run interrupted")

    assert [item.scenario.name for item in drained] == ["b", "c"]
    assert not queue.has_pending
    assert queue.running == ["a"]
