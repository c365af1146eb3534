"""Store writes at scale (issue 14): an append costs O(new rows), and ``ingest-rpc`` flushes
cost the same whatever the workspace already holds.

* ``test_append_1m_rows_to_a_big_workspace``: a workspace of ``TRACER_BENCH_ROWS`` canonical
  transfers (default 100M; ``10M``, ``20M`` or a number to scale it to a small machine) is
  built once in ``TRACER_BENCH_CACHE`` (default ``~/.cache/tracer-bench``) by appending 10M-row
  chunks; each run appends 1M later rows to a hard-linked copy of it. The baseline in the same
  run is the same 1M rows into an empty workspace; goal: the append within 2x of it.
* ``test_ingest_rpc_flushes_take_flat_time``: ``TRACER_BENCH_LOGS`` (default 500k) Transfer
  logs synced with :func:`tracer.store.rpc.sync_rpc` from a loopback JSON-RPC server
  (:mod:`benchmarks.rpc_loopback`) in 10 flushes; every flush's time is printed; goal: the
  last flushes no slower than the first ones.

Run: ``python -m pytest -m bench benchmarks/test_bench_store.py -s``.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import polars as pl
import pytest

from benchmarks.conftest import parse_size, record

CHUNK = 10_000_000
TAIL = 1_000_000
DAY_US = 86_400_000_000


def bench_rows() -> int:
    """``TRACER_BENCH_ROWS``: ``100M`` (default), ``20M``, ``500k`` or a plain number."""
    return parse_size(os.environ.get("TRACER_BENCH_ROWS", "100M"))


def _peak_rss_mib() -> float:
    """The benchmark process's peak RSS so far (it includes building the cached workspace
    when this run built it)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cache() -> Path:
    return Path(os.environ.get("TRACER_BENCH_CACHE", Path.home() / ".cache" / "tracer-bench"))


def _chunk(base: pl.DataFrame, k: int, span_us: int) -> pl.DataFrame:
    """Chunk ``k``: the base rows ``k`` spans later, with their own transaction hashes."""
    return base.with_columns(
        pl.col("ts") + pl.duration(microseconds=k * span_us),
        pl.col("block") + k * (span_us // 12_000_000),
        pl.format("0x{}{}", pl.lit(f"{k:04x}"), pl.col("tx_hash").str.slice(6)),
    )


def _ingest_seconds(ws_dir: Path, files: list[Path]) -> float:
    from benchmarks.test_bench_ingest import _ingest_seconds as timed

    return timed(ws_dir, files)


@pytest.fixture(scope="module")
def big_workspace() -> dict:
    """The cached big workspace (built once per size) and the 1M-row tail file after it."""
    from benchmarks.workspace_case import canonical_parquet

    n = bench_rows()
    # v2: built by the store that writes the case index and the graph cache (edge log) at
    # ingest; the older cache (v1) has neither, so its append indexed all stored rows
    root = _cache() / f"store-append-{n}-v2"
    chunk_rows = min(CHUNK, n)
    base_file = root / f"base-{chunk_rows}.parquet"
    if not base_file.exists():
        root.mkdir(parents=True, exist_ok=True)
        canonical_parquet(chunk_rows, base_file, seed=7)
    base = pl.read_parquet(base_file)
    span = int((base["ts"].max() - base["ts"].min()).total_seconds() * 1e6) + DAY_US  # type: ignore[operator]
    n_chunks = -(-n // chunk_rows)
    ws = root / "ws"
    if not (root / "complete").exists():
        shutil.rmtree(ws, ignore_errors=True)
        t0 = time.perf_counter()
        for k in range(n_chunks):
            f = root / "chunk.parquet"
            rows = min(chunk_rows, n - k * chunk_rows)
            _chunk(base.head(rows), k, span).write_parquet(f)
            _ingest_seconds(ws, [f])
            f.unlink()
            print(f"built chunk {k + 1}/{n_chunks} ({time.perf_counter() - t0:,.0f} s)")
        (root / "complete").write_text(f"{n} rows\n")
    tail = root / "tail.parquet"
    if not tail.exists():
        # later in time than everything stored, from the same address population
        _chunk(base.head(TAIL), n_chunks, span).write_parquet(tail)
    return {"ws": ws, "tail": tail, "n": n}


@pytest.mark.bench
def test_append_1m_rows_to_a_big_workspace(big_workspace: dict, tmp_path: Path) -> None:
    """Goal (issue 14): appending 1M rows to the big workspace within 2x of ingesting them into
    an empty one (before the one writer, every ingest rewrote all stored rows)."""
    n = big_workspace["n"]
    empty = _ingest_seconds(tmp_path / "empty", [big_workspace["tail"]])
    record("store: 1M rows into an empty workspace", items=TAIL, seconds=empty, unit="rows/s")
    copy = tmp_path / "big"  # hard links: the cached workspace is never changed
    shutil.copytree(big_workspace["ws"], copy, copy_function=os.link)
    for log in copy.glob("g*/graph/log.*.bin"):
        # a user's workspace owns its edge log; a log linked from outside the workspace (this
        # hard-linked copy) is copied by the append before it is extended: copy it before
        # the timing, so the figure is a user's append
        log.unlink()
        shutil.copyfile(big_workspace["ws"] / log.relative_to(copy), log)
    appended = _ingest_seconds(copy, [big_workspace["tail"]])
    record(f"store: append 1M rows to a {n:,}-row workspace", items=TAIL, seconds=appended,
           unit="rows/s", baseline="store: 1M rows into an empty workspace",
           peak_rss_mib=_peak_rss_mib())  # fmt: skip
    print(f"\n1M rows into an empty workspace: {empty:.2f} s; appended to {n:,} rows: "
          f"{appended:.2f} s; append / empty = {appended / empty:.2f} (goal <= 2)")


@pytest.mark.bench
def test_ingest_rpc_flushes_take_flat_time(tmp_path: Path) -> None:
    from benchmarks.rpc_loopback import TOKEN, make_logs, serve
    from tracer.store import rpc
    from tracer.store.workspace import Workspace

    n_logs = int(os.environ.get("TRACER_BENCH_LOGS", "500000").replace("_", ""))
    flushes = 10
    blocks = make_logs(n_logs, per_block=500, n_addresses=max(n_logs // 5, 1000))
    times: list[tuple[float, float]] = []  # (flush seconds, of which the workspace ingest)
    real_flush, real_ingest = rpc._Batches.flush, Workspace.ingest
    ingest_s: list[float] = []

    def timed_flush(self, last_block):  # type: ignore[no-untyped-def]
        if not self.pending:  # the closing checkpoint-only commit is not a flush of rows
            return real_flush(self, last_block)
        t0 = time.perf_counter()
        real_flush(self, last_block)
        times.append((time.perf_counter() - t0, ingest_s[-1]))

    def timed_ingest(self, *a, **k):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        out = real_ingest(self, *a, **k)
        ingest_s.append(time.perf_counter() - t0)
        return out

    ws = Workspace.open(tmp_path / "ws", create=True)
    per_request = max(1, n_logs // flushes // 500 // 5)  # blocks: 5 requests a flush
    policy = rpc.ChunkPolicy(initial=per_request, sparse=1, maximum=per_request)
    rpc._Batches.flush = timed_flush  # type: ignore[method-assign]
    Workspace.ingest = timed_ingest  # type: ignore[method-assign]
    try:
        with serve(blocks) as url:
            t0 = time.perf_counter()
            out = rpc.sync_rpc(ws, url, [TOKEN], symbol="TKN", decimals=6, policy=policy,
                               flush_logs=n_logs // flushes)  # fmt: skip
            total = time.perf_counter() - t0
    finally:
        rpc._Batches.flush = real_flush  # type: ignore[method-assign]
        Workspace.ingest = real_ingest  # type: ignore[method-assign]
    (_name, s), = out
    assert s.logs == s.loaded == n_logs and len(times) == flushes
    print(f"\ningest-rpc of {n_logs:,} logs over loopback in {flushes} flushes: {total:.1f} s")
    for i, (f, ing) in enumerate(times, 1):
        print(f"  flush {i:2d}: {f:6.2f} s (workspace ingest {ing:5.2f} s)")
    first, last = times[0][1], max(t for _, t in times[-3:])
    print(f"  ingest time: first flush {first:.2f} s, slowest of the last three {last:.2f} s")
    record(f"ingest-rpc {n_logs:,} logs, {flushes} flushes (loopback)", items=n_logs,
           seconds=total, unit="logs/s", peak_rss_mib=_peak_rss_mib())  # fmt: skip
