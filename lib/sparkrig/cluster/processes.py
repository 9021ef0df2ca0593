"""Detached component processes, tracked by pid files in the state folder.

`cluster up` returns while the control plane keeps running, so every component
starts in a session of its own (it leads its own process group and gets no
terminal signals), with stdin from /dev/null and stdout and stderr appended to
`logs/<component>.log`. The pid file `pids/<component>.pid` contains the pid and
the binary's path. Before a signal is sent, the process's /proc entry must
still run that binary, so a stale pid file never stops an unrelated process
that got the same pid later. Stopping sends SIGTERM to the component's whole
process group, then SIGKILL to whatever is left at one shared deadline.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Component", "start_detached", "read_pid_file", "is_running", "stop_components"]

logger = logging.getLogger(__name__)

# Components flush and exit within a few seconds of SIGTERM; etcd and the API
# server may take longer while they close their stores.
STOP_GRACE_SECONDS = 15.0
# After SIGKILL the kernel frees a process within milliseconds unless it is stuck in I/O.
KILL_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Component:
    """A running (or recorded) component: its name, pid and binary path."""

    name: str
    pid: int
    binary: str


def start_detached(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    pid_path: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> Component:
    """Start `argv` in a new session with its output appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pid_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    binary = os.path.realpath(argv[0])
    pid_path.write_text(f"{process.pid}\n{binary}\n", encoding="utf-8")
    logger.info("started %s as pid %d, log %s", name, process.pid, log_path)
    return Component(name=name, pid=process.pid, binary=binary)


def read_pid_file(name: str, pid_path: Path) -> Component | None:
    """Return the component recorded in `pid_path`, or None if the file is missing or invalid."""
    try:
        lines = pid_path.read_text(encoding="utf-8").splitlines()
        return Component(name=name, pid=int(lines[0]), binary=lines[1])
    except (OSError, ValueError, IndexError):
        return None


def _reap(pid: int) -> None:
    # A component started by this very process (the pytest fixture) stays a
    # zombie until it is waited for; other components belong to init.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def is_running(component: Component) -> bool:
    """Return whether the pid is alive, not a zombie, and still runs the recorded binary."""
    _reap(component.pid)
    proc = Path("/proc") / str(component.pid)
    try:
        stat = (proc / "stat").read_text(encoding="utf-8")
        exe = os.readlink(proc / "exe")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    if state in ("Z", "X"):
        return False
    # The kernel appends " (deleted)" when the binary file was replaced after the start.
    return exe.removesuffix(" (deleted)") == component.binary


def _signal_group(component: Component, sig: signal.Signals) -> None:
    try:
        os.killpg(component.pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError as exc:
        logger.warning("cannot send %s to %s (pid %d): %s", sig.name, component.name,
                       component.pid, exc)


def stop_components(
    components: Sequence[Component], *, grace_seconds: float = STOP_GRACE_SECONDS
) -> list[Component]:
    """Stop the components' process groups; return the ones that needed SIGKILL."""
    live = [component for component in components if is_running(component)]
    for component in live:
        logger.info("stopping %s (pid %d)", component.name, component.pid)
        _signal_group(component, signal.SIGTERM)

    deadline = time.monotonic() + grace_seconds
    while live and time.monotonic() < deadline:
        live = [component for component in live if is_running(component)]
        if live:
            time.sleep(POLL_SECONDS)

    for component in live:
        logger.warning("%s (pid %d) ignored SIGTERM for %.0f s; sending SIGKILL",
                       component.name, component.pid, grace_seconds)
        _signal_group(component, signal.SIGKILL)
    kill_deadline = time.monotonic() + KILL_WAIT_SECONDS
    while any(is_running(component) for component in live):
        if time.monotonic() > kill_deadline:
            # NOTE: only a process stuck in the kernel (state D) outlives SIGKILL this long.
            logger.error("still running after SIGKILL: %s",
                         ", ".join(f"{c.name} (pid {c.pid})" for c in live if is_running(c)))
            break
        time.sleep(POLL_SECONDS)
    return live
