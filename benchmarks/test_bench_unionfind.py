"""Union-find vs scipy ``connected_components`` and igraph (the run's size and 5× it, at most
50M links), and vs networkx on 1M links (links/s).

Links are random address pairs over ``links / 2`` addresses (ids by first appearance, as the
graph numbers them). scipy's time includes building its CSR matrix from the link arrays, and
igraph's includes building its graph: both need that step, ours works on the raw arrays. Every
run checks that the partitions agree (same number of components, one-to-one label pairs).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from tracer.kernels.unionfind import union_find, union_find_parallel

from benchmarks.conftest import bench_edges, record

SIZES = [bench_edges(), min(5 * bench_edges(), 50_000_000)]


def links(m: int, seed: int = 5) -> tuple[int, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = m // 2
    a = rng.integers(0, n, m, dtype=np.int64)
    b = rng.integers(0, n, m, dtype=np.int64)
    # renumber by first appearance (a before b per link), as build_graph numbers addresses
    both = np.empty(2 * m, dtype=np.int64)
    both[0::2], both[1::2] = a, b
    uniq, first = np.unique(both, return_index=True)
    rank = np.empty(uniq.shape[0], dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(uniq.shape[0])
    a = rank[np.searchsorted(uniq, a)].astype(np.int32)
    b = rank[np.searchsorted(uniq, b)].astype(np.int32)
    return int(uniq.shape[0]), a, b


def scipy_components(n: int, a: np.ndarray, b: np.ndarray) -> tuple[int, np.ndarray]:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    g = csr_matrix((np.ones(a.shape[0], dtype=np.int8), (a, b)), shape=(n, n))
    return connected_components(g, directed=False)


def igraph_components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import igraph as ig

    g = ig.Graph(n=n, edges=np.column_stack([a, b]), directed=False)
    return np.asarray(g.connected_components().membership)


def same_partition(x: np.ndarray, y: np.ndarray) -> bool:
    kx, ky = np.unique(x).shape[0], np.unique(y).shape[0]
    pairs = np.unique(x.astype(np.int64) * (int(y.max()) + 1) + y).shape[0]
    return kx == ky == pairs


@pytest.mark.bench
@pytest.mark.parametrize("m", SIZES, ids=["size", "5x size"])
def test_union_find_vs_scipy_and_igraph(benchmark, m: int) -> None:  # type: ignore[no-untyped-def]
    n, a, b = links(m)
    tag = f"{m // 1_000_000}M links"
    ours = benchmark.pedantic(union_find, args=(n, a, b), rounds=3, warmup_rounds=1)
    record(f"union-find, {tag}", items=m, seconds=benchmark.stats["mean"], unit="links/s",
           baseline=f"scipy components + CSR, {tag}")  # fmt: skip
    union_find_parallel(n, a[:1000], b[:1000], parts=2)  # compile
    t0 = time.perf_counter()
    par = union_find_parallel(n, a, b, parts=2)
    record(f"union-find parallel (2 threads), {tag}", items=m,
           seconds=time.perf_counter() - t0, unit="links/s",
           baseline=f"scipy components + CSR, {tag}")  # fmt: skip
    np.testing.assert_array_equal(par, ours)
    t0 = time.perf_counter()
    k, lab = scipy_components(n, a, b)
    record(f"scipy components + CSR, {tag}", items=m, seconds=time.perf_counter() - t0,
           unit="links/s")  # fmt: skip
    assert k == np.unique(ours).shape[0] and same_partition(ours, lab)
    ig = pytest.importorskip("igraph")
    assert ig is not None
    t0 = time.perf_counter()
    mem = igraph_components(n, a, b)
    record(f"igraph components + graph, {tag}", items=m, seconds=time.perf_counter() - t0,
           unit="links/s")  # fmt: skip
    assert same_partition(ours, mem)


@pytest.mark.bench
def test_union_find_vs_networkx_small(benchmark) -> None:  # type: ignore[no-untyped-def]
    """networkx is the reference most users know; too slow past a few million links."""
    import networkx as nx

    m = 1_000_000
    n, a, b = links(m, seed=6)
    ours = benchmark.pedantic(union_find, args=(n, a, b), rounds=3, warmup_rounds=1)
    record("union-find, 1M links", items=m, seconds=benchmark.stats["mean"], unit="links/s",
           baseline="networkx components, 1M links")  # fmt: skip
    t0 = time.perf_counter()
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(a.tolist(), b.tolist(), strict=True))
    lab = np.empty(n, dtype=np.int64)
    for i, comp in enumerate(nx.connected_components(g)):
        lab[list(comp)] = i
    record("networkx components, 1M links", items=m, seconds=time.perf_counter() - t0,
           unit="links/s")  # fmt: skip
    assert same_partition(ours, lab)
