"""The cluster provider interface: how the runner gets a Kubernetes API to test on.

A provider turns a `--cluster` choice (local, existing, kind, auto) into a
reachable API server and the facts the runner needs about it: the kubeconfig,
the folder holding `helm` and `kubectl`, whether containers really run, and the
allocatable capacity that resource-aware admission fits scenarios into.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

__all__ = ["Capacity", "ClusterInfo", "ClusterProvider", "CLUSTER_CHOICES"]

CLUSTER_CHOICES = ("auto", "local", "existing", "kind", "none")


@dataclass(frozen=True)
class Capacity:
    """Allocatable capacity summed over schedulable, Ready nodes."""

    cpu_millis: int
    memory_bytes: int
    pods: int


@dataclass(frozen=True)
class ClusterInfo:
    """A reachable cluster, as the runner and the scenarios see it."""

    provider: str
    kubeconfig: Path | None
    context: str | None = None
    server: str = ""
    version: str = ""
    tools_path: Path | None = None
    capabilities: frozenset[str] = field(default_factory=frozenset)
    capacity: Capacity | None = None

    def env(self) -> dict[str, str]:
        """Environment additions for commands that talk to this cluster."""
        env: dict[str, str] = {}
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        return env


class ClusterProvider(Protocol):
    name: str

    def connect(self) -> ClusterInfo:
        """Return the cluster, starting it first where the provider owns it.

        Raises `ClusterUnreachableError` (exit code 3) naming the server or
        context and the fix when no API server responds.
        """
        ...
