"""Namespace lifecycle on the local cluster (placeholder until the lease API exists)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.table import Row


def measure_lifecycle(
    work: Path, *, leases: int, parallelism_levels: Sequence[int], repeats: int,
    require_running: bool,
) -> tuple[list[Row], str | None]:
    return [], "not written yet"
