"""results.json: schema validity, loading and rejection of invalid files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest

from sparkrig.errors import ExitCode
from sparkrig.report import ReportInputError, load_run, write_reports
from sparkrig.report.schema import results_schema, validate_results
from sparkrig.report.synthetic import synthetic_run
from sparkrig.results import SCHEMA_VERSION, Attempt, RunResult, ScenarioResult, Status


def full_run() -> RunResult:
    """Return a run with every field of every result class set, so new fields need the schema."""
    attempt = Attempt(number=1, namespace="spark-test-a-1", release="spark-a-1",
                      started_at="2025-01-01T00:00:00Z", ended_at="2025-01-01T00:00:05Z",
                      status=Status.FAILED, exit_code=1, reason="assert failed")
    result = ScenarioResult(
        name="a", tier="smoke", status=Status.PASSED, reason="", tags=["x"],
        description="d", source="scenarios/smoke/a.yaml", started_at="2025-01-01T00:00:00Z",
        ended_at="2025-01-01T00:00:10Z", duration=10.0,
        attempts=[attempt, dataclasses.replace(attempt, number=2, status=Status.PASSED)],
        flaky=True, output_path="scenarios/a/output.log",
        diagnostics_path="scenarios/a/diagnostics", output_tail="done\n",
    )
    return RunResult(
        run_id="20250101T000000Z-abcd", started_at="2025-01-01T00:00:00Z",
        ended_at="2025-01-01T00:00:10Z", sparkrig_version="0.1.0",
        cluster={"provider": "local"}, selection={"tiers": ["smoke"]}, max_parallel=4,
        exit_code=0, scenarios=[result],
        merged_from=[{"path": "shard-1", "run_id": "r1", "started_at": None,
                      "ended_at": None, "scenarios": 1}],
    )


def test_schema_is_valid_draft_2020_12() -> None:
    schema = results_schema()

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_version_matches_results_module() -> None:
    assert results_schema()["properties"]["schema_version"]["const"] == SCHEMA_VERSION


def test_schema_covers_every_result_field() -> None:
    data = full_run().to_dict()

    jsonschema.Draft202012Validator(results_schema()).validate(data)


def test_written_results_json_validates(tmp_path: Path) -> None:
    write_reports(synthetic_run(50), tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())

    jsonschema.Draft202012Validator(results_schema()).validate(data)
    assert len(data["scenarios"]) == 50


def test_written_results_json_round_trips(tmp_path: Path) -> None:
    run = full_run()
    write_reports(run, tmp_path)

    assert load_run(tmp_path) == run


def test_load_run_rejects_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match="results file not found") as caught:
        load_run(tmp_path)

    assert caught.value.exit_code == ExitCode.USAGE
    assert str(tmp_path / "results.json") in str(caught.value)


def test_load_run_rejects_invalid_json(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text('{"run_id": ')

    with pytest.raises(ReportInputError, match="invalid JSON at line 1"):
        load_run(tmp_path)


def test_load_run_names_the_invalid_field(tmp_path: Path) -> None:
    data = full_run().to_dict()
    data["scenarios"][0]["status"] = "green"
    (tmp_path / "results.json").write_text(json.dumps(data))

    with pytest.raises(ReportInputError, match="'scenarios/0/status'"):
        load_run(tmp_path)


def test_validate_results_rejects_unknown_fields() -> None:
    data = full_run().to_dict()
    data["scenarios"][0]["colour"] = "red"

    with pytest.raises(ReportInputError, match="colour"):
        validate_results(data, "results.json")


def test_validate_results_rejects_other_schema_version() -> None:
    data = full_run().to_dict()
    data["schema_version"] = 99

    with pytest.raises(ReportInputError, match="schema_version"):
        validate_results(data, "results.json")
