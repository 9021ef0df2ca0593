"""Diagnostics of a failed attempt, written to `scenario_dir/diagnostics/` before cleanup.

What a person debugging a failed chart install looks at first:

- `events.txt`: the namespace's events, oldest first;
- `pods/<pod>.<container>.log`: the last `LOG_TAIL_LINES` lines of each
  container (on the local cluster, KWOK's line saying that it simulated the
  container; where the API returns an error, such as for a pod not yet
  started, its text);
- `helm-status.txt` and `helm-values.yaml`: `helm status` and `helm get values --all`
  (for a release never installed, one line saying so and no values file);
- `not-ready.yaml`: the full objects that are not ready (pods not Ready,
  deployments and statefulsets short of ready replicas, jobs that failed).

Collection catches every exception and starts no new item once its time
budget is spent. `collect_diagnostics` returns the files it wrote and a note
per item that failed, and writes those notes into `errors.txt`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sparkrig.kube.client import KubeApiError, KubeClient, namespaced_path
from sparkrig.kube.helm import Helm

__all__ = ["DIAGNOSTICS_BUDGET_SECONDS", "Diagnostics", "collect_diagnostics", "not_ready_reason"]

logger = logging.getLogger(__name__)

DIAGNOSTICS_BUDGET_SECONDS = 20.0  # part of the cleanup grace; diagnostics must not eat it all
LOG_TAIL_LINES = 200
REQUEST_TIMEOUT_SECONDS = 5.0
_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class Diagnostics:
    """The files a collection wrote and the items it could not collect."""

    directory: Path
    files: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _condition(obj: dict[str, Any], kind: str) -> str | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None


def not_ready_reason(kind: str, obj: dict[str, Any]) -> str | None:
    """Return why an object of `kind` is not ready, or None when it is."""
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    if kind == "Pod":
        if status.get("phase") == "Succeeded":
            return None
        if _condition(obj, "Ready") != "True":
            return f"phase {status.get('phase', 'unknown')}, Ready={_condition(obj, 'Ready')}"
        return None
    if kind == "Deployment":
        if _condition(obj, "Available") != "True":
            return f"Available={_condition(obj, 'Available')}"
        return None
    if kind == "StatefulSet":
        wanted = spec.get("replicas", 1)
        ready = status.get("readyReplicas", 0)
        return None if ready >= wanted else f"{ready}/{wanted} replicas ready"
    if kind == "Job":
        if _condition(obj, "Failed") == "True":
            return "Failed"
        return None
    return None


def _safe(name: str) -> str:
    return _FILE_UNSAFE.sub("-", name)


def _event_sort_key(event: dict[str, Any]) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def _format_events(events: list[dict[str, Any]]) -> str:
    lines = []
    for event in sorted(events, key=_event_sort_key):
        involved = event.get("involvedObject") or {}
        lines.append(
            f"{_event_sort_key(event)}  {event.get('type', '')}  {event.get('reason', '')}  "
            f"{involved.get('kind', '')}/{involved.get('name', '')}  "
            f"(x{event.get('count') or 1})  {event.get('message', '')}".rstrip()
        )
    return "\n".join(lines) + "\n" if lines else "no events\n"


class _Collector:
    def __init__(self, client: KubeClient, helm: Helm | None, namespace: str, release: str,
                 directory: Path, budget: float) -> None:
        self.client = client
        self.helm = helm
        self.namespace = namespace
        self.release = release
        self.result = Diagnostics(directory=directory)
        self.deadline = time.monotonic() + budget

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def write(self, name: str, text: str) -> None:
        path = self.result.directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.result.files.append(path)

    def item(self, what: str, collect: Callable[[], None]) -> None:
        if self.remaining() <= 0:
            self.result.errors.append(f"{what}: skipped, diagnostics time budget spent")
            return
        try:
            collect()
        except Exception as exc:  # noqa: BLE001 - diagnostics must never fail the caller
            logger.debug("diagnostics %s failed", what, exc_info=True)
            self.result.errors.append(f"{what}: {type(exc).__name__}: {exc}")

    def events(self) -> None:
        events = self.client.list(namespaced_path(self.namespace, "events"),
                                  timeout=REQUEST_TIMEOUT_SECONDS)
        self.write("events.txt", _format_events(events))

    def pod_logs(self) -> None:
        pods = self.client.list(namespaced_path(self.namespace, "pods"),
                                timeout=REQUEST_TIMEOUT_SECONDS)
        for pod in pods:
            name = pod["metadata"]["name"]
            spec = pod.get("spec") or {}
            containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
            phase = (pod.get("status") or {}).get("phase") or "in no known phase"
            where = f"on node {spec['nodeName']}" if spec.get("nodeName") else "not scheduled"
            for container in containers:
                if self.remaining() <= 0:
                    self.result.errors.append("pod logs: stopped, time budget spent")
                    return
                self._pod_log(name, container["name"], state=f"{phase}, {where}")

    def _pod_log(self, pod: str, container: str, *, state: str) -> None:
        path = namespaced_path(self.namespace, "pods", pod) + "/log"
        query = {"container": container, "tailLines": str(LOG_TAIL_LINES)}
        try:
            text = self.client.request("GET", path, query=query, raw=True,
                                       timeout=min(REQUEST_TIMEOUT_SECONDS, self.remaining()))
        except KubeApiError as exc:
            # Expected for a pod that has not started (unscheduled, pulling) or is gone.
            text = f"logs unavailable: {exc}\n"
        if not text.strip():  # the API server returns no lines for an unscheduled pod
            text = f"no log lines: the pod is {state}\n"
        self.write(f"pods/{_safe(pod)}.{_safe(container)}.log", text)

    def not_ready(self) -> None:
        kinds = (("v1", "pods", "Pod"), ("apps/v1", "deployments", "Deployment"),
                 ("apps/v1", "statefulsets", "StatefulSet"), ("batch/v1", "jobs", "Job"))
        documents = []
        for group_version, plural, kind in kinds:
            items = self.client.list(namespaced_path(self.namespace, plural,
                                                     group_version=group_version),
                                     timeout=REQUEST_TIMEOUT_SECONDS)
            for obj in items:
                reason = not_ready_reason(kind, obj)
                if reason is None:
                    continue
                obj.setdefault("kind", kind)
                obj.setdefault("apiVersion", group_version)
                (obj.get("metadata") or {}).pop("managedFields", None)
                documents.append({"notReady": reason, **obj})
        text = yaml.safe_dump_all(documents, sort_keys=False) if documents else "# all ready\n"
        self.write("not-ready.yaml", text)

    def helm_outputs(self) -> None:
        if self.helm is None:
            return
        budget = max(min(REQUEST_TIMEOUT_SECONDS * 2, self.remaining()), 1.0)
        status = self.helm.status(self.release, self.namespace, timeout=budget)
        if status.exit_code != 0 and "release: not found" in status.output:
            # The failure came before any install: one line instead of helm's error, no values.
            self.write("helm-status.txt", f"release {self.release} was never installed in "
                       f"{self.namespace}\n")
            return
        self.write("helm-status.txt", status.output or f"exit code {status.exit_code}\n")
        budget = max(min(REQUEST_TIMEOUT_SECONDS * 2, self.remaining()), 1.0)
        values = self.helm.get_values(self.release, self.namespace, timeout=budget)
        self.write("helm-values.yaml", values.output or f"# exit code {values.exit_code}\n")


def collect_diagnostics(
    client: KubeClient,
    helm: Helm | None,
    *,
    namespace: str,
    release: str,
    directory: Path,
    budget: float = DIAGNOSTICS_BUDGET_SECONDS,
) -> Diagnostics:
    """Write the diagnostics of `namespace` and `release` into `directory`; never raises."""
    collector = _Collector(client, helm, namespace, release, directory, budget)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        collector.result.errors.append(f"cannot create {directory}: {exc}")
        return collector.result
    collector.item("events", collector.events)
    collector.item("not-ready objects", collector.not_ready)
    collector.item("helm status and values", collector.helm_outputs)
    collector.item("pod logs", collector.pod_logs)
    if collector.result.errors:
        collector.item("errors", lambda: collector.write(
            "errors.txt", "\n".join(collector.result.errors) + "\n"))
    return collector.result
