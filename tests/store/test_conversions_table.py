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
