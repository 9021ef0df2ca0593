"""Resource-aware admission: a scenario starts only while the running ones leave room.

The budget is the cluster's allocatable capacity (CPU, memory, pods summed over
Ready nodes). A scenario reserves its declared `resources` while it runs; a
scenario that declares none reserves nothing and always fits. When the cluster
reports no capacity (`--cluster none`, or a provider that cannot tell), every
scenario fits and only `--max` bounds the parallelism.
"""

from __future__ import annotations

from sparkrig.cluster.base import Capacity
from sparkrig.scenario.model import Resources, Scenario

__all__ = ["CapacityAdmission", "UnlimitedAdmission"]


def _describe(cpu_millis: int, memory_bytes: int, pods: int, *, skip_zero: bool = False) -> str:
    """Describe an amount of resources; `skip_zero` leaves out what a request does not ask."""
    parts = [("cpu", cpu_millis, f"{cpu_millis}m"),
             ("memory", memory_bytes, f"{memory_bytes / 2**20:.0f}Mi"),
             ("pods", pods, str(pods))]
    return ", ".join(f"{name} {text}" for name, amount, text in parts
                     if amount or not skip_zero)


class UnlimitedAdmission:
    """Admit everything: no capacity is known."""

    def never_fits(self, scenario: Scenario) -> str | None:
        return None

    def fits(self, scenario: Scenario) -> bool:
        return True

    def reserve(self, scenario: Scenario) -> None:
        pass

    def release(self, scenario: Scenario) -> None:
        pass


class CapacityAdmission:
    """Admit scenarios while the sum of running requests fits `capacity`."""

    def __init__(self, capacity: Capacity) -> None:
        self.capacity = capacity
        self.cpu_millis = 0
        self.memory_bytes = 0
        self.pods = 0

    def _within(self, request: Resources, cpu: int, memory: int, pods: int) -> bool:
        return (
            cpu + request.cpu_millis <= self.capacity.cpu_millis
            and memory + request.memory_bytes <= self.capacity.memory_bytes
            and pods + request.pods <= self.capacity.pods
        )

    def never_fits(self, scenario: Scenario) -> str | None:
        request = scenario.resources
        if self._within(request, 0, 0, 0):
            return None
        capacity = self.capacity
        return (
            f"scenario {scenario.name} requests "
            f"{_describe(request.cpu_millis, request.memory_bytes, request.pods, skip_zero=True)}"
            ", more than the "
            f"cluster's allocatable "
            f"{_describe(capacity.cpu_millis, capacity.memory_bytes, capacity.pods)}; "
            "lower its resources or add nodes"
        )

    def fits(self, scenario: Scenario) -> bool:
        return self._within(scenario.resources, self.cpu_millis, self.memory_bytes, self.pods)

    def reserve(self, scenario: Scenario) -> None:
        self.cpu_millis += scenario.resources.cpu_millis
        self.memory_bytes += scenario.resources.memory_bytes
        self.pods += scenario.resources.pods

    def release(self, scenario: Scenario) -> None:
        self.cpu_millis -= scenario.resources.cpu_millis
        self.memory_bytes -= scenario.resources.memory_bytes
        self.pods -= scenario.resources.pods
