"""Decoded conversions become hop rows whose legs are the canonical transfers they replace."""

from __future__ import annotations

import polars as pl
import pytest

from tests.conftest import FIXTURES
from tracer.analysis.hops import load_hops
from tracer.core.hops import HOP_SCHEMA
from tracer.sources import conversions as cv
from tracer.sources.raw_logs import read_logs
from tracer.store.workspace import Workspace

STREAM = FIXTURES / "ethereum_etl" / "blocks_17173049_17173050"
USDC_USDT_TX = "0xeda67199a405a243d0e3a0b7a4b88f2aa02fb5f907017aa724b6a5bc26f54cc0"


@pytest.fixture(scope="module")
def real() -> tuple[Workspace, pl.DataFrame]:
    ws, _ = Workspace.in_memory([STREAM / "expected_logs.json",
                                 STREAM / "expected_transactions.json"])  # fmt: skip
    logs = read_logs(STREAM / "expected_logs.json").logs
    native = ws.transfers().filter(pl.col("token").is_null())
    conv = cv.decode_conversions(logs, native=native).conversions
    return ws, conv


def test_hops_follow_the_schema_and_mark_inferences(real: tuple[Workspace, pl.DataFrame]) -> None:
    ws, conv = real
    hops = load_hops(ws, conversions=conv)
    assert hops.schema == pl.Schema(HOP_SCHEMA)
    assert hops.height == conv.height == 61
    assert hops["hop_id"].n_unique() == hops.height
    assert set(hops["kind"]) == {"swap", "wrap"} or set(hops["kind"]) == {"swap"}
    assert (hops["inferred"] == (hops["confidence"] < 1.0)).all()
    assert hops.filter(pl.col("inferred")).height == conv.filter(pl.col("confidence") < 1).height
    assert (hops["ts_out"] >= hops["ts_in"]).all()
    assert (hops["chain_in"] == hops["chain_out"]).all() and (hops["tx_in"] == hops["tx_out"]).all()


def test_legs_are_the_traders_transfers_and_add_up(real: tuple[Workspace, pl.DataFrame]) -> None:
    """Hand-checked row: USDC→USDT through a V3 pool, log 323 paid in, log 322 paid out. Every
    other exact row: the input legs minus what the trader got back of the same asset equal
    value_in (and likewise out), so a follow replacing legs by the hop moves exactly the hop."""
    ws, conv = real
    hops = load_hops(ws, conversions=conv)
    row = hops.filter(pl.col("tx_in") == USDC_USDT_TX).row(0, named=True)
    assert (row["legs_in"], row["legs_out"]) == ([323], [322])
    t = ws.transfers()
    checked = 0
    for h in hops.filter(~pl.col("inferred")).iter_rows(named=True):
        tx = t.filter(pl.col("tx_hash") == h["tx_in"])
        sides = (("in", "address_in", "token_in", "value_in"),
                 ("out", "address_out", "token_out", "value_out"))  # fmt: skip
        for side, who, token, value in sides:
            # a leg is (chain, tx, seq, token): seq 0 is both a tx's value and its first log
            legs = tx.filter(pl.col("seq").is_in(h[f"legs_{side}"]),
                             pl.col("token").eq_missing(h[token]))  # fmt: skip
            assert legs.height == len(h[f"legs_{side}"])
            if legs.height == 0:
                continue  # a native leg implied by a wrap event: not a transfer row
            key = "src" if side == "in" else "dst"
            assert set(legs[key]) == {h[who]}
            same = tx.filter(pl.col("token").eq_missing(h[token]))
            back = same.filter(pl.col("dst" if side == "in" else "src") == h[who])
            paid = sum(int(v) for v in legs["value"]) - sum(int(v) for v in back["value"])
            assert paid == int(h[value]), (h["tx_in"], side)
            checked += 1
    assert checked > 60


def test_kinds_filter_and_unknown_kind(real: tuple[Workspace, pl.DataFrame]) -> None:
    ws, conv = real
    assert load_hops(ws, conversions=conv, kinds=["bridge"]).height == 0
    swaps = load_hops(ws, conversions=conv, kinds=["swap"])
    assert set(swaps["kind"]) == {"swap"} and swaps.height > 0
    with pytest.raises(ValueError, match="unknown hop kind"):
        load_hops(ws, conversions=conv, kinds=["teleport"])


def test_workspace_without_conversions_has_no_hops(tmp_path: object) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)  # type: ignore[operator]
    ws.ingest([STREAM / "expected_transactions.json"])
    hops = load_hops(ws)
    assert hops.height == 0 and hops.schema == pl.Schema(HOP_SCHEMA)
