"""prepare_reports loads the report writers ahead of write_reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sparkrig.results import RunResult


def test_prepare_reports_loads_writer_libraries() -> None:
    probe = (
        "import sys\n"
        "import sparkrig.report\n"
        "before = [name for name in ('jinja2', 'junit_xml') if name in sys.modules]\n"
        "sparkrig.report.prepare_reports()\n"
        "after = [name for name in ('jinja2', 'junit_xml') if name in sys.modules]\n"
        "print(','.join(before) + '|' + ','.join(after))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "|jinja2,junit_xml"


def test_write_reports_child_failure_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparkrig.report import html, write_reports
    from sparkrig.report.synthetic import synthetic_run

    parent = os.getpid()
    original = html.write_html

    def fail_in_child(run: RunResult, run_dir: Path) -> Path:
        if os.getpid() != parent:
            raise OSError("disk full in the child")
        return original(run, run_dir)

    monkeypatch.setattr(html, "write_html", fail_in_child)
    write_reports(synthetic_run(5), tmp_path)

    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["junit.xml", "report.html", "results.json", "summary.md"]
    assert "<html" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_write_reports_raises_writer_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparkrig.report import junit, write_reports
    from sparkrig.report.synthetic import synthetic_run

    def always_fail(run: RunResult, run_dir: Path) -> Path:
        raise OSError("read-only file system")

    monkeypatch.setattr(junit, "write_junit", always_fail)
    with pytest.raises(OSError, match="read-only file system"):
        write_reports(synthetic_run(5), tmp_path)
    assert (tmp_path / "results.json").exists()
