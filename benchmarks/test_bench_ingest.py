"""Ingest throughput: a 1M-row ethereum-etl token_transfers CSV → canonical table.

Baseline in the same run: the same parsing done row by row with Python's csv module (what a
hand-written loader would do), so the ratio shows what Polars' native reader buys.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from benchmarks.conftest import medians, pair_ratios, record
from tracer.sources import ReadOptions, read_file

ROWS = 1_000_000
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(11)
    d = tmp_path_factory.mktemp("ingest")
    n_addr = 200_000
    addrs = np.array([f"0x{x:040x}" for x in rng.integers(1, 2**62, n_addr)])
    f = d / "token_transfers.csv"
    pl.DataFrame(
        {
            "token_address": [USDT] * ROWS,
            "from_address": addrs[rng.integers(0, n_addr, ROWS)],
            "to_address": addrs[rng.integers(0, n_addr, ROWS)],
            "value": rng.integers(1, 10**12, ROWS).astype(str),
            "transaction_hash": [f"0x{i:064x}" for i in range(ROWS)],
            "log_index": rng.integers(0, 200, ROWS).astype(str),
            "block_number": (17_000_000 + np.arange(ROWS) // 100).astype(str),
            "block_timestamp": (1_683_000_000 + np.arange(ROWS) // 100 * 12).astype(str),
        }
    ).write_csv(f)
    return f


@pytest.mark.bench
def test_ingest_csv_polars(benchmark, csv_file: Path) -> None:  # type: ignore[no-untyped-def]
    opts = ReadOptions()
    loaded = benchmark.pedantic(
        read_file, args=(csv_file,), kwargs={"options": opts}, rounds=3, warmup_rounds=1
    )
    assert loaded.transfers.height == ROWS
    record("ingest 1M-row CSV (canonicalise)", items=ROWS, seconds=benchmark.stats["mean"],
           unit="rows/s", baseline="ingest: python csv loop")  # fmt: skip


@pytest.mark.bench
def test_ingest_csv_python_loop(benchmark, csv_file: Path) -> None:  # type: ignore[no-untyped-def]
    def loop() -> int:
        n = 0
        with csv_file.open(newline="") as fh:
            for row in csv.DictReader(fh):
                src, dst = row["from_address"].lower(), row["to_address"].lower()
                value = int(row["value"])
                _ = (src, dst, value / 1e6, int(row["block_timestamp"]) * 1_000_000)
                n += 1
        return n

    t0 = time.perf_counter()
    assert benchmark.pedantic(loop, rounds=1, iterations=1) == ROWS
    record("ingest: python csv loop", items=ROWS, seconds=time.perf_counter() - t0, unit="rows/s")


# -- into a workspace: the one writer, append-only ----------------------------------------------
def _ingest_seconds(ws_dir: Path, files: list[Path]) -> float:
    """Wall seconds of one ingest; also prints the process's CPU seconds (user + system, all
    threads), which a shared machine's load does not inflate the way it inflates wall time."""
    return _ingest_figures(ws_dir, files)[0]


def _ingest_figures(ws_dir: Path, files: list[Path]) -> tuple[float, float]:
    """(wall, CPU) seconds of one ingest, printed with rows/s and the load average."""
    import os

    from tracer.store.workspace import Workspace

    ws = Workspace.open(ws_dir, create=True)
    c0, t0 = os.times(), time.perf_counter()
    s = ws.ingest(files)
    seconds, c1 = time.perf_counter() - t0, os.times()
    assert s.changed
    cpu = c1.user - c0.user + c1.system - c0.system
    print(f"\ningest of {s.total('loaded'):,} rows: {seconds:.1f} s wall, {cpu:.1f} s CPU "
          f"({s.total('loaded') / seconds / 1e6:.2f}M rows/s wall, load {os.getloadavg()[0]:.1f})")
    return seconds, cpu


@pytest.fixture(scope="module")
def parquet_case(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``bench_edges()`` canonical transfers (default 10M) and 1M more after them in time."""
    from benchmarks.conftest import bench_edges
    from benchmarks.workspace_case import canonical_parquet

    d = tmp_path_factory.mktemp("ws-ingest")
    n = bench_edges()
    canonical_parquet(n, d / "big.parquet", seed=7)
    tail = pl.read_parquet(d / "big.parquet", n_rows=1_000_000)
    shift = pl.duration(days=400)
    tail = tail.with_columns(
        (pl.col("ts") + shift).alias("ts"),
        pl.format("0xa{}", pl.col("tx_hash").str.slice(3)).alias("tx_hash"),
    )
    tail.write_parquet(d / "tail.parquet")
    return {"dir": d, "n": n, "big": d / "big.parquet", "tail": d / "tail.parquet"}


def _canonical_file(n: int, seed: int = 7) -> Path:
    """A canonical Parquet of ``n`` rows (``canonical_parquet``), generated once in the
    benchmark cache (``TRACER_BENCH_INGEST_FILE`` names a ready one instead)."""
    import os

    from benchmarks.test_bench_cold import bench_cache
    from benchmarks.workspace_case import canonical_parquet

    if os.environ.get("TRACER_BENCH_INGEST_FILE"):
        return Path(os.environ["TRACER_BENCH_INGEST_FILE"])
    f = bench_cache() / f"canonical-{n}-s{seed}.parquet"
    if not f.exists():
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_name(f".{f.name}.tmp")
        canonical_parquet(n, tmp, seed=seed)
        tmp.rename(f)
    return f


def _child(root: Path, mode: str, src: Path) -> dict[str, float]:
    """``benchmarks/ingest_ab.py`` (this tree's script) in a fresh process importing
    ``tracer`` from ``root``: the ingest's wall, CPU, rows and the process's peak RSS."""
    import json
    import os
    import subprocess
    import sys

    from benchmarks.test_bench_cold import bench_cache

    script = Path(__file__).resolve().parent / "ingest_ab.py"
    env = {**os.environ, "PYTHONPATH": str(root),
           "PYTHONPYCACHEPREFIX": str(bench_cache() / "pyc")}  # fmt: skip
    env.setdefault("NUMBA_CACHE_DIR", str(bench_cache() / "numba"))
    out = subprocess.run([sys.executable, str(script), mode, str(src), "--json"], cwd=root,
                         env=env, check=True, capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.bench
def test_ingest_parquet_into_empty_workspace(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Goal (issue 14): >= 1M rows/s at 10M rows, canonical Parquet -> empty workspace.

    Each figure is a fresh process (``benchmarks/ingest_ab.py``), turn about: this tree, the
    tree(s) at ``TRACER_INGEST_BASE`` (default ``2de286d``, the start of round 5; several revs
    comma-separated, e.g. ``2de286d,3d7dba2``; a rev is ``git archive``d into the benchmark
    cache, an existing folder is used as it is) and the floor, a plain pyarrow read + zstd
    write of the same file; ``TRACER_INGEST_ROUNDS`` rounds (default 3) after one warm-up of
    each tree on a small file (numba's cache, the bytecode cache). Printed: medians of wall,
    CPU (user+sys, all threads) and its system part, minor page faults, rows/s and peak RSS of
    the ingest call, the median of the pair-by-pair ratios and CPU differences this - base,
    and the load (a shared machine inflates wall time; CPU and faults are the steadier
    figures). Run: ``TRACER_BENCH_INGEST_FILE=/tmp/s4/c10m.parquet python -m pytest -m bench
    benchmarks/test_bench_ingest.py -k empty_workspace -p no:cacheprovider``."""
    import os
    import statistics

    from benchmarks.conftest import bench_edges
    from benchmarks.test_bench_cold import REPO, tree_at
    from benchmarks.workspace_case import canonical_parquet

    n = bench_edges()
    big = _canonical_file(n)
    small = tmp_path / "small.parquet"
    canonical_parquet(20_000, small, seed=7)
    revs = os.environ.get("TRACER_INGEST_BASE", "2de286d").split(",")
    rounds = int(os.environ.get("TRACER_INGEST_ROUNDS", "3"))
    bases = {f"at {r}": Path(r) if Path(r).is_dir() else tree_at(r) for r in revs}
    trees = {"this tree": REPO, **bases}
    for root in trees.values():  # warm-up
        _child(root, "index", small)
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in [*trees, "floor"]}
    for _ in range(rounds):
        for name, root in trees.items():
            runs[name].append(_child(root, "index", big))
        runs["floor"].append(_child(REPO, "copy", big))
    rows = int(runs["this tree"][0]["rows"])
    fields = ("wall", "cpu", "sys", "minflt", "rss")
    med = medians(runs, fields)
    loads = [r["load"] for v in runs.values() for r in v]
    names = {**{k: k for k in trees}, "floor": "floor: pyarrow read + zstd write"}
    with capsys.disabled():  # shown without -s
        print(f"\ncanonical Parquet -> empty workspace, {rows:,} rows, {rounds} rounds, "
              f"load {min(loads):.1f}-{max(loads):.1f} (goal >= 1M rows/s: "
              f"<= {rows / 1e6:.1f} s wall)")  # fmt: skip
        for k, m in med.items():
            print(f"  {names[k]:34s} wall {m['wall']:5.1f} s  cpu {m['cpu']:5.1f} s "
                  f"(sys {m['sys']:4.1f})  {m['minflt'] / 1e6:4.2f}M faults  "
                  f"{rows / m['wall'] / 1e6:.2f}M rows/s  peak {m['rss']:,.0f} MiB")  # fmt: skip
        this = runs["this tree"]
        for name in bases:
            ratio = pair_ratios(this, runs[name], ("wall", "cpu"))
            less = statistics.median(b["cpu"] - a["cpu"]
                                     for a, b in zip(this, runs[name], strict=True))
            print(f"  this/{name[3:]} (median of pairs): wall {ratio['wall']:.2f}, cpu "
                  f"{ratio['cpu']:.2f} ({less:+.1f} s CPU saved)")  # fmt: skip
    floor, base_rev = med["floor"], revs[0]
    record("pyarrow read + write of the canonical Parquet", items=rows, seconds=floor["wall"],
           unit="rows/s", cpu_seconds=floor["cpu"])  # fmt: skip
    record(f"canonical Parquet -> empty workspace ({rows:,} rows)", items=rows,
           seconds=med["this tree"]["wall"], unit="rows/s", cpu_seconds=med["this tree"]["cpu"],
           peak_rss_mib=med["this tree"]["rss"], base_wall=med[f"at {base_rev}"]["wall"],
           base_cpu=med[f"at {base_rev}"]["cpu"],
           baseline="pyarrow read + write of the canonical Parquet")  # fmt: skip


@pytest.mark.bench
def test_append_1m_to_a_big_workspace_vs_into_an_empty_one(parquet_case: dict) -> None:
    """Goal: appending 1M rows to the big workspace within 2x of ingesting them into an
    empty one (before: every ingest rewrote the whole table)."""
    big = parquet_case["dir"] / "ws-big"
    if not (big / "manifest.json").exists():
        _ingest_seconds(big, [parquet_case["big"]])
    empty = _ingest_seconds(parquet_case["dir"] / "ws-tail", [parquet_case["tail"]])
    record("ingest 1M rows into an empty workspace", items=1_000_000, seconds=empty,
           unit="rows/s")  # fmt: skip
    appended = _ingest_seconds(big, [parquet_case["tail"]])
    record(f"append 1M rows to a {parquet_case['n']:,}-row workspace", items=1_000_000,
           seconds=appended, unit="rows/s",
           baseline="ingest 1M rows into an empty workspace")  # fmt: skip


@pytest.mark.bench
def test_peak_rss_ingesting_a_large_csv(tmp_path: Path) -> None:
    """Peak RSS of ``tracer ingest`` on a CSV of ``TRACER_BENCH_CSV_MB`` (default 500 MB) in a
    child process (goal: a 2 GB CSV within 2 GB RSS). The file is read in batches and spooled
    per month, so the peak is set by a batch and the largest month, not the file."""
    import os
    import subprocess
    import sys

    mb = int(os.environ.get("TRACER_BENCH_CSV_MB", "500"))
    f = tmp_path / "big.csv"
    rng = np.random.default_rng(3)
    n_addr = 500_000
    addrs = pl.Series([f"0x{x:040x}" for x in rng.integers(1, 2**62, n_addr)])
    rows, chunk, start = 0, 1_000_000, 0
    with f.open("wb") as fh:
        while fh.tell() < mb * 2**20:
            i = np.arange(start, start + chunk)
            pl.DataFrame(
                {
                    "token_address": [USDT] * chunk,
                    "from_address": addrs.gather(rng.integers(0, n_addr, chunk)),
                    "to_address": addrs.gather(rng.integers(0, n_addr, chunk)),
                    "value": rng.integers(1, 10**12, chunk).astype(str),
                    "transaction_hash": [f"0x{k:064x}" for k in i],
                    "log_index": (i % 200).astype(str),
                    "block_number": (17_000_000 + i // 3).astype(str),
                    # a block every 12 s, 3 transfers a block: 2 GB of CSV spans about 14 months
                    "block_timestamp": (1_683_000_000 + i // 3 * 12).astype(str),
                }
            ).write_csv(fh, include_header=start == 0)
            start += chunk
            rows += chunk
    size_mb = f.stat().st_size / 2**20
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    # the child reports its own high-water mark (VmHWM, reset at exec): getrusage(CHILDREN)
    # would count the pages a forked child shares with this (large) benchmark process
    hwm = tmp_path / "vmhwm"
    code = ("import runpy, sys\n"
            f"sys.argv = ['tracer', 'ingest', '-q', '-w', {str(tmp_path / 'ws')!r}, {str(f)!r}]\n"
            "try:\n    runpy.run_module('tracer.cli', run_name='__main__')\nfinally:\n"
            "    s = open('/proc/self/status').read()\n"
            f"    open({str(hwm)!r}, 'w').write(s.split('VmHWM:')[1].split()[0])\n")  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    seconds = time.perf_counter() - t0
    peak = int(hwm.read_text()) / 1024  # kB -> MiB
    record(f"ingest a {size_mb:,.0f} MB CSV into a workspace", items=rows, seconds=seconds,
           unit="rows/s", peak_rss_mib=peak)  # fmt: skip
