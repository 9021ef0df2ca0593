"""Merging shards or reruns into one run: `sparkrig report --merge DIR...`.

Each input is a run folder with a results.json, a results.json file, or a
folder whose subfolders are run folders (a results dir, or the download of
several CI artifacts). Inputs are applied in order of their run's start time,
the command-line order breaking ties, and a scenario that occurs in two inputs
keeps its result from the later one: a rerun replaces the failure it reran.
Every such duplicate is returned so the caller can print it.

The merged run gets a new run id, records its sources in `merged_from`, and
gets a copy of each kept scenario's output log and diagnostics (hard links
where the file system allows) and its `result.json`, so the merged folder is
a complete artifact.
Merging is idempotent: the same inputs give the same scenarios, whatever
was merged before.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import string
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sparkrig import __version__
from sparkrig.kube.names import safe_dir_name
from sparkrig.report.schema import RESULTS_FILE, ReportInputError, load_run
from sparkrig.report.summary import FAILING_STATUSES, parse_time, resolve_artifact
from sparkrig.results import RunResult, ScenarioResult, Status, write_json_atomic

__all__ = ["Duplicate", "MergeOutcome", "find_results_files", "merge_runs", "point_latest"]

logger = logging.getLogger(__name__)

LATEST = "latest"
_RUN_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class Duplicate:
    """A scenario found in two inputs; the result from `kept` replaced the one from `dropped`."""

    name: str
    kept: Path
    kept_run_id: str
    dropped: Path
    dropped_run_id: str

    def describe(self) -> str:
        return (f"duplicate scenario '{self.name}': keeping the result from {self.kept} "
                f"(run {self.kept_run_id}), dropping the one from {self.dropped} "
                f"(run {self.dropped_run_id})")


@dataclass(frozen=True)
class MergeOutcome:
    run: RunResult
    run_dir: Path
    sources: list[Path]
    duplicates: list[Duplicate]


@dataclass(frozen=True)
class _Source:
    path: Path
    run: RunResult
    order: int

    @property
    def run_dir(self) -> Path:
        return self.path.parent


def new_merge_run_id(now: datetime | None = None) -> str:
    """Return a run id in the runner's format, sortable by time: 20250101T120000Z-a1b2."""
    moment = now or datetime.now(UTC)
    suffix = "".join(secrets.choice(_RUN_ID_ALPHABET) for _ in range(4))
    return f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{suffix}"


def point_latest(results_dir: Path, run_id: str) -> None:
    """Point `<results_dir>/latest` at the run folder, replacing the old link atomically."""
    temporary = results_dir / f".{LATEST}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(run_id)
    os.replace(temporary, results_dir / LATEST)


def find_results_files(path: Path) -> list[Path]:
    """Return the results.json files that one `--merge` argument names.

    Raises `ReportInputError` naming the path when it does not exist or has
    no results.json, directly or one folder down.
    """
    if not path.exists():
        raise ReportInputError(f"{path}: not found; give a run folder that contains {RESULTS_FILE}")
    if path.is_file():
        return [path]
    if (path / RESULTS_FILE).is_file():
        return [path / RESULTS_FILE]

    found: dict[Path, Path] = {}
    for child in sorted(path.iterdir()):
        candidate = child / RESULTS_FILE
        # `latest` and other links point at run folders that are listed anyway.
        if child.is_dir() and candidate.is_file():
            found.setdefault(candidate.resolve(), candidate)
    if not found:
        raise ReportInputError(
            f"{path}: no {RESULTS_FILE} in this folder or its subfolders; give the folder "
            "of a run (reports/<run_id>) or of downloaded shard artifacts"
        )
    return list(found.values())


def _start_key(source: _Source) -> tuple[float, int]:
    started = parse_time(source.run.started_at)
    timestamp = started.timestamp() if started is not None else 0.0
    return timestamp, source.order


def _load_sources(inputs: Sequence[Path]) -> list[_Source]:
    if not inputs:
        raise ReportInputError("--merge: no input folders given; name at least one run folder")
    files: dict[Path, Path] = {}
    for path in inputs:
        for file in find_results_files(path):
            if file.resolve() in files:
                logger.info("%s: given more than once, merged once", file)
            files.setdefault(file.resolve(), file)
    sources = [_Source(file, load_run(file), order) for order, file in enumerate(files.values())]
    try:
        return sorted(sources, key=_start_key)
    except TypeError:  # naive and aware timestamps mixed: keep the command-line order
        return sources


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _copy_artifact(source: _Source, path: str | None, run_dir: Path) -> str | None:
    """Copy one output log or diagnostics folder into the merged run; return its new path."""
    resolved = resolve_artifact(source.run_dir, path)
    if path is None or resolved is None or not resolved.exists():
        return path
    relative = Path(path)
    if relative.is_absolute() or ".." in relative.parts:
        return str(resolved.resolve())  # outside the run folder: point at it where it is

    destination = run_dir / relative
    destination.parent.mkdir(parents=True, exist_ok=True)
    if resolved.is_dir():
        shutil.copytree(resolved, destination, copy_function=_link_or_copy, dirs_exist_ok=True)
    elif not destination.exists():
        _link_or_copy(str(resolved), str(destination))
    return path


def _merged_exit_code(scenarios: list[ScenarioResult]) -> int:
    if any(result.status is Status.INTERRUPTED for result in scenarios):
        return 130
    return 1 if any(result.status in FAILING_STATUSES for result in scenarios) else 0


def _time_bound(values: list[str | None], latest: bool) -> str | None:
    parsed = [(moment, value) for value in values if value and (moment := parse_time(value))]
    if not parsed:
        return None
    try:
        chosen = max(parsed) if latest else min(parsed)
    except TypeError:  # naive and aware timestamps mixed
        return parsed[-1][1] if latest else parsed[0][1]
    return chosen[1]


def merge_runs(inputs: Sequence[Path], results_dir: Path) -> MergeOutcome:
    """Join the runs in `inputs` into a new run folder under `results_dir`.

    Writes every report format there, points `latest` at it and adds its
    durations to the history. Raises `ReportInputError` for a missing or
    invalid input before anything is written.
    """
    from sparkrig.report import update_history, write_reports  # the package imports this module

    sources = _load_sources(inputs)
    kept: dict[str, tuple[_Source, list[ScenarioResult]]] = {}
    duplicates: list[Duplicate] = []
    for source in sources:
        names_here: dict[str, list[ScenarioResult]] = {}
        for result in source.run.scenarios:
            names_here.setdefault(result.name, []).append(result)
        for name, results in names_here.items():
            if name in kept:
                earlier = kept[name][0]
                duplicates.append(Duplicate(name, source.path, source.run.run_id,
                                            earlier.path, earlier.run.run_id))
                del kept[name]  # re-insert so the result moves to the later source's position
            kept[name] = (source, results)

    run_id = new_merge_run_id()
    run_dir = results_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    scenarios = []
    for source, results in kept.values():
        for result in results:
            scenarios.append(replace(
                result,
                output_path=_copy_artifact(source, result.output_path, run_dir),
                diagnostics_path=_copy_artifact(source, result.diagnostics_path, run_dir),
            ))

    selection = {key: value for key, value in sources[-1].run.selection.items() if key != "shard"}
    merged = RunResult(
        run_id=run_id,
        started_at=_time_bound([source.run.started_at for source in sources], latest=False)
        or sources[0].run.started_at,
        ended_at=_time_bound([source.run.ended_at for source in sources], latest=True),
        sparkrig_version=__version__,
        cluster=dict(sources[-1].run.cluster),
        selection=selection,
        max_parallel=max(source.run.max_parallel for source in sources),
        exit_code=_merged_exit_code(scenarios),
        scenarios=scenarios,
        merged_from=[{
            "path": str(source.path.parent),
            "run_id": source.run.run_id,
            "started_at": source.run.started_at,
            "ended_at": source.run.ended_at,
            "scenarios": len(source.run.scenarios),
        } for source in sources],
    )

    for result in scenarios:  # each scenario's result.json, as a run writes it
        scenario_dir = run_dir / "scenarios" / safe_dir_name(result.name)
        write_json_atomic(scenario_dir / "result.json", result.to_dict(), durable=False)
    write_reports(merged, run_dir)
    point_latest(results_dir, run_id)
    update_history(results_dir, merged)
    for duplicate in duplicates:
        logger.info("%s", duplicate.describe())
    return MergeOutcome(merged, run_dir, [source.path for source in sources], duplicates)
