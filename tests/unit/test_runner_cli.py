"""The run, list and shards subcommands: flag validation and output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkrig.cli import main
from sparkrig.errors import UsageError
from sparkrig.runner.cli import resolve_max_parallel


def write_script(folder: Path, name: str, tier: str = "smoke", extra: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.sh"
    path.write_text(f"#!/bin/sh\n# @meta\n# name: {name}\n# tier: {tier}\n{extra}# @endmeta\n")
    path.chmod(0o755)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["run", "--max", "0"], "--max 0: out of range"),
        (["run", "--max", "four"], "--max four: invalid value"),
        (["run", "--retries", "-1"], "--retries -1: out of range"),
        (["run", "--shard", "5/4"], "--shard 5/4"),
        (["run", "--cluster", "minikube"], "--cluster minikube: unknown cluster"),
        (["run", "--tier", "nightly"], "--tier nightly: unknown tier"),
        (["shards", "--count", "0"], "--count 0: out of range"),
        (["shards", "--count", "257"], "--count 257: out of range"),
    ],
)
def test_invalid_flag_exits_2(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert fragment in error
    assert "Traceback" not in error


def test_max_parallel_from_environment() -> None:
    assert resolve_max_parallel(None, {}) == 4
    assert resolve_max_parallel(None, {"MAX_PARALLEL": "8"}) == 8
    assert resolve_max_parallel("2", {"MAX_PARALLEL": "8"}) == 2
    with pytest.raises(UsageError, match="MAX_PARALLEL lots: invalid value"):
        resolve_max_parallel(None, {"MAX_PARALLEL": "lots"})


def test_shards_prints_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("a", "b", "c"):
        write_script(tmp_path, name)

    assert main(["shards", "--count", "3", "--scenarios", str(tmp_path)]) == 0

    matrix = json.loads(capsys.readouterr().out)
    assert matrix == {"include": [{"shard": "1/3"}, {"shard": "2/3"}, {"shard": "3/3"}]}


def test_shards_leave_out_empty_shards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A dependency group stays in one shard: three groups cannot fill four shards.
    write_script(tmp_path, "base")
    write_script(tmp_path, "child", extra="# depends_on: base\n")
    write_script(tmp_path, "solo")
    write_script(tmp_path, "other", tier="e2e")

    assert main(["shards", "--count", "4", "--tier", "smoke", "--scenarios", str(tmp_path),
                 "--results-dir", str(tmp_path / "reports")]) == 0

    matrix = json.loads(capsys.readouterr().out)
    assert matrix == {"include": [{"shard": "1/4"}, {"shard": "2/4"}]}


def test_shards_keep_one_shard_without_scenarios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_script(tmp_path, "other", tier="e2e")

    assert main(["shards", "--count", "4", "--tier", "smoke", "--scenarios", str(tmp_path)]) == 0

    assert json.loads(capsys.readouterr().out) == {"include": [{"shard": "1/4"}]}


def test_list_json_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_script(tmp_path, "a", extra="# tags: x, y\n# estimated_time: 30s\n")
    write_script(tmp_path, "b", tier="e2e", extra="# depends_on: a\n# requires: containers\n")

    assert (
        main(
            [
                "list",
                "--json",
                "--scenarios",
                str(tmp_path),
                "--results-dir",
                str(tmp_path / "reports"),
            ]
        )
        == 0
    )

    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["a"]["tags"] == ["x", "y"]
    assert rows["a"]["expected_seconds"] == 30.0
    assert rows["b"]["tier"] == "e2e"
    assert rows["b"]["depends_on"] == ["a"]
    assert rows["b"]["requires"] == ["containers"]


def test_list_table_shows_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_script(tmp_path, "alpha", extra="# tags: fast\n")

    assert main(["list", "--scenarios", str(tmp_path), "--tier", "smoke"]) == 0

    output = capsys.readouterr().out
    assert "alpha" in output
    assert "fast" in output


def test_run_invalid_scenario_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("name: x\ntier: smoke\nsteps: [{wait: {}}]\n")

    assert main(["run", "--cluster", "none", "--scenarios", str(tmp_path)]) == 2

    error = capsys.readouterr().err
    assert "bad.yaml: field 'steps[0].wait'" in error
    assert "Traceback" not in error


def test_run_cluster_none_rejects_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "y.yaml").write_text("name: y\ntier: smoke\nsteps: [{test: {}}]\n")

    assert main(["run", "--cluster", "none", "--scenarios", str(tmp_path)]) == 2

    assert "--cluster none: YAML scenarios need a cluster (y)" in capsys.readouterr().err


def write_latest(reports: Path, statuses: dict[str, str], scenarios_dir: str) -> Path:
    """Write a finished run with these scenario statuses and point `latest` at it."""
    run_dir = reports / "20260101T000000Z-abcd"
    run_dir.mkdir(parents=True)
    scenarios = [
        {"name": name, "tier": "smoke", "status": status, "reason": ""}
        for name, status in statuses.items()
    ]
    data = {
        "run_id": run_dir.name,
        "started_at": "2026-01-01T00:00:00Z",
        "selection": {"scenarios_dir": scenarios_dir},
        "scenarios": scenarios,
    }
    (run_dir / "results.json").write_text(json.dumps(data))
    (reports / "latest").symlink_to(run_dir.name)
    return run_dir


def rerun_argv(tmp_path: Path) -> list[str]:
    return [
        "run", "--cluster", "none", "--rerun-failed",
        "--scenarios", str(tmp_path / "scenarios"),
        "--results-dir", str(tmp_path / "reports"),
    ]


def test_rerun_without_latest_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_script(tmp_path / "scenarios", "one")

    assert main(rerun_argv(tmp_path)) == 2

    error = capsys.readouterr().err
    assert str(tmp_path / "reports" / "latest" / "results.json") in error
    assert not (tmp_path / "reports" / "latest").exists()


def test_rerun_other_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_script(tmp_path / "scenarios", "one")
    run_dir = write_latest(tmp_path / "reports", {"elsewhere": "failed"}, "/other/scenarios")

    assert main(rerun_argv(tmp_path)) == 2

    error = capsys.readouterr().err
    assert str(run_dir.parent / "latest" / "results.json") in error
    assert str(tmp_path / "scenarios") in error
    assert "/other/scenarios" in error
    assert (tmp_path / "reports" / "latest").readlink() == Path(run_dir.name)


def test_rerun_all_passed_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_script(tmp_path / "scenarios", "one")
    run_dir = write_latest(tmp_path / "reports", {"one": "passed"}, str(tmp_path / "scenarios"))

    assert main(rerun_argv(tmp_path)) == 0

    error = capsys.readouterr().err
    latest = tmp_path / "reports" / "latest"
    assert f"nothing to rerun: every scenario in {latest / 'results.json'} passed" in error
    assert latest.readlink() == Path(run_dir.name)
    assert sorted(path.name for path in (tmp_path / "reports").iterdir()) == [
        run_dir.name, "latest"
    ]


def test_run_empty_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a scenario\n")

    code = main(["run", "--cluster", "none", "--scenarios", str(folder),
                 "--results-dir", str(tmp_path / "reports")])

    assert code == 2
    error = capsys.readouterr().err
    assert f"no scenario files in {folder}" in error
    assert not (tmp_path / "reports").exists()


def test_run_no_match_keeps_latest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_script(tmp_path / "scenarios", "one")

    code = main(["run", "--cluster", "none", "--scenarios", str(tmp_path / "scenarios"),
                 "--results-dir", str(tmp_path / "reports"), "--tag", "absent"])

    assert code == 0
    error = capsys.readouterr().err
    assert "none of the 1 scenario in" in error
    assert "--tag absent" in error
    assert not (tmp_path / "reports" / "latest").exists()


@pytest.mark.parametrize("below", ["file/sub", "file"])
def test_run_results_dir_file_exits_2(
    tmp_path: Path, below: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_script(tmp_path / "scenarios", "one")
    (tmp_path / "file").write_text("")
    results_dir = tmp_path / below

    code = main(["run", "--cluster", "none", "--scenarios", str(tmp_path / "scenarios"),
                 "--results-dir", str(results_dir)])

    assert code == 2
    error = capsys.readouterr().err
    assert f"--results-dir {results_dir}" in error
    assert "Not a directory" in error
    assert "Traceback" not in error


def test_run_results_dir_uncreatable_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_script(tmp_path / "scenarios", "one")

    code = main(["run", "--cluster", "none", "--scenarios", str(tmp_path / "scenarios"),
                 "--results-dir", "/proc/nope"])

    assert code == 2
    error = capsys.readouterr().err
    assert "--results-dir /proc/nope" in error
    assert "Traceback" not in error
