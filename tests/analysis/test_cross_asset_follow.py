"""``follow`` across a swap and a bridge (two chains), by hand; OTC inference accounted; hop rows
that cannot be tied to the data counted by reason; without hops the run is today's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tracer.analysis.follow import follow
from tracer.analysis.hop_edges import plan_hops, universe
from tracer.core.hops import HOP_SCHEMA
from tracer.graph.selection import asset_groups, asset_tokens
from tracer.graph.spec import Selection
from tracer.output.follow_json import follow_json
from tracer.output.render import write_follow
from tracer.sources.labels import read_labels
from tracer.store.workspace import Workspace

S, F, T, P, B, M, R, X = ("0x" + c * 40 for c in "5f7ab3e4")
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
WETH_BSC = "0x2170ed0880ac9a755fd29b2688956bd959f933f8"
T0 = 1_700_000_000


def tx(i: int) -> str:
    return f"0x{i:064x}"


ROWS = [  # (tx, seq, src, dst, token, symbol, decimals, value, second, chain)
    (1, 0, S, T, USDT, "USDT", 6, 1000 * 10**6, 100, "ethereum"),  # the scam's 1,000 USDT
    (2, 0, F, T, USDT, "USDT", 6, 1000 * 10**6, 110, "ethereum"),  # 1,000 clean
    (3, 5, T, P, USDT, "USDT", 6, 2000 * 10**6, 200, "ethereum"),  # swap: input leg
    (3, 6, P, T, WETH, "WETH", 18, 10**18, 200, "ethereum"),  # swap: output leg, 1 WETH
    (4, 1, T, B, WETH, "WETH", 18, 10**18, 300, "ethereum"),  # bridge deposit
    (5, 3, M, R, WETH_BSC, "ETH", 18, 10**18, 400, "bsc"),  # bridge mint on the other chain
    (6, 0, R, X, WETH_BSC, "ETH", 18, 10**18, 500, "bsc"),  # to the exchange
]


def hop(**kw: Any) -> dict[str, Any]:
    base = {"kind": "swap", "protocol": "uniswap-v2", "rule": "net-flow", "confidence": 1.0,
            "inferred": False, "evidence": "{}"}  # fmt: skip
    return {**base, **kw}


def ts(second: int) -> datetime:
    return datetime.fromtimestamp(T0 + second, tz=UTC)


SWAP = hop(hop_id="swap:3", chain_in="ethereum", tx_in=tx(3), ts_in=ts(200), address_in=T,
           asset_in="USDT", token_in=USDT, value_in=str(2000 * 10**6), decimals_in=6,
           legs_in=[5], chain_out="ethereum", tx_out=tx(3), ts_out=ts(200), address_out=T,
           asset_out="WETH", token_out=WETH, value_out=str(10**18), decimals_out=18,
           legs_out=[6])  # fmt: skip
BRIDGE = hop(hop_id="bridge:4", kind="bridge", protocol="cctp", rule="message-id",
             chain_in="ethereum", tx_in=tx(4), ts_in=ts(300), address_in=T, asset_in="WETH",
             token_in=WETH, value_in=str(10**18), decimals_in=18, legs_in=[1],
             chain_out="bsc", tx_out=tx(5), ts_out=ts(400), address_out=R, asset_out="ETH",
             token_out=WETH_BSC, value_out=str(10**18), decimals_out=18,
             legs_out=[3])  # fmt: skip


def hops(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=HOP_SCHEMA)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    data = tmp_path / "case.csv"
    lines = ["tx_hash,seq,src,dst,value,ts,token,asset,decimals,chain"]
    for i, q, s, d, tok, sym, dec, v, sec, chain in ROWS:
        lines.append(f"{tx(i)},{q},{s},{d},{v},{T0 + sec},{tok},{sym},{dec},{chain}")
    data.write_text("\n".join(lines) + "\n")
    labels = tmp_path / "labels.csv"
    labels.write_text(f"address,name,category,chain\n{X},Exchange X,exchange,bsc\n")
    w, _ = Workspace.in_memory([data], [read_labels(labels)])
    return w


def test_swap_then_bridge_reaches_the_exchange_on_the_other_chain(ws: Workspace,
                                                                  tmp_path: Path) -> None:
    """By hand (haircut): T holds 1,000 tainted of 2,000 USDT and swaps all of it for 1 WETH:
    0.5 WETH tainted; it bridges the 1 WETH: 0.5 arrives on BSC at R, who pays X."""
    r = follow(ws, [S], hops=hops(SWAP, BRIDGE), ledger=True)
    got = {row["asset"]: row["amount"] for row in r.reached.iter_rows(named=True)}
    assert got == {"ETH": pytest.approx(0.5)}
    row = r.reached.row(0, named=True)
    assert row["chain"] == "bsc" and row["source_asset"] == "USDT"
    assert row["source_amount"] == pytest.approx(1000.0)  # USDT-equivalent along the path
    # every account closes with its conversions; unlike units are never added
    for acc in r.accounts:
        assert abs(acc.unaccounted) < 1e-9
    usdt, weth = r.account("USDT"), r.account("WETH")
    assert usdt.converted_out == pytest.approx(1000.0) and usdt.reached_total == 0.0
    assert weth.converted_in == pytest.approx(0.5) and weth.converted_out == pytest.approx(0.5)
    # the path: every hop with its chain, asset and transaction, fact or inferred
    (path, *_) = row["paths"]
    steps = [(s["step"], s.get("kind"), s.get("chain_out") or s["chain"]) for s in path["hops"]]
    assert steps == [("transfer", None, "ethereum"), ("transfer", None, "ethereum"),
                     ("hop", "swap", "ethereum"), ("transfer", None, "ethereum"),
                     ("hop", "bridge", "bsc"), ("transfer", None, "bsc")]  # fmt: skip
    bridge = path["hops"][4]
    assert (bridge["tx_in"], bridge["tx_out"]) == (tx(4), tx(5))
    assert bridge["chain_in"] == "ethereum" and bridge["inferred"] is False
    assert path["complete"] and path["crosses"] == 2 and path["inferred_hops"] == 0
    # the ledger: each conversion hop with its rate
    led = r.ledger
    assert led is not None
    hop_rows = led.filter(pl.col("row_kind") == "hop").sort("ts")
    assert hop_rows["hop_id"].to_list() == ["swap:3", "bridge:4"]
    assert hop_rows["rate"].to_list() == pytest.approx([1 / 2000, 1.0])
    assert hop_rows["tainted_in"].to_list() == pytest.approx([1000.0, 0.5])
    out = tmp_path / "r.json"
    write_follow(r, "json", str(out))
    doc = json.loads(out.read_text())
    assert doc["cross_asset"]["hops_crossed"] == 2 and doc["cross_asset"]["hops_inferred"] == 0
    assert doc["reached"][0]["source_amount"] == pytest.approx(1000.0)


def test_max_hops_counts_a_conversion_as_one_hop(ws: Workspace) -> None:
    """S→T (1), T→pool→T as one hop (2), T→bridge→R (3), R→X (4)."""
    assert follow(ws, [S], Selection(max_hops=4), hops=hops(SWAP, BRIDGE)).reached.height == 1
    r = follow(ws, [S], Selection(max_hops=3), hops=hops(SWAP, BRIDGE))
    assert r.reached.height == 0
    assert r.account("ETH").beyond_max_hops == pytest.approx(0.5)


def test_inferred_hop_share_is_reported(ws: Workspace) -> None:
    """The same bridge, but inferred (an OTC-style match): the result says that all of what
    reached X rests on it, and the path marks it."""
    otc = {**BRIDGE, "kind": "otc", "rule": "amount-window", "confidence": 0.6,
           "inferred": True, "hop_id": "otc:4"}  # fmt: skip
    r = follow(ws, [S], hops=hops(SWAP, otc))
    assert r.cross_asset is not None
    assert r.cross_asset["inferred_share_of_reached"] == {"ETH": pytest.approx(1.0)}
    assert r.cross_asset["hops_inferred"] == 1
    assert any(w["code"] == "inferred_hops" for w in r.warnings)
    (path, *_) = r.reached.row(0, named=True)["paths"]
    assert path["inferred_hops"] == 1


def test_no_hops_is_todays_follow(ws: Workspace) -> None:
    """With no hops in the data the run is exactly the plain one (same JSON)."""
    a = follow_json(follow(ws, [S], hops=hops()))
    b = follow_json(follow(ws, [S], cross_asset=False))
    assert a == b and "cross_asset" not in a


def test_hops_that_cannot_be_tied_are_counted(ws: Workspace) -> None:
    """Bad hop rows: unknown token, malformed value, legs not in the table, an output address
    that never occurs, a leg claimed twice — each counted by reason, none crossed silently."""
    bad = [
        {**SWAP, "hop_id": "a", "token_out": "0x" + "99" * 20},  # no such token
        {**SWAP, "hop_id": "b", "value_in": "12x"},  # not an integer
        {**SWAP, "hop_id": "c", "legs_in": [77]},  # no such transfer
        {**SWAP, "hop_id": "d", "address_out": "0x" + "42" * 20},  # never occurs
        {**SWAP, "hop_id": "z"},  # the legs of "swap:3" again (later id: it loses them)
        {**SWAP, "hop_id": "f", "legs_in": []},  # nothing to take taint from
    ]
    frame = hops(SWAP, *bad)
    graph = ws.graph()
    groups = asset_groups(graph.tokens, asset_tokens(graph, None))
    selected = groups[0].token_ids
    plan = plan_hops(ws, graph, frame, universe(graph.tokens, selected))
    assert plan.frame["hop_id"].to_list() == ["swap:3"]
    assert dict(plan.skipped) == {"unknown_asset": 1, "bad_value": 1, "legs_not_found": 1,
                                  "address_not_in_data": 1, "shared_leg": 1,
                                  "no_input_legs": 1}  # fmt: skip
    r = follow(ws, [S], hops=frame)
    assert r.cross_asset is not None and r.cross_asset["hops_skipped"] == dict(plan.skipped)
    assert any(w["code"] == "hops_skipped" and "6 hop(s)" in w["message"] for w in r.warnings)
