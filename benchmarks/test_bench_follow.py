"""A 6-hop follow from 100 seeds on a 10M-transfer workspace: warm (Python API) and cold (CLI).

Baseline in the same run: the same question — which transfers carry taint within 6 hops of the
seeds, respecting time — answered with Polars iterative joins (one join per hop).
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import polars as pl
import pytest

from benchmarks.conftest import bench_edges, record
from benchmarks.workspace_case import canonical_parquet
from tracer.analysis.follow import follow
from tracer.graph.spec import Selection
from tracer.store.workspace import Workspace

HOPS = 6


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("follow")
    e = canonical_parquet(bench_edges(), root / "t.parquet")
    ws = Workspace.open(root / "ws", create=True)
    t0 = time.perf_counter()
    ws.ingest([root / "t.parquet"])
    record("ingest canonical parquet → workspace", items=bench_edges(),
           seconds=time.perf_counter() - t0, unit="rows/s")  # fmt: skip
    rng = np.random.default_rng(1)
    seeds = e["addresses"].gather(rng.choice(e["n_nodes"], 100, replace=False)).to_list()
    (root / "seeds.txt").write_text("\n".join(seeds))
    return {"root": root, "seeds": seeds, "edges": e}


@pytest.mark.bench
def test_follow_warm(benchmark, case: dict) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace.open(case["root"] / "ws")
    follow(ws, case["seeds"], Selection(max_hops=HOPS))  # load the memory-mapped graph once
    r = benchmark.pedantic(
        follow, args=(ws, case["seeds"], Selection(max_hops=HOPS)), rounds=3, warmup_rounds=1
    )
    assert r.traced_total > 0 and abs(r.unaccounted) < 1e-6 * r.traced_total
    record(f"follow {HOPS} hops, 100 seeds (warm)", items=bench_edges(),
           seconds=benchmark.stats["mean"], baseline=f"{HOPS}-hop reach: polars joins")  # fmt: skip


@pytest.mark.bench
def test_follow_cold_cli(benchmark, case: dict) -> None:  # type: ignore[no-untyped-def]
    cmd = [sys.executable, "-m", "tracer.cli", "follow", "--sources",
           str(case["root"] / "seeds.txt"), "-w", str(case["root"] / "ws"), "--max-hops",
           str(HOPS), "--format", "json", "-o", str(case["root"] / "out.json")]  # fmt: skip

    def run() -> None:
        subprocess.run(cmd, check=True, capture_output=True)

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    record(f"follow {HOPS} hops, cold CLI process", items=bench_edges(),
           seconds=benchmark.stats["mean"])  # fmt: skip


def polars_k_hop(
    src: np.ndarray, dst: np.ndarray, seeds: np.ndarray, hops: int, stop: np.ndarray | None = None
) -> int:
    """Transfers reachable within ``hops`` time-respecting hops of the seeds (edge order);
    wallets in ``stop`` (node ids: labelled services) are reached but not expanded."""
    e = pl.DataFrame({"i": np.arange(src.shape[0]), "u": src, "v": dst})
    frontier = e.filter(pl.col("u").is_in(seeds.tolist())).select("i", "v")
    reached = frontier.select("i")
    stops = pl.Series("v", [] if stop is None else stop, dtype=pl.Int32)
    for _ in range(hops - 1):
        frontier = frontier.filter(~pl.col("v").is_in(stops))
        arrive = frontier.group_by("v").agg(pl.col("i").min().alias("since"))
        nxt = (
            e.join(arrive, left_on="u", right_on="v", how="inner")
            .filter(pl.col("i") > pl.col("since"))
            .select("i", pl.col("v"))
            .join(reached, on="i", how="anti")
        )
        if nxt.height == 0:
            break
        reached = pl.concat([reached, nxt.select("i")])
        frontier = nxt
    return reached.height


@pytest.mark.bench
def test_k_hop_polars_baseline(benchmark, case: dict) -> None:  # type: ignore[no-untyped-def]
    e = case["edges"]
    rng = np.random.default_rng(1)
    seeds = rng.choice(e["n_nodes"], 100, replace=False)
    n = benchmark.pedantic(
        polars_k_hop, args=(e["src"], e["dst"], seeds, HOPS), rounds=1, iterations=1
    )
    assert n > 0
    record(f"{HOPS}-hop reach: polars joins", items=bench_edges(), seconds=benchmark.stats["mean"])
