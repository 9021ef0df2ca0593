"""Nox sessions: one per tier, plus the rig's own tests and lint.

Sessions run in the project's environment (`scripts/setup.sh` installs it into
`.venv`) instead of building a virtualenv each: the tier sessions are entry
points of the rig, not isolated builds, and CI calls them the same way.
Arguments after `--` go to the runner, e.g. `nox -s smoke -- --max 8`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.default_venv_backend = "none"

# Sessions call `python`, `ruff`, `mypy` and `actionlint` by name, so put the
# folder of the interpreter that runs nox (.venv/bin for `.venv/bin/nox`) first
# on PATH. Without it, CI and GitHub runners find another Python without sparkrig.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

TIERS = ("smoke", "e2e", "load", "security")


def _run_tier(session: nox.Session, tier: str) -> None:
    session.run("python", "-m", "sparkrig", "run", "--tier", tier, *session.posargs, external=True)


@nox.session
def smoke(session: nox.Session) -> None:
    """Run the smoke tier."""
    _run_tier(session, "smoke")


@nox.session
def e2e(session: nox.Session) -> None:
    """Run the e2e tier."""
    _run_tier(session, "e2e")


@nox.session
def load(session: nox.Session) -> None:
    """Run the load tier."""
    _run_tier(session, "load")


@nox.session
def security(session: nox.Session) -> None:
    """Run the security tier."""
    _run_tier(session, "security")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the rig's unit and integration tests (starts the local cluster)."""
    session.run("python", "-m", "pytest", *session.posargs, external=True)


@nox.session
def unit(session: nox.Session) -> None:
    """Run the rig's unit tests only (no cluster)."""
    session.run("python", "-m", "pytest", "tests/unit", *session.posargs, external=True)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style, types and the GitHub Actions workflows."""
    session.run("ruff", "check", "lib", "tests", "bench", "noxfile.py", "tasks.py", external=True)
    session.run("mypy", external=True)
    session.run("actionlint", external=True)
