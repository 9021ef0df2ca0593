"""Namespace leases: the namespace and release a scenario attempt holds while it runs.

A lease creates a namespace of its own for each attempt, labelled so that
`sparkrig cleanup` can find it after a crash:

- `app.kubernetes.io/managed-by=sparkrig`, `sparkrig/run-id`, `sparkrig/scenario`
  (the label form of the name), `sparkrig/tier`, `sparkrig/attempt`, plus the
  scenario's own `labels` (for example Pod Security admission levels);
- the annotation `sparkrig/expires-at` (ISO 8601 UTC): start + scenario timeout
  + `EXPIRY_MARGIN_SECONDS`, after which no live run still owns it.

A name conflict (HTTP 409) is retried with a new random suffix, at most
`CREATE_ATTEMPTS` times, then reported as an infrastructure error.

When the scenario declares `resources`, the namespace gets a ResourceQuota on
`requests.cpu`, `requests.memory` and `pods`, and a LimitRange whose
`defaultRequest` gives containers without requests a share that fits. That
share is the smaller of 100m CPU / 128Mi memory and the quota divided by the
pod count, so as many default pods as the quota allows are admitted. No default limits
are set, because a default limit below a chart's explicit request would reject
the pod.

Release, in this order: `helm uninstall` (when a release may exist), delete the
namespace, then wait until it is gone, bounded by the caller's budget. A
namespace still Terminating at the end of the wait is reported with what holds
it (its own finalizers, its status conditions, and the objects left in it that
carry finalizers), and the call returns.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from sparkrig.cluster.base import ClusterInfo
from sparkrig.errors import InfrastructureError
from sparkrig.kube.client import KubeApiError, KubeClient, namespaced_path
from sparkrig.kube.helm import Helm, write_log_line
from sparkrig.kube.names import (
    label_value,
    namespace_name,
    random_suffix,
    release_name,
    scenario_label_value,
)
from sparkrig.scenario.model import Resources, Scenario

__all__ = [
    "MANAGED_BY",
    "LABEL_MANAGED_BY",
    "LABEL_RUN_ID",
    "LABEL_SCENARIO",
    "LABEL_TIER",
    "LABEL_ATTEMPT",
    "ANNOTATION_EXPIRES_AT",
    "CleanupReport",
    "NamespaceLease",
    "namespace_lease",
    "resource_limit_objects",
    "cleanup_leases",
    "cleanup_namespaces",
    "list_managed_namespaces",
    "managed_selector",
    "wait_namespace_gone",
]

logger = logging.getLogger(__name__)

MANAGED_BY = "sparkrig"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_RUN_ID = "sparkrig/run-id"
LABEL_SCENARIO = "sparkrig/scenario"
LABEL_TIER = "sparkrig/tier"
LABEL_ATTEMPT = "sparkrig/attempt"
ANNOTATION_EXPIRES_AT = "sparkrig/expires-at"
ANNOTATION_SCENARIO_NAME = "sparkrig/scenario-name"  # the name unsanitized, for people

CREATE_ATTEMPTS = 5  # namespace name conflicts retried with a new suffix before giving up
EXPIRY_MARGIN_SECONDS = 900.0  # covers cleanup grace, retries and a slow API server
NAMESPACE_WAIT_SECONDS = 30.0  # default bound on waiting for a deleted namespace to go
HELM_UNINSTALL_SECONDS = 30.0  # bound on one helm uninstall during cleanup
POLL_SECONDS = 0.5  # how often a deleted namespace is checked

DEFAULT_CPU_REQUEST_MILLIS = 100
DEFAULT_MEMORY_REQUEST_BYTES = 128 * 1024 * 1024
QUOTA_NAME = "sparkrig-quota"
LIMIT_RANGE_NAME = "sparkrig-defaults"

# Kinds searched for objects whose finalizers hold a Terminating namespace.
_FINALIZER_KINDS = (
    ("v1", "configmaps", "configmap"),
    ("v1", "secrets", "secret"),
    ("v1", "pods", "pod"),
    ("v1", "services", "service"),
    ("v1", "serviceaccounts", "serviceaccount"),
    ("v1", "persistentvolumeclaims", "persistentvolumeclaim"),
    ("apps/v1", "deployments", "deployment"),
    ("apps/v1", "replicasets", "replicaset"),
    ("apps/v1", "statefulsets", "statefulset"),
    ("batch/v1", "jobs", "job"),
)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def managed_selector(*, run_id: str | None = None, scenario: str | None = None) -> str:
    """Return the label selector of managed namespaces, narrowed to a run and a scenario."""
    parts = [f"{LABEL_MANAGED_BY}={MANAGED_BY}"]
    if run_id:
        parts.append(f"{LABEL_RUN_ID}={label_value(run_id)}")
    if scenario:
        parts.append(f"{LABEL_SCENARIO}={scenario_label_value(scenario)}")
    return ",".join(parts)


def _memory_quantity(size: int) -> str:
    """Return `size` bytes as a Kubernetes quantity, in Mi where it divides evenly."""
    mebibyte = 1024 * 1024
    return f"{size // mebibyte}Mi" if size % mebibyte == 0 else str(size)


def _default_request(total: int, pods: int, default: int) -> int:
    if not total:
        return default
    share = total // pods if pods else total
    return max(min(default, share), 1)


def resource_limit_objects(resources: Resources) -> list[dict[str, Any]]:
    """Return the ResourceQuota and LimitRange for `resources` (none when it is empty)."""
    if resources.is_empty:
        return []
    hard: dict[str, str] = {}
    if resources.cpu_millis:
        hard["requests.cpu"] = f"{resources.cpu_millis}m"
    if resources.memory_bytes:
        hard["requests.memory"] = _memory_quantity(resources.memory_bytes)
    if resources.pods:
        hard["pods"] = str(resources.pods)
    objects: list[dict[str, Any]] = [{
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": QUOTA_NAME},
        "spec": {"hard": hard},
    }]
    if resources.cpu_millis or resources.memory_bytes:
        cpu = _default_request(resources.cpu_millis, resources.pods, DEFAULT_CPU_REQUEST_MILLIS)
        memory = _default_request(
            resources.memory_bytes, resources.pods, DEFAULT_MEMORY_REQUEST_BYTES
        )
        objects.append({
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": LIMIT_RANGE_NAME},
            "spec": {"limits": [{
                "type": "Container",
                "defaultRequest": {"cpu": f"{cpu}m", "memory": _memory_quantity(memory)},
            }]},
        })
    return objects


@dataclass(frozen=True)
class CleanupReport:
    """The outcome of releasing or cleaning up one namespace."""

    namespace: str
    removed: bool  # gone from the API server within the wait
    kept: bool = False  # left in place on purpose (keep-on-failure)
    detail: str = ""  # one line: what blocks the deletion of a namespace still there
    finalizers: tuple[str, ...] = ()
    errors: tuple[str, ...] = field(default=())


def _namespace_blockers(client: KubeClient, namespace: str) -> tuple[str, tuple[str, ...]]:
    """Describe what blocks a Terminating namespace: (one line, the finalizers)."""
    finalizers: list[str] = []
    notes: list[str] = []
    try:
        body = client.get(f"/api/v1/namespaces/{namespace}")
    except KubeApiError as exc:
        return (f"cannot read namespace: {exc}", ())
    if body is None:
        return ("", ())
    spec_finalizers = (body.get("spec") or {}).get("finalizers") or []
    meta_finalizers = (body.get("metadata") or {}).get("finalizers") or []
    for name in [*meta_finalizers, *spec_finalizers]:
        finalizers.append(name)
        notes.append(f"namespace finalizer {name}")
    for condition in (body.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("message"):
            notes.append(f"{condition.get('type')}: {condition['message']}")
    for group_version, plural, kind in _FINALIZER_KINDS:
        try:
            items = client.list(namespaced_path(namespace, plural, group_version=group_version))
        except KubeApiError:
            continue
        for item in items:
            metadata = item.get("metadata") or {}
            for name in metadata.get("finalizers") or []:
                finalizers.append(name)
                notes.append(f"{kind}/{metadata.get('name')} has finalizer {name}")
    unique = tuple(dict.fromkeys(finalizers))
    return ("; ".join(dict.fromkeys(notes)) or "no finalizers found", unique)


def wait_namespace_gone(
    client: KubeClient, namespace: str, *, timeout: float
) -> CleanupReport:
    """Wait up to `timeout` seconds for `namespace` to disappear; report what blocks it if not."""
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        try:
            body = client.get(f"/api/v1/namespaces/{namespace}", timeout=min(timeout, 10) or 1)
        except KubeApiError as exc:
            body = {}
            last_error = str(exc)
        else:
            last_error = ""
            if body is None:
                return CleanupReport(namespace=namespace, removed=True)
        if time.monotonic() >= deadline:
            break
        time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))
    detail, finalizers = _namespace_blockers(client, namespace)
    phase = ((body or {}).get("status") or {}).get("phase", "unknown")
    line = f"namespace {namespace} still {phase} after {timeout:.0f}s: {detail}"
    if last_error:
        line += f" (last error: {last_error})"
    return CleanupReport(namespace=namespace, removed=False, detail=line, finalizers=finalizers)


class NamespaceLease:
    """The namespace and release of one scenario attempt."""

    def __init__(
        self,
        client: KubeClient,
        scenario: Scenario,
        *,
        run_id: str,
        attempt: int,
        release: str | None = None,
        log: BinaryIO | None = None,
        now: datetime | None = None,
    ) -> None:
        self.client = client
        self.scenario = scenario
        self.run_id = run_id
        self.attempt = attempt
        self.log = log
        self.started = now or datetime.now(UTC)
        self.release = release or release_name(scenario.name)
        self.namespace = namespace_name(scenario.name, when=self.started)
        self.expires_at = self.started + timedelta(
            seconds=scenario.timeout + EXPIRY_MARGIN_SECONDS
        )
        self.created = False

    def _note(self, message: str) -> None:
        logger.debug("%s", message)
        if self.log is not None:
            write_log_line(self.log, message)

    @property
    def labels(self) -> dict[str, str]:
        labels = dict(self.scenario.labels)
        labels.update({
            LABEL_MANAGED_BY: MANAGED_BY,
            LABEL_RUN_ID: label_value(self.run_id),
            LABEL_SCENARIO: scenario_label_value(self.scenario.name),
            LABEL_TIER: label_value(self.scenario.tier),
            LABEL_ATTEMPT: str(self.attempt),
        })
        return labels

    def _namespace_body(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": self.namespace,
                "labels": self.labels,
                "annotations": {
                    ANNOTATION_EXPIRES_AT: _iso(self.expires_at),
                    ANNOTATION_SCENARIO_NAME: self.scenario.name,
                },
            },
        }

    def create(self) -> None:
        """Create the namespace (retrying name conflicts) and its quota and limit range.

        Raises `InfrastructureError` when every name conflicts or the API rejects
        the namespace or its limits.
        """
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                self.client.create("/api/v1/namespaces", self._namespace_body())
            except KubeApiError as exc:
                if exc.status != 409:
                    raise InfrastructureError(
                        f"cannot create namespace {self.namespace} for scenario "
                        f"{self.scenario.name!r}: {exc}"
                    ) from exc
                self._note(f"namespace {self.namespace} exists (try {attempt}); new suffix")
                self.namespace = namespace_name(
                    self.scenario.name, when=self.started, suffix=random_suffix()
                )
                continue
            self.created = True
            break
        else:
            raise InfrastructureError(
                f"namespace names for scenario {self.scenario.name!r} conflicted "
                f"{CREATE_ATTEMPTS} times; remove leftovers with `sparkrig cleanup --all`"
            )
        self._note(f"created namespace {self.namespace} (release {self.release}, "
                   f"expires {_iso(self.expires_at)})")
        for body in resource_limit_objects(self.scenario.resources):
            plural = "resourcequotas" if body["kind"] == "ResourceQuota" else "limitranges"
            try:
                self.client.create(namespaced_path(self.namespace, plural), body)
            except KubeApiError as exc:
                raise InfrastructureError(
                    f"cannot create {body['kind']} in namespace {self.namespace}: {exc}; "
                    f"check the resources of scenario {self.scenario.name!r}"
                ) from exc
            self._note(f"created {body['kind']} {body['metadata']['name']}: "
                       f"{body['spec'].get('hard') or body['spec']['limits'][0]}")

    def release_lease(
        self,
        *,
        helm: Helm | None,
        uninstall: bool,
        keep: bool = False,
        timeout: float = NAMESPACE_WAIT_SECONDS + HELM_UNINSTALL_SECONDS,
    ) -> CleanupReport:
        """Uninstall the release, delete the namespace and wait for it, within `timeout` seconds.

        With `keep`, nothing is removed and the report gives the command to inspect the
        namespace. Never raises for API or Helm failures: they go into the report.
        """
        if not self.created:
            return CleanupReport(namespace=self.namespace, removed=True)
        if keep:
            hint = f"kubectl get all,events -n {self.namespace}"
            self._note(f"keeping namespace {self.namespace} (keep-on-failure); inspect: {hint}")
            return CleanupReport(namespace=self.namespace, removed=False, kept=True,
                                 detail=f"kept for debugging; inspect with: {hint}")
        deadline = time.monotonic() + timeout
        errors: list[str] = []
        if uninstall and helm is not None:
            budget = min(HELM_UNINSTALL_SECONDS, max(deadline - time.monotonic(), 1.0) / 2)
            result = helm.uninstall(self.release, self.namespace, wait=False, timeout=budget)
            if not result.ok:
                errors.append(f"helm uninstall {self.release}: {result.tail(2) or 'timed out'}")
        try:
            self.client.delete(f"/api/v1/namespaces/{self.namespace}")
        except KubeApiError as exc:
            errors.append(f"delete namespace: {exc}")
        report = wait_namespace_gone(
            self.client, self.namespace, timeout=max(deadline - time.monotonic(), 1.0)
        )
        if report.removed:
            self._note(f"namespace {self.namespace} deleted")
        else:
            self._note(report.detail)
        return CleanupReport(
            namespace=report.namespace,
            removed=report.removed,
            detail=report.detail,
            finalizers=report.finalizers,
            errors=tuple(errors),
        )


@contextlib.contextmanager
def namespace_lease(
    cluster: ClusterInfo,
    scenario: Scenario,
    *,
    run_id: str,
    attempt: int = 1,
    log: BinaryIO | None = None,
    keep_on_failure: bool = False,
    uninstall: bool = True,
) -> Iterator[NamespaceLease]:
    """Hold a namespace lease for the body of a `with` block, released on any exit.

    The release is uninstalled and the namespace deleted on success, failure
    and interrupt; with `keep_on_failure`, a block that raised keeps them.
    """
    with KubeClient(cluster) as client:
        lease = NamespaceLease(client, scenario, run_id=run_id, attempt=attempt, log=log)
        lease.create()
        failed = True
        try:
            yield lease
            failed = False
        finally:
            helm = _helm_or_none(cluster, log) if uninstall else None
            lease.release_lease(helm=helm, uninstall=uninstall,
                                keep=keep_on_failure and failed)


def _helm_or_none(cluster: ClusterInfo, log: BinaryIO | None) -> Helm | None:
    if log is None:
        return None
    try:
        return Helm(cluster=cluster, log=log)
    except InfrastructureError as exc:
        logger.warning("skipping helm uninstall: %s", exc)
        return None


def cleanup_namespaces(
    cluster: ClusterInfo,
    namespaces: list[str],
    *,
    log: BinaryIO,
    timeout: float = NAMESPACE_WAIT_SECONDS,
) -> list[CleanupReport]:
    """Uninstall every release in `namespaces`, delete them, and wait for them together.

    The wait is bounded by `timeout` seconds in total; namespaces still there
    afterwards are reported with what holds them.
    """
    if not namespaces:
        return []
    helm = _helm_or_none(cluster, log)
    errors: dict[str, list[str]] = {name: [] for name in namespaces}
    with KubeClient(cluster) as client:
        for namespace in namespaces:
            if helm is not None:
                try:
                    releases = helm.list_releases(namespace, timeout=HELM_UNINSTALL_SECONDS)
                except InfrastructureError as exc:
                    errors[namespace].append(str(exc))
                    releases = []
                for release in releases:
                    result = helm.uninstall(release, namespace, wait=False,
                                            timeout=HELM_UNINSTALL_SECONDS)
                    if not result.ok:
                        errors[namespace].append(f"helm uninstall {release}: {result.tail(2)}")
            try:
                client.delete(f"/api/v1/namespaces/{namespace}")
            except KubeApiError as exc:
                errors[namespace].append(f"delete namespace: {exc}")
        deadline = time.monotonic() + timeout
        reports = []
        for namespace in namespaces:
            report = wait_namespace_gone(
                client, namespace, timeout=max(deadline - time.monotonic(), 0.0)
            )
            reports.append(CleanupReport(
                namespace=namespace,
                removed=report.removed,
                detail=report.detail,
                finalizers=report.finalizers,
                errors=tuple(errors[namespace]),
            ))
    return reports


def list_managed_namespaces(
    cluster: ClusterInfo, *, run_id: str | None = None, scenario: str | None = None
) -> list[dict[str, Any]]:
    """Return the namespaces sparkrig manages, narrowed to a run and a scenario."""
    with KubeClient(cluster) as client:
        return client.list(
            "/api/v1/namespaces", label_selector=managed_selector(run_id=run_id, scenario=scenario)
        )


def cleanup_leases(
    cluster: ClusterInfo, *, run_id: str, scenario: str | None = None
) -> list[str]:
    """Remove the namespaces and releases that the run `run_id` left behind.

    With `scenario`, only that scenario's namespaces. Returns the namespaces
    whose deletion was requested; those still Terminating after the bounded
    wait are logged with what holds them.
    """
    names = [
        item["metadata"]["name"]
        for item in list_managed_namespaces(cluster, run_id=run_id, scenario=scenario)
    ]
    if not names:
        return []
    # Helm's output has no scenario log to go to here; its failures reach the reports.
    with tempfile.TemporaryFile() as scratch:
        reports = cleanup_namespaces(cluster, names, log=scratch)
    for report in reports:
        if not report.removed:
            logger.warning("%s", report.detail)
        for error in report.errors:
            logger.warning("namespace %s: %s", report.namespace, error)
    return names
