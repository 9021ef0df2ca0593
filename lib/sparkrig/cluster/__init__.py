"""Cluster providers: where the runner gets a Kubernetes API to test on.

`base` states the interface, `providers` the `local`, `existing`, `kind` and
`auto` choices, and `local` with its helpers (`toolchain`, `pki`, `state`,
`processes`, `nodes`, `kubeconfig`) the embedded cluster built from the Go
modules under `gomod/`.

`get_provider` is imported on first access (PEP 562 module `__getattr__`),
because `providers` imports the Kubernetes client (about 0.3 s), and
`sparkrig.cluster.base` must stay cheap for `run --cluster none`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sparkrig.cluster.providers import get_provider

__all__ = ["get_provider"]


def __getattr__(name: str) -> Any:
    if name == "get_provider":
        from sparkrig.cluster.providers import get_provider

        return get_provider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
