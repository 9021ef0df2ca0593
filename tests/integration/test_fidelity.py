"""What real charts need from the local cluster: storage, logs, exec, webhooks, endpoints.

Each test installs a small chart written to tmp_path with the cluster's own
`helm`, in a namespace of its own, and checks the behaviour a chart's author
would expect on the local cluster: it works, or it fails at once with a
message that says why.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runs import run_attempt, write_scenario

from sparkrig.cluster import bootstrap, local
from sparkrig.cluster.base import ClusterInfo
from sparkrig.cluster.local import LocalCluster
from sparkrig.execute import AttemptOutcome
from sparkrig.kube.client import KubeClient, namespaced_path
from sparkrig.kube.names import random_suffix
from sparkrig.results import Status

pytestmark = pytest.mark.integration

# Generous bounds: the local cluster binds a claim or readies a pod in about a second.
READY_TIMEOUT = 90.0
GONE_TIMEOUT = 90.0
# A rejection by admission or by the egress proxy takes milliseconds; a hang would take minutes.
FAST_FAILURE_SECONDS = 20.0
SIMULATED_LOG = "KWOK simulated this container"

STATEFULSET = """\
apiVersion: v1
kind: Service
metadata: {name: "{{ .Release.Name }}-db"}
spec:
  clusterIP: None
  selector: {app: "{{ .Release.Name }}-db"}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: "{{ .Release.Name }}-db"}
spec:
  serviceName: "{{ .Release.Name }}-db"
  replicas: 2
  selector: {matchLabels: {app: "{{ .Release.Name }}-db"}}
  template:
    metadata: {labels: {app: "{{ .Release.Name }}-db"}}
    spec:
      containers:
        - name: db
          image: example.invalid/postgres:16
          volumeMounts: [{name: data, mountPath: /var/lib/postgresql}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}
"""

DEPLOYMENT_WITH_CLAIM = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: "{{ .Release.Name }}-events"}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 2Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: "{{ .Release.Name }}-history"}
spec:
  replicas: 1
  selector: {matchLabels: {app: "{{ .Release.Name }}-history"}}
  template:
    metadata: {labels: {app: "{{ .Release.Name }}-history"}}
    spec:
      containers:
        - name: history
          image: example.invalid/spark:4
          volumeMounts: [{name: events, mountPath: /events}]
      volumes:
        - name: events
          persistentVolumeClaim: {claimName: "{{ .Release.Name }}-events"}
"""

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: "{{ .Release.Name }}-web"}
spec:
  replicas: 2
  selector: {matchLabels: {app: "{{ .Release.Name }}-web"}}
  template:
    metadata: {labels: {app: "{{ .Release.Name }}-web"}}
    spec:
      containers:
        - name: web
          image: example.invalid/web:1
          ports: [{containerPort: 8080, name: http}]
---
apiVersion: v1
kind: Service
metadata: {name: "{{ .Release.Name }}-web"}
spec:
  selector: {app: "{{ .Release.Name }}-web"}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: "{{ .Release.Name }}-lb"}
spec:
  type: LoadBalancer
  selector: {app: "{{ .Release.Name }}-web"}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: "{{ .Release.Name }}-web"}
spec:
  rules:
    - host: web.example.invalid
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: "{{ .Release.Name }}-web", port: {number: 80}}}
---
apiVersion: v1
kind: Pod
metadata:
  name: "{{ .Release.Name }}-check"
  annotations: {helm.sh/hook: test}
spec:
  restartPolicy: Never
  containers:
    - name: check
      image: example.invalid/curl:8
      command: [curl, "http://{{ .Release.Name }}-web"]
"""

WEBHOOK = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: "{{ .Release.Name }}-operator"}
webhooks:
  - name: validate.operator.example.com
    clientConfig:
      service: {name: "{{ .Release.Name }}-operator", namespace: "{{ .Release.Namespace }}"}
    rules:
      - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
    failurePolicy: Fail
    sideEffects: None
    admissionReviewVersions: [v1]
"""


def _chart(folder: Path, name: str, templates: str) -> Path:
    chart = folder / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
    (chart / "templates" / "all.yaml").write_text(templates)
    return chart


def _run(*argv: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)


def _helm_install(chart: Path, release: str, namespace: str) -> None:
    result = _run("helm", "install", release, str(chart), "-n", namespace, "--wait",
                  "--timeout", "90s")
    assert result.returncode == 0, result.stderr


def _wait_for(check: Any, timeout: float, subject: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {subject}")
        time.sleep(0.5)


@pytest.fixture()
def kube(cluster: ClusterInfo) -> Iterator[KubeClient]:
    with KubeClient(cluster) as client:
        yield client


@pytest.fixture()
def namespace(kube: KubeClient) -> Iterator[str]:
    name = f"fidelity-{random_suffix()}"
    kube.request("POST", "/api/v1/namespaces",
                 body={"metadata": {"name": name}})
    yield name
    kube.request("DELETE", f"/api/v1/namespaces/{name}")


def _claimed_volumes(kube: KubeClient, namespace: str) -> list[dict[str, Any]]:
    return [volume for volume in kube.list("/api/v1/persistentvolumes")
            if (volume["spec"].get("claimRef") or {}).get("namespace") == namespace]


# -- storage --------------------------------------------------------------------


def test_statefulset_claims_bind_and_volumes_go(
    cluster: ClusterInfo, kube: KubeClient, tmp_path: Path
) -> None:
    name = f"fidelity-sts-{random_suffix()}"
    kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": name}})
    chart = _chart(tmp_path, "db", STATEFULSET)

    _helm_install(chart, "db", name)
    statefulset = kube.get(namespaced_path(name, "statefulsets", "db-db",
                                           group_version="apps/v1"))
    assert statefulset is not None
    assert statefulset["status"].get("readyReplicas") == 2
    claims = kube.list(namespaced_path(name, "persistentvolumeclaims"))
    assert sorted(claim["metadata"]["name"] for claim in claims) == ["data-db-db-0", "data-db-db-1"]
    assert all(claim["status"]["phase"] == "Bound" for claim in claims)
    assert all(claim["spec"]["storageClassName"] == bootstrap.STORAGE_CLASS for claim in claims)
    volumes = _claimed_volumes(kube, name)
    folders = bootstrap.hostpath_folders(volumes)
    assert len(folders) == 2
    assert all(folder.is_dir() for folder in folders)
    assert all(volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete" for volume in volumes)

    uninstall = _run("helm", "uninstall", "db", "-n", name, "--wait")
    assert uninstall.returncode == 0, uninstall.stderr
    kube.request("DELETE", f"/api/v1/namespaces/{name}")
    _wait_for(lambda: not _claimed_volumes(kube, name), GONE_TIMEOUT,
              f"the PersistentVolumes of namespace {name} to be deleted")
    assert not any(folder.exists() for folder in folders)


def test_deployment_with_claim_becomes_ready(
    kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    chart = _chart(tmp_path, "history", DEPLOYMENT_WITH_CLAIM)

    _helm_install(chart, "hs", namespace)
    deployment = kube.get(namespaced_path(namespace, "deployments", "hs-history",
                                          group_version="apps/v1"))
    assert deployment is not None
    assert deployment["status"].get("readyReplicas") == 1
    claim = kube.get(namespaced_path(namespace, "persistentvolumeclaims", "hs-events"))
    assert claim is not None
    assert claim["status"]["phase"] == "Bound"
    assert claim["status"]["capacity"]["storage"] == "2Gi"


# -- logs, exec, diagnostics ------------------------------------------------------


def _first_pod(kube: KubeClient, namespace: str) -> str:
    pods = _wait_for(lambda: kube.list(namespaced_path(namespace, "pods")), READY_TIMEOUT,
                     f"a pod in {namespace}")
    return str(pods[0]["metadata"]["name"])


def test_logs_return_simulated_line(kube: KubeClient, namespace: str, tmp_path: Path) -> None:
    _helm_install(_chart(tmp_path, "web", WEB), "web", namespace)
    pod = _first_pod(kube, namespace)

    result = _run("kubectl", "logs", "-n", namespace, pod)

    assert result.returncode == 0, result.stderr
    assert SIMULATED_LOG in result.stdout


@pytest.mark.parametrize("command", [
    ("exec", "{pod}", "--", "ls"),
    ("attach", "{pod}"),
    ("port-forward", "{pod}", ":8080"),
])
def test_container_streams_fail_with_reason(
    kube: KubeClient, namespace: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    _helm_install(_chart(tmp_path, "web", WEB), "web", namespace)
    pod = _first_pod(kube, namespace)
    argv = [part.format(pod=pod) for part in command]

    started = time.monotonic()
    result = _run("kubectl", "-n", namespace, *argv, timeout=60)
    elapsed = time.monotonic() - started

    assert result.returncode != 0
    assert f"simulates pods, so pod {namespace}/{pod} runs no container" in result.stderr
    assert "requires: [containers]" in result.stderr
    assert elapsed < FAST_FAILURE_SECONDS


def _attempt(cluster: ClusterInfo, path: Path, tmp_path: Path) -> tuple[AttemptOutcome, Path]:
    outcome, scenario_dir, _ = run_attempt(cluster, path, tmp_path, timeout=300)
    return outcome, scenario_dir


def test_diagnostics_record_simulated_logs(cluster: ClusterInfo, tmp_path: Path) -> None:
    chart = _chart(tmp_path, "web", WEB)
    path = write_scenario(tmp_path, "never-ready-web", f"""\
        name: never-ready-web
        tier: smoke
        chart: {{path: {chart}}}
        steps:
          - install: {{timeout: 1m}}
          - wait:
              resource: "deployment/${{RELEASE}}-web"
              for: condition=NeverTrue
              timeout: 3s
        """)

    outcome, scenario_dir = _attempt(cluster, path, tmp_path)

    assert outcome.status is Status.FAILED
    diagnostics = scenario_dir / "diagnostics"
    logs = sorted((diagnostics / "pods").glob("*.web.log"))
    assert len(logs) == 2
    for log in logs:
        assert SIMULATED_LOG in log.read_text()
    assert (diagnostics / "events.txt").is_file()
    assert (diagnostics / "helm-status.txt").is_file()
    assert not (diagnostics / "errors.txt").exists()


# -- webhooks ---------------------------------------------------------------------


def test_webhook_chart_fails_fast_others_pass(cluster: ClusterInfo, tmp_path: Path) -> None:
    webhook_chart = _chart(tmp_path, "operator", WEBHOOK)
    web_chart = _chart(tmp_path, "web", WEB)
    operator = write_scenario(tmp_path, "operator-webhook", f"""\
        name: operator-webhook
        tier: smoke
        chart: {{path: {webhook_chart}}}
        steps:
          - install: {{timeout: 2m}}
        """)
    neighbour = write_scenario(tmp_path, "web-neighbour", f"""\
        name: web-neighbour
        tier: smoke
        chart: {{path: {web_chart}}}
        steps:
          - install: {{timeout: 2m}}
          - wait:
              resource: "deployment/${{RELEASE}}-web"
              for: condition=Available
              timeout: 1m
        """)
    outcomes: dict[str, tuple[AttemptOutcome, Path, float]] = {}

    def attempt(path: Path) -> None:
        started = time.monotonic()
        outcome, scenario_dir = _attempt(cluster, path, tmp_path)
        outcomes[path.stem] = (outcome, scenario_dir, time.monotonic() - started)

    threads = [threading.Thread(target=attempt, args=(path,)) for path in (operator, neighbour)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    failed, failed_dir, failed_seconds = outcomes["operator-webhook"]
    output = (failed_dir / "output.log").read_text()
    assert failed.status is Status.FAILED
    assert "webhook validate.operator.example.com" in output
    assert "has no backend to call" in output
    assert "requires: [containers]" in output
    assert failed_seconds < 60
    passed, _, _ = outcomes["web-neighbour"]
    assert passed.status is Status.PASSED, passed.reason


# -- Services ---------------------------------------------------------------------


def test_service_gets_endpoints_of_ready_pods(
    kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    _helm_install(_chart(tmp_path, "web", WEB), "web", namespace)
    pods = kube.list(namespaced_path(namespace, "pods"), label_selector="app=web-web")
    pod_ips = sorted(pod["status"]["podIP"] for pod in pods)

    def endpoint_ips() -> list[str]:
        slices = kube.list(namespaced_path(namespace, "endpointslices",
                                           group_version="discovery.k8s.io/v1"),
                           label_selector="kubernetes.io/service-name=web-web")
        return sorted(address for item in slices for endpoint in item.get("endpoints") or []
                      if (endpoint.get("conditions") or {}).get("ready")
                      for address in endpoint["addresses"])

    _wait_for(lambda: len(endpoint_ips()) == 2, READY_TIMEOUT, "two ready endpoints")
    assert endpoint_ips() == pod_ips
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network(local.POD_CIDR)
               for ip in pod_ips)


def test_load_balancer_and_ingress_accepted(
    kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    _helm_install(_chart(tmp_path, "web", WEB), "web", namespace)

    balancer = kube.get(namespaced_path(namespace, "services", "web-lb"))
    ingress = kube.get(namespaced_path(namespace, "ingresses", "web-web",
                                       group_version="networking.k8s.io/v1"))

    assert balancer is not None
    assert balancer["spec"]["type"] == "LoadBalancer"
    assert balancer["spec"]["ports"][0]["nodePort"] > 0
    assert ingress is not None
    assert ingress["spec"]["rules"][0]["host"] == "web.example.invalid"


def test_pod_proxy_rejected_by_egress_proxy(
    kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    _helm_install(_chart(tmp_path, "web", WEB), "web", namespace)
    pod = _first_pod(kube, namespace)

    for path in (f"/api/v1/namespaces/{namespace}/pods/{pod}:8080/proxy/",
                 f"/api/v1/namespaces/{namespace}/services/web-web:80/proxy/"):
        started = time.monotonic()
        result = _run("kubectl", "get", "--raw", path, timeout=60)
        assert result.returncode != 0
        assert "sparkrig egress proxy rejected 10." in result.stderr
        assert time.monotonic() - started < FAST_FAILURE_SECONDS


# -- nothing leaves loopback ---------------------------------------------------------


def _remote_addresses(table: Path) -> list[tuple[str, str]]:
    """Return (remote address, socket inode) of each socket in a /proc/net/tcp* table."""
    rows = []
    for line in table.read_text().splitlines()[1:]:
        fields = line.split()
        remote_hex = fields[2].split(":")[0]
        raw = bytes.fromhex(remote_hex)
        # The kernel prints each 32-bit word of the address in host (little-endian) order.
        ordered = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
        rows.append((str(ipaddress.ip_address(ordered)), fields[9]))
    return rows


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
    except OSError:
        pass
    return inodes


class _ConnectionWatch:
    """Samples every TCP socket of the machine and records those that leave loopback.

    Recorded: any socket to the cluster's pod or Service ranges (from any
    process), and any socket of a cluster component whose peer is not on
    loopback. A connection attempt in SYN-SENT shows in these tables too.
    """

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.violations: set[str] = set()
        self.samples = 0
        self.loopback_cluster_sockets = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._ranges = [ipaddress.ip_network(local.POD_CIDR),
                        ipaddress.ip_network(local.SERVICE_CIDR)]

    def _sample(self) -> None:
        inodes = set().union(*(_socket_inodes(pid) for pid in self.pids))
        for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
            for remote, inode in _remote_addresses(table):
                address = ipaddress.ip_address(remote)
                mapped = getattr(address, "ipv4_mapped", None) or address
                if any(mapped in network for network in self._ranges):
                    self.violations.add(f"socket {inode} to {remote}")
                if inode not in inodes or mapped.is_unspecified:
                    continue
                if mapped.is_loopback:
                    self.loopback_cluster_sockets += 1
                else:
                    self.violations.add(f"cluster socket {inode} to {remote}")
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(0.02)

    def __enter__(self) -> _ConnectionWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_no_connection_leaves_loopback(
    cluster: ClusterInfo, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    state = LocalCluster(cluster.kubeconfig.parent if cluster.kubeconfig else None)
    pids = [component.pid for component in state.components()]
    assert len(pids) == len(local.COMPONENTS)
    web_chart = _chart(tmp_path, "web", WEB)
    webhook_chart = _chart(tmp_path, "operator", WEBHOOK)

    with _ConnectionWatch(pids) as watch:
        _helm_install(web_chart, "web", namespace)
        pod = _first_pod(kube, namespace)
        helm_test = _run("helm", "test", "web", "-n", namespace, "--logs", "--timeout", "60s")
        webhook = _run("helm", "install", "op", str(webhook_chart), "-n", namespace)
        proxy = _run("kubectl", "get", "--raw",
                     f"/api/v1/namespaces/{namespace}/services/web-web:80/proxy/")
        logs = _run("kubectl", "logs", "-n", namespace, pod)
        time.sleep(0.5)

    assert helm_test.returncode == 0, helm_test.stderr
    assert SIMULATED_LOG in helm_test.stdout
    assert webhook.returncode != 0
    assert proxy.returncode != 0
    assert logs.returncode == 0
    assert watch.samples > 10
    # Proves that the watch finds the components' sockets (etcd, API server, KWOK).
    assert watch.loopback_cluster_sockets > 0
    assert watch.violations == set()
