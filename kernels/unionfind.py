"""Union-find over int32 link arrays: connected components of address links, deterministic.

Path halving (each ``find`` step points a node at its grandparent) and union by minimum id (the
smaller root wins), so ``parent[x] <= x`` always holds and the final label of every node is the
smallest id in its component — the same labels whatever the link order or chunking. A final
pass in increasing id order then flattens every node to its root in O(n), because a node's
parent is always flattened before it.

Three entry points, one partition:

* :func:`union_find` — one shot over all links;
* :class:`UnionFind` — links streamed in chunks (``add`` then ``labels``), for link sets that
  do not fit in memory at once;
* :func:`union_find_parallel` — links split into parts, each part's forest built on its own
  thread (numba ``prange``), then the forests merged into one.

Why not ``scipy.sparse.csgraph.connected_components``: it needs a CSR matrix first (a sort of
the links) and labels components in discovery order, not by minimum id; a union over the raw
link arrays skips the sort (the benchmark measures both, CSR build included).
"""

from __future__ import annotations

import numpy as np

from ._jit import njit, prange


@njit(cache=True)
def _union_links(parent: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    # find and union are written out: numba does not inline helpers taking arrays (measured 3x)
    for i in range(a.shape[0]):
        x = a[i]
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        y = b[i]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        if x < y:
            parent[y] = x
        elif y < x:
            parent[x] = y


@njit(cache=True)
def _flatten(parent: np.ndarray) -> None:
    for x in range(parent.shape[0]):
        parent[x] = parent[parent[x]]


@njit(cache=True, parallel=True)
def _forests(parents: np.ndarray, a: np.ndarray, b: np.ndarray, bounds: np.ndarray) -> None:
    for p in prange(parents.shape[0]):
        _union_links(parents[p], a[bounds[p] : bounds[p + 1]], b[bounds[p] : bounds[p + 1]])


def _check(n: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.ascontiguousarray(a, dtype=np.int32)
    b = np.ascontiguousarray(b, dtype=np.int32)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("link arrays a and b must be 1-d and of the same length")
    if a.size and (min(int(a.min()), int(b.min())) < 0 or max(int(a.max()), int(b.max())) >= n):
        raise ValueError(f"link endpoint out of range [0, {n})")
    return a, b


def union_find(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """int32[n] component label per node: the smallest node id of its component."""
    a, b = _check(n, a, b)
    parent = np.arange(n, dtype=np.int32)
    _union_links(parent, a, b)
    _flatten(parent)
    return parent


class UnionFind:
    """Streaming union-find: ``add`` link chunks in any order, then ``labels()``."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.parent = np.arange(n, dtype=np.int32)

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        a, b = _check(self.n, a, b)
        _union_links(self.parent, a, b)

    def labels(self) -> np.ndarray:
        out = self.parent.copy()
        _flatten(out)
        return out


def union_find_parallel(n: int, a: np.ndarray, b: np.ndarray, parts: int = 2) -> np.ndarray:
    """Same labels as :func:`union_find`, each of ``parts`` slices of the links on its own
    thread. Memory: ``parts × n`` int32 forests; pays off when links far outnumber nodes."""
    a, b = _check(n, a, b)
    parts = max(1, min(parts, a.shape[0] or 1))
    bounds = np.linspace(0, a.shape[0], parts + 1).astype(np.int64)
    forests = np.tile(np.arange(n, dtype=np.int32), (parts, 1))
    _forests(forests, a, b, bounds)
    parent = forests[0]
    nodes = np.arange(n, dtype=np.int32)
    for p in range(1, parts):  # another forest is just more links: x -- its parent there
        _union_links(parent, nodes, forests[p])
    _flatten(parent)
    return parent


def component_sizes(labels: np.ndarray) -> np.ndarray:
    """int64[n]: the size of each node's component."""
    counts = np.bincount(labels, minlength=labels.shape[0])
    return counts[labels]
