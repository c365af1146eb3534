"""Amounts of different tokens are never added (issue 13.3): follow and exposure report each
asset group (the USD stablecoin pool, or one token) on its own, every row carrying its asset."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tracer.analysis.exposure import ExposureRequest
from tracer.analysis.exposure_run import exposure
from tracer.analysis.follow import follow
from tracer.cli import cli
from tracer.graph.spec import Selection
from tracer.sources.labels import read_labels
from tracer.store.workspace import Workspace

S, A, X = ("0x" + c * 40 for c in "1a4")
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"


def mixed_export(tmp_path: Path) -> tuple[Path, Path]:
    """A mixed-token export: S pays A 3 USDT, 1 USDC and 2 WETH; A pays all of it to X."""
    rows = [  # (src, dst, token, symbol, decimals, raw value, unix second)
        (S, A, USDT, "USDT", 6, 3 * 10**6, 1_700_000_000),
        (S, A, USDC, "USDC", 6, 1 * 10**6, 1_700_000_010),
        (S, A, WETH, "WETH", 18, 2 * 10**18, 1_700_000_020),
        (A, X, USDT, "USDT", 6, 3 * 10**6, 1_700_000_100),
        (A, X, USDC, "USDC", 6, 1 * 10**6, 1_700_000_110),
        (A, X, WETH, "WETH", 18, 2 * 10**18, 1_700_000_120),
    ]
    data = tmp_path / "mixed.csv"
    lines = ["tx_hash,seq,src,dst,value,ts,token,asset,decimals,chain"]
    for i, (s, d, tok, sym, dec, v, t) in enumerate(rows):
        lines.append(f"0x{i + 1:064x},0,{s},{d},{v},{t},{tok},{sym},{dec},ethereum")
    data.write_text("\n".join(lines) + "\n")
    labels = tmp_path / "labels.csv"
    labels.write_text(f"address,name,category\n{X},Exchange X,exchange\n")
    return data, labels


@pytest.fixture
def mixed_ws(tmp_path: Path) -> Workspace:
    data, labels = mixed_export(tmp_path)
    ws, _ = Workspace.in_memory([data], [read_labels(labels)])
    return ws


def test_asset_all_reports_each_asset_and_never_adds_them(mixed_ws: Workspace) -> None:
    r = follow(mixed_ws, [S], Selection(assets="all"), ledger=True)
    got = {(row["asset"], row["name"]): row["amount"] for row in r.reached.iter_rows(named=True)}
    # the stablecoins are one USD pool (the documented exception); WETH stands alone
    assert got == {("USD", "Exchange X"): pytest.approx(4.0),
                   ("WETH", "Exchange X"): pytest.approx(2.0)}  # fmt: skip
    assert [a.asset for a in r.accounts] == ["USD", "WETH"]
    assert r.account("USD").members == ["USDC", "USDT"]
    assert r.account("USD").traced_total == pytest.approx(4.0)
    assert r.account("WETH").traced_total == pytest.approx(2.0)
    assert r.traced_total is None and r.reached_total is None  # no cross-asset total exists
    for acc in r.accounts:
        assert acc.unaccounted == pytest.approx(0.0, abs=1e-12)
    services = r.services()
    assert services.select("asset", "amount").rows() == [("USD", pytest.approx(4.0)),
                                                         ("WETH", pytest.approx(2.0))]  # fmt: skip
    assert services["share"].to_list() == [pytest.approx(1.0), pytest.approx(1.0)]
    d = r.to_dict()
    assert d["traced_total"] is None and d["accounting"] is None
    assert [b["asset"] for b in d["by_asset"]] == ["USD", "WETH"]
    assert {x["asset"] for x in d["reached"]} == {"USD", "WETH"}
    assert r.ledger is not None and set(r.ledger["asset"]) == {"USDT", "USDC", "WETH"}
    groups = dict(zip(r.ledger["asset"], r.ledger["asset_group"], strict=False))
    assert groups == {"USDT": "USD", "USDC": "USD", "WETH": "WETH"}  # each row's account


def test_one_token_keeps_the_scalar_contract(mixed_ws: Workspace) -> None:
    r = follow(mixed_ws, [S], Selection(assets="WETH"))
    assert r.single_asset and r.traced_total == pytest.approx(2.0)
    assert r.to_dict()["by_asset"][0]["decimals"] == 18
    default = follow(mixed_ws, [S])  # stablecoins: USDT + USDC pooled as USD
    assert default.traced_total == pytest.approx(4.0) and default.accounts[0].asset == "USD"


def test_cli_table_shows_one_block_per_asset(tmp_path: Path) -> None:
    data, labels = mixed_export(tmp_path)
    args = ["follow", S, "--data", str(data), "--labels", str(labels), "--asset", "all"]
    table = CliRunner().invoke(cli, [*args, "--format", "table"])
    assert table.exit_code == 0, table.output
    out = table.stdout
    assert "Traced total: 4 USD" in out and "Traced total: 2 WETH" in out
    assert "Accounting (USD): reached 4 " in out and "Accounting (WETH): reached 2 " in out
    assert "Traced total: 6" not in out
    doc = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).stdout)
    assert doc["services"][1]["asset"] == "WETH" and doc["services"][1]["amount_decimal"] == "2"


def test_exposure_rows_carry_their_asset(mixed_ws: Workspace) -> None:
    rep = exposure(mixed_ws, ExposureRequest(addresses=(A,), directions=("in",),
                                             selection=Selection(assets="all")))  # fmt: skip
    f = rep.frame.filter(pl.col("category") == "unattributed")
    assert dict(zip(f["asset"], f["flow_amount"], strict=True)) == {
        "USD": pytest.approx(4.0), "WETH": pytest.approx(2.0)}  # fmt: skip
    assert set(rep.metadata["by_asset"]) == {"USD", "WETH"}
    assert rep.metadata["accounting"] is None


def test_ray_refuses_several_assets(mixed_ws: Workspace) -> None:
    from tracer.core.errors import UsageError

    with pytest.raises(UsageError, match="one --asset at a time"):
        req = ExposureRequest(addresses=None, selection=Selection(assets="all"))
        exposure(mixed_ws, req, engine="ray")


def test_flat_outputs_give_each_row_its_own_assets_total(tmp_path: Path) -> None:
    data, labels = mixed_export(tmp_path)
    out = tmp_path / "r.parquet"
    res = CliRunner().invoke(cli, ["follow", S, "--data", str(data), "--labels", str(labels),
                                   "--asset", "all", "-o", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    f = pl.read_parquet(out)
    assert dict(zip(f["asset"], f["traced_total"], strict=True)) == {
        "USD": pytest.approx(4.0), "WETH": pytest.approx(2.0)}  # fmt: skip
