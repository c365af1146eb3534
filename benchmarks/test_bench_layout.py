"""Issue 17.3: does renumbering addresses by activity speed up the full haircut sweep?

The per-address state (``bt``: balance and taint side by side) is what bounds a whole-chain
sweep once it outgrows the cache (1.7M addresses on the 10M synth workspace). Renumbering ids
so the busiest addresses come first packs the hot rows into a few cache lines. Measured on
the synth workspace (``TRACER_BENCH_EDGES``, default 10M transfers), in turns, best of
``ROUNDS``:

* ids as stored (the baseline);
* ids by activity (sends + receives, busiest first), sweep only: what an ingest-time
  renumbering would give (the permutation paid once, in the store);
* the same with the permutation computed and applied in the kernel wrapper on every sweep
  (rank, relabel ``src``/``dst``, map the per-address results back);
* ids by first appearance in chain order.

Results are asserted equal (the sweep does not depend on the numbering). Run:
``TRACER_BENCH_EDGES=10M python -m pytest -m bench --benchmark-only -p no:cacheprovider
benchmarks/test_bench_layout.py``.
"""

from __future__ import annotations

import importlib
import os
import resource
import time

import numpy as np
import pytest
from numba import njit
from tracer.kernels.rules import NORMAL, SINK, SOURCE
from tracer.kernels.taint import propagate

from benchmarks.conftest import record
from benchmarks.kernels_at import kernels_at

ROUNDS = 3


@njit(cache=True)
def _relabel(src: np.ndarray, dst: np.ndarray, rank: np.ndarray) -> tuple:
    """``rank[src]``, ``rank[dst]`` in one pass (half the memory traffic of two numpy takes)."""
    s = np.empty_like(src)
    d = np.empty_like(dst)
    for e in range(src.shape[0]):
        s[e] = rank[src[e]]
        d[e] = rank[dst[e]]
    return s, d


def by_activity(src: np.ndarray, dst: np.ndarray, n: int) -> np.ndarray:
    """``rank[old id]`` = new id, busiest first (ties: old id order)."""
    act = np.bincount(src, minlength=n) + np.bincount(dst, minlength=n)
    order = np.argsort(-act, kind="stable")
    rank = np.empty(n, dtype=np.int32)
    rank[order] = np.arange(n, dtype=np.int32)
    return rank


def by_first_appearance(src: np.ndarray, dst: np.ndarray, n: int) -> np.ndarray:
    both = np.empty(2 * src.shape[0], dtype=np.int32)
    both[0::2], both[1::2] = src, dst
    first = np.full(n, both.shape[0], dtype=np.int64)
    np.minimum.at(first, both, np.arange(both.shape[0]))
    order = np.argsort(first, kind="stable")
    rank = np.empty(n, dtype=np.int32)
    rank[order] = np.arange(n, dtype=np.int32)
    return rank


def case_roles(e: dict, case: str) -> tuple[np.ndarray, np.ndarray]:
    """Roles and seed edges of a case: ``services stop``, the workspace's labelled services as
    sinks; ``wide spread``, 200 random sinks only. 100 random sources either way."""
    n = e["n_nodes"]
    rng = np.random.default_rng(3)
    if case == "services stop":
        role = np.where(e["stop"], SINK, NORMAL).astype(np.int8)
    else:
        role = np.full(n, NORMAL, dtype=np.int8)
        role[rng.choice(n, 200, replace=False)] = SINK
    role[rng.choice(np.flatnonzero(role == NORMAL), 100, replace=False)] = SOURCE
    return role, role[e["src"]] == SOURCE


@pytest.mark.bench
@pytest.mark.parametrize("case", ["services stop", "wide spread"])
def test_haircut_sweep_by_activity(benchmark, synth_case: dict, case: str) -> None:  # type: ignore[no-untyped-def]
    """``services stop``: the workspace's labelled services are sinks (as in follow), 100
    random sources; ``wide spread``: 200 random sinks only, so taint reaches far more
    addresses (as a large follow or exposure --all does)."""
    e = synth_case
    n = e["n_nodes"]
    src, dst, amount, ts = e["src"], e["dst"], e["amount"], e["ts"]
    role, seed = case_roles(e, case)
    act_rank = by_activity(src, dst, n)
    first_rank = by_first_appearance(src, dst, n)
    layouts = {}
    for name, rank in (("activity", act_rank), ("first appearance", first_rank)):
        s2, d2 = _relabel(src, dst, rank)
        r2 = np.empty_like(role)
        r2[rank] = role
        layouts[name] = (s2, d2, r2, rank)

    def stored() -> np.ndarray:
        return propagate(src, dst, amount, ts, seed, role).inflow

    def renumbered(name: str) -> np.ndarray:
        s2, d2, r2, rank = layouts[name]
        return propagate(s2, d2, amount, ts, seed, r2).inflow[rank]

    def in_wrapper() -> np.ndarray:
        rank = by_activity(src, dst, n)
        s2, d2 = _relabel(src, dst, rank)
        r2 = np.empty_like(role)
        r2[rank] = role
        res = propagate(s2, d2, amount, ts, seed, r2)
        return res.inflow[rank]  # back to stored ids (one of the per-address outputs)

    runs = {"stored": stored, "activity": lambda: renumbered("activity"),
            "activity, in the wrapper": in_wrapper,
            "first appearance": lambda: renumbered("first appearance")}  # fmt: skip

    def turns() -> dict[str, float]:
        ref = stored()
        for fn in runs.values():
            np.testing.assert_array_equal(fn(), ref)  # also the warm-up
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(ROUNDS):
            for name, fn in runs.items():
                t0 = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - t0)
        return best

    best = benchmark.pedantic(turns, rounds=1, iterations=1)
    m = src.shape[0]
    base = f"haircut sweep ({case}), ids as stored"
    record(base, items=m, seconds=best["stored"], addresses=n)
    for name in ("activity", "activity, in the wrapper", "first appearance"):
        record(f"haircut sweep ({case}), ids by {name}", items=m, seconds=best[name],
               baseline=base)  # fmt: skip


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@pytest.mark.bench
@pytest.mark.parametrize("case", ["services stop", "wide spread"])
def test_haircut_sweep_prefetch(synth_case: dict, case: str) -> None:
    """Issue 17.3, kept: the sweep kernel prefetches the next edges' per-address state
    (:mod:`tracer.kernels.prefetch`). Today's ``propagate`` against the base revision's
    (``TRACER_BENCH_BASE``, default ``afef16e``, the kernels before prefetch) on the same synth
    arrays, alternating, best of ``ROUNDS``; CPU seconds (user + sys) beside wall time, since a
    shared machine inflates wall time. Results must be bit-identical. Prints one line per side.
    Run: ``python -m pytest -m bench -p no:cacheprovider -s benchmarks/test_bench_layout.py
    -k prefetch``."""
    e = synth_case
    n = e["n_nodes"]
    src, dst, amount, ts = e["src"], e["dst"], e["amount"], e["ts"]
    role, seed = case_roles(e, case)
    old = kernels_at(os.environ.get("TRACER_BENCH_BASE", "afef16e"))
    old_taint = importlib.import_module(f"{old.__name__}.taint")
    sides = {"base": old_taint.propagate, "prefetch": propagate}
    got = {k: fn(src, dst, amount, ts, seed, role) for k, fn in sides.items()}  # warm-up
    for field in ("balance", "taint", "inflow", "hops", "first_ts", "edge_taint", "edge_hop"):
        np.testing.assert_array_equal(getattr(got["prefetch"], field), getattr(got["base"], field))
    np.testing.assert_array_equal(got["prefetch"].stats, got["base"].stats)
    wall = dict.fromkeys(sides, float("inf"))
    cpu = dict.fromkeys(sides, float("inf"))
    for _ in range(ROUNDS + 2):
        for k, fn in sides.items():
            w0, c0 = time.perf_counter(), _cpu()
            fn(src, dst, amount, ts, seed, role)
            cpu[k] = min(cpu[k], _cpu() - c0)
            wall[k] = min(wall[k], time.perf_counter() - w0)
    m = src.shape[0]
    base = f"haircut sweep ({case}), in memory, kernels at base"
    record(base, items=m, seconds=wall["base"], cpu_seconds=cpu["base"], addresses=n)
    record(f"haircut sweep ({case}), in memory, prefetch", items=m, seconds=wall["prefetch"],
           cpu_seconds=cpu["prefetch"], baseline=base)  # fmt: skip
    load = os.getloadavg()[0]
    for k in sides:
        print(f"\n{case}: {k}: {m / cpu[k] / 1e6:.1f}M transfers/s CPU ({cpu[k]:.3f} s), "
              f"{m / wall[k] / 1e6:.1f}M/s wall ({wall[k]:.3f} s), load {load:.1f}")
