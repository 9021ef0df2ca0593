"""Namespace leases on the local cluster: names, labels, limits, cleanup and what blocks it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sparkrig.cli import main
from sparkrig.cluster.base import ClusterInfo
from sparkrig.errors import InfrastructureError
from sparkrig.kube import lease as lease_module
from sparkrig.kube.client import KubeClient, namespaced_path
from sparkrig.kube.lease import (
    ANNOTATION_EXPIRES_AT,
    NamespaceLease,
    cleanup_leases,
    list_managed_namespaces,
    namespace_lease,
)
from sparkrig.kube.names import is_dns1123_label, is_label_value, random_suffix
from sparkrig.scenario.model import Resources, Scenario

pytestmark = pytest.mark.integration

HOLD_FINALIZER = "sparkrig.test/hold"


def _scenario(name: str = "lease-test", **fields: Any) -> Scenario:
    return Scenario(name=name, tier="smoke", source=Path("/nonexistent/scenario.yaml"), **fields)


def _run_id() -> str:
    return f"test-{datetime.now(UTC):%H%M%S}-{random_suffix()}"


@pytest.fixture()
def client(cluster: ClusterInfo) -> Iterator[KubeClient]:
    with KubeClient(cluster) as api:
        yield api


def _namespace(client: KubeClient, name: str) -> dict[str, Any] | None:
    return client.get(f"/api/v1/namespaces/{name}")


def test_concurrent_leases_get_unique_namespaces_and_none_remain(
    cluster: ClusterInfo, client: KubeClient
) -> None:
    run_id = _run_id()
    scenario = _scenario("same-scenario")
    leases = [NamespaceLease(client, scenario, run_id=run_id, attempt=1) for _ in range(6)]
    threads = [threading.Thread(target=lease.create) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    names = {lease.namespace for lease in leases}
    assert len(names) == 6
    assert all(lease.created for lease in leases)
    assert len(list_managed_namespaces(cluster, run_id=run_id)) == 6

    reports: list[Any] = []
    releasers = [
        threading.Thread(target=lambda lease=lease: reports.append(
            lease.release_lease(helm=None, uninstall=False)))
        for lease in leases
    ]
    for thread in releasers:
        thread.start()
    for thread in releasers:
        thread.join()

    assert len(reports) == 6
    assert all(report.removed for report in reports)
    assert list_managed_namespaces(cluster, run_id=run_id) == []


def test_namespace_has_labels_expiry_and_scenario_labels(
    cluster: ClusterInfo, client: KubeClient
) -> None:
    run_id = _run_id()
    scenario = _scenario(
        "labelled", timeout=120, labels={"pod-security.kubernetes.io/enforce": "restricted"}
    )
    before = datetime.now(UTC).replace(microsecond=0)
    with namespace_lease(cluster, scenario, run_id=run_id, attempt=2) as lease:
        body = _namespace(client, lease.namespace)
        assert body is not None
        labels = body["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "sparkrig"
        assert labels["sparkrig/run-id"] == run_id
        assert labels["sparkrig/scenario"] == "labelled"
        assert labels["sparkrig/tier"] == "smoke"
        assert labels["sparkrig/attempt"] == "2"
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        expires = datetime.fromisoformat(
            body["metadata"]["annotations"][ANNOTATION_EXPIRES_AT].replace("Z", "+00:00")
        )
        assert (expires - before).total_seconds() >= 120
    assert _namespace(client, lease.namespace) is None


def test_resources_create_quota_and_limit_range(cluster: ClusterInfo, client: KubeClient) -> None:
    scenario = _scenario("limited", resources=Resources(cpu_millis=1000, memory_bytes=1 << 30,
                                                        pods=4))
    with namespace_lease(cluster, scenario, run_id=_run_id()) as lease:
        quotas = client.list(namespaced_path(lease.namespace, "resourcequotas"))
        limit_ranges = client.list(namespaced_path(lease.namespace, "limitranges"))
        assert [item["spec"]["hard"]["pods"] for item in quotas] == ["4"]
        assert len(limit_ranges) == 1
        # A pod without requests is admitted thanks to the LimitRange defaults.
        pod = {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "no-requests"},
            "spec": {"containers": [{"name": "c", "image": "example.invalid/none"}]},
        }
        created = client.create(namespaced_path(lease.namespace, "pods"), pod)
        requests = created["spec"]["containers"][0]["resources"]["requests"]
        assert requests == {"cpu": "100m", "memory": "128Mi"}


@pytest.mark.parametrize(
    "name", ["Spark_3.5.7 Smoke/Connect", "x" * 200, "Ünïcödé scénario", "日本語のシナリオ"]
)
def test_hostile_scenario_names_get_valid_names(
    cluster: ClusterInfo, client: KubeClient, name: str
) -> None:
    with namespace_lease(cluster, _scenario(name), run_id=_run_id()) as lease:
        assert is_dns1123_label(lease.namespace)
        assert len(lease.release) <= 53
        assert is_dns1123_label(lease.release)
        body = _namespace(client, lease.namespace)
        assert body is not None
        assert is_label_value(body["metadata"]["labels"]["sparkrig/scenario"])
        assert body["metadata"]["annotations"]["sparkrig/scenario-name"] == name


def test_name_conflict_is_retried_with_a_new_suffix(
    cluster: ClusterInfo, client: KubeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = f"spark-test-taken-{random_suffix(8)}"
    client.create("/api/v1/namespaces", {"metadata": {"name": taken}})
    original = lease_module.namespace_name
    calls: list[str] = []

    def first_taken(scenario: str, *, when: datetime, suffix: str | None = None) -> str:
        name = taken if not calls else original(scenario, when=when, suffix=suffix)
        calls.append(name)
        return name

    monkeypatch.setattr(lease_module, "namespace_name", first_taken)
    try:
        with namespace_lease(cluster, _scenario("conflict"), run_id=_run_id()) as lease:
            assert lease.namespace != taken
            assert calls[0] == taken
            assert _namespace(client, lease.namespace) is not None
    finally:
        client.delete(f"/api/v1/namespaces/{taken}")


def test_name_conflicts_exhausted_raise_an_infrastructure_error(
    cluster: ClusterInfo, client: KubeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = f"spark-test-taken-{random_suffix(8)}"
    client.create("/api/v1/namespaces", {"metadata": {"name": taken}})
    monkeypatch.setattr(lease_module, "namespace_name", lambda *args, **kwargs: taken)
    try:
        lease = NamespaceLease(client, _scenario("conflict"), run_id=_run_id(), attempt=1)
        with pytest.raises(InfrastructureError, match="conflicted 5 times"):
            lease.create()
    finally:
        client.delete(f"/api/v1/namespaces/{taken}")


def test_finalizer_held_namespace_is_reported(
    cluster: ClusterInfo, client: KubeClient
) -> None:
    lease = NamespaceLease(client, _scenario("held"), run_id=_run_id(), attempt=1)
    lease.create()
    configmap_path = namespaced_path(lease.namespace, "configmaps", "held")
    client.create(namespaced_path(lease.namespace, "configmaps"), {
        "metadata": {"name": "held", "finalizers": [HOLD_FINALIZER]}, "data": {"a": "b"},
    })
    try:
        started = time.monotonic()
        report = lease.release_lease(helm=None, uninstall=False, timeout=8)
        elapsed = time.monotonic() - started

        assert not report.removed
        assert elapsed < 30
        assert HOLD_FINALIZER in report.finalizers
        assert f"configmap/held has finalizer {HOLD_FINALIZER}" in report.detail
        assert "Terminating" in report.detail
    finally:
        client.patch(configmap_path, {"metadata": {"finalizers": None}})
    final = lease_module.wait_namespace_gone(client, lease.namespace, timeout=60)
    assert final.removed


def test_kept_namespace_is_removed_by_cleanup(
    cluster: ClusterInfo, client: KubeClient
) -> None:
    run_id = _run_id()
    with pytest.raises(RuntimeError), namespace_lease(  # noqa: PT012 - the body must raise
        cluster, _scenario("kept"), run_id=run_id, keep_on_failure=True
    ) as lease:
        raise RuntimeError("the scenario failed")
    assert _namespace(client, lease.namespace) is not None

    removed = cleanup_leases(cluster, run_id=run_id, scenario="kept")

    assert removed == [lease.namespace]
    assert _namespace(client, lease.namespace) is None


def test_cleanup_command_removes_a_run(
    cluster: ClusterInfo, client: KubeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = _run_id()
    leases = [NamespaceLease(client, _scenario(f"left-{index}"), run_id=run_id, attempt=1)
              for index in range(2)]
    for lease in leases:
        lease.create()

    exit_code = main(["cleanup", "--run-id", run_id, "--cluster", "existing"])

    output = capsys.readouterr().out
    assert exit_code == 0
    for lease in leases:
        assert f"removed {lease.namespace}" in output
        assert _namespace(client, lease.namespace) is None
    assert "2 of 2 namespaces removed" in output

    assert main(["cleanup", "--run-id", run_id, "--cluster", "existing"]) == 0
    assert "nothing to clean" in capsys.readouterr().out
