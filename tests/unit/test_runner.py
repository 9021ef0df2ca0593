"""The run orchestration with real forked workers and a stand-in executor.

The stand-in implements the executor contract (`execute_attempt(scenario,
context)` returning an outcome) by running the script scenario as a
subprocess, so these tests exercise the runner's forking, bounds, dependency
skips, retries, worker deaths and result files without a cluster.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import textwrap
import threading
import time
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from sparkrig.errors import ExitCode, InfrastructureError
from sparkrig.results import RunResult, Status
from sparkrig.runner import contract
from sparkrig.runner.layout import utc_now
from sparkrig.runner.orchestrator import Runner
from sparkrig.runner.plan import RunOptions, plan_run
from sparkrig.runner.progress import PlainProgress
from sparkrig.scenario.model import Scenario
from sparkrig.scenario.selection import Selection

INFRA_EXIT = 75  # the stand-in reports this script exit code as an infrastructure error


@dataclass(frozen=True)
class StandInContext:
    run_id: str
    attempt: int
    cluster: object
    scenario_dir: Path
    deadline: float
    keep_on_failure: bool = False
    extra_env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class StandInOutcome:
    status: Status
    reason: str
    namespace: str
    release: str
    started_at: str
    ended_at: str
    exit_code: int | None = None
    infrastructure_error: bool = False
    output_tail: str = ""


def stand_in_execute(scenario: Scenario, context: StandInContext) -> StandInOutcome:
    started_at = utc_now()
    namespace = f"ns-{scenario.name}-{context.attempt}"
    assert scenario.script is not None
    env = {**os.environ, "ATTEMPT": str(context.attempt), "RUN_ID": context.run_id}
    with (context.scenario_dir / "output.log").open("ab") as log:
        process = subprocess.Popen(
            [str(scenario.script), namespace, "release"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            cwd=scenario.script.parent,
            process_group=0,
        )
        try:
            code = process.wait(timeout=max(0.0, context.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return StandInOutcome(
                Status.TIMED_OUT, "timed out", namespace, "release", started_at, utc_now()
            )
    if code == 0:
        status, reason = Status.PASSED, ""
    elif code == INFRA_EXIT:
        status, reason = Status.ERROR, "stand-in infrastructure error"
    else:
        status, reason = Status.FAILED, f"script exited with {code}"
    return StandInOutcome(
        status,
        reason,
        namespace,
        "release",
        started_at,
        utc_now(),
        exit_code=code,
        infrastructure_error=code == INFRA_EXIT,
    )


class StandInPrepared:
    """The stand-in's prepared attempt: an empty output.log made ahead, as the executor does."""

    def __init__(self, scenario: Scenario, context: StandInContext) -> None:
        self.scenario = scenario
        self.context = context
        context.scenario_dir.mkdir(parents=True, exist_ok=True)
        (context.scenario_dir / "output.log").touch()

    def start(self, deadline: float | None = None) -> StandInOutcome:
        context = self.context if deadline is None else replace(self.context, deadline=deadline)
        return stand_in_execute(self.scenario, context)

    def discard(self) -> None:
        log = self.context.scenario_dir / "output.log"
        if log.stat().st_size == 0:
            log.unlink()


def stand_in_ignoring_sigterm(scenario: Scenario, context: StandInContext) -> StandInOutcome:
    """Run as the stand-in does, in a worker that ignores the runner's SIGTERM."""
    # A handler that does nothing, not SIG_IGN, which the script would inherit.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    return stand_in_execute(scenario, context)


def interrupt_when(ready: Callable[[], bool], *, times: int = 1) -> threading.Thread:
    """Send this process SIGINT `times` times, 0.5 s apart, once `ready()` (30 s at most)."""

    def send() -> None:
        deadline = time.monotonic() + 30
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.02)
        for number in range(times):
            if number:
                time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    return sender


STAND_IN = types.SimpleNamespace(
    AttemptContext=StandInContext,
    execute_attempt=stand_in_execute,
    prepare_attempt=StandInPrepared,
    CLEANUP_GRACE_SECONDS=2.0,
)


@pytest.fixture(autouse=True)
def stand_in_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contract, "executor_module", lambda: STAND_IN)


def script(folder: Path, name: str, body: str, *, extra_meta: str = "") -> Path:
    path = folder / f"{name}.sh"
    meta = f"# @meta\n# name: {name}\n# tier: smoke\n{extra_meta}# @endmeta\n"
    path.write_text(f"#!/bin/bash\n{meta}{textwrap.dedent(body)}", encoding="utf-8")
    path.chmod(0o755)
    return path


def run(tmp_path: Path, **overrides: object) -> tuple[int, RunResult, str]:
    options = RunOptions(
        scenarios_dir=tmp_path / "scenarios",
        results_dir=tmp_path / "reports",
        cluster="none",
        **overrides,  # type: ignore[arg-type]
    )
    output = io.StringIO()
    runner = Runner(options, plan_run(options), None, PlainProgress(output))
    code = runner.run()
    results = RunResult.load(runner.run_dir / "results.json")
    return code, results, output.getvalue()


def by_name(results: RunResult) -> dict[str, object]:
    return {item.name: item for item in results.scenarios}


@pytest.fixture
def scenarios(tmp_path: Path) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    return folder


def test_runner_bounds_and_overlaps(tmp_path: Path, scenarios: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    for index in range(8):
        script(
            scenarios,
            f"s{index}",
            f"""
            date +%s.%N > {marks}/s{index}.start
            sleep 1
            date +%s.%N > {marks}/s{index}.end
        """,
        )

    started = time.monotonic()
    code, results, _ = run(tmp_path, max_parallel=4)
    elapsed = time.monotonic() - started

    assert code == ExitCode.OK
    spans = [
        (float((marks / f"s{i}.start").read_text()), float((marks / f"s{i}.end").read_text()))
        for i in range(8)
    ]
    peak = max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)
    assert peak <= 4
    assert peak >= 3
    assert elapsed < 6.0
    assert all(item.status == Status.PASSED for item in results.scenarios)


def test_runner_writes_results_and_latest(tmp_path: Path, scenarios: Path) -> None:
    script(scenarios, "ok", "echo hello\n")
    script(scenarios, "bad", "exit 3\n")

    code, results, output = run(tmp_path)

    assert code == ExitCode.SCENARIO_FAILED
    latest = tmp_path / "reports" / "latest"
    assert latest.is_symlink()
    assert os.readlink(latest) == results.run_id
    assert results.exit_code == 1
    result_file = latest / "scenarios" / "bad" / "result.json"
    assert json.loads(result_file.read_text())["status"] == "failed"
    assert by_name(results)["bad"].reason == "script exited with 3"  # type: ignore[attr-defined]
    assert by_name(results)["ok"].output_path == "scenarios/ok/output.log"  # type: ignore[attr-defined]
    assert "failed bad" in output
    assert "start ok" in output


def test_runner_skips_dependant_of_failure(tmp_path: Path, scenarios: Path) -> None:
    script(scenarios, "base", "exit 1\n")
    script(scenarios, "child", "exit 0\n", extra_meta="# depends_on: base\n")
    script(scenarios, "grandchild", "exit 0\n", extra_meta="# depends_on: child\n")

    code, results, _ = run(tmp_path)

    found = by_name(results)
    assert code == ExitCode.SCENARIO_FAILED
    assert found["child"].status == Status.SKIPPED  # type: ignore[attr-defined]
    assert found["child"].reason == "dependency base failed"  # type: ignore[attr-defined]
    assert found["grandchild"].reason == "dependency child skipped"  # type: ignore[attr-defined]


def test_runner_worker_killed_fails_only_its_scenario(tmp_path: Path, scenarios: Path) -> None:
    script(scenarios, "victim", "kill -9 $(ps -o sid= $$)\nsleep 30\n")
    for index in range(3):
        script(scenarios, f"bystander{index}", "sleep 0.5\n")

    code, results, _ = run(tmp_path, max_parallel=4)

    found = by_name(results)
    assert code == ExitCode.SCENARIO_FAILED
    assert found["victim"].status == Status.ERROR  # type: ignore[attr-defined]
    assert found["victim"].reason == "worker died (signal 9)"  # type: ignore[attr-defined]
    for index in range(3):
        assert found[f"bystander{index}"].status == Status.PASSED  # type: ignore[attr-defined]
    assert (tmp_path / "reports" / "latest" / "scenarios" / "victim" / "result.json").is_file()


def test_runner_retries_infrastructure_error(tmp_path: Path, scenarios: Path) -> None:
    script(scenarios, "wobbly", f'[ "$ATTEMPT" = 1 ] && exit {INFRA_EXIT}\nexit 0\n')
    script(scenarios, "broken", "exit 1\n")

    code, results, _ = run(tmp_path, retries=2)

    found = by_name(results)
    wobbly = found["wobbly"]
    assert wobbly.status == Status.PASSED  # type: ignore[attr-defined]
    assert wobbly.flaky is True  # type: ignore[attr-defined]
    assert [a.status for a in wobbly.attempts] == [Status.ERROR, Status.PASSED]  # type: ignore[attr-defined]
    assert [a.namespace for a in wobbly.attempts] == ["ns-wobbly-1", "ns-wobbly-2"]  # type: ignore[attr-defined]
    assert len(found["broken"].attempts) == 1  # type: ignore[attr-defined]
    assert code == ExitCode.SCENARIO_FAILED


def test_runner_infrastructure_only_exits_3(tmp_path: Path, scenarios: Path) -> None:
    script(scenarios, "flaky-infra", f"exit {INFRA_EXIT}\n")
    script(scenarios, "fine", "exit 0\n")

    code, results, _ = run(tmp_path, retries=1)

    assert code == ExitCode.INFRASTRUCTURE
    assert len(by_name(results)["flaky-infra"].attempts) == 2  # type: ignore[attr-defined]


def test_runner_fail_fast_skips_rest(tmp_path: Path, scenarios: Path) -> None:
    script(scenarios, "a-fails", "exit 1\n", extra_meta="# estimated_time: 100\n")
    for index in range(4):
        script(scenarios, f"later{index}", "exit 0\n", extra_meta="# estimated_time: 1\n")

    code, results, _ = run(tmp_path, max_parallel=1, fail_fast=True)

    found = by_name(results)
    assert code == ExitCode.SCENARIO_FAILED
    for index in range(4):
        assert found[f"later{index}"].status == Status.SKIPPED  # type: ignore[attr-defined]
        assert found[f"later{index}"].reason == "not started: --fail-fast after a-fails failed"  # type: ignore[attr-defined]


def test_runner_skips_requires_without_cluster(tmp_path: Path, scenarios: Path) -> None:
    script(scenarios, "needs", "exit 1\n", extra_meta="# requires: containers\n")

    code, results, _ = run(tmp_path)

    assert code == ExitCode.OK
    item = by_name(results)["needs"]
    assert item.status == Status.SKIPPED  # type: ignore[attr-defined]
    assert item.reason == "requires containers; --cluster none provides no cluster"  # type: ignore[attr-defined]


def test_runner_longest_first_with_one_slot(tmp_path: Path, scenarios: Path) -> None:
    order = tmp_path / "order"
    for name, seconds in (("short", 1), ("long", 50), ("mid", 10)):
        script(
            scenarios,
            name,
            f"echo {name} >> {order}\n",
            extra_meta=f"# estimated_time: {seconds}\n",
        )

    run(tmp_path, max_parallel=1)

    assert order.read_text().split() == ["long", "mid", "short"]


def test_runner_rerun_failed_selects_failures(tmp_path: Path, scenarios: Path) -> None:
    script(scenarios, "good", "exit 0\n")
    flag = tmp_path / "fixed"
    script(scenarios, "bad", f"[ -e {flag} ]\n")
    run(tmp_path)
    flag.touch()

    code, results, _ = run(tmp_path, rerun_failed=True)

    assert code == ExitCode.OK
    assert [item.name for item in results.scenarios] == ["bad"]


def test_runner_empty_selection_succeeds(tmp_path: Path, scenarios: Path) -> None:
    script(scenarios, "untagged", "exit 0\n")

    code, results, _ = run(tmp_path, selection=Selection(tags=("absent",)))

    assert code == ExitCode.OK
    assert results.scenarios == []
    assert not (tmp_path / "reports" / "latest").exists()


class BrokenPipeStream(io.StringIO):
    """A stdout whose reader went away after `lines` lines, as under `| head`."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.lines_left = lines

    def write(self, text: str) -> int:
        if self.lines_left <= 0:
            raise BrokenPipeError(32, "Broken pipe")
        self.lines_left -= text.count("\n")
        return super().write(text)


def written_statuses(run_dir: Path) -> dict[str, str]:
    found = {}
    for path in (run_dir / "scenarios").glob("*/result.json"):
        data = json.loads(path.read_text())
        found[data["name"]] = data["status"]
    return found


def test_runner_broken_progress_keeps_running(tmp_path: Path, scenarios: Path) -> None:
    for name in ("one", "two", "three"):
        script(scenarios, name, "exit 0\n")
    options = RunOptions(
        scenarios_dir=scenarios, results_dir=tmp_path / "reports", cluster="none"
    )
    runner = Runner(options, plan_run(options), None, PlainProgress(BrokenPipeStream(2)))

    code = runner.run()

    assert code == ExitCode.OK
    results = RunResult.load(runner.run_dir / "results.json")
    assert {item.name: str(item.status) for item in results.scenarios} == {
        "one": "passed", "two": "passed", "three": "passed"
    }


def test_runner_crash_takes_written_results(
    tmp_path: Path, scenarios: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script(scenarios, "first", "exit 0\n", extra_meta="# estimated_time: 10s\n")
    script(scenarios, "second", "exit 0\n", extra_meta="# estimated_time: 1s\n")

    def broken(self: Runner, finished: object) -> None:
        raise RuntimeError("bookkeeping bug")

    monkeypatch.setattr(Runner, "_on_finished", broken)
    options = RunOptions(
        scenarios_dir=scenarios, results_dir=tmp_path / "reports", cluster="none",
        max_parallel=1,
    )
    runner = Runner(options, plan_run(options), None, PlainProgress(io.StringIO()))

    with pytest.raises(InfrastructureError, match="RuntimeError: bookkeeping bug"):
        runner.run()

    results = RunResult.load(runner.run_dir / "results.json")
    found = {item.name: item for item in results.scenarios}
    assert results.exit_code == ExitCode.INFRASTRUCTURE
    assert str(found["first"].status) == "passed"
    assert len(found["first"].attempts) == 1
    assert str(found["second"].status) == "interrupted"
    assert found["second"].attempts == []
    written = written_statuses(runner.run_dir)
    assert written == {"first": "passed"}


def test_runner_rerun_takes_skipped_dependants(tmp_path: Path, scenarios: Path) -> None:
    flag = tmp_path / "fixed"
    script(scenarios, "setup", f"[ -e {flag} ]\n")
    script(scenarios, "after", "exit 0\n", extra_meta="# depends_on: setup\n")
    script(scenarios, "last", "exit 0\n", extra_meta="# depends_on: after\n")
    script(scenarios, "needs", "exit 0\n", extra_meta="# requires: containers\n")
    script(scenarios, "good", "exit 0\n")
    run(tmp_path)
    flag.touch()

    code, results, _ = run(tmp_path, rerun_failed=True)

    assert code == ExitCode.OK
    found = {item.name: str(item.status) for item in results.scenarios}
    assert found == {"setup": "passed", "after": "passed", "last": "passed"}


def test_runner_rerun_takes_fail_fast_leftovers(tmp_path: Path, scenarios: Path) -> None:
    flag = tmp_path / "fixed"
    script(scenarios, "bad", f"[ -e {flag} ]\n", extra_meta="# estimated_time: 60s\n")
    for name in ("rest1", "rest2"):
        script(scenarios, name, "exit 0\n", extra_meta="# estimated_time: 1s\n")
    _, first, _ = run(tmp_path, fail_fast=True, max_parallel=1)
    assert {str(item.status) for item in first.scenarios} == {"failed", "skipped"}
    flag.touch()

    code, results, _ = run(tmp_path, rerun_failed=True)

    assert code == ExitCode.OK
    assert sorted(item.name for item in results.scenarios) == ["bad", "rest1", "rest2"]


def test_runner_rerun_adds_filtered_dependency(tmp_path: Path, scenarios: Path) -> None:
    flag = tmp_path / "fixed"
    script(scenarios, "setup", f"[ -e {flag} ]\n")
    script(scenarios, "tagged", "exit 0\n", extra_meta="# depends_on: setup\n# tags: focus\n")
    run(tmp_path)
    flag.touch()

    code, results, _ = run(
        tmp_path, rerun_failed=True, selection=Selection(tags=("focus",))
    )

    assert code == ExitCode.OK
    assert sorted(item.name for item in results.scenarios) == ["setup", "tagged"]


def test_progress_words_for_one_timeout(tmp_path: Path, scenarios: Path) -> None:
    script(scenarios, "slow", "sleep 5\n", extra_meta="# timeout: 1s\n")

    _, results, output = run(tmp_path)

    lines = output.splitlines()
    assert lines[0].endswith(": 1 scenario")
    assert any(" timed out slow " in line for line in lines)
    assert "timed_out" not in output
    assert lines[-1].split(": ", 1)[1].startswith("1 timed out;")


def test_runner_fail_fast_removes_what_a_spare_prepared(tmp_path: Path, scenarios: Path) -> None:
    # While a-fails runs, the spare prepares later0 (its folder and output.log).
    script(scenarios, "a-fails", "sleep 0.5\nexit 1\n", extra_meta="# estimated_time: 100\n")
    for index in range(2):
        script(scenarios, f"later{index}", "exit 0\n", extra_meta="# estimated_time: 1\n")

    code, results, _ = run(tmp_path, max_parallel=1, fail_fast=True)

    assert code == ExitCode.SCENARIO_FAILED
    run_dir = tmp_path / "reports" / results.run_id
    for index in range(2):
        item = by_name(results)[f"later{index}"]
        assert item.status == Status.SKIPPED  # type: ignore[attr-defined]
        assert item.output_path is None  # type: ignore[attr-defined]
        folder = run_dir / "scenarios" / f"later{index}"
        assert sorted(path.name for path in folder.iterdir()) == ["result.json"]
        written = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        assert written["output_path"] is None


def test_runner_spare_yields_to_dependant(
    tmp_path: Path, scenarios: Path
) -> None:
    # While "first" runs, "then" waits for it, so the spare prepares "last". When "first"
    # passes, "then" comes before "last": the spare drops "last" and runs "then".
    order = tmp_path / "order"
    for name, meta, body in (
        ("first", "# estimated_time: 100\n", "sleep 0.5\n"),
        ("then", "# estimated_time: 50\n# depends_on: first\n", ""),
        ("last", "# estimated_time: 1\n", ""),
    ):
        script(scenarios, name, f"{body}echo {name} >> {order}\necho ran {name}\n",
               extra_meta=meta)

    code, results, _ = run(tmp_path, max_parallel=1)

    assert code == ExitCode.OK
    assert order.read_text().split() == ["first", "then", "last"]
    run_dir = tmp_path / "reports" / results.run_id
    assert (run_dir / "scenarios" / "last" / "output.log").read_text() == "ran last\n"
    assert all(item.output_path is not None for item in results.scenarios)


def test_runner_kills_worker_past_interrupt_grace(
    tmp_path: Path, scenarios: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparkrig.runner import orchestrator

    monkeypatch.setattr(orchestrator, "INTERRUPT_GRACE_SECONDS", 1.0)
    started = tmp_path / "started"
    script(scenarios, "stubborn", f"touch {started}\nsleep 60\n")
    monkeypatch.setattr(STAND_IN, "execute_attempt", stand_in_ignoring_sigterm)

    sender = interrupt_when(started.exists)
    began = time.monotonic()
    code, results, _ = run(tmp_path, max_parallel=1)
    sender.join(timeout=5)

    assert code == ExitCode.INTERRUPTED
    item = by_name(results)["stubborn"]
    assert item.status == Status.INTERRUPTED  # type: ignore[attr-defined]
    assert item.reason == "interrupted: killed 1s after the interrupt"  # type: ignore[attr-defined]
    assert time.monotonic() - began < 20  # the script sleeps 60 s; the kill ends it


def test_runner_backstop_kills_stuck_worker(
    tmp_path: Path, scenarios: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparkrig.runner import orchestrator

    monkeypatch.setattr(orchestrator, "BACKSTOP_TERM_GRACE_SECONDS", 0.5)
    script(scenarios, "stuck", "exit 0\n", extra_meta="# timeout: 1s\n")

    def hang(scenario: Scenario, context: StandInContext) -> StandInOutcome:
        # Ignores its deadline and the runner's SIGTERM, as a wedged worker would.
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
        time.sleep(60)
        raise AssertionError("the backstop should have killed this worker")

    monkeypatch.setattr(STAND_IN, "execute_attempt", hang)
    began = time.monotonic()
    code, results, _ = run(tmp_path)

    assert code == ExitCode.SCENARIO_FAILED
    item = by_name(results)["stuck"]
    assert item.status == Status.TIMED_OUT  # type: ignore[attr-defined]
    assert item.reason == (  # type: ignore[attr-defined]
        "timed out after 1s; the worker did not end within 2s of cleanup and was stopped"
    )
    assert time.monotonic() - began < 20  # 1 s timeout, 2 s cleanup grace, 0.5 s to SIGKILL


def test_runner_second_signal_forces_stop(
    tmp_path: Path, scenarios: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    for index in range(3):
        script(scenarios, f"slow{index}", f"touch {marks}/slow{index}\nsleep 60\n")
    monkeypatch.setattr(STAND_IN, "execute_attempt", stand_in_ignoring_sigterm)

    sender = interrupt_when(lambda: len(list(marks.iterdir())) >= 2, times=2)
    began = time.monotonic()
    code, results, output = run(tmp_path, max_parallel=2)
    sender.join(timeout=5)

    assert code == ExitCode.INTERRUPTED
    found = by_name(results)
    for index in range(2):
        item = found[f"slow{index}"]
        assert item.status == Status.INTERRUPTED  # type: ignore[attr-defined]
        assert item.reason == "interrupted: stopped by a second signal"  # type: ignore[attr-defined]
    assert found["slow2"].reason == "not started: run interrupted"  # type: ignore[attr-defined]
    assert "interrupted again: killing running scenarios now" in output
    assert time.monotonic() - began < 20  # the scripts sleep 60 s


def test_runner_failing_spare_stops_spares(
    tmp_path: Path, scenarios: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Preparing "later" kills the spare, as a full disk or the OOM killer would end it.
    attempts = tmp_path / "prepare-attempts"
    script(scenarios, "first", "sleep 0.5\n", extra_meta="# estimated_time: 100\n")
    script(scenarios, "later", "echo ran\n", extra_meta="# estimated_time: 1\n")

    def dying_prepare(scenario: Scenario, context: StandInContext) -> StandInPrepared:
        if scenario.name == "later":
            with attempts.open("a") as handle:
                handle.write("x")
            os.kill(os.getpid(), signal.SIGKILL)
        return StandInPrepared(scenario, context)

    monkeypatch.setattr(STAND_IN, "prepare_attempt", dying_prepare)
    code, results, _ = run(tmp_path, max_parallel=1)

    assert code == ExitCode.OK
    assert all(item.status == Status.PASSED for item in results.scenarios)
    assert attempts.read_text() == "x"  # one spare died; none was forked after it


def test_runner_dead_spare_start_falls_back(
    tmp_path: Path, scenarios: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparkrig.scheduler.pool import WorkerPool

    script(scenarios, "first", "sleep 0.5\n", extra_meta="# estimated_time: 100\n")
    script(scenarios, "later", "echo ran\n", extra_meta="# estimated_time: 1\n")
    original = WorkerPool.assign
    failures: list[str] = []

    def assign_to_dead_spare(self: WorkerPool, worker: object, key: str, command: object,
                             **kwargs: object) -> None:
        if key == "later" and not failures:
            failures.append(key)
            original(self, worker, key, ("run-nothing",))  # the spare exits with an error
            raise BrokenPipeError("[Errno 32] Broken pipe")
        original(self, worker, key, command, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(WorkerPool, "assign", assign_to_dead_spare)
    code, results, _ = run(tmp_path, max_parallel=1)

    assert failures == ["later"]
    assert code == ExitCode.OK
    assert all(item.status == Status.PASSED for item in results.scenarios)


def test_runner_result_files_agree_on_duration(tmp_path: Path, scenarios: Path) -> None:
    for index in range(4):
        script(scenarios, f"s{index}", "sleep 0.1\n")

    code, results, _ = run(tmp_path, max_parallel=2)

    assert code == ExitCode.OK
    run_dir = tmp_path / "reports" / results.run_id
    for item in results.scenarios:
        written = json.loads((run_dir / "scenarios" / item.name / "result.json").read_text())
        assert written["duration"] == item.duration
        assert written["attempts"] == [attempt.to_dict() for attempt in item.attempts]


def test_runner_ctrl_c_during_reports_keeps_them(
    tmp_path: Path, scenarios: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparkrig.runner import orchestrator

    script(scenarios, "quick", "exit 0\n")
    original = orchestrator._write_reports

    def interrupted_write(run: RunResult, run_dir: Path) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C just as the reports start
        original(run, run_dir)

    monkeypatch.setattr(orchestrator, "_write_reports", interrupted_write)
    code, results, _ = run(tmp_path)

    assert code == ExitCode.OK  # the run had ended; the signal only came during the reports
    assert [item.status for item in results.scenarios] == [Status.PASSED]
    assert (tmp_path / "reports" / results.run_id / "junit.xml").is_file()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_runner_unwritable_results_exit_3(
    tmp_path: Path, scenarios: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sparkrig.report
    from sparkrig.runner import orchestrator

    script(scenarios, "quick", "exit 0\n")

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sparkrig.report, "write_reports", disk_full)
    monkeypatch.setattr(orchestrator, "write_json_atomic", disk_full)
    with pytest.raises(InfrastructureError, match="No space left on device") as raised:
        run(tmp_path)

    assert raised.value.exit_code == ExitCode.INFRASTRUCTURE
    assert "result.json of every finished scenario is under" in str(raised.value)
