"""Synthetic transfer graphs for benchmarks: power-law degrees, time order, stablecoin amounts.

Node ids are drawn from a Zipf-like law (a few hubs — exchanges — and a long tail of one-shot
wallets), then renumbered by first appearance in time, as
:func:`tracer.store.graph_cache.build_graph` does.
Seeded: the same size and seed give the same arrays.
"""

from __future__ import annotations

import numpy as np

from tracer.store.synth import power_law_ranks


def transfer_arrays(n_edges: int, *, n_nodes: int | None = None, seed: int = 7) -> dict:
    """``src, dst`` (int32, ids by first appearance), ``ts`` (int64 µs), ``amount`` (float64)."""
    rng = np.random.default_rng(seed)
    n_nodes = n_nodes or max(n_edges // 5, 10)
    src = power_law_ranks(rng, n_edges, n_nodes, 1.6)
    dst = power_law_ranks(rng, n_edges, n_nodes, 1.4)
    perm = rng.permutation(n_nodes)  # hubs are not ids 0..k
    src, dst = perm[src], perm[dst]
    same = src == dst
    dst[same] = (dst[same] + 1) % n_nodes
    # renumber by first appearance in (time) order: src before dst per edge
    both = np.empty(2 * n_edges, dtype=np.int64)
    both[0::2], both[1::2] = src, dst
    _, first = np.unique(both, return_index=True)
    order = np.argsort(first, kind="stable")
    ranks = np.empty(order.shape[0], dtype=np.int64)
    ranks[order] = np.arange(order.shape[0])
    uniq = np.unique(both)
    src = ranks[np.searchsorted(uniq, src)].astype(np.int32)
    dst = ranks[np.searchsorted(uniq, dst)].astype(np.int32)
    amount = np.round(rng.lognormal(mean=6.0, sigma=2.0, size=n_edges), 6)
    ts = 1_600_000_000_000_000 + np.cumsum(rng.integers(0, 3_000_000, n_edges))
    return {"src": src, "dst": dst, "ts": ts.astype(np.int64), "amount": amount,
            "n_nodes": int(uniq.shape[0])}  # fmt: skip
