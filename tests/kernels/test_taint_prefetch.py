"""The sweep kernels' software prefetch (issue 17.3): compiled in, and no effect on any result.

A prefetch is a hint, so the sweep must give bit-identical results with and without it. The
compiled kernels (prefetching) are compared with the same kernels run as plain Python
(``py_func``, where :func:`~tracer.kernels.prefetch.prefetch` does nothing) on random graphs
longer than the prefetch distance, every model, with dust, hop limits and colours; the
existing hypothesis tests compare both with the plain-Python references in ``tests/reference``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from tracer.kernels.bundles import ColourArrays, EdgeOut, SweepParams, Transfers, TxGroups
from tracer.kernels.prefetch import AHEAD, prefetch
from tracer.kernels.taint import (
    MODELS,
    NORMAL,
    SINK,
    SOURCE,
    THROUGH,
    ChunkResult,
    ColourState,
    SweepState,
    _colour_kernel,
    _sweep_kernel,
    propagate,
    tx_groups,
)

AMOUNTS = st.sampled_from([0.0, 0.3, 1.0, 2.5, 3.0, 7.0, 10.0, 0.125, 33.3, 1e6])


@st.composite
def long_graphs(draw: st.DrawFn) -> dict:
    """Random graphs with more edges than the prefetch distance, so the prefetch runs."""
    n = draw(st.integers(2, 40))
    m = draw(st.integers(AHEAD + 1, 4 * AHEAD))
    src = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    dst = [draw(st.integers(0, n - 1).filter(lambda d, s=s: d != s)) for s in src]
    roles = draw(st.lists(st.sampled_from([NORMAL, NORMAL, NORMAL, SOURCE, SINK, THROUGH]),
                          min_size=n, max_size=n))  # fmt: skip
    if SOURCE not in roles:
        roles[0] = SOURCE
    return {
        "src": np.array(src, dtype=np.int32),
        "dst": np.array(dst, dtype=np.int32),
        "amount": np.array(draw(st.lists(AMOUNTS, min_size=m, max_size=m)), dtype=np.float64),
        "role": np.array(roles, dtype=np.int8),
        "seed": np.array([roles[s] == SOURCE and draw(st.booleans()) for s in src], dtype=bool),
        "tx": np.array(draw(st.lists(st.integers(0, 9), min_size=m, max_size=m)), np.int64),
    }


def _sweep(kernel, g: dict, model: str, min_amount: float, max_hops, colours: bool):  # type: ignore[no-untyped-def]
    """One sweep through ``kernel`` (compiled or its ``py_func``); every output array."""
    m = g["src"].shape[0]
    ts = np.arange(m, dtype=np.int64)
    col = None
    if colours:
        srcs = np.flatnonzero(g["role"] == SOURCE)
        colour_of = np.full(g["role"].shape[0], -1, dtype=np.int32)
        colour_of[srcs] = np.arange(srcs.shape[0], dtype=np.int32)
        row_of = np.where(g["role"] == SINK, 0, -1).astype(np.int32)
        col = ColourState(colour_of, srcs.shape[0], row_of)
    state = SweepState(g["role"], model=model, min_amount=min_amount, max_hops=max_hops,
                       colours=col)  # fmt: skip
    out = ChunkResult(m, True)
    tr = Transfers(g["src"], g["dst"], g["amount"], ts)
    p = SweepParams(state.code, state.min_amount, state.hop_cap, True, state.max_lots)
    eo = EdgeOut(out.edge_taint, out.edge_hop, out.bal_before, out.taint_before)
    if col is not None:
        kernel(tr, g["seed"], p, state.arrays, eo,
               ColourArrays(col.colour_of, col.row_of, col.tc, col.cin, col.stats))  # fmt: skip
    else:
        grp = TxGroups(*tx_groups(g["tx"], g["src"], g["amount"]))
        kernel(tr, g["seed"], p, state.arrays, eo, grp)
    arrays = [state.bt, state.inflow, state.hops, state.first_ts, state.beyond_from, state.stats,
              out.edge_taint, out.edge_hop, out.bal_before, out.taint_before]  # fmt: skip
    if col is not None:
        arrays += [col.tc, col.cin, col.stats]
    return arrays


@pytest.mark.parametrize("model", [m for m in MODELS if m not in ("fifo", "lifo")])
@settings(deadline=None, max_examples=25)
@given(g=long_graphs(), min_amount=st.sampled_from([0.0, 0.4]),
       max_hops=st.sampled_from([None, 1, 3]))  # fmt: skip
def test_prefetching_kernel_equals_plain_python(model: str, g: dict, min_amount: float,
                                                max_hops) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    got = _sweep(_sweep_kernel, g, model, min_amount, max_hops, False)
    want = _sweep(_sweep_kernel.py_func, g, model, min_amount, max_hops, False)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)  # bit for bit (NaN never occurs)
    if model != "tiho":
        got = _sweep(_colour_kernel, g, model, min_amount, max_hops, True)
        want = _sweep(_colour_kernel.py_func, g, model, min_amount, max_hops, True)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


def test_sweep_kernels_emit_prefetch() -> None:
    """The hint is really compiled in (a numba or LLVM change could drop it silently). Fresh,
    uncached copies of the kernels: numba cannot show the IR of code loaded from its cache."""
    rng = np.random.default_rng(0)
    n, m = 50, 4 * AHEAD
    src = rng.integers(0, n, m).astype(np.int32)
    role = np.zeros(n, dtype=np.int8)
    role[0] = SOURCE
    g = {"src": src, "dst": ((src + 1 + rng.integers(0, n - 1, m)) % n).astype(np.int32),
         "amount": np.ones(m), "role": role, "seed": src == 0,
         "tx": np.arange(m, dtype=np.int64)}  # fmt: skip
    for kernel, colours in ((_sweep_kernel, False), (_colour_kernel, True)):
        fresh = njit(kernel.py_func)
        _sweep(fresh, g, "haircut", 0.0, None, colours)
        ir = "\n".join(fresh.inspect_llvm(sig) for sig in fresh.signatures)
        assert "llvm.prefetch" in ir


def test_prefetch_is_a_no_op_for_results() -> None:
    @njit
    def total(a: np.ndarray, rows: np.ndarray) -> float:
        s = 0.0
        for k in range(rows.shape[0]):
            prefetch(a, rows[(k + 3) % rows.shape[0]])
            s += a[rows[k], 1]
        return s

    a = np.arange(40.0).reshape(20, 2)
    rows = np.array([3, 19, 0, 7, 7, 12], dtype=np.int64)
    assert total(a, rows) == total.py_func(a, rows) == float(a[rows, 1].sum())
    assert "llvm.prefetch" in total.inspect_llvm(total.signatures[0])


@pytest.mark.parametrize(
    ("src", "dst", "amount", "message"),
    [
        ([0], [2], [1.0], "out of range"),
        ([-1], [1], [1.0], "out of range"),
        ([0], [1], [np.inf], "finite"),
        ([0], [1], [-0.5], "finite"),
        ([0, 1], [1, 0], [1.0, np.nan], "finite"),
        ([0, 1], [1, 5], [np.nan, 1.0], "out of range"),  # ids are named first, as before
    ],
)
def test_sweep_rejects_bad_edges(src: list, dst: list, amount: list, message: str) -> None:
    m = len(src)
    with pytest.raises(ValueError, match=message):
        propagate(np.array(src), np.array(dst), np.array(amount), np.zeros(m, np.int64),
                  np.zeros(m, bool), np.zeros(2, np.int8))  # fmt: skip
