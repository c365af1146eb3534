"""Today's kernels against the same kernels at a base revision, on the same arrays, in turns.

The kernel refactor of issue 14.4 (one vocabulary, grouped arguments, shared rule helpers)
must not cost speed. Each case runs the base revision's wrapper and today's on the same
synthetic power-law transfers (default 10M, ``TRACER_BENCH_EDGES``), alternating old/new
``ROUNDS`` times (``TRACER_BENCH_ROUNDS``, default 3) after a warm-up, and records the best of
each (the least disturbed run on a shared machine); the results must agree. Base:
``TRACER_BENCH_BASE`` (default ``c1edc20``, the commit before the refactor).

Run: ``TRACER_BENCH_EDGES=10M python -m pytest -m bench --benchmark-only -p no:cacheprovider
benchmarks/test_bench_kernels.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from tracer.kernels import exposure as new_exposure
from tracer.kernels import reach as new_reach
from tracer.kernels import taint as new_taint
from tracer.kernels.csr import build_csr
from tracer.kernels.rules import NORMAL, SINK, SOURCE

from benchmarks.conftest import in_turns as _in_turns
from benchmarks.conftest import record
from benchmarks.kernels_at import kernels_at

#: Alternating rounds per case (``TRACER_BENCH_ROUNDS``); the best of each side is kept.
ROUNDS = int(os.environ.get("TRACER_BENCH_ROUNDS", "3"))


def in_turns(new: Callable[[], Any], old: Callable[[], Any]) -> tuple[float, float, Any, Any]:
    return _in_turns(new, old, ROUNDS)
N_SOURCES = 100
N_COLOURS = 8
N_CAT = 8
PER_CAT = 250


@pytest.fixture(scope="module")
def base() -> ModuleType:
    """The base revision's kernels package (its submodules imported)."""
    pkg = kernels_at(os.environ.get("TRACER_BENCH_BASE", "c1edc20"))
    import importlib

    for sub in ("taint", "exposure", "reach"):
        importlib.import_module(f"{pkg.__name__}.{sub}")
    return pkg


def roles(edges: dict, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = edges["n_nodes"]
    role = np.full(n, NORMAL, dtype=np.int8)
    role[rng.choice(n, 200, replace=False)] = SINK
    role[rng.choice(n, N_SOURCES, replace=False)] = SOURCE
    return role, role[edges["src"]] == SOURCE


def report(name: str, edges: dict, t_new: float, t_old: float) -> None:
    n = edges["src"].shape[0]
    record(f"{name} (base)", items=n, seconds=t_old)
    record(name, items=n, seconds=t_new, baseline=f"{name} (base)")


@pytest.mark.bench
@pytest.mark.parametrize("model", ["haircut", "poison", "clean-first", "fifo"])
def test_sweep_vs_base(benchmark, edges: dict, base: ModuleType, model: str) -> None:  # type: ignore[no-untyped-def]
    role, seed = roles(edges)
    args = (edges["src"], edges["dst"], edges["amount"], edges["ts"], seed, role)

    def pair() -> tuple[float, float, Any, Any]:
        return in_turns(lambda: new_taint.propagate(*args, model=model),
                        lambda: base.taint.propagate(*args, model=model))  # fmt: skip

    t_new, t_old, got, ref = benchmark.pedantic(pair, rounds=1, iterations=1)
    np.testing.assert_array_equal(got.edge_taint, ref.edge_taint)
    np.testing.assert_array_equal(got.stats, ref.stats)
    assert got.traced > 0
    report(f"{model} sweep", edges, t_new, t_old)


@pytest.mark.bench
def test_colour_sweep_vs_base(benchmark, edges: dict, base: ModuleType) -> None:  # type: ignore[no-untyped-def]
    role, seed = roles(edges)
    n = edges["n_nodes"]
    colour_of = np.full(n, -1, dtype=np.int32)
    sources = np.flatnonzero(role == SOURCE)
    colour_of[sources] = np.arange(sources.shape[0], dtype=np.int32) % N_COLOURS
    row_of = np.full(n, -1, dtype=np.int32)
    reported = np.flatnonzero(role != NORMAL)
    row_of[reported] = np.arange(reported.shape[0], dtype=np.int32)
    cols = (edges["src"], edges["dst"], edges["amount"], edges["ts"], seed)

    def run(mod: ModuleType) -> Any:
        col = mod.ColourState(colour_of, N_COLOURS, row_of)
        state = mod.SweepState(role, model="haircut", colours=col)
        mod.sweep_chunk(state, *cols, check=False)
        return col

    def pair() -> tuple[float, float, Any, Any]:
        return in_turns(lambda: run(new_taint), lambda: run(base.taint))

    t_new, t_old, got, ref = benchmark.pedantic(pair, rounds=1, iterations=1)
    np.testing.assert_array_equal(got.cin, ref.cin)
    assert got.cin.sum() > 0
    report(f"colour sweep ({N_COLOURS} colours)", edges, t_new, t_old)


@pytest.mark.bench
@pytest.mark.parametrize("model", ["haircut", "taint-first"])
def test_exposure_vs_base(benchmark, edges: dict, base: ModuleType, model: str) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(11)
    n = edges["n_nodes"]
    kind = np.full(n, NORMAL, dtype=np.int8)
    cat = np.full(n, -1, dtype=np.int32)
    ids = rng.choice(n, N_CAT * PER_CAT, replace=False)
    kind[ids] = SOURCE  # a labelled origin (the base revision spelt it ORIGIN, also 1)
    cat[ids] = np.repeat(np.arange(N_CAT, dtype=np.int32), PER_CAT)
    cols = (edges["src"], edges["dst"], edges["amount"], edges["ts"], kind, cat)

    def run(mod: ModuleType) -> Any:
        state = mod.ExposureState(n, N_CAT, np.arange(n, dtype=np.int32))
        mod.exposure_sweep(state, *cols, model=model)
        return state

    def pair() -> tuple[float, float, Any, Any]:
        return in_turns(lambda: run(new_exposure), lambda: run(base.exposure))

    t_new, t_old, got, ref = benchmark.pedantic(pair, rounds=1, iterations=1)
    np.testing.assert_allclose(got.direct + got.indirect, ref.direct + ref.indirect,
                               rtol=1e-9, atol=1e-9)  # fmt: skip
    assert got.direct.sum() > 0
    report(f"exposure {model} ({N_CAT} categories)", edges, t_new, t_old)


@pytest.mark.bench
def test_reach_vs_base(benchmark, edges: dict, base: ModuleType) -> None:  # type: ignore[no-untyped-def]
    role, _ = roles(edges)
    stop = role == SINK
    off, out_edges = build_csr(edges["src"], edges["n_nodes"])
    degree = np.diff(off)
    seeds = np.argsort(-degree, kind="stable")[:N_SOURCES].astype(np.int32)  # the hubs
    new = new_reach.Reach(off, out_edges, edges["dst"], stop)
    old = base.reach.Reach(off, out_edges, edges["dst"], stop)

    def pair() -> tuple[float, float, Any, Any]:
        return in_turns(lambda: new.query(seeds, 6)[0].copy(),
                        lambda: old.query(seeds, 6)[0].copy())  # fmt: skip

    t_new, t_old, got, ref = benchmark.pedantic(pair, rounds=1, iterations=1)
    np.testing.assert_array_equal(got, ref)
    assert got.shape[0] > 0
    report("6-hop reach, 100 hub seeds", edges, t_new, t_old)
