"""The workspace's own hops, end to end: CCTP-shaped logs of two chains ingested into one
workspace, the bridge matched by the producer (:func:`tracer.analysis.hops.load_hops`), and
``tracer follow`` crossing it by default (no hop frame given)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eth_abi import encode

from tests.analysis import bridge_logs as bl
from tracer.analysis.follow import follow
from tracer.cli import cli
from tracer.sources.base import ReadOptions
from tracer.sources.labels import read_labels
from tracer.sources.rpc_logs import TRANSFER_TOPIC
from tracer.store.workspace import Workspace

USDC_ETH = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
USDC_ARB = "0xaf88d065e77c8cc2239327c5edb3a432268e5831"
S, ALICE, BOB, X = ("0x" + c * 40 for c in "5abe")
MESSENGER = "0x" + "99" * 20
ZERO = "0x" + "00" * 20
TX_A, TX_B = "0x" + "a1" * 32, "0x" + "b2" * 32
T0 = 1_700_000_000


def transfer(tx: str, li: int, ts: int, token: str, src: str, dst: str, amount: int,
             block: int) -> dict[str, Any]:  # fmt: skip
    """An ERC-20 ``Transfer`` log in the shape of :mod:`tests.analysis.bridge_logs`."""
    def topic(a: str) -> str:
        return "0x" + encode(["address"], [a]).hex()

    return {"_row": li, "tx_hash": tx, "log_index": li, "block": block, "ts": ts * 1_000_000,
            "address": token, "topic0": "0x" + TRANSFER_TOPIC, "topic1": topic(src),
            "topic2": topic(dst), "topic3": None, "n_topics": 3,
            "data": "0x" + encode(["uint256"], [amount]).hex()}  # fmt: skip


@pytest.fixture
def ws_dir(tmp_path: Path) -> Path:
    """S pays Alice 4 USDC; Alice bridges 2.5 USDC ethereum → arbitrum to Bob (CCTP burn and
    mint, matched by domain + nonce); Bob pays 2.5 USDC to exchange X on arbitrum."""
    eth = [
        transfer("0x" + "c0" * 32, 1, T0 + 1_000, USDC_ETH, S, ALICE, 4_000_000, 10),
        transfer(TX_A, 4, T0 + 2_000, USDC_ETH, ALICE, MESSENGER, 2_500_000, 20),
        transfer(TX_A, 6, T0 + 2_000, USDC_ETH, MESSENGER, ZERO, 2_500_000, 20),
        bl.burn("ethereum", TX_A, 7, T0 + 2_000, nonce=42, token=USDC_ETH, amount=2_500_000,
                sender=ALICE, recipient=BOB, dest_domain=3) | {"block": 20},
    ]  # fmt: skip
    arb = [
        transfer(TX_B, 2, T0 + 2_600, USDC_ARB, ZERO, BOB, 2_500_000, 30),
        *({**r, "block": 30} for r in bl.mint("arbitrum", TX_B, 3, T0 + 2_600, nonce=42,
                                              source_domain=0, token=USDC_ARB,
                                              amount=2_500_000, recipient=BOB)),
        transfer("0x" + "d0" * 32, 1, T0 + 3_000, USDC_ARB, BOB, X, 2_500_000, 40),
    ]  # fmt: skip
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([bl.rpc_file(tmp_path / "eth.json", eth)], options=ReadOptions(chain="ethereum"))
    ws.ingest([bl.rpc_file(tmp_path / "arb.json", arb)], options=ReadOptions(chain="arbitrum"))
    labels = tmp_path / "labels.csv"
    labels.write_text(f"address,name,category,chain\n{X},Exchange X,exchange,arbitrum\n")
    ws.add_labels([read_labels(labels)])
    return tmp_path / "ws"


def test_follow_crosses_the_workspaces_bridge(ws_dir: Path) -> None:
    """Haircut by hand: Alice holds 4 tainted USDC and bridges 2.5 (all tainted); Bob gets 2.5
    on arbitrum and pays them to X. Without the hop the trail ends at the burn address."""
    r = follow(Workspace.open(ws_dir), [S])
    assert r.cross_asset is not None and r.cross_asset["hops_crossed"] == 1
    (row,) = r.reached.iter_rows(named=True)
    assert (row["chain"], row["amount"], row["source_amount"]) == ("arbitrum", 2.5, 2.5)
    (path, *_) = row["paths"]
    hop = next(s for s in path["hops"] if s["step"] == "hop")
    assert (hop["kind"], hop["chain_in"], hop["chain_out"]) == ("bridge", "ethereum", "arbitrum")
    assert (hop["tx_in"], hop["tx_out"], hop["inferred"]) == (TX_A, TX_B, False)
    plain = follow(Workspace.open(ws_dir), [S], cross_asset=False)
    assert plain.reached.height == 0  # the burn address is not a service: nothing reaches X


def test_cli_follow_crosses_it_by_default(ws_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    got = CliRunner().invoke(cli, ["follow", S, "-w", str(ws_dir), "--format", "json", "-o",
                                   str(out)])  # fmt: skip
    assert got.exit_code == 0, got.output
    doc = json.loads(out.read_text())
    assert doc["reached"][0]["chain"] == "arbitrum" and doc["reached"][0]["amount"] == 2.5
    assert doc["cross_asset"]["hops"][0]["rule"] == "cctp-domain-nonce"


def test_infer_otc_crosses_a_desk_and_says_it_rests_on_inference(tmp_path: Path) -> None:
    """A labelled OTC desk takes 10,000 USDT on ethereum and pays 9,900 USDC on bsc two hours
    later: only with --infer-otc does the trail continue, marked inferred, and the result says
    that all of what reached X rests on that inference."""
    usdt, usdc_bsc = "0xdac17f958d2ee523a2206206994597c13d831ec7", \
        "0x8ac76a51cc950d9822d68b83fe1ad97b32cd580d"  # fmt: skip
    desk, cust = "0x" + "de" * 20, "0x" + "c5" * 20
    rows = [  # tx, src, dst, token, symbol, decimals, value, second, chain
        (1, S, cust, usdt, "USDT", 6, 10_000 * 10**6, 0, "ethereum"),
        (2, cust, desk, usdt, "USDT", 6, 10_000 * 10**6, 600, "ethereum"),
        (3, desk, BOB, usdc_bsc, "USDC", 18, 9_900 * 10**18, 7_800, "bsc"),
        (4, BOB, X, usdc_bsc, "USDC", 18, 9_900 * 10**18, 9_000, "bsc"),
    ]
    data = tmp_path / "otc.csv"
    data.write_text("tx_hash,seq,src,dst,value,ts,token,asset,decimals,chain\n" + "".join(
        f"0x{i:064x},0,{s},{d},{v},{T0 + t},{tok},{sym},{dec},{c}\n"
        for i, s, d, tok, sym, dec, v, t, c in rows))  # fmt: skip
    labels = tmp_path / "labels.csv"
    labels.write_text(f"address,name,category,chain\n{X},Exchange X,exchange,bsc\n"
                      f"{desk},Desk D,otc_desk,ethereum\n{desk},Desk D,otc_desk,bsc\n")
    base = ["follow", S, "--data", str(data), "--labels", str(labels), "--format", "json"]
    off, on = tmp_path / "off.json", tmp_path / "on.json"
    runner = CliRunner()
    assert runner.invoke(cli, [*base, "-o", str(off)]).exit_code == 0
    got = runner.invoke(cli, [*base, "-o", str(on), "--infer-otc"])
    assert got.exit_code == 0, got.output
    plain, inferred = json.loads(off.read_text()), json.loads(on.read_text())
    assert plain["reached"] == []  # the USDT stays with the desk on ethereum
    (row,) = inferred["reached"]
    assert (row["chain"], row["asset"]) == ("bsc", "USD")  # the stablecoin pool
    assert row["amount"] == pytest.approx(9_900.0) and row["source_amount"] == pytest.approx(
        10_000.0)
    ca = inferred["cross_asset"]
    assert ca["hops_inferred"] == 1 and ca["inferred_share_of_reached"] == {"USD": 1.0}
    hop = next(s for s in row["paths"][0]["hops"] if s["step"] == "hop")
    assert hop["kind"] == "otc" and hop["inferred"] is True and 0 < hop["confidence"] < 1
