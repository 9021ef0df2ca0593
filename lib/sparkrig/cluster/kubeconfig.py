"""Kubeconfig files for the local cluster's clients.

Each file names one cluster, one user and one context, with the CA and the
client certificate embedded as base64 data, so a copy of the file keeps working
wherever it is read from and the Python client needs no paths.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CONTEXT_NAME", "render_kubeconfig", "write_kubeconfig"]

CONTEXT_NAME = "sparkrig-local"


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def render_kubeconfig(
    *,
    server: str,
    ca_data: str,
    cert_data: str,
    key_data: str,
    user: str,
    context: str = CONTEXT_NAME,
) -> dict[str, Any]:
    """Return a kubeconfig document with one context; the data arguments are base64 PEM."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": context, "cluster": {"server": server, "certificate-authority-data": ca_data}}
        ],
        "users": [
            {"name": user, "user": {"client-certificate-data": cert_data,
                                    "client-key-data": key_data}}
        ],
        "contexts": [{"name": context, "context": {"cluster": context, "user": user}}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(
    path: Path, *, server: str, ca_cert: Path, client_cert: Path, client_key: Path, user: str
) -> Path:
    """Write a kubeconfig readable only by this user and return its path."""
    document = render_kubeconfig(
        server=server,
        ca_data=_b64(ca_cert),
        cert_data=_b64(client_cert),
        key_data=_b64(client_key),
        user=user,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path
