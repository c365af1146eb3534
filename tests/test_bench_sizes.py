"""benchmarks/conftest.py's one size parser (``TRACER_BENCH_EDGES``, ``--edges`` of the scripts):
suffixes, decimals, underscores, and a clear error for anything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.conftest import bench_edges, bench_logs, parse_size


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("1M", 1_000_000),
        ("10M", 10_000_000),
        ("100M", 100_000_000),
        ("200M", 200_000_000),
        ("2.5M", 2_500_000),
        ("500k", 500_000),
        ("500K", 500_000),
        ("1.5k", 1_500),
        ("1B", 1_000_000_000),
        ("0.25b", 250_000_000),
        ("10m", 10_000_000),
        ("1_000_000", 1_000_000),
        ("1_000M", 1_000_000_000),
        (" 7 ", 7),
        ("1e6", 1_000_000),
        ("1.000001M", 1_000_001),
        ("1.5000000M", 1_500_000),
    ],
)
def test_sizes(text: str, n: int) -> None:
    assert parse_size(text) == n


@pytest.mark.parametrize(
    "text",
    ["", "M", "1.5", "1.0000005M", "0", "0M", "-1M", "1MB", "1M5", "M1", "ten", "1..5M", ".5M",
     "nan", "infM", "1 000"],
)  # fmt: skip
def test_anything_else_is_refused_with_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"positive whole number.*K, M or B"):
        parse_size(text)


@given(st.integers(1, 10**12), st.sampled_from([("", 1), ("K", 10**3), ("M", 10**6),
                                                ("B", 10**9)]))  # fmt: skip
def test_whole_counts_with_any_suffix(n: int, suffix: tuple[str, int]) -> None:
    name, scale = suffix
    assert parse_size(f"{n:_}{name}") == n * scale
    assert parse_size(f"{n}{name.lower()}") == n * scale
    if scale >= 10:  # one decimal place: still a whole count
        assert parse_size(f"{n}.1{name}") == n * scale + scale // 10


def test_environment_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACER_BENCH_EDGES", raising=False)
    monkeypatch.delenv("TRACER_BENCH_LOGS", raising=False)
    assert (bench_edges(), bench_logs()) == (10_000_000, 1_000_000)  # the defaults
    monkeypatch.setenv("TRACER_BENCH_EDGES", "200M")
    monkeypatch.setenv("TRACER_BENCH_LOGS", "2.5M")
    assert (bench_edges(), bench_logs()) == (200_000_000, 2_500_000)
    monkeypatch.setenv("TRACER_BENCH_EDGES", "lots")
    with pytest.raises(ValueError, match="'lots'"):
        bench_edges()
