"""A small JSON client for the Kubernetes API, on top of the official `kubernetes` package.

The official client loads the kubeconfig (certificates, tokens, exec plugins)
and owns the HTTP connection pool; this module sends requests through it by
path and works with plain dicts, which is what assert and wait steps compare
against (the camelCase JSON of `kubectl get -o json`). Every request has a
timeout, so a hung API server costs a bounded time, and every failure becomes a
`KubeApiError` that carries the HTTP status and the API server's message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from kubernetes import config as kube_config
from kubernetes.client import ApiClient

from sparkrig.cluster.base import ClusterInfo
from sparkrig.errors import InfrastructureError

__all__ = ["API_TIMEOUT_SECONDS", "KubeApiError", "KubeClient", "namespaced_path"]

logger = logging.getLogger(__name__)

API_TIMEOUT_SECONDS = 15.0  # one request; the local API server responds in milliseconds

_CONTENT_TYPES = {
    "POST": "application/json",
    "PUT": "application/json",
    "PATCH": "application/merge-patch+json",
}


class KubeApiError(InfrastructureError):
    """The API server rejected a request or could not be reached."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        where = f"{method} {path}"
        if status:
            super().__init__(f"{where}: HTTP {status}: {message}")
        else:
            super().__init__(f"{where}: {message}; check that the cluster is running")


def namespaced_path(
    namespace: str, plural: str, name: str = "", *, group_version: str = "v1"
) -> str:
    """Return the API path of a namespaced collection, or of one object in it."""
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    path = f"{base}/namespaces/{quote(namespace, safe='')}/{plural}"
    return f"{path}/{quote(name, safe='')}" if name else path


def _status_message(data: bytes) -> str:
    try:
        body = json.loads(data)
    except ValueError:
        return data.decode("utf-8", errors="replace").strip()[:500]
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return json.dumps(body)[:500]


class KubeClient:
    """Sends JSON requests by API path to the cluster of a `ClusterInfo`."""

    def __init__(self, cluster: ClusterInfo) -> None:
        config_file = str(cluster.kubeconfig) if cluster.kubeconfig is not None else None
        try:
            # The kubernetes package leaves its config loader and response reader unannotated.
            self.api: ApiClient = kube_config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=config_file, context=cluster.context, persist_config=False
            )
        except (kube_config.ConfigException, OSError, ValueError) as exc:
            raise InfrastructureError(
                f"cannot load kubeconfig {config_file or '(default)'}"
                f" context {cluster.context or '(current)'}: {exc}; "
                "check the file or run `sparkrig cluster up`"
            ) from exc

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]  # unannotated in the kubernetes package

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        body: Any = None,
        timeout: float = API_TIMEOUT_SECONDS,
        raw: bool = False,
    ) -> Any:
        """Send a request; return the decoded JSON body (the text body when `raw`).

        Raises `KubeApiError` for any status outside 2xx and for connection errors.
        """
        pairs = list(query.items()) if isinstance(query, Mapping) else list(query or [])
        headers = {"Accept": "text/plain, */*" if raw else "application/json"}
        if method in _CONTENT_TYPES:
            headers["Content-Type"] = _CONTENT_TYPES[method]
        serialized = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=pairs or None,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api.call_api(*serialized, _request_timeout=timeout)
            data: bytes = response.read()  # type: ignore[no-untyped-call]  # unannotated upstream
        except Exception as exc:  # noqa: BLE001 - urllib3 raises many kinds; all mean unreachable
            raise KubeApiError(method, path, 0, f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status <= 299:
            raise KubeApiError(method, path, response.status, _status_message(data))
        if raw:
            return data.decode("utf-8", errors="replace")
        return json.loads(data) if data else None

    def get(self, path: str, *, timeout: float = API_TIMEOUT_SECONDS) -> dict[str, Any] | None:
        """Return the object at `path`, or None when it does not exist."""
        try:
            result: dict[str, Any] = self.request("GET", path, timeout=timeout)
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise
        return result

    def list(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout: float = API_TIMEOUT_SECONDS,
    ) -> list[dict[str, Any]]:
        """Return the items of the collection at `path`, filtered by the selectors."""
        query = []
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        result = self.request("GET", path, query=query, timeout=timeout)
        items: list[dict[str, Any]] = result.get("items") or []
        return items

    def create(
        self, path: str, body: Mapping[str, Any], *, timeout: float = API_TIMEOUT_SECONDS
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", path, body=dict(body), timeout=timeout)
        return result

    def delete(
        self, path: str, *, propagation: str = "Background", timeout: float = API_TIMEOUT_SECONDS
    ) -> bool:
        """Delete the object at `path`; return False when it was already gone."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        try:
            self.request("DELETE", path, body=body, timeout=timeout)
        except KubeApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def patch(
        self, path: str, body: Mapping[str, Any], *, timeout: float = API_TIMEOUT_SECONDS
    ) -> dict[str, Any]:
        """Apply a JSON merge patch to the object at `path`."""
        result: dict[str, Any] = self.request("PATCH", path, body=dict(body), timeout=timeout)
        return result
