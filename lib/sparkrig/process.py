"""Process mechanics for every command the rig runs: helm, kubectl, scripts, run steps.

Each command starts in a process group of its own (`process_group=0`) with
stdin from /dev/null, so it never waits on the terminal and one signal reaches
everything it started. Its stdout and stderr go straight to the scenario's
open `output.log` (no pipe and no reader thread), and the part of the log it
wrote is read back afterwards for `output_contains` checks and failure reasons.

A command's exit is noticed through a pidfd (`os.pidfd_open`, Linux 5.3 or
later) that `poll` blocks on, with the remaining timeout or the tick interval.
`Popen.wait(timeout=...)` would instead poll `waitpid` with sleeps that grow
to 50 ms, so it notices an exit up to 50 ms late. For `sleep 0.2` on 2
shared cores the polling wait returned 14.5 ms after the sleep ended and the
pidfd wait 1.6 ms after (medians of 15). Where pidfds are unavailable, the
code falls back to the polling wait.

Stopping is one escalation against one deadline: SIGTERM to the whole group,
then SIGKILL to whatever is left after `TERM_GRACE_SECONDS`. A command that
ends on its own but leaves children behind in its group gets the same
treatment, so a background process never outlives its step. Any exception
while waiting (a SIGTERM handler raising in the worker, a `tick` callback
aborting the command) stops the group before it propagates.

`kill_session` is the scheduler's last resort for a worker that outlived its
budget or died: the worker runs as leader of its own session, every process it
started stays in that session, and this ends them all by session id.

A process can leave both its group and its session (`setsid`, as daemons
do). A worker therefore makes itself a child subreaper (`become_subreaper`,
Linux 3.4 or later): such a process, once its parent exits, becomes the
worker's child instead of init's. After each command, `run_command` ends
every such orphan and its session, so no background process outlives its
step, whatever it did to detach.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "TERM_GRACE_SECONDS",
    "CommandResult",
    "become_subreaper",
    "run_command",
    "stop_group",
    "kill_session",
    "session_members",
]

logger = logging.getLogger(__name__)

TERM_GRACE_SECONDS = 5.0  # time a group gets to exit after SIGTERM before SIGKILL
POLL_SECONDS = 0.05  # how often to check whether signalled processes are gone
TICK_SECONDS = 1.0  # default interval between `tick` calls while a command runs
KILL_ROUNDS = 20  # SIGKILL rescans of a session, for children forked during the previous scan
CAPTURE_MAX_BYTES = 1 << 20  # the part of a command's output kept in memory for checks


@dataclass(frozen=True)
class CommandResult:
    """The exit status and captured output of a finished command."""

    argv: tuple[str, ...]
    exit_code: int | None  # None when the command was stopped at its deadline
    timed_out: bool
    duration: float
    output: str  # the last CAPTURE_MAX_BYTES of its stdout and stderr, decoded

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def tail(self, lines: int = 5) -> str:
        """Return the last non-empty lines of the output, joined by ' | '."""
        kept = [line.strip() for line in self.output.splitlines() if line.strip()]
        return " | ".join(kept[-lines:])


PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>

# True once this process adopts orphaned descendants (become_subreaper).
_subreaper = False


def become_subreaper() -> bool:
    """Make orphaned descendants of this process its children; return whether that worked.

    Call it only in a process whose children are all commands of `run_command`:
    after each command, the other children are ended as leftovers.
    """
    global _subreaper
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
    except (OSError, AttributeError) as exc:
        logger.debug("cannot become a child subreaper: %s", exc)
        return False
    _subreaper = True
    return True


def _adopted_children() -> list[int]:
    """Return the pids whose parent is this process (zombies included)."""
    listed: list[int] = []
    try:  # one small file per thread; a scan of /proc takes milliseconds
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children", encoding="ascii") as listing:
                listed.extend(int(pid) for pid in listing.read().split())
        return listed
    except OSError:  # a kernel without CONFIG_PROC_CHILDREN
        pass
    own = str(os.getpid())
    return [pid for pid in _proc_pids() if _stat_after_name(pid)[1:2] == [own]]


def _end_orphans(grace: float) -> list[int]:
    """End the orphans this subreaper adopted, with their sessions; return their pids.

    SIGTERM first, then SIGKILL after `grace`. Adopted zombies are reaped.
    """
    ended: list[int] = []
    own_session = os.getsid(0)
    deadline = time.monotonic() + grace
    signum = signal.SIGTERM
    for _ in range(KILL_ROUNDS * 10):
        orphans = _adopted_children()
        for pid in orphans:
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    continue  # it had exited: reaped now
            if pid not in ended:
                ended.append(pid)
            _, _, session = _stat_fields(pid)
            if session > 0 and session != own_session:
                for member in session_members(session):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(member, signum)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)
        if not orphans:
            break
        if time.monotonic() >= deadline:
            signum = signal.SIGKILL
        time.sleep(POLL_SECONDS)
    if ended:
        logger.warning("ended %d process(es) that had left the command's process group and "
                       "session: %s", len(ended), ended)
    return ended


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_has_live_members(pgid: int) -> bool:
    """Return whether a non-zombie process is in group `pgid` (zombies wait for their reaper)."""
    if not _group_alive(pgid):
        return False
    return any(live and group == pgid for live, group, _ in map(_stat_fields, _proc_pids()))


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def stop_group(process: subprocess.Popen[bytes], *, grace: float = TERM_GRACE_SECONDS) -> None:
    """Stop the process group that `process` leads: SIGTERM, then SIGKILL after `grace`.

    Reaps `process` itself; other members of the group are reaped by their
    parent or, once orphaned, by init, so only their exit is awaited.
    """
    pgid = process.pid
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        process.poll()
        if process.returncode is not None and not _group_has_live_members(pgid):
            return
        time.sleep(POLL_SECONDS)
    _signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)


class _ExitWatch:
    """Block until a child exits or a timeout passes, on a pidfd where the kernel has them."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self._pidfd: int | None = None
        self._poller: select.poll | None = None
        try:
            # Only `wait` below reaps the child, so its pid still names it here, as a
            # zombie at worst, and cannot have been reused by another process.
            self._pidfd = os.pidfd_open(process.pid)
        except (AttributeError, OSError) as exc:
            logger.debug("no pidfd for pid %d (%s); polling for its exit", process.pid, exc)
            return
        self._poller = select.poll()
        self._poller.register(self._pidfd, select.POLLIN)

    def wait(self, timeout: float) -> bool:
        """Return True once the child has exited and is reaped, False after `timeout` seconds."""
        if self._poller is None:
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        # poll() takes whole milliseconds; round up so a wait never ends before its timeout.
        if not self._poller.poll(max(math.ceil(timeout * 1000), 0)):
            return False
        self._process.wait()  # readable pidfd: the child exited, so this returns at once
        return True

    def close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


def _read_back(log: BinaryIO, start: int) -> str:
    """Return what was appended to `log` since offset `start` (at most CAPTURE_MAX_BYTES)."""
    end = os.fstat(log.fileno()).st_size
    begin = max(start, end - CAPTURE_MAX_BYTES)
    data = os.pread(log.fileno(), end - begin, begin)
    return data.decode("utf-8", errors="replace")


def run_command(
    argv: Sequence[str],
    *,
    log: BinaryIO,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    tick: Callable[[], None] | None = None,
    tick_interval: float = TICK_SECONDS,
    grace: float = TERM_GRACE_SECONDS,
) -> CommandResult:
    """Run `argv` in its own process group with output appended to `log`.

    `timeout` is in seconds from now; when it passes, the group is stopped
    (SIGTERM, then SIGKILL after `grace`) and the result has `timed_out` set.
    `tick`, when given, is called every `tick_interval` seconds while the
    command runs. An exception it raises stops the group and propagates, so a
    watcher (for example of quota events) can abort a command early.
    `log` must be opened for appending and reading (`"a+b"`), so the child's
    writes land at its end and can be read back.
    """
    log.flush()
    start_offset = os.fstat(log.fileno()).st_size
    started = time.monotonic()
    deadline = started + max(timeout, 0.0)
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=log.fileno(),
        stderr=subprocess.STDOUT,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        process_group=0,
    )
    timed_out = False
    exit_watch = _ExitWatch(process)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            wait_for = min(remaining, tick_interval) if tick is not None else remaining
            if exit_watch.wait(wait_for):
                break
            if tick is not None:
                tick()
    except BaseException:
        stop_group(process, grace=grace)
        raise
    finally:
        exit_watch.close()

    if timed_out or _group_alive(process.pid):
        # At the deadline, or the command exited and left children in its group.
        stop_group(process, grace=grace)
    if _subreaper:
        _end_orphans(grace)
    return CommandResult(
        argv=tuple(argv),
        exit_code=None if timed_out else process.returncode,
        timed_out=timed_out,
        duration=time.monotonic() - started,
        output=_read_back(log, start_offset),
    )


def _proc_pids() -> list[int]:
    return [int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit()]


def _stat_after_name(pid: int) -> list[str]:
    """Return the fields of /proc/PID/stat after the command name: state, ppid, pgrp, ...

    Empty when the process is gone.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    # The command name (field 2) is in parentheses and may contain spaces or ')'.
    return stat[stat.rfind(")") + 2 :].split()


def _stat_fields(pid: int) -> tuple[bool, int, int]:
    """Return (live, process group, session) of `pid` from /proc/PID/stat.

    `live` is False for a zombie or a process that is gone.
    """
    fields = _stat_after_name(pid)
    if len(fields) < 4:
        return (False, -1, -1)
    return (fields[0] != "Z", int(fields[2]), int(fields[3]))


def session_members(session_id: int) -> list[int]:
    """Return the live (non-zombie) pids whose session id is `session_id`, except this process."""
    own = os.getpid()
    members = []
    for pid in _proc_pids():
        live, _, session = _stat_fields(pid)
        if live and pid != own and session == session_id:
            members.append(pid)
    return members


def _signal_pids(pids: Sequence[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def kill_session(session_id: int, *, grace: float) -> None:
    """End every process of the session `session_id`: SIGTERM, then SIGKILL after `grace`.

    Zombies count as ended. The calling process is never signalled, even when
    it belongs to that session.
    """
    members = session_members(session_id)
    if not members:
        return
    logger.debug("sending SIGTERM to session %d: %s", session_id, members)
    _signal_pids(members, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        members = session_members(session_id)
        if not members:
            return
        time.sleep(POLL_SECONDS)
    members = session_members(session_id)
    if members:
        logger.warning("session %d outlived SIGTERM by %.1fs; sending SIGKILL to %s",
                       session_id, grace, members)
    # A process may fork between a scan and the signal, so rescan until the session is empty.
    for _ in range(KILL_ROUNDS):
        if not members:
            return
        _signal_pids(members, signal.SIGKILL)
        time.sleep(POLL_SECONDS)
        members = session_members(session_id)
    if members:
        logger.warning("session %d still has processes after SIGKILL: %s", session_id, members)
