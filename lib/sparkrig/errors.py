"""Exit codes and the exceptions that map to them.

Every error that reaches the command line is a `SparkrigError`: it carries the
exit code and a message that names the file, field or value and the fix, and
`sparkrig.cli.main` prints the message alone, never a traceback.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ExitCode",
    "SparkrigError",
    "UsageError",
    "ScenarioError",
    "InfrastructureError",
    "ClusterUnreachableError",
]


class ExitCode(IntEnum):
    OK = 0
    SCENARIO_FAILED = 1
    USAGE = 2
    INFRASTRUCTURE = 3
    INTERRUPTED = 130


class SparkrigError(Exception):
    """An error with a message for the user and the exit code it ends the run with."""

    exit_code: ExitCode = ExitCode.INFRASTRUCTURE


class UsageError(SparkrigError):
    """Invalid flag, selection or argument."""

    exit_code = ExitCode.USAGE


class ScenarioError(SparkrigError):
    """Invalid scenario file; the message names the file, the field and what is expected."""

    exit_code = ExitCode.USAGE

    def __init__(self, path: str, field: str | None, problem: str) -> None:
        self.path = path
        self.field = field
        self.problem = problem
        where = f"{path}: field '{field}'" if field else path
        super().__init__(f"{where}: {problem}")


class InfrastructureError(SparkrigError):
    """The cluster, Helm, kubectl or the Go toolchain failed."""

    exit_code = ExitCode.INFRASTRUCTURE


class ClusterUnreachableError(InfrastructureError):
    """No Kubernetes API server answers at the selected cluster."""
