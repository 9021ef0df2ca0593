"""Objects that `cluster up` creates: the default StorageClass and admission policies.

Storage: the StorageClass `standard` (the name kind uses too) is the default
class. Its provisioner `kubernetes.io/host-path` is kube-controller-manager's
built-in hostpath provisioner, which binds a claim within seconds and creates
a folder `/tmp/hostpath_pv/<uuid>` per volume. The folder is hard-coded in
Kubernetes, so it cannot live in the state folder. Reclaim policy Delete
removes the folder with its claim, and `cluster down` removes the folders of
volumes that still exist (`hostpath_folders`).

Admission: KWOK simulates pods, so nothing serves a webhook, an aggregated
API or a CRD conversion, and `exec`, `attach` and `port-forward` have no
process to reach. A webhook configuration that points at such a backend
would fail every request it matches, in every namespace, until it is
deleted. ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1)
reject these objects and requests at once, with a message that names the
object and says what to do, so the chart's `helm install` fails in
milliseconds and the other scenarios on the cluster go on unaffected. A
webhook whose `clientConfig.url` points at a loopback host is allowed,
because a process on this machine may serve it.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from pathlib import Path
from typing import Any

from kubernetes import client

__all__ = [
    "STORAGE_CLASS",
    "HOSTPATH_ROOT",
    "POLICY_PREFIX",
    "storage_class",
    "admission_policies",
    "create_cluster_objects",
    "policies_active",
    "hostpath_folders",
    "remove_hostpath_folders",
]

logger = logging.getLogger(__name__)

STORAGE_CLASS = "standard"
HOSTPATH_ROOT = Path("/tmp/hostpath_pv")
# The hostpath provisioner names each folder by a random UUID (pkg/volume/hostpath in Kubernetes).
_HOSTPATH_FOLDER = re.compile(r"^/tmp/hostpath_pv/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                              r"[0-9a-f]{12}$")
POLICY_PREFIX = "sparkrig-local-"
REQUEST_TIMEOUT = 10
# Policies take effect once the API server's informer has compiled them, usually within 1 s.
POLICY_ACTIVE_TIMEOUT = 30.0
POLICY_POLL_SECONDS = 0.2

_FIX = "; mark the scenario `requires: [containers]` or run it on kind"


def storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "kubernetes.io/host-path",
        "reclaimPolicy": "Delete",
        # Immediate binding: the hostpath provisioner ignores topology, so waiting
        # for the first consumer would only delay the claim.
        "volumeBindingMode": "Immediate",
    }


def _unreachable(client_config: str) -> str:
    """Return CEL that is true when a webhook clientConfig has no backend on this machine."""
    return (f"has({client_config}.service) || (has({client_config}.url) && "
            f"!url({client_config}.url).getHostname().matches('^(localhost|::1|127[.].*)$'))")


def _policy(name: str, rules: list[dict[str, Any]], *, variables: list[dict[str, str]],
            expression: str, message_expression: str, message: str) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": POLICY_PREFIX + name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": rules},
            "variables": variables,
            "validations": [{"expression": expression, "message": message,
                             "messageExpression": message_expression,
                             "reason": "Invalid"}],
        },
    }


def _binding(policy: dict[str, Any]) -> dict[str, Any]:
    name = policy["metadata"]["name"]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }


def _rule(group: str, resources: list[str], operations: list[str]) -> dict[str, Any]:
    return {"apiGroups": [group], "apiVersions": ["*"], "operations": operations,
            "resources": resources}


def admission_policies() -> list[dict[str, Any]]:
    """Return the policies and their bindings, each policy followed by its binding."""
    webhooks = _policy(
        "webhook-backends",
        [_rule("admissionregistration.k8s.io",
               ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"],
               ["CREATE", "UPDATE"])],
        variables=[{"name": "blocked", "expression":
                    "(has(object.webhooks) ? object.webhooks : [])"
                    f".filter(w, {_unreachable('w.clientConfig')}).map(w, w.name)"}],
        expression="size(variables.blocked) == 0",
        message_expression=("'the local sparkrig cluster simulates pods, so webhook ' + "
                            "variables.blocked[0] + ' of ' + object.kind + ' ' + "
                            f"object.metadata.name + ' has no backend to call{_FIX}'"),
        message=f"the local sparkrig cluster simulates pods, so a webhook has no backend{_FIX}",
    )
    conversion = _policy(
        "conversion-webhooks",
        [_rule("apiextensions.k8s.io", ["customresourcedefinitions"], ["CREATE", "UPDATE"])],
        variables=[{"name": "blocked", "expression":
                    "has(object.spec.conversion) && object.spec.conversion.strategy == 'Webhook'"
                    " && has(object.spec.conversion.webhook)"
                    " && has(object.spec.conversion.webhook.clientConfig)"
                    f" && ({_unreachable('object.spec.conversion.webhook.clientConfig')})"}],
        expression="!variables.blocked",
        message_expression=("'the local sparkrig cluster simulates pods, so the conversion "
                            "webhook of CustomResourceDefinition ' + object.metadata.name + "
                            f"' has no backend to call{_FIX}'"),
        message=("the local sparkrig cluster simulates pods, so a CRD conversion webhook has "
                 f"no backend{_FIX}"),
    )
    apiservices = _policy(
        "aggregated-apis",
        [_rule("apiregistration.k8s.io", ["apiservices"], ["CREATE", "UPDATE"])],
        variables=[],
        expression="!has(object.spec.service)",
        message_expression=("'the local sparkrig cluster simulates pods, so APIService ' + "
                            "object.metadata.name + ' served by Service ' + "
                            "object.spec.service.namespace + '/' + object.spec.service.name + "
                            f"' has no backend to call{_FIX}'"),
        message=("the local sparkrig cluster simulates pods, so an aggregated API has no "
                 f"backend{_FIX}"),
    )
    streams = _policy(
        "container-streams",
        [_rule("", ["pods/exec", "pods/attach", "pods/portforward"], ["CONNECT"])],
        variables=[],
        expression="false",
        message_expression=("'the local sparkrig cluster simulates pods, so pod ' + "
                            "request.namespace + '/' + request.name + ' runs no container for ' "
                            f"+ request.subResource + '{_FIX}'"),
        message=f"the local sparkrig cluster simulates pods, so no container runs{_FIX}",
    )
    documents: list[dict[str, Any]] = []
    for policy in (webhooks, conversion, apiservices, streams):
        documents += [policy, _binding(policy)]
    return documents


_COLLECTIONS = {
    "StorageClass": "/apis/storage.k8s.io/v1/storageclasses",
    "ValidatingAdmissionPolicy":
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding":
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
    "ValidatingWebhookConfiguration":
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
    "PersistentVolume": "/api/v1/persistentvolumes",
}


def _request(api: client.ApiClient, method: str, path: str, *, body: Any = None,
             query: list[tuple[str, str]] | None = None) -> tuple[int, Any]:
    """Send one JSON request through the client's pool; return the status and decoded body."""
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    serialized = api.param_serialize(method=method, resource_path=path, query_params=query,
                                     header_params=headers, body=body,
                                     auth_settings=["BearerToken"])
    response = api.call_api(*serialized, _request_timeout=REQUEST_TIMEOUT)
    data: bytes = response.read()  # type: ignore[no-untyped-call]  # unannotated upstream
    return response.status, json.loads(data) if data else None


def _create(api: client.ApiClient, document: dict[str, Any]) -> None:
    """Create one object; an object that already exists is kept."""
    status, body = _request(api, "POST", _COLLECTIONS[document["kind"]], body=document)
    if status not in (200, 201, 409):
        message = body.get("message") if isinstance(body, dict) else body
        raise RuntimeError(f"creating {document['kind']} {document['metadata']['name']} "
                           f"returned HTTP {status}: {message}")


def _probe_webhook() -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": f"{POLICY_PREFIX}probe"},
        "webhooks": [{
            "name": "probe.sparkrig.local",
            "clientConfig": {"service": {"name": "probe", "namespace": "default"}},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                       "resources": ["configmaps"]}],
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        }],
    }


def policies_active(api: client.ApiClient) -> bool:
    """Return whether a dry-run create of a service-backed webhook is rejected by the policy."""
    status, body = _request(api, "POST", _COLLECTIONS["ValidatingWebhookConfiguration"],
                            body=_probe_webhook(), query=[("dryRun", "All")])
    return status == 422 and POLICY_PREFIX in json.dumps(body)


def create_cluster_objects(api: client.ApiClient) -> None:
    """Create the StorageClass and policies, and wait until the policies are enforced."""
    for document in [storage_class(), *admission_policies()]:
        _create(api, document)
    deadline = time.monotonic() + POLICY_ACTIVE_TIMEOUT
    while not policies_active(api):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the admission policies {POLICY_PREFIX}* were not enforced "
                               f"within {POLICY_ACTIVE_TIMEOUT:.0f} s")
        time.sleep(POLICY_POLL_SECONDS)


def hostpath_folders(volumes: list[dict[str, Any]]) -> list[Path]:
    """Return the folders of hostpath-provisioned volumes among PersistentVolume objects.

    Only paths of the exact form `/tmp/hostpath_pv/<uuid>` qualify, so a
    hand-made PersistentVolume with another hostPath is never touched.
    """
    folders = []
    for volume in volumes:
        path = ((volume.get("spec") or {}).get("hostPath") or {}).get("path", "")
        if isinstance(path, str) and _HOSTPATH_FOLDER.match(path):
            folders.append(Path(path))
    return folders


def remove_hostpath_folders(api: client.ApiClient) -> list[Path]:
    """Remove the folders of the cluster's remaining hostpath volumes; return them."""
    status, body = _request(api, "GET", _COLLECTIONS["PersistentVolume"])
    if status != 200:
        raise RuntimeError(f"listing PersistentVolumes returned HTTP {status}")
    volumes = body.get("items") or []
    removed = []
    for folder in hostpath_folders(volumes):
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        logger.info("removed %d hostpath volume folders under %s", len(removed), HOSTPATH_ROOT)
    return removed
