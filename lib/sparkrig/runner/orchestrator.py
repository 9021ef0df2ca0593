"""Run the planned scenarios: forked workers, bounded parallelism, timeouts, signals, results.

One loop in the parent does everything, and it blocks in one place: the
worker pool's `wait`. The wait returns when a worker ends, when a signal
arrives (the handler only counts it, and `signal.set_wakeup_fd` wakes the
wait), or when the next deadline comes. After each wake-up the loop records what ended,
starts what the scheduler allows up to `--max`, and enforces deadlines:

- A worker enforces its scenario's timeout itself and then cleans up within
  `CLEANUP_GRACE_SECONDS`. The parent is the backstop at timeout plus that
  grace: it sends SIGTERM, then after `BACKSTOP_TERM_GRACE_SECONDS` SIGKILL.
- A worker that died without a result (killed, out of memory) or was killed by
  the backstop fails only its own scenario. The parent ends the rest of its
  session (`kill_session`) and removes its namespace with `cleanup_leases` in
  a separate forked process, so the loop keeps starting scenarios meanwhile.
- The first SIGINT or SIGTERM stops new starts, records the queued scenarios
  as interrupted and sends SIGTERM to every worker; workers clean up and
  report interrupted. After `INTERRUPT_GRACE_SECONDS` the parent kills what is
  left. A second signal kills every worker session at once, starts one
  detached cleanup of the whole run and ends the run without waiting for it.

A freed slot starts its next scenario in a spare worker, forked ahead while
the loop had nothing else to do. When the queue can tell which scenario comes
next, the spare prepares it (folder, `output.log`, `artifacts/`) before the
slot frees, and the start is one short message. A spare prepared for a
scenario that does not come next (a dependency failed, a retry went first) is
given the scenario that does instead; released spares remove what they
prepared. The queue still decides every start, so `--max`, dependencies,
resource admission, fail-fast and interrupts apply as without spares.

Every path ends in `_finish`, which writes results.json and the other reports,
updates the durations history and points `latest` at the run. When the loop
raises (a bug in the parent), the running workers get SIGTERM as on an
interrupt and their outcomes are still recorded; a scenario the parent has no
outcome for takes its result.json from disk, and only scenarios with neither
are recorded as interrupted. The run then ends with `InfrastructureError`
(exit code 3) after its results are written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import logging
import math
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from sparkrig import __version__
from sparkrig.cluster.base import ClusterInfo
from sparkrig.errors import ExitCode, InfrastructureError
from sparkrig.kube.names import safe_dir_name
from sparkrig.process import kill_session
from sparkrig.results import RunResult, Status, write_json_atomic
from sparkrig.runner import contract
from sparkrig.runner.layout import new_run_id, point_latest, utc_now
from sparkrig.runner.plan import Plan, RunOptions
from sparkrig.runner.progress import GuardedProgress, Progress, plural, status_text
from sparkrig.runner.records import OutcomeFields, ScenarioRecord
from sparkrig.scenario.model import Scenario
from sparkrig.scheduler.admission import CapacityAdmission, UnlimitedAdmission
from sparkrig.scheduler.base import Admission, Skip
from sparkrig.scheduler.ordering import priorities
from sparkrig.scheduler.pool import Finished, Worker, WorkerPool, send_result
from sparkrig.scheduler.queue import ScenarioQueue

__all__ = ["Runner", "INTERRUPT_GRACE_SECONDS", "LOCAL_REQUIRES_REASON"]

logger = logging.getLogger(__name__)

INTERRUPT_GRACE_SECONDS = 90.0  # after the first signal, how long workers get to clean up
BACKSTOP_TERM_GRACE_SECONDS = 10.0  # a worker past its cleanup grace: SIGTERM, then SIGKILL
KILL_SESSION_GRACE_SECONDS = 5.0  # SIGTERM to SIGKILL for a dead worker's leftover processes
FORCED_KILL_GRACE_SECONDS = 1.0  # the same after a second signal: end things quickly
CLEANUP_WAIT_SECONDS = 180.0  # how long the end of a run waits for background lease cleanups
REAP_WAIT_SECONDS = 10.0  # how long a forced stop waits for SIGKILLed workers to be reaped
# Idle forked workers kept ready, so a freed slot starts its scenario without waiting for a fork.
SPARE_WORKERS = 1
WORKER_LOG = "worker.log"

LOCAL_REQUIRES_REASON = (
    "requires {capability}; the local cluster simulates pods (no container runs)"
)
NO_CLUSTER_REQUIRES_REASON = "requires {capability}; --cluster none provides no cluster"
OTHER_REQUIRES_REASON = "requires {capability}; the {provider} cluster does not provide it"


@dataclass(frozen=True)
class SyntheticOutcome:
    """An attempt outcome the parent records for a worker that sent none."""

    status: Status
    reason: str
    namespace: str
    release: str
    started_at: str
    ended_at: str
    exit_code: int | None = None
    infrastructure_error: bool = False
    output_tail: str = ""


def _serve_spare(
    commands: Iterator[tuple[Any, ...]], prepare: tuple[ScenarioRecord, Any] | None = None
) -> tuple[OutcomeFields, float] | None:
    """Run a spare worker's commands: prepare, then start or run; None when released.

    `prepare`, (record, context), is prepared at once: a spare forked for a
    known scenario has it in memory, so nothing is pickled. The commands:

    - ("prepare", record, context): create the attempt's files now;
    - ("start", started, deadline): start the prepared attempt;
    - ("run", record, context, started): run this attempt, dropping any prepared one.
    """
    execute = contract.executor_module()
    prepared: tuple[ScenarioRecord, Any] | None = None
    first = [("prepare", *prepare)] if prepare is not None else []
    for command in itertools.chain(first, commands):
        if command[0] == "prepare":
            _, record, context = command
            prepared = (record, execute.prepare_attempt(record.scenario, context))
        elif command[0] == "start" and prepared is not None:
            _, started, deadline = command
            record, attempt = prepared
            return _attempt_in_worker(record, functools.partial(attempt.start, deadline), started)
        elif command[0] == "run":
            _, record, context, started = command
            if prepared is not None:
                prepared[1].discard()
                prepared = None
            return _run_in_worker(record, context, started)
        else:
            raise ValueError(f"spare worker: unexpected command {command[0]!r}")
    if prepared is not None:  # released before its start
        prepared[1].discard()
    return None


def _run_in_worker(
    record: ScenarioRecord, context: Any, started: float
) -> tuple[OutcomeFields, float]:
    """Run an attempt that nothing prepared, inside the forked worker."""
    execute = contract.executor_module()
    return _attempt_in_worker(
        record, functools.partial(execute.execute_attempt, record.scenario, context), started
    )


def _attempt_in_worker(
    record: ScenarioRecord, execute_attempt: Callable[[], OutcomeFields], started: float
) -> tuple[OutcomeFields, float]:
    """Run one attempt inside the forked worker and write its result file at once.

    Returns, and sends to the parent first, the outcome and the attempt's duration.
    """
    started_at = utc_now()
    try:
        outcome: OutcomeFields = execute_attempt()
    except Exception as exc:  # noqa: BLE001 - any executor bug must still yield a result
        logger.exception("the executor raised for %s", record.name)
        outcome = SyntheticOutcome(
            status=Status.ERROR,
            reason=f"executor error: {type(exc).__name__}: {exc}",
            namespace="",
            release="",
            started_at=started_at,
            ended_at=utc_now(),
        )
    duration = time.monotonic() - started
    record.add_attempt(outcome, duration)
    # The parent needs only the outcome, so it gets it before the file is written and
    # the next scenario need not wait for the write and this exit (about 4 ms median
    # in the overhead benchmark). The pool waits for the exit before the run ends.
    # The duration goes along, so results.json and result.json agree on it.
    send_result((outcome, duration))
    try:
        record.write()
    except OSError as exc:
        logger.error("cannot write the result of %s: %s", record.name, exc)
    return outcome, duration


class Runner:
    """One run: the queue, the pool, the records, the signals."""

    def __init__(
        self,
        options: RunOptions,
        plan: Plan,
        cluster: ClusterInfo | None,
        progress: Progress,
        *,
        run_id: str | None = None,
    ) -> None:
        self.options = options
        self.plan = plan
        self.cluster = cluster
        self.progress = progress if isinstance(progress, GuardedProgress) else GuardedProgress(
            progress
        )
        self.run_id = run_id or new_run_id()
        self.run_dir = options.results_dir / self.run_id
        self.started_at = utc_now()
        self.started = time.monotonic()

        self.records = {
            scenario.name: ScenarioRecord(scenario, self.run_dir, safe_dir_name(scenario.name))
            for scenario in plan.scenarios
        }
        admission: Admission = UnlimitedAdmission()
        if cluster is not None and cluster.capacity is not None:
            admission = CapacityAdmission(cluster.capacity)
        self.queue = ScenarioQueue(
            plan.scenarios, priorities(plan.scenarios, plan.expected), admission
        )
        self.pool = WorkerPool()
        self.cleanup_grace = 0.0

        self.signals = 0
        self.stopping = ""  # why no new scenario starts: "", "interrupt" or "fail-fast"
        self.interrupt_deadline: float | None = None
        self.forced = False
        self.reports_prepared = False
        self.spares_disabled = False  # after a spare failed: start scenarios in new workers
        self.crash: Exception | None = None  # what ended the loop abnormally

    # --- entry point --------------------------------------------------------

    def run(self) -> int:
        """Execute the plan and return the exit code; results are written on every path.

        Raises InfrastructureError, after writing the results, when the run's own
        loop failed.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.progress.start_run(self.run_id, len(self.records))
        wake_read, wake_write = os.pipe()
        for fd in (wake_read, wake_write):
            os.set_blocking(fd, False)
        previous = self._install_signal_handlers(wake_write)
        try:
            self.pool.add_reader(wake_read, close_in_child=(wake_write,))
            if self.records:
                self.cleanup_grace = float(contract.executor_module().CLEANUP_GRACE_SECONDS)
            self._skip_up_front()
            self._loop(wake_read)
            self._wait_for_cleanups(wake_read)
        except Exception as exc:  # noqa: BLE001 - a bug here must still leave true results
            logger.debug("the run loop raised", exc_info=True)
            self.crash = exc
            self._stop_after_crash(wake_read)
        finally:
            old_int, old_term, old_fd = previous
            signal.set_wakeup_fd(old_fd)  # the wake-up pipe closes now
            self.pool.close()
            os.close(wake_read)
            os.close(wake_write)
            try:
                # The handlers stay: a Ctrl-C while the reports are written only counts,
                # so results.json is still written whole.
                exit_code = self._finish()
            finally:
                self._restore_signal_handlers((old_int, old_term, old_fd))
        if self.crash is not None:
            raise InfrastructureError(
                f"run {self.run_id} stopped by an internal error: "
                f"{type(self.crash).__name__}: {self.crash}; results in {self.run_dir} "
                "(run with -vv for the traceback)"
            ) from self.crash
        return exit_code

    def _stop_after_crash(self, wake_fd: int) -> None:
        """Stop the running attempts as on an interrupt and record what they return."""
        try:
            self.stopping = "interrupt"
            self.pool.release_spares()
            running = self._attempt_workers()
            for worker in running:
                worker.data["cause"] = worker.data["cause"] or "interrupt"
                self.pool.signal(worker, signal.SIGTERM)
            signals = self.signals
            deadline = time.monotonic() + INTERRUPT_GRACE_SECONDS
            while (self._attempt_workers() and self.signals == signals
                   and time.monotonic() < deadline):
                finished, woken = self.pool.wait(deadline - time.monotonic())
                if woken:
                    _drain(wake_fd)
                for item in finished:
                    if item.worker.data.get("kind") == "attempt":
                        self._on_finished(item)
            for worker in self._attempt_workers():
                self.pool.signal(worker, signal.SIGKILL)
                kill_session(worker.session_id, grace=FORCED_KILL_GRACE_SECONDS)
        except Exception:  # noqa: BLE001 - _finish still records what is on disk
            logger.debug("stopping the workers after the crash failed", exc_info=True)

    # --- signals ------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1

    def _install_signal_handlers(self, wake_fd: int) -> tuple[Any, Any, int]:
        old_int = signal.signal(signal.SIGINT, self._on_signal)
        old_term = signal.signal(signal.SIGTERM, self._on_signal)
        old_fd = signal.set_wakeup_fd(wake_fd, warn_on_full_buffer=False)
        return old_int, old_term, old_fd

    def _restore_signal_handlers(self, previous: tuple[Any, Any, int]) -> None:
        old_int, old_term, old_fd = previous
        signal.set_wakeup_fd(old_fd)
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)

    # --- the loop -----------------------------------------------------------

    def _attempt_workers(self) -> list[Worker]:
        return [worker for worker in self.pool.workers if worker.data["kind"] == "attempt"]

    def _loop(self, wake_fd: int) -> None:
        while True:
            if self.signals >= 2 and not self.forced:
                self._force_stop()
                return
            if self.signals and self.stopping != "interrupt":
                self._begin_interrupt()

            self._start_ready()
            running = self._attempt_workers()
            if not running:
                if not self.queue.has_pending:
                    self.pool.release_spares()
                    return
                self._drain_unstartable()
                continue

            if not self.queue.has_pending and not self.reports_prepared:
                self.reports_prepared = True
                _prepare_reports()

            # A missing spare is forked, and an idle one given a scenario to prepare, only
            # when no end is already due (a wait with a zero timeout finds none): the fork
            # takes the loop 1 to 3 ms.
            spare_work = self._spare_work()
            finished, woken = self.pool.wait(0.0 if spare_work else self._next_timeout(running))
            if spare_work is not None and not finished and not woken:
                spare_work()
                continue
            if woken:
                _drain(wake_fd)
            for item in finished:
                self._on_finished(item)
            self._enforce_deadlines()
            if self.progress.refresh_interval() == 0.0:
                self.progress.refresh()

    def _start_ready(self) -> None:
        while not self.stopping and len(self._attempt_workers()) < self.options.max_parallel:
            scenario = self.queue.next_to_start()
            if scenario is None:
                break
            self._start_attempt(self.records[scenario.name])
        if self.stopping or not self.queue.has_pending:
            self.pool.release_spares()

    def _spare_work(self) -> Callable[[], None] | None:
        """Return the next step of keeping spares ready, or None when they are.

        A missing spare is forked; one forked when the next scenario is known
        prepares it from memory. An idle spare is sent a scenario to prepare.
        """
        if self.stopping or self.spares_disabled or not self.queue.has_pending:
            return None
        spares = self.pool.spares
        if len(spares) < min(SPARE_WORKERS, self.options.max_parallel):
            record = self._next_to_prepare()
            return lambda: self._fork_spare(record)
        # The loop calls this on every wake-up: scan the queue only for an idle spare.
        idle = next((spare for spare in spares if spare.data["prepared"] is None), None)
        if idle is None:
            return None
        next_record = self._next_to_prepare()
        if next_record is None:
            return None
        return lambda: self._send_prepare(idle, next_record)

    def _fork_spare(self, record: ScenarioRecord | None) -> None:
        if record is None:
            spare = self.pool.start_spare(_serve_spare)
            spare.data.update(kind="spare", prepared=None, log_path=None)
            return
        job = (record, self._context(record, deadline=float("inf")))
        log_path = record.scenario_dir / WORKER_LOG
        spare = self.pool.start_spare(lambda commands: _serve_spare(commands, job),
                                      log_path=log_path)
        spare.data.update(kind="spare", prepared=record.name, log_path=log_path)

    def _send_prepare(self, spare: Worker, record: ScenarioRecord) -> None:
        context = self._context(record, deadline=float("inf"))
        log_path = record.scenario_dir / WORKER_LOG
        try:
            self.pool.send(spare, ("prepare", record, context), log_path=log_path)
        except OSError as exc:  # the spare died; the pool reaps it
            logger.warning("spare worker %d cannot prepare %s (%s)", spare.pid, record.name, exc)
            self.pool.release(spare)
            return
        spare.data.update(prepared=record.name, log_path=log_path)

    def _next_to_prepare(self) -> ScenarioRecord | None:
        """Return the first upcoming scenario that no spare prepared, unless it is a retry."""
        prepared = {worker.data.get("prepared") for worker in self.pool.spares}
        for scenario in self.queue.upcoming():
            record = self.records[scenario.name]
            # A retry's folder contains its earlier attempts, which a discard must not touch.
            if scenario.name not in prepared and not record.attempts:
                return record
        return None

    def _context(self, record: ScenarioRecord, *, deadline: float) -> Any:
        return contract.executor_module().AttemptContext(
            run_id=self.run_id,
            attempt=len(record.attempts) + 1,
            cluster=self.cluster,
            scenario_dir=record.scenario_dir,
            deadline=deadline,
            keep_on_failure=self.options.keep_on_failure,
        )

    def _start_attempt(self, record: ScenarioRecord) -> None:
        attempt = len(record.attempts) + 1
        started = time.monotonic()
        deadline = started + record.scenario.timeout
        log_path = record.scenario_dir / WORKER_LOG  # the worker creates the folder
        worker = self._assign_to_spare(record, started, deadline, log_path)
        if worker is None:
            context = self._context(record, deadline=deadline)
            worker = self.pool.start(
                record.name, lambda: _run_in_worker(record, context, started), log_path=log_path
            )
        worker.data.update(
            kind="attempt",
            record=record,
            started_at=utc_now(),
            hard_deadline=deadline + self.cleanup_grace,
            kill_at=None,
            cause="",
        )
        self.progress.started(record.name, attempt)

    def _assign_to_spare(
        self, record: ScenarioRecord, started: float, deadline: float, log_path: Path
    ) -> Worker | None:
        """Hand the attempt to a spare, the one prepared for it if any; None without one."""
        spares = self.pool.spares
        if not spares:
            return None
        ready = next((spare for spare in spares if spare.data["prepared"] == record.name), None)
        # Otherwise an idle spare first; one prepared for another scenario drops that one.
        spare = ready or min(spares, key=lambda spare: spare.data["prepared"] is not None)
        try:
            if spare is ready:
                self.pool.assign(spare, record.name, ("start", started, deadline))
            else:
                context = self._context(record, deadline=deadline)
                self.pool.assign(spare, record.name, ("run", record, context, started),
                                 log_path=log_path)
        except OSError as exc:  # the spare died (killed, out of memory); the pool reaps it
            logger.warning("spare worker %d cannot take %s (%s); starting it in a new worker",
                           spare.pid, record.name, exc)
            return None
        return spare

    def _next_timeout(self, running: list[Worker]) -> float | None:
        moments = []
        for worker in running:
            moments.append(worker.data["kill_at"] or worker.data["hard_deadline"])
        if self.interrupt_deadline is not None:
            moments.append(self.interrupt_deadline)
        # A worker already sent SIGKILL has kill_at = inf: only its end is awaited.
        moments = [moment for moment in moments if math.isfinite(moment)]
        timeout = max(0.0, min(moments) - time.monotonic()) if moments else None
        refresh = self.progress.refresh_interval()
        if refresh is not None:
            timeout = refresh if timeout is None else min(timeout, refresh)
        return timeout

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for worker in self._attempt_workers():
            data = worker.data
            if data["kill_at"] is not None and now >= data["kill_at"]:
                logger.warning("worker %d of %s ignored SIGTERM; sending SIGKILL", worker.pid,
                               worker.key)
                self.pool.signal(worker, signal.SIGKILL)
                data["kill_at"] = float("inf")
            elif data["kill_at"] is None and now >= data["hard_deadline"]:
                logger.warning(
                    "worker %d of %s outlived its timeout and cleanup grace; sending SIGTERM",
                    worker.pid, worker.key,
                )
                data["cause"] = data["cause"] or "backstop"
                self.pool.signal(worker, signal.SIGTERM)
                data["kill_at"] = now + BACKSTOP_TERM_GRACE_SECONDS
        if self.interrupt_deadline is not None and now >= self.interrupt_deadline:
            self.interrupt_deadline = None
            for worker in self._attempt_workers():
                logger.warning("worker %d of %s still runs %.0fs after the interrupt; killing it",
                               worker.pid, worker.key, INTERRUPT_GRACE_SECONDS)
                worker.data["cause"] = "interrupt-killed"
                self.pool.signal(worker, signal.SIGKILL)
                worker.data["kill_at"] = float("inf")

    # --- ends of attempts ---------------------------------------------------

    def _on_finished(self, finished: Finished) -> None:
        worker = finished.worker
        if worker.data["kind"] == "cleanup":
            self._on_cleanup_finished(finished)
            return
        if worker.data["kind"] == "spare":
            if finished.exit_code == 0:
                logger.debug("spare worker %d exited unassigned", worker.pid)
                return
            # Its scenario starts in a new worker when a slot frees. A spare that failed
            # to prepare (a full disk) would fail again, so no spare is forked from now on.
            self.spares_disabled = True
            ending = (f"signal {finished.signal}" if finished.signal is not None
                      else f"exit code {finished.exit_code}")
            logger.warning(
                "spare worker %d ended with %s before its start (see %s); the rest of the run "
                "starts each scenario in a new worker", worker.pid, ending,
                worker.data["log_path"] or "its worker.log",
            )
            return

        record: ScenarioRecord = worker.data["record"]
        duration = time.monotonic() - worker.started
        cause = worker.data["cause"]
        outcome: OutcomeFields
        if finished.has_payload and cause not in ("backstop", "interrupt-killed"):
            outcome, duration = finished.payload
            record.add_attempt(outcome, duration)
            rewrite = False
        else:
            outcome = self._synthesize(record, finished, cause, worker.data["started_at"])
            record.add_attempt(outcome, duration)
            rewrite = True
            if not self.forced:
                # NOTE: a process that left this session too (setsid) was reparented to
                # init when the worker died, so this cannot find it.
                kill_session(worker.session_id, grace=KILL_SESSION_GRACE_SECONDS)
                self._start_cleanup(record)
        if not finished.exiting:  # an exiting worker may still log; it removes its own empty log
            _remove_if_empty(record.scenario_dir / WORKER_LOG)

        retry = (
            outcome.infrastructure_error
            and len(record.attempts) <= self.options.retries
            and not self.stopping
        )
        if retry:
            logger.info("retrying %s after an infrastructure error: %s", record.name,
                        outcome.reason)
            self.queue.requeue(record.name)
            self.progress.ended(record.to_result(), retrying=True)
            return

        if rewrite or len(record.attempts) > 1:
            record.write()
        self.progress.ended(record.to_result())
        status = Status(outcome.status)
        for skip in self.queue.finish(record.name, status):
            self._record_skip(skip)
        if (
            self.options.fail_fast
            and status in (Status.FAILED, Status.ERROR, Status.TIMED_OUT)
            and not self.stopping
        ):
            self.stopping = "fail-fast"
            text = status_text(status)
            self.progress.note(f"--fail-fast: {record.name} {text}; starting no more scenarios")
            reason = f"not started: --fail-fast after {record.name} {text}"
            for skip in self.queue.drain(Status.SKIPPED, reason):
                self._record_skip(skip)

    def _synthesize(
        self, record: ScenarioRecord, finished: Finished, cause: str, started_at: str
    ) -> SyntheticOutcome:
        """Build the outcome of a worker that sent none, or that the parent stopped."""
        timeout = record.scenario.timeout
        if cause == "backstop":
            status = Status.TIMED_OUT
            reason = (
                f"timed out after {timeout:g}s; the worker did not end within "
                f"{self.cleanup_grace:g}s of cleanup and was stopped"
            )
        elif cause == "forced":
            status, reason = Status.INTERRUPTED, "interrupted: stopped by a second signal"
        elif cause == "interrupt-killed":
            status = Status.INTERRUPTED
            reason = f"interrupted: killed {INTERRUPT_GRACE_SECONDS:g}s after the interrupt"
        elif cause == "interrupt":
            status, reason = Status.INTERRUPTED, "interrupted"
        elif finished.signal is not None:
            status, reason = Status.ERROR, f"worker died (signal {finished.signal})"
        else:
            status = Status.ERROR
            reason = (
                f"worker exited with code {finished.exit_code} without a result; "
                f"see {record.scenario_dir / WORKER_LOG}"
            )
        logger.warning("%s: %s", record.name, reason)
        return SyntheticOutcome(
            status=status,
            reason=reason,
            namespace="",
            release="",
            started_at=started_at,
            ended_at=utc_now(),
        )

    def _record_skip(self, skip: Skip) -> None:
        record = self.records[skip.scenario.name]
        record.finish_without_running(skip.status, skip.reason, utc_now())
        try:
            record.write()
        except OSError as exc:
            logger.error("cannot write the result of %s: %s", record.name, exc)
        self.progress.ended(record.to_result())

    def _skip_up_front(self) -> None:
        """Skip scenarios whose `requires` the cluster lacks, and fail those that never fit."""
        capabilities = self.cluster.capabilities if self.cluster else frozenset()
        for scenario in self.plan.scenarios:
            if self.records[scenario.name].status is not None:
                continue  # already skipped as a dependant
            missing = [item for item in scenario.requires if item not in capabilities]
            if missing:
                for skip in self.queue.skip(scenario.name, Status.SKIPPED,
                                            self._requires_reason(missing[0])):
                    self._record_skip(skip)
                continue
            never = self.queue.admission.never_fits(scenario)
            if never is not None:
                for skip in self.queue.skip(scenario.name, Status.ERROR, never):
                    self._record_skip(skip)

    def _requires_reason(self, capability: str) -> str:
        if self.cluster is None:
            return NO_CLUSTER_REQUIRES_REASON.format(capability=capability)
        if self.cluster.provider == "local":
            return LOCAL_REQUIRES_REASON.format(capability=capability)
        return OTHER_REQUIRES_REASON.format(capability=capability, provider=self.cluster.provider)

    def _drain_unstartable(self) -> None:
        # Unreachable while dependencies form no cycle and never_fits ran; kept so a bug
        # cannot turn into a run that waits forever.
        logger.error("no scenario can start although %s are pending", self.queue.has_pending)
        for skip in self.queue.drain(Status.ERROR, "not started: no slot could ever admit it"):
            self._record_skip(skip)

    # --- interrupts ---------------------------------------------------------

    def _begin_interrupt(self) -> None:
        self.stopping = "interrupt"
        self.interrupt_deadline = time.monotonic() + INTERRUPT_GRACE_SECONDS
        self.pool.release_spares()
        running = self._attempt_workers()
        self.progress.note(
            f"interrupted: stopping {plural(len(running), 'running scenario')} (cleanup takes "
            f"up to {INTERRUPT_GRACE_SECONDS:g}s; interrupt again to force)"
        )
        for skip in self.queue.drain(Status.INTERRUPTED, "not started: run interrupted"):
            self._record_skip(skip)
        for worker in running:
            worker.data["cause"] = worker.data["cause"] or "interrupt"
            self.pool.signal(worker, signal.SIGTERM)

    def _force_stop(self) -> None:
        """Second signal: kill every worker session now; clean the run up in the background."""
        self.forced = True
        self.stopping = "interrupt"
        self.pool.release_spares()
        self.progress.note("interrupted again: killing running scenarios now")
        for skip in self.queue.drain(Status.INTERRUPTED, "not started: run interrupted"):
            self._record_skip(skip)
        running = self._attempt_workers()
        for worker in running:
            worker.data["cause"] = "forced"
            self.pool.signal(worker, signal.SIGKILL)
        for worker in running:
            kill_session(worker.session_id, grace=FORCED_KILL_GRACE_SECONDS)
        deadline = time.monotonic() + REAP_WAIT_SECONDS
        while self._attempt_workers() and time.monotonic() < deadline:
            finished, _ = self.pool.wait(deadline - time.monotonic())
            for item in finished:
                self._on_finished(item)
        for worker in self._attempt_workers():  # not reaped in time: record them anyway
            record = worker.data["record"]
            record.add_attempt(
                SyntheticOutcome(Status.INTERRUPTED, "interrupted: stopped by a second signal",
                                 "", "", worker.data["started_at"], utc_now()),
                time.monotonic() - worker.started,
            )
        if self.cluster is not None:
            self._detached_cleanup()

    def _detached_cleanup(self) -> None:
        """Fork a process that cleans up the whole run and is not waited for."""
        cluster, run_id = self.cluster, self.run_id
        assert cluster is not None
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.setsid()
                removed = contract.cleanup_leases(cluster, run_id=run_id)
                logger.info("background cleanup of run %s removed %s", run_id, removed)
            except BaseException:  # noqa: BLE001 - the child must reach os._exit
                code = 1
            finally:
                os._exit(code)
        self.progress.note(
            f"cleaning up run {run_id} in the background (pid {pid}); "
            f"'sparkrig cleanup --run-id {run_id}' removes anything left"
        )

    # --- lease cleanup of dead workers -------------------------------------

    def _start_cleanup(self, record: ScenarioRecord) -> None:
        if self.cluster is None:
            return
        cluster, run_id, name = self.cluster, self.run_id, record.name
        target: Callable[[], list[str]] = lambda: contract.cleanup_leases(  # noqa: E731
            cluster, run_id=run_id, scenario=name
        )
        worker = self.pool.start(f"cleanup {name}", target,
                                 log_path=record.scenario_dir / "cleanup.log")
        worker.data.update(kind="cleanup", record=record)

    def _on_cleanup_finished(self, finished: Finished) -> None:
        record: ScenarioRecord = finished.worker.data["record"]
        if finished.has_payload:
            logger.info("cleaned up after %s: %s", record.name, finished.payload or "nothing left")
        else:
            logger.error(
                "cleanup after %s failed (see %s); run 'sparkrig cleanup --run-id %s'",
                record.name, record.scenario_dir / "cleanup.log", self.run_id,
            )

    def _wait_for_cleanups(self, wake_fd: int) -> None:
        if self.forced:
            return
        signals = self.signals
        deadline = time.monotonic() + CLEANUP_WAIT_SECONDS
        while self.pool.workers and time.monotonic() < deadline and self.signals == signals:
            finished, woken = self.pool.wait(deadline - time.monotonic())
            if woken:
                _drain(wake_fd)
            for item in finished:
                self._on_finished(item)
        for worker in self.pool.workers:
            logger.error("cleanup %s still runs; leaving it (pid %d)", worker.key, worker.pid)

    # --- the end ------------------------------------------------------------

    def _exit_code(self) -> int:
        if self.crash is not None:
            return int(ExitCode.INFRASTRUCTURE)
        if self.signals:
            return int(ExitCode.INTERRUPTED)
        failures = [
            record for record in self.records.values()
            if record.status is None or not record.status.is_success
        ]
        if not failures:
            return int(ExitCode.OK)
        if all(record.infrastructure_error for record in failures):
            return int(ExitCode.INFRASTRUCTURE)
        return int(ExitCode.SCENARIO_FAILED)

    def _finish(self) -> int:
        now = utc_now()
        for record in self.records.values():
            # Only after an unexpected error in the loop: the worker may have written a result.
            if record.status is None and not record.adopt_written():
                record.finish_without_running(Status.INTERRUPTED, "not finished: run aborted", now)
        exit_code = self._exit_code()
        run = RunResult(
            run_id=self.run_id,
            started_at=self.started_at,
            ended_at=now,
            sparkrig_version=__version__,
            cluster=_cluster_dict(self.cluster),
            selection=_selection_dict(self.options),
            max_parallel=self.options.max_parallel,
            exit_code=exit_code,
            scenarios=[record.to_result() for record in self.records.values()],
        )
        _write_reports(run, self.run_dir)
        if not self.signals:
            _update_history(self.options.results_dir, run)
        # A run that selected nothing (an empty CI shard, a tag filter) keeps `latest`
        # on the last run that ran something, so --rerun-failed still finds it.
        if self.records:
            try:
                point_latest(self.options.results_dir, self.run_id)
            except OSError as exc:
                logger.error("cannot point %s/latest at %s: %s", self.options.results_dir,
                             self.run_id, exc)
        self.progress.close(run, str(self.run_dir))
        return exit_code


def _drain(fd: int) -> None:
    with contextlib.suppress(BlockingIOError):
        while os.read(fd, 512):
            pass


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.stat().st_size == 0:
            path.unlink()


def _cluster_dict(cluster: ClusterInfo | None) -> dict[str, Any]:
    if cluster is None:
        return {"provider": "none"}
    data: dict[str, Any] = {
        "provider": cluster.provider,
        "context": cluster.context,
        "server": cluster.server,
        "version": cluster.version,
        "capabilities": sorted(cluster.capabilities),
    }
    if cluster.capacity is not None:
        data["capacity"] = dataclasses.asdict(cluster.capacity)
    return data


def _selection_dict(options: RunOptions) -> dict[str, Any]:
    selection = options.selection
    return {
        "tiers": list(selection.tiers),
        "tags": list(selection.tags),
        "scenarios": list(selection.names),
        "shard": f"{options.shard[0]}/{options.shard[1]}" if options.shard else None,
        "rerun_failed": options.rerun_failed,
        "scenarios_dir": str(options.scenarios_dir),
    }


def _prepare_reports() -> None:
    """Load the report writers while the last scenarios run; `_write_reports` then starts warm."""
    try:
        from sparkrig.report import prepare_reports

        prepare_reports()
    except Exception as exc:  # noqa: BLE001 - only a head start: _write_reports reports failures
        logger.debug("preparing the reports failed: %s", exc)


def _write_reports(run: RunResult, run_dir: Path) -> None:
    try:
        from sparkrig.report import write_reports
    except ImportError as exc:
        logger.warning("reports unavailable (%s); writing results.json only", exc)
        _write_results_only(run, run_dir)
        return
    try:
        write_reports(run, run_dir)
    except Exception:  # noqa: BLE001 - results.json must exist even when a report fails
        logger.exception("writing the reports of %s failed; writing results.json only",
                         run.run_id)
        _write_results_only(run, run_dir)


def _write_results_only(run: RunResult, run_dir: Path) -> None:
    """Write results.json alone; raise InfrastructureError when even that fails (a full disk)."""
    try:
        write_json_atomic(run_dir / "results.json", run.to_dict())
    except OSError as exc:
        raise InfrastructureError(
            f"cannot write {run_dir / 'results.json'}: {exc}; the result.json of every "
            f"finished scenario is under {run_dir / 'scenarios'}. Free space or fix the "
            "permissions of that folder before the next run"
        ) from exc


def _update_history(results_dir: Path, run: RunResult) -> None:
    try:
        from sparkrig.report.history import update_history
    except ImportError:
        return
    try:
        update_history(results_dir, run)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("cannot update the durations history in %s: %s", results_dir, exc)


def scenario_names(scenarios: list[Scenario]) -> list[str]:
    return [scenario.name for scenario in scenarios]
