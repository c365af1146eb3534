"""k-hop time-respecting reachability over the out-CSR, with per-query arrays reused.

The question: which transfers can carry funds from the seed wallets within ``k`` hops, time
respected (a wallet only forwards what it received earlier)? Level by level: level 1 is every
outflow of a seed; a wallet first reached at level ``h`` through new transfers, the earliest of
them at edge ``s``, contributes its outflows after ``s`` to level ``h + 1``. Transfers already
reached are not expanded again. This is the iterative-join formulation (one join per hop) and
the support of the poison model with ``max_hops = k`` (tests check both). Wallets marked
``stop`` (labelled services) are reached but not expanded, as sinks in ``follow``.

Why a kernel with reusable state: an investigator runs many such queries on one graph. Work per
query is O(edges scanned), not O(graph): the out-CSR lists each wallet's transfers in chain order
so a binary search skips those before its arrival, and the per-node scratch arrays are
allocated once (:class:`Reach`) and reset through the lists of what the query touched.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit
from .bundles import ReachGraph, ReachScratch

_NONE = np.iinfo(np.int64).max


@njit(cache=True)
def _reach_kernel(seeds, hops, g, w):
    """Returns the number of edges reached; ``reached[:n]`` lists them by level.

    ``g`` :class:`.ReachGraph` (the CSR and the wallets that absorb), ``w``
    :class:`.ReachScratch` (per-node state and the output buffers), unpacked once here.

    A wallet's scanned out-edges always form a suffix of its CSR slice (every scan runs to the
    end), so ``scanned[u]`` (where that suffix starts) replaces a per-edge "seen" flag: the
    kernel reads each slice sequentially (``out_edges``, ``out_dst``) and touches per-node
    state only, one random access per reached edge instead of three.
    """
    out_offsets, out_edges, out_dst, stop = g
    since, next_since, scanned, frontier, nxt, touched, reached, edge_level = w
    none = np.iinfo(np.int64).max
    nf = 0
    nt = 0
    for s in seeds:
        if since[s] == none:
            since[s] = -1
            frontier[nf] = s
            nf += 1
    n = 0
    for level in range(1, hops + 1):
        nn = 0
        for i in range(nf):
            u = frontier[i]
            lo = out_offsets[u]
            end = scanned[u]
            if end < 0:
                # first visit: record it (an empty suffix, not -1, so a wallet whose scan finds
                # nothing is never recorded twice: ``touched`` holds each node at most once)
                end = out_offsets[u + 1]
                scanned[u] = end
                touched[nt] = u
                nt += 1
            after = since[u]
            a, b = lo, end  # first of u's unscanned edges later than its arrival
            while a < b:
                m = (a + b) // 2
                if out_edges[m] <= after:
                    a = m + 1
                else:
                    b = m
            if a < end:
                scanned[u] = a
            for j in range(a, end):
                reached[n] = out_edges[j]
                edge_level[n] = level
                n += 1
                v = out_dst[j]
                if stop[v]:
                    continue  # a service absorbs: reached, not expanded
                if next_since[v] == none:
                    nxt[nn] = v
                    nn += 1
                    next_since[v] = out_edges[j]
                elif out_edges[j] < next_since[v]:
                    next_since[v] = out_edges[j]
        for i in range(nf):
            since[frontier[i]] = none
        for i in range(nn):
            v = nxt[i]
            since[v] = next_since[v]
            next_since[v] = none
            frontier[i] = v
        nf = nn
        if nf == 0:
            break
    for i in range(nf):
        since[frontier[i]] = none
    for i in range(nt):
        scanned[touched[i]] = -1
    return n


class Reach:
    """Scratch state for k-hop queries on one graph (allocate once, query many times).

    Memory: 3 × int64 and 3 × int32 per node, 16 bytes per edge (the CSR-aligned receivers and
    the reached list, as long as the graph in the worst case). Not thread-safe: one per thread.
    """

    def __init__(
        self,
        out_offsets: np.ndarray,
        out_edges: np.ndarray,
        dst: np.ndarray,
        stop: np.ndarray | None = None,
    ) -> None:
        """``stop``: bool per node, wallets that absorb (labelled services, as sinks in
        ``follow``): transfers into them are reached, their own outflows are not followed."""
        self.out_offsets = out_offsets
        self.out_edges = out_edges
        n_nodes = out_offsets.shape[0] - 1
        n_edges = dst.shape[0]
        self.stop = (
            np.zeros(n_nodes, dtype=np.bool_)
            if stop is None
            else np.ascontiguousarray(stop, dtype=np.bool_)
        )
        self.out_dst = np.ascontiguousarray(dst[out_edges], dtype=np.int32)  # CSR-aligned
        self.since = np.full(n_nodes, _NONE, dtype=np.int64)
        self.scanned = np.full(n_nodes, -1, dtype=np.int64)
        self.touched = np.zeros(n_nodes, dtype=np.int32)
        self.next_since = np.full(n_nodes, _NONE, dtype=np.int64)
        self.frontier = np.zeros(n_nodes, dtype=np.int32)
        self.nxt = np.zeros(n_nodes, dtype=np.int32)
        self.reached = np.zeros(n_edges, dtype=np.int64)
        self.edge_level = np.zeros(n_edges, dtype=np.int32)
        self.graph = ReachGraph(self.out_offsets, self.out_edges, self.out_dst, self.stop)
        self.scratch = ReachScratch(self.since, self.next_since, self.scanned, self.frontier,
                                    self.nxt, self.touched, self.reached,
                                    self.edge_level)  # fmt: skip

    def query(self, seeds: np.ndarray, hops: int) -> tuple[np.ndarray, np.ndarray]:
        """Edges reachable from ``seeds`` within ``hops`` (and the level of each), by level.

        The returned arrays are views into reused buffers: copy them to keep past the next
        query.
        """
        if hops < 1:
            raise ValueError("hops must be at least 1")
        seeds = np.ascontiguousarray(seeds, dtype=np.int32)
        if seeds.size and (int(seeds.min()) < 0 or int(seeds.max()) >= self.since.shape[0]):
            raise ValueError("seed id out of range")
        n = _reach_kernel(seeds, int(hops), self.graph, self.scratch)
        return self.reached[:n], self.edge_level[:n]
