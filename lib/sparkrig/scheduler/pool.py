"""Forked worker processes, one per attempt, watched through one pipe each.

`WorkerPool.start` forks. The child becomes the leader of a new session
(`os.setsid`), so every process it starts can be found and ended by session id
(`sparkrig.process.kill_session`) and a Ctrl-C on the terminal reaches only the
parent. It resets the parent's signal handling, runs the target, writes the
pickled return value to its pipe and leaves with `os._exit`, skipping the
parent's atexit handlers and buffered output.

Forking a parent that has imported the whole rig takes milliseconds, and a
fork done when a slot frees delays that scenario's start by as much. So the
runner can keep *spare* workers: `start_spare` forks a worker that waits on a
command pipe, and the fork happens while the parent is otherwise idle. The
spare's `serve` function reads its commands from an iterator: `send` passes
one and keeps the pipe open (the runner has the spare prepare a scenario's
files before its slot frees), `assign` passes the last one and closes the
pipe, and the spare becomes an ordinary worker. A spare that is released
(`release_spares`) sees its iterator end and exits without a payload.

The parent never polls. `wait` blocks in one `selectors` call on the read end
of every worker's pipe and on any extra descriptors (the runner's signal
wake-up pipe). It returns when data arrives, when a pipe reaches end-of-file
(the worker exited or died) or when the timeout passes. The payload and the
exit status (`os.waitpid`) together tell a worker that returned from one that
was killed.

A target may call `send_result` to send its return value early and close the
pipe, then go on with work that the parent need not wait for (the runner
writes the scenario's result file there). The parent takes that end-of-file
as the worker's end at once and reaps the process later without blocking:
`wait` collects such exited workers, and `close` waits for the rest, so no
worker outlives the pool. This frees the slot sooner than waiting for the
exit (1.7 ms median in the overhead benchmark), because the kernel closes a
process's pipes only after it has torn down its memory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import selectors
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkrig.process import become_subreaper

__all__ = ["Worker", "Finished", "WorkerPool", "send_result"]

logger = logging.getLogger(__name__)

READ_CHUNK = 65536
FRAME_HEADER_BYTES = 4  # a command on a spare's pipe: its length (big-endian), then the pickle
# Exit code of a worker whose target raised: the payload is missing.
TARGET_FAILED_EXIT = 70
# How long `close` waits for workers that sent their result early to exit.
EXITING_WAIT_SECONDS = 10.0
EXITING_POLL_SECONDS = 0.001

# In a worker: the write end of its result pipe until the result is sent. None in the parent.
_result_fd: int | None = None
# In a worker: the file its stdout and stderr go to, removed at exit when empty.
_log_path: Path | None = None


@dataclass(eq=False)
class Worker:
    """One forked worker process and what the parent tracks about it."""

    pid: int
    key: str
    fd: int
    started: float  # time.monotonic() at fork
    data: dict[str, Any] = field(default_factory=dict)  # the runner's bookkeeping
    buffer: bytearray = field(default_factory=bytearray)

    @property
    def session_id(self) -> int:
        return self.pid  # the worker called setsid(), so it leads a session named by its pid


@dataclass(frozen=True)
class Finished:
    """A worker that exited: its return value (if it sent one) and how it ended."""

    worker: Worker
    payload: Any
    # Both None when the worker sent its result early (`send_result`) and is still exiting.
    exit_code: int | None  # set when the worker exited
    signal: int | None  # set when a signal ended it

    @property
    def has_payload(self) -> bool:
        return self.payload is not None

    @property
    def exiting(self) -> bool:
        """True when the worker sent its result early and had not exited when it was read."""
        return self.exit_code is None and self.signal is None


class WorkerPool:
    """Fork workers and wait for them to end; the caller bounds how many run."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._workers: dict[int, Worker] = {}  # by read fd
        self._extra_fds: set[int] = set()
        self._child_close: set[int] = set()
        self._commands: dict[int, int] = {}  # spare worker pid -> write end of its command pipe
        self._exiting: dict[int, str] = {}  # pid -> key of workers that sent early, not yet reaped

    def __len__(self) -> int:
        return len(self._workers)

    @property
    def workers(self) -> list[Worker]:
        return list(self._workers.values())

    def add_reader(self, fd: int, *, close_in_child: tuple[int, ...] = ()) -> None:
        """Also wake `wait` when `fd` becomes readable (the caller drains it).

        Workers close `fd` and the descriptors in `close_in_child` after the fork.
        """
        self._extra_fds.add(fd)
        self._child_close.update(close_in_child)
        self._selector.register(fd, selectors.EVENT_READ)

    def start(self, key: str, target: Callable[[], Any], *, log_path: Path | None = None) -> Worker:
        """Fork a worker that runs `target()` and sends back its return value.

        `log_path` receives the worker's own stdout and stderr (not those of the
        commands it runs, which go where the target sends them).
        """
        # Flush first, or the child would write the parent's buffered output again.
        sys.stdout.flush()
        sys.stderr.flush()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            self._run_child(write_fd, target, log_path)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        worker = Worker(pid=pid, key=key, fd=read_fd, started=time.monotonic())
        self._workers[read_fd] = worker
        self._selector.register(read_fd, selectors.EVENT_READ)
        logger.debug("started worker %d for %s", pid, key)
        return worker

    @property
    def spares(self) -> list[Worker]:
        return [worker for worker in self._workers.values() if worker.pid in self._commands]

    def start_spare(self, serve: Callable[[Iterator[Any]], Any], *,
                    log_path: Path | None = None) -> Worker:
        """Fork a worker that returns `serve(commands)`.

        `commands` yields what `send` and `assign` pass, in order, and ends after
        the assigned command or when the spare is released. `log_path`, when
        given, receives the spare's stdout and stderr until a command moves them.
        """
        command_read, command_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            os.close(command_write)
            self._run_child(write_fd, serve, log_path, command_fd=command_read)
        os.close(write_fd)
        os.close(command_read)
        os.set_blocking(read_fd, False)
        worker = Worker(pid=pid, key="spare", fd=read_fd, started=time.monotonic())
        self._workers[read_fd] = worker
        self._commands[pid] = command_write
        self._selector.register(read_fd, selectors.EVENT_READ)
        return worker

    def send(self, worker: Worker, command: Any, *, log_path: Path | None = None) -> None:
        """Pass a spare one command and keep it a spare.

        With `log_path`, the spare's stdout and stderr go there from now on.
        """
        message = pickle.dumps((log_path, command), protocol=pickle.HIGHEST_PROTOCOL)
        _write_all(self._commands[worker.pid],
                   len(message).to_bytes(FRAME_HEADER_BYTES, "big") + message)

    def assign(self, worker: Worker, key: str, command: Any, *,
               log_path: Path | None = None) -> None:
        """Pass a spare its last command: it is now the worker of `key`."""
        try:
            self.send(worker, command, log_path=log_path)
        finally:
            os.close(self._commands.pop(worker.pid))
        worker.key = key
        worker.started = time.monotonic()
        logger.debug("assigned %s to worker %d", key, worker.pid)

    def release(self, worker: Worker) -> None:
        """Close one spare's command pipe, so it exits; it is no spare from now on."""
        command_fd = self._commands.pop(worker.pid, None)
        if command_fd is not None:
            os.close(command_fd)

    def release_spares(self) -> None:
        """Close the command pipes of unassigned spares, so they exit."""
        for command_fd in self._commands.values():
            os.close(command_fd)
        self._commands.clear()

    def _run_child(
        self,
        write_fd: int,
        target: Callable[..., Any],
        log_path: Path | None,
        *,
        command_fd: int | None = None,
    ) -> None:
        global _result_fd
        code = 0
        try:
            _result_fd = write_fd
            os.setsid()
            # Processes that leave the session too (setsid) come back to the worker when
            # orphaned, so run_command can end them after each command.
            become_subreaper()
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
                signal.signal(signum, signal.SIG_DFL)
            self._selector.close()
            inherited = [*self._workers, *self._extra_fds, *self._child_close]
            for fd in [*inherited, *self._commands.values()]:
                os.close(fd)
            _redirect_stdio(log_path)
            result = target() if command_fd is None else target(_read_commands(command_fd))
            if _result_fd is not None:  # the target did not call send_result
                _write_all(_result_fd, pickle.dumps((False, result),
                                                    protocol=pickle.HIGHEST_PROTOCOL))
        except BaseException:  # noqa: BLE001 - the child must reach os._exit whatever happens
            # Straight to fd 2 (the worker log): logging handlers may point elsewhere.
            message = f"worker {os.getpid()} failed:\n{traceback.format_exc()}"
            with contextlib.suppress(OSError):
                os.write(2, message.encode("utf-8", "replace"))
            code = TARGET_FAILED_EXIT
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            # The parent cannot remove an empty log of a worker that is still exiting.
            _remove_empty_log()
            os._exit(code)

    def wait(self, timeout: float | None) -> tuple[list[Finished], bool]:
        """Block until a worker ends, an extra fd is readable, or `timeout` seconds pass.

        Returns the finished workers and whether an extra fd woke the call.
        """
        self._reap_exiting()
        if not self._workers and not self._extra_fds:
            return [], False
        finished: list[Finished] = []
        woken = False
        for key, _ in self._selector.select(timeout):
            fd = key.fd
            if isinstance(fd, int) and fd in self._extra_fds:
                woken = True
                continue
            worker = self._workers[fd]
            if self._read(worker):
                finished.append(self._reap(worker))
        return finished, woken

    def _read(self, worker: Worker) -> bool:
        """Read what the worker sent; return True at end-of-file."""
        while True:
            try:
                chunk = os.read(worker.fd, READ_CHUNK)
            except BlockingIOError:
                return False
            if not chunk:
                return True
            worker.buffer.extend(chunk)

    def _reap(self, worker: Worker) -> Finished:
        self._selector.unregister(worker.fd)
        del self._workers[worker.fd]
        os.close(worker.fd)
        command_fd = self._commands.pop(worker.pid, None)
        if command_fd is not None:  # a spare that died before its assignment
            os.close(command_fd)
        payload = None
        early = False
        if worker.buffer:
            try:
                early, payload = pickle.loads(bytes(worker.buffer))
            except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
                logger.error("worker %d of %s sent an unreadable result: %s", worker.pid,
                             worker.key, exc)
        if early:
            # The worker closed the pipe before exiting: reap it later instead of blocking.
            pid, status = os.waitpid(worker.pid, os.WNOHANG)
            if pid == 0:
                self._exiting[worker.pid] = worker.key
                logger.debug("worker %d for %s sent its result; still exiting", worker.pid,
                             worker.key)
                return Finished(worker=worker, payload=payload, exit_code=None, signal=None)
        else:
            _, status = os.waitpid(worker.pid, 0)
        exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        logger.debug("worker %d for %s ended (exit %s, signal %s)", worker.pid, worker.key,
                     exit_code, signum)
        return Finished(worker=worker, payload=payload, exit_code=exit_code, signal=signum)

    def signal(self, worker: Worker, signum: int) -> None:
        try:
            os.kill(worker.pid, signum)
        except ProcessLookupError:
            logger.debug("worker %d already gone", worker.pid)

    def _reap_exiting(self, *, wait_seconds: float = 0.0) -> None:
        """Reap workers that sent their result early, waiting up to `wait_seconds` for them."""
        deadline = time.monotonic() + wait_seconds
        while self._exiting:
            for pid in list(self._exiting):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    key = self._exiting.pop(pid)
                    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
                        logger.warning("worker %d for %s ended with status %#x after sending "
                                       "its result; see its worker.log", pid, key, status)
            if not self._exiting or time.monotonic() >= deadline:
                return
            time.sleep(EXITING_POLL_SECONDS)

    def close(self) -> None:
        """Release the spares and wait for workers that are still exiting."""
        self.release_spares()
        self._reap_exiting(wait_seconds=EXITING_WAIT_SECONDS)
        for pid, key in self._exiting.items():
            logger.warning("worker %d for %s has not exited %.0fs after sending its result",
                           pid, key, EXITING_WAIT_SECONDS)
        self._selector.close()


def send_result(value: Any) -> None:
    """Send this worker's result to the parent now and close the pipe.

    Call it from a worker's target. The parent records the worker as finished
    and frees its slot, while the target goes on (for example writing files);
    its return value is then ignored. A second call, or a call outside a
    worker, raises RuntimeError.
    """
    global _result_fd
    if _result_fd is None:
        raise RuntimeError("send_result: not in a worker, or the result was already sent")
    fd, _result_fd = _result_fd, None
    _write_all(fd, pickle.dumps((True, value), protocol=pickle.HIGHEST_PROTOCOL))
    os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytes:
    """Read `size` bytes from a blocking pipe; fewer only at end-of-file."""
    chunks = []
    while size:
        chunk = os.read(fd, min(size, READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_commands(fd: int) -> Iterator[Any]:
    """Yield a spare's commands from its pipe until the parent closes it, then close `fd`."""
    try:
        while header := _read_exactly(fd, FRAME_HEADER_BYTES):
            size = int.from_bytes(header, "big")
            message = _read_exactly(fd, size)
            if len(header) < FRAME_HEADER_BYTES or len(message) < size:
                raise EOFError(f"command pipe closed inside a command ({len(message)} of "
                               f"{size} bytes)")
            log_path, command = pickle.loads(message)
            if log_path is not None and log_path != _log_path:
                _remove_empty_log()
                _redirect_stdio(log_path)
            yield command
    finally:
        os.close(fd)


def _remove_empty_log() -> None:
    """Remove this worker's log file when nothing was written to it."""
    if _log_path is None:
        return
    with contextlib.suppress(OSError):
        if os.fstat(2).st_size == 0:
            _log_path.unlink()


def _redirect_stdio(log_path: Path | None) -> None:
    """Point the worker's stdin at /dev/null and, with `log_path`, its stdout/stderr there."""
    global _log_path
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if log_path is None:
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    _log_path = log_path
