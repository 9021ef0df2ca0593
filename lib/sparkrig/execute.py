"""Execute one attempt of one scenario: lease, steps or script, diagnostics, cleanup.

`execute_attempt` runs in a worker process that the scheduler forked for this
attempt and made a session leader, so everything it starts stays in that
session. It owns the attempt's timing:

- every command gets min(step timeout, scenario deadline - now); when the
  scenario's deadline ends a step, the attempt is `timed_out`, while a step's
  own timeout fails it (`failed`);
- cleanup (helm uninstall, namespace delete, bounded wait) and diagnostics
  get a budget of their own after the deadline, `CLEANUP_GRACE_SECONDS`, which
  the scheduler honours before it kills the session;
- SIGTERM from the scheduler raises `AttemptInterrupted` in the main thread,
  which stops the running command's process group (see `sparkrig.process`),
  cleans up and returns `interrupted`. Only the first SIGTERM raises: later
  ones during cleanup are noted and ignored, so cleanup is not cut short.

Failure reasons are one line naming the step number, its name and what failed,
e.g. `step 3 wait deployment/x-connect: timed out after 120s; Available=False`.
Output (commands, Helm, rig lines with timestamps) goes to `scenario_dir/output.log`.

An attempt can be prepared ahead of its start: `prepare_attempt` creates the
scenario folder, `output.log` and `artifacts/` and returns a `PreparedAttempt`
whose `start` runs it and whose `discard` removes what it created. The runner
has a spare worker prepare the next scenario while the slots are busy, so
creating files is not part of the delay between one scenario's end and the
next one's start. `execute_attempt` prepares and starts at once.

With `cluster=None` only script scenarios run, without namespace or Helm. That
path makes no API calls and opens one file, because a benchmark measures the
rig's overhead per scenario on it. It also imports nothing of the Kubernetes
client: `kube.client`, `kube.lease`, `kube.steps` and `kube.diagnostics`
(about 0.15 s to import together) load inside the cluster path at first use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, BinaryIO

from sparkrig.cluster.base import ClusterInfo
from sparkrig.errors import InfrastructureError
from sparkrig.kube.helm import Helm, write_log_line
from sparkrig.kube.match import substitute
from sparkrig.kube.names import namespace_name, release_name
from sparkrig.process import run_command
from sparkrig.results import Status
from sparkrig.scenario.model import Scenario

if TYPE_CHECKING:
    from sparkrig.kube.client import KubeClient
    from sparkrig.kube.lease import NamespaceLease
    from sparkrig.kube.steps import StepContext

__all__ = [
    "CLEANUP_GRACE_SECONDS",
    "AttemptContext",
    "AttemptOutcome",
    "AttemptInterrupted",
    "PreparedAttempt",
    "prepare_attempt",
    "execute_attempt",
    "scenario_env",
]

logger = logging.getLogger(__name__)

CLEANUP_GRACE_SECONDS = 60.0  # diagnostics + uninstall + namespace delete after the deadline
OUTPUT_TAIL_BYTES = 4096  # the end of output.log kept in the outcome for reports
OUTPUT_LOG = "output.log"
ARTIFACTS_DIR = "artifacts"
DIAGNOSTICS_DIR = "diagnostics"


class AttemptInterrupted(Exception):
    """The scheduler sent SIGTERM: stop, clean up and report `interrupted`."""


@dataclass(frozen=True)
class AttemptContext:
    run_id: str
    attempt: int  # 1-based; each attempt gets fresh namespace and release names
    cluster: ClusterInfo | None  # None: script scenarios only, no namespace, no Helm
    scenario_dir: Path  # reports/<run_id>/scenarios/<safe-name>/
    deadline: float  # time.monotonic() value by which the scenario must end
    keep_on_failure: bool = False
    extra_env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class AttemptOutcome:
    status: Status
    reason: str
    namespace: str
    release: str
    started_at: str  # ISO 8601 UTC
    ended_at: str
    exit_code: int | None = None
    infrastructure_error: bool = False  # a retry in fresh names may help
    output_tail: str = ""


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _InterruptGuard:
    """Turns the first SIGTERM into `AttemptInterrupted` while armed."""

    def __init__(self) -> None:
        self.armed = False
        self.received = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        first = not self.received
        self.received = True
        if self.armed and first:
            self.armed = False
            raise AttemptInterrupted(f"received signal {signum}")

    @contextlib.contextmanager
    def installed(self) -> Iterator[_InterruptGuard]:
        if threading.current_thread() is not threading.main_thread():
            # Signal handlers can only be set in the main thread; tests may call from others.
            yield self
            return
        previous = signal.signal(signal.SIGTERM, self.handle)
        try:
            yield self
        finally:
            signal.signal(signal.SIGTERM, previous)


def _tail(log: BinaryIO) -> str:
    log.flush()
    size = os.fstat(log.fileno()).st_size
    start = max(size - OUTPUT_TAIL_BYTES, 0)
    return os.pread(log.fileno(), size - start, start).decode("utf-8", errors="replace")


def scenario_env(
    scenario: Scenario,
    ctx: AttemptContext,
    *,
    namespace: str,
    release: str,
) -> dict[str, str]:
    """Return the environment of a script or run step, as docs/scenarios.md lists it.

    This process's environment, the cluster's KUBECONFIG, PATH with the
    cluster's tools first, NAMESPACE, RELEASE, RUN_ID, ARTIFACTS_DIR, SCENARIO,
    SCENARIO_DIR, CHART (absolute), PRESET_VALUES, then `ctx.extra_env`.
    """
    env = dict(os.environ)
    cluster = ctx.cluster
    if cluster is not None:
        env.update(cluster.env())
        if cluster.tools_path is not None:
            env["PATH"] = f"{cluster.tools_path}{os.pathsep}{env.get('PATH', '')}"
    chart = scenario.chart
    chart_path = str(chart.path.resolve()) if chart is not None else ""
    preset = (
        str((chart.path / "presets" / f"{chart.preset}.yaml").resolve())
        if chart is not None and chart.preset
        else ""
    )
    env.update({
        "NAMESPACE": namespace,
        "RELEASE": release,
        "RUN_ID": ctx.run_id,
        "ARTIFACTS_DIR": str(ctx.scenario_dir / ARTIFACTS_DIR),
        "SCENARIO": scenario.name,
        "SCENARIO_DIR": str(ctx.scenario_dir),
        "CHART": chart_path,
        "PRESET_VALUES": preset,
    })
    env.update(ctx.extra_env)
    return env


class _Attempt:
    """The state of one attempt while it runs."""

    def __init__(self, scenario: Scenario, ctx: AttemptContext, log: BinaryIO,
                 guard: _InterruptGuard) -> None:
        self.scenario = scenario
        self.ctx = ctx
        self.log = log
        self.guard = guard
        self.started_at = _now_iso()
        self.namespace = namespace_name(scenario.name, when=datetime.now(UTC))
        self.release = release_name(scenario.name)
        self.status = Status.PASSED
        self.reason = ""
        self.exit_code: int | None = None
        self.infrastructure_error = False

    def fail(self, status: Status, reason: str, *, infrastructure: bool = False) -> None:
        self.status = status
        self.reason = reason
        self.infrastructure_error = infrastructure
        # Reasons such as "interrupted: ..." already start with the status.
        prefix = "" if reason.startswith(f"{status}:") else f"{status}: "
        write_log_line(self.log, f"{prefix}{reason}")

    def outcome(self) -> AttemptOutcome:
        return AttemptOutcome(
            status=self.status,
            reason=self.reason,
            namespace=self.namespace,
            release=self.release,
            started_at=self.started_at,
            ended_at=_now_iso(),
            exit_code=self.exit_code,
            infrastructure_error=self.infrastructure_error,
            output_tail=_tail(self.log),
        )

    # -- scripts -----------------------------------------------------------

    def run_script(self) -> None:
        script = self.scenario.script
        if script is None:
            raise ValueError(f"scenario {self.scenario.name!r} is not a script scenario")
        env = scenario_env(self.scenario, self.ctx, namespace=self.namespace,
                           release=self.release)
        budget = self.ctx.deadline - time.monotonic()
        write_log_line(self.log, f"$ {script} {self.namespace} {self.release}")
        try:
            result = run_command([str(script), self.namespace, self.release], log=self.log,
                                 timeout=budget, env=env, cwd=script.parent)
        except OSError as exc:
            self.fail(Status.ERROR, f"cannot run script {script}: {exc}; check that it exists "
                      "and is executable (chmod +x) with a valid #! line")
            return
        self.exit_code = result.exit_code
        if result.timed_out:
            limit = self.scenario.timeout
            self.fail(Status.TIMED_OUT, f"script timed out at the scenario timeout ({limit:.0f}s)")
        elif result.exit_code != 0:
            tail = result.tail(3)
            self.fail(Status.FAILED, f"script exited with code {result.exit_code}"
                      + (f": {tail}" if tail else ""))

    # -- steps -------------------------------------------------------------

    def run_steps(self, steps_ctx: StepContext) -> None:
        from sparkrig.kube.steps import StepApiError, StepFailure, StepTimeout, run_step

        for number, step in enumerate(self.scenario.steps, start=1):
            name = substitute(step.name, steps_ctx.placeholders)
            label = name if name.startswith(step.kind) else f"{name} ({step.kind})"
            remaining = self.ctx.deadline - time.monotonic()
            budget = min(step.timeout, remaining)
            write_log_line(self.log, f"step {number} {label}: start (budget {budget:.0f}s)")
            try:
                run_step(steps_ctx, step, budget=budget)
            except StepTimeout as exc:
                if remaining <= step.timeout:
                    self.fail(Status.TIMED_OUT, f"step {number} {label}: scenario timeout of "
                              f"{self.scenario.timeout:.0f}s reached; {exc}")
                else:
                    self.fail(Status.FAILED, f"step {number} {label}: {exc}")
                return
            except StepApiError as exc:
                self.fail(Status.ERROR, f"step {number} {label}: {exc}", infrastructure=True)
                return
            except StepFailure as exc:
                self.fail(Status.FAILED, f"step {number} {label}: {exc}")
                return
            write_log_line(self.log, f"step {number} {label}: passed")

    # -- with a cluster ----------------------------------------------------

    def run_on_cluster(self, cluster: ClusterInfo) -> None:
        from sparkrig.kube.client import KubeClient
        from sparkrig.kube.lease import NamespaceLease

        try:
            client = KubeClient(cluster)
        except InfrastructureError as exc:
            self.fail(Status.ERROR, str(exc), infrastructure=True)
            return
        with client:
            env = scenario_env(self.scenario, self.ctx, namespace=self.namespace,
                               release=self.release)
            try:
                helm = Helm(cluster=cluster, log=self.log, env=env)
            except InfrastructureError as exc:
                self.fail(Status.ERROR, str(exc), infrastructure=True)
                return
            lease = NamespaceLease(client, self.scenario, run_id=self.ctx.run_id,
                                   attempt=self.ctx.attempt, release=self.release, log=self.log)
            lease.namespace = self.namespace
            steps_ctx: StepContext | None = None
            try:
                self.guard.armed = True
                lease.create()
                self.namespace = lease.namespace  # a name conflict may have changed it
                env["NAMESPACE"] = self.namespace
                if self.scenario.is_script:
                    self.run_script()
                else:
                    steps_ctx = self._steps_context(client, helm, env)
                    self.run_steps(steps_ctx)
            except AttemptInterrupted:
                self.fail(Status.INTERRUPTED, "interrupted: the run was stopped")
            except InfrastructureError as exc:
                self.fail(Status.ERROR, str(exc), infrastructure=True)
            except Exception as exc:  # noqa: BLE001 - a rig bug must still clean up the namespace
                logger.exception("scenario %s: unexpected error", self.scenario.name)
                self.fail(Status.ERROR, f"internal error: {type(exc).__name__}: {exc}")
            finally:
                self.guard.armed = False
            self._finish(client, helm, lease, steps_ctx)

    def _steps_context(self, client: KubeClient, helm: Helm, env: dict[str, str]) -> StepContext:
        from sparkrig.kube.steps import StepContext

        chart = self.scenario.chart
        placeholders = {
            "NAMESPACE": self.namespace,
            "RELEASE": self.release,
            "RUN_ID": self.ctx.run_id,
            "CHART": str(chart.path.resolve()) if chart is not None else "",
            "SCENARIO_DIR": str(self.ctx.scenario_dir),
        }
        return StepContext(
            scenario=self.scenario, namespace=self.namespace, release=self.release,
            run_id=self.ctx.run_id, scenario_dir=self.ctx.scenario_dir, log=self.log,
            env=env, client=client, helm=helm, placeholders=placeholders,
        )

    def _finish(self, client: KubeClient, helm: Helm, lease: NamespaceLease,
                steps_ctx: StepContext | None) -> None:
        """Collect diagnostics of a failure, then release the lease, within the grace."""
        from sparkrig.kube.diagnostics import DIAGNOSTICS_BUDGET_SECONDS, collect_diagnostics

        # The grace starts now, or at the deadline if that has passed: the scheduler's bound.
        cleanup_end = min(time.monotonic(), self.ctx.deadline) + CLEANUP_GRACE_SECONDS
        failed = self.status in (Status.FAILED, Status.ERROR, Status.TIMED_OUT)
        if failed and lease.created:
            budget = min(DIAGNOSTICS_BUDGET_SECONDS, (cleanup_end - time.monotonic()) / 3)
            diagnostics = collect_diagnostics(
                client, helm, namespace=self.namespace, release=self.release,
                directory=self.ctx.scenario_dir / DIAGNOSTICS_DIR, budget=max(budget, 1.0),
            )
            write_log_line(self.log, f"diagnostics: {len(diagnostics.files)} files in "
                           f"{diagnostics.directory}" + (f", {len(diagnostics.errors)} items "
                                                        "failed" if diagnostics.errors else ""))
        # A script may have installed the release itself; uninstall ignores a missing one.
        uninstall = self.scenario.is_script or (steps_ctx is not None and steps_ctx.installed)
        keep = self.ctx.keep_on_failure and failed
        report = lease.release_lease(
            helm=helm, uninstall=uninstall, keep=keep,
            timeout=max(cleanup_end - time.monotonic(), 1.0),
        )
        if report.kept:
            # The runner's progress line and summary.md show the reason, so the user sees it.
            note = f"namespace {self.namespace} kept"
            self.reason = f"{self.reason}; {note}" if self.reason else note
        elif not report.removed:
            note = report.detail or f"namespace {self.namespace} not removed"
            self.reason = f"{self.reason}; cleanup: {note}" if self.reason else f"cleanup: {note}"
        for error in report.errors:
            write_log_line(self.log, f"cleanup: {error}")
        if self.guard.received and self.status is Status.PASSED:
            self.fail(Status.INTERRUPTED, "interrupted during cleanup: the run was stopped")


class PreparedAttempt:
    """An attempt whose folder and files exist, waiting for `start` or `discard`."""

    def __init__(self, scenario: Scenario, ctx: AttemptContext) -> None:
        self.scenario = scenario
        self.ctx = ctx
        ctx.scenario_dir.mkdir(parents=True, exist_ok=True)
        self.log, self._created_log = _open_log(ctx.scenario_dir / OUTPUT_LOG)
        self._created_artifacts = _make_dir(ctx.scenario_dir / ARTIFACTS_DIR)

    def start(self, deadline: float | None = None) -> AttemptOutcome:
        """Run the attempt now, by `deadline` (monotonic) or the context's, and return its outcome.

        Step failures, API and Helm errors and unexpected exceptions inside the
        attempt become an outcome. See the module docstring for timing,
        interrupts and cleanup.
        """
        scenario = self.scenario
        ctx = self.ctx if deadline is None else dataclasses.replace(self.ctx, deadline=deadline)
        guard = _InterruptGuard()
        with guard.installed(), self.log as log:
            attempt = _Attempt(scenario, ctx, log, guard)
            write_log_line(log, f"attempt {ctx.attempt} of scenario {scenario.name!r} "
                           f"(run {ctx.run_id}, namespace {attempt.namespace}, "
                           f"release {attempt.release})")
            if ctx.cluster is not None:
                attempt.run_on_cluster(ctx.cluster)
            elif scenario.is_script:
                try:
                    guard.armed = True
                    attempt.run_script()
                except AttemptInterrupted:
                    attempt.fail(Status.INTERRUPTED, "interrupted: the run was stopped")
                finally:
                    guard.armed = False
            else:
                attempt.fail(Status.ERROR, f"scenario {scenario.name!r} has steps, which need a "
                             "cluster; run it with --cluster local (or kind, existing)")
            write_log_line(log, f"attempt ended: {attempt.status}"
                           + (f" ({attempt.reason})" if attempt.reason else ""))
            return attempt.outcome()

    def discard(self) -> None:
        """Close the log and remove the files and folders that preparing created, if empty."""
        self.log.close()
        directory = self.ctx.scenario_dir
        with contextlib.suppress(OSError):
            if self._created_log and (directory / OUTPUT_LOG).stat().st_size == 0:
                (directory / OUTPUT_LOG).unlink()
        with contextlib.suppress(OSError):
            if self._created_artifacts:
                (directory / ARTIFACTS_DIR).rmdir()  # fails, as it should, when not empty


def _open_log(path: Path) -> tuple[BinaryIO, bool]:
    """Open `path` for appending and reading; also return whether this call created it."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
    try:
        fd, created = os.open(path, flags | os.O_EXCL, 0o644), True
    except FileExistsError:
        fd, created = os.open(path, flags, 0o644), False
    return os.fdopen(fd, "a+b"), created


def _make_dir(path: Path) -> bool:
    """Create the folder `path` unless it exists; return whether this call created it."""
    try:
        path.mkdir()
    except FileExistsError:
        return False
    return True


def prepare_attempt(scenario: Scenario, ctx: AttemptContext) -> PreparedAttempt:
    """Create the attempt's folder, `output.log` and `artifacts/`; start it later.

    Only a failure to create them raises. `ctx.deadline` may be a placeholder
    when `start` gets the real one.
    """
    return PreparedAttempt(scenario, ctx)


def execute_attempt(scenario: Scenario, ctx: AttemptContext) -> AttemptOutcome:
    """Run one attempt of `scenario` now and return its outcome.

    Step failures, API and Helm errors and unexpected exceptions inside the
    attempt become an outcome; only a failure to create `scenario_dir` or
    `output.log` raises.

    See the module docstring for timing, interrupts and cleanup.
    """
    return prepare_attempt(scenario, ctx).start()
