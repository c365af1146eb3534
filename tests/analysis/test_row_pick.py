"""The local follow's row picking from the written entries (tracer.kernels.row_pick) equals the
numpy masks over the distinct ids, list by list, whatever the order and repeats of the ids."""

from __future__ import annotations

import numpy as np
import pytest
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
    """Each list is the numpy masks' over the distinct ids in the order first met, with each
    id's figure (and, asked, its hops and first arrival); with ``bt`` every distinct id's
    entries are a fresh state's afterwards and no other entry changed."""
    role = np.array(data.draw(st.lists(st.sampled_from([NORMAL, SINK, THROUGH, SOURCE]),
                                       min_size=n, max_size=n)), dtype=np.int8)  # fmt: skip
    fig = st.sampled_from([0.0, 0.0, 1.5, 2.0, 1e-300, float("nan")])
    bt = np.array(data.draw(st.lists(st.tuples(fig, fig), min_size=n, max_size=n)))
    inflow = np.array(data.draw(st.lists(fig, min_size=n, max_size=n)))
    beyond = np.array(data.draw(st.lists(fig, min_size=n, max_size=n))) if data.draw(
        st.booleans()) else np.zeros(0)  # fmt: skip
    hops = np.array(data.draw(st.lists(st.integers(-1, 7), min_size=n, max_size=n)), np.int32)
    first_ts = np.array(data.draw(st.lists(st.integers(-1, 2**40), min_size=n, max_size=n)),
                        np.int64)  # fmt: skip
    lab = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=n)), dtype=np.int64)
    # the written entries: any order, repeats (every tainted edge's receiver), int32 or int64
    dtype = data.draw(st.sampled_from([np.int32, np.int64]))
    ids = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=3 * n)), dtype=dtype)
    how = data.draw(st.sampled_from(["ids", "figures", "reset"]))
    before = [a.copy() for a in (bt, inflow, beyond, hops, first_ts)]
    taint = bt[:, 1]  # a strided view, as the state's
    mark = sparse_zeros(n, np.uint8)
    extra = {} if how == "ids" else {"hops": hops, "first_ts": first_ts}
    got = pick_written(ids, mark, role, inflow, taint, beyond, label_bits(lab), SINK, SOURCE,
                       bt=bt if how == "reset" else None, **extra)  # fmt: skip
    assert not mark.any()
    _, first = np.unique(ids, return_index=True)
    t = ids[np.sort(first)].astype(np.int64)  # distinct, in the order first met
    o_bt, o_inflow, o_beyond, o_hops, o_first = before
    rt, f = role[t], o_inflow[t]
    plain = (rt != SINK) & (rt != SOURCE)
    masks = [(rt == SINK) & (f > 0), np.isin(t, lab) & plain & (f > 0), plain & (o_bt[t, 1] > 0),
             o_beyond[t] > 0 if o_beyond.size else np.zeros(t.size, bool), rt == SOURCE]
    figures = [o_inflow, o_inflow, o_bt[:, 1], o_beyond, o_inflow]
    for p, m, fig_of in zip(got, masks, figures, strict=True):
        assert p.ids.dtype == np.int32 and p.ids.tolist() == t[m].tolist()
        assert p.amounts.dtype == np.float64
        np.testing.assert_array_equal(p.amounts, fig_of[t[m]])
        if how == "ids":
            assert p.hops.size == 0 and p.first_ts.size == 0
        else:
            assert p.hops.tolist() == o_hops[t[m]].tolist()
            assert p.first_ts.tolist() == o_first[t[m]].tolist()
    want = [a.copy() for a in before]
    if how == "reset":
        for a, fresh in zip(want, (0.0, 0.0, 0.0, -1, -1), strict=True):
            if a.size:
                a[t] = fresh
    for a, w in zip((bt, inflow, beyond, hops, first_ts), want, strict=True):
        np.testing.assert_array_equal(a, w)


def test_reset_needs_the_hops() -> None:
    z = np.zeros(3)
    with pytest.raises(ValueError, match="hops"):
        pick_written(np.zeros(1, np.int64), np.zeros(3, np.uint8), np.zeros(3, np.int8), z, z,
                     z, label_bits(np.zeros(0)), SINK, SOURCE, bt=np.zeros((3, 2)))  # fmt: skip
