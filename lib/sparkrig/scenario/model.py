"""The scenario model: what a scenario file declares, after validation.

A scenario is a YAML file with steps, or an executable script with a
`# @meta` ... `# @endmeta` header. Both load into `Scenario`; a script scenario
has `script` set and no steps. The loader validates every field before anything
touches the cluster, so the runner can trust these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TIERS", "Resources", "Chart", "Step", "Scenario"]

TIERS = ("smoke", "e2e", "load", "security")

STEP_KINDS = ("install", "wait", "assert", "run", "test", "uninstall")
# The names `requires` accepts: the capabilities that cluster providers report.
KNOWN_REQUIREMENTS = ("containers",)

DEFAULT_TIMEOUT_SECONDS = 600.0
DEFAULT_STEP_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Resources:
    """Resource budget of a scenario: its namespace's ResourceQuota and its share of admission."""

    cpu_millis: int = 0
    memory_bytes: int = 0
    pods: int = 0
    cpu: str = ""
    memory: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.cpu_millis or self.memory_bytes or self.pods)


@dataclass(frozen=True)
class Chart:
    """The Helm chart a scenario installs, with its values files and --set pairs."""

    path: Path
    values: tuple[Path, ...] = ()
    set: tuple[tuple[str, str], ...] = ()
    preset: str = ""


@dataclass(frozen=True)
class Step:
    """One action of a YAML scenario. `options` contains the step's own fields."""

    kind: str
    name: str
    timeout: float
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    tier: str
    source: Path
    description: str = ""
    tags: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    resources: Resources = Resources()
    requires: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    estimated_time: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    chart: Chart | None = None
    steps: tuple[Step, ...] = ()
    script: Path | None = None

    @property
    def is_script(self) -> bool:
        return self.script is not None
