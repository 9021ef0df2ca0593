"""The embedded local cluster: a real control plane on loopback with KWOK nodes.

`up` starts, in order, etcd, the egress proxy, kube-apiserver, then
kube-controller-manager, kube-scheduler and KWOK together, each as a detached
process (see `processes`), waiting for each stage to pass its health check
before the next. It then registers the KWOK nodes, waits until they are Ready
and the `default` service account exists, and creates the default
StorageClass and the admission policies (see `bootstrap`). From then on a
Pod can be created and scheduled. Everything runs on 127.0.0.1 with ports
picked free at start time, and every file lives in the state folder (see
`state`).

What is simulated: KWOK plays the kubelet. It marks pods Running and Ready,
ends pods whose restartPolicy is Never or OnFailure with exit code 0, and
removes deleted pods; no container runs.

Addresses: pod IPs (10.244.0.0/16) and Service ClusterIPs (10.96.0.0/16)
are outside loopback, because the API server rejects loopback addresses in
EndpointSlices and Services would get no endpoints. No process serves these
addresses, and of the cluster's components only kube-apiserver dials pods,
Services and nodes. Its `cluster` and `controlplane` egress goes through the
egress proxy (see `egress`), which connects to 127.0.0.0/8 only and rejects
every other address before any packet is sent. etcd stays a direct
connection to 127.0.0.1.

A component that exits during `up`, or a health check that times out, stops
every component started so far and raises `InfrastructureError` with the
tail of that component's log. A port taken between picking and binding makes
`up` start over with new ports, a bounded number of times.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import shutil
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkrig.cluster import bootstrap, egress
from sparkrig.cluster import nodes as node_registry
from sparkrig.cluster.kubeconfig import write_kubeconfig
from sparkrig.cluster.pki import Pki, write_pki
from sparkrig.cluster.processes import (
    Component,
    is_running,
    read_pid_file,
    start_detached,
    stop_components,
)
from sparkrig.cluster.state import ClusterRecord, StateDir, pick_free_ports, state_root
from sparkrig.cluster.toolchain import (
    GOMOD_DIR,
    KUBERNETES_VERSION,
    ensure_binaries,
    log_tail,
)
from sparkrig.errors import InfrastructureError

__all__ = ["NodeShape", "LocalCluster", "ComponentExitedError", "COMPONENTS"]

logger = logging.getLogger(__name__)

# Start order; `down` stops them in the groups of STOP_ORDER.
COMPONENTS = ("etcd", "egress-proxy", "kube-apiserver", "kube-controller-manager",
              "kube-scheduler", "kwok")
STOP_ORDER = (
    frozenset({"kwok", "kube-scheduler", "kube-controller-manager"}),
    frozenset({"kube-apiserver", "egress-proxy"}),
    frozenset({"etcd"}),
)
HOST = "127.0.0.1"
# The ranges kind uses. Nothing may dial them from this machine: the API server
# reaches them only through the egress proxy, which rejects them.
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
POD_CIDR = "10.244.0.0/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
KWOK_STAGES = GOMOD_DIR / "kwok" / "stages.yaml"
# KWOK treats nodes carrying this annotation as its own (--manage-nodes-with-annotation-selector).
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
NODE_LEASE_SECONDS = 40

ETCD_TIMEOUT = 30.0
EGRESS_PROXY_TIMEOUT = 15.0
APISERVER_TIMEOUT = 90.0
READY_TIMEOUT = 90.0
POLL_SECONDS = 0.25
PORT_RETRIES = 3
PORT_TAKEN_MARKERS = ("address already in use", "bind: address")


@dataclass(frozen=True)
class NodeShape:
    """How many KWOK nodes to register and the allocatable capacity of each."""

    count: int = 4
    cpu: str = "16"
    memory: str = "64Gi"
    pods: int = 110


class ComponentExitedError(InfrastructureError):
    """A component exited while the cluster was starting."""

    def __init__(self, component: str, exit_note: str, log_path: Path) -> None:
        self.component = component
        self.log_path = log_path
        self.port_taken = any(
            marker in log_tail(log_path, 60).lower() for marker in PORT_TAKEN_MARKERS
        )
        super().__init__(
            f"{component} {exit_note} while the local cluster was starting. "
            f"Last lines of {log_path}:\n{log_tail(log_path)}\n"
            "Every component was stopped. Fix the cause above, then run 'sparkrig cluster up' "
            "again."
        )


class LocalCluster:
    """One local cluster, identified by its state folder."""

    def __init__(self, state_dir: Path | None = None,
                 report: Callable[[str], None] | None = None) -> None:
        self.state = StateDir(state_dir if state_dir is not None else state_root())
        self._report = report or (lambda message: None)
        self.started_by_up = False  # whether the last `up` started the cluster (not reused it)
        self._started: list[Component] = []

    # -- queries ---------------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        return self.state.kubeconfig

    def record(self) -> ClusterRecord | None:
        return self.state.read_record()

    def components(self) -> list[Component]:
        """Return the components recorded in pid files, running or not."""
        found = []
        for name in COMPONENTS:
            component = read_pid_file(name, self.state.pid_file(name))
            if component is not None:
                found.append(component)
        return found

    def is_running(self) -> bool:
        """Return whether every component runs and the API server is ready."""
        record = self.record()
        components = self.components()
        if record is None or len(components) != len(COMPONENTS):
            return False
        if not all(is_running(component) for component in components):
            return False
        return self._apiserver_ready(record.server)

    # -- up ----------------------------------------------------------------------

    def up(self, shape: NodeShape = NodeShape()) -> ClusterRecord:
        """Start the cluster, or return the running one; see the module docstring."""
        with self.state.locked():
            record = self.record()
            if record is not None and self.is_running():
                self._report(f"the local cluster is already running at {record.server} "
                             f"(state {self.state.root}); reusing it")
                self.started_by_up = False
                return record
            if self.components() or self.state.root.exists():
                self._report(f"cleaning up a stopped or partial cluster in {self.state.root}")
                self._stop_and_wipe()

            result = ensure_binaries(report=self._report)
            bin_dir = result.bin_dir
            for attempt in range(1, PORT_RETRIES + 1):
                try:
                    started = self._start(bin_dir, shape)
                    self.started_by_up = True
                    return started
                except ComponentExitedError as exc:
                    self._stop_started()
                    if exc.port_taken and attempt < PORT_RETRIES:
                        self._report(f"{exc.component} found its port taken; retrying with "
                                     "new ports")
                        self._wipe(keep_logs=False)
                        continue
                    self._wipe(keep_logs=True)
                    raise
                except BaseException:
                    self._stop_started()
                    self._wipe(keep_logs=True)
                    raise
            raise AssertionError("unreachable: the last attempt returns or raises")

    def _start(self, bin_dir: Path, shape: NodeShape) -> ClusterRecord:
        started = time.monotonic()
        state = self.state
        for folder in (state.root, state.logs, state.pids, state.component_kubeconfigs):
            folder.mkdir(parents=True, exist_ok=True)
        state.root.chmod(0o700)

        names = ("etcd", "etcd-peer", "kube-apiserver", "kube-controller-manager",
                 "kube-scheduler", "kwok")
        ports = dict(zip(names, pick_free_ports(len(names)), strict=True))
        server = f"https://{HOST}:{ports['kube-apiserver']}"
        pki = write_pki(state.pki, service_ip=KUBERNETES_SERVICE_IP)
        write_kubeconfig(state.kubeconfig, server=server, ca_cert=pki.ca_cert,
                         client_cert=pki.client_cert("admin"),
                         client_key=pki.client_key("admin"), user="sparkrig-admin")
        for identity, user in (("controller-manager", "system:kube-controller-manager"),
                               ("scheduler", "system:kube-scheduler"), ("kwok", "sparkrig-kwok")):
            write_kubeconfig(state.component_kubeconfigs / f"{identity}.conf", server=server,
                             ca_cert=pki.ca_cert, client_cert=pki.client_cert(identity),
                             client_key=pki.client_key(identity), user=user)

        record = ClusterRecord(
            server=server, bin_dir=str(bin_dir), ports=ports, nodes=shape.count,
            node_cpu=shape.cpu, node_memory=shape.memory, node_pods=shape.pods,
            started_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        )
        state.write_record(record)

        self._report(f"starting etcd on {HOST}:{ports['etcd']}")
        self._launch("etcd", bin_dir, self._etcd_args(ports))
        self._wait("etcd", ETCD_TIMEOUT, lambda: self._etcd_healthy(ports["etcd"]))

        self._report("starting the egress proxy of kube-apiserver")
        self._start_egress_proxy()

        self._report(f"starting kube-apiserver on {server}")
        self._launch("kube-apiserver", bin_dir, self._apiserver_args(ports, pki))
        self._wait("kube-apiserver", APISERVER_TIMEOUT, lambda: self._apiserver_ready(server))

        self._report("starting kube-controller-manager, kube-scheduler and kwok")
        self._launch("kube-controller-manager", bin_dir, self._controller_manager_args(ports, pki))
        self._launch("kube-scheduler", bin_dir, self._scheduler_args(ports))
        kwok_home = state.root / "kwok-home"
        kwok_home.mkdir(exist_ok=True)
        logs_config = _write_kwok_logs_config(kwok_home)
        # KWOK also reads ~/.kwok/kwok.yaml when it exists; a HOME of its own keeps it out.
        self._launch("kwok", bin_dir, self._kwok_args(ports["kwok"], pki, logs_config),
                     env={**os.environ, "HOME": str(kwok_home)})

        self._report(f"registering {shape.count} KWOK nodes ({shape.cpu} CPU, "
                     f"{shape.memory} memory, {shape.pods} pods each)")
        api = node_registry.api_client(state.kubeconfig)
        try:
            node_registry.register_nodes(
                api, count=shape.count, cpu=shape.cpu, memory=shape.memory, pods=shape.pods,
                annotation=KWOK_NODE_ANNOTATION, kubelet_version=KUBERNETES_VERSION,
            )
            self._wait("kwok", READY_TIMEOUT,
                       lambda: node_registry.ready_node_count(api) >= shape.count,
                       subject=f"{shape.count} Ready nodes")
            self._wait("kube-controller-manager", READY_TIMEOUT,
                       lambda: node_registry.has_default_service_account(api),
                       subject="the 'default' service account in namespace 'default'")
            self._report(f"creating the default StorageClass '{bootstrap.STORAGE_CLASS}' and "
                         "the admission policies for simulated pods")
            self._create_cluster_objects(api)
        finally:
            node_registry.close_client(api)

        self._report(f"the local cluster is ready at {server} in "
                     f"{time.monotonic() - started:.1f} s; kubeconfig {state.kubeconfig}")
        self._started = []
        return record

    def _launch(self, name: str, bin_dir: Path, args: list[str],
                env: dict[str, str] | None = None) -> None:
        self._launch_argv(name, [str(bin_dir / name), *args], env=env)

    def _launch_argv(self, name: str, argv: list[str],
                     env: dict[str, str] | None = None) -> None:
        component = start_detached(
            name, argv, log_path=self.state.log(name),
            pid_path=self.state.pid_file(name), cwd=self.state.root, env=env,
        )
        self._started.append(component)

    def _start_egress_proxy(self) -> None:
        socket_path = self.state.egress_socket
        limit = egress.MAX_SOCKET_PATH
        if len(os.fsencode(socket_path)) > limit:
            raise InfrastructureError(
                f"the egress proxy socket {socket_path} is longer than the {limit} "
                "bytes a unix socket path may have. Set SPARKRIG_STATE_DIR to a shorter folder, "
                "then run 'sparkrig cluster up' again."
            )
        self.state.egress_config.write_text(_egress_selector_config(socket_path),
                                            encoding="utf-8")
        # Run as a script by path: the module needs only the standard library, and the
        # proxy then skips importing the sparkrig package and the Kubernetes client.
        self._launch_argv("egress-proxy", [sys.executable, egress.__file__,
                                           "--socket", str(socket_path)])
        self._wait("egress-proxy", EGRESS_PROXY_TIMEOUT, socket_path.is_socket,
                   subject=f"the egress proxy socket {socket_path}")

    def _create_cluster_objects(self, api: Any) -> None:
        try:
            bootstrap.create_cluster_objects(api)
        except Exception as exc:
            log_path = self.state.log("kube-apiserver")
            raise InfrastructureError(
                f"creating the default StorageClass and admission policies failed: {exc}. "
                f"Last lines of {log_path}:\n{log_tail(log_path)}\nEvery component was "
                "stopped. Check the log above, then run 'sparkrig cluster up' again."
            ) from exc

    def _wait(self, name: str, timeout: float, check: Callable[[], bool], *,
              subject: str | None = None) -> None:
        """Poll `check` until it passes; fail fast when any started component exits."""
        deadline = time.monotonic() + timeout
        while True:
            for component in self._started:
                if not is_running(component):
                    raise ComponentExitedError(component.name, "exited",
                                               self.state.log(component.name))
            try:
                if check():
                    return
            except Exception as exc:  # noqa: BLE001 - any client error means "not ready yet"
                logger.debug("%s not ready yet: %s", name, exc)
            if time.monotonic() > deadline:
                subject = subject or f"{name} to become healthy"
                log_path = self.state.log(name)
                raise InfrastructureError(
                    f"timed out after {timeout:.0f} s waiting for {subject}. Last lines of "
                    f"{log_path}:\n{log_tail(log_path)}\nEvery component was stopped. "
                    "Check the log above, then run 'sparkrig cluster up' again."
                )
            time.sleep(POLL_SECONDS)

    # -- component flags -------------------------------------------------------

    def _etcd_args(self, ports: dict[str, int]) -> list[str]:
        client = f"http://{HOST}:{ports['etcd']}"
        peer = f"http://{HOST}:{ports['etcd-peer']}"
        return [
            "--name=sparkrig",
            f"--data-dir={self.state.etcd_data}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=sparkrig={peer}",
            "--initial-cluster-state=new",
            # A test cluster's data is thrown away, so skip fsync-heavy safety margins.
            "--unsafe-no-fsync",
            "--quota-backend-bytes=2147483648",
            "--log-level=warn",
        ]

    def _apiserver_args(self, ports: dict[str, int], pki: Pki) -> list[str]:
        return [
            f"--etcd-servers=http://{HOST}:{ports['etcd']}",
            f"--bind-address={HOST}",
            f"--advertise-address={HOST}",
            f"--secure-port={ports['kube-apiserver']}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--kubelet-client-certificate={pki.client_cert('apiserver-kubelet-client')}",
            f"--kubelet-client-key={pki.client_key('apiserver-kubelet-client')}",
            f"--requestheader-client-ca-file={pki.ca_cert}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki.client_cert('front-proxy-client')}",
            f"--proxy-client-key-file={pki.client_key('front-proxy-client')}",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            # Added to the default plugins (NamespaceLifecycle, LimitRanger, ServiceAccount,
            # ResourceQuota, PodSecurity, DefaultStorageClass, the webhooks, ...).
            "--enable-admission-plugins=NodeRestriction",
            # Privileged pods are allowed by the server, so Pod Security admission decides.
            "--allow-privileged=true",
            # The loopback advertise address is not a valid endpoint, so the
            # `kubernetes` Service gets no EndpointSlice instead of a failing sync loop.
            "--endpoint-reconciler-type=none",
            # Every connection to nodes, pods, Services and webhook URLs goes through the
            # egress proxy, which reaches loopback only (see the module docstring).
            f"--egress-selector-config-file={self.state.egress_config}",
            # Dial KWOK's kubelet API at the node's 127.0.0.1, never a DNS lookup of its name.
            "--kubelet-preferred-address-types=InternalIP",
            f"--cert-dir={self.state.pki}",
            "--profiling=false",
        ]

    def _controller_manager_args(self, ports: dict[str, int], pki: Pki) -> list[str]:
        kubeconfig = self.state.component_kubeconfigs / "controller-manager.conf"
        return [
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            f"--bind-address={HOST}",
            f"--secure-port={ports['kube-controller-manager']}",
            f"--cert-dir={self.state.root / 'controller-manager-certs'}",
            "--controllers=*",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca_cert}",
            f"--cluster-signing-cert-file={pki.ca_cert}",
            f"--cluster-signing-key-file={pki.ca_key}",
            # The hostpath provisioner creates a folder under /tmp/hostpath_pv for
            # each PersistentVolume it provisions; see `bootstrap` for their removal.
            "--enable-hostpath-provisioner=true",
            # One instance only: skipping leader election saves seconds at start.
            "--leader-elect=false",
            "--profiling=false",
        ]

    def _scheduler_args(self, ports: dict[str, int]) -> list[str]:
        kubeconfig = self.state.component_kubeconfigs / "scheduler.conf"
        return [
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            f"--bind-address={HOST}",
            f"--secure-port={ports['kube-scheduler']}",
            f"--cert-dir={self.state.root / 'scheduler-certs'}",
            "--leader-elect=false",
            "--profiling=false",
        ]

    def _kwok_args(self, port: int, pki: Pki, logs_config: Path) -> list[str]:
        key, value = KWOK_NODE_ANNOTATION
        return [
            f"--kubeconfig={self.state.component_kubeconfigs / 'kwok.conf'}",
            f"--config={KWOK_STAGES}",
            f"--config={logs_config}",
            # KWOK's kubelet API (logs); nodes advertise this port, the API server dials it.
            f"--server-address={HOST}:{port}",
            f"--node-port={port}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={key}={value}",
            f"--node-ip={HOST}",
            f"--cidr={POD_CIDR}",
            f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}",
        ]

    # -- health checks ---------------------------------------------------------

    def _etcd_healthy(self, port: int) -> bool:
        with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2) as response:
            return b'"health":"true"' in response.read()

    def _ssl_context(self) -> ssl.SSLContext:
        pki = Pki(self.state.pki)
        context = ssl.create_default_context(cafile=str(pki.ca_cert))
        context.load_cert_chain(str(pki.client_cert("admin")), str(pki.client_key("admin")))
        return context

    def _apiserver_ready(self, server: str) -> bool:
        try:
            with urllib.request.urlopen(f"{server}/readyz", timeout=2,
                                        context=self._ssl_context()) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError, ssl.SSLError):
            return False

    # -- down ------------------------------------------------------------------

    def down(self) -> list[str]:
        """Stop every recorded component and remove the state folder; return what was stopped.

        Before stopping, the folders of hostpath volumes that still exist are removed,
        because they live outside the state folder.
        """
        with self.state.locked():
            stopped = [c.name for c in self.components() if is_running(c)]
            self._remove_volume_folders()
            self._stop_and_wipe()
            return stopped

    def _remove_volume_folders(self) -> None:
        record = self.record()
        if record is None or not self._apiserver_ready(record.server):
            # NOTE: a cluster whose API server is gone leaves its volume folders
            # under /tmp/hostpath_pv, because only its PersistentVolumes name them.
            return
        try:
            api = node_registry.api_client(self.state.kubeconfig)
        except Exception as exc:  # noqa: BLE001 - down goes on without the folder cleanup
            logger.warning("cannot read %s to remove volume folders: %s",
                           self.state.kubeconfig, exc)
            return
        try:
            bootstrap.remove_hostpath_folders(api)
        except Exception as exc:  # noqa: BLE001 - down goes on without the folder cleanup
            logger.warning("listing PersistentVolumes to remove their folders failed: %s", exc)
        finally:
            node_registry.close_client(api)

    def _stop_started(self) -> None:
        _stop_in_order(self._started)
        self._started = []

    def _stop_and_wipe(self) -> None:
        _stop_in_order(self.components())
        self._wipe(keep_logs=False)

    def _wipe(self, *, keep_logs: bool) -> None:
        """Remove the state folder; with `keep_logs`, keep `logs/` for the error message."""
        root = self.state.root
        if not root.exists():
            return
        if not keep_logs:
            shutil.rmtree(root, ignore_errors=True)
            return
        for item in root.iterdir():
            if item == self.state.logs:
                continue
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item, ignore_errors=True)
            else:
                item.unlink(missing_ok=True)

    # -- status ----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Return the state folder, server, and whether each component runs."""
        record = self.record()
        api_ready = record is not None and self._apiserver_ready(record.server)
        return {
            "state_dir": str(self.state.root),
            "server": record.server if record else None,
            "kubeconfig": str(self.state.kubeconfig) if record else None,
            "components": {c.name: {"pid": c.pid, "running": is_running(c)}
                           for c in self.components()},
            "api_ready": api_ready,
        }


def _stop_in_order(components: list[Component]) -> None:
    """Stop the clients of the API server first, then the API server, then etcd.

    The API server's graceful shutdown stalls while etcd is already gone, so
    stopping everything at once costs the whole grace period.
    """
    for stage in STOP_ORDER:
        stop_components([component for component in components if component.name in stage])


def _egress_selector_config(socket_path: Path) -> str:
    """Return the EgressSelectorConfiguration that sends the API server's dials to the proxy.

    `cluster` covers nodes (the kubelet API), pods and Services (proxy
    subresources, webhooks and aggregated APIs by Service), `controlplane`
    covers webhooks by URL. etcd is dialled directly at 127.0.0.1.
    """
    proxied = {"proxyProtocol": "HTTPConnect",
               "transport": {"uds": {"udsName": str(socket_path)}}}
    document = {
        "apiVersion": "apiserver.k8s.io/v1beta1",
        "kind": "EgressSelectorConfiguration",
        "egressSelections": [
            {"name": "cluster", "connection": proxied},
            {"name": "controlplane", "connection": proxied},
            {"name": "etcd", "connection": {"proxyProtocol": "Direct"}},
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _write_kwok_logs_config(folder: Path) -> Path:
    """Write a ClusterLogs object that serves one fixed line as every container's log.

    `kubectl logs` and `helm test --logs` then succeed, and the line tells why
    there is no real output.
    """
    log_file = folder / "container.log"
    # KWOK parses container logs in the CRI format: RFC 3339 time, stream, P/F tag, text.
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    log_file.write_text(f"{now} stdout F (sparkrig local cluster: KWOK simulated this "
                        "container; no process ran, so there is no output)\n", encoding="utf-8")
    config_path = folder / "logs.yaml"
    document = {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "ClusterLogs",
        "metadata": {"name": "sparkrig-simulated-logs"},
        "spec": {"logs": [{"logsFile": str(log_file), "previousLogsFile": str(log_file),
                           "follow": False}]},
    }
    config_path.write_text(json.dumps(document), encoding="utf-8")
    return config_path
