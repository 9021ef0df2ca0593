"""report --merge: joining shards and reruns into one run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkrig.cli import main
from sparkrig.report import ReportInputError, load_expected_durations, load_run, write_reports
from sparkrig.report.merge import merge_runs
from sparkrig.results import Attempt, RunResult, ScenarioResult, Status


def scenario(name: str, status: Status, duration: float = 10.0,
             namespace: str = "") -> ScenarioResult:
    attempts = [Attempt(number=1, namespace=namespace or f"spark-test-{name}", release="r",
                        started_at="2025-01-01T00:00:00Z", ended_at="2025-01-01T00:00:10Z",
                        status=status)]
    return ScenarioResult(name=name, tier="smoke", status=status, duration=duration,
                          started_at="2025-01-01T00:00:00Z", ended_at="2025-01-01T00:00:10Z",
                          attempts=attempts, output_path=f"scenarios/{name}/output.log")


def write_run(folder: Path, run_id: str, started_at: str, *results: ScenarioResult,
              shard: str = "") -> Path:
    run = RunResult(run_id=run_id, started_at=started_at, ended_at=started_at,
                    selection={"tiers": ["smoke"], "shard": shard}, max_parallel=2,
                    scenarios=list(results))
    run_dir = folder / run_id
    for result in results:
        log = run_dir / "scenarios" / result.name / "output.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"output of {result.name} in {run_id}\n")
    write_reports(run, run_dir)
    return run_dir


@pytest.fixture
def shards(tmp_path: Path) -> tuple[Path, Path]:
    first = write_run(tmp_path / "shard-1", "r1", "2025-01-01T00:00:00Z",
                      scenario("a", Status.PASSED), scenario("b", Status.FAILED), shard="1/2")
    second = write_run(tmp_path / "shard-2", "r2", "2025-01-01T00:00:01Z",
                       scenario("c", Status.PASSED), shard="2/2")
    return first, second


def test_merge_joins_shards(tmp_path: Path, shards: tuple[Path, Path]) -> None:
    outcome = merge_runs(list(shards), tmp_path / "merged")

    assert sorted(result.name for result in outcome.run.scenarios) == ["a", "b", "c"]
    assert [source["run_id"] for source in outcome.run.merged_from] == ["r1", "r2"]
    assert outcome.run.run_id not in ("r1", "r2")
    assert outcome.run.exit_code == 1
    assert "shard" not in outcome.run.selection
    assert outcome.duplicates == []


def test_merge_writes_every_format(tmp_path: Path, shards: tuple[Path, Path]) -> None:
    outcome = merge_runs(list(shards), tmp_path / "merged")

    for name in ("results.json", "junit.xml", "report.html", "summary.md"):
        assert (outcome.run_dir / name).is_file()
    assert (tmp_path / "merged" / "latest").resolve() == outcome.run_dir.resolve()
    assert load_run(outcome.run_dir).merged_from == outcome.run.merged_from


def test_merge_writes_scenario_results(tmp_path: Path, shards: tuple[Path, Path]) -> None:
    outcome = merge_runs(list(shards), tmp_path / "merged")

    for result in outcome.run.scenarios:
        path = outcome.run_dir / "scenarios" / result.name / "result.json"
        assert json.loads(path.read_text()) == result.to_dict()


def test_merge_copies_output_logs(tmp_path: Path, shards: tuple[Path, Path]) -> None:
    outcome = merge_runs(list(shards), tmp_path / "merged")

    log = outcome.run_dir / "scenarios" / "c" / "output.log"
    assert log.read_text() == "output of c in r2\n"


def test_duplicate_keeps_later_run(tmp_path: Path) -> None:
    first = write_run(tmp_path, "r1", "2025-01-01T00:00:00Z", scenario("a", Status.FAILED))
    rerun = write_run(tmp_path, "r2", "2025-01-01T01:00:00Z",
                      scenario("a", Status.PASSED, namespace="spark-test-a-rerun"))

    outcome = merge_runs([rerun, first], tmp_path / "merged")

    (result,) = outcome.run.scenarios
    assert result.status is Status.PASSED
    (duplicate,) = outcome.duplicates
    assert duplicate.name == "a"
    assert duplicate.kept_run_id == "r2"
    assert duplicate.dropped_run_id == "r1"
    text = (outcome.run_dir / "scenarios" / "a" / "output.log").read_text()
    assert text == "output of a in r2\n"


def test_merge_is_idempotent(tmp_path: Path, shards: tuple[Path, Path]) -> None:
    once = merge_runs(list(shards), tmp_path / "merged")
    twice = merge_runs([*shards, *shards], tmp_path / "merged")

    assert [r.to_dict() for r in once.run.scenarios] == [r.to_dict() for r in twice.run.scenarios]
    assert once.run_dir != twice.run_dir


def test_merge_of_a_merged_run_keeps_scenarios(tmp_path: Path, shards: tuple[Path, Path]) -> None:
    once = merge_runs(list(shards), tmp_path / "merged")
    again = merge_runs([once.run_dir], tmp_path / "merged-again")

    assert sorted(r.name for r in again.run.scenarios) == sorted(r.name for r in once.run.scenarios)


def test_merge_finds_runs_in_subfolders(tmp_path: Path, shards: tuple[Path, Path]) -> None:
    outcome = merge_runs([tmp_path / "shard-1", tmp_path / "shard-2"], tmp_path / "merged")

    assert len(outcome.run.scenarios) == 3


def test_merge_updates_history_once(tmp_path: Path, shards: tuple[Path, Path]) -> None:
    merge_runs(list(shards), tmp_path / "merged")
    merge_runs(list(shards), tmp_path / "merged")

    history = json.loads((tmp_path / "merged" / "history" / "durations.json").read_text())
    assert len(history["scenarios"]["a"]["samples"]) == 1
    assert load_expected_durations(tmp_path / "merged") == {"a": 10.0, "b": 10.0, "c": 10.0}


def test_missing_input_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match="not found"):
        merge_runs([tmp_path / "nowhere"], tmp_path / "merged")

    assert not (tmp_path / "merged").exists()


def test_folder_without_results_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    with pytest.raises(ReportInputError, match="no results.json"):
        merge_runs([tmp_path / "empty"], tmp_path / "merged")


def test_cli_merge_exits_2_on_invalid_input(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text("[1, 2")

    code = main(["report", "--merge", str(bad), "--results-dir", str(tmp_path / "merged")])

    assert code == 2
    assert f"{bad / 'results.json'}: invalid JSON" in capsys.readouterr().err


def test_cli_merge_prints_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = write_run(tmp_path, "r1", "2025-01-01T00:00:00Z", scenario("a", Status.FAILED))
    rerun = write_run(tmp_path, "r2", "2025-01-01T01:00:00Z", scenario("a", Status.PASSED))

    code = main(["report", "--merge", str(first), "--merge", str(rerun),
                 "--results-dir", str(tmp_path / "merged")])

    assert code == 0
    err = capsys.readouterr().err
    assert "duplicate scenario 'a': keeping the result from" in err
    assert "(run r2), dropping" in err
