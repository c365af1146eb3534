"""The stored conversions table: decoded at ingest, append-only, idempotent, in the manifest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import FIXTURES, ROOT
from tracer.analysis.hops import load_hops
from tracer.core.errors import WorkspaceError
from tracer.sources.conversions import decode_files
from tracer.store import conversions_table as ct
from tracer.store import manifest as mf
from tracer.store.workspace import Workspace

STREAM = FIXTURES / "ethereum_etl" / "blocks_17173049_17173050"
LOGS = STREAM / "expected_logs.json"
TXS = STREAM / "expected_transactions.json"


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("chain", "tx_hash")


def test_ingest_stores_what_the_in_memory_decode_finds(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([TXS, LOGS])
    decoded, _ = decode_files([str(LOGS), str(TXS)])
    stored = ct.read_conversions(ws)
    assert stored.height == decoded.conversions.height == 61
    assert _sorted(stored).equals(_sorted(decoded.conversions))
    summary = ct.summary(ws)
    assert summary == {k: v for k, v in decoded.summary().items()}
    total = summary["transactions with conversion events"]
    skipped = sum(v for k, v in summary.items() if k.startswith("skipped: "))
    assert total == summary["conversions"] + skipped == 71
    entries = ws.manifest()["conversions"]
    assert len(entries) == 1 and entries[0]["rows"]["conversions"] == 61
    for name in entries[0]["files"].values():
        assert (tmp_path / "ws" / "conversions" / name).is_file()


def test_reingest_changes_nothing(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([TXS, LOGS])
    before = (tmp_path / "ws" / mf.MANIFEST).read_text()
    files = sorted(p.name for p in (tmp_path / "ws" / "conversions").iterdir())
    again = ws.ingest([LOGS, TXS])
    assert not again.changed
    assert (tmp_path / "ws" / mf.MANIFEST).read_text() == before
    assert sorted(p.name for p in (tmp_path / "ws" / "conversions").iterdir()) == files


def test_logs_before_transactions_then_again_resolves_and_counts_add_up(tmp_path: Path) -> None:
    """Logs alone leave ETH-paid swaps unresolved (counted); after the transactions export a
    second ingest of the logs appends the newly resolved rows, and the counts still add up."""
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([LOGS])
    first = ct.summary(ws)
    assert first["conversions"] == 35 and first["transactions with conversion events"] == 71
    ws.ingest([TXS])  # no logs: nothing decoded, no batch
    assert len(ws.manifest()["conversions"]) == 1
    ws.ingest([LOGS])
    assert len(ws.manifest()["conversions"]) == 2
    at_once = Workspace.open(tmp_path / "once", create=True)
    at_once.ingest([TXS, LOGS])
    assert _sorted(ct.read_conversions(ws)).equals(_sorted(ct.read_conversions(at_once)))
    assert ct.summary(ws) == ct.summary(at_once)


def test_in_memory_workspace_decodes_its_logs_files() -> None:
    mem, _ = Workspace.in_memory([LOGS, TXS])
    decoded, _ = decode_files([str(LOGS), str(TXS)])
    assert _sorted(ct.read_conversions(mem)).equals(_sorted(decoded.conversions))


def test_a_reader_pinned_before_an_ingest_keeps_its_own_list(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([LOGS])
    reader = Workspace.open(tmp_path / "ws")
    assert ct.read_conversions(reader).height == 35
    ws.ingest([TXS])
    ws.ingest([LOGS])
    assert ct.read_conversions(reader).height == 35  # its pinned manifest
    reader.refresh()
    assert ct.read_conversions(reader).height == 61


def test_cleanup_removes_only_unnamed_leftovers_of_its_own_pattern(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([TXS, LOGS])
    folder = tmp_path / "ws" / "conversions"
    named = sorted(p.name for p in folder.iterdir())
    leftover = folder / "bridge-0123456789abcdef.parquet"  # a crash before the commit
    leftover.write_bytes(b"x")
    mine = folder / "my-notes.parquet"
    mine.write_bytes(b"y")
    ws.ingest([TXS])  # any writer tidies
    assert not leftover.exists() and mine.exists()
    assert sorted(p.name for p in folder.iterdir() if p != mine) == named


def test_a_hand_edited_name_is_a_damaged_workspace(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([TXS, LOGS])
    path = tmp_path / "ws" / mf.MANIFEST
    m = json.loads(path.read_text())
    m["conversions"][0]["files"]["conversions"] = "../../etc/passwd"
    path.write_text(json.dumps(m))
    with pytest.raises(WorkspaceError, match=r"conversions\[0\]\.files\.conversions"):
        Workspace.open(tmp_path / "ws")


def test_load_hops_reads_the_stored_table_with_legs(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([TXS, LOGS])
    hops = load_hops(ws)
    assert hops.height == 61
    exact = hops.filter(~pl.col("inferred"))
    no_legs = exact.filter(pl.col("legs_in").list.len() + pl.col("legs_out").list.len() == 0)
    # WETH9's Withdrawal emits no Transfer and, without traces, the ETH paid out is no row
    assert no_legs.height == 2 and set(no_legs["rule"]) == {"net-flow+wrap-legs"}
    assert exact.height - no_legs.height == 42


def test_cli_lists_the_workspace_table(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([TXS, LOGS])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "tracer.cli", "conversions", "-w", str(tmp_path / "ws"),
         "--format", "json", "-q"],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert len(doc["conversions"]) == 61
    assert doc["summary"]["transactions with conversion events"] == 71
    decoded, _ = decode_files([str(LOGS), str(TXS)])
    assert doc["problems"] == decoded.problems  # the same warnings as the in-memory decode
    assert doc["problems"] and all("decimals unknown" in p for p in doc["problems"])


def test_transfer_only_logs_skip_the_decode_and_upper_case_hex_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token sync's batch holds only Transfer logs: the byte search finds no event topic and
    the logs are not parsed a second time. The search ignores the hex case."""
    import tracer.sources.raw_logs as raw

    topics = ct._event_topics([])
    assert ct.has_events(LOGS, topics)
    text = LOGS.read_text()
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    swap = next(r for r in records if r["topics"][0].startswith("0xd78ad95f"))  # V2 Swap
    upper = tmp_path / "upper.json"
    upper.write_text(json.dumps({**swap, "topics": [t.upper() for t in swap["topics"]]}) + "\n")
    assert ct.has_events(upper, topics)
    only = tmp_path / "transfers.json"
    keep = [r for r in records if r["topics"][0].startswith("0xddf252ad")]
    only.write_text("".join(json.dumps(r) + "\n" for r in keep))
    assert not ct.has_events(only, topics)
    calls = []
    real = raw.read_logs
    monkeypatch.setattr(raw, "read_logs", lambda *a, **k: calls.append(a) or real(*a, **k))
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([only])
    assert calls == [] and ws.manifest().get("conversions", []) == []
    assert ws.transfers().height > 0


def test_in_memory_decode_keeps_the_chain_the_files_were_read_as() -> None:
    from tracer.sources.base import ReadOptions

    mem, _ = Workspace.in_memory([LOGS], options=ReadOptions(chain="bsc"))
    conv = ct.read_conversions(mem)
    assert conv.height > 0 and set(conv["chain"]) == {"bsc"}


def test_on_disk_hops_read_only_the_rows_they_need_and_equal_the_whole_table_path(
    tmp_path: Path,
) -> None:
    """load_hops on disk reads the legs' rows with a pushed-down filter (no whole-table load);
    the hops equal those built from the whole canonical table."""
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([TXS, LOGS])
    disk = Workspace.open(tmp_path / "ws")
    narrow = load_hops(disk)
    assert disk._transfers is None  # the whole table was never materialised
    whole = load_hops(disk, transfers=disk.transfers())
    assert narrow.equals(whole)
    some = ct.transfers_where(disk, tx_hashes=[narrow["tx_in"][0]], columns=["tx_hash", "seq"])
    assert set(some["tx_hash"]) == {narrow["tx_in"][0]}
    assert ct.transfers_where(disk, tx_hashes=[]).height == 0


def test_topic_search_finds_a_topic_split_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = ct._event_topics([])[0]
    p = tmp_path / "x.json"
    p.write_bytes(b"a" * 1000 + topic + b"b" * 10)
    monkeypatch.setattr(ct, "SCAN_CHUNK", 1000 + len(topic) // 2)  # the topic straddles chunks
    assert ct.has_events(p, [topic])
    p.write_bytes(b"a" * 3000)
    assert not ct.has_events(p, [topic])


def test_skip_bad_ingest_with_an_unreadable_log_warns_instead_of_failing(tmp_path: Path) -> None:
    """With --skip-bad the transfer reader rejects the bad row and the ingest goes on; the
    conversions of that file are not decoded, and the file's summary says so. Without it the
    ingest stops with the file, row and field."""
    from tracer.core.errors import InputError

    records = [json.loads(line) for line in LOGS.read_text().splitlines() if line.strip()]
    swap = next(i for i, r in enumerate(records) if r["topics"][0].startswith("0xd78ad95f"))
    records[swap]["log_index"] = "x"
    bad = tmp_path / "logs.json"
    bad.write_text("".join(json.dumps(r) + "\n" for r in records))
    ws = Workspace.open(tmp_path / "ws", create=True)
    with pytest.raises(InputError):
        ws.ingest([bad])
    s = ws.ingest([bad], skip_bad=True)
    assert s.total("rejected") >= 1 and s.total("loaded") > 0
    (f,) = s.files
    assert any("conversions and bridge events not decoded" in w for w in f.warnings)
    assert ct.read_conversions(ws).height == 0
