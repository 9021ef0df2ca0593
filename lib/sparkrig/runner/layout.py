"""Run ids and the paths of a run's results: the run folder and the `latest` link.

```
<results-dir>/<run_id>/results.json              the run (written at the end)
<results-dir>/<run_id>/scenarios/<dir>/result.json   one scenario, as soon as it ends
<results-dir>/latest -> <run_id>                 relative symlink, replaced atomically
```
"""

from __future__ import annotations

import os
import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sparkrig.errors import UsageError
from sparkrig.results import RunResult, ScenarioResult, Status

__all__ = [
    "new_run_id",
    "utc_now",
    "point_latest",
    "LatestRun",
    "load_latest",
    "needs_rerun",
    "LATEST",
]

LATEST = "latest"
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
# os.urandom, as the secrets module uses; importing secrets loads OpenSSL (2 ms at start-up).
_SYSTEM_RANDOM = random.SystemRandom()


def new_run_id(now: datetime | None = None) -> str:
    """Return a run id that sorts by start time: 20261204T195501Z-a1b2."""
    moment = now or datetime.now(UTC)
    suffix = "".join(_SYSTEM_RANDOM.choice(_SUFFIX_ALPHABET) for _ in range(4))
    return f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{suffix}"


def utc_now() -> str:
    """Return the current time as ISO 8601 UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def point_latest(results_dir: Path, run_id: str) -> None:
    """Point `<results-dir>/latest` at the run folder, replacing the old link atomically."""
    link = results_dir / LATEST
    temporary = results_dir / f".{LATEST}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(run_id)
    os.replace(temporary, link)


@dataclass(frozen=True)
class LatestRun:
    """The results of the run that `<results-dir>/latest` points at."""

    path: Path  # its results.json
    scenarios_dir: str  # the --scenarios folder it ran, "" when not recorded
    results: list[ScenarioResult]


def load_latest(results_dir: Path) -> LatestRun:
    """Read `<results-dir>/latest/results.json`; raise UsageError when it is missing or invalid."""
    path = results_dir / LATEST / "results.json"
    if not path.is_file():
        raise UsageError(
            f"--rerun-failed: no previous results at {path}, so {results_dir} has no "
            "finished run; run without --rerun-failed first"
        )
    try:
        run = RunResult.load(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise UsageError(f"--rerun-failed: cannot read {path}: {exc}") from exc
    return LatestRun(
        path=path,
        scenarios_dir=str(run.selection.get("scenarios_dir") or ""),
        results=run.scenarios,
    )


def needs_rerun(result: ScenarioResult) -> bool:
    """Tell whether `--rerun-failed` runs a scenario again, by its last status and reason.

    Passed scenarios do not run again, and neither do scenarios skipped because
    the cluster lacked a `requires` capability, because that still holds.
    Everything else runs: failed, error, timed out and interrupted scenarios,
    and those skipped because a dependency did not pass or after --fail-fast.
    """
    status = Status(result.status)
    if status == Status.PASSED:
        return False
    if status == Status.SKIPPED:
        return result.reason.startswith(RERUN_SKIP_REASONS)
    return True


# Reasons of skips that a rerun may undo; the runner writes them as
# "dependency NAME failed" and "not started: --fail-fast after NAME STATUS".
RERUN_SKIP_REASONS = ("dependency ", "not started:")
