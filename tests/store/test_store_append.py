"""Append-only ingest (issue 14.5, 12.9): appended = at once, untouched files reused, backfill,
only the receiving months rewritten, kill -9 during an append leaves the previous generation."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import SAMPLE_DATA, SAMPLE_LABELS, USDT_ETH
from tests.store.test_workspace import state
from tracer.analysis.follow import follow
from tracer.sources.labels import read_labels
from tracer.store import append as append_mod
from tracer.store import partitions
from tracer.store.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
ADDR = [f"0x{i:040x}" for i in range(1, 30)]


def rows_csv(path: Path, rows: list[tuple[int, str, int, int]]) -> Path:
    """Canonical CSV of (tx number, ISO day, src index, dst index) USDT transfers."""
    lines = ["tx_hash,src,dst,value,ts,token,seq,chain"]
    for tx, day, s, d in rows:
        lines.append(f"0x{tx:064x},{ADDR[s]},{ADDR[d]},{tx * 1000},{day}T12:00:00Z,"
                     f"{USDT_ETH},0,ethereum")  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def months(first_tx: int, days: list[str], n: int) -> list[tuple[int, str, int, int]]:
    return [(first_tx + i, days[i % len(days)], i % 7, 7 + (i * 3) % 11) for i in range(n)]


JAN = [f"2024-01-{d:02d}" for d in range(1, 29)]
FEB = [f"2024-02-{d:02d}" for d in range(1, 29)]
MAR_EARLY = [f"2024-03-{d:02d}" for d in range(1, 15)]
MAR_LATE = [f"2024-03-{d:02d}" for d in range(20, 29)]


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partitions, "PART_ROWS", 64)
    monkeypatch.setattr(partitions, "ROW_GROUP", 16)
    monkeypatch.setattr(append_mod, "RUN_ROWS", 40)  # several numbering runs per ingest


def inodes(ws_dir: Path) -> dict[str, tuple[int, int]]:
    m = json.loads((ws_dir / "manifest.json").read_text())
    g = ws_dir / f"g{m['generation']}" / "transfers"
    return {p["file"]: (os.stat(g / p["file"]).st_ino, os.stat(g / p["file"]).st_mtime_ns)
            for p in m["parts"]}  # fmt: skip


def test_append_at_the_end_reuses_every_file_and_equals_at_once(tmp_path, small_parts) -> None:
    base = rows_csv(tmp_path / "base.csv", months(1, JAN, 100) + months(200, FEB, 100)
                    + months(400, MAR_EARLY, 100))  # fmt: skip
    tail = rows_csv(tmp_path / "tail.csv", months(600, MAR_LATE, 30))
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([base])
    before = inodes(tmp_path / "ws")
    ws.ingest([tail])
    after = inodes(tmp_path / "ws")
    # every earlier file is the same inode (hard link), unmodified; the tail is new files only
    for name, ino in before.items():
        if after.get(name) != ino:
            assert name.startswith("part-2024-03"), name
            # only a small last file may be merged (compaction); full ones are kept
    kept = [n for n in before if after.get(n) == before[n]]
    assert all(n in kept for n in before if not n.startswith("part-2024-03"))
    assert sum(n.startswith("part-2024-03") for n in kept) >= 1
    once = Workspace.open(tmp_path / "once", create=True)
    once.ingest([base, tail])
    assert state(ws) == state(once)


def test_backfill_rewrites_only_that_month(tmp_path, small_parts) -> None:
    base = rows_csv(tmp_path / "base.csv", months(1, JAN[10:], 100) + months(200, FEB, 100))
    early = rows_csv(tmp_path / "early.csv", months(900, JAN[:10], 20))
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([base])
    before = inodes(tmp_path / "ws")
    read_months: list[str] = []
    real_keys = append_mod.Stored.keys

    def spy(self, month, *window):  # type: ignore[no-untyped-def]
        read_months.append(month)
        return real_keys(self, month, *window)

    append_mod.Stored.keys = spy  # type: ignore[method-assign]
    try:
        s = ws.ingest([early])
    finally:
        append_mod.Stored.keys = real_keys  # type: ignore[method-assign]
    assert s.changed and s.total("loaded") == 20
    assert set(read_months) == {"2024-01"}  # de-duplication read only the receiving month
    after = inodes(tmp_path / "ws")
    for name, ino in before.items():
        if name.startswith("part-2024-02"):
            assert after[name] == ino  # February untouched: same inode, same mtime
    assert any(after.get(n) != i for n, i in before.items() if n.startswith("part-2024-01"))
    once = Workspace.open(tmp_path / "once", create=True)
    once.ingest([early, base])
    assert state(ws) == state(once)
    again = Workspace.open(tmp_path / "ws").ingest([base, early])  # idempotent
    assert not again.changed and again.total("duplicate") == 220


def test_an_append_never_reads_the_whole_workspace(tmp_path, small_parts, monkeypatch) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([rows_csv(tmp_path / "a.csv", months(1, JAN, 60) + months(100, FEB, 60))])

    def whole(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("an append read the whole table")

    monkeypatch.setattr(partitions.PartReader, "read_all", whole)
    monkeypatch.setattr(Workspace, "transfers", whole)
    monkeypatch.setattr(append_mod, "EAGER_GRAPH_ROWS", 0)  # no graph cache at commit
    s = ws.ingest([rows_csv(tmp_path / "b.csv", months(500, FEB[20:], 10))])
    assert s.changed and s.total("loaded") == 10
    monkeypatch.undo()
    assert Workspace.open(tmp_path / "ws").info()["transfers"] == 130


def test_appended_sample_case_follows_like_at_once(tmp_path: Path) -> None:
    seed = "TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx"
    results = []
    for name, batches in (("once", [SAMPLE_DATA]), ("two", [[SAMPLE_DATA[1]], [SAMPLE_DATA[0]]])):
        ws = Workspace.open(tmp_path / name, create=True)
        for b in batches:
            ws.ingest(b)
        ws.add_labels([read_labels(SAMPLE_LABELS)])
        r = follow(Workspace.open(tmp_path / name), [seed], ledger=True)
        results.append(r)
    a, b = results
    assert a.traced_total == b.traced_total and a.traced_total > 0
    # node ids are internal names (they follow ingest order); everything reported is equal
    assert a.reached.drop("id").to_dicts() == b.reached.drop("id").to_dicts()
    assert a.held.drop("id", strict=False).to_dicts() == b.held.drop("id", strict=False).to_dicts()
    assert a.reached["id"].to_list() != b.reached["id"].to_list()  # the ids did differ
    assert a.ledger is not None and b.ledger is not None and a.ledger.equals(b.ledger)


@pytest.mark.parametrize("where", ["link", "write", "dictionary"])
def test_kill_minus_nine_during_an_append_leaves_the_previous_generation(
    tmp_path: Path, where: str
) -> None:
    ws_dir = tmp_path / "ws"
    ws = Workspace.open(ws_dir, create=True)
    base = rows_csv(tmp_path / "base.csv", months(1, JAN, 100) + months(200, FEB, 100))
    ws.ingest([base])
    before = state(ws)
    manifest = (ws_dir / "manifest.json").read_bytes()
    ws.close()
    more = rows_csv(tmp_path / "more.csv", months(700, FEB[5:], 40) + months(800, JAN, 5))
    hook = {
        "link": "a.link_or_copy",
        "write": "partitions.PartWriter.write",
        "dictionary": "a._assign_tokens",
    }[where]
    code = textwrap.dedent(
        f"""
        import os, signal
        import tracer.store.append as a
        from tracer.store import partitions
        from tracer.store import partitions as _p
        import tracer.store.partitions
        owner, attr = {hook!r}.rsplit(".", 1)
        obj = eval(owner)
        real = getattr(obj, attr)
        calls = [0]
        def boom(*args, **kw):
            calls[0] += 1
            out = real(*args, **kw)
            if calls[0] >= 1:
                os.kill(os.getpid(), signal.SIGKILL)
            return out
        setattr(obj, attr, boom)
        partitions.PART_ROWS = 64
        from tracer.store.workspace import Workspace
        Workspace.open({str(ws_dir)!r}).ingest([{str(more)!r}])
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert (ws_dir / "manifest.json").read_bytes() == manifest
    assert state(Workspace.open(ws_dir)) == before
    s = Workspace.open(ws_dir).ingest([more])  # the next writer cleans up and appends
    assert s.total("loaded") == 45
    gens = sorted(p.name for p in ws_dir.iterdir() if p.name.startswith("g"))
    assert gens == [f"g{json.loads((ws_dir / 'manifest.json').read_text())['generation']}"]
    once = Workspace.open(tmp_path / "once", create=True)
    once.ingest([base, more])
    assert state(Workspace.open(ws_dir)) == state(once)


def test_many_small_appends_rewrite_a_bounded_share_and_stay_few_files(
    tmp_path, small_parts, monkeypatch
) -> None:
    """ingest-rpc flushes: each append rewrites at most (MERGE_FACTOR - 1) stored rows per new
    row (so a flush's cost does not grow with the month), and small files are still merged."""
    monkeypatch.setattr(partitions, "PART_ROWS", 400)  # small-file threshold: 50 rows
    ws = Workspace.open(tmp_path / "ws", create=True)
    rewritten: list[tuple[int, int]] = []
    real_read = append_mod.Stored.read

    def spy(self, parts):  # type: ignore[no-untyped-def]
        out = real_read(self, parts)
        rewritten.append((out.height, batch))
        return out

    monkeypatch.setattr(append_mod.Stored, "read", spy)
    batch = 6
    for k in range(20):  # 20 appends of 6 rows, each later in January than the one before
        day = JAN[k]
        rows_csv(tmp_path / "f.csv", [(1000 + k * 10 + i, day, i, 7 + i) for i in range(batch)])
        assert ws.ingest([tmp_path / "f.csv"]).total("loaded") == batch
    assert rewritten, "small last files were merged"
    assert all(old <= (append_mod.MERGE_FACTOR - 1) * new for old, new in rewritten)
    parts = ws.manifest()["parts"]
    assert sum(p["rows"] for p in parts) == 120
    assert len(parts) <= 120 // (append_mod.MERGE_FACTOR * batch) + 2  # not one file a flush
    once = Workspace.open(tmp_path / "once", create=True)
    once.ingest([rows_csv(tmp_path / "all.csv", [(1000 + k * 10 + i, JAN[k], i, 7 + i)
                                                  for k in range(20) for i in range(batch)])])
    assert state(ws) == state(once)


def test_duplicates_are_looked_for_only_in_files_of_the_same_time(tmp_path, small_parts) -> None:
    """A re-exported row has its block's time: only stored files whose time range meets the
    new rows' are read for keys (an append at the end reads the last file's at most)."""
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([rows_csv(tmp_path / "base.csv", months(1, JAN[:20], 200))])
    assert len(ws.manifest()["parts"]) >= 3
    read: list[int] = []
    real_keys = append_mod.Stored.keys

    def spy(self, month, *window):  # type: ignore[no-untyped-def]
        out = real_keys(self, month, *window)
        read.append(out.height)
        return out

    append_mod.Stored.keys = spy  # type: ignore[method-assign]
    try:
        late = rows_csv(tmp_path / "late.csv", months(900, JAN[25:], 10))
        assert ws.ingest([late]).total("loaded") == 10
        assert read == [0]  # nothing stored overlaps Jan 26-28
        read.clear()
        # a re-export of the base's last day with one new row: only the last file is read
        last_day = [r for r in months(1, JAN[:20], 200) if r[1] == JAN[19]]
        again = rows_csv(tmp_path / "again.csv", [*last_day, (5000, JAN[19], 1, 2)])
        s = ws.ingest([again])
        assert s.total("loaded") == 1 and s.total("duplicate") == len(last_day)
        assert 0 < read[0] < 200
    finally:
        append_mod.Stored.keys = real_keys  # type: ignore[method-assign]


def test_a_single_batch_is_never_spooled_to_disk(tmp_path, monkeypatch) -> None:
    """The last (here: only) batch is already in memory; writing it to spool files and reading
    it back would only cost time. Earlier batches still go to disk (test_store_batched)."""
    monkeypatch.setattr(append_mod, "SPOOL_MEMORY_ROWS", 7)
    flushed: list[int] = []
    real = append_mod.Spool._flush
    monkeypatch.setattr(append_mod.Spool, "_flush", lambda self: (flushed.append(1), real(self)))
    ws = Workspace.open(tmp_path / "ws", create=True)
    assert ws.ingest([rows_csv(tmp_path / "a.csv", months(1, JAN, 30))]).total("loaded") == 30
    assert flushed == []
    ws.ingest([rows_csv(tmp_path / "b.csv", months(100, FEB, 10)),
               rows_csv(tmp_path / "c.csv", months(200, FEB, 10))])  # fmt: skip
    assert flushed == [1]  # b's rows went to disk when c's arrived


def test_a_reexport_with_a_shifted_time_at_a_file_boundary_is_still_a_duplicate(
    tmp_path, small_parts
) -> None:
    """Two exports may disagree on a transfer's time (minute-precision text, a time zone): the
    key window reaches DEDUP_MARGIN_US around the new rows, so the stored copy is found even
    when the shifted time falls past the end of the file that holds it."""
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([rows_csv(tmp_path / "base.csv", months(1, JAN[:20], 200))])
    first = ws.manifest()["parts"][0]
    edge = pl.read_parquet(tmp_path / "ws" / f"g{ws.manifest()['generation']}" / "transfers"
                           / first["file"]).row(-1, named=True)  # fmt: skip
    shifted = (edge["ts"] + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    f = tmp_path / "again.csv"
    f.write_text("tx_hash,src,dst,value,ts,token,seq,chain\n"
                 f"{edge['tx_hash']},{edge['src']},{edge['dst']},{edge['value']},{shifted},"
                 f"{USDT_ETH},{edge['seq']},ethereum\n")  # fmt: skip
    s = ws.ingest([f])
    assert (s.total("loaded"), s.total("duplicate")) == (0, 1) and not s.changed


def test_months_written_side_by_side_equal_one_at_a_time(tmp_path, small_parts,
                                                        monkeypatch) -> None:  # fmt: skip
    """Two months written at once (``WRITERS``) give the same parts, in month order, and the
    same workspace as one writer; a write's error still surfaces (and nothing is committed)."""
    data = rows_csv(tmp_path / "d.csv", months(1, JAN, 100) + months(200, FEB, 100)
                    + months(400, MAR_EARLY, 100))  # fmt: skip
    results = {}
    for writers in (1, 2):
        monkeypatch.setattr(append_mod, "WRITERS", writers)
        ws = Workspace.open(tmp_path / f"ws{writers}", create=True)
        ws.ingest([data])
        parts = ws.manifest()["parts"]
        assert [p["file"] for p in parts] == sorted(p["file"] for p in parts)
        results[writers] = (parts, state(ws))
    assert results[1] == results[2]
    real = append_mod.PartWriter.write

    def fail_in_february(self, table, ts_us):  # type: ignore[no-untyped-def]
        if str(ts_us[0].astype("datetime64[us]").astype("datetime64[M]")) == "2024-02":
            raise OSError("disk full")
        return real(self, table, ts_us)

    monkeypatch.setattr(append_mod.PartWriter, "write", fail_in_february)
    ws = Workspace.open(tmp_path / "ws-fail", create=True)
    with pytest.raises(OSError, match="disk full"):
        ws.ingest([data])
    assert not ws.manifest().get("parts")
