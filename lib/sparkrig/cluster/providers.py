"""Cluster providers: `local`, `existing`, `kind` and `auto`, behind `get_provider`.

Every provider's `connect` returns a `ClusterInfo` after one quick request
(the server's version, with a short timeout and no retries), so an unreachable
cluster fails in seconds with `ClusterUnreachableError` naming the context and
server. Capacity is the allocatable CPU, memory and pods summed over Ready,
schedulable nodes. Only the local cluster lacks the `containers` capability,
because KWOK simulates its pods. `auto` takes the current kubeconfig context
when its API server responds and otherwise starts the local cluster.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from sparkrig.cluster import nodes as node_registry
from sparkrig.cluster import toolchain
from sparkrig.cluster.base import ClusterInfo, ClusterProvider
from sparkrig.cluster.kubeconfig import CONTEXT_NAME
from sparkrig.cluster.local import LocalCluster, NodeShape
from sparkrig.errors import ClusterUnreachableError, UsageError

__all__ = [
    "LocalProvider",
    "ExistingProvider",
    "KindProvider",
    "AutoProvider",
    "get_provider",
    "default_kubeconfig",
    "PROVIDER_NAMES",
]

logger = logging.getLogger(__name__)

PROVIDER_NAMES = ("local", "existing", "kind", "auto")
CONTAINERS = "containers"
CONNECT_TIMEOUT_SECONDS = 5


def default_kubeconfig() -> Path:
    """Return the first file of $KUBECONFIG, else ~/.kube/config."""
    configured = os.environ.get("KUBECONFIG", "")
    first = next((item for item in configured.split(os.pathsep) if item), None)
    return Path(first).expanduser() if first else Path.home() / ".kube" / "config"


@dataclass(frozen=True)
class _Target:
    kubeconfig: Path
    context: str
    server: str


def _resolve_context(kubeconfig: Path, context: str | None) -> _Target:
    """Return the named context, or the current one, with its server URL."""
    if not kubeconfig.is_file():
        raise ClusterUnreachableError(
            f"no kubeconfig at {kubeconfig}. Set KUBECONFIG to a kubeconfig file, or use "
            "'--cluster local' to start the local cluster."
        )
    try:
        contexts, current = config.list_kube_config_contexts(  # type: ignore[no-untyped-call] # untyped in the client
            config_file=str(kubeconfig)
        )
    except (ConfigException, OSError, ValueError) as exc:
        raise ClusterUnreachableError(
            f"cannot read kubeconfig {kubeconfig}: {exc}. Fix the file or point KUBECONFIG "
            "at another one."
        ) from exc
    chosen = current if context is None else next(
        (item for item in contexts if item.get("name") == context), None
    )
    if not chosen:
        expected = f"context '{context}'" if context else "a current context"
        raise ClusterUnreachableError(
            f"kubeconfig {kubeconfig} has no {expected}. Choose one with "
            "'kubectl config use-context NAME'."
        )
    name = str(chosen["name"])
    cluster_name = chosen.get("context", {}).get("cluster", "")
    server = _server_of(kubeconfig, cluster_name)
    return _Target(kubeconfig=kubeconfig, context=name, server=server)


def _server_of(kubeconfig: Path, cluster_name: str) -> str:
    import yaml

    try:
        document = yaml.safe_load(kubeconfig.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return ""
    for item in document.get("clusters") or []:
        if isinstance(item, dict) and item.get("name") == cluster_name:
            return str((item.get("cluster") or {}).get("server", ""))
    return ""


def _connect(target: _Target) -> client.ApiClient:
    """Return a client for the target after one version request, or raise unreachable."""
    configuration = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call] # untyped in the client
            config_file=str(target.kubeconfig),
            context=target.context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, OSError, ValueError) as exc:
        raise ClusterUnreachableError(
            f"cannot load context '{target.context}' from {target.kubeconfig}: {exc}. "
            "Fix the kubeconfig or choose another context."
        ) from exc
    # Fail in seconds: the client retries a refused connection three times by default.
    configuration.retries = 0
    api = client.ApiClient(configuration)
    try:
        client.VersionApi(api).get_code(_request_timeout=CONNECT_TIMEOUT_SECONDS)
    except Exception as exc:
        node_registry.close_client(api)
        raise ClusterUnreachableError(
            f"the Kubernetes API server {target.server or '(unknown server)'} of context "
            f"'{target.context}' in {target.kubeconfig} {describe_connect_failure(exc)}. "
            "Start that cluster, choose another context with 'kubectl config use-context "
            "NAME', or use '--cluster local'."
        ) from exc
    return api


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """Yield `exc` and what it wraps: urllib3's `reason`, then `__cause__` and `__context__`."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (getattr(current, "reason", None), current.__cause__, current.__context__):
            if isinstance(inner, BaseException):
                pending.append(inner)


def describe_connect_failure(exc: BaseException) -> str:
    """Return why a version request failed, as a verb phrase ("refused the connection").

    urllib3 makes `NewConnectionError` a subclass of `ConnectTimeoutError`, so
    a refused connection is recognised by the `ConnectionRefusedError` it
    wraps before any timeout class is considered.
    """
    import ssl

    import urllib3.exceptions
    from kubernetes.client.exceptions import ApiException

    chain = list(_causes(exc))
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    for item in chain:
        if isinstance(item, ApiException):
            if item.status in (401, 403):
                return (f"rejected the kubeconfig's credentials (HTTP {item.status} "
                        f"{item.reason}); renew them")
            return f"answered the version request with HTTP {item.status} {item.reason}"
    if any(isinstance(item, ConnectionRefusedError) for item in chain):
        return "refused the connection (nothing listens on that address and port)"
    for item in chain:
        if isinstance(item, (ssl.SSLError, urllib3.exceptions.SSLError)):
            return f"failed the TLS handshake ({item})"
    if any(isinstance(item, socket.gaierror) for item in chain):
        return f"has a host name that could not be resolved ({detail})"
    if any(isinstance(item, (TimeoutError, urllib3.exceptions.TimeoutError)) for item in chain):
        return f"did not respond within {CONNECT_TIMEOUT_SECONDS} s"
    return f"could not be reached ({detail})"


def _built_tools() -> Path | None:
    """Return the folder of the helm and kubectl that sparkrig built, when PATH lacks either.

    They are the local cluster's clients, and they work against any cluster:
    with them, a machine set up by scripts/setup.sh needs no other Helm.
    """
    if shutil.which("helm") and shutil.which("kubectl"):
        return None
    folder = toolchain.bin_dir()
    if (folder / "helm").is_file() and (folder / "kubectl").is_file():
        return folder
    return None


def _describe(provider: str, target: _Target, api: client.ApiClient, *,
              tools_path: Path | None, capabilities: frozenset[str]) -> ClusterInfo:
    if tools_path is None:
        tools_path = _built_tools()
    try:
        version = client.VersionApi(api).get_code(_request_timeout=CONNECT_TIMEOUT_SECONDS)
        capacity = node_registry.read_capacity(api)
    finally:
        node_registry.close_client(api)
    return ClusterInfo(
        provider=provider,
        kubeconfig=target.kubeconfig,
        context=target.context,
        server=target.server,
        version=str(version.git_version),
        tools_path=tools_path,
        capabilities=capabilities,
        capacity=capacity,
    )


class LocalProvider:
    """Provider of the embedded cluster, which `connect` starts when it is not running."""

    name = "local"

    def __init__(self, *, state_dir: Path | None = None, shape: NodeShape | None = None,
                 report: Callable[[str], None] | None = None) -> None:
        self.cluster = LocalCluster(state_dir, report=report)
        self.shape = shape or NodeShape()

    def connect(self) -> ClusterInfo:
        record = self.cluster.up(self.shape)
        if self.cluster.started_by_up:
            print(f"sparkrig: note: started the local cluster at {record.server} (state "
                  f"{self.cluster.state.root}); it keeps running for later runs, and "
                  "'invoke cluster.down' stops it", file=sys.stderr)
        target = _Target(self.cluster.kubeconfig, CONTEXT_NAME, record.server)
        api = _connect(target)
        return _describe(self.name, target, api, tools_path=Path(record.bin_dir),
                         capabilities=frozenset())


class ExistingProvider:
    """The current context of the kubeconfig (or a named context)."""

    name = "existing"

    def __init__(self, *, kubeconfig: Path | None = None, context: str | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.context = context

    def connect(self) -> ClusterInfo:
        target = _resolve_context(self.kubeconfig or default_kubeconfig(), self.context)
        api = _connect(target)
        return _describe(self.name, target, api, tools_path=None,
                         capabilities=frozenset({CONTAINERS}))


class KindProvider:
    """A kind cluster: the current context must be one named kind-*."""

    name = "kind"

    def __init__(self, *, kubeconfig: Path | None = None, context: str | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.context = context

    def connect(self) -> ClusterInfo:
        kubeconfig = self.kubeconfig or default_kubeconfig()
        target = _resolve_context(kubeconfig, self.context)
        if not target.context.startswith("kind-"):
            raise ClusterUnreachableError(
                f"the context '{target.context}' in {kubeconfig} is not a kind cluster "
                "(kind names its contexts kind-NAME). Create one with 'kind create cluster' "
                "or switch with 'kubectl config use-context kind-NAME'."
            )
        api = _connect(target)
        return _describe(self.name, target, api, tools_path=None,
                         capabilities=frozenset({CONTAINERS}))


class AutoProvider:
    """Provider of the current kubeconfig context if its API server responds, else the local one."""

    name = "auto"

    def __init__(self, *, kubeconfig: Path | None = None, local: LocalProvider | None = None
                 ) -> None:
        self.kubeconfig = kubeconfig
        self.local = local or LocalProvider()

    def connect(self) -> ClusterInfo:
        kubeconfig = self.kubeconfig or default_kubeconfig()
        try:
            target = _resolve_context(kubeconfig, None)
            if target.context == CONTEXT_NAME:
                # The local cluster's own kubeconfig: treat it as local, without containers.
                return self.local.connect()
            api = _connect(target)
        except ClusterUnreachableError as exc:
            if kubeconfig.is_file():
                # The user has a kubeconfig and may expect its cluster, so say why it is skipped.
                print(f"sparkrig: note: using the local cluster, because {exc} "
                      "Use '--cluster existing' to fail instead.", file=sys.stderr)
            else:
                logger.info("no kubeconfig at %s, using the local cluster", kubeconfig)
            return self.local.connect()
        return _describe("existing", target, api, tools_path=None,
                         capabilities=frozenset({CONTAINERS}))


def get_provider(name: str) -> ClusterProvider:
    """Return the provider for a `--cluster` choice; `none` is the runner's own case."""
    if name == "local":
        return LocalProvider()
    if name == "existing":
        return ExistingProvider()
    if name == "kind":
        return KindProvider()
    if name == "auto":
        return AutoProvider()
    raise UsageError(
        f"invalid cluster provider {name!r}: expected one of {', '.join(PROVIDER_NAMES)} "
        "('none' runs without a cluster and is handled by the runner)"
    )
