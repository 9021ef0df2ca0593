"""The bundled scenarios load, and each declares what the runner needs to schedule it.

These checks need no cluster and no Helm: they read the scenario files with
the rig's own loader and compare them against the chart's presets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkrig.scenario.loader import load_scenarios
from sparkrig.scenario.model import TIERS, Scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
PRESETS_DIR = ROOT / "charts" / "spark" / "presets"
PRESETS = sorted(path.stem for path in PRESETS_DIR.glob("*.yaml"))
RESTRICTED_LABEL = "pod-security.kubernetes.io/enforce"


@pytest.fixture(scope="module")
def scenarios() -> list[Scenario]:
    loaded: list[Scenario] = load_scenarios(SCENARIOS)
    return loaded


def test_every_tier_has_scenarios(scenarios: list[Scenario]) -> None:
    for tier in TIERS:
        assert [s for s in scenarios if s.tier == tier], f"no {tier} scenario"


def test_scenario_folder_matches_tier(scenarios: list[Scenario]) -> None:
    for scenario in scenarios:
        assert scenario.source.parent.name == scenario.tier, scenario.source


def test_scenarios_declare_time_and_tags(scenarios: list[Scenario]) -> None:
    for scenario in scenarios:
        assert scenario.estimated_time is not None, scenario.name
        assert scenario.tags, scenario.name
        assert scenario.description, scenario.name


def test_yaml_scenarios_that_install_set_resources(scenarios: list[Scenario]) -> None:
    for scenario in scenarios:
        if scenario.is_script:
            continue
        if any(step.kind == "install" for step in scenario.steps):
            assert not scenario.resources.is_empty, scenario.name
            assert scenario.resources.pods > 0, scenario.name


def test_every_preset_admitted_under_restricted(scenarios: list[Scenario]) -> None:
    admitted = {}
    for scenario in scenarios:
        if scenario.tier != "security" or scenario.is_script or scenario.chart is None:
            continue
        if scenario.labels.get(RESTRICTED_LABEL) != "restricted":
            continue
        for values in scenario.chart.values:
            admitted[values.stem] = scenario.name
    for preset in PRESETS:
        assert preset in admitted, f"no restricted-namespace scenario installs preset {preset}"


def test_preset_tags_name_real_presets(scenarios: list[Scenario]) -> None:
    for scenario in scenarios:
        for tag in scenario.tags:
            if tag.startswith("preset-"):
                assert tag.removeprefix("preset-") in PRESETS, f"{scenario.name}: {tag}"


def test_e2e_scenarios_require_containers(scenarios: list[Scenario]) -> None:
    for scenario in scenarios:
        if scenario.tier == "e2e":
            assert "containers" in scenario.requires, scenario.name


def test_script_scenarios_exist(scenarios: list[Scenario]) -> None:
    scripts = {s.name for s in scenarios if s.is_script}
    assert "connect-port-script" in scripts
    assert "three-releases" in scripts
    assert "spark-submit-driver-admitted" in scripts
