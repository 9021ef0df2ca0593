"""Pure logic of the cluster package: cache keys, ports, kubeconfig, providers, errors."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sparkrig.cluster import bootstrap, egress, local, providers, toolchain
from sparkrig.cluster.kubeconfig import CONTEXT_NAME, render_kubeconfig, write_kubeconfig
from sparkrig.cluster.local import ComponentExitedError, LocalCluster
from sparkrig.cluster.pki import write_pki
from sparkrig.cluster.processes import Component, is_running, start_detached, stop_components
from sparkrig.cluster.state import ClusterRecord, StateDir, pick_free_ports, state_root
from sparkrig.errors import ClusterUnreachableError, InfrastructureError, UsageError

# -- cache keys -----------------------------------------------------------------


def test_cache_key_is_stable() -> None:
    assert toolchain.cache_key() == toolchain.cache_key()
    assert toolchain.cache_key().startswith(f"k8s-{toolchain.KUBERNETES_VERSION}-")


def test_cache_key_changes_with_go_sum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gomod = tmp_path / "gomod"
    shutil.copytree(toolchain.GOMOD_DIR, gomod)
    monkeypatch.setattr(toolchain, "GOMOD_DIR", gomod)
    before = toolchain.cache_key()

    with (gomod / "helm" / "go.sum").open("a") as handle:
        handle.write("example.com/extra v1.0.0 h1:AAAA=\n")

    assert toolchain.cache_key() != before


def test_cache_key_ignores_files_outside_the_build(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    gomod = tmp_path / "gomod"
    shutil.copytree(toolchain.GOMOD_DIR, gomod)
    monkeypatch.setattr(toolchain, "GOMOD_DIR", gomod)
    before = toolchain.cache_key()

    (gomod / "kwok" / "stages.yaml").write_text("# changed\n")

    assert toolchain.cache_key() == before


def test_bin_dir_follows_sparkrig_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKRIG_CACHE", str(tmp_path))
    assert toolchain.bin_dir() == tmp_path / "bin" / toolchain.cache_key()


def test_complete_cache_is_reused_without_go(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKRIG_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(toolchain, "DEFAULT_GO", tmp_path / "no-go")
    folder = toolchain.bin_dir()
    folder.mkdir(parents=True)
    for module in toolchain.MODULES:
        for name in module.binaries:
            (folder / name).write_text("")

    result = toolchain.ensure_binaries()

    assert result.reused
    assert result.bin_dir == folder


# -- Go and build errors --------------------------------------------------------------


def test_missing_go_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKRIG_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(toolchain, "DEFAULT_GO", tmp_path / "no-go")

    with pytest.raises(InfrastructureError) as raised:
        toolchain.ensure_binaries()

    assert "Go toolchain not found" in str(raised.value)
    assert "/usr/local/go/bin/go" in str(raised.value)
    assert raised.value.exit_code == 3


def fake_go(folder: Path, script: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    go = folder / "go"
    go.write_text(f"#!/bin/sh\n{script}\n")
    go.chmod(go.stat().st_mode | stat.S_IEXEC)
    return go


def test_failed_build_names_module_and_log_tail(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKRIG_CACHE", str(tmp_path / "cache"))
    fake_go(tmp_path / "bin", 'echo "main.go:3: undefined: etcdmain.Nope" >&2; exit 1')
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))

    with pytest.raises(InfrastructureError) as raised:
        toolchain.ensure_binaries()

    message = str(raised.value)
    assert "building kubernetes" in message
    assert "exit code 1" in message
    assert "undefined: etcdmain.Nope" in message
    assert not toolchain.bin_dir().exists()


def test_build_command_exits_3_with_one_message(tmp_path: Path) -> None:
    fake_go(tmp_path / "bin", 'echo "go: module lookup disabled" >&2; exit 1')
    env = {**os.environ, "SPARKRIG_CACHE": str(tmp_path / "cache"),
           "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.path.dirname(sys.executable)}"}

    completed = subprocess.run([sys.executable, "-m", "sparkrig", "cluster", "build"], env=env,
                               capture_output=True, text=True, timeout=60, check=False)

    assert completed.returncode == 3
    assert "sparkrig: error: building kubernetes" in completed.stderr
    assert "go: module lookup disabled" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_log_tail_keeps_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "component.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))

    assert toolchain.log_tail(log, 3) == "line 97\nline 98\nline 99"
    assert "no log at" in toolchain.log_tail(tmp_path / "missing.log")


# -- ports and state ---------------------------------------------------------------------


def test_pick_free_ports_are_distinct_and_bindable() -> None:
    ports = pick_free_ports(6)

    assert len(set(ports)) == 6
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))


def test_state_root_follows_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKRIG_STATE_DIR", str(tmp_path / "mine"))
    assert state_root() == (tmp_path / "mine").resolve()
    monkeypatch.delenv("SPARKRIG_STATE_DIR")
    assert state_root() == Path.home() / ".cache" / "sparkrig" / "state"


def test_cluster_record_round_trips(tmp_path: Path) -> None:
    record = ClusterRecord(server="https://127.0.0.1:1", bin_dir="/b", ports={"etcd": 2},
                           nodes=4, node_cpu="16", node_memory="64Gi", node_pods=110,
                           started_at="2026-01-01T00:00:00+00:00")
    state = StateDir(tmp_path)
    state.write_record(record)
    assert state.read_record() == record


def test_unreadable_record_reads_as_none(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.record_path.write_text("{not json")
    assert state.read_record() is None


# -- kubeconfig and certificates ----------------------------------------------------------


def test_render_kubeconfig_has_one_current_context() -> None:
    document = render_kubeconfig(server="https://127.0.0.1:6443", ca_data="Q0E=",
                                 cert_data="Q0VSVA==", key_data="S0VZ", user="admin")

    assert document["current-context"] == CONTEXT_NAME
    assert document["clusters"][0]["cluster"] == {
        "server": "https://127.0.0.1:6443", "certificate-authority-data": "Q0E="}
    assert document["users"][0] == {
        "name": "admin", "user": {"client-certificate-data": "Q0VSVA==",
                                  "client-key-data": "S0VZ"}}
    assert document["contexts"][0]["context"] == {"cluster": CONTEXT_NAME, "user": "admin"}


def test_written_kubeconfig_is_private_and_loadable(tmp_path: Path) -> None:
    pki = write_pki(tmp_path / "pki", service_ip="127.96.0.1")
    path = write_kubeconfig(tmp_path / "kubeconfig", server="https://127.0.0.1:1",
                            ca_cert=pki.ca_cert, client_cert=pki.client_cert("admin"),
                            client_key=pki.client_key("admin"), user="sparkrig-admin")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load(path.read_text())["current-context"] == CONTEXT_NAME


def test_client_certificates_carry_user_and_groups(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    pki = write_pki(tmp_path / "pki", service_ip="127.96.0.1")

    admin = x509.load_pem_x509_certificate(pki.client_cert("admin").read_bytes())
    common_name = admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    groups = [a.value for a in admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert common_name == "sparkrig-admin"
    assert groups == ["system:masters"]
    serving = x509.load_pem_x509_certificate(pki.serving_cert.read_bytes())
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc" in names.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    assert ips == ["127.0.0.1", "127.96.0.1"]


# -- providers -------------------------------------------------------------------------------


def unreachable_kubeconfig(tmp_path: Path, context: str) -> Path:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The port was free a moment ago and nothing listens there now.
    document = render_kubeconfig(server=f"https://127.0.0.1:{port}", ca_data="",
                                 cert_data="", key_data="", user="nobody", context=context)
    path = tmp_path / f"{context}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_get_provider_knows_each_choice() -> None:
    assert providers.get_provider("local").name == "local"
    assert providers.get_provider("existing").name == "existing"
    assert providers.get_provider("kind").name == "kind"
    assert providers.get_provider("auto").name == "auto"


def test_get_provider_rejects_unknown_name() -> None:
    with pytest.raises(UsageError) as raised:
        providers.get_provider("minikube")
    assert "invalid cluster provider 'minikube'" in str(raised.value)
    assert "local, existing, kind, auto" in str(raised.value)


def test_existing_unreachable_names_server_and_context(tmp_path: Path) -> None:
    kubeconfig = unreachable_kubeconfig(tmp_path, "staging")

    with pytest.raises(ClusterUnreachableError) as raised:
        providers.ExistingProvider(kubeconfig=kubeconfig).connect()

    message = str(raised.value)
    assert "context 'staging'" in message
    assert "https://127.0.0.1:" in message
    assert "--cluster local" in message
    assert raised.value.exit_code == 3


def kubeconfig_for_port(tmp_path: Path, port: int) -> Path:
    document = render_kubeconfig(server=f"https://127.0.0.1:{port}", ca_data="",
                                 cert_data="", key_data="", user="nobody", context="staging")
    path = tmp_path / "staging.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_existing_refused_says_refused(tmp_path: Path) -> None:
    kubeconfig = unreachable_kubeconfig(tmp_path, "staging")

    with pytest.raises(ClusterUnreachableError) as raised:
        providers.ExistingProvider(kubeconfig=kubeconfig).connect()

    assert "refused the connection" in str(raised.value)
    assert "did not respond" not in str(raised.value)


def test_existing_silent_server_times_out(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(providers, "CONNECT_TIMEOUT_SECONDS", 0.5)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()  # the kernel accepts the connection, but nothing ever answers
        kubeconfig = kubeconfig_for_port(tmp_path, server.getsockname()[1])

        with pytest.raises(ClusterUnreachableError) as raised:
            providers.ExistingProvider(kubeconfig=kubeconfig).connect()

    assert "did not respond within 0.5 s" in str(raised.value)


def test_existing_plain_http_server_fails_tls(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        kubeconfig = kubeconfig_for_port(tmp_path, server.getsockname()[1])

        def answer_in_plain_text() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

        thread = threading.Thread(target=answer_in_plain_text, daemon=True)
        thread.start()
        with pytest.raises(ClusterUnreachableError) as raised:
            providers.ExistingProvider(kubeconfig=kubeconfig).connect()
        thread.join(timeout=10)

    assert "failed the TLS handshake" in str(raised.value)


def test_existing_without_kubeconfig_says_so(tmp_path: Path) -> None:
    with pytest.raises(ClusterUnreachableError) as raised:
        providers.ExistingProvider(kubeconfig=tmp_path / "absent").connect()
    assert f"no kubeconfig at {tmp_path / 'absent'}" in str(raised.value)


def test_kind_rejects_context_not_named_kind(tmp_path: Path) -> None:
    kubeconfig = unreachable_kubeconfig(tmp_path, "prod")

    with pytest.raises(ClusterUnreachableError) as raised:
        providers.KindProvider(kubeconfig=kubeconfig).connect()

    assert "'prod'" in str(raised.value)
    assert "kind create cluster" in str(raised.value)


def test_kind_context_that_is_down_is_unreachable(tmp_path: Path) -> None:
    kubeconfig = unreachable_kubeconfig(tmp_path, "kind-ci")

    with pytest.raises(ClusterUnreachableError) as raised:
        providers.KindProvider(kubeconfig=kubeconfig).connect()

    assert "context 'kind-ci'" in str(raised.value)


class FakeLocal(providers.LocalProvider):
    def __init__(self) -> None:
        self.connected = False

    def connect(self) -> providers.ClusterInfo:
        self.connected = True
        return providers.ClusterInfo(provider="local", kubeconfig=None)


def test_auto_falls_back_to_local_when_context_is_down(tmp_path: Path) -> None:
    local = FakeLocal()
    kubeconfig = unreachable_kubeconfig(tmp_path, "staging")

    info = providers.AutoProvider(kubeconfig=kubeconfig, local=local).connect()

    assert local.connected
    assert info.provider == "local"


def test_auto_fallback_prints_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kubeconfig = unreachable_kubeconfig(tmp_path, "staging")

    providers.AutoProvider(kubeconfig=kubeconfig, local=FakeLocal()).connect()

    note = capsys.readouterr().err
    assert note.startswith("sparkrig: note: using the local cluster")
    assert "context 'staging'" in note
    assert "refused the connection" in note
    assert "--cluster existing" in note
    assert note.count("\n") == 1


def test_auto_treats_local_cluster_context_as_local(tmp_path: Path) -> None:
    local = FakeLocal()
    kubeconfig = unreachable_kubeconfig(tmp_path, CONTEXT_NAME)

    providers.AutoProvider(kubeconfig=kubeconfig, local=local).connect()

    assert local.connected


def test_default_kubeconfig_takes_first_of_list(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}")
    assert providers.default_kubeconfig() == tmp_path / "a"


# -- processes and component errors ---------------------------------------------------------


def test_stop_components_ends_process_group(tmp_path: Path) -> None:
    sleep = shutil.which("sleep")
    assert sleep is not None
    component = start_detached("sleeper", [sleep, "300"], log_path=tmp_path / "s.log",
                               pid_path=tmp_path / "s.pid", cwd=tmp_path)
    assert is_running(component)

    stop_components([component], grace_seconds=5)

    assert not is_running(component)


def test_stale_pid_of_other_binary_is_not_running(tmp_path: Path) -> None:
    component = Component(name="etcd", pid=os.getpid(), binary=str(tmp_path / "etcd"))
    assert not is_running(component)


def test_component_exit_error_detects_taken_port(tmp_path: Path) -> None:
    log = tmp_path / "etcd.log"
    log.write_text('{"msg":"listen tcp 127.0.0.1:2379: bind: address already in use"}\n')

    error = ComponentExitedError("etcd", "exited", log)

    assert error.port_taken
    assert str(error).startswith("etcd exited while the local cluster was starting")
    assert "address already in use" in str(error)
    assert error.exit_code == 3


def test_status_of_empty_state_dir(tmp_path: Path) -> None:
    status = LocalCluster(tmp_path / "none").status()
    assert status["components"] == {}
    assert status["api_ready"] is False


# -- egress proxy ---------------------------------------------------------------


@pytest.mark.parametrize(("authority", "expected"), [
    ("127.0.0.1:10250", ("127.0.0.1", 10250)),
    ("127.5.6.7:80", ("127.5.6.7", 80)),
    ("[::1]:443", ("::1", 443)),
    ("localhost:8443", ("127.0.0.1", 8443)),
    ("LOCALHOST:8443", ("127.0.0.1", 8443)),
])
def test_egress_target_on_loopback_allowed(authority: str, expected: tuple[str, int]) -> None:
    assert egress.check_target(authority) == expected


@pytest.mark.parametrize(("authority", "reason"), [
    ("10.244.0.5:80", "is not on this machine"),
    ("10.96.0.1:443", "is not on this machine"),
    ("192.168.1.1:443", "is not on this machine"),
    ("203.0.113.9:443", "is not on this machine"),
    ("0.0.0.0:80", "is not on this machine"),
    ("[::ffff:10.0.0.1]:80", "is not on this machine"),
    ("metrics-server.kube-system.svc:443", "is a name"),
    ("example.com:443", "is a name"),
    ("127.0.0.1", "expected host:port"),
    ("127.0.0.1:0", "port out of range"),
    ("127.0.0.1:70000", "port out of range"),
    (":80", "expected host:port"),
])
def test_egress_target_elsewhere_rejected(authority: str, reason: str) -> None:
    result = egress.check_target(authority)
    assert isinstance(result, str)
    assert reason in result


def _proxy_exchange(socket_path: Path, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect(str(socket_path))
        client.sendall(request)
        chunks = []
        while True:
            chunk = client.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture()
def egress_socket(tmp_path: Path) -> Iterator[Path]:
    """An egress proxy serving in a thread of this process until the test ends."""
    socket_path = tmp_path / "egress.sock"
    loop = asyncio.new_event_loop()

    listening = threading.Event()

    async def serve_and_report() -> None:
        # The socket file appears at bind(), before listen(): wait for the
        # proxy's own ready event, or a connect may be refused.
        ready = asyncio.Event()
        task = asyncio.ensure_future(egress.serve(socket_path, ready))
        await ready.wait()
        listening.set()
        await task

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(serve_and_report())
        loop.run_until_complete(loop.shutdown_asyncgens())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert listening.wait(timeout=10), "the egress proxy did not start listening within 10 s"
    yield socket_path

    def cancel_all() -> None:
        for task in asyncio.all_tasks(loop):
            task.cancel()

    loop.call_soon_threadsafe(cancel_all)
    thread.join(timeout=10)
    loop.close()


def test_egress_proxy_rejects_pod_ip_at_once(egress_socket: Path) -> None:
    started = time.monotonic()
    response = _proxy_exchange(egress_socket, b"CONNECT 10.244.0.7:8080 HTTP/1.1\r\n"
                                              b"Host: 127.0.0.1\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 403 sparkrig egress proxy rejected 10.244.0.7:8080")
    assert b"simulates pods and Services" in response
    assert time.monotonic() - started < 5


def test_egress_proxy_rejects_other_methods(egress_socket: Path) -> None:
    response = _proxy_exchange(egress_socket, b"GET http://127.0.0.1/ HTTP/1.1\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 405 ")


def test_egress_proxy_relays_to_loopback(egress_socket: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def echo_once() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.sendall(connection.recv(1024).upper())

        server = threading.Thread(target=echo_once, daemon=True)
        server.start()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(10)
            client.connect(str(egress_socket))
            client.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
            head = client.recv(len(b"HTTP/1.1 200 Connection established\r\n\r\n"))
            client.sendall(b"kubelet")
            echoed = client.recv(1024)
        server.join(timeout=10)

    assert head == b"HTTP/1.1 200 Connection established\r\n\r\n"
    assert echoed == b"KUBELET"


def test_egress_proxy_reports_refused_loopback_port(egress_socket: Path) -> None:
    port = pick_free_ports(1)[0]
    response = _proxy_exchange(egress_socket, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n"
                               .encode())
    assert response.startswith(b"HTTP/1.1 502 sparkrig egress proxy could not connect")


def test_egress_selector_config_proxies_cluster_and_controlplane(tmp_path: Path) -> None:
    document = json.loads(local._egress_selector_config(tmp_path / "egress.sock"))
    selections = {item["name"]: item["connection"] for item in document["egressSelections"]}
    assert document["kind"] == "EgressSelectorConfiguration"
    assert selections["cluster"]["proxyProtocol"] == "HTTPConnect"
    assert selections["cluster"]["transport"]["uds"]["udsName"] == str(tmp_path / "egress.sock")
    assert selections["controlplane"] == selections["cluster"]
    assert selections["etcd"] == {"proxyProtocol": "Direct"}


def test_cluster_ranges_are_outside_loopback() -> None:
    for cidr in (local.POD_CIDR, local.SERVICE_CIDR):
        assert not ipaddress.ip_network(cidr).overlaps(ipaddress.ip_network("127.0.0.0/8"))
    assert ipaddress.ip_address(local.KUBERNETES_SERVICE_IP) in ipaddress.ip_network(
        local.SERVICE_CIDR)


def test_long_state_dir_rejected_for_egress_socket(tmp_path: Path) -> None:
    state = tmp_path / ("s" * 120)
    cluster = LocalCluster(state)
    state.mkdir()
    with pytest.raises(InfrastructureError, match="SPARKRIG_STATE_DIR to a shorter folder"):
        cluster._start_egress_proxy()


# -- storage and admission objects ------------------------------------------------


def test_storage_class_is_default_hostpath_with_delete() -> None:
    document = bootstrap.storage_class()
    annotations = document["metadata"]["annotations"]
    assert annotations["storageclass.kubernetes.io/is-default-class"] == "true"
    assert document["provisioner"] == "kubernetes.io/host-path"
    assert document["reclaimPolicy"] == "Delete"


def test_admission_policies_each_have_a_binding() -> None:
    documents = bootstrap.admission_policies()
    policies = [d for d in documents if d["kind"] == "ValidatingAdmissionPolicy"]
    bindings = [d for d in documents if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert len(policies) == 4
    assert sorted(b["spec"]["policyName"] for b in bindings) == sorted(
        p["metadata"]["name"] for p in policies)
    for binding in bindings:
        assert binding["spec"]["validationActions"] == ["Deny"]
    for policy in policies:
        assert policy["metadata"]["name"].startswith(bootstrap.POLICY_PREFIX)
        assert policy["spec"]["failurePolicy"] == "Fail"
        assert "requires: [containers]" in policy["spec"]["validations"][0]["message"]


def test_admission_policies_cover_backends_and_streams() -> None:
    resources = {
        resource
        for document in bootstrap.admission_policies()
        if document["kind"] == "ValidatingAdmissionPolicy"
        for rule in document["spec"]["matchConstraints"]["resourceRules"]
        for resource in rule["resources"]
    }
    assert resources == {
        "validatingwebhookconfigurations", "mutatingwebhookconfigurations",
        "customresourcedefinitions", "apiservices",
        "pods/exec", "pods/attach", "pods/portforward",
    }


def test_hostpath_folders_only_provisioned_paths() -> None:
    volumes = [
        {"spec": {"hostPath": {"path": "/tmp/hostpath_pv/0b7c7f5e-3d2c-4d6e-9a53-0c1d2e3f4a5b"}}},
        {"spec": {"hostPath": {"path": "/tmp/hostpath_pv/../etc"}}},
        {"spec": {"hostPath": {"path": "/data/volume"}}},
        {"spec": {"hostPath": {"path": "/tmp/hostpath_pv"}}},
        {"spec": {"csi": {"driver": "example"}}},
        {},
    ]
    assert bootstrap.hostpath_folders(volumes) == [
        Path("/tmp/hostpath_pv/0b7c7f5e-3d2c-4d6e-9a53-0c1d2e3f4a5b")]


def test_built_tools_fill_a_path_without_helm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("helm", "kubectl"):
        (tmp_path / name).write_text("#!/bin/sh\n")
    monkeypatch.setattr(toolchain, "bin_dir", lambda: tmp_path)
    monkeypatch.setattr(providers.shutil, "which", lambda name: None)

    assert providers._built_tools() == tmp_path


def test_built_tools_leave_path_helm_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("helm", "kubectl"):
        (tmp_path / name).write_text("#!/bin/sh\n")
    monkeypatch.setattr(toolchain, "bin_dir", lambda: tmp_path)
    monkeypatch.setattr(providers.shutil, "which", lambda name: f"/usr/bin/{name}")

    assert providers._built_tools() is None


def test_built_tools_absent_before_a_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(toolchain, "bin_dir", lambda: tmp_path / "not-built")
    monkeypatch.setattr(providers.shutil, "which", lambda name: None)

    assert providers._built_tools() is None


@pytest.mark.parametrize("started", [True, False], ids=["started", "reused"])
def test_local_provider_notes_a_started_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    started: bool,
) -> None:
    provider = providers.LocalProvider(state_dir=tmp_path / "state")
    record = types.SimpleNamespace(server="https://127.0.0.1:6443", bin_dir=str(tmp_path))

    def up(shape: object) -> object:
        provider.cluster.started_by_up = started
        return record

    monkeypatch.setattr(provider.cluster, "up", up)
    monkeypatch.setattr(providers, "_connect", lambda target: None)
    monkeypatch.setattr(providers, "_describe", lambda *args, **kwargs: "info")

    assert provider.connect() == "info"

    error = capsys.readouterr().err
    if started:
        assert "started the local cluster at https://127.0.0.1:6443" in error
        assert "'invoke cluster.down' stops it" in error
    else:
        assert error == ""
