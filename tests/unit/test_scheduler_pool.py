"""The worker pool with real forked processes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkrig.scheduler.pool import TARGET_FAILED_EXIT, Finished, WorkerPool, send_result


def wait_all(pool: WorkerPool, count: int, limit: float = 20.0) -> list[Finished]:
    finished: list[Finished] = []
    deadline = time.monotonic() + limit
    while len(finished) < count and time.monotonic() < deadline:
        done, _ = pool.wait(deadline - time.monotonic())
        finished.extend(done)
    return finished


def test_pool_returns_payload_and_exit_code() -> None:
    pool = WorkerPool()
    pool.start("a", lambda: {"pid": os.getpid(), "sid": os.getsid(0)})

    (done,) = wait_all(pool, 1)

    assert done.exit_code == 0
    assert done.signal is None
    assert done.payload["pid"] == done.worker.pid
    assert done.payload["sid"] == done.worker.pid
    assert len(pool) == 0


def test_pool_large_payload_arrives_whole() -> None:
    pool = WorkerPool()
    pool.start("big", lambda: "x" * 1_000_000)

    (done,) = wait_all(pool, 1)

    assert done.payload == "x" * 1_000_000


def test_pool_killed_worker_reports_signal() -> None:
    pool = WorkerPool()
    worker = pool.start("sleeper", lambda: time.sleep(30))

    pool.signal(worker, signal.SIGKILL)
    (done,) = wait_all(pool, 1)

    assert done.signal == signal.SIGKILL
    assert done.payload is None


def test_pool_failing_target_exits_without_payload(tmp_path: Path) -> None:
    pool = WorkerPool()

    def explode() -> None:
        raise RuntimeError("boom")

    pool.start("bad", explode, log_path=tmp_path / "worker.log")
    (done,) = wait_all(pool, 1)

    assert done.exit_code == TARGET_FAILED_EXIT
    assert done.payload is None
    assert "boom" in (tmp_path / "worker.log").read_text()


def test_pool_workers_overlap() -> None:
    pool = WorkerPool()
    started = time.monotonic()
    for index in range(4):
        pool.start(str(index), lambda: time.sleep(0.5))

    finished = wait_all(pool, 4)

    assert len(finished) == 4
    assert time.monotonic() - started < 1.9


def test_pool_wait_wakes_on_extra_fd() -> None:
    pool = WorkerPool()
    read_fd, write_fd = os.pipe()
    pool.add_reader(read_fd)
    pool.start("slow", lambda: time.sleep(5))
    os.write(write_fd, b"x")

    finished, woken = pool.wait(10)

    assert woken
    assert finished == []
    for worker in pool.workers:
        pool.signal(worker, signal.SIGKILL)
    wait_all(pool, 1)
    os.close(read_fd)
    os.close(write_fd)


def double(commands: Iterator[int]) -> int | None:
    for job in commands:
        return job * 2
    return None


def collect(commands: Iterator[object]) -> list[object]:
    """Return every command, and write the first 20 characters of each to the worker's log."""
    seen = []
    for command in commands:
        os.write(1, f"{str(command)[:20]}\n".encode())
        seen.append(command)
    return seen


def test_pool_spare_runs_assigned_job(tmp_path: Path) -> None:
    pool = WorkerPool()
    spare = pool.start_spare(double)
    assert pool.spares == [spare]

    pool.assign(spare, "job", 21, log_path=tmp_path / "spare.log")
    (done,) = wait_all(pool, 1)

    assert pool.spares == []
    assert done.worker.key == "job"
    assert done.payload == 42
    assert done.exit_code == 0


def test_pool_spare_commands_move_log(tmp_path: Path) -> None:
    pool = WorkerPool()
    spare = pool.start_spare(collect)
    first, second = tmp_path / "a" / "worker.log", tmp_path / "b" / "worker.log"

    pool.send(spare, "prepare", log_path=first)
    pool.send(spare, {"large": "x" * 200_000})
    assert pool.spares == [spare]
    pool.assign(spare, "job", "start", log_path=second)
    (done,) = wait_all(pool, 1)

    assert done.payload == ["prepare", {"large": "x" * 200_000}, "start"]
    assert first.read_text() == "prepare\n{'large': 'xxxxxxxxx\n"
    assert second.read_text() == "start\n"


def test_pool_released_spare_removes_its_empty_logs(tmp_path: Path) -> None:
    pool = WorkerPool()
    spare = pool.start_spare(list)
    first, second = tmp_path / "a" / "worker.log", tmp_path / "b" / "worker.log"

    pool.send(spare, 1, log_path=first)
    pool.send(spare, 2, log_path=second)
    pool.release_spares()
    (done,) = wait_all(pool, 1)

    assert done.payload == [1, 2]
    assert not first.exists()
    assert not second.exists()


def test_pool_released_spare_exits_quietly() -> None:
    pool = WorkerPool()
    pool.start_spare(double)

    pool.release_spares()
    (done,) = wait_all(pool, 1)

    assert done.payload is None
    assert done.exit_code == 0


def send_then_write(path: Path) -> str:
    """Send a result, then write `path` once the test creates `path.go` (or after 30 s)."""
    send_result("sent")
    go = path.with_suffix(".go")
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    path.write_text("written")
    return "ignored"


def test_pool_early_result_frees_worker_before_exit(tmp_path: Path) -> None:
    pool = WorkerPool()
    marker = tmp_path / "after-send"
    pool.start("early", lambda: send_then_write(marker), log_path=tmp_path / "worker.log")

    (done,) = wait_all(pool, 1)

    assert done.payload == "sent"
    assert done.exiting
    assert len(pool) == 0
    assert not marker.exists()

    marker.with_suffix(".go").touch()
    pool.close()

    assert marker.read_text() == "written"
    assert not (tmp_path / "worker.log").exists()  # empty, so the worker removed it


def send_then_write_first(commands: Iterator[Path]) -> str:
    return send_then_write(next(commands))


def test_pool_spare_can_send_early(tmp_path: Path) -> None:
    pool = WorkerPool()
    marker = tmp_path / "after-send"
    spare = pool.start_spare(send_then_write_first)

    pool.assign(spare, "job", marker, log_path=tmp_path / "spare.log")
    (done,) = wait_all(pool, 1)
    marker.with_suffix(".go").touch()
    pool.close()

    assert done.payload == "sent"
    assert marker.read_text() == "written"


def test_send_result_outside_worker_raises() -> None:
    with pytest.raises(RuntimeError, match="not in a worker"):
        send_result("value")
