"""A follow through a real decoded swap (ethereum-etl mainnet blocks 17173049-17173050, copied in
fixtures/ethereum_etl): tx 0xeda6…4cc0, 111,000 USDC → 110,962.179432 USDT through a Uniswap V3
pool, output (log 322) paid *before* the input (log 323).

Around it, two synthetic transfers (marked as such): a scam wallet S paid the trader 55,500 USDC
a few seconds before the swap, and the trader paid everything to an exchange X after it. By hand
(haircut): the trader's observed balance before the swap is 55,500, all tainted; it pays 111,000
(the rest is unknown prior funds, clean), so half the input is tainted: 55,500 USDC enter the
hop and 110,962.179432 × ½ = 55,481.089716 USDT leave it, all of which X receives.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES
from tracer.analysis.follow import follow
from tracer.analysis.hops import load_hops
from tracer.cli import cli
from tracer.graph.spec import Selection
from tracer.sources import conversions as cv
from tracer.sources.labels import read_labels
from tracer.sources.raw_logs import read_logs
from tracer.store.workspace import Workspace

STREAM = FIXTURES / "ethereum_etl" / "blocks_17173049_17173050"
TX = "0xeda67199a405a243d0e3a0b7a4b88f2aa02fb5f907017aa724b6a5bc26f54cc0"
TRADER = "0x7cd9ffcd9d31bb41ea8187576f562931db1451f2"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
S = "0x" + "5c" * 20
X = "0x" + "e4" * 20
SWAP_TS = 1683030011  # 2023-05-02T12:20:11Z, block 17173050


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, pl.DataFrame]:
    root = tmp_path_factory.mktemp("real_swap")
    extra = root / "synthetic.csv"
    extra.write_text(
        "tx_hash,seq,src,dst,value,ts,token,asset,decimals,chain\n"
        f"0x{'a1' * 32},0,{S},{TRADER},55500000000,{SWAP_TS - 11},{USDC},USDC,6,ethereum\n"
        f"0x{'a2' * 32},0,{TRADER},{X},110962179432,{SWAP_TS + 89},{USDT},USDT,6,ethereum\n"
    )
    labels = root / "labels.csv"
    labels.write_text(f"address,name,category\n{X},Exchange X,exchange\n")
    ws, _ = Workspace.in_memory(
        [STREAM / "expected_logs.json", STREAM / "expected_transactions.json", extra],
        [read_labels(labels)],
    )
    logs = read_logs(STREAM / "expected_logs.json").logs
    native = ws.transfers().filter(pl.col("token").is_null())
    conv = cv.decode_conversions(logs, native=native).conversions
    return ws, load_hops(ws, conversions=conv)


def test_follow_crosses_the_real_swap_at_its_rate(case: tuple[Workspace, pl.DataFrame]) -> None:
    ws, hops = case
    r = follow(ws, [S], hops=hops, ledger=True)
    (crossed,) = r.hops.iter_rows(named=True)  # type: ignore[union-attr]
    assert crossed["tx_in"] == TX and crossed["legs_in"] == [323] and crossed["legs_out"] == [322]
    assert crossed["tainted_in"] == pytest.approx(55_500.0)
    assert crossed["tainted_out"] == pytest.approx(55_481.089716)
    assert crossed["rate"] == pytest.approx(110_962.179432 / 111_000)
    assert crossed["inferred"] is False
    usd = r.account("USD")
    assert usd.reached_total == pytest.approx(55_481.089716)
    assert usd.converted_in == pytest.approx(55_481.089716)
    assert usd.converted_out == pytest.approx(55_500.0)
    assert abs(usd.unaccounted) < 1e-6
    # in source units (USDC entering the path): everything that reached X is the 55,500
    row = r.reached.row(0, named=True)
    assert row["address"].lower() == X and row["source_amount"] == pytest.approx(55_500.0)
    # the path shows the hop between the two transfers, with chain, asset and tx hash
    (path, *_) = row["paths"]
    assert [s["step"] for s in path["hops"]] == ["transfer", "transfer", "hop", "transfer"]
    hop = path["hops"][2]
    assert (hop["tx_in"], hop["asset_in"], hop["asset_out"], hop["chain_in"]) == (
        TX, "USDC", "USDT", "ethereum")  # fmt: skip
    assert hop["inferred"] is False and path["complete"]
    # the pool did not absorb the taint: it reached nothing and holds nothing
    pool = "0x3416cf6c708da44db2624d63ea0aaef7113527c6"
    assert pool not in {a.lower() for a in r.held["address"].to_list()}
    # the ledger: the input leg says which hop it went into; the hop row carries the rate
    led = r.ledger
    assert led is not None
    assert led.filter(pl.col("into_hop").is_not_null())["tainted"].sum() == pytest.approx(55_500)
    hop_row = led.filter(pl.col("row_kind") == "hop").row(0, named=True)
    assert hop_row["rate"] == pytest.approx(crossed["rate"]) and hop_row["evidence"]


def test_no_cross_asset_stops_at_the_pool(case: tuple[Workspace, pl.DataFrame]) -> None:
    """Without the hop, the USDC goes into the pool, which keeps (dilutes) part of it, and the
    USDT the trader gets back is the pool's mix: X gets less, and the pool holds taint."""
    ws, _ = case
    plain = follow(ws, [S], cross_asset=False)
    assert plain.hops is None and plain.cross_asset is None
    assert plain.account("USD").reached_total < 0.5 * 55_481.089716
    pool = "0x3416cf6c708da44db2624d63ea0aaef7113527c6"
    assert pool in {a.lower() for a in plain.held["address"].to_list()}


def test_source_goes_back_through_the_swap(case: tuple[Workspace, pl.DataFrame]) -> None:
    """Backward from X: its 110,962.179432 USDT come through the hop as 111,000 USDC; the
    trader's observed USDC inflow (55,500 from S) gets half, the rest is unknown origin."""
    ws, hops = case
    r = follow(ws, [X], Selection(), hops=hops, direction="backward")
    (crossed,) = r.hops.iter_rows(named=True)  # type: ignore[union-attr]
    assert crossed["tainted_out"] == pytest.approx(110_962.179432)  # USDT side, entering
    assert crossed["tainted_in"] == pytest.approx(111_000.0)  # USDC side, continuing
    held = {a.lower(): v for a, v in r.held.select("address", "amount").iter_rows()}
    assert held[S] == pytest.approx(55_500.0)


def test_cli_follow_json_and_no_cross_asset(case: tuple[Workspace, pl.DataFrame],
                                            tmp_path: Path) -> None:  # fmt: skip
    """The command line crosses the workspace's decoded swaps by default; --no-cross-asset
    stops at them."""
    ws_dir = tmp_path / "ws"
    extra = tmp_path / "synthetic.csv"
    extra.write_text(
        "tx_hash,seq,src,dst,value,ts,token,asset,decimals,chain\n"
        f"0x{'a1' * 32},0,{S},{TRADER},55500000000,{SWAP_TS - 11},{USDC},USDC,6,ethereum\n"
        f"0x{'a2' * 32},0,{TRADER},{X},110962179432,{SWAP_TS + 89},{USDT},USDT,6,ethereum\n"
    )
    labels = tmp_path / "labels.csv"
    labels.write_text(f"address,name,category\n{X},Exchange X,exchange\n")
    runner = CliRunner()
    got = runner.invoke(cli, ["ingest", "-w", str(ws_dir), str(STREAM / "expected_logs.json"),
                              str(STREAM / "expected_transactions.json"), str(extra)])  # fmt: skip
    assert got.exit_code == 0, got.output
    got = runner.invoke(cli, ["labels", "add", "-w", str(ws_dir), str(labels)])
    assert got.exit_code == 0, got.output
    on, off, led = tmp_path / "on.json", tmp_path / "off.json", tmp_path / "ledger.parquet"
    out = runner.invoke(cli, ["follow", S, "-w", str(ws_dir), "--format", "json", "-o", str(on),
                              "--ledger", str(led)])  # fmt: skip
    assert out.exit_code == 0, out.output
    doc = json.loads(on.read_text())
    assert doc["cross_asset"]["hops_crossed"] == 1
    hop_rows = pl.read_parquet(led).filter(pl.col("row_kind") == "hop")
    assert hop_rows["tx_hash"].to_list() == [TX] and hop_rows["rate"][0] > 0.99
    assert doc["reached"][0]["amount"] == pytest.approx(55_481.089716)
    got = runner.invoke(cli, ["follow", S, "-w", str(ws_dir), "--format", "json", "-o",
                              str(off), "--no-cross-asset"])  # fmt: skip
    assert got.exit_code == 0, got.output
    doc = json.loads(off.read_text())
    assert "cross_asset" not in doc and doc["reached"][0]["amount"] < 0.5 * 55_481.089716
