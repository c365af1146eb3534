"""The local engine on the graph cache's two CSR levels (base + sparse delta, as an append
leaves them) equals the local engine on the same graph as one CSR, bit for bit, and never
merges the levels: every model (TIHO and per-source colours included), both directions,
entities on/off, windows, dust, hop limit, sinks and pass-through, the CSR-aligned copies on
and off, a base covering fewer nodes than the graph (nodes first seen in the delta).

The one-CSR run is itself checked against the full sweep by tests/analysis/test_local_follow.py
(same case generators), so levels == one CSR == the sweep."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracer.kernels.csr import build_csr
from tracer.kernels.local import _replay_to_clamp

from tests.analysis.test_local_follow import (
    _TxWs,
    assert_same,
    assert_same_colours,
    cases,
    grouped_cases,
)
from tracer.analysis import local_poison
from tracer.analysis.local_colours import tx_numbers
from tracer.analysis.local_follow import _local_graph, trace_local
from tracer.store.edge_log import sparse_csr
from tracer.store.graph_cache import CsrLevels, Sparse, TransferGraph


def split(graph: TransferGraph, cut: int, n_base: int, read_only: bool) -> TransferGraph:
    """``graph`` with its CSR as the edge log stores it after an append at edge ``cut``: a
    dense base over edges ``0..cut`` and nodes ``0..n_base`` (the nodes known then), a sparse
    delta over the rest (:func:`~tracer.store.edge_log.sparse_csr`, what an append writes);
    ``read_only``: every level array read-only, as the memory-mapped files are."""
    src, dst = np.asarray(graph.src), np.asarray(graph.dst)
    oo, oe = build_csr(src[:cut], n_base)
    io, ie = build_csr(dst[:cut], n_base)
    od = Sparse(*sparse_csr(src[cut:], cut))
    idl = Sparse(*sparse_csr(dst[cut:], cut))
    arrays = [oo, oe, io, ie, *od, *idl]
    if read_only:
        for a in arrays:
            a.flags.writeable = False
    return TransferGraph(src=graph.src, dst=graph.dst, ts=graph.ts, amount=graph.amount,
                         token_id=graph.token_id, addresses=graph.addresses, tokens=graph.tokens,
                         levels=CsrLevels(oo, oe, io, ie, od, idl))  # fmt: skip


def unmerged(lv: TransferGraph) -> None:
    """The local engine read the levels, never the merged CSR (without a delta the base is
    the CSR: nothing to merge)."""
    assert lv.levels is not None
    assert lv.merged is not lv.levels.has_delta


@st.composite
def cuts(draw: st.DrawFn, graph: TransferGraph) -> tuple[int, int, bool]:
    """Where the append cut the edges, how many nodes the base knew (at least every node of
    its edges), whether the level arrays are read-only."""
    m = graph.n_edges
    cut = draw(st.integers(0, m))
    ends = np.concatenate([graph.src[:cut], graph.dst[:cut]])
    least = int(ends.max()) + 1 if ends.size else 0
    return cut, draw(st.integers(least, graph.n_nodes)), draw(st.booleans())


def run(c: SimpleNamespace, graph: TransferGraph, ledger: bool, tx: np.ndarray | None = None,
        colours: object = None) -> tuple:  # fmt: skip
    got = trace_local(graph, c.token_ids, c.role, c.sel, model=c.model,  # type: ignore[arg-type]
                      backward=c.backward, entities=c.rep, ledger=ledger, budget=False,
                      tx=tx, colours=colours)  # fmt: skip
    assert got is not None
    return got


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), cases(), st.booleans(), st.booleans())
def test_levels_equal_one_csr(data: st.DataObject, c: SimpleNamespace, ledger: bool,
                              aligned: bool) -> None:  # fmt: skip
    """poison, haircut, taint-first, clean-first, FIFO, LIFO on the levels == on one CSR."""
    cut, n_base, ro = data.draw(cuts(c.graph))
    lv = split(c.graph, cut, n_base, ro)
    keep = local_poison.ALIGN_MAX_EDGES
    local_poison.ALIGN_MAX_EDGES = keep if aligned else -1  # poison: aligned copies or not
    try:
        one = run(c, c.graph, ledger)
        two = run(c, lv, ledger)
    finally:
        local_poison.ALIGN_MAX_EDGES = keep
    assert_same(c, one, two)
    unmerged(lv)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), grouped_cases(), st.booleans())
def test_levels_equal_one_csr_tiho_and_colours(data: st.DataObject, c: SimpleNamespace,
                                               ledger: bool) -> None:  # fmt: skip
    """TIHO and per-source colours on the levels == on one CSR (colours included)."""
    cut, n_base, ro = data.draw(cuts(c.graph))
    lv = split(c.graph, cut, n_base, ro)
    tx = tx_numbers(_TxWs(c.graph, c.hashes), c.graph) if c.model == "tiho" else None
    one = run(c, c.graph, ledger, tx, c.colours)
    two = run(c, lv, ledger, tx, c.colours)
    assert_same(c, one, two)
    assert_same_colours(one, two)
    unmerged(lv)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), cases())
def test_the_backward_replay_to_the_clamp_reads_the_levels(data: st.DataObject,
                                                           c: SimpleNamespace) -> None:  # fmt: skip
    """:func:`tracer.kernels.local._replay_to_clamp` (the time-reversed pass carried over an
    append) walks each node's two-part slice down as it walks the one CSR."""
    cut, n_base, ro = data.draw(cuts(c.graph))
    lv = split(c.graph, cut, n_base, ro)
    n = c.graph.n_nodes
    bal = np.array(data.draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0, 20.0]), min_size=n,
                                      max_size=n)), np.float64)  # fmt: skip
    nodes = np.arange(n, dtype=np.int64)
    n_old = data.draw(st.integers(0, c.graph.n_edges))
    none = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    for backward in (False, True):
        a = _replay_to_clamp(_local_graph(c.graph, c.token_ids, backward, None, none), bal,
                             nodes, n_old)  # fmt: skip
        b = _replay_to_clamp(_local_graph(lv, c.token_ids, backward, None, none), bal, nodes,
                             n_old)  # fmt: skip
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    unmerged(lv)


def test_the_merged_csr_is_built_on_first_read_and_equals_one_csr() -> None:
    """Every other consumer reads ``out_offsets`` ...: merged once from the levels, the same
    arrays as :func:`build_csr` over every edge."""
    rng = np.random.default_rng(3)
    n, m, cut = 30, 200, 170
    src = rng.integers(0, n, m).astype(np.int32)
    dst = rng.integers(0, n, m).astype(np.int32)
    src[:cut] %= 20  # the base knows 20 nodes; the delta adds 10
    dst[:cut] %= 20
    import polars as pl

    from tracer.store.graph_cache import graph_from_arrays

    one = graph_from_arrays(src=src, dst=dst, ts=np.arange(m, dtype=np.int64),
                            amount=np.ones(m), token_id=np.zeros(m, np.int32),
                            addresses=pl.DataFrame({"id": np.arange(n, dtype=np.int32)}),
                            tokens=pl.DataFrame({"token_id": [0]}))  # fmt: skip
    lv = split(one, cut, 20, True)
    assert not lv.merged and lv.csr_levels().has_delta
    for name in ("out_offsets", "out_edges", "in_offsets", "in_edges"):
        np.testing.assert_array_equal(getattr(lv, name), getattr(one, name))
    assert lv.merged
    assert one.csr_levels() is one.csr_levels()  # one CSR: the same levels object each time
    assert not one.csr_levels().has_delta and one.csr_levels().out_edges is one.out_edges
