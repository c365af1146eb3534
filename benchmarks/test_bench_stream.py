"""Whole-workspace taint sweeps in a fresh process: streamed from Parquet vs in memory.

Each run is ``python -m benchmarks.stream_sweep`` on the ``tracer synth`` workspace of the run's
size, so peak RSS is the sweep's own (not this test process's). Streamed is compared with the
same sweep over arrays already in memory (load not timed): the ratio is what reading Parquet
row group by row group costs. The 200M-transfer memory check of the README is the same script
on a 200M synth workspace (see README "Performance").
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchmarks.conftest import bench_edges, record, synth_workspace


def sweep(mode: str, model: str) -> dict:
    root = synth_workspace(bench_edges())
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.stream_sweep", str(root), "--mode", mode,
         "--model", model],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.bench
@pytest.mark.parametrize("model", ["haircut", "poison", "fifo"])
def test_streamed_sweep(model: str) -> None:
    mem = sweep("memory", model)
    streamed = sweep("stream", model)
    assert streamed["traced"] == pytest.approx(mem["traced"], rel=1e-12)
    assert streamed["kept_for_paths"] == mem["kept_for_paths"]
    base = f"{model} sweep in memory (synth)"
    record(base, items=mem["transfers"], seconds=mem["seconds"],
           peak_rss_mib=mem["peak_rss_mib"])  # fmt: skip
    record(f"{model} sweep streamed from Parquet (synth)", items=streamed["transfers"],
           seconds=streamed["seconds"], baseline=base,
           peak_rss_mib=streamed["peak_rss_mib"])  # fmt: skip
