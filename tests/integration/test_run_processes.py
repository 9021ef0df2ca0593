"""`sparkrig run` as a subprocess with script scenarios and no cluster (`--cluster none`).

These check what the runner does to real processes: parallelism, timeouts that
end a whole process tree, a worker killed mid-run, SIGINT, dependencies and
invalid files. Each scenario that starts background processes tags their
command lines with a unique marker, so the test can prove none survived.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from runs import latest_results, sparkrig_run, start_until_marked

RUN_TIMEOUT = 120  # seconds; every run here ends far sooner


def write_script(folder: Path, name: str, body: str, meta: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.sh"
    header = f"# @meta\n# name: {name}\n# tier: smoke\n{textwrap.dedent(meta)}# @endmeta\n"
    path.write_text(f"#!/bin/bash\n{header}{textwrap.dedent(body)}", encoding="utf-8")
    path.chmod(0o755)
    return path


def sparkrig(tmp_path: Path, *args: str) -> list[str]:
    return sparkrig_run(tmp_path, "none", *args)


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        sparkrig(tmp_path, *args),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def results(tmp_path: Path) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in latest_results(tmp_path)["scenarios"]}


def processes_with(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in command and state != "Z":
            found.append(f"{entry.name}: {command}")
    return found


def wait_until_gone(marker: str, limit: float = 10.0) -> list[str]:
    deadline = time.monotonic() + limit
    while (left := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def spans(marks: Path, names: list[str]) -> list[tuple[float, float]]:
    return [
        (float((marks / f"{n}.start").read_text()), float((marks / f"{n}.end").read_text()))
        for n in names
    ]


def start_run_until_marked(tmp_path: Path, marks: Path, count: int = 4) -> subprocess.Popen[str]:
    """Start `sparkrig run --max 4` and return once `count` scenarios left a mark."""
    return start_until_marked(sparkrig(tmp_path, "--max", "4"), marks, count, limit=60)


def test_run_overlaps_at_most_max(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    names = [f"sleeper{index}" for index in range(8)]
    for name in names:
        write_script(
            tmp_path / "scenarios",
            name,
            f"""
            date +%s.%N > {marks}/{name}.start
            sleep 3
            date +%s.%N > {marks}/{name}.end
        """,
        )

    started = time.monotonic()
    completed = run(tmp_path, "--max", "4")
    elapsed = time.monotonic() - started

    assert completed.returncode == 0, completed.stderr
    windows = spans(marks, names)
    concurrency = [sum(1 for s, e in windows if s <= moment < e) for moment, _ in windows]
    assert max(concurrency) <= 4
    assert max(concurrency) >= 3
    assert elapsed < 30  # about 6 s of sleeping plus start-up; generous for a loaded machine
    assert all(item["status"] == "passed" for item in results(tmp_path).values())


def test_run_timeout_ends_process_tree(tmp_path: Path) -> None:
    marker = f"sparkrig-test-{uuid.uuid4().hex}"
    write_script(
        tmp_path / "scenarios",
        "hangs",
        f"""
        bash -c 'sleep 300; : {marker}' &
        bash -c 'sleep 300; : {marker}' &
        sleep 300
    """,
        meta="# timeout: 2s\n",
    )

    completed = run(tmp_path)

    assert completed.returncode == 1, completed.stderr
    item = results(tmp_path)["hangs"]
    assert item["status"] == "timed_out"
    assert wait_until_gone(marker) == []


def test_run_killed_worker_fails_only_it(tmp_path: Path) -> None:
    marker = f"sparkrig-test-{uuid.uuid4().hex}"
    write_script(
        tmp_path / "scenarios",
        "victim",
        f"""
        bash -c 'sleep 300; : {marker}' &
        sleep 0.5
        kill -9 $(ps -o sid= $$)
        sleep 300
    """,
    )
    for index in range(3):
        write_script(tmp_path / "scenarios", f"bystander{index}", "sleep 1\n")

    completed = run(tmp_path, "--max", "4")

    assert completed.returncode == 1, completed.stderr
    found = results(tmp_path)
    assert found["victim"]["status"] == "error"
    assert found["victim"]["reason"] == "worker died (signal 9)"
    for index in range(3):
        assert found[f"bystander{index}"]["status"] == "passed"
    assert wait_until_gone(marker) == []


def test_run_sigint_interrupts_and_records_all(tmp_path: Path) -> None:
    marker = f"sparkrig-test-{uuid.uuid4().hex}"
    marks = tmp_path / "marks"
    marks.mkdir()
    for index in range(10):
        write_script(
            tmp_path / "scenarios",
            f"long{index}",
            f"""
            touch {marks}/long{index}
            bash -c 'sleep 300; : {marker}' &
            sleep 300
        """,
        )
    process = start_run_until_marked(tmp_path, marks)

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=100)

    assert process.returncode == 130, stderr
    found = results(tmp_path)
    assert len(found) == 10
    statuses = sorted(item["status"] for item in found.values())
    assert statuses == ["interrupted"] * 10
    queued = [item for item in found.values() if not item["attempts"]]
    assert len(queued) == 6
    assert all(item["reason"] == "not started: run interrupted" for item in queued)
    # A spare may have prepared the next scenario's files; a released spare removes them.
    scenarios_dir = tmp_path / "reports" / "latest" / "scenarios"
    for item in queued:
        assert item["output_path"] is None
        assert [path.name for path in (scenarios_dir / item["name"]).iterdir()] == ["result.json"]
    assert wait_until_gone(marker) == []


def test_run_failed_dependency_skips_dependant(tmp_path: Path) -> None:
    write_script(tmp_path / "scenarios", "setup", "exit 1\n")
    write_script(tmp_path / "scenarios", "after", "exit 0\n", meta="# depends_on: setup\n")

    completed = run(tmp_path)

    assert completed.returncode == 1
    item = results(tmp_path)["after"]
    assert item["status"] == "skipped"
    assert item["reason"] == "dependency setup failed"
    assert "skipped after" in completed.stdout


def test_run_invalid_file_exits_2(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    write_script(folder, "fine", "exit 0\n")
    (folder / "broken.yaml").write_text(
        "name: broken\ntier: smoke\ntimeout: forever\nsteps: [{test: {}}]\n"
    )

    completed = run(tmp_path)

    assert completed.returncode == 2
    assert f"{folder / 'broken.yaml'}: field 'timeout'" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "reports").exists()


def test_run_plain_progress_lines(tmp_path: Path) -> None:
    write_script(tmp_path / "scenarios", "quick", "exit 0\n")

    completed = run(tmp_path)

    lines = completed.stdout.splitlines()
    assert any(line.endswith("start quick") for line in lines)
    assert any(" passed quick " in line for line in lines)
    run_id = os.readlink(tmp_path / "reports" / "latest")
    assert lines[-1].endswith(f"results in {tmp_path / 'reports' / run_id}")


def written_statuses(tmp_path: Path) -> dict[str, str]:
    found = {}
    for path in (tmp_path / "reports" / "latest" / "scenarios").glob("*/result.json"):
        data = json.loads(path.read_text())
        found[data["name"]] = data["status"]
    return found


def test_run_closed_stdout_finishes_run(tmp_path: Path) -> None:
    for index in range(4):
        write_script(tmp_path / "scenarios", f"short{index}", "sleep 0.3\n")
    process = subprocess.Popen(
        sparkrig(tmp_path, "--max", "2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    stderr = process.stderr.read() if process.stderr else ""
    process.wait(timeout=RUN_TIMEOUT)

    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr
    found = results(tmp_path)
    assert {name: item["status"] for name, item in found.items()} == written_statuses(tmp_path)
    assert all(item["status"] == "passed" for item in found.values())


@pytest.mark.parametrize("stdout_closed", [False, True], ids=["stdout-open", "stdout-closed"])
def test_run_sigterm_records_late_finishers(tmp_path: Path, stdout_closed: bool) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    for index in range(6):
        # The scenario ends about 0.5 s after the interrupt reaches it.
        write_script(
            tmp_path / "scenarios",
            f"late{index}",
            f"""
            trap 'sleep 0.5; exit 0' TERM
            touch {marks}/late{index}
            sleep 30 &
            wait
            sleep 0.5
        """,
        )
    process = start_run_until_marked(tmp_path, marks)
    if stdout_closed:
        assert process.stdout is not None
        process.stdout.close()  # the interrupt note then hits a closed pipe

    process.send_signal(signal.SIGTERM)
    stderr = process.stderr.read() if process.stderr else ""
    process.wait(timeout=100)

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    found = results(tmp_path)
    assert len(found) == 6
    assert {name: item["status"] for name, item in found.items()} == written_statuses(tmp_path)
    started = [item for item in found.values() if item["attempts"]]
    assert len(started) == 4


def test_run_ends_process_that_left_session(tmp_path: Path) -> None:
    marker = f"sparkrig-test-{uuid.uuid4().hex}"
    write_script(
        tmp_path / "scenarios",
        "detaches",
        f"""
        setsid bash -c 'sleep 300; : {marker}' &
        sleep 0.3
    """,
    )

    completed = run(tmp_path)

    assert completed.returncode == 0, completed.stderr
    assert results(tmp_path)["detaches"]["status"] == "passed"
    assert wait_until_gone(marker, limit=2.0) == []
