"""Starting and stopping local clusters of their own, apart from the session's cluster.

Each test starts a cluster in a fresh state folder and checks by pid that
nothing of it is left running afterwards, whether it was stopped by `down`
or failed during `up`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkrig.cluster import local as local_module
from sparkrig.cluster import processes
from sparkrig.cluster.local import ComponentExitedError, LocalCluster, NodeShape
from sparkrig.cluster.processes import Component, is_running

pytestmark = pytest.mark.integration


@pytest.fixture()
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Component]]:
    """Record every component that `up` starts, and stop leftovers if a test fails."""
    components: list[Component] = []
    original = processes.start_detached

    def recording(*args: object, **kwargs: object) -> Component:
        component = original(*args, **kwargs)  # type: ignore[arg-type]
        components.append(component)
        return component

    monkeypatch.setattr(local_module, "start_detached", recording)
    yield components
    processes.stop_components(components)


def sparkrig(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPARKRIG_STATE_DIR": str(state)}
    return subprocess.run([sys.executable, "-m", "sparkrig", "cluster", *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_down_stops_every_process(tmp_path: Path) -> None:
    state = tmp_path / "state"
    try:
        up = sparkrig(state, "up", "--nodes", "1")
        assert up.returncode == 0, up.stderr
        recorded = LocalCluster(state).components()
        assert [c.name for c in recorded] == list(local_module.COMPONENTS)
        assert all(is_running(c) for c in recorded)
        kubeconfig = sparkrig(state, "kubeconfig")
        assert kubeconfig.stdout == f"{state / 'kubeconfig'}\n"

        down = sparkrig(state, "down")

        assert down.returncode == 0, down.stderr
        assert [c.name for c in recorded if is_running(c)] == []
        assert not state.exists()
    finally:
        LocalCluster(state).down()


def test_second_up_reuses_running_cluster(tmp_path: Path, started: list[Component]) -> None:
    cluster = LocalCluster(tmp_path / "state")
    try:
        first = cluster.up(NodeShape(count=1))
        second = cluster.up(NodeShape(count=1))
        assert second.server == first.server
        assert len(started) == len(local_module.COMPONENTS)
    finally:
        cluster.down()
    assert [c.name for c in started if is_running(c)] == []


def test_component_exiting_early_stops_the_others(
    tmp_path: Path, started: list[Component], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = LocalCluster._apiserver_args

    def broken(self: LocalCluster, *args: object) -> list[str]:
        return [*original(self, *args), "--no-such-flag"]  # type: ignore[arg-type]

    monkeypatch.setattr(LocalCluster, "_apiserver_args", broken)
    cluster = LocalCluster(tmp_path / "state")

    with pytest.raises(ComponentExitedError) as raised:
        cluster.up(NodeShape(count=1))

    message = str(raised.value)
    assert raised.value.component == "kube-apiserver"
    assert "kube-apiserver exited" in message
    assert "unknown flag: --no-such-flag" in message
    assert raised.value.exit_code == 3
    assert [c.name for c in started] == ["etcd", "egress-proxy", "kube-apiserver"]
    assert [c.name for c in started if is_running(c)] == []
    assert (tmp_path / "state" / "logs" / "kube-apiserver.log").is_file()


def test_taken_port_fails_after_retries(
    tmp_path: Path, started: list[Component], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        picked: list[int] = []
        pick_free_ports = local_module.pick_free_ports

        def pick_with_taken_etcd_port(count: int, host: str = "127.0.0.1") -> list[int]:
            free = pick_free_ports(count, host)
            picked.append(port)
            return [port, *free[1:]]

        monkeypatch.setattr(local_module, "pick_free_ports", pick_with_taken_etcd_port)
        cluster = LocalCluster(tmp_path / "state")

        with pytest.raises(ComponentExitedError) as raised:
            cluster.up(NodeShape(count=1))

    assert raised.value.component == "etcd"
    assert raised.value.port_taken
    assert "address already in use" in str(raised.value)
    assert len(picked) == local_module.PORT_RETRIES
    assert [c.name for c in started if is_running(c)] == []
