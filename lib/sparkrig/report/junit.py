"""junit.xml: the run in the Ant/Jenkins JUnit XML format that CI systems import.

Mapping, built with the junit-xml package and validated in tests against
`junit.xsd` in this folder:

- one `<testsuite name="sparkrig.<tier>">` per tier, with the run's id,
  sparkrig version and cluster as properties;
- one `<testcase>` per scenario result. `classname` is `sparkrig.<tier>` and
  the scenario name goes in `name` alone, because viewers that split
  `classname` at dots into packages would otherwise cut names like
  `spark-3.5.connect`. A name that occurs twice in a tier (the same scenario
  run with other values files) gets ` [2]`, ` [3]` ... so every case is unique;
- failed becomes `<failure>`; error, timed_out and interrupted become `<error>`
  with the status as `type`; skipped becomes `<skipped>` with the reason. A
  failure always has a message, even when the scenario printed nothing;
- earlier failed attempts are Surefire's `<rerunFailure>`/`<rerunError>` and,
  for a scenario that passed on a retry, `<flakyFailure>`/`<flakyError>`, the
  elements Jenkins and Maven Surefire use for reruns;
- `<properties>` inside each testcase (as pytest and GitLab read them):
  namespace, release, attempts, run_id, flaky, source;
- `<system-out>` contains the head and tail of the output log, capped, with a
  note naming the full log.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from sparkrig.report.summary import is_flaky, resolve_artifact, summarize
from sparkrig.report.text import (
    OutputCap,
    OutputExcerpt,
    clean_text,
    excerpt_of_text,
    read_head_tail,
)
from sparkrig.results import Attempt, RunResult, ScenarioResult, Status

# junit_xml is imported where it is used: a run imports this module at start-up
# (through the durations history) and writes junit.xml only at its end.
if TYPE_CHECKING:
    from junit_xml import TestCase

__all__ = ["JUNIT_FILE", "FAILING_OUTPUT_CAP", "PASSING_OUTPUT_CAP", "write_junit", "junit_xml"]

logger = logging.getLogger(__name__)

JUNIT_FILE = "junit.xml"

# Failing scenarios keep more output than passing ones; 10,000 passing scenarios
# stay under 40 MB of system-out, and a 50 MB log becomes 32 KiB.
FAILING_OUTPUT_CAP = OutputCap(head_bytes=8 * 1024, tail_bytes=24 * 1024)
PASSING_OUTPUT_CAP = OutputCap(head_bytes=1024, tail_bytes=3 * 1024)

_ERROR_STATUSES = frozenset({Status.ERROR, Status.TIMED_OUT, Status.INTERRUPTED})

_STATUS_PHRASES = {
    Status.PASSED: "passed",
    Status.FAILED: "failed",
    Status.ERROR: "ended in an error",
    Status.SKIPPED: "was skipped",
    Status.TIMED_OUT: "timed out",
    Status.INTERRUPTED: "was interrupted",
}


def _case_names(results: list[ScenarioResult]) -> list[str]:
    """Return a name per result that is unique in its tier: ` [n]` marks the n-th repeat."""
    seen: Counter[str] = Counter()
    names = []
    for result in results:
        seen[result.name] += 1
        count = seen[result.name]
        names.append(result.name if count == 1 else f"{result.name} [{count}]")
    return names


def _message(result: ScenarioResult) -> str:
    if result.reason:
        return clean_text(result.reason)
    exit_code = result.attempts[-1].exit_code if result.attempts else None
    detail = f" with exit code {exit_code}" if exit_code is not None else ""
    return f"scenario {_STATUS_PHRASES[result.status]}{detail} and gave no reason"


def _attempt_line(attempt: Attempt) -> str:
    exit_code = "" if attempt.exit_code is None else f", exit code {attempt.exit_code}"
    reason = f": {attempt.reason}" if attempt.reason else ""
    return (
        f"attempt {attempt.number} {attempt.status.value}{exit_code} "
        f"(namespace {attempt.namespace}, release {attempt.release}){reason}"
    )


def _details(result: ScenarioResult) -> str:
    lines = [_message(result)]
    lines += [_attempt_line(attempt) for attempt in result.attempts]
    if result.diagnostics_path:
        lines.append(f"diagnostics: {result.diagnostics_path}")
    return clean_text("\n".join(lines))


def _output(result: ScenarioResult, run_dir: Path) -> str:
    cap = PASSING_OUTPUT_CAP if result.status is Status.PASSED else FAILING_OUTPUT_CAP
    log = resolve_artifact(run_dir, result.output_path)
    excerpt: OutputExcerpt | None = None
    if log is not None:
        try:
            excerpt = read_head_tail(log, cap)
        except OSError as exc:
            logger.warning("cannot read output log %s of scenario %s: %s", log, result.name, exc)
    if excerpt is None:
        excerpt = excerpt_of_text(result.output_tail, cap)
    return excerpt.render(result.output_path)


def _test_case(result: ScenarioResult, name: str, run_dir: Path) -> TestCase:
    from junit_xml import TestCase

    case = TestCase(
        name=clean_text(name),
        classname=f"sparkrig.{clean_text(result.tier)}",
        elapsed_sec=result.duration,
        timestamp=result.started_at,
        file=result.source or None,
        stdout=_output(result, run_dir) or None,
    )
    if result.status is Status.FAILED:
        case.add_failure_info(message=_message(result), output=_details(result),
                              failure_type="failed")
    elif result.status in _ERROR_STATUSES:
        case.add_error_info(message=_message(result), output=_details(result),
                            error_type=result.status.value)
    elif result.status is Status.SKIPPED:
        case.add_skipped_info(message=clean_text(result.reason) or "skipped")
    return case


def _properties(result: ScenarioResult, run_id: str) -> ET.Element:
    last = result.attempts[-1] if result.attempts else None
    values = {
        "namespace": last.namespace if last else "",
        "release": last.release if last else "",
        "attempts": str(len(result.attempts)),
        "run_id": run_id,
        "flaky": "true" if is_flaky(result) else "false",
        "source": result.source,
    }
    element = ET.Element("properties")
    for key, value in values.items():
        ET.SubElement(element, "property", {"name": key, "value": clean_text(value)})
    return element


def _rerun_elements(result: ScenarioResult) -> list[ET.Element]:
    """Return one Surefire rerun element per failed attempt before the final one."""
    earlier = [attempt for attempt in result.attempts[:-1] if attempt.status is not Status.PASSED]
    prefix = "flaky" if result.status is Status.PASSED else "rerun"
    elements = []
    for attempt in earlier:
        kind = "Failure" if attempt.status is Status.FAILED else "Error"
        element = ET.Element(f"{prefix}{kind}", {
            "message": clean_text(attempt.reason or f"attempt {attempt.status.value}"),
            "type": attempt.status.value,
        })
        element.text = clean_text(_attempt_line(attempt))
        elements.append(element)
    return elements


def _suite_element(tier: str, results: list[ScenarioResult], run: RunResult,
                   run_dir: Path) -> ET.Element:
    from junit_xml import TestSuite

    names = _case_names(results)
    cases = [_test_case(result, name, run_dir) for result, name in zip(results, names, strict=True)]
    suite = TestSuite(
        name=f"sparkrig.{clean_text(tier)}",
        test_cases=cases,
        timestamp=run.started_at,
        id=run.run_id,
        properties={
            "run_id": run.run_id,
            "sparkrig_version": run.sparkrig_version,
            "cluster": clean_text(str(run.cluster.get("provider", ""))),
            "max_parallel": str(run.max_parallel),
        },
    )
    element: ET.Element = suite.build_xml_doc()
    element.set("time", f"{sum(result.duration for result in results):.3f}")

    # junit-xml has no testcase properties or rerun elements: add them to its tree.
    for case_element, result in zip(element.iter("testcase"), results, strict=True):
        case_element.insert(0, _properties(result, run.run_id))
        position = 1 + sum(1 for child in case_element if child.tag in
                           ("failure", "error", "skipped"))
        for offset, rerun in enumerate(_rerun_elements(result)):
            case_element.insert(position + offset, rerun)
    return element


def junit_xml(run: RunResult, run_dir: Path) -> ET.ElementTree:
    """Build the JUnit XML tree of `run`; output logs are read relative to `run_dir`."""
    by_tier: dict[str, list[ScenarioResult]] = defaultdict(list)
    for result in run.scenarios:
        by_tier[result.tier].append(result)

    root = ET.Element("testsuites", {"name": f"sparkrig {run.run_id}"})
    totals: Counter[str] = Counter()
    for tier in sorted(by_tier):
        suite = _suite_element(tier, by_tier[tier], run, run_dir)
        for key in ("tests", "failures", "errors", "skipped", "disabled"):
            totals[key] += int(suite.get(key, "0"))
        root.append(suite)
    for key in ("tests", "failures", "errors", "skipped", "disabled"):
        root.set(key, str(totals[key]))
    # The run's wall time, not the sum of its suites: scenarios overlap when they run in parallel.
    root.set("time", f"{summarize(run).wall_seconds:.3f}")
    return ET.ElementTree(root)


def write_junit(run: RunResult, run_dir: Path) -> Path:
    """Write `run_dir/junit.xml` (UTF-8, indented) and return its path."""
    tree = junit_xml(run, run_dir)
    ET.indent(tree, space="  ")
    path = run_dir / JUNIT_FILE
    temporary = path.with_name(f".{JUNIT_FILE}.tmp")
    tree.write(temporary, encoding="utf-8", xml_declaration=True)
    temporary.replace(path)
    return path
