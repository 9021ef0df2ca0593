"""The step runner of YAML scenarios: install, wait, assert, run, test, uninstall.

`run_step` performs one step within a time budget (the smaller of the step's
timeout and what remains of the scenario's) and returns, or raises a
`StepFailure` whose message is the failure reason without the step prefix:

- `StepTimeout` when the budget ran out; the caller decides whether that was
  the step's own timeout (failed) or the scenario's (timed_out);
- `QuotaExceeded` when a pod of the namespace was rejected by its
  ResourceQuota, seen in a FailedCreate event while install --wait, wait or
  test steps run, so the scenario fails at once instead of at its timeout.

Wait steps poll the API every `WAIT_POLL_SECONDS` (as kubectl wait does with a
watch, but simpler to bound); Helm steps run Helm as a child process and check
quota events on each tick.
"""

from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sparkrig.kube.client import KubeApiError, KubeClient, namespaced_path
from sparkrig.kube.helm import Helm, write_log_line
from sparkrig.kube.match import (
    condition_state,
    match_partial,
    parse_wait_for,
    substitute,
    substitute_all,
)
from sparkrig.kube.resources import ResourceResolver, ResourceType, UnknownResourceError
from sparkrig.process import CommandResult, run_command
from sparkrig.scenario.model import Scenario, Step

__all__ = [
    "StepFailure",
    "StepTimeout",
    "QuotaExceeded",
    "StepApiError",
    "QuotaWatch",
    "StepContext",
    "run_step",
    "check_output_contains",
]

logger = logging.getLogger(__name__)

WAIT_POLL_SECONDS = 1.0  # wait steps re-read their objects this often
QUOTA_TICK_SECONDS = 1.0  # Helm steps check quota events this often
REASON_TAIL_LINES = 3  # lines of a command's output quoted in a failure reason
REASON_MAX_CHARS = 400  # a reason is one line in reports; output.log has the rest
# How much sooner than its --timeout a failed `helm --wait` may end and still count as timed out.
HELM_WAIT_SLACK_SECONDS = 1.0


class StepFailure(Exception):
    """A step failed; the message is the reason (what failed and what was seen)."""


class StepTimeout(StepFailure):
    """A step's time budget ran out."""

    def __init__(self, message: str, *, budget: float) -> None:
        super().__init__(message)
        self.budget = budget


class StepApiError(StepFailure):
    """The API server failed a request of a step (an infrastructure error, retryable)."""


class QuotaExceeded(StepFailure):
    """A pod of the scenario's namespace was rejected by its ResourceQuota."""


class QuotaWatch:
    """Watches a namespace's FailedCreate events for ResourceQuota rejections."""

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    def check(self) -> None:
        """Raise `QuotaExceeded` with the event message if a quota rejected a pod."""
        try:
            events = self.client.list(
                namespaced_path(self.namespace, "events"),
                field_selector="reason=FailedCreate",
                timeout=5,
            )
        except KubeApiError as exc:
            logger.debug("cannot read events of %s: %s", self.namespace, exc)
            return
        for event in events:
            message = str(event.get("message") or "")
            if "exceeded quota" in message:
                raise QuotaExceeded(f"quota: {message}")


@dataclass
class StepContext:
    """The state and clients that every step of one attempt shares."""

    scenario: Scenario
    namespace: str
    release: str
    run_id: str
    scenario_dir: Path
    log: BinaryIO
    env: dict[str, str]  # environment of run steps (placeholders included)
    client: KubeClient
    helm: Helm
    placeholders: dict[str, str] = field(default_factory=dict)
    installed: bool = False  # a helm install was tried, so cleanup should uninstall
    _resolver: ResourceResolver | None = None

    @property
    def resolver(self) -> ResourceResolver:
        if self._resolver is None:
            self._resolver = ResourceResolver(self.client)
        return self._resolver

    @property
    def quota(self) -> QuotaWatch:
        return QuotaWatch(self.client, self.namespace)

    @property
    def workdir(self) -> Path:
        return self.scenario.source.parent


def check_output_contains(output: str, expected: list[str]) -> str | None:
    """Return the first expected text missing from `output`, or None when all are there."""
    for text in expected:
        if text not in output:
            return text
    return None


def _command_failure(what: str, result: CommandResult) -> str:
    """Return a one-line reason: how the command ended and its error line or output tail."""
    code = "was stopped" if result.exit_code is None else f"exited with code {result.exit_code}"
    detail = _failure_detail(result)
    return f"{what} {code}" + (f": {detail}" if detail else "")


def _missing_output(subject: str, missing: str, result: CommandResult) -> str:
    """Return the reason of an output check that failed, with the output's last lines."""
    tail = result.tail(REASON_TAIL_LINES)
    if len(tail) > REASON_MAX_CHARS:
        tail = "..." + tail[-(REASON_MAX_CHARS - 3):]
    return f"{subject} does not contain {missing!r}" + (
        f"; it ends with: {tail}" if tail else "; it was empty"
    )


def _failure_detail(result: CommandResult) -> str:
    """Return the command's last `Error:` line, else the tail of its output, shortened."""
    errors = [line.strip() for line in result.output.splitlines()
              if line.strip().startswith("Error:")]
    detail = errors[-1] if errors else result.tail(REASON_TAIL_LINES)
    if len(detail) > REASON_MAX_CHARS:
        detail = detail[: REASON_MAX_CHARS - 3] + "..."
    return detail


def _resolve_path(ctx: StepContext, text: str) -> Path:
    path = Path(substitute(text, ctx.placeholders)).expanduser()
    return path if path.is_absolute() else (ctx.workdir / path).resolve()


def _install(ctx: StepContext, options: Mapping[str, Any], budget: float) -> None:
    chart = ctx.scenario.chart
    if chart is None:
        raise StepFailure("the scenario has no chart; add chart.path to the scenario file")
    values: list[Path] = []
    if chart.preset:
        values.append(chart.path / "presets" / f"{chart.preset}.yaml")
    values += list(chart.values)
    values += [_resolve_path(ctx, item) for item in options.get("values") or []]
    sets = [(key, substitute(str(value), ctx.placeholders)) for key, value in chart.set]
    sets += [(str(key), substitute(str(value), ctx.placeholders))
             for key, value in (options.get("set") or {}).items()]
    wait = bool(options.get("wait", True))

    ctx.installed = True
    result = ctx.helm.upgrade_install(
        ctx.release, chart.path, ctx.namespace, values=values, sets=sets, wait=wait,
        timeout=budget, tick=ctx.quota.check if wait else None,
    )
    if result.timed_out:
        raise StepTimeout(f"helm upgrade --install timed out after {budget:.0f}s", budget=budget)
    if not result.ok and wait:
        ctx.quota.check()  # a quota rejection explains a failed --wait better than Helm does
        # Helm's own --timeout ends the wait a little before the step's budget, and its
        # message ("resource ... not ready") does not say that time ran out.
        helm_timeout = Helm.timeout_seconds(budget)
        if result.duration >= helm_timeout - HELM_WAIT_SLACK_SECONDS:
            detail = _failure_detail(result)
            raise StepTimeout(
                f"helm upgrade --install --wait timed out after {helm_timeout}s"
                + (f": {detail}" if detail else ""),
                budget=budget,
            )
    if options.get("expect_failure"):
        if result.ok:
            raise StepFailure("helm upgrade --install succeeded but expect_failure is set")
    elif not result.ok:
        raise StepFailure(_command_failure("helm upgrade --install", result))
    missing = check_output_contains(result.output, list(options.get("output_contains") or []))
    if missing is not None:
        raise StepFailure(_missing_output("helm output", missing, result))


def _targets(ctx: StepContext, options: Mapping[str, Any]) -> tuple[ResourceType, str, str]:
    """Return (type, name, selector) of a wait or assert step; one of name and selector is set."""
    resource = substitute(options.get("resource") or "", ctx.placeholders)
    kind = substitute(options.get("kind") or "", ctx.placeholders)
    selector = substitute(options.get("selector") or "", ctx.placeholders)
    name = ""
    if resource:
        kind, _, name = resource.partition("/")
    try:
        resource_type = ctx.resolver.resolve(kind)
    except UnknownResourceError as exc:
        raise StepFailure(str(exc)) from exc
    return resource_type, name, selector


def _describe_target(resource_type: ResourceType, name: str, selector: str) -> str:
    kind = resource_type.singular or resource_type.kind.lower()
    return f"{kind}/{name}" if name else f"{resource_type.plural} -l {selector}"


def _fetch(ctx: StepContext, resource_type: ResourceType, name: str,
           selector: str) -> list[dict[str, Any]]:
    if name:
        found = ctx.client.get(resource_type.path(ctx.namespace, name))
        return [found] if found is not None else []
    return ctx.client.list(resource_type.path(ctx.namespace), label_selector=selector)


def _wait(ctx: StepContext, options: Mapping[str, Any], budget: float) -> None:
    resource_type, name, selector = _targets(ctx, options)
    try:
        wait_for = parse_wait_for(substitute(options["for"], ctx.placeholders))
    except ValueError as exc:
        raise StepFailure(str(exc)) from exc
    deadline = time.monotonic() + budget
    state = "not checked yet"
    while True:
        ctx.quota.check()
        try:
            objects = _fetch(ctx, resource_type, name, selector)
        except KubeApiError as exc:
            state = f"API error: {exc}"
            objects = None
        if objects is not None:
            if wait_for.kind == "delete":
                if not objects:
                    return
                state = f"{len(objects)} still present"
            elif not objects:
                state = "not found"
            else:
                states = [condition_state(obj, wait_for) for obj in objects]
                if all(met for met, _ in states):
                    return
                state = "; ".join(text for met, text in states if not met)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StepTimeout(f"timed out after {budget:.0f}s; {state}", budget=budget)
        time.sleep(min(WAIT_POLL_SECONDS, remaining))


def _assert(ctx: StepContext, options: Mapping[str, Any], budget: float) -> None:
    resource_type, name, selector = _targets(ctx, options)
    target = _describe_target(resource_type, name, selector)
    try:
        objects = _fetch(ctx, resource_type, name, selector)
    except KubeApiError as exc:
        raise StepApiError(f"{target}: {exc}") from exc
    count = options.get("count")
    if count is not None and len(objects) != count:
        raise StepFailure(f"{target}: expected {count} objects, found {len(objects)}")
    match = substitute_all(options.get("match") or {}, ctx.placeholders)
    if not match:
        return
    if not objects:
        raise StepFailure(f"{target}: not found")
    for obj in objects:
        problem = match_partial(match, obj)
        if problem:
            object_name = (obj.get("metadata") or {}).get("name", "?")
            kind = resource_type.singular or resource_type.kind.lower()
            raise StepFailure(f"{kind}/{object_name}: {problem}")


def _run(ctx: StepContext, options: Mapping[str, Any], budget: float) -> None:
    if options.get("command"):
        command = substitute(options["command"], ctx.placeholders)
        argv = ["/bin/sh", "-c", command]
        shown = command
    else:
        argv = [substitute(str(item), ctx.placeholders) for item in options["argv"]]
        shown = shlex.join(argv)
    write_log_line(ctx.log, f"$ {shown}")
    try:
        result = run_command(argv, log=ctx.log, timeout=budget, env=ctx.env, cwd=ctx.workdir)
    except OSError as exc:
        raise StepFailure(f"cannot start {argv[0]!r}: {exc}") from exc
    if result.timed_out:
        raise StepTimeout(f"{shown!r} timed out after {budget:.0f}s", budget=budget)
    expected = int(options.get("expect_exit", 0))
    if result.exit_code != expected:
        tail = result.tail(REASON_TAIL_LINES)
        raise StepFailure(
            f"{shown!r} exited with code {result.exit_code}, expected {expected}"
            + (f": {tail}" if tail else "")
        )
    missing = check_output_contains(result.output, list(options.get("output_contains") or []))
    if missing is not None:
        raise StepFailure(_missing_output(f"output of {shown!r}", missing, result))


def _test(ctx: StepContext, options: Mapping[str, Any], budget: float) -> None:
    logs = bool(options.get("logs", True))
    if logs and "containers" not in ctx.helm.cluster.capabilities:
        # Without running containers there are no logs, and `helm test --logs` fails on that.
        write_log_line(ctx.log, "helm test without --logs: this cluster runs no containers")
        logs = False
    result = ctx.helm.test(ctx.release, ctx.namespace, logs=logs, timeout=budget,
                           tick=ctx.quota.check)
    if result.timed_out:
        raise StepTimeout(f"helm test timed out after {budget:.0f}s", budget=budget)
    if not result.ok:
        ctx.quota.check()
        raise StepFailure(_command_failure("helm test", result))


def _uninstall(ctx: StepContext, options: Mapping[str, Any], budget: float) -> None:
    result = ctx.helm.uninstall(ctx.release, ctx.namespace, wait=bool(options.get("wait", True)),
                                timeout=budget)
    if result.timed_out:
        raise StepTimeout(f"helm uninstall timed out after {budget:.0f}s", budget=budget)
    if not result.ok:
        raise StepFailure(_command_failure("helm uninstall", result))
    ctx.installed = False


_RUNNERS: dict[str, Callable[[StepContext, Mapping[str, Any], float], None]] = {
    "install": _install,
    "wait": _wait,
    "assert": _assert,
    "run": _run,
    "test": _test,
    "uninstall": _uninstall,
}


def run_step(ctx: StepContext, step: Step, *, budget: float) -> None:
    """Run `step` within `budget` seconds; raise `StepFailure` (or a subclass) when it fails."""
    runner = _RUNNERS.get(step.kind)
    if runner is None:
        raise StepFailure(f"unknown step kind {step.kind!r}")
    if budget <= 0:
        raise StepTimeout("no time left before the scenario timeout", budget=0.0)
    try:
        runner(ctx, step.options, budget)
    except KubeApiError as exc:
        raise StepApiError(f"API error: {exc}") from exc
