"""The tools under test and how one timed run of each is started and bounded.

Each tool gets the same scenario files and the same parallelism:

- sparkrig: `python -m sparkrig run --scenarios DIR --max N --cluster none
  --results-dir DIR`, the runner with no cluster work;
- GNU parallel: `parallel --will-cite --jobs N {} NAMESPACE RELEASE` fed the
  sorted file list on standard input, its default (grouped) output;
- xargs: `xargs -P N -I {} env {} NAMESPACE RELEASE`, fed the same list.
  GNU xargs replaces `{}` only in arguments, not in the command name, so
  `env` execs the script, with no shell in between.

The peers call each script as `SCRIPT NAMESPACE RELEASE`, as the runner does.
Every run starts in a session of its own with standard input from a file or
/dev/null and its output in a log file. A run that passes its time limit gets
SIGTERM for the whole process group, then SIGKILL after a grace period, so
nothing the benchmark starts outlives it. Ctrl-C stops the running tool's
process group the same way.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.rss import RssSampler, TreePeak

__all__ = [
    "PEERS",
    "TimedRun",
    "BenchToolError",
    "missing_peers",
    "parallel_command",
    "xargs_command",
    "sparkrig_command",
    "compile_sparkrig",
    "run_timed",
    "write_file_list",
]

logger = logging.getLogger(__name__)

PEERS = ("GNU parallel", "xargs -P")

# Seconds between SIGTERM and SIGKILL for a run that passed its time limit.
KILL_GRACE_SECONDS = 5.0

# The namespace and release the peers pass, as the runner would; `--cluster none`
# and the sleep jobs use neither.
NAMESPACE_ARGUMENT = "bench-namespace"
RELEASE_ARGUMENT = "bench-release"


class BenchToolError(RuntimeError):
    """Failure or timeout of a tool under test; the message names the tool and what happened."""


@dataclass(frozen=True)
class TimedRun:
    """Wall-clock time of one run from start to exit, and its memory peak when sampled.

    `launched_at` and `exited_at` are epoch seconds (`time.time()`), for lining
    the run up with the timestamps a tool records.
    """

    seconds: float
    peak: TreePeak | None = None
    launched_at: float = 0.0
    exited_at: float = 0.0


def missing_peers() -> dict[str, str]:
    """Return the peers whose program is not on PATH, with the install hint for each."""
    missing: dict[str, str] = {}
    if shutil.which("parallel") is None:
        missing["GNU parallel"] = "install the Debian package `parallel` (scripts/setup.sh --dev)"
    if shutil.which("xargs") is None:
        missing["xargs -P"] = "install the Debian package `findutils`"
    return missing


def parallel_command(jobs: int) -> list[str]:
    return ["parallel", "--will-cite", "--jobs", str(jobs), "{}", NAMESPACE_ARGUMENT,
            RELEASE_ARGUMENT]


def xargs_command(jobs: int) -> list[str]:
    return ["xargs", "-P", str(jobs), "-I", "{}", "env", "{}", NAMESPACE_ARGUMENT,
            RELEASE_ARGUMENT]


def sparkrig_command(scenarios: Path, jobs: int, results_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "sparkrig", "run",
        "--scenarios", str(scenarios),
        "--max", str(jobs),
        "--cluster", "none",
        "--results-dir", str(results_dir),
    ]


def compile_sparkrig() -> str | None:
    """Write the bytecode cache of the sparkrig package, as `pip install` does.

    With PYTHONDONTWRITEBYTECODE set and no cache on disk, every sparkrig run
    compiles its modules from source again (about 20 ms on 2 cores), which an
    installed sparkrig never does. Returns why compiling failed, or None.
    """
    import sparkrig

    package_dir = Path(sparkrig.__file__).parent
    result = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(package_dir)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False,
    )
    if result.returncode == 0:
        return None
    detail = (result.stdout + result.stderr).strip().splitlines() or ["no output"]
    return f"compileall {package_dir} exited with {result.returncode}: {detail[-1]}"


def write_file_list(paths: Sequence[Path], destination: Path) -> Path:
    """Write one path per line, in the given order, for a peer's standard input."""
    destination.write_text("".join(f"{path}\n" for path in paths), encoding="utf-8")
    return destination


def run_timed(
    command: Sequence[str],
    *,
    log_path: Path,
    timeout: float,
    stdin_path: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    sample_memory: bool = False,
    label: str | None = None,
) -> TimedRun:
    """Run `command` to its end and return its wall-clock time.

    Raises `BenchToolError` naming the tool (`label`, else the program) when the
    command exits non-zero or runs longer than `timeout` seconds.
    """
    label = label or command[0]
    stdin = stdin_path.open("rb") if stdin_path else open(os.devnull, "rb")  # noqa: SIM115 - closed in finally
    log = log_path.open("wb")
    sampler: RssSampler | None = None
    try:
        launched_at = time.time()
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), stdin=stdin, stdout=log, stderr=subprocess.STDOUT,
            cwd=cwd, env=env, start_new_session=True,
        )
        if sample_memory:
            sampler = RssSampler(process.pid)
            sampler.start()
        try:
            exit_code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop_group(process)
            raise BenchToolError(
                f"{label} timed out after {timeout:.0f} s (the benchmark's limit for this run)"
            ) from None
        except BaseException:
            # Ctrl-C reaches only the benchmark, because the run has a session of its own.
            _stop_group(process)
            raise
        elapsed = time.perf_counter() - started
        exited_at = time.time()
    finally:
        peak = sampler.stop() if sampler else None
        stdin.close()
        log.close()

    if exit_code != 0:
        tail = _tail(log_path)
        logger.info("%s exited with %d; last output:\n%s", label, exit_code, tail)
        last_line = tail.splitlines()[-1] if tail else "no output"
        raise BenchToolError(f"{label} exited with {exit_code}: {last_line}")
    return TimedRun(elapsed, peak, launched_at, exited_at)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Send SIGTERM to the run's process group, then SIGKILL after the grace period."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, KILL_GRACE_SECONDS)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            logger.warning("process group %d still alive after %s", process.pid, sig.name)


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])
