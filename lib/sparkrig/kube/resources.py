"""Resolve the kind names that steps use (`deployment`, `deploy`, `pods`, `job.batch`) to API paths.

Like kubectl, a step may name a resource type by its kind, singular, plural or
short name, case-insensitively, optionally qualified by its API group
(`cronjob.batch`). Discovery reads `/api/v1` first and the preferred version of
each group under `/apis` only when the core group lacks the name, so the
common kinds (pods, services, configmaps) cost one request per attempt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sparkrig.kube.client import KubeClient

__all__ = ["ResourceType", "ResourceResolver", "UnknownResourceError"]

logger = logging.getLogger(__name__)


class UnknownResourceError(LookupError):
    """No API resource type matches a name."""


@dataclass(frozen=True)
class ResourceType:
    """One API resource type: where its objects live and what they are called."""

    group_version: str  # "v1" for the core group, else "group/version"
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0]

    def names(self) -> set[str]:
        return {self.plural, self.singular or self.kind.lower(), self.kind.lower(),
                *self.short_names}

    def path(self, namespace: str | None, name: str = "") -> str:
        """Return the API path of the collection in `namespace`, or of the object `name`."""
        base = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        if self.namespaced and namespace:
            base = f"{base}/namespaces/{quote(namespace, safe='')}"
        path = f"{base}/{self.plural}"
        return f"{path}/{quote(name, safe='')}" if name else path


def _parse_resource_list(group_version: str, data: dict[str, Any]) -> list[ResourceType]:
    types = []
    for item in data.get("resources") or []:
        if "/" in item.get("name", ""):
            continue  # a subresource such as pods/log
        types.append(ResourceType(
            group_version=group_version,
            plural=item["name"],
            kind=item["kind"],
            namespaced=bool(item.get("namespaced")),
            singular=item.get("singularName") or "",
            short_names=tuple(item.get("shortNames") or ()),
        ))
    return types


class ResourceResolver:
    """Resolves resource type names against the API server's discovery, caching the results."""

    def __init__(self, client: KubeClient) -> None:
        self._client = client
        self._core: list[ResourceType] | None = None
        self._groups: list[ResourceType] | None = None
        self._resolved: dict[str, ResourceType] = {}

    def _core_types(self) -> list[ResourceType]:
        if self._core is None:
            self._core = _parse_resource_list("v1", self._client.request("GET", "/api/v1"))
        return self._core

    def _group_types(self) -> list[ResourceType]:
        if self._groups is None:
            types: list[ResourceType] = []
            for group in self._client.request("GET", "/apis").get("groups") or []:
                preferred = (group.get("preferredVersion") or {}).get("groupVersion")
                if not preferred:
                    continue
                data = self._client.request("GET", f"/apis/{preferred}")
                types.extend(_parse_resource_list(preferred, data))
            self._groups = types
        return self._groups

    def resolve(self, name: str) -> ResourceType:
        """Return the resource type called `name`, as kubectl would resolve it.

        Raises `UnknownResourceError` naming the type when the server has none.
        """
        key = name.strip().lower()
        if key in self._resolved:
            return self._resolved[key]
        short, _, group = key.partition(".")

        def matches(candidate: ResourceType) -> bool:
            if group and candidate.group != group:
                return False
            return short in candidate.names()

        found = None
        if not group:
            found = next((t for t in self._core_types() if matches(t)), None)
        if found is None:
            found = next((t for t in self._group_types() if matches(t)), None)
        if found is None:
            raise UnknownResourceError(
                f"the server has no resource type {name!r}; "
                "use a kind such as deployment, pod, service or job.batch"
            )
        self._resolved[key] = found
        return found
