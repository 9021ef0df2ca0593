"""sparkrig report --run: regenerating the formats from results.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkrig.cli import main
from sparkrig.report.merge import point_latest
from sparkrig.report.schema import write_results_json
from sparkrig.report.synthetic import synthetic_run

FORMATS = ("results.json", "junit.xml", "report.html", "summary.md")


def test_run_regenerates_every_format(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    write_results_json(synthetic_run(20), run_dir)

    assert main(["report", "--run", str(run_dir)]) == 0

    for name in FORMATS:
        assert (run_dir / name).stat().st_size > 0


def test_default_is_latest_run(tmp_path: Path) -> None:
    run = synthetic_run(5)
    write_results_json(run, tmp_path / run.run_id)
    point_latest(tmp_path, run.run_id)

    assert main(["report", "--results-dir", str(tmp_path)]) == 0

    assert (tmp_path / run.run_id / "report.html").is_file()


def test_missing_run_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--run", str(tmp_path / "nope")])

    assert code == 2
    assert "nope: not found; give a run folder" in capsys.readouterr().err


def test_run_and_merge_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["report", "--run", str(tmp_path), "--merge", str(tmp_path)])

    assert caught.value.code == 2


def test_summary_line_uses_singular(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = synthetic_run(1)
    write_results_json(run, tmp_path / "one")

    assert main(["report", "--run", str(tmp_path / "one")]) == 0
    assert main(["report", "--merge", str(tmp_path / "one"),
                 "--results-dir", str(tmp_path / "merged")]) == 0

    output = capsys.readouterr().out
    assert "1 scenario," in output
    assert "1 scenarios" not in output
    assert "merged 1 run into" in output
