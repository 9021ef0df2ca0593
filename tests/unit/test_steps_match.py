"""Placeholders, partial matching, JSONPath and wait conditions, without a cluster."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sparkrig.kube.cli import select_namespaces
from sparkrig.kube.lease import resource_limit_objects
from sparkrig.kube.match import (
    condition_state,
    jsonpath_values,
    match_partial,
    parse_wait_for,
    substitute,
    substitute_all,
)
from sparkrig.kube.steps import check_output_contains
from sparkrig.scenario.model import Resources

VALUES = {
    "NAMESPACE": "spark-test-a-1",
    "RELEASE": "spark-a-x",
    "RUN_ID": "r1",
    "CHART": "/charts/spark",
    "SCENARIO_DIR": "/reports/r1/scenarios/a",
}

SERVICE: dict[str, Any] = {
    "kind": "Service",
    "metadata": {"name": "spark-a-x-connect", "labels": {"app.kubernetes.io/name": "spark"}},
    "spec": {
        "type": "ClusterIP",
        "ports": [
            {"name": "grpc", "port": 15002, "targetPort": "grpc", "protocol": "TCP"},
            {"name": "ui", "port": 4040, "targetPort": "ui", "protocol": "TCP"},
        ],
    },
    "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Ok"}]},
}


def test_every_placeholder_is_substituted() -> None:
    text = "${NAMESPACE} ${RELEASE} ${RUN_ID} ${CHART} ${SCENARIO_DIR}"
    assert substitute(text, VALUES) == (
        "spark-test-a-1 spark-a-x r1 /charts/spark /reports/r1/scenarios/a"
    )


def test_shell_variables_are_kept() -> None:
    assert substitute("$HOME ${HOME} ${NAMESPACE_X} $NAMESPACE", VALUES) == (
        "$HOME ${HOME} ${NAMESPACE_X} $NAMESPACE"
    )


def test_placeholders_in_nested_values_and_keys_are_substituted() -> None:
    value = {"metadata": {"name": "${RELEASE}-connect", "${RELEASE}": [1, "${RUN_ID}"]}}
    assert substitute_all(value, VALUES) == {
        "metadata": {"name": "spark-a-x-connect", "spark-a-x": [1, "r1"]}
    }


def test_subset_of_a_mapping_matches() -> None:
    assert match_partial({"spec": {"type": "ClusterIP"}}, SERVICE) is None


def test_list_items_match_in_any_order() -> None:
    expected = {"spec": {"ports": [{"port": 4040}, {"name": "grpc", "port": 15002}]}}
    assert match_partial(expected, SERVICE) is None


def test_missing_key_names_its_path() -> None:
    problem = match_partial({"spec": {"clusterIP": "None"}}, SERVICE)
    assert problem == "spec.clusterIP: missing (expected 'None')"


def test_unmatched_list_item_names_its_index() -> None:
    problem = match_partial({"spec": {"ports": [{"port": 4040}, {"port": 9999}]}}, SERVICE)
    assert problem is not None
    assert problem.startswith("spec.ports[1]: no live item matches")


def test_different_scalar_names_both_values() -> None:
    assert match_partial({"spec": {"type": "NodePort"}}, SERVICE) == (
        "spec.type: expected 'NodePort', got 'ClusterIP'"
    )


@pytest.mark.parametrize(
    ("expected", "actual"),
    [("1", 1), (1, "1"), ("true", True), (True, "true"), (1.0, 1), ("4Gi", "4Gi")],
)
def test_quoted_and_unquoted_scalars_match(expected: object, actual: object) -> None:
    assert match_partial(expected, actual) is None


@pytest.mark.parametrize(("expected", "actual"), [(True, 1), (1, True), (0, False), (None, 0)])
def test_booleans_do_not_match_numbers(expected: object, actual: object) -> None:
    assert match_partial(expected, actual) is not None


def test_type_mismatch_is_reported() -> None:
    assert match_partial({"spec": {"ports": {"port": 1}}}, SERVICE) is not None
    assert match_partial({"spec": [1]}, SERVICE) is not None


def test_jsonpath_reads_fields_indexes_wildcards_and_quoted_keys() -> None:
    assert jsonpath_values(SERVICE, "{.spec.type}") == ["ClusterIP"]
    assert jsonpath_values(SERVICE, "{.spec.ports[1].port}") == [4040]
    assert jsonpath_values(SERVICE, "{.spec.ports[*].name}") == ["grpc", "ui"]
    assert jsonpath_values(SERVICE, "{.metadata.labels['app.kubernetes.io/name']}") == ["spark"]
    assert jsonpath_values(SERVICE, "{.spec.missing}") == []
    assert jsonpath_values(SERVICE, "{.spec.ports[7]}") == []


def test_jsonpath_filters_are_rejected_with_the_supported_forms() -> None:
    with pytest.raises(ValueError, match="unsupported JSONPath"):
        jsonpath_values(SERVICE, "{.spec.ports[?(@.port==1)]}")


@pytest.mark.parametrize(
    ("text", "kind", "subject", "value"),
    [
        ("condition=Available", "condition", "Available", "True"),
        ("condition=Ready=False", "condition", "Ready", "False"),
        ("jsonpath={.status.phase}=Running", "jsonpath", "{.status.phase}", "Running"),
        ("jsonpath={.status.phase}", "jsonpath", "{.status.phase}", None),
        ("jsonpath={.status.x}=", "jsonpath", "{.status.x}", ""),
        ("delete", "delete", "", None),
    ],
)
def test_wait_for_forms_parse(text: str, kind: str, subject: str, value: str | None) -> None:
    parsed = parse_wait_for(text)
    assert (parsed.kind, parsed.subject, parsed.value) == (kind, subject, value)


@pytest.mark.parametrize("text", ["ready", "condition=", "jsonpath=.status", "jsonpath={.a}x"])
def test_invalid_wait_for_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="expected condition=X"):
        parse_wait_for(text)


def test_condition_is_compared_case_insensitively() -> None:
    met, state = condition_state(SERVICE, parse_wait_for("condition=available"))
    assert met
    assert state == "Available=True (Ok)"
    met, state = condition_state(SERVICE, parse_wait_for("condition=Available=False"))
    assert not met


def test_missing_condition_is_not_met() -> None:
    met, state = condition_state(SERVICE, parse_wait_for("condition=Progressing"))
    assert not met
    assert state == "no condition Progressing"


def test_jsonpath_condition_compares_text() -> None:
    assert condition_state(SERVICE, parse_wait_for("jsonpath={.spec.ports[0].port}=15002"))[0]
    assert not condition_state(SERVICE, parse_wait_for("jsonpath={.spec.type}=NodePort"))[0]
    assert condition_state(SERVICE, parse_wait_for("jsonpath={.spec.type}"))[0]
    assert not condition_state(SERVICE, parse_wait_for("jsonpath={.spec.nothing}"))[0]


def test_output_contains_returns_the_first_missing_text() -> None:
    assert check_output_contains("installed\nready", ["installed", "ready"]) is None
    assert check_output_contains("installed", ["installed", "ready", "x"]) == "ready"


def test_no_resources_make_no_quota() -> None:
    assert resource_limit_objects(Resources()) == []


def test_quota_and_default_requests_follow_resources() -> None:
    quota, limit_range = resource_limit_objects(
        Resources(cpu_millis=2000, memory_bytes=4 << 30, pods=10)
    )
    assert quota["kind"] == "ResourceQuota"
    assert quota["spec"]["hard"] == {
        "requests.cpu": "2000m", "requests.memory": "4096Mi", "pods": "10"
    }
    assert limit_range["kind"] == "LimitRange"
    limits = limit_range["spec"]["limits"][0]
    assert limits["type"] == "Container"
    assert limits["defaultRequest"] == {"cpu": "100m", "memory": "128Mi"}
    assert "default" not in limits


def test_default_requests_shrink_so_every_allowed_pod_fits() -> None:
    _, limit_range = resource_limit_objects(Resources(cpu_millis=500, memory_bytes=250 << 20,
                                                      pods=10))
    requests = limit_range["spec"]["limits"][0]["defaultRequest"]
    assert requests == {"cpu": "50m", "memory": "25Mi"}
    _, odd = resource_limit_objects(Resources(cpu_millis=500, memory_bytes=256 << 20, pods=10))
    assert odd["spec"]["limits"][0]["defaultRequest"]["memory"] == str((256 << 20) // 10)


def test_pods_only_quota_has_no_limit_range() -> None:
    objects = resource_limit_objects(Resources(pods=3))
    assert [item["kind"] for item in objects] == ["ResourceQuota"]


def test_cleanup_selects_expired_namespaces_only_by_default() -> None:
    now = datetime(2025, 1, 1, 12, tzinfo=UTC)

    def namespace(name: str, expires: str | None) -> dict[str, Any]:
        annotations = {"sparkrig/expires-at": expires} if expires is not None else {}
        return {"metadata": {"name": name, "annotations": annotations}}

    items = [
        namespace("past", "2025-01-01T11:00:00Z"),
        namespace("future", "2025-01-01T13:00:00Z"),
        namespace("unreadable", "soon"),
        namespace("none", None),
    ]
    assert select_namespaces(items, expired_only=True, now=now) == ["none", "past", "unreadable"]
    assert select_namespaces(items, expired_only=False, now=now) == [
        "future", "none", "past", "unreadable"
    ]



def test_missing_output_reason_shows_tail() -> None:
    from sparkrig.kube.steps import _missing_output
    from sparkrig.process import CommandResult

    result = CommandResult(argv=("helm", "test"), exit_code=0, timed_out=False, duration=1.0,
                           output="NAME: r\nSTATUS: deployed\n\nPhase: Succeeded\n")
    empty = CommandResult(argv=("true",), exit_code=0, timed_out=False, duration=0.1, output="")

    assert _missing_output("helm output", "yarn", result) == (
        "helm output does not contain 'yarn'; it ends with: "
        "NAME: r | STATUS: deployed | Phase: Succeeded"
    )
    assert _missing_output("output of 'true'", "ok", empty) == (
        "output of 'true' does not contain 'ok'; it was empty"
    )
