"""Names stay valid and unique whatever the scenario name holds."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from sparkrig.kube import names
from sparkrig.kube.names import (
    LABEL_VALUE_MAX_LENGTH,
    NAMESPACE_MAX_LENGTH,
    RELEASE_MAX_LENGTH,
    is_dns1123_label,
    is_label_value,
    label_value,
    namespace_name,
    release_name,
    safe_dir_name,
    scenario_label_value,
)

WHEN = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)

HOSTILE_NAMES = [
    "connect-ready",
    "Spark_3.5.7 Smoke/Connect",
    "x" * 200,
    "a-" * 100,
    "Ünïcödé scénario",
    "日本語のシナリオ",
    "🔥🔥🔥",
    "---",
    "...",
    "",
    " leading and trailing ",
    "UPPER_CASE.NAME",
    "tab\tnew\nline",
    "../../etc/passwd",
    "a" * 62 + "-",
    "9starts-with-digit",
    "-starts-with-dash",
    "ends.with.dot.",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_namespace_name_is_a_dns1123_label(name: str) -> None:
    namespace = namespace_name(name, when=WHEN)
    assert len(namespace) <= NAMESPACE_MAX_LENGTH
    assert is_dns1123_label(namespace), namespace
    assert namespace.startswith("spark-test-")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_release_name_is_valid_for_helm(name: str) -> None:
    release = release_name(name)
    assert len(release) <= RELEASE_MAX_LENGTH
    assert is_dns1123_label(release), release
    assert release.startswith("spark-")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_label_value_is_valid(name: str) -> None:
    value = scenario_label_value(name)
    assert len(value) <= LABEL_VALUE_MAX_LENGTH
    assert is_label_value(value), value


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_safe_dir_name_is_one_plain_path_component(name: str) -> None:
    folder = safe_dir_name(name)
    assert folder
    assert "/" not in folder
    assert "\x00" not in folder
    assert folder not in (".", "..")
    assert not folder.startswith(".")
    assert len(folder.encode()) <= 255


def test_namespace_keeps_a_readable_scenario_part() -> None:
    namespace = namespace_name("Spark_3.5.7 Smoke/Connect", when=WHEN, suffix="abcd")
    assert namespace == "spark-test-spark-3-5-7-smoke-connect-250314150926-abcd"


def test_timestamp_is_utc_whatever_the_zone_of_when() -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=5)))
    assert namespace_name("s", when=local, suffix="abcd") == namespace_name(
        "s", when=WHEN, suffix="abcd"
    )


def test_long_names_sharing_a_prefix_get_different_names() -> None:
    first = "x" * 150 + "first"
    second = "x" * 150 + "second"
    assert namespace_name(first, when=WHEN, suffix="abcd") != namespace_name(
        second, when=WHEN, suffix="abcd"
    )
    assert release_name(first, suffix="abcde") != release_name(second, suffix="abcde")
    assert scenario_label_value(first) != scenario_label_value(second)
    assert safe_dir_name(first + "x" * 100) != safe_dir_name(second + "x" * 100)


def test_similar_names_get_distinct_labels() -> None:
    pairs = [("Spark Smoke", "spark-smoke"), ("a/b", "a-b"), ("日本", "中国")]
    for left, right in pairs:
        assert scenario_label_value(left) != scenario_label_value(right)
        assert safe_dir_name(left) != safe_dir_name(right)


def test_names_differ_between_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each call must draw a fresh suffix; a counter stands in for the random
    # draw, because 200 real 4-character draws collide about 1 % of the time.
    counter = itertools.count()
    monkeypatch.setattr(names, "random_suffix", lambda length=4: f"{next(counter):0{length}d}")
    namespaces = {namespace_name("connect", when=WHEN) for _ in range(200)}
    releases = {release_name("connect") for _ in range(200)}
    assert len(namespaces) == 200
    assert len(releases) == 200


def test_names_are_deterministic_for_a_given_suffix() -> None:
    assert release_name("Spark Connect", suffix="zzzzz") == "spark-spark-connect-zzzzz"
    assert namespace_name("日本", when=WHEN, suffix="abcd") == namespace_name(
        "日本", when=WHEN, suffix="abcd"
    )


def test_valid_label_values_and_folder_names_are_kept() -> None:
    assert label_value("connect-ready") == "connect-ready"
    assert label_value("UPPER_CASE.name") == "UPPER_CASE.name"
    assert safe_dir_name("connect-ready") == "connect-ready"


def test_non_latin_names_keep_a_hash_based_name() -> None:
    namespace = namespace_name("日本語", when=WHEN, suffix="abcd")
    assert is_dns1123_label(namespace)
    assert namespace != namespace_name("中国語", when=WHEN, suffix="abcd")


def test_cut_name_fills_the_limit() -> None:
    namespace = namespace_name("y" * 200, when=WHEN, suffix="abcd")
    assert len(namespace) == NAMESPACE_MAX_LENGTH
    release = release_name("y" * 200, suffix="abcde")
    assert len(release) == RELEASE_MAX_LENGTH
