"""sparkrig cleanup: which namespaces it selects and what it says when it keeps them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sparkrig.cluster.base import ClusterInfo
from sparkrig.kube.cli import _provider_name, describe_unexpired, select_namespaces

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def namespace(name: str, run_id: str, expires_at: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"sparkrig/run-id": run_id},
                         "annotations": {"sparkrig/expires-at": expires_at}}}


def test_unexpired_namespaces_are_counted_by_run() -> None:
    items = [
        namespace("a-1", "run-a", "2025-01-01T12:30:00Z"),
        namespace("a-2", "run-a", "2025-01-01T12:40:00Z"),
        namespace("b-1", "run-b", "2025-01-01T12:10:00Z"),
        namespace("old", "run-c", "2025-01-01T11:00:00Z"),
    ]

    assert select_namespaces(items, expired_only=True, now=NOW) == ["old"]
    lines = describe_unexpired(items, now=NOW)

    assert lines[0].startswith("3 managed namespaces not expired yet")
    assert "2025-01-01 12:40:00 UTC" in lines[0]
    assert "run-a (2), run-b (1)" in lines[0]
    assert "invoke cleanup --run-id ID" in lines[1]
    assert "invoke cleanup --all" in lines[1]


def test_no_unexpired_namespaces_prints_nothing() -> None:
    items = [namespace("old", "run-c", "2025-01-01T11:00:00Z")]

    assert describe_unexpired(items, now=NOW) == []


def test_one_unexpired_namespace_is_singular() -> None:
    items = [namespace("a-1", "run-a", "2025-01-01T12:30:00Z")]

    assert describe_unexpired(items, now=NOW)[0].startswith("1 managed namespace not")


def test_local_context_is_named_local() -> None:
    local = ClusterInfo(provider="existing", kubeconfig=Path("k"), context="sparkrig-local")
    other = ClusterInfo(provider="existing", kubeconfig=Path("k"), context="staging")

    assert _provider_name(local) == "local"
    assert _provider_name(other) == "existing"
