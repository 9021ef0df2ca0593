"""KWOK nodes and capacity, read and written with the official Kubernetes client.

A KWOK node is an ordinary Node object that carries KWOK's annotation; KWOK
then plays its kubelet. The allocatable capacity is set in the object's
status at creation, and KWOK's `node-ready` stage keeps it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.utils.quantity import parse_quantity

from sparkrig.cluster.base import Capacity

__all__ = [
    "api_client",
    "close_client",
    "register_nodes",
    "ready_node_count",
    "has_default_service_account",
    "node_name",
    "read_capacity",
]

NODE_PREFIX = "kwok-node"
# Each request of these helpers runs on a live loopback cluster; 10 s is generous.
REQUEST_TIMEOUT = 10


def api_client(kubeconfig: Path, context: str | None = None) -> client.ApiClient:
    """Return an API client for one kubeconfig file and context."""
    api = config.new_client_from_config(  # type: ignore[no-untyped-call] # untyped in the client
        config_file=str(kubeconfig), context=context
    )
    return cast(client.ApiClient, api)


def close_client(api: client.ApiClient) -> None:
    """Close the client's connection pool."""
    api.close()  # type: ignore[no-untyped-call] # untyped in the client


def _quantity(value: str) -> Decimal:
    parsed = parse_quantity(value)  # type: ignore[no-untyped-call] # untyped in the client
    return cast(Decimal, parsed)


def node_name(index: int) -> str:
    return f"{NODE_PREFIX}-{index}"


def register_nodes(api: client.ApiClient, *, count: int, cpu: str, memory: str, pods: int,
                   annotation: tuple[str, str], kubelet_version: str) -> None:
    """Create `count` nodes with the given allocatable capacity; existing ones are kept."""
    core = client.CoreV1Api(api)
    resources = {"cpu": cpu, "memory": memory, "pods": str(pods)}
    key, value = annotation
    for index in range(count):
        name = node_name(index)
        body = client.V1Node(
            api_version="v1",
            kind="Node",
            metadata=client.V1ObjectMeta(
                name=name,
                annotations={
                    key: value,
                    "node.alpha.kubernetes.io/ttl": "0",
                    # Read by the node-ready stage in gomod/kwok/stages.yaml.
                    "sparkrig_kubelet_version": kubelet_version,
                },
                labels={
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                },
            ),
            spec=client.V1NodeSpec(),
            status=client.V1NodeStatus(allocatable=resources, capacity=resources),
        )
        try:
            core.create_node(body, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status != 409:
                raise


def _is_ready(node: client.V1Node) -> bool:
    conditions = node.status.conditions if node.status else None
    return any(c.type == "Ready" and c.status == "True" for c in conditions or [])


def ready_node_count(api: client.ApiClient) -> int:
    core = client.CoreV1Api(api)
    items = core.list_node(_request_timeout=REQUEST_TIMEOUT).items
    return sum(1 for node in items if _is_ready(node))


def has_default_service_account(api: client.ApiClient) -> bool:
    core = client.CoreV1Api(api)
    try:
        core.read_namespaced_service_account("default", "default",
                                             _request_timeout=REQUEST_TIMEOUT)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def read_capacity(api: client.ApiClient) -> Capacity:
    """Sum the allocatable CPU, memory and pods of Ready nodes that accept pods."""
    core = client.CoreV1Api(api)
    cpu_millis = memory_bytes = pods = 0
    for node in core.list_node(_request_timeout=REQUEST_TIMEOUT).items:
        if not _is_ready(node) or (node.spec and node.spec.unschedulable):
            continue
        allocatable = (node.status.allocatable or {}) if node.status else {}
        cpu_millis += int(_quantity(allocatable.get("cpu", "0")) * 1000)
        memory_bytes += int(_quantity(allocatable.get("memory", "0")))
        pods += int(_quantity(allocatable.get("pods", "0")))
    return Capacity(cpu_millis=cpu_millis, memory_bytes=memory_bytes, pods=pods)
