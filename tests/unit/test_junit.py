"""junit.xml: mapping of results to JUnit elements, validated against the XSD in the repo."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from lxml import etree

from sparkrig.report.junit import write_junit
from sparkrig.report.synthetic import synthetic_run
from sparkrig.results import Attempt, RunResult, ScenarioResult, Status

START = "2025-01-01T00:00:00+00:00"
END = "2025-01-01T00:00:05+00:00"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    xsd = resources.files("sparkrig.report").joinpath("junit.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(xsd))


def attempt(number: int, status: Status, reason: str = "") -> Attempt:
    return Attempt(number=number, namespace=f"spark-test-a-{number}", release=f"spark-a-{number}",
                   started_at=START, ended_at=END, status=status, exit_code=0 if
                   status is Status.PASSED else 1, reason=reason)


def result(name: str, status: Status, tier: str = "smoke", **fields: object) -> ScenarioResult:
    return ScenarioResult(name=name, tier=tier, status=status, started_at=START, ended_at=END,
                          duration=5.0, **fields)  # type: ignore[arg-type]


def write(tmp_path: Path, *results: ScenarioResult) -> etree._ElementTree:
    run = RunResult(run_id="20250101T000000Z-abcd", started_at=START, ended_at=END,
                    scenarios=list(results))
    path = write_junit(run, tmp_path)
    parser = etree.XMLParser(huge_tree=False, recover=False)
    return etree.parse(str(path), parser)


def case(tree: etree._ElementTree, name: str) -> etree._Element:
    (element,) = tree.xpath(f"//testcase[@name='{name}']")
    return element


def properties(element: etree._Element) -> dict[str, str]:
    return {prop.get("name"): prop.get("value") for prop in element.find("properties")}


def test_synthetic_run_validates_against_xsd(tmp_path: Path, schema: etree.XMLSchema) -> None:
    run = synthetic_run(200)
    tree = etree.parse(str(write_junit(run, tmp_path)))

    assert schema.validate(tree), schema.error_log
    assert int(tree.getroot().get("tests")) == 200


def test_one_testsuite_per_tier(tmp_path: Path) -> None:
    tree = write(tmp_path, result("a", Status.PASSED), result("b", Status.PASSED, tier="e2e"),
                 result("c", Status.PASSED, tier="e2e"))

    suites = {suite.get("name"): int(suite.get("tests")) for suite in tree.iter("testsuite")}
    assert suites == {"sparkrig.e2e": 2, "sparkrig.smoke": 1}


def test_classname_keeps_dotted_names_out(tmp_path: Path) -> None:
    tree = write(tmp_path, result("spark-3.5.connect", Status.PASSED))

    element = case(tree, "spark-3.5.connect")
    assert element.get("classname") == "sparkrig.smoke"


def test_repeated_scenario_names_are_unique(tmp_path: Path, schema: etree.XMLSchema) -> None:
    tree = write(tmp_path, result("a", Status.PASSED), result("a", Status.FAILED),
                 result("a", Status.PASSED))

    names = [element.get("name") for element in tree.iter("testcase")]
    assert names == ["a", "a [2]", "a [3]"]
    assert schema.validate(tree), schema.error_log


def test_failed_maps_to_failure_with_reason(tmp_path: Path) -> None:
    tree = write(tmp_path, result("a", Status.FAILED, reason="step 3 (assert) failed",
                                  attempts=[attempt(1, Status.FAILED)]))

    failure = case(tree, "a").find("failure")
    assert failure is not None
    assert failure.get("message") == "step 3 (assert) failed"
    assert "attempt 1 failed, exit code 1" in failure.text


def test_failure_without_output_or_reason_has_message(tmp_path: Path) -> None:
    tree = write(tmp_path, result("a", Status.FAILED))

    failure = case(tree, "a").find("failure")
    assert failure is not None
    assert failure.get("message") == "scenario failed and gave no reason"
    assert tree.getroot().get("failures") == "1"


@pytest.mark.parametrize("status", [Status.ERROR, Status.TIMED_OUT, Status.INTERRUPTED])
def test_non_assertion_statuses_map_to_error(tmp_path: Path, status: Status) -> None:
    tree = write(tmp_path, result("a", status, reason="why"))

    error = case(tree, "a").find("error")
    assert error is not None
    assert error.get("type") == status.value
    assert case(tree, "a").find("failure") is None


def test_skipped_keeps_its_reason(tmp_path: Path) -> None:
    tree = write(tmp_path, result("a", Status.SKIPPED, reason="requires containers"))

    skipped = case(tree, "a").find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "requires containers"


def test_testcase_properties(tmp_path: Path) -> None:
    tree = write(tmp_path, result("a", Status.PASSED, attempts=[attempt(1, Status.PASSED)]))

    values = properties(case(tree, "a"))
    assert values["namespace"] == "spark-test-a-1"
    assert values["release"] == "spark-a-1"
    assert values["attempts"] == "1"
    assert values["run_id"] == "20250101T000000Z-abcd"
    assert values["flaky"] == "false"


def test_flaky_pass_is_marked(tmp_path: Path, schema: etree.XMLSchema) -> None:
    tree = write(tmp_path, result("a", Status.PASSED, attempts=[
        attempt(1, Status.ERROR, "namespace conflict"), attempt(2, Status.PASSED)]))

    element = case(tree, "a")
    assert properties(element)["flaky"] == "true"
    flaky = element.find("flakyError")
    assert flaky is not None
    assert flaky.get("message") == "namespace conflict"
    assert element.find("error") is None
    assert schema.validate(tree), schema.error_log


def test_failed_retries_are_reruns(tmp_path: Path, schema: etree.XMLSchema) -> None:
    tree = write(tmp_path, result("a", Status.FAILED, reason="still failing", attempts=[
        attempt(1, Status.ERROR), attempt(2, Status.FAILED)]))

    element = case(tree, "a")
    assert element.find("failure") is not None
    assert len(element.findall("rerunError")) == 1
    assert schema.validate(tree), schema.error_log


def test_control_characters_parse_strictly(tmp_path: Path, schema: etree.XMLSchema) -> None:
    tree = write(tmp_path, result("a", Status.FAILED, reason="bad \x1b[1mbold\x1b[0m\x00",
                                  output_tail="\x1b[31mFAIL\x1b[0m\x00\x07done"))

    element = case(tree, "a")
    assert element.findtext("system-out") == "FAIL\u2400\u2407done"
    assert element.find("failure").get("message") == "bad bold\u2400"
    assert schema.validate(tree), schema.error_log


def test_large_output_log_is_capped(tmp_path: Path) -> None:
    log = tmp_path / "scenarios" / "a" / "output.log"
    log.parent.mkdir(parents=True)
    with log.open("wb") as handle:
        handle.write(b"START\n")
        chunk = b"noise " * 170 + b"\n"
        for _ in range(50 * 1024 * 1024 // len(chunk)):
            handle.write(chunk)
        handle.write(b"THE END\n")

    write(tmp_path, result("a", Status.FAILED, output_path="scenarios/a/output.log"))
    junit = tmp_path / "junit.xml"
    text = etree.parse(str(junit)).findtext(".//system-out")

    assert junit.stat().st_size < 64 * 1024
    assert text.startswith("START\n")
    assert text.endswith("THE END\n")
    assert "full log: scenarios/a/output.log" in text


def test_missing_output_log_falls_back_to_tail(tmp_path: Path) -> None:
    tree = write(tmp_path, result("a", Status.FAILED, output_path="scenarios/gone/output.log",
                                  output_tail="last words\n"))

    assert case(tree, "a").findtext("system-out") == "last words\n"
