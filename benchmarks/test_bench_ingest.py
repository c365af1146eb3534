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

from benchmarks.conftest import record
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
