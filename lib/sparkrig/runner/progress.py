"""Live progress of a run: a rich display on a terminal, plain lines elsewhere.

Progress is status output for the person or CI log watching the run, so it
goes to stdout and never through `logging` (which goes to stderr). On a
terminal, `LiveProgress` shows the counts (running, passed, failed, left) and
the running scenarios with their elapsed time, refreshed by the runner's loop
(no refresh thread: the runner forks workers, and a fork while another thread
holds a lock can deadlock the child). Elsewhere, `PlainProgress` prints one
timestamped line per start and per end with the status, duration and reason.
rich is imported only by `LiveProgress`, so a run off a terminal does not pay
its import (about 20 ms).

`GuardedProgress` wraps either one for the runner: a display that cannot be
written (stdout closed, as in `sparkrig run | head -3`) is switched off, and
the run goes on and writes its results as usual.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, TextIO

from sparkrig.results import RunResult, ScenarioResult, Status
from sparkrig.scenario.quantities import format_duration

if TYPE_CHECKING:
    from rich.console import Console, Group

__all__ = [
    "Progress",
    "PlainProgress",
    "LiveProgress",
    "GuardedProgress",
    "make_progress",
    "summary_line",
    "status_text",
    "plural",
]

logger = logging.getLogger(__name__)

LIVE_REFRESH_SECONDS = 0.5  # elapsed times on the terminal move at this step
MAX_RUNNING_ROWS = 20

_STYLES = {
    Status.PASSED: "green",
    Status.FAILED: "red",
    Status.ERROR: "red",
    Status.TIMED_OUT: "red",
    Status.INTERRUPTED: "yellow",
    Status.SKIPPED: "dim",
}


class Progress(Protocol):
    def start_run(self, run_id: str, total: int) -> None: ...

    def started(self, name: str, attempt: int) -> None: ...

    def ended(self, result: ScenarioResult, *, retrying: bool = False) -> None: ...

    def note(self, message: str) -> None: ...

    def refresh_interval(self) -> float | None:
        """Seconds until the display wants `refresh`, or None when it never does."""
        ...

    def refresh(self) -> None: ...

    def close(self, run: RunResult, run_dir: str) -> None: ...


def summary_line(run: RunResult) -> str:
    """Count the run's results by status, in a fixed order."""
    counts: dict[str, int] = {}
    for result in run.scenarios:
        counts[str(result.status)] = counts.get(str(result.status), 0) + 1
    parts = [
        f"{counts[str(status)]} {status_text(status)}" for status in Status if str(status) in counts
    ]
    return ", ".join(parts) or "no scenarios"


def status_text(status: Status) -> str:
    """Return a status as the reports write it: `timed out`, not `timed_out`."""
    return str(status).replace("_", " ")


def plural(count: int, noun: str) -> str:
    """Return `1 scenario` or `2 scenarios`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _end_text(result: ScenarioResult, retrying: bool) -> str:
    text = f"{status_text(result.status)} {result.name} {format_duration(result.duration)}"
    if result.flaky:
        text += " (flaky: passed after a retry)"
    if result.reason and result.status != Status.PASSED:
        text += f": {result.reason}"
    if retrying:
        text += " (retrying in fresh names)"
    return text


class PlainProgress:
    """Timestamped lines, one per start and per end, for logs and pipes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def _line(self, text: str) -> None:
        self.stream.write(f"{_timestamp()} {text}\n")
        self.stream.flush()

    def start_run(self, run_id: str, total: int) -> None:
        self._line(f"run {run_id}: {plural(total, 'scenario')}")

    def started(self, name: str, attempt: int) -> None:
        self._line(f"start {name}" + (f" (attempt {attempt})" if attempt > 1 else ""))

    def ended(self, result: ScenarioResult, *, retrying: bool = False) -> None:
        self._line(_end_text(result, retrying))

    def note(self, message: str) -> None:
        self._line(message)

    def refresh_interval(self) -> float | None:
        return None

    def refresh(self) -> None:
        pass

    def close(self, run: RunResult, run_dir: str) -> None:
        self._line(f"run {run.run_id}: {summary_line(run)}; results in {run_dir}")


class LiveProgress:
    """A rich live display for a terminal, refreshed by the runner's loop."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = console or Console()
        self.running: dict[str, tuple[float, int]] = {}  # name -> (start, attempt)
        self.counts = {"passed": 0, "failed": 0, "other": 0}
        self.total = 0
        self.run_id = ""
        self.live = Live(console=self.console, auto_refresh=False, transient=True)
        self._next_refresh = 0.0

    def _render(self) -> Group:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        done = sum(self.counts.values())
        left = self.total - done - len(self.running)
        header = Text.assemble(
            (f"run {self.run_id}  ", "bold"),
            (f"running {len(self.running)}  ", "cyan"),
            (f"passed {self.counts['passed']}  ", "green"),
            (f"failed {self.counts['failed']}  ", "red"),
            (f"other {self.counts['other']}  ", "yellow"),
            (f"left {left}", "bold"),
        )
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column("scenario")
        table.add_column("elapsed", justify="right")
        now = time.monotonic()
        running = sorted(self.running.items(), key=lambda item: item[1][0])
        for name, (started, attempt) in running[:MAX_RUNNING_ROWS]:
            label = name if attempt == 1 else f"{name} (attempt {attempt})"
            table.add_row(label, format_duration(now - started))
        if len(running) > MAX_RUNNING_ROWS:
            table.add_row(f"... and {len(running) - MAX_RUNNING_ROWS} more", "")
        return Group(header, table)

    def start_run(self, run_id: str, total: int) -> None:
        self.run_id = run_id
        self.total = total
        self.live.start()
        self.refresh()

    def started(self, name: str, attempt: int) -> None:
        self.running[name] = (time.monotonic(), attempt)
        self.refresh()

    def ended(self, result: ScenarioResult, *, retrying: bool = False) -> None:
        from rich.text import Text

        self.running.pop(result.name, None)
        if not retrying:
            if result.status == Status.PASSED:
                self.counts["passed"] += 1
            elif result.status in (Status.FAILED, Status.ERROR, Status.TIMED_OUT):
                self.counts["failed"] += 1
            else:
                self.counts["other"] += 1
        style = _STYLES.get(result.status, "")
        self.console.print(Text(_end_text(result, retrying), style=style))
        self.refresh()

    def note(self, message: str) -> None:
        from rich.text import Text

        self.console.print(Text(message, style="bold yellow"))
        self.refresh()

    def refresh_interval(self) -> float | None:
        return max(0.0, self._next_refresh - time.monotonic())

    def refresh(self) -> None:
        self.live.update(self._render(), refresh=True)
        self._next_refresh = time.monotonic() + LIVE_REFRESH_SECONDS

    def close(self, run: RunResult, run_dir: str) -> None:
        self.live.stop()
        self.console.print(
            f"run {run.run_id}: {summary_line(run)}; results in {run_dir}", highlight=False
        )


def make_progress() -> Progress:
    """Pick the live display on a terminal and plain lines otherwise."""
    if sys.stdout.isatty():
        return LiveProgress()
    return PlainProgress()


class GuardedProgress:
    """A `Progress` that switches itself off at the first write that fails.

    Writing to a closed pipe raises BrokenPipeError (Python ignores SIGPIPE),
    and writing to a closed file object raises ValueError. Either is logged
    once at debug level; later calls do nothing. When stdout itself is broken,
    its descriptor is pointed at /dev/null, so the interpreter's flush at exit
    does not fail either.
    """

    def __init__(self, inner: Progress) -> None:
        self.inner = inner
        self.enabled = True

    def _switch_off(self, exc: Exception) -> None:
        self.enabled = False
        logger.debug("progress output failed (%s: %s); switching progress off",
                      type(exc).__name__, exc)
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)

    def start_run(self, run_id: str, total: int) -> None:
        if self.enabled:
            try:
                self.inner.start_run(run_id, total)
            except (OSError, ValueError) as exc:
                self._switch_off(exc)

    def started(self, name: str, attempt: int) -> None:
        if self.enabled:
            try:
                self.inner.started(name, attempt)
            except (OSError, ValueError) as exc:
                self._switch_off(exc)

    def ended(self, result: ScenarioResult, *, retrying: bool = False) -> None:
        if self.enabled:
            try:
                self.inner.ended(result, retrying=retrying)
            except (OSError, ValueError) as exc:
                self._switch_off(exc)

    def note(self, message: str) -> None:
        if self.enabled:
            try:
                self.inner.note(message)
            except (OSError, ValueError) as exc:
                self._switch_off(exc)

    def refresh_interval(self) -> float | None:
        return self.inner.refresh_interval() if self.enabled else None

    def refresh(self) -> None:
        if self.enabled:
            try:
                self.inner.refresh()
            except (OSError, ValueError) as exc:
                self._switch_off(exc)

    def close(self, run: RunResult, run_dir: str) -> None:
        if self.enabled:
            try:
                self.inner.close(run, run_dir)
            except (OSError, ValueError) as exc:
                self._switch_off(exc)
