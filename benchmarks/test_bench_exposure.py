"""Exposure of every address to 8 categories in one sweep vs one follow sweep per category.

Same synthetic power-law graph as the taint benchmarks (default 10M transfers, about 2M
addresses). 8 categories of 250 labelled addresses each. The one-sweep kernel reports every
address; the baseline is what a user would otherwise run: ``follow`` from each category's
addresses in turn (8 haircut sweeps, the other labelled addresses as sinks), which yields the
same per-address amounts (asserted on the whole graph below).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from tracer.kernels.exposure import ExposureState, exposure_sweep
from tracer.kernels.taint import NORMAL, SINK, SOURCE, propagate

from benchmarks.conftest import record

N_CAT = 8
PER_CAT = 250


def labelled(edges: dict, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = edges["n_nodes"]
    kind = np.full(n, NORMAL, dtype=np.int8)
    cat = np.full(n, -1, dtype=np.int32)
    ids = rng.choice(n, N_CAT * PER_CAT, replace=False)
    kind[ids] = SOURCE  # a labelled origin
    cat[ids] = np.repeat(np.arange(N_CAT, dtype=np.int32), PER_CAT)
    return kind, cat


def one_sweep(edges: dict, kind: np.ndarray, cat: np.ndarray) -> ExposureState:
    n = edges["n_nodes"]
    state = ExposureState(n, N_CAT, np.arange(n, dtype=np.int32))
    exposure_sweep(state, edges["src"], edges["dst"], edges["amount"], edges["ts"], kind, cat)
    return state


def follow_per_category(edges: dict, kind: np.ndarray, cat: np.ndarray) -> list[np.ndarray]:
    inflows = []
    for c in range(N_CAT):
        role = np.where(kind == SOURCE, SINK, NORMAL).astype(np.int8)
        role[cat == c] = SOURCE
        seed = role[edges["src"]] == SOURCE
        res = propagate(edges["src"], edges["dst"], edges["amount"], edges["ts"], seed, role)
        inflows.append(res.inflow)
    return inflows


@pytest.mark.bench
def test_exposure_one_sweep_vs_follow_per_category(benchmark, edges: dict) -> None:  # type: ignore[no-untyped-def]
    kind, cat = labelled(edges)
    n_edges = edges["src"].shape[0]
    state = benchmark.pedantic(one_sweep, args=(edges, kind, cat), rounds=2, warmup_rounds=1)
    record("exposure: 1 sweep, 8 categories, all addresses", items=n_edges,
           seconds=benchmark.stats["mean"], baseline="exposure: follow per category (8 sweeps)",
           addresses=edges["n_nodes"], state_mib=state.nbytes / 2**20)  # fmt: skip
    follow_per_category(edges, kind, cat)  # warm-up (compile)
    t0 = time.perf_counter()
    inflows = follow_per_category(edges, kind, cat)
    record("exposure: follow per category (8 sweeps)", items=n_edges,
           seconds=time.perf_counter() - t0)  # fmt: skip
    # same numbers from both: every address, every category
    total = state.direct + state.indirect
    for c in range(N_CAT):
        np.testing.assert_allclose(total[:, c], inflows[c], rtol=1e-6, atol=1e-6)
    assert total.sum() > 0
