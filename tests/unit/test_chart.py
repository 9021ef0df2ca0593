"""Static checks of the reference chart `charts/spark` with real Helm, no cluster.

Each preset is linted with `helm lint --strict` and rendered with
`helm template`. Every pod the chart renders must pass the Pod Security
"restricted" rules and set requests and limits: Deployments, StatefulSets and
the `helm test` Pod. The pod template that Spark's own driver and executor
pods inherit must pass the same security rules. values.schema.json is checked
twice: with Python's jsonschema (fast, no Helm) and through Helm, which is what
users hit.

Tests that need Helm skip with a reason when neither the local cluster's
binary cache nor PATH has it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from sparkrig.cluster import toolchain

CHART = Path(__file__).resolve().parents[2] / "charts" / "spark"
PRESETS = sorted(path.stem for path in (CHART / "presets").glob("*.yaml"))
HELM_TIMEOUT_SECONDS = 120
RELEASE = "spark-unit"

# Volume types that Pod Security "restricted" admits.
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret",
}
POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod")


def find_helm() -> str | None:
    cached = toolchain.bin_dir() / "helm"
    if cached.is_file():
        return str(cached)
    return shutil.which("helm")


HELM = find_helm()
needs_helm = pytest.mark.skipif(
    HELM is None,
    reason="helm not found in the sparkrig binary cache or on PATH; "
    "run `python -m sparkrig cluster build`",
)


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    assert HELM is not None
    return subprocess.run(
        [HELM, *args],
        capture_output=True,
        text=True,
        timeout=HELM_TIMEOUT_SECONDS,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def render(*values_args: str) -> list[dict[str, Any]]:
    """Render the chart and return its objects, hooks included."""
    result = run_helm("template", RELEASE, str(CHART), "--namespace", "unit", *values_args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def preset_args(preset: str) -> list[str]:
    return ["-f", str(CHART / "presets" / f"{preset}.yaml")]


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (kind/name, pod spec) for every object that makes pods."""
    for obj in objects:
        kind = obj["kind"]
        if kind not in POD_KINDS:
            continue
        name = f"{kind}/{obj['metadata']['name']}"
        spec = obj["spec"] if kind == "Pod" else obj["spec"]["template"]["spec"]
        yield name, spec


def restricted_violations(spec: dict[str, Any]) -> list[str]:
    """List the Pod Security "restricted" rules that a pod spec breaks."""
    problems = []
    pod_context = spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            problems.append(f"{flag} is set")
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']} has type {sorted(kinds)}")

    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    if not containers:
        problems.append("no containers")
    for container in containers:
        name = container["name"]
        context = container.get("securityContext") or {}
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{name}: capabilities.drop lacks ALL")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {capabilities['add']}")
        run_as_non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
        if run_as_non_root is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        run_as_user = context.get("runAsUser", pod_context.get("runAsUser"))
        if not isinstance(run_as_user, int) or run_as_user == 0:
            problems.append(f"{name}: runAsUser {run_as_user!r} is not a non-zero number")
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {})
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile {seccomp!r}")
    return problems


def resource_gaps(spec: dict[str, Any]) -> list[str]:
    """List the containers that lack a cpu or memory request or limit."""
    gaps = []
    for container in spec.get("containers") or []:
        resources = container.get("resources") or {}
        for section in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(section) or {}):
                    gaps.append(f"{container['name']}: no {section}.{resource}")
    return gaps


def by_kind_name(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"{kind}/{name} not rendered; got {[o['kind'] for o in objects]}")


# --- values.schema.json with jsonschema (no Helm) ----------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return loaded


@pytest.fixture(scope="module")
def default_values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge `override` into a copy of `base` the way Helm merges values files.

    As in Helm, a None (YAML null) value removes the key.
    """
    result = dict(base)
    for key, value in override.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def test_schema_is_valid_draft_2020_12(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_accepts_defaults(schema: dict[str, Any], default_values: dict[str, Any]) -> None:
    jsonschema.validate(default_values, schema)


def test_presets_exist() -> None:
    for required in ("connect", "standalone", "history", "restricted"):
        assert required in PRESETS


@pytest.mark.parametrize("preset", PRESETS)
def test_schema_accepts_preset(
    preset: str, schema: dict[str, Any], default_values: dict[str, Any]
) -> None:
    overrides = yaml.safe_load((CHART / "presets" / f"{preset}.yaml").read_text())
    jsonschema.validate(merged(default_values, overrides), schema)


BAD_VALUES = [
    pytest.param({"connect": {"replica": 2}}, id="unknown-key"),
    pytest.param({"unknownTopLevel": True}, id="unknown-top-level-key"),
    pytest.param({"connect": {"master": "yarn"}}, id="master-enum"),
    pytest.param({"connect": {"replicas": -1}}, id="negative-replicas"),
    pytest.param({"connect": {"replicas": "two"}}, id="replicas-type"),
    pytest.param({"connect": {"ports": {"grpc": 70000}}}, id="port-range"),
    pytest.param({"standalone": {"worker": {"kind": "DaemonSet"}}}, id="worker-kind-enum"),
    pytest.param({"standalone": {"worker": {"cores": 0}}}, id="worker-cores-minimum"),
    pytest.param({"standalone": {"worker": {"memory": "lots"}}}, id="worker-memory-format"),
    pytest.param({"podSecurityContext": {"runAsUser": 0}}, id="root-uid"),
    pytest.param({"podSecurityContext": {"runAsNonRoot": False}}, id="run-as-root"),
    pytest.param({"containerSecurityContext": {"privileged": True}}, id="privileged"),
    pytest.param(
        {"containerSecurityContext": {"allowPrivilegeEscalation": True}}, id="escalation"
    ),
    pytest.param(
        {"containerSecurityContext": {"capabilities": {"drop": []}}}, id="capabilities-kept"
    ),
    pytest.param(
        {"connect": {"resources": {"requests": {"memory": None}}}}, id="memory-missing"
    ),
    pytest.param({"history": {"resources": {"limits": None}}}, id="limits-missing"),
    pytest.param({"image": {"pullPolicy": "Sometimes"}}, id="pull-policy-enum"),
    pytest.param({"sparkConf": {"executor.memory": "1g"}}, id="spark-conf-key"),
    pytest.param(
        {"history": {"eventLog": {"persistence": {"accessModes": ["ReadWriteAlways"]}}}},
        id="access-mode-enum",
    ),
]


@pytest.mark.parametrize("override", BAD_VALUES)
def test_schema_rejects_bad_values(
    override: dict[str, Any], schema: dict[str, Any], default_values: dict[str, Any]
) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merged(default_values, override), schema)


# --- helm lint and helm template ---------------------------------------------


@needs_helm
def test_lint_strict_defaults() -> None:
    result = run_helm("lint", "--strict", str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout
    assert "[INFO]" not in result.stdout


@needs_helm
@pytest.mark.parametrize("preset", PRESETS)
def test_lint_strict_preset(preset: str) -> None:
    result = run_helm("lint", "--strict", str(CHART), *preset_args(preset))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout


# Presets plus the shapes that only --set reaches.
RENDER_CASES = [pytest.param(preset_args(p), id=p) for p in PRESETS] + [
    pytest.param([], id="defaults"),
    pytest.param(
        ["--set", "history.eventLog.persistence.enabled=true"], id="history-pvc"
    ),
    pytest.param(
        ["--set", "standalone.enabled=true", "--set", "standalone.worker.kind=StatefulSet"],
        id="statefulset-workers",
    ),
    pytest.param(["--set", "imagePullSecrets[0].name=registry"], id="pull-secret"),
]


@needs_helm
@pytest.mark.parametrize("values_args", RENDER_CASES)
def test_pods_are_restricted_compliant(values_args: list[str]) -> None:
    objects = render(*values_args)
    specs = list(pod_specs(objects))
    assert specs, "no pod-making objects rendered"
    for name, spec in specs:
        assert restricted_violations(spec) == [], name


@needs_helm
@pytest.mark.parametrize("values_args", RENDER_CASES)
def test_pods_set_requests_and_limits(values_args: list[str]) -> None:
    for name, spec in pod_specs(render(*values_args)):
        assert resource_gaps(spec) == [], name


@needs_helm
@pytest.mark.parametrize("preset", PRESETS)
def test_spark_pod_template_is_restricted(preset: str) -> None:
    objects = render(*preset_args(preset))
    conf = by_kind_name(objects, "ConfigMap", f"{RELEASE}-conf")
    template = yaml.safe_load(conf["data"]["pod-template.yaml"])
    assert template["kind"] == "Pod"
    # Spark adds resources to its own pods, so only the security rules apply.
    assert restricted_violations(template["spec"]) == []
    defaults = conf["data"]["spark-defaults.conf"]
    assert "spark.kubernetes.driver.podTemplateFile" in defaults
    assert "spark.kubernetes.executor.podTemplateFile" in defaults


@needs_helm
def test_rendered_pods_use_pinned_official_image(default_values: dict[str, Any]) -> None:
    expected = f"apache/spark:{default_values['image']['tag']}"
    assert default_values["image"]["tag"].startswith("4.0.")
    for name, spec in pod_specs(render(*preset_args("full"))):
        for container in spec["containers"]:
            assert container["image"] == expected, name


@needs_helm
def test_connect_service_ports() -> None:
    objects = render(*preset_args("connect"))
    service = by_kind_name(objects, "Service", f"{RELEASE}-connect")
    ports = {port["name"]: port["port"] for port in service["spec"]["ports"]}
    assert ports == {"grpc": 15002, "ui": 4040}


@needs_helm
def test_history_service_port_and_event_log_volume() -> None:
    objects = render(*preset_args("history"))
    service = by_kind_name(objects, "Service", f"{RELEASE}-history")
    assert [port["port"] for port in service["spec"]["ports"]] == [18080]
    deployment = by_kind_name(objects, "Deployment", f"{RELEASE}-history")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes["events"]


@needs_helm
def test_history_pvc_when_persistence_enabled() -> None:
    objects = render("--set", "history.eventLog.persistence.enabled=true",
                     "--set", "history.eventLog.persistence.size=5Gi")
    claim = by_kind_name(objects, "PersistentVolumeClaim", f"{RELEASE}-events")
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    deployment = by_kind_name(objects, "Deployment", f"{RELEASE}-history")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["events"]["persistentVolumeClaim"]["claimName"] == f"{RELEASE}-events"


@needs_helm
def test_history_existing_claim_creates_no_pvc() -> None:
    objects = render("--set", "history.eventLog.persistence.enabled=true",
                     "--set", "history.eventLog.persistence.existingClaim=shared-events")
    assert not [obj for obj in objects if obj["kind"] == "PersistentVolumeClaim"]
    deployment = by_kind_name(objects, "Deployment", f"{RELEASE}-history")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["events"]["persistentVolumeClaim"]["claimName"] == "shared-events"


@needs_helm
def test_standalone_ports_and_worker_replicas() -> None:
    objects = render(*preset_args("standalone"), "--set", "standalone.worker.replicas=7")
    master = by_kind_name(objects, "Service", f"{RELEASE}-master")
    ports = {port["name"]: port["port"] for port in master["spec"]["ports"]}
    assert ports == {"rpc": 7077, "ui": 8080}
    workers = by_kind_name(objects, "Deployment", f"{RELEASE}-worker")
    assert workers["spec"]["replicas"] == 7
    args = workers["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"spark://{RELEASE}-master:7077" in args


@needs_helm
def test_statefulset_workers_get_headless_service() -> None:
    objects = render(*preset_args("full"))
    workers = by_kind_name(objects, "StatefulSet", f"{RELEASE}-worker")
    assert workers["spec"]["serviceName"] == f"{RELEASE}-worker"
    service = by_kind_name(objects, "Service", f"{RELEASE}-worker")
    assert service["spec"]["clusterIP"] == "None"


@needs_helm
def test_driver_rbac_is_namespaced() -> None:
    objects = render()
    kinds = {obj["kind"] for obj in objects}
    assert "ClusterRole" not in kinds
    assert "ClusterRoleBinding" not in kinds
    role = by_kind_name(objects, "Role", f"{RELEASE}-driver")
    core = [rule for rule in role["rules"] if rule["resources"] != ["pods/log"]]
    assert len(core) == 1
    assert set(core[0]["resources"]) == {
        "pods", "services", "configmaps", "persistentvolumeclaims"
    }
    assert {"create", "get", "list", "watch", "delete"} <= set(core[0]["verbs"])
    assert "*" not in core[0]["verbs"]
    binding = by_kind_name(objects, "RoleBinding", f"{RELEASE}-driver")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": f"{RELEASE}-driver", "namespace": "unit"}
    ]
    by_kind_name(objects, "ServiceAccount", f"{RELEASE}-driver")


@needs_helm
def test_only_kubernetes_master_mounts_token() -> None:
    def connect_spec(*args: str) -> dict[str, Any]:
        deployment = by_kind_name(render(*args), "Deployment", f"{RELEASE}-connect")
        spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
        return spec

    assert connect_spec(*preset_args("connect"))["automountServiceAccountToken"] is False
    kubernetes = connect_spec(*preset_args("kubernetes"))
    assert kubernetes["automountServiceAccountToken"] is True
    assert kubernetes["serviceAccountName"] == f"{RELEASE}-driver"
    assert "k8s://https://kubernetes.default.svc:443" in kubernetes["containers"][0]["args"]


@needs_helm
def test_restricted_preset_locks_down() -> None:
    objects = render(*preset_args("restricted"))
    by_kind_name(objects, "NetworkPolicy", RELEASE)
    for name, spec in pod_specs(objects):
        assert spec.get("automountServiceAccountToken") is False, name
        for container in spec["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name


@needs_helm
def test_helm_test_hook_checks_connect_port() -> None:
    objects = render(*preset_args("connect"))
    hook = by_kind_name(objects, "Pod", f"{RELEASE}-test-connect")
    assert hook["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert hook["spec"]["restartPolicy"] == "Never"
    script = " ".join(hook["spec"]["containers"][0]["args"])
    assert f"{RELEASE}-connect:15002" in script


@needs_helm
def test_standalone_master_without_standalone_fails() -> None:
    result = run_helm("template", RELEASE, str(CHART), "--set", "connect.master=standalone")
    assert result.returncode != 0
    assert "standalone.enabled" in result.stderr


HELM_BAD_SETS = [
    ("connect.replica=2", "replica"),
    ("connect.master=yarn", "/connect/master"),
    ("podSecurityContext.runAsUser=0", "/podSecurityContext/runAsUser"),
    ("containerSecurityContext.privileged=true", "/containerSecurityContext/privileged"),
    ("standalone.worker.kind=DaemonSet", "/standalone/worker/kind"),
    ("history.port=0", "/history/port"),
]


@needs_helm
@pytest.mark.parametrize(("pair", "path"), HELM_BAD_SETS)
def test_helm_rejects_bad_set(pair: str, path: str) -> None:
    result = run_helm("template", RELEASE, str(CHART), "--set", pair)
    assert result.returncode != 0
    assert path in result.stderr
