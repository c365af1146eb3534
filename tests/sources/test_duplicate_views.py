"""Issue 13.1: the same transfer seen from two wallets' histories is loaded once, in two files or
in one; a batch payout repeating one transfer inside one transaction keeps every copy."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from tracer.store.workspace import Workspace

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_case"
SCAM = SAMPLE / "trongrid_scam_wallet.json"
DOWN = SAMPLE / "trongrid_downstream.json"


def _pages(path: Path) -> list[dict]:
    doc = json.loads(path.read_text())
    return doc if isinstance(doc, list) else [doc]


def _table(ws: Workspace) -> pl.DataFrame:
    return ws.transfers().sort(["tx_hash", "seq"])


def test_one_file_of_two_views_equals_two_files(tmp_path: Path) -> None:
    merged = tmp_path / "both.json"
    merged.write_text(json.dumps(_pages(SCAM) + _pages(DOWN)))
    two, s2 = Workspace.in_memory([SCAM, DOWN])
    one, s1 = Workspace.in_memory([merged])
    assert _table(one).equals(_table(two))
    # the overlap is counted as duplicates in both cases, and every count adds up
    assert s1.total("duplicate") == s2.total("duplicate") > 0
    for s in (s1, s2):
        d = s.as_dict()
        assert d["read"] == d["loaded"] + d["duplicate"] + d["rejected"] + d["skipped"]


def test_records_concatenated_without_pages(tmp_path: Path) -> None:
    recs = [r for p in _pages(SCAM) + _pages(DOWN) for r in p["data"]]
    flat = tmp_path / "records.json"
    flat.write_text(json.dumps(recs))
    one, _ = Workspace.in_memory([flat])
    two, _ = Workspace.in_memory([SCAM, DOWN])
    assert _table(one).equals(_table(two))


def _record(tx: str, src: str, dst: str, value: str, ts: int) -> dict:
    return {
        "transaction_id": tx,
        "token_info": {"symbol": "USDT", "address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
                       "decimals": 6, "name": "Tether USD"},
        "block_timestamp": ts, "from": src, "to": dst, "type": "Transfer", "value": value,
    }  # fmt: skip


def test_batch_payout_keeps_both_copies_and_other_view_adds_none(tmp_path: Path) -> None:
    recs = [r for p in _pages(SCAM) for r in p["data"]]
    a = recs[0]["from"] if recs[0]["from"] != recs[0]["to"] else recs[0]["to"]
    scam = "TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx"
    b = next(r["to"] for r in recs if r["from"] == scam)
    tx = "ab" * 32
    payout = [_record(tx, scam, b, "7000000", 1_710_500_000_000)] * 2
    # the payer's view shows the payout twice; the payee's view shows it twice as well
    payer = tmp_path / "payer.json"
    payer.write_text(json.dumps({"data": recs + payout, "success": True, "meta": {}}))
    payee = tmp_path / "payee.json"
    other = _record("cd" * 32, b, a, "1000000", 1_710_600_000_000)
    payee.write_text(json.dumps({"data": [other, *payout], "success": True, "meta": {}}))
    both = tmp_path / "both.json"
    both.write_text(json.dumps({"data": recs + payout + [other, *payout], "success": True}))
    ws, summary = Workspace.in_memory([payer, payee])
    t = ws.transfers().filter(pl.col("tx_hash") == tx)
    assert t.height == 2  # two genuine payouts, not four, not one
    assert t["value"].to_list() == ["7000000", "7000000"]
    one, s1 = Workspace.in_memory([both])
    assert _table(one).equals(_table(ws))
    assert summary.total("duplicate") == s1.total("duplicate") == 2
    # the payee's history starting with the very payout the payer's ends with is ambiguous
    # (four adjacent identical rows could be a four-fold payout): kept, and said
    adjacent = tmp_path / "adjacent.json"
    adjacent.write_text(json.dumps({"data": recs + payout + [*payout, other], "success": True}))
    _, s2 = Workspace.in_memory([adjacent])
    assert any("wallet column" in w for w in s2.files[0].warnings)


def test_ambiguous_repeats_in_a_multi_view_file_warn(tmp_path: Path) -> None:
    scam = "TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx"
    x, y, z = ("THPmzZ8F7BCej51rf6o6e4aAqJdAWstn8K", "TWaud7vxEhF9L9WURxX12YQkB4QRbL1GrP",
               "TJURyNaLq5on6QzkuoXhXhRg6SdH1jQEYe")  # fmt: skip
    tx = "ef" * 32
    rows = [
        _record("01" * 32, x, scam, "5", 1_710_000_000_000),
        _record(tx, scam, y, "3", 1_710_000_100_000),
        _record(tx, scam, y, "3", 1_710_000_100_000),
        _record("02" * 32, y, z, "1", 1_710_000_200_000),
        _record("03" * 32, z, x, "1", 1_710_000_300_000),
    ]
    f = tmp_path / "merged.json"
    f.write_text(json.dumps(rows))
    ws, summary = Workspace.in_memory([f])
    assert ws.transfers().filter(pl.col("tx_hash") == tx).height == 2
    (w,) = summary.files[0].warnings
    assert "wallet" in w and "1 transfer(s)" in w
