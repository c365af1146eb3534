"""Compressed sparse rows over time-sorted edges.

A counting sort by node that is *stable*: within one node's slice, edge ids keep the global
(time) order, so a kernel walking a node's out-edges sees them in chain order without sorting.
Offsets and edge ids are int64 (a 32-bit counter overflows on one busy contract's history).
"""

from __future__ import annotations

import numpy as np

from ._jit import njit


@njit(cache=True)
def _csr_kernel(nodes: np.ndarray, n_nodes: int, offsets: np.ndarray, edges: np.ndarray) -> None:
    for i in range(nodes.shape[0]):
        offsets[nodes[i] + 1] += 1
    for v in range(n_nodes):
        offsets[v + 1] += offsets[v]
    cursor = offsets[:-1].copy()
    for i in range(nodes.shape[0]):
        v = nodes[i]
        edges[cursor[v]] = i
        cursor[v] += 1


def build_csr(
    nodes: np.ndarray, n_nodes: int, out: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Group edge ids by ``nodes[edge]`` keeping edge order inside each group.

    Parameters
    ----------
    nodes:
        int32[E], the endpoint (source for out-CSR, destination for in-CSR) of each edge.
    n_nodes:
        Number of nodes; every value of ``nodes`` must lie in ``[0, n_nodes)``.

    Returns
    -------
    offsets:
        int64[n_nodes + 1]; node ``v``'s edges are ``edges[offsets[v]:offsets[v+1]]``.
    edges:
        int64[E] edge ids.

    ``out``: ``(offsets, edges)`` buffers of those shapes to fill instead (zeroed here).
    """
    nodes = np.ascontiguousarray(nodes, dtype=np.int32)
    if nodes.size and (int(nodes.min()) < 0 or int(nodes.max()) >= n_nodes):
        raise ValueError("node id out of range")
    if out is None:
        offsets = np.zeros(n_nodes + 1, dtype=np.int64)
        edges = np.empty(nodes.shape[0], dtype=np.int64)
    else:  # caller's buffers (e.g. memory-mapped new files): offsets must be all zero
        offsets, edges = out
        if offsets.shape != (n_nodes + 1,) or edges.shape != nodes.shape:
            raise ValueError("output buffers of the wrong shape")
        offsets[:] = 0
    _csr_kernel(nodes, n_nodes, offsets, edges)
    return offsets, edges


@njit(cache=True)
def _merge_kernel(b_off, b_edges, d_nodes, d_off, d_edges, n_nodes, off, edges):
    nb = b_off.shape[0] - 1
    for v in range(min(nb, n_nodes)):
        off[v + 1] = b_off[v + 1] - b_off[v]
    for j in range(d_nodes.shape[0]):
        off[d_nodes[j] + 1] += d_off[j + 1] - d_off[j]
    for v in range(n_nodes):
        off[v + 1] += off[v]
    for v in range(min(nb, n_nodes)):
        at = off[v]
        for i in range(b_off[v], b_off[v + 1]):
            edges[at] = b_edges[i]
            at += 1
    for j in range(d_nodes.shape[0]):
        v = d_nodes[j]
        at = off[v + 1] - (d_off[j + 1] - d_off[j])
        for i in range(d_off[j], d_off[j + 1]):
            edges[at] = d_edges[i]
            at += 1


def merge_levels(
    b_off: np.ndarray, b_edges: np.ndarray, d_nodes: np.ndarray, d_off: np.ndarray,
    d_edges: np.ndarray, n_nodes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One CSR from a base level (dense ``b_off`` over its first nodes, edges ``0..B``) and a
    sparse delta level (``d_nodes`` sorted, ``d_off``, ``d_edges`` all after the base's): per
    node its base slice then its delta slice, so edge ids stay in time order inside a node
    (what :func:`build_csr` over every edge gives)."""
    if b_off.shape[0] - 1 > n_nodes or (d_nodes.size and int(d_nodes.max()) >= n_nodes):
        raise ValueError("node id out of range")
    off = np.zeros(n_nodes + 1, dtype=np.int64)
    edges = np.empty(b_edges.shape[0] + d_edges.shape[0], dtype=np.int64)
    _merge_kernel(b_off, b_edges, d_nodes, d_off, d_edges, n_nodes, off, edges)
    return off, edges


@njit(cache=True)
def _merge_sparse_kernel(a_nodes, a_off, a_edges, b_nodes, b_off, b_edges, nodes, off, edges):
    i = j = k = 0
    at = 0
    na, nb = a_nodes.shape[0], b_nodes.shape[0]
    while i < na or j < nb:
        v = a_nodes[i] if j >= nb or (i < na and a_nodes[i] < b_nodes[j]) else b_nodes[j]
        nodes[k] = v
        if i < na and a_nodes[i] == v:
            for x in range(a_off[i], a_off[i + 1]):
                edges[at] = a_edges[x]
                at += 1
            i += 1
        if j < nb and b_nodes[j] == v:
            for x in range(b_off[j], b_off[j + 1]):
                edges[at] = b_edges[x]
                at += 1
            j += 1
        k += 1
        off[k] = at
    return k


def merge_sparse(
    a: tuple[np.ndarray, np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two sparse CSRs (``nodes`` sorted, ``offsets``, edge ids) as one, ``b``'s edges all
    after ``a``'s: per node ``a``'s slice then ``b``'s — one linear pass (no sort), so adding
    new edges to a delta level costs a copy of it, not a sort of it."""
    na, nb = a[0].shape[0], b[0].shape[0]
    nodes = np.empty(na + nb, dtype=np.int32)
    off = np.zeros(na + nb + 1, dtype=np.int64)
    edges = np.empty(a[2].shape[0] + b[2].shape[0], dtype=np.int64)
    k = _merge_sparse_kernel(a[0], a[1], a[2], b[0], b[1], b[2], nodes, off, edges)
    return nodes[:k].copy(), off[: k + 1].copy(), edges


# -- reading a node's slices of two levels (the local engine, :mod:`.local`) ------------------
@njit(cache=True, inline="always")
def _base_slice(offsets, m):
    """Node ``m``'s ``a, b`` in a base level (empty past the nodes it covers)."""
    if m + 1 < offsets.shape[0]:
        return offsets[m], offsets[m + 1]
    return offsets[0], offsets[0]


@njit(cache=True, inline="always")
def _delta_slice(nodes, offsets, m):
    """Node ``m``'s ``a, b`` in a sparse delta level: a binary search of its sorted nodes,
    O(log D) (no per-node map to build per session)."""
    lo = 0
    hi = nodes.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if nodes[mid] < m:
            lo = mid + 1
        else:
            hi = mid
    if lo < nodes.shape[0] and nodes[lo] == m:
        return offsets[lo], offsets[lo + 1]
    return offsets[0], offsets[0]


@njit(cache=True, inline="always")
def slices(offsets, dnodes, doffsets, m):
    """Node ``m``'s two slices: ``a, b`` of the base edges, ``da, db`` of the delta's (its
    edges are ``edges[a:b]`` then ``dedges[da:db]``, in edge-id order)."""
    a, b = _base_slice(offsets, m)
    if dnodes.shape[0] == 0:
        return a, b, doffsets[0], doffsets[0]
    da, db = _delta_slice(dnodes, doffsets, m)
    return a, b, da, db


@njit(cache=True, inline="always")
def edge_at(edges, dedges, a, nb, da, i):
    """The ``i``-th edge of a node's two-part slice (``nb`` edges in the base part)."""
    if i < nb:
        return edges[a + i]
    return dedges[da + i - nb]
