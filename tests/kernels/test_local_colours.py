"""The local TIHO / colour kernel against the plain-Python references (``tests/reference.py``:
:func:`~tests.reference.taint` for TIHO, :func:`~tests.reference.taint_colours` for the
per-source colours), on random graphs, forward and on the time-reversed graph."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels.bundles import ColourArrays
from tracer.kernels.csr import build_csr
from tracer.kernels.local import LocalGraph, LocalParams, new_out
from tracer.kernels.local_colours import local_colour_kernel
from tracer.kernels.taint import NORMAL, SINK, SOURCE, THROUGH, ColourState, SweepState

from tests import reference

AMOUNTS = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 0.125, 33.3])
COLOUR_MODELS = ["poison", "haircut", "taint-first", "clean-first"]
_Z = np.zeros(0, dtype=np.int64)


@st.composite
def graphs(draw: st.DrawFn) -> dict:
    """Random transfers (self-loops allowed), roles, transaction numbers (few, so senders often
    have several outputs in one transaction), a seed window and a direction."""
    n = draw(st.integers(2, 8))
    m = draw(st.integers(0, 30))
    roles = draw(st.lists(st.sampled_from([NORMAL, NORMAL, SOURCE, SINK, THROUGH]),
                          min_size=n, max_size=n))  # fmt: skip
    if SOURCE not in roles:
        roles[0] = SOURCE
    lo = draw(st.integers(0, 10))
    return {
        "n": n,
        "src": np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), np.int32),
        "dst": np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), np.int32),
        "amount": np.array(draw(st.lists(AMOUNTS, min_size=m, max_size=m)), np.float64),
        "role": np.array(roles, np.int8),
        "tx": np.array(draw(st.lists(st.integers(0, 5), min_size=m, max_size=m)), np.int64),
        "lo": lo,
        "hi": lo + draw(st.integers(0, 30)),
        "reverse": draw(st.booleans()),
    }


def run_local(g: dict, model: str, *, colours: bool, min_amount: float, max_hops: int | None
              ) -> tuple[SweepState, np.ndarray]:  # fmt: skip
    """The kernel on ``g`` (edge ``e`` at time ``e``); returns the state and the taint each edge
    carried, by processing position (the reference's edge order)."""
    n, m = g["n"], g["src"].shape[0]
    src, dst = (g["dst"], g["src"]) if g["reverse"] else (g["src"], g["dst"])
    out_o, out_e = build_csr(src, n)
    in_o, in_e = build_csr(dst, n)
    graph = LocalGraph(src, dst, g["amount"], np.arange(m, dtype=np.int64),
                       np.zeros(m, np.int32), np.ones(1, np.bool_), out_o, out_e, in_o, in_e,
                       np.zeros(0, np.int32), _Z, _Z)  # fmt: skip
    sources = np.flatnonzero(g["role"] == SOURCE).astype(np.int32)
    col = None
    if colours:
        colour_of = np.full(n, -1, np.int32)
        colour_of[sources] = np.arange(sources.shape[0], dtype=np.int32)
        col = ColourState(colour_of, sources.shape[0], np.arange(n, dtype=np.int32))
    state = SweepState(g["role"], model=model, min_amount=min_amount, max_hops=max_hops,
                       colours=col)  # fmt: skip
    arrays = (ColourArrays(col.colour_of, col.row_of, col.tc, col.cin, col.stats) if col
              else ColourArrays(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros((0, 0)),
                                np.zeros((0, 0)), np.zeros((0, 3))))  # fmt: skip
    params = LocalParams(state.code, state.min_amount, state.hop_cap, True, state.max_lots,
                         g["reverse"], g["lo"], g["hi"], -1, -1)  # fmt: skip
    a = state.arrays
    o_edge, o_taint, _, _, _, k = local_colour_kernel(
        graph, g["tx"], params, a.role, sources, a.bt, a.inflow, a.hops, a.first_ts,
        a.beyond_from, a.stats, arrays, new_out(True),
    )  # fmt: skip
    taint = np.zeros(m)
    pos = m - 1 - o_edge[:k] if g["reverse"] else o_edge[:k]
    taint[pos] = o_taint[:k]
    return state, taint


def ref_inputs(g: dict) -> tuple[list[tuple[int, int, float]], list[bool], list[int]]:
    """Edges, seeds and transaction numbers in processing order (reversed: newest first, ends
    swapped), as the references take them."""
    m = g["src"].shape[0]
    order = range(m - 1, -1, -1) if g["reverse"] else range(m)
    s, d = (g["dst"], g["src"]) if g["reverse"] else (g["src"], g["dst"])
    edges = [(int(s[e]), int(d[e]), float(g["amount"][e])) for e in order]
    seed = [g["role"][u] == SOURCE and g["lo"] <= e <= g["hi"] for (u, _, _), e in
            zip(edges, order, strict=True)]  # fmt: skip
    return edges, seed, [int(g["tx"][e]) for e in order]


@settings(deadline=None, max_examples=300)
@given(g=graphs(), min_amount=st.sampled_from([0.0, 0.4]), max_hops=st.sampled_from([None, 1, 2]))
def test_local_tiho_matches_reference(g: dict, min_amount: float, max_hops: int | None) -> None:
    state, taint = run_local(g, "tiho", colours=False, min_amount=min_amount, max_hops=max_hops)
    edges, seed, tx = ref_inputs(g)
    ref = reference.taint(edges, seed, dict(enumerate(g["role"].tolist())), "tiho",
                          min_amount=min_amount, max_hops=max_hops, tx=tx)  # fmt: skip
    np.testing.assert_allclose(taint, ref.edge_taint, rtol=1e-9, atol=1e-12)
    for v in range(g["n"]):
        assert state.inflow[v] == pytest.approx(ref.inflow.get(v, 0.0), rel=1e-9, abs=1e-12)
        if ref.inflow.get(v, 0.0) > 0:
            assert state.hops[v] == ref.hops[v]
        assert state.taint[v] == pytest.approx(ref.held.get(v, 0.0), rel=1e-9, abs=1e-12)
    assert state.traced == pytest.approx(ref.traced)
    assert state.dust == pytest.approx(ref.dust, rel=1e-9, abs=1e-12)
    assert state.beyond == pytest.approx(ref.beyond, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("model", COLOUR_MODELS)
@settings(deadline=None, max_examples=80)
@given(g=graphs(), min_amount=st.sampled_from([0.0, 0.6]), max_hops=st.sampled_from([None, 2]))
def test_local_colours_match_reference(model: str, g: dict, min_amount: float,
                                       max_hops: int | None) -> None:  # fmt: skip
    state, _ = run_local(g, model, colours=True, min_amount=min_amount, max_hops=max_hops)
    col = state.colours
    assert col is not None
    edges, seed, _ = ref_inputs(g)
    colour_of = {int(v): int(c) for v, c in enumerate(col.colour_of) if c >= 0}
    ref = reference.taint_colours(edges, seed, dict(enumerate(g["role"].tolist())), model,
                                  colour_of, min_amount=min_amount, max_hops=max_hops)  # fmt: skip
    k = col.tc.shape[1]
    want_in = np.zeros((g["n"], k))
    for (v, c), a in ref.inflow.items():
        want_in[v, c] = a
    np.testing.assert_allclose(col.cin, want_in, rtol=1e-9, atol=1e-9)
    keep = np.isin(g["role"], [NORMAL, THROUGH])
    want_held = np.zeros((g["n"], k))
    for (v, c), a in ref.held.items():
        want_held[v, c] = a
    np.testing.assert_allclose(col.tc[keep], want_held[keep], rtol=1e-9, atol=1e-9)
    for c in range(len(colour_of)):
        assert col.stats[c, 0] == pytest.approx(ref.traced.get(c, 0.0))
        assert col.stats[c, 1] == pytest.approx(ref.dust.get(c, 0.0), abs=1e-9)
        assert col.stats[c, 2] == pytest.approx(ref.beyond.get(c, 0.0), abs=1e-9)


def test_tiho_group_met_before_the_sender_was_reached_carries_nothing() -> None:
    """A sender pays two outputs in one transaction before taint reaches it, then a third in
    the same transaction after: the group's first output came while the sender held no taint,
    so (as in the sweep) nothing was allocated and the later output carries 0, where a lone
    output would carry its haircut share."""
    g = {
        "n": 4,
        # 1 → 2 (tx 7), S → 1 (tx 9, the seed), 1 → 3 (tx 7: same group as the first)
        "src": np.array([1, 0, 1], np.int32), "dst": np.array([2, 1, 3], np.int32),
        "amount": np.array([1.0, 4.0, 2.0]), "role": np.array([SOURCE, NORMAL, NORMAL, SINK],
                                                               np.int8),
        "tx": np.array([7, 9, 7], np.int64), "lo": 0, "hi": 10, "reverse": False,
    }  # fmt: skip
    state, taint = run_local(g, "tiho", colours=False, min_amount=0.0, max_hops=None)
    assert taint.tolist() == [0.0, 4.0, 0.0]
    assert state.taint[1] == 4.0
    g["tx"] = np.array([7, 9, 8], np.int64)  # the third output alone: haircut 2 · 4/4
    _, taint = run_local(g, "tiho", colours=False, min_amount=0.0, max_hops=None)
    assert taint.tolist() == [0.0, 4.0, 2.0]
