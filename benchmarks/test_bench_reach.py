"""6-hop time-respecting reach from 100 seeds: the CSR kernel vs Polars iterative joins.

On the ``tracer synth`` workspace of the run's size (``TRACER_BENCH_EDGES``, default 10M),
labelled services absorb (reached, not expanded: sinks, as in ``follow``). Two seed sets:

* **uniform** — 100 wallets drawn uniformly among those that send;
* **hubs** — the 100 busiest unlabelled senders (they reach a large part of the graph).

The kernel keeps its per-query arrays (:class:`kernels.reach.Reach`) across rounds, as an
investigator's session would. The baseline (one Polars join per hop, ``polars_k_hop``) answers
the same question; both must return the same number of transfers. Also here: CSR build against
numpy's stable argsort (what building the index without the kernel would take).
"""

from __future__ import annotations

import numpy as np
import pytest
from tracer.kernels.csr import build_csr
from tracer.kernels.reach import Reach

from benchmarks.conftest import record
from benchmarks.test_bench_follow import polars_k_hop

HOPS = 6
N_SEEDS = 100


@pytest.fixture(scope="module")
def csr(synth_case: dict) -> dict:
    e = synth_case
    off, out = build_csr(e["src"], e["n_nodes"])
    reach = Reach(off, out, e["dst"], e["stop"])
    degree = np.diff(off)
    degree[e["stop"]] = 0
    rng = np.random.default_rng(1)
    senders = np.flatnonzero(degree > 0)
    return {
        "reach": reach,
        "uniform": rng.choice(senders, N_SEEDS, replace=False).astype(np.int32),
        "hubs": np.argsort(-degree, kind="stable")[:N_SEEDS].astype(np.int32),
        "stop_ids": np.flatnonzero(e["stop"]).astype(np.int32),
        "counts": {},
    }


@pytest.mark.bench
def test_csr_build(benchmark, edges: dict) -> None:  # type: ignore[no-untyped-def]
    _, out = benchmark.pedantic(build_csr, args=(edges["src"], edges["n_nodes"]), rounds=3,
                                  warmup_rounds=1)  # fmt: skip
    assert np.array_equal(out, np.argsort(edges["src"], kind="stable"))
    record("CSR build (counting sort)", items=edges["src"].shape[0],
           seconds=benchmark.stats["mean"], baseline="CSR: numpy stable argsort")  # fmt: skip


@pytest.mark.bench
def test_csr_numpy_baseline(benchmark, edges: dict) -> None:  # type: ignore[no-untyped-def]
    benchmark.pedantic(np.argsort, args=(edges["src"],), kwargs={"kind": "stable"}, rounds=1,
                       iterations=1)  # fmt: skip
    record("CSR: numpy stable argsort", items=edges["src"].shape[0],
           seconds=benchmark.stats["mean"])  # fmt: skip


@pytest.mark.bench
@pytest.mark.parametrize("which", ["uniform", "hubs"])
def test_reach_kernel(benchmark, synth_case: dict, csr: dict, which: str) -> None:  # type: ignore[no-untyped-def]
    reach, seeds = csr["reach"], csr[which]

    def run() -> int:
        return int(reach.query(seeds, HOPS)[0].shape[0])

    n = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    csr["counts"][which] = n
    record(f"{HOPS}-hop reach, 100 {which} seeds (kernel)", items=synth_case["src"].shape[0],
           seconds=benchmark.stats["mean"], reached=n,
           baseline=f"{HOPS}-hop reach, {which} seeds: polars joins")  # fmt: skip


@pytest.mark.bench
@pytest.mark.parametrize("which", ["uniform", "hubs"])
def test_reach_polars_baseline(benchmark, synth_case: dict, csr: dict, which: str) -> None:  # type: ignore[no-untyped-def]
    e = synth_case
    if e["src"].shape[0] > 20_000_000:
        pytest.skip("polars iterative joins need more than this machine's memory past 20M")
    args = (e["src"], e["dst"], csr[which], HOPS, csr["stop_ids"])
    n = benchmark.pedantic(polars_k_hop, args=args, rounds=1, iterations=1)
    if which in csr["counts"]:
        assert n == csr["counts"][which]  # the same transfers, counted both ways
    record(f"{HOPS}-hop reach, {which} seeds: polars joins", items=e["src"].shape[0],
           seconds=benchmark.stats["mean"], reached=n)  # fmt: skip
