"""Commands run in their own process group and stop as a group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from sparkrig.process import kill_session, run_command, session_members


@pytest.fixture()
def log(tmp_path: Path) -> BinaryIO:
    handle = (tmp_path / "output.log").open("a+b")
    yield handle  # type: ignore[misc]  # a generator fixture yields the handle
    handle.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2] != "Z"


def _wait_gone(pid: int, limit: float = 10.0) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_output_is_logged_and_read_back(log: BinaryIO, tmp_path: Path) -> None:
    log.write(b"before\n")
    result = run_command(["sh", "-c", "echo out; echo err >&2; exit 3"], log=log, timeout=30)
    assert result.exit_code == 3
    assert not result.timed_out
    assert not result.ok
    assert "out" in result.output
    assert "err" in result.output
    assert "before" not in result.output
    assert (tmp_path / "output.log").read_bytes().startswith(b"before\nout\n")


def test_stdin_is_dev_null(log: BinaryIO) -> None:
    result = run_command(["sh", "-c", "cat; echo done"], log=log, timeout=30)
    assert result.ok
    assert result.output.strip() == "done"


def test_command_runs_in_its_own_process_group(log: BinaryIO) -> None:
    result = run_command(["sh", "-c", "echo $$; ps -o pgid= -p $$"], log=log, timeout=30)
    pid, pgid = result.output.split()
    assert pid == pgid
    assert int(pgid) != os.getpgrp()


def test_timeout_ends_the_whole_group(log: BinaryIO, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {pidfile}; wait"
    result = run_command(["sh", "-c", script], log=log, timeout=1.0, grace=2.0)
    assert result.timed_out
    assert result.exit_code is None
    assert result.duration < 10
    assert _wait_gone(int(pidfile.read_text()))


def test_sigterm_ignoring_child_gets_sigkill(log: BinaryIO, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"trap '' TERM; echo $$ > {pidfile}; while :; do sleep 0.1; done"
    result = run_command(["sh", "-c", script], log=log, timeout=0.5, grace=0.5)
    assert result.timed_out
    assert _wait_gone(int(pidfile.read_text()))


def test_leftover_children_are_stopped(
    log: BinaryIO, tmp_path: Path
) -> None:
    pidfile = tmp_path / "child.pid"
    result = run_command(["sh", "-c", f"sleep 300 & echo $! > {pidfile}"], log=log, timeout=30)
    assert result.exit_code == 0
    assert _wait_gone(int(pidfile.read_text()))


def test_tick_exception_stops_the_group(log: BinaryIO, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    calls = []

    def tick() -> None:
        calls.append(1)
        raise RuntimeError("quota")

    with pytest.raises(RuntimeError, match="quota"):
        run_command(["sh", "-c", f"echo $$ > {pidfile}; sleep 300"], log=log, timeout=60,
                    tick=tick, tick_interval=0.2)
    assert calls == [1]
    assert _wait_gone(int(pidfile.read_text()))


def test_missing_program_raises_file_not_found(log: BinaryIO) -> None:
    with pytest.raises(FileNotFoundError):
        run_command(["/nonexistent/program"], log=log, timeout=5)


def test_kill_session_ends_every_process_of_the_session(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    # setsid makes the shell a session leader; its children (one ignoring SIGTERM) stay in it.
    script = (
        f"sleep 300 & echo $! >> {pidfile}; "
        f"sh -c 'trap \"\" TERM; while :; do sleep 0.1; done' & echo $! >> {pidfile}; "
        "wait"
    )
    become_leader = "import os, sys; os.setsid(); os.execvp('sh', ['sh', '-c', sys.argv[1]])"
    leader = subprocess.Popen(
        [sys.executable, "-c", become_leader, script], stdin=subprocess.DEVNULL
    )
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if pidfile.exists() and len(pidfile.read_text().split()) >= 2:
                break
            time.sleep(0.05)
        children = [int(pid) for pid in pidfile.read_text().split()]
        assert set(children) <= set(session_members(leader.pid))

        kill_session(leader.pid, grace=0.5)

        leader.wait(timeout=10)
        for pid in children:
            assert _wait_gone(pid)
        assert session_members(leader.pid) == []
    finally:
        if leader.poll() is None:
            os.kill(leader.pid, signal.SIGKILL)
            leader.wait()


def test_kill_session_of_an_empty_session_returns() -> None:
    kill_session(2**22 + 12345, grace=0.1)


def test_tick_runs_until_the_command_exits(log: BinaryIO) -> None:
    calls: list[float] = []
    result = run_command(["sleep", "0.5"], log=log, timeout=30,
                         tick=lambda: calls.append(time.monotonic()), tick_interval=0.05)
    assert result.ok
    assert len(calls) >= 3
    assert result.duration < 5.0


def test_exit_noticed_without_pidfd(log: BinaryIO, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pidfd(pid: int, flags: int = 0) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    result = run_command(["sh", "-c", "exit 4"], log=log, timeout=30)
    assert result.exit_code == 4
    assert not result.timed_out

    stopped = run_command(["sleep", "300"], log=log, timeout=0.3, grace=1.0)
    assert stopped.timed_out
    assert stopped.exit_code is None


def test_exit_noticed_soon_after_it_happens(log: BinaryIO) -> None:
    # The polling Popen.wait(timeout=...) noticed a 0.2 s command up to 50 ms late; the
    # bound here is generous for a loaded machine and only catches a regression to seconds.
    result = run_command(["sleep", "0.2"], log=log, timeout=600)
    assert result.ok
    assert result.duration < 1.5


SUBREAPER_PROBE = """
import sys, time
from pathlib import Path
from sparkrig.process import become_subreaper, run_command

assert become_subreaper()
script = Path(sys.argv[1])
with (script.parent / "output.log").open("a+b") as log:
    result = run_command([str(script)], log=log, timeout=30, grace=1.0)
print(result.exit_code)
"""


def test_subreaper_ends_process_that_left_session(tmp_path: Path) -> None:
    marker = f"sparkrig-test-{os.getpid()}-{time.monotonic_ns()}"
    script = tmp_path / "detach.sh"
    # setsid leaves the command's process group and session, as a daemon does.
    script.write_text(f"#!/bin/bash\nsetsid bash -c 'sleep 60; : {marker}' &\nsleep 0.3\n")
    script.chmod(0o755)

    completed = subprocess.run([sys.executable, "-c", SUBREAPER_PROBE, str(script)],
                               capture_output=True, text=True, timeout=60, check=False)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "0"
    assert "left the command's process group and session" in completed.stderr
    survivors = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_text():
                survivors.append(entry.name)
        except OSError:
            continue
    assert survivors == []
