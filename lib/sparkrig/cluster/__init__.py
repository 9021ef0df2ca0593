"""Cluster providers: where the runner gets a Kubernetes API to test on.

`base` states the interface, `providers` the `local`, `existing`, `kind` and
`auto` choices, and `local` with its helpers (`toolchain`, `pki`, `state`,
`processes`, `nodes`, `kubeconfig`) the embedded cluster built from the Go
modules under `gomod/`.
"""

from sparkrig.cluster.providers import get_provider

__all__ = ["get_provider"]
