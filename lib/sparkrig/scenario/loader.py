"""Find, parse and validate scenario files into `Scenario` objects.

`load_scenarios(folder)` walks the folder, parses every scenario file and then
checks the set as a whole (unique names, known dependencies, no cycles). The
first problem stops loading with one `ScenarioError` (exit code 2) naming the
file, the field and what is expected, so nothing reaches the cluster from an
invalid folder.

Which files are scenarios:
- `*.yaml` and `*.yml` files are YAML scenarios;
- any other file whose first lines hold a `# @meta` line is a script scenario,
  and must be executable;
- files and folders whose name starts with `.` or `_`, and folders named
  `values` or `presets` (values files next to the scenarios), are not read.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sparkrig.errors import ScenarioError, UsageError
from sparkrig.scenario._fields import Fields, closest_name, describe_type
from sparkrig.scenario.model import (
    DEFAULT_TIMEOUT_SECONDS,
    KNOWN_REQUIREMENTS,
    TIERS,
    Chart,
    Resources,
    Scenario,
)
from sparkrig.scenario.quantities import parse_cpu_millis, parse_duration, parse_memory_bytes
from sparkrig.scenario.steps import parse_step

__all__ = ["load_scenarios", "load_file", "validate_set", "find_scenario_files"]

logger = logging.getLogger(__name__)

YAML_SUFFIXES = (".yaml", ".yml")
SKIPPED_FOLDERS = ("values", "presets")
# How much of a non-YAML file is read to look for the `# @meta` header.
META_SEARCH_BYTES = 8192

# Names are free text for the report; commas would split a `depends_on` list.
_NAME = re.compile(r"[^,\x00-\x1f\x7f]{1,200}")
_NAME_FORMS = "at most 200 characters without commas or control characters"
_LABEL_KEY = re.compile(
    r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_META_KEYS = (
    "name",
    "tier",
    "type",
    "description",
    "chart",
    "preset",
    "tags",
    "timeout",
    "depends_on",
    "requires",
    "estimated_time",
)


def load_scenarios(folder: Path) -> list[Scenario]:
    """Load and validate every scenario under `folder`, sorted by name."""
    if not folder.is_dir():
        raise UsageError(
            f"--scenarios {folder}: folder not found; give the folder that holds the scenario files"
        )
    scenarios = [load_file(path) for path in find_scenario_files(folder)]
    validate_set(scenarios)
    return sorted(scenarios, key=lambda scenario: scenario.name)


def find_scenario_files(folder: Path) -> Iterator[Path]:
    """Yield the scenario files under `folder` in a stable order."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            name for name in dirs if not name.startswith((".", "_")) and name not in SKIPPED_FOLDERS
        )
        for name in sorted(files):
            path = Path(root) / name
            if name.startswith((".", "_")) or not path.is_file():
                continue
            if path.suffix in YAML_SUFFIXES or _has_meta_header(path):
                yield path


def _has_meta_header(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(META_SEARCH_BYTES)
    except OSError as exc:
        logger.warning("cannot read %s, so it is not loaded as a scenario: %s", path, exc)
        return False
    return any(line.strip() == b"# @meta" for line in head.splitlines())


def load_file(path: Path) -> Scenario:
    """Parse one scenario file, YAML or script."""
    if path.suffix in YAML_SUFFIXES:
        return _load_yaml(path)
    return _load_script(path)


# --- YAML scenarios ---------------------------------------------------------


def _load_yaml(path: Path) -> Scenario:
    import yaml  # here, not at the top: a suite of script scenarios starts without it

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(str(path), None, f"invalid YAML{where}: {problem}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), None, f"cannot read the file: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(
            str(path), None, f"expected a mapping of scenario fields, got {describe_type(data)}"
        )

    fields = Fields(path, data)
    name = _name(fields)
    tier = _tier(fields, "tier")
    chart = _yaml_chart(fields)
    steps_data = fields.raw("steps")
    if not isinstance(steps_data, list) or not steps_data:
        raise fields.error("steps", "expected a non-empty list of steps")
    steps = tuple(parse_step(path, index, item) for index, item in enumerate(steps_data))
    for index, step in enumerate(steps):
        if step.kind == "install":
            # Checked now, not after a namespace exists; the executor resolves them alike.
            _values_files(fields, f"steps[{index}].install.values",
                          [str(item) for item in step.options.get("values") or []])
    if chart is None:
        for index, step in enumerate(steps):
            if step.kind == "install":
                raise fields.error(
                    f"steps[{index}].install",
                    "an install step needs the scenario's chart; add chart.path",
                )
            if _mentions(step.options, CHART_PLACEHOLDER):
                raise fields.error(
                    f"steps[{index}].{step.kind}",
                    f"{CHART_PLACEHOLDER} is empty because the scenario has no chart; "
                    "add chart.path",
                )

    scenario = Scenario(
        name=name,
        tier=tier,
        source=path.resolve(),
        description=fields.string("description"),
        tags=fields.string_list("tags"),
        timeout=fields.parsed("timeout", parse_duration, default=DEFAULT_TIMEOUT_SECONDS),
        resources=_resources(fields),
        requires=_requires(fields),
        depends_on=_depends_on(fields, name, fields.string_list("depends_on")),
        estimated_time=fields.parsed("estimated_time", parse_duration, default=None),
        labels=_labels(fields),
        chart=chart,
        steps=steps,
    )
    fields.reject_unknown(
        allowed="name, tier, description, tags, timeout, estimated_time, resources, "
        "requires, depends_on, labels, chart, steps"
    )
    return scenario


CHART_PLACEHOLDER = "${CHART}"


def _mentions(value: Any, text: str) -> bool:
    """Return whether `text` occurs in any string inside `value`, nested lists and mappings too."""
    if isinstance(value, str):
        return text in value
    if isinstance(value, dict):
        return any(_mentions(item, text) for item in (*value.keys(), *value.values()))
    if isinstance(value, list | tuple):
        return any(_mentions(item, text) for item in value)
    return False


def _name(fields: Fields) -> str:
    name = fields.string("name", required=True)
    if not _NAME.fullmatch(name):
        raise fields.error("name", f"invalid name {name!r}; expected {_NAME_FORMS}")
    return name


def _tier(fields: Fields, key: str) -> str:
    tier = fields.string(key, required=True)
    if tier not in TIERS:
        raise fields.error(key, f"unknown tier {tier!r}; expected one of: {', '.join(TIERS)}")
    return tier


def _depends_on(fields: Fields, name: str, names: tuple[str, ...]) -> tuple[str, ...]:
    if name in names:
        raise fields.error(
            "depends_on", f"scenario {name!r} depends on itself; remove its own name"
        )
    return names


def _requires(fields: Fields) -> tuple[str, ...]:
    """Read `requires`; a name no cluster provides would skip the scenario on every run."""
    names = fields.string_list("requires")
    for name in names:
        if name not in KNOWN_REQUIREMENTS:
            close = closest_name(name, KNOWN_REQUIREMENTS)
            hint = f"did you mean {close!r}? " if close else ""
            raise fields.error(
                "requires",
                f"unknown requirement {name!r}; {hint}known: {', '.join(KNOWN_REQUIREMENTS)}",
            )
    return names


def _resources(fields: Fields) -> Resources:
    data = fields.mapping("resources")
    if data is None:
        return Resources()
    inner = Fields(fields.path, data, "resources")
    cpu = inner.raw("cpu")
    memory = inner.raw("memory")
    resources = Resources(
        cpu_millis=inner.parsed("cpu", parse_cpu_millis, default=0),
        memory_bytes=inner.parsed("memory", parse_memory_bytes, default=0),
        pods=inner.integer("pods", default=0),
        cpu="" if cpu is None else str(cpu),
        memory="" if memory is None else str(memory),
    )
    inner.reject_unknown(allowed="cpu, memory, pods")
    return resources


def _labels(fields: Fields) -> dict[str, str]:
    labels = fields.scalar_mapping("labels")
    for key, value in labels.items():
        if len(key) > 316 or not _LABEL_KEY.fullmatch(key):
            raise fields.error(
                f"labels.{key}", "invalid label key; expected [prefix/]name as Kubernetes allows"
            )
        if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            raise fields.error(
                f"labels.{key}",
                f"invalid label value {value!r}; "
                "expected at most 63 letters, digits, '-', '_' or '.'",
            )
    return labels


def _existing_path(fields: Fields, key: str, text: str) -> Path:
    """Resolve a path relative to the scenario file; it must exist."""
    path = (fields.path.parent / text).resolve()
    if not path.exists():
        raise fields.error(
            key, f"{text} not found (resolved to {path}); paths are relative to this file"
        )
    return path


def _values_files(fields: Fields, key: str, items: Iterable[str]) -> tuple[Path, ...]:
    paths = []
    for index, text in enumerate(items):
        if "${" in text:  # expanded by the executor; cannot be checked before the run
            paths.append(fields.path.parent / text)
        else:
            paths.append(_existing_path(fields, f"{key}[{index}]", text))
    return tuple(paths)


def _chart_folder(fields: Fields, key: str, text: str) -> Path:
    """Resolve a chart path; it must be a folder with a Chart.yaml, as Helm and presets need."""
    path = _existing_path(fields, key, text)
    if not (path / "Chart.yaml").is_file():
        raise fields.error(
            key,
            f"{text} resolved to {path}, but there is no Chart.yaml there; "
            "expected the folder of a Helm chart",
        )
    return path


def _preset(fields: Fields, key: str, chart_path: Path, preset: str) -> None:
    preset_file = chart_path / "presets" / f"{preset}.yaml"
    if preset and not preset_file.is_file():
        available = sorted(path.stem for path in (chart_path / "presets").glob("*.yaml"))
        hint = f"available: {', '.join(available)}" if available else "the chart has no presets"
        raise fields.error(
            key, f"preset {preset!r} not found: {preset_file} does not exist; {hint}"
        )


def _yaml_chart(fields: Fields) -> Chart | None:
    data = fields.mapping("chart")
    if data is None:
        return None
    inner = Fields(fields.path, data, "chart")
    path = _chart_folder(inner, "path", inner.string("path", required=True))
    values = _values_files(inner, "values", inner.string_list("values"))
    pairs = inner.scalar_mapping("set")
    preset = inner.string("preset")
    _preset(inner, "preset", path, preset)
    inner.reject_unknown(allowed="path, values, set, preset")
    return Chart(path=path, values=values, set=tuple(pairs.items()), preset=preset)


# --- script scenarios -------------------------------------------------------


def _read_meta(path: Path) -> dict[str, str]:
    """Return the `key: value` pairs between `# @meta` and `# @endmeta`."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise ScenarioError(str(path), None, f"cannot read the file: {exc}") from exc

    start = next((i for i, line in enumerate(lines) if line.strip() == "# @meta"), None)
    if start is None:
        raise ScenarioError(str(path), None, "no '# @meta' header line found")
    meta: dict[str, str] = {}
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        text = line.strip()
        if text == "# @endmeta":
            return meta
        if not text.startswith("#"):
            raise ScenarioError(
                str(path),
                None,
                f"line {number}: expected '# key: value' or '# @endmeta', got {line!r}",
            )
        body = text[1:].strip()
        if not body:
            continue
        key, colon, value = body.partition(":")
        key = key.strip()
        if not colon or not key:
            raise ScenarioError(
                str(path), None, f"line {number}: expected '# key: value', got {line!r}"
            )
        if key in meta:
            raise ScenarioError(str(path), key, f"line {number}: given twice in the @meta header")
        meta[key] = value.strip()
    raise ScenarioError(str(path), None, "the '# @meta' header has no closing '# @endmeta' line")


def _split_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _load_script(path: Path) -> Scenario:
    meta = _read_meta(path)
    data: dict[str, Any] = {key: value for key, value in meta.items() if value != ""}
    for key in ("tags", "depends_on", "requires"):
        if key in data:
            data[key] = _split_list(data[key])
    if "type" in data:
        if "tier" in data and data["tier"] != data["type"]:
            raise ScenarioError(
                str(path),
                "type",
                f"type {data['type']!r} and tier {data['tier']!r} differ; keep one",
            )
        data.setdefault("tier", data.pop("type"))
    data.pop("type", None)

    fields = Fields(path, data)
    name = _name(fields)
    tier = _tier(fields, "tier")
    chart = None
    preset = fields.string("preset")
    if fields.has("chart"):
        chart_path = _chart_folder(fields, "chart", fields.string("chart"))
        _preset(fields, "preset", chart_path, preset)
        chart = Chart(path=chart_path, preset=preset)
    elif preset:
        raise fields.error("preset", "a preset needs a chart; add '# chart: PATH' to the header")

    real_path = path.resolve()
    scenario = Scenario(
        name=name,
        tier=tier,
        source=real_path,
        description=fields.string("description"),
        tags=fields.string_list("tags"),
        timeout=fields.parsed("timeout", parse_duration, default=DEFAULT_TIMEOUT_SECONDS),
        requires=_requires(fields),
        depends_on=_depends_on(fields, name, fields.string_list("depends_on")),
        estimated_time=fields.parsed("estimated_time", parse_duration, default=None),
        chart=chart,
        script=real_path,
    )
    fields.reject_unknown(allowed=", ".join(_META_KEYS))

    mode = path.stat().st_mode
    if not mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH):
        raise ScenarioError(str(path), None, f"the script is not executable; run: chmod +x {path}")
    return scenario


# --- the set as a whole -----------------------------------------------------


def validate_set(scenarios: Iterable[Scenario]) -> None:
    """Check names are unique, dependencies exist and form no cycle."""
    by_name: dict[str, Scenario] = {}
    for scenario in scenarios:
        other = by_name.get(scenario.name)
        if other is not None:
            raise ScenarioError(
                str(scenario.source),
                "name",
                f"duplicate name {scenario.name!r}, also used by {other.source}; rename one",
            )
        by_name[scenario.name] = scenario

    for scenario in by_name.values():
        for dependency in scenario.depends_on:
            if dependency not in by_name:
                close = closest_name(dependency, by_name)
                # 'sparkrig list' would stop at this same error, so name the choices here.
                hint = (f"did you mean {close!r}?" if close
                        else f"fix the name or remove it; the scenarios here are "
                        f"{_names_preview(sorted(by_name))}")
                raise ScenarioError(
                    str(scenario.source),
                    "depends_on",
                    f"unknown scenario {dependency!r}; {hint}",
                )

    cycle = _find_cycle(by_name)
    if cycle:
        first = by_name[cycle[0]]
        raise ScenarioError(
            str(first.source), "depends_on", f"dependency cycle: {' -> '.join(cycle)}; break it"
        )


def _names_preview(names: list[str], limit: int = 8) -> str:
    listed = ", ".join(names[:limit])
    return listed if len(names) <= limit else f"{listed} and {len(names) - limit} more"


def _find_cycle(by_name: dict[str, Scenario]) -> list[str]:
    """Return one dependency cycle as a list of names (first repeated at the end), or []."""
    visiting, done = set(), set()
    stack: list[str] = []

    def visit(name: str) -> list[str]:
        visiting.add(name)
        stack.append(name)
        for dependency in by_name[name].depends_on:
            if dependency in visiting:
                return stack[stack.index(dependency) :] + [dependency]
            if dependency not in done:
                found = visit(dependency)
                if found:
                    return found
        stack.pop()
        visiting.discard(name)
        done.add(name)
        return []

    for name in sorted(by_name):
        if name not in done:
            found = visit(name)
            if found:
                return found
    return []
