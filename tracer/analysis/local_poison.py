"""Poison on the local engine without the balance replay (:mod:`tracer.kernels.local_poison`).

:func:`tracer.analysis.local_follow.trace_local` calls :func:`run_poison` for the poison model
(without per-source colours): poison's outflows do not depend on balances, so the engine walks
only the out-edges of tainted addresses after taint arrived, the work the reach kernel does for
the same set, instead of replaying every reached address's whole history. The result is the
same arrays, bit for bit (tests/analysis/test_local_follow.py, tests/kernels/test_local_poison.py).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

from tracer.kernels.local import LocalGraph, LocalOut, LocalParams
from tracer.kernels.local_poison import (
    Aligned,
    Scratch,
    address_count,
    align,
    new_scratch,
    no_aligned,
    poison_kernel,
)
from tracer.kernels.taint import SweepState

#: per graph's CSR (by identity, dropped with it) and thread: the kernel's reusable scratch
_SCRATCH: dict[tuple[int, int], tuple[weakref.ref[np.ndarray], Scratch]] = {}


#: per graph's out-CSR (by identity) and asset group: the CSR-aligned copies
_ALIGNED: dict[tuple[int, int, bytes],
               tuple[weakref.ref[np.ndarray], Aligned, weakref.ref[np.ndarray]]] = {}
#: graphs with more edges than this read the per-edge arrays at random instead (the copies
#: cost 20 bytes per edge of memory: 1 GB at this size, 4 GB at 200M)
ALIGN_MAX_EDGES = 50_000_000


def _aligned(g: LocalGraph) -> Aligned:
    """The CSR-aligned copies for this graph, direction and asset group, built once per
    session (0.1-0.2 s on 10M edges) when the graph is at most :data:`ALIGN_MAX_EDGES`; keyed
    by the base level's edges and, after an append, the delta's too."""
    if g.out_edges.shape[0] + g.out_dedges.shape[0] > ALIGN_MAX_EDGES:
        return no_aligned()
    owner, delta = g.out_edges, g.out_dedges
    key = (id(owner), id(delta) if delta.shape[0] else 0, np.flatnonzero(g.token_ok).tobytes())
    hit = _ALIGNED.get(key)
    if hit is not None and hit[0]() is owner and (not delta.shape[0] or hit[2]() is delta):
        return hit[1]
    for k in [k for k, (r, _, d) in _ALIGNED.items() if r() is None or d() is None]:
        del _ALIGNED[k]
    al = align(g)
    _ALIGNED[key] = (weakref.ref(owner), al, weakref.ref(delta if delta.shape[0] else owner))
    return al


def _scratch(g: LocalGraph, n_nodes: int) -> Scratch:
    """The scratch for this graph and thread (allocated once: O(nodes) per query would cost
    more than a case-sized query itself on a whole chain)."""
    owner = g.out_offsets
    key = (id(owner), threading.get_ident())
    n_addr = address_count(g, n_nodes)
    hit = _SCRATCH.get(key)
    if (hit is not None and hit[0]() is owner and hit[1].nodes.since.shape[0] == n_nodes
            and hit[1].nodes.scanned.shape[0] == n_addr):
        return hit[1]
    for k in [k for k, (r, _) in _SCRATCH.items() if r() is None]:
        del _SCRATCH[k]
    w = new_scratch(n_nodes, n_addr, g.src.shape[0])
    _SCRATCH[key] = (weakref.ref(owner), w)
    return w


def run_poison(g: LocalGraph, params: LocalParams, state: SweepState, sources: np.ndarray,
               q: Any, out: LocalOut) -> tuple[tuple[Any, ...], np.ndarray]:
    """What :func:`tracer.kernels.local.local_kernel` returns (lot pool, its end, the longest
    queue, the tainted-edge buffers and their count) for a poison run: no lots under poison,
    so the pool is ``q``'s (empty) one; and the receivers whose state the run wrote (each
    once: with the sources, what the next question resets)."""
    a = state.arrays
    run = poison_kernel(
        g, params, a.role, sources, a.bt, a.inflow, a.hops, a.first_ts, a.beyond_from, a.stats,
        out, _scratch(g, a.role.shape[0]), _aligned(g),
    )
    return (q.amt, q.tnt, 0, 0, run.edge, run.taint, run.hop, run.bal_before, run.taint_before,
            run.n), run.written  # fmt: skip


#: The poison run gives up past this share of the selected transfers (events) or addresses:
#: its work is the tainted out-edges only (no replay), so it stays cheaper than the full
#: sweep well past the other models' :data:`~tracer.analysis.local_follow.SPREAD` (measured in
#: benchmarks/test_bench_peers.py: 8% of a 1M selection costs about what the sweep costs).
POISON_SPREAD = 0.25


def spread_for(model: str, spread: float) -> float:
    """The local engine's budget (share of the selection) for ``model``: poison's own, else
    ``spread``."""
    return POISON_SPREAD if model == "poison" else spread
