"""What the stored conversions table costs at ingest, and what ``load_hops`` costs after.

Same synthetic ``logs.csv`` as :mod:`benchmarks.test_bench_conversions` (30 % V2 swaps, 5 % WETH
wraps): ingest into a fresh workspace with the conversions hook switched off (baseline: the
transfer ingest alone) and on (transfers + conversions table, same run), then ``load_hops``
(conversions → hops with their transfer legs). Size via ``TRACER_BENCH_LOGS`` (default 1M).

Run: ``python -m pytest -m bench benchmarks/test_bench_hops.py -s``
"""

from __future__ import annotations

import time

import pytest

from benchmarks.conftest import bench_logs, record
from benchmarks.test_bench_conversions import write_logs
from tracer.analysis.hops import load_hops
from tracer.store import conversions_table as ct
from tracer.store.workspace import Workspace


@pytest.mark.bench
def test_ingest_with_the_conversions_table(tmp_path_factory: pytest.TempPathFactory,
                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    n = bench_logs()
    root = tmp_path_factory.mktemp("hops")
    path = root / "logs.csv"
    write_logs(path, n)

    with monkeypatch.context() as m:
        m.setattr(ct, "ingest", lambda *a, **k: {})
        t0 = time.perf_counter()
        plain = Workspace.open(root / "plain", create=True).ingest([path])
        base_s = time.perf_counter() - t0
    base = "hops: ingest logs.csv, transfers only"
    record(base, items=plain.total("read"), seconds=base_s, unit="logs/s")

    t0 = time.perf_counter()
    ws = Workspace.open(root / "with", create=True)
    full = ws.ingest([path])
    with_s = time.perf_counter() - t0
    record("hops: ingest logs.csv + conversions table", items=full.total("read"),
           seconds=with_s, unit="logs/s", baseline=base)  # fmt: skip
    summary = ct.summary(ws)
    assert summary["conversions"] > 0

    t0 = time.perf_counter()
    hops = load_hops(Workspace.open(root / "with"))
    hops_s = time.perf_counter() - t0
    assert hops.height == summary["conversions"]
    record("hops: load_hops (conversions -> hops with legs)", items=hops.height,
           seconds=hops_s, unit="hops/s")  # fmt: skip
    print(f"\n{full.total('read'):,} logs: ingest {base_s:.2f} s transfers only, {with_s:.2f} s "
          f"with the conversions table ({with_s / base_s:.2f}x); {summary['conversions']:,} "
          f"conversions; load_hops {hops_s:.2f} s")  # fmt: skip
