"""An export of one chain, spelled canonically on every row, skips the per-row chain map and the
split by chain; the result (transfers, rejects with file/row/field/reason, counts) is exactly
the general path's, and any other chain column still takes the general path."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.sources.test_canonical_fast_path import canonical
from tracer.core.errors import InputError
from tracer.sources import base, read_file
from tracer.sources.base import ReadOptions


def _file(tmp_path: Path, chain: list, n_bad: int = 0) -> Path:
    n = len(chain)
    src = ["0xnothex"] * n_bad + [f"0x{i + 1:040x}" for i in range(n_bad, n)]
    f = tmp_path / "c.parquet"
    canonical(n, chain=pl.Series(chain, dtype=pl.String), src=src).write_parquet(f)
    return f


CHAINS = [
    ["ethereum"] * 6,  # the fast path
    ["polygon"] * 6,
    ["Ethereum"] * 6,  # to normalise: general path
    ["eth"] * 6,  # an alias
    ["ethereum"] * 3 + ["polygon"] * 3,  # two chains
    ["ethereum"] * 5 + [None],  # a null (the default chain)
    ["not a chain!"] * 6,  # a bad name: rejected
    ["bsc", "ethereum", "bsc", "ethereum", "bsc", "bsc"],
]


def _load(f: Path, skip_bad: bool, opts: ReadOptions) -> tuple:
    try:
        got = read_file(f, skip_bad=skip_bad, options=opts)
    except InputError as exc:
        return ("error", exc.file, exc.row, exc.field, exc.reason)
    return (got.transfers, got.rejects, got.read, dict(got.skipped))


@pytest.mark.parametrize("chain", CHAINS)
@pytest.mark.parametrize("n_bad", [0, 2])
@pytest.mark.parametrize("skip_bad", [False, True])
def test_one_canonical_chain_equals_the_general_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chain: list, n_bad: int, skip_bad: bool
) -> None:
    f = _file(tmp_path, chain, n_bad)
    opts = ReadOptions()
    fast = _load(f, skip_bad, opts)
    monkeypatch.setattr(base, "_canonical_chain", lambda chains: None)
    general = _load(f, skip_bad, opts)
    assert len(fast) == len(general)
    if isinstance(fast[0], str) or isinstance(general[0], str):
        assert fast == general
        return
    assert_frame_equal(fast[0], general[0])
    assert_frame_equal(fast[1], general[1])
    assert fast[2:] == general[2:]


def test_which_chain_columns_take_the_short_path() -> None:
    one = base._canonical_chain
    assert one(pl.Series(["ethereum"] * 3)) == "ethereum"
    assert one(pl.Series(["polygon"])) == "polygon"
    for other in (["Ethereum"] * 2, ["eth"] * 2, ["ethereum", "polygon"], ["ethereum", None],
                  ["bad name"] * 2, [], [""] * 2):  # fmt: skip
        assert one(pl.Series(other, dtype=pl.String)) is None, other
