"""Loading and validating scenario files: YAML, scripts and the set as a whole."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sparkrig.errors import ExitCode, ScenarioError, UsageError
from sparkrig.scenario.loader import find_scenario_files, load_file, load_scenarios


def write(path: Path, text: str, *, executable: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    if executable:
        path.chmod(0o755)
    return path


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    chart_dir = tmp_path / "charts" / "spark"
    write(chart_dir / "Chart.yaml", "name: spark\nversion: 0.1.0\n")
    write(chart_dir / "presets" / "connect.yaml", "connect: {enabled: true}\n")
    return chart_dir


FULL_YAML = """
    name: connect-ready
    tier: smoke
    description: Spark Connect becomes Available
    tags: [connect, fast]
    timeout: 5m
    estimated_time: 40s
    resources: {cpu: "2", memory: 4Gi, pods: 10}
    requires: [containers]
    depends_on: [chart-lints]
    labels: {pod-security.kubernetes.io/enforce: restricted}
    chart:
      path: ../charts/spark
      values: [../charts/spark/presets/connect.yaml]
      set: {connect.replicas: 1, connect.enabled: true}
    steps:
      - install: {timeout: 3m}
      - wait: {resource: "deployment/${RELEASE}-connect", for: condition=Available, timeout: 2m}
      - assert:
          resource: "service/${RELEASE}-connect"
          match: {spec: {ports: [{port: 15002}]}}
      - run: {command: "kubectl -n ${NAMESPACE} get pods", timeout: 30s, output_contains: Running}
      - test: {}
      - uninstall:
"""


def test_yaml_scenario_all_fields(tmp_path: Path, chart: Path) -> None:
    path = write(tmp_path / "smoke" / "connect.yaml", FULL_YAML)

    scenario = load_file(path)

    assert scenario.name == "connect-ready"
    assert scenario.tier == "smoke"
    assert scenario.tags == ("connect", "fast")
    assert scenario.timeout == 300.0
    assert scenario.estimated_time == 40.0
    assert scenario.resources.cpu_millis == 2000
    assert scenario.resources.memory_bytes == 4 * 2**30
    assert scenario.resources.pods == 10
    assert scenario.requires == ("containers",)
    assert scenario.depends_on == ("chart-lints",)
    assert scenario.labels == {"pod-security.kubernetes.io/enforce": "restricted"}
    assert scenario.chart is not None
    assert scenario.chart.path == chart.resolve()
    assert scenario.chart.values == ((chart / "presets" / "connect.yaml").resolve(),)
    assert scenario.chart.set == (("connect.replicas", "1"), ("connect.enabled", "true"))
    assert [step.kind for step in scenario.steps] == [
        "install",
        "wait",
        "assert",
        "run",
        "test",
        "uninstall",
    ]
    assert not scenario.is_script


def test_yaml_step_defaults_are_filled(tmp_path: Path, chart: Path) -> None:
    scenario = load_file(write(tmp_path / "smoke" / "s.yaml", FULL_YAML))
    install, wait, check, run, test, uninstall = scenario.steps

    assert install.timeout == 180.0
    assert install.options["wait"] is True
    assert install.options["expect_failure"] is False
    assert wait.options["for"] == "condition=Available"
    assert wait.name == "wait deployment/${RELEASE}-connect"
    assert check.options["match"] == {"spec": {"ports": [{"port": 15002}]}}
    assert check.options["count"] is None
    assert run.options["output_contains"] == ["Running"]
    assert run.options["expect_exit"] == 0
    assert test.timeout == 300.0
    assert test.options["logs"] is True
    assert uninstall.options["wait"] is True


def test_script_scenario_meta_header(tmp_path: Path, chart: Path) -> None:
    path = write(
        tmp_path / "smoke" / "port.sh",
        """
        #!/usr/bin/env bash
        # @meta
        # name: connect-port-script
        # type: smoke
        # description: The Connect service exposes port 15002
        # chart: ../charts/spark
        # preset: connect
        # tags: connect, script
        # timeout: 90
        # depends_on: a, b
        # requires: containers
        # estimated_time: 30s
        # @endmeta
        exit 0
        """,
        executable=True,
    )

    scenario = load_file(path)

    assert scenario.is_script
    assert scenario.script == path.resolve()
    assert scenario.tier == "smoke"
    assert scenario.tags == ("connect", "script")
    assert scenario.depends_on == ("a", "b")
    assert scenario.timeout == 90.0
    assert scenario.estimated_time == 30.0
    assert scenario.chart is not None
    assert scenario.chart.preset == "connect"
    assert scenario.steps == ()


def expect_error(path: Path, field: str | None, fragment: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    error = info.value
    assert error.exit_code == ExitCode.USAGE
    assert error.path == str(path)
    assert error.field == field
    assert fragment in str(error)
    return error


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ("tier: smoke\nsteps: [{run: {command: 'true'}}]\n", "name", "missing"),
        ("name: a\ntier: nightly\nsteps: [{run: {command: 'true'}}]\n", "tier", "nightly"),
        ("name: a\ntier: smoke\n", "steps", "non-empty list"),
        (
            "name: a\ntier: smoke\ntimout: 5m\nsteps: [{run: {command: 'true'}}]\n",
            "timout",
            "unknown field",
        ),
        (
            "name: a\ntier: smoke\ntimeout: soon\nsteps: [{run: {command: 'true'}}]\n",
            "timeout",
            "30s, 5m",
        ),
        (
            "name: a\ntier: smoke\nresources: {cpu: lots}\nsteps: [{run: {command: 'true'}}]\n",
            "resources.cpu",
            "500m",
        ),
        (
            "name: a\ntier: smoke\nresources: {memory: 4GB}\nsteps: [{run: {command: 'true'}}]\n",
            "resources.memory",
            "4Gi",
        ),
        (
            "name: a\ntier: smoke\ntags: 3\nsteps: [{run: {command: 'true'}}]\n",
            "tags",
            "list of strings",
        ),
        ("name: a\ntier: smoke\nsteps: [{explode: {}}]\n", "steps[0]", "unknown step kind"),
        ("name: a\ntier: smoke\nsteps: [{run: {}}]\n", "steps[0].run", "command"),
        (
            "name: a\ntier: smoke\nsteps: [{run: {command: x, argv: [y]}}]\n",
            "steps[0].run.argv",
            "not both",
        ),
        (
            "name: a\ntier: smoke\nsteps: [{run: {command: x, expect_exit: yes}}]\n",
            "steps[0].run.expect_exit",
            "whole number",
        ),
        (
            "name: a\ntier: smoke\nsteps: [{wait: {resource: pod/x}}]\n",
            "steps[0].wait.for",
            "missing",
        ),
        (
            "name: a\ntier: smoke\nsteps: [{wait: {resource: pod/x, for: ready}}]\n",
            "steps[0].wait.for",
            "condition=X",
        ),
        (
            "name: a\ntier: smoke\nsteps: [{wait: {resource: x, for: delete}}]\n",
            "steps[0].wait.resource",
            "kind/name",
        ),
        (
            "name: a\ntier: smoke\nsteps: [{wait: {kind: pod, for: delete}}]\n",
            "steps[0].wait.selector",
            "label selector",
        ),
        (
            "name: a\ntier: smoke\nsteps: [{assert: {resource: pod/x}}]\n",
            "steps[0].assert",
            "nothing to check",
        ),
        (
            "name: a\ntier: smoke\nsteps: [{test: {logs: 1}}]\n",
            "steps[0].test.logs",
            "true or false",
        ),
        (
            "name: a\ntier: smoke\nsteps: [{uninstall: {wiat: false}}]\n",
            "steps[0].uninstall.wiat",
            "unknown field",
        ),
        ("name: a\ntier: smoke\nsteps: [{install: {}}]\n", "steps[0].install", "chart"),
        (
            "name: a\ntier: smoke\nchart: {path: ./nowhere}\nsteps: [{install: {}}]\n",
            "chart.path",
            "not found",
        ),
        ("name: a, b\ntier: smoke\nsteps: [{test: {}}]\n", "name", "invalid name"),
        ("name: a\ntier: smoke\ndepends_on: [a]\nsteps: [{test: {}}]\n", "depends_on", "itself"),
        (
            "name: a\ntier: smoke\nlabels: {x: 'a b'}\nsteps: [{test: {}}]\n",
            "labels.x",
            "label value",
        ),
    ],
)
def test_yaml_invalid_field(tmp_path: Path, body: str, field: str, fragment: str) -> None:
    expect_error(write(tmp_path / "bad.yaml", body), field, fragment)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "name: a\ntier: [smoke\n")
    expect_error(path, None, "invalid YAML at line")


def test_yaml_top_level_list(tmp_path: Path) -> None:
    expect_error(write(tmp_path / "bad.yaml", "- a\n- b\n"), None, "got a list")


def test_script_not_executable(tmp_path: Path) -> None:
    path = write(tmp_path / "s.sh", "#!/bin/sh\n# @meta\n# name: s\n# tier: smoke\n# @endmeta\n")
    error = expect_error(path, None, "not executable")
    assert f"chmod +x {path}" in str(error)


@pytest.mark.parametrize(
    ("header", "field", "fragment"),
    [
        ("# name: s\n# tier: smoke\n", None, "@endmeta"),
        ("# name: s\n# tier: smoke\n# colour: red\n# @endmeta\n", "colour", "unknown field"),
        ("# name: s\n# @endmeta\n", "tier", "missing"),
        ("# name: s\n# tier: smoke\n# type: load\n# @endmeta\n", "type", "differ"),
        ("# name: s\n# tier: smoke\nx=1\n# @endmeta\n", None, "line 5"),
        ("# name: s\n# tier: smoke\n# chart: ../none\n# @endmeta\n", "chart", "not found"),
        ("# name: s\n# tier: smoke\n# preset: connect\n# @endmeta\n", "preset", "needs a chart"),
        ("# name: s\n# name: t\n# tier: smoke\n# @endmeta\n", "name", "twice"),
    ],
)
def test_script_invalid_header(
    tmp_path: Path, header: str, field: str | None, fragment: str
) -> None:
    path = write(tmp_path / "s.sh", f"#!/bin/sh\n# @meta\n{header}", executable=True)
    expect_error(path, field, fragment)


def test_script_missing_preset_file(tmp_path: Path, chart: Path) -> None:
    path = write(
        tmp_path / "s.sh",
        "#!/bin/sh\n# @meta\n# name: s\n# tier: smoke\n# chart: charts/spark\n# preset: nope\n"
        "# @endmeta\n",
        executable=True,
    )
    expect_error(path, "preset", "presets/nope.yaml")


def test_discovery_skips_values_and_hidden(tmp_path: Path) -> None:
    write(tmp_path / "smoke" / "a.yaml", "name: a\ntier: smoke\nsteps: [{test: {}}]\n")
    write(tmp_path / "smoke" / "values" / "v.yaml", "x: 1\n")
    write(tmp_path / "smoke" / "_draft.yaml", "x: 1\n")
    write(tmp_path / ".hidden" / "b.yaml", "x: 1\n")
    write(tmp_path / "smoke" / "helper.sh", "#!/bin/sh\necho no header\n", executable=True)
    write(tmp_path / "smoke" / "README.md", "# Smoke\n")
    write(
        tmp_path / "e2e" / "c.sh",
        "#!/bin/sh\n# @meta\n# name: c\n# tier: e2e\n# @endmeta\n",
        executable=True,
    )

    found = [path.relative_to(tmp_path).as_posix() for path in find_scenario_files(tmp_path)]

    assert found == ["e2e/c.sh", "smoke/a.yaml"]


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "name: same\ntier: smoke\nsteps: [{test: {}}]\n")
    write(tmp_path / "b.yaml", "name: same\ntier: e2e\nsteps: [{test: {}}]\n")

    with pytest.raises(ScenarioError, match="duplicate name 'same'") as info:
        load_scenarios(tmp_path)
    assert str(tmp_path / "a.yaml") in str(info.value)


def test_unknown_dependency(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "name: a\ntier: smoke\ndepends_on: [ghost]\nsteps: [{test: {}}]\n")

    with pytest.raises(ScenarioError, match="unknown scenario 'ghost'") as info:
        load_scenarios(tmp_path)
    assert info.value.field == "depends_on"
    assert "fix the name or remove it; the scenarios here are a" in str(info.value)


def test_unknown_dependency_close_name(tmp_path: Path) -> None:
    write(tmp_path / "lint.yaml", "name: chart-lint\ntier: smoke\nsteps: [{test: {}}]\n")
    write(tmp_path / "a.yaml",
          "name: a\ntier: smoke\ndepends_on: [chart-lnit]\nsteps: [{test: {}}]\n")

    with pytest.raises(ScenarioError, match="did you mean 'chart-lint'"):
        load_scenarios(tmp_path)


def test_dependency_cycle_named(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "name: a\ntier: smoke\ndepends_on: [b]\nsteps: [{test: {}}]\n")
    write(tmp_path / "b.yaml", "name: b\ntier: smoke\ndepends_on: [c]\nsteps: [{test: {}}]\n")
    write(tmp_path / "c.yaml", "name: c\ntier: smoke\ndepends_on: [a]\nsteps: [{test: {}}]\n")

    with pytest.raises(ScenarioError, match="dependency cycle: a -> b -> c -> a"):
        load_scenarios(tmp_path)


def test_missing_folder_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="folder not found"):
        load_scenarios(tmp_path / "absent")


def test_load_sorted_by_name(tmp_path: Path) -> None:
    write(tmp_path / "z.yaml", "name: alpha\ntier: smoke\nsteps: [{test: {}}]\n")
    write(tmp_path / "a.yaml", "name: beta\ntier: smoke\nsteps: [{test: {}}]\n")

    assert [scenario.name for scenario in load_scenarios(tmp_path)] == ["alpha", "beta"]


def test_chart_path_without_chart_yaml(tmp_path: Path) -> None:
    (tmp_path / "charts" / "empty").mkdir(parents=True)
    path = write(
        tmp_path / "a.yaml",
        "name: a\ntier: smoke\nchart: {path: charts/empty}\nsteps: [{install: {}}]\n",
    )

    error = expect_error(path, "chart.path", "no Chart.yaml there")
    assert str(tmp_path / "charts" / "empty") in str(error)
    assert error.exit_code == ExitCode.USAGE


def test_script_chart_without_chart_yaml(tmp_path: Path) -> None:
    (tmp_path / "charts" / "empty").mkdir(parents=True)
    path = write(
        tmp_path / "s.sh",
        "#!/bin/sh\n# @meta\n# name: s\n# tier: smoke\n# chart: charts/empty\n# @endmeta\n",
        executable=True,
    )

    expect_error(path, "chart", "no Chart.yaml there")


def test_missing_preset_lists_available(tmp_path: Path, chart: Path) -> None:
    path = write(
        tmp_path / "a.yaml",
        "name: a\ntier: smoke\nchart: {path: charts/spark, preset: conect}\nsteps: [{test: {}}]\n",
    )

    expect_error(path, "chart.preset", "available: connect")


def test_unknown_dependency_suggests_name(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "name: chart-lint\ntier: smoke\nsteps: [{test: {}}]\n")
    write(tmp_path / "b.yaml",
          "name: b\ntier: smoke\ndepends_on: [chart-lints]\nsteps: [{test: {}}]\n")

    with pytest.raises(ScenarioError, match="did you mean 'chart-lint'"):
        load_scenarios(tmp_path)


def test_step_with_two_keys_names_them(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.yaml",
        "name: a\ntier: smoke\nsteps:\n  - run:\n    command: ls\n",
    )

    expect_error(path, "steps[0]", "found 2 keys: run, command")


@pytest.mark.parametrize(("value", "hint"), [
    ("container", "did you mean 'containers'? known: containers"),
    ("gpu", "known: containers"),
])
def test_unknown_requirement_rejected(tmp_path: Path, value: str, hint: str) -> None:
    write(tmp_path / "a.yaml",
          f"name: a\ntier: smoke\nrequires: [{value}]\nsteps: [{{test: {{}}}}]\n")

    with pytest.raises(ScenarioError, match=f"unknown requirement '{value}'") as info:
        load_scenarios(tmp_path)
    assert info.value.field == "requires"
    assert hint in str(info.value)


def test_known_requirements_match_providers() -> None:
    from sparkrig.cluster.providers import CONTAINERS
    from sparkrig.scenario.model import KNOWN_REQUIREMENTS

    assert CONTAINERS in KNOWN_REQUIREMENTS


def test_chart_placeholder_needs_chart(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml",
          "name: a\ntier: smoke\n"
          "steps:\n  - run: {argv: [helm, lint, --strict, \"${CHART}\"]}\n")

    with pytest.raises(ScenarioError, match=r"\$\{CHART\} is empty because the scenario has no "
                       "chart") as info:
        load_scenarios(tmp_path)
    assert info.value.field == "steps[0].run"


def test_install_values_file_must_exist(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    write(tmp_path / "a.yaml",
          "name: a\ntier: smoke\nchart: {path: chart}\n"
          "steps:\n  - install: {values: [values/missing.yaml]}\n")

    with pytest.raises(ScenarioError, match="values/missing.yaml not found") as info:
        load_scenarios(tmp_path)
    assert info.value.field == "steps[0].install.values[0]"
    assert "paths are relative to this file" in str(info.value)
