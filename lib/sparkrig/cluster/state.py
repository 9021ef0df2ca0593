"""The local cluster's state folder: one per cluster, so clusters never share a file.

`${SPARKRIG_STATE_DIR:-~/.cache/sparkrig/state}` contains everything a running
cluster uses: certificates (`pki/`), etcd's data (`etcd/`), one log and one pid
file per component (`logs/`, `pids/`), the kubeconfig files, the egress
proxy's socket and configuration, and `cluster.json` with the ports and
binaries the cluster was started with.
Several clusters run side by side on one machine when each has its own state
folder, because every port is picked free at start time and no path outside
the folder is written, except the hostpath volume folders described in
`bootstrap`.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sparkrig.errors import InfrastructureError

__all__ = ["StateDir", "ClusterRecord", "state_root", "pick_free_ports"]


def state_root() -> Path:
    """Return `$SPARKRIG_STATE_DIR`, else `~/.cache/sparkrig/state`."""
    configured = os.environ.get("SPARKRIG_STATE_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path.home() / ".cache" / "sparkrig" / "state"


def pick_free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Return `count` distinct ports that were free on `host` a moment ago.

    All sockets stay open until every port is chosen, so the kernel never hands
    out the same port twice. Another program may still take a port before the
    component binds it; the component then exits with "address already in use"
    and `cluster up` starts over with new ports.
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass(frozen=True)
class ClusterRecord:
    """What `cluster.json` stores about a started cluster."""

    server: str
    bin_dir: str
    ports: dict[str, int]
    nodes: int
    node_cpu: str
    node_memory: str
    node_pods: int
    started_at: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ClusterRecord:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)


@dataclass(frozen=True)
class StateDir:
    """Paths inside one cluster's state folder."""

    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def component_kubeconfigs(self) -> Path:
        return self.root / "kubeconfigs"

    @property
    def egress_socket(self) -> Path:
        return self.root / "egress.sock"

    @property
    def egress_config(self) -> Path:
        return self.root / "egress-selector.yaml"

    @property
    def record_path(self) -> Path:
        return self.root / "cluster.json"

    @property
    def lock_path(self) -> Path:
        # Outside `root`, so wiping the state never removes a lock that someone holds.
        return self.root.with_name(f".{self.root.name}.lock")

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def pid_file(self, component: str) -> Path:
        return self.pids / f"{component}.pid"

    def read_record(self) -> ClusterRecord | None:
        """Return the recorded cluster, or None if there is none or it cannot be read."""
        try:
            return ClusterRecord.from_json(self.record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError):
            return None

    def write_record(self, record: ClusterRecord) -> None:
        self.record_path.write_text(record.to_json(), encoding="utf-8")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock so two `up` or `down` calls on one folder run in turn."""
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.lock_path.open("a")
        except OSError as exc:
            raise InfrastructureError(
                f"cannot create the lock file {self.lock_path}: {exc}. "
                "Set SPARKRIG_STATE_DIR to a writable folder."
            ) from exc
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
