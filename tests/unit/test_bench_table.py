"""Unit tests of the benchmark table, page update and lease split (bench/table.py and others)."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import pytest
import yaml

# bench/ is a folder of scripts at the repository root, not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.measure_lifecycle import lease_manifest, leases_for_level  # noqa: E402
from bench.table import (  # noqa: E402 - needs the path above
    BEGIN_MARKER,
    END_MARKER,
    Machine,
    Row,
    render_results,
    render_table,
    update_page,
)

MACHINE = Machine(cpus=2, cpu_model="Test CPU", memory="1.0 GiB", python="CPython 3.11.7",
                  system="Debian, Linux 6.1", load_before="0.10, 0.20, 0.30")


def test_render_table_has_header_and_row() -> None:
    lines = render_table([Row("overhead", "5.05 s", "xargs -P 5.10 s", "5.00 s", "1.010")])
    assert lines.splitlines()[0] == "| measure | sparkrig | peers | lower bound | ratio | goal |"
    assert lines.splitlines()[2] == "| overhead | 5.05 s | xargs -P 5.10 s | 5.00 s | 1.010 | - |"


def test_render_table_escapes_pipes_and_newlines() -> None:
    table = render_table([Row("a|b", "line one\nline two")])
    assert "a\\|b" in table
    assert "line one line two" in table


def test_render_results_names_machine_date_and_notes() -> None:
    when = datetime.datetime(2025, 3, 1, 12, 30, tzinfo=datetime.UTC)
    text = render_results([Row("m", "1 s")], MACHINE, mode="quick", notes=["a note"], when=when)
    assert "2025-03-01 12:30 UTC" in text
    assert "--quick" in text
    assert "- CPU: 2 x Test CPU (nproc)" in text
    assert "load average (1, 5, 15 min) 0.10, 0.20, 0.30 before" in text
    assert text.endswith("- a note")


def test_update_page_replaces_only_generated_block(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text(f"# Title\n\nintro\n\n{BEGIN_MARKER}\nold\n{END_MARKER}\n\n## After\n",
                    encoding="utf-8")
    update_page(page, "new table")
    text = page.read_text(encoding="utf-8")
    assert "old" not in text
    assert f"{BEGIN_MARKER}\nnew table\n{END_MARKER}" in text
    assert text.startswith("# Title\n\nintro\n")
    assert text.endswith("## After\n")


def test_update_page_appends_block_when_markers_missing(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text("# Title\n", encoding="utf-8")
    update_page(page, "table")
    assert page.read_text(encoding="utf-8") == f"# Title\n\n{BEGIN_MARKER}\ntable\n{END_MARKER}\n"


def test_update_page_creates_missing_page(tmp_path: Path) -> None:
    page = tmp_path / "docs" / "benchmarks.md"
    update_page(page, "table")
    assert page.read_text(encoding="utf-8").startswith("# Benchmarks\n")
    assert "table" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("leases", "parallelism", "expected"),
    [(32, 1, (32, 32)), (32, 4, (8, 32)), (32, 16, (2, 32)), (10, 4, (3, 12)), (4, 16, (1, 16))],
)
def test_leases_for_level_gives_every_worker_equal_share(
    leases: int, parallelism: int, expected: tuple[int, int]
) -> None:
    assert leases_for_level(leases, parallelism) == expected


def test_leases_for_level_rejects_zero() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        leases_for_level(0, 4)


def test_lease_manifest_labels_and_objects() -> None:
    manifest = lease_manifest("bench-abc123", namespace="bench-ns-1")
    assert manifest.count("\n---\n") == 2
    assert "kind: ResourceQuota" in manifest
    assert "kind: LimitRange" in manifest
    assert "app.kubernetes.io/managed-by: sparkrig" in manifest
    assert "sparkrig/run-id: bench-abc123" in manifest
    assert manifest.count("namespace: bench-ns-1") == 2


def test_lease_manifest_parses_as_three_objects() -> None:
    documents = list(yaml.safe_load_all(lease_manifest("bench-abc123", namespace="bench-ns-1")))
    assert [document["kind"] for document in documents] == [
        "Namespace", "ResourceQuota", "LimitRange",
    ]
    assert documents[0]["metadata"]["labels"]["sparkrig/tier"] == "smoke"
    assert documents[1]["spec"]["hard"]["pods"] == "10"
