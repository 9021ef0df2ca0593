"""Helm commands of a scenario: install, test, uninstall, status, values, list.

Helm runs as a child process through `sparkrig.process.run_command` (own
process group, output to the scenario's `output.log`, stopped at its
deadline). Helm's own `--timeout` is set a little below the process deadline,
so Helm normally gives up first and prints why, and the process deadline only
catches a Helm that hangs anyway.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from sparkrig.cluster.base import ClusterInfo
from sparkrig.errors import InfrastructureError
from sparkrig.process import CommandResult, run_command

__all__ = ["Helm", "command_env", "write_log_line", "HELM_TIMEOUT_MARGIN_SECONDS"]

logger = logging.getLogger(__name__)

HELM_TIMEOUT_MARGIN_SECONDS = 3.0  # Helm's --timeout ends this much before the process deadline


def write_log_line(log: BinaryIO, message: str) -> None:
    """Append one timestamped rig line (not child output) to a scenario's output.log."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    log.write(f"[sparkrig {stamp}] {message}\n".encode())
    log.flush()


def command_env(
    cluster: ClusterInfo | None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return this process's environment plus the cluster's, with its tools first on PATH."""
    env = dict(os.environ)
    if cluster is not None:
        env.update(cluster.env())
        if cluster.tools_path is not None:
            env["PATH"] = f"{cluster.tools_path}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


@dataclass
class Helm:
    """Runs `helm` against one cluster, writing to one log."""

    cluster: ClusterInfo
    log: BinaryIO
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.env:
            self.env = command_env(self.cluster)
        found = shutil.which("helm", path=self.env.get("PATH"))
        if found is None:
            raise InfrastructureError(
                f"helm not found on PATH (cluster tools: {self.cluster.tools_path}); "
                "run scripts/setup.sh or `sparkrig cluster build`"
            )
        self.executable = found

    def run(
        self,
        args: Sequence[str],
        *,
        timeout: float,
        tick: Callable[[], None] | None = None,
    ) -> CommandResult:
        argv = [self.executable, *args]
        if self.cluster.context:
            argv += ["--kube-context", self.cluster.context]
        write_log_line(self.log, "$ helm " + " ".join(args))
        result = run_command(argv, log=self.log, timeout=timeout, env=self.env, tick=tick)
        if result.timed_out:
            write_log_line(self.log, f"helm stopped after {timeout:.0f}s")
        elif result.exit_code != 0:
            write_log_line(self.log, f"helm exited with code {result.exit_code}")
        return result

    @staticmethod
    def timeout_seconds(budget: float) -> int:
        """Return the whole seconds of Helm's own --timeout for a command given `budget`."""
        return max(int(budget - HELM_TIMEOUT_MARGIN_SECONDS), 1)

    @classmethod
    def _helm_timeout(cls, budget: float) -> str:
        return f"{cls.timeout_seconds(budget)}s"

    def upgrade_install(
        self,
        release: str,
        chart: Path,
        namespace: str,
        *,
        values: Sequence[Path] = (),
        sets: Sequence[tuple[str, str]] = (),
        wait: bool = True,
        timeout: float,
        tick: Callable[[], None] | None = None,
    ) -> CommandResult:
        args = ["upgrade", "--install", release, str(chart), "--namespace", namespace]
        for path in values:
            args += ["--values", str(path)]
        for key, value in sets:
            args += ["--set", f"{key}={value}"]
        if wait:
            args.append("--wait")
        args += ["--timeout", self._helm_timeout(timeout)]
        return self.run(args, timeout=timeout, tick=tick)

    def test(
        self,
        release: str,
        namespace: str,
        *,
        logs: bool,
        timeout: float,
        tick: Callable[[], None] | None = None,
    ) -> CommandResult:
        args = ["test", release, "--namespace", namespace, "--timeout", self._helm_timeout(timeout)]
        if logs:
            args.append("--logs")
        return self.run(args, timeout=timeout, tick=tick)

    def uninstall(
        self, release: str, namespace: str, *, wait: bool, timeout: float
    ) -> CommandResult:
        args = ["uninstall", release, "--namespace", namespace, "--ignore-not-found"]
        if wait:
            args.append("--wait")
        args += ["--timeout", self._helm_timeout(timeout)]
        return self.run(args, timeout=timeout)

    def status(self, release: str, namespace: str, *, timeout: float) -> CommandResult:
        return self.run(["status", release, "--namespace", namespace], timeout=timeout)

    def get_values(self, release: str, namespace: str, *, timeout: float) -> CommandResult:
        return self.run(["get", "values", release, "--namespace", namespace, "--all"],
                        timeout=timeout)

    def list_releases(self, namespace: str, *, timeout: float) -> list[str]:
        """Return the names of the releases in `namespace`.

        Helm 4 lists releases in every state by default; Helm 3 would need `--all`
        for failed and pending ones, which Helm 4 no longer accepts.
        """
        args = ["list", "--namespace", namespace, "--short", "--max", "0"]
        result = self.run(args, timeout=timeout)
        if not result.ok:
            raise InfrastructureError(
                f"helm list in namespace {namespace} failed: {result.tail(2)}"
            )
        # stderr shares the stream, so Helm's warnings (e.g. about kubeconfig modes) are dropped.
        lines = [line.strip() for line in result.output.splitlines()]
        return [line for line in lines if line and not line.startswith("WARNING:")]
