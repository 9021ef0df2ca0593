"""The local cluster behaves like a real one where the rig depends on it.

Each test works in namespaces of its own on the session's cluster, so the
tests are independent of each other and of their order.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sparkrig.cluster.base import ClusterInfo
from sparkrig.cluster.nodes import api_client, close_client

pytestmark = pytest.mark.integration

CHART = Path(__file__).parent / "charts" / "tiny"
WAIT_SECONDS = 90.0


def wait_until(check: Callable[[], bool], description: str,
               timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {description}")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def api(cluster: ClusterInfo) -> Iterator[client.ApiClient]:
    assert cluster.kubeconfig is not None
    api = api_client(cluster.kubeconfig)
    yield api
    close_client(api)


@pytest.fixture()
def namespace(api: client.ApiClient) -> Iterator[str]:
    name = f"it-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    try:
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


def pod(name: str, **container: Any) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name="main", image="registry.example/app:1",
                                           **container)]
        ),
    )


def test_cluster_info_describes_local_cluster(cluster: ClusterInfo) -> None:
    assert cluster.provider == "local"
    assert cluster.capabilities == frozenset()
    assert cluster.server.startswith("https://127.0.0.1:")
    assert cluster.version == "v1.37.2"
    assert cluster.tools_path is not None
    assert (cluster.tools_path / "helm").is_file()
    assert (cluster.tools_path / "kubectl").is_file()
    assert cluster.capacity is not None
    assert cluster.capacity.cpu_millis == 4 * 16_000
    assert cluster.capacity.memory_bytes == 4 * 64 * 2**30
    assert cluster.capacity.pods == 4 * 110


def test_namespace_delete_removes_it(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    name = f"it-gone-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_config_map(
        name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="data"), data={"k": "v"})
    )
    core.delete_namespace(name)

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except ApiException as exc:
            if exc.status == 404:
                return True
            raise
        return False

    wait_until(gone, f"namespace {name} to be removed by the namespace controller")


def test_deployment_gets_ready_pods_on_kwok_nodes(api: client.ApiClient, namespace: str) -> None:
    apps = client.AppsV1Api(api)
    labels = {"app": "web"}
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=3,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[
                    client.V1Container(name="web", image="registry.example/web:1")
                ]),
            ),
        ),
    )
    apps.create_namespaced_deployment(namespace, deployment)

    def available() -> bool:
        status = apps.read_namespaced_deployment_status("web", namespace).status
        return bool(status.available_replicas == 3)

    wait_until(available, "deployment web to have 3 available replicas")
    replica_sets = apps.list_namespaced_replica_set(namespace).items
    assert len(replica_sets) == 1
    assert replica_sets[0].metadata.owner_references[0].name == "web"
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 3
    for item in pods:
        assert item.spec.node_name.startswith("kwok-node-")
        assert item.status.phase == "Running"
        ready = {c.type: c.status for c in item.status.conditions}["Ready"]
        assert ready == "True"


def test_job_pod_completes(api: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api)
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name="once"),
        spec=client.V1JobSpec(
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    containers=[client.V1Container(name="task", image="registry.example/t:1")],
                )
            ),
        ),
    )
    batch.create_namespaced_job(namespace, job)

    def succeeded() -> bool:
        return bool(batch.read_namespaced_job_status("once", namespace).status.succeeded == 1)

    wait_until(succeeded, "job once to succeed")
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace).items
    assert [item.status.phase for item in pods] == ["Succeeded"]


def test_resource_quota_rejects_pod_over_quota(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    quota = client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="small"),
        spec=client.V1ResourceQuotaSpec(hard={"requests.cpu": "1", "pods": "5"}),
    )
    core.create_namespaced_resource_quota(namespace, quota)

    def quota_counted() -> bool:
        status = core.read_namespaced_resource_quota("small", namespace).status
        return bool(status and status.hard)

    wait_until(quota_counted, "the quota controller to fill in quota status")
    big = pod("big", resources=client.V1ResourceRequirements(requests={"cpu": "2"}))
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_pod(namespace, big)
    assert raised.value.status == 403
    assert "exceeded quota" in str(raised.value.body)

    small = pod("small", resources=client.V1ResourceRequirements(requests={"cpu": "500m"}))
    core.create_namespaced_pod(namespace, small)


def test_limit_range_fills_in_defaults(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    limit_range = client.V1LimitRange(
        metadata=client.V1ObjectMeta(name="defaults"),
        spec=client.V1LimitRangeSpec(limits=[
            client.V1LimitRangeItem(
                type="Container",
                default={"cpu": "300m", "memory": "128Mi"},
                default_request={"cpu": "200m", "memory": "64Mi"},
            )
        ]),
    )
    core.create_namespaced_limit_range(namespace, limit_range)

    created = core.create_namespaced_pod(namespace, pod("plain"))
    resources = created.spec.containers[0].resources
    assert resources.limits == {"cpu": "300m", "memory": "128Mi"}
    assert resources.requests == {"cpu": "200m", "memory": "64Mi"}


def test_restricted_namespace_rejects_privileged_pod(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    name = f"it-psa-{uuid.uuid4().hex[:8]}"
    labels = {"pod-security.kubernetes.io/enforce": "restricted"}
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name,
                                                                          labels=labels)))
    try:
        privileged = pod("root", security_context=client.V1SecurityContext(privileged=True))
        with pytest.raises(ApiException) as raised:
            core.create_namespaced_pod(name, privileged)
        assert raised.value.status == 403
        message = json.loads(raised.value.body)["message"]
        assert 'violates PodSecurity "restricted:latest"' in message
        assert "privileged" in message
    finally:
        core.delete_namespace(name)


def test_role_binding_allows_pods_only_in_its_namespace(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    rbac = client.RbacAuthorizationV1Api(api)
    suffix = uuid.uuid4().hex[:8]
    own, other = f"it-rbac-{suffix}", f"it-other-{suffix}"
    for name in (own, other):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        core.create_namespaced_service_account(
            own, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="deployer"))
        )
        rbac.create_namespaced_role(own, client.V1Role(
            metadata=client.V1ObjectMeta(name="pod-creator"),
            rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["create"])],
        ))
        rbac.create_namespaced_role_binding(own, client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="deployer-creates-pods"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role",
                                      name="pod-creator"),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name="deployer",
                                           namespace=own)],
        ))

        def allowed(namespace: str) -> bool:
            review = client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
                user=f"system:serviceaccount:{own}:deployer",
                groups=["system:serviceaccounts", f"system:serviceaccounts:{own}"],
                resource_attributes=client.V1ResourceAttributes(
                    namespace=namespace, verb="create", resource="pods"
                ),
            ))
            result = client.AuthorizationV1Api(api).create_subject_access_review(review)
            return bool(result.status.allowed)

        assert allowed(own)
        assert not allowed(other)
    finally:
        for name in (own, other):
            core.delete_namespace(name)


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, (
        f"{' '.join(argv)} failed with exit code {completed.returncode}:\n"
        f"{completed.stdout}\n{completed.stderr}"
    )
    return completed


def test_helm_install_test_uninstall(cluster: ClusterInfo, namespace: str) -> None:
    assert cluster.tools_path is not None
    helm = str(cluster.tools_path / "helm")
    release = "tiny"

    run(helm, "install", release, str(CHART), "--namespace", namespace, "--wait",
        "--timeout", "2m")
    tested = run(helm, "test", release, "--namespace", namespace, "--logs", "--timeout", "2m")
    assert "Phase:          Succeeded" in tested.stdout
    assert "KWOK simulated this container" in tested.stdout
    run(helm, "uninstall", release, "--namespace", namespace, "--wait", "--timeout", "2m")
    listed = run(helm, "list", "--namespace", namespace, "--short")
    assert listed.stdout.strip() == ""


def test_tools_on_path_are_the_cluster_ones(cluster: ClusterInfo) -> None:
    kubectl = run("kubectl", "version", "--output=json")
    assert '"gitVersion": "v1.37.2"' in kubectl.stdout
    nodes = run("kubectl", "get", "nodes", "--no-headers")
    assert len(nodes.stdout.strip().splitlines()) == 4
