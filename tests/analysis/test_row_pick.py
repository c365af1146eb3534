"""The local follow's row picking from the written entries (tracer.kernels.row_pick) equals the
numpy masks over the distinct ids, list by list, whatever the order and repeats of the ids."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels.row_pick import label_bits, pick_written
from tracer.kernels.taint import NORMAL, SINK, SOURCE, THROUGH

from tracer.core.sparse_zeros import sparse_zeros


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 200), st.data())
def test_label_bits_are_membership(n: int, data: st.DataObject) -> None:
    ids = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=n)), dtype=np.int64)
    bits = label_bits(ids)
    assert bits.dtype == np.uint64
    every = np.arange(n + 70)
    word = every >> 6
    got = np.zeros(every.size, dtype=bool)
    inside = word < bits.size
    got[inside] = (bits[word[inside]] >> (every[inside] & 63).astype(np.uint64)) & np.uint64(1) == 1
    assert got.tolist() == np.isin(every, ids).tolist()


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 150), st.data())
def test_pick_written_is_the_masks(n: int, data: st.DataObject) -> None:
    role = np.array(data.draw(st.lists(st.sampled_from([NORMAL, SINK, THROUGH, SOURCE]),
                                       min_size=n, max_size=n)), dtype=np.int8)  # fmt: skip
    fig = st.sampled_from([0.0, 0.0, 1.5, 2.0, 1e-300, float("nan")])
    bt = np.array(data.draw(st.lists(st.tuples(fig, fig), min_size=n, max_size=n)))
    inflow = np.array(data.draw(st.lists(fig, min_size=n, max_size=n)))
    beyond = np.array(data.draw(st.lists(fig, min_size=n, max_size=n))) if data.draw(
        st.booleans()) else np.zeros(0)  # fmt: skip
    lab = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=n)), dtype=np.int64)
    # the written entries: any order, repeats (every tainted edge's receiver), int32 or int64
    dtype = data.draw(st.sampled_from([np.int32, np.int64]))
    ids = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=3 * n)), dtype=dtype)
    taint = bt[:, 1]  # a strided view, as the state's
    mark = sparse_zeros(n, np.uint8)
    got = pick_written(ids, mark, role, inflow, taint, beyond, label_bits(lab), SINK, SOURCE)
    assert not mark.any()
    _, first = np.unique(ids, return_index=True)
    t = ids[np.sort(first)].astype(np.int64)  # distinct, in the order first met
    rt, f = role[t], inflow[t]
    plain = (rt != SINK) & (rt != SOURCE)
    masks = [(rt == SINK) & (f > 0), np.isin(t, lab) & plain & (f > 0), plain & (taint[t] > 0),
             beyond[t] > 0 if beyond.size else np.zeros(t.size, bool), rt == SOURCE]
    figures = [inflow, inflow, taint, beyond, inflow]
    for (g_ids, g_amt), m, fig_of in zip(got, masks, figures, strict=True):
        assert g_ids.dtype == np.int32 and g_ids.tolist() == t[m].tolist()
        assert g_amt.dtype == np.float64
        np.testing.assert_array_equal(g_amt, fig_of[t[m]])
