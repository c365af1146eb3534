"""Union-find kernel against networkx connected components on random link sets."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels.unionfind import UnionFind, component_sizes, union_find, union_find_parallel


@st.composite
def link_sets(draw: st.DrawFn) -> tuple[int, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 40))
    m = draw(st.integers(0, 60))
    a = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    b = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    return n, np.array(a, dtype=np.int32), np.array(b, dtype=np.int32)


def partition(labels: np.ndarray) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for node, lab in enumerate(labels.tolist()):
        groups.setdefault(lab, set()).add(node)
    return {frozenset(g) for g in groups.values()}


def reference(n: int, a: np.ndarray, b: np.ndarray) -> set[frozenset[int]]:
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(a.tolist(), b.tolist(), strict=True))
    return {frozenset(c) for c in nx.connected_components(g)}


@settings(deadline=None, max_examples=300)
@given(links=link_sets(), chunk=st.integers(1, 7), parts=st.integers(1, 4))
def test_every_variant_gives_the_networkx_partition(links, chunk: int, parts: int) -> None:
    n, a, b = links
    want = reference(n, a, b)
    one = union_find(n, a, b)
    assert partition(one) == want
    # labels are the smallest member id (deterministic, whatever the order)
    for comp in want:
        assert {int(one[x]) for x in comp} == {min(comp)}
    uf = UnionFind(n)
    for s in range(0, a.shape[0], chunk):
        uf.add(a[s : s + chunk], b[s : s + chunk])
    np.testing.assert_array_equal(uf.labels(), one)
    np.testing.assert_array_equal(union_find_parallel(n, a, b, parts=parts), one)
    # order of links does not matter
    rev = union_find(n, b[::-1], a[::-1])
    np.testing.assert_array_equal(rev, one)
    sizes = component_sizes(one)
    for comp in want:
        assert all(sizes[x] == len(comp) for x in comp)


def test_large_random_partition_matches_scipy(rng: np.random.Generator) -> None:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n, m = 200_000, 150_000
    a = rng.integers(0, n, m).astype(np.int32)
    b = rng.integers(0, n, m).astype(np.int32)
    ours = union_find_parallel(n, a, b, parts=2)
    k, lab = connected_components(coo_matrix((np.ones(m), (a, b)), shape=(n, n)), directed=False)
    assert np.unique(ours).shape[0] == k
    # same partition: the pair (ours, scipy's) maps one-to-one
    pairs = np.unique(np.stack([ours, lab]), axis=1)
    assert pairs.shape[1] == k


def test_out_of_range_links_are_rejected() -> None:
    with pytest.raises(ValueError, match="out of range"):
        union_find(3, np.array([0]), np.array([3]))
