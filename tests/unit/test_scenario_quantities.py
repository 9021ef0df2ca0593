"""Durations and Kubernetes quantities as scenario files write them."""

from __future__ import annotations

import pytest

from sparkrig.scenario.quantities import (
    format_duration,
    parse_cpu_millis,
    parse_duration,
    parse_memory_bytes,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (30, 30.0),
        (0.5, 0.5),
        ("45", 45.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("250ms", 0.25),
        ("1.5h", 5400.0),
    ],
)
def test_duration_forms(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "5 minutes", "m5", "5x", "-3", 0, -1, True, None, [], "1h 2m"]
)
def test_duration_rejects_invalid(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "millis"),
    [("500m", 500), ("2", 2000), (2, 2000), (0.5, 500), ("0.25", 250), ("1.5m", 2)],
)
def test_cpu_forms(text: object, millis: int) -> None:
    assert parse_cpu_millis(text) == millis


@pytest.mark.parametrize("text", ["2 cores", "500Mi", "", "-1", True, None])
def test_cpu_rejects_invalid(text: object) -> None:
    with pytest.raises(ValueError, match="CPU quantity"):
        parse_cpu_millis(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512Mi", 512 * 2**20),
        ("4Gi", 4 * 2**30),
        ("1G", 10**9),
        ("100", 100),
        (1024, 1024),
        ("1e3", 1000),
        ("1.5Ki", 1536),
        ("2k", 2000),
    ],
)
def test_memory_forms(text: object, size: int) -> None:
    assert parse_memory_bytes(text) == size


@pytest.mark.parametrize("text", ["4GB", "Gi", "", "four", False, {}])
def test_memory_rejects_invalid(text: object) -> None:
    with pytest.raises(ValueError, match="memory quantity"):
        parse_memory_bytes(text)


def test_format_duration_units() -> None:
    assert format_duration(3.25) == "3.2s"
    assert format_duration(45) == "45s"
    assert format_duration(125) == "2m05s"
    assert format_duration(3720) == "1h02m"
