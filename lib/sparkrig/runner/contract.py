"""The executor side of the runner: one attempt, and lease cleanup, imported at first use.

`sparkrig.execute` (run one attempt in a worker) and `sparkrig.kube.lease`
(remove what a dead worker left on the cluster) are imported when a run needs
them, so `sparkrig list` and `sparkrig shards` work without their dependencies,
and a missing module becomes one error naming it instead of a traceback.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from types import ModuleType
from typing import cast

from sparkrig.cluster.base import ClusterInfo
from sparkrig.errors import InfrastructureError

__all__ = ["executor_module", "cleanup_leases"]

logger = logging.getLogger(__name__)


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise InfrastructureError(
            f"{name} cannot be imported ({exc}); reinstall sparkrig with "
            "'.venv/bin/pip install -e .'"
        ) from exc


def executor_module() -> ModuleType:
    """Return `sparkrig.execute`: AttemptContext, execute_attempt, CLEANUP_GRACE_SECONDS."""
    return _module("sparkrig.execute")


def cleanup_leases(cluster: ClusterInfo, *, run_id: str, scenario: str | None = None) -> list[str]:
    """Uninstall the releases and delete the namespaces of a run (or one scenario of it).

    `scenario` is the scenario's name; the lease module turns it into the label value.
    """
    lease = _module("sparkrig.kube.lease")
    function = cast(Callable[..., list[str]], lease.cleanup_leases)
    return function(cluster, run_id=run_id, scenario=scenario)
