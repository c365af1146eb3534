"""The local follow's row picking (tracer.kernels.follow_pick) equals the numpy forms it
replaced: ``np.unique`` of the receivers and sources, and the masks over those ids."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels.follow_pick import SCAN_SPAN, pick_rows, touched_ids
from tracer.kernels.taint import NORMAL, SINK, SOURCE, THROUGH

from tracer.analysis.follow_group import touched_receivers
from tracer.core.sparse_zeros import sparse_zeros


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 5000), st.data())
def test_touched_ids_are_unique(n: int, data: st.DataObject) -> None:
    """Sparse ids (sorted) and dense ones (scanned) alike: np.unique, marks left zero."""
    ids = st.integers(0, n - 1)
    a = np.array(data.draw(st.lists(ids, max_size=300)), dtype=np.int32)
    b = np.array(data.draw(st.lists(ids, max_size=5)), dtype=np.int64)
    mark = sparse_zeros(n, np.uint8)
    got = touched_ids(a, b, mark)
    assert got.dtype == np.int64
    assert np.array_equal(got, np.unique(np.concatenate([a, b]).astype(np.int64)))
    assert not mark.any()


def test_touched_ids_both_ways() -> None:
    """A span past SCAN_SPAN times the count sorts; a dense one scans: the same answer."""
    mark = sparse_zeros(10_000, np.uint8)
    sparse = np.array([9_999, 0, 5_000, 0], dtype=np.int32)
    assert SCAN_SPAN * 3 < 10_000
    assert touched_ids(sparse, np.zeros(0, np.int64), mark).tolist() == [0, 5_000, 9_999]
    dense = np.arange(50, 0, -1, dtype=np.int32)
    assert touched_ids(dense, np.array([3]), mark).tolist() == list(range(1, 51))
    assert touched_receivers(sparse, np.array([7]), 10_000).tolist() == [0, 7, 5_000, 9_999]
    assert not mark.any()


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 60), st.data())
def test_pick_rows_are_the_masks(n: int, data: st.DataObject) -> None:
    role = np.array(data.draw(st.lists(st.sampled_from([NORMAL, SINK, THROUGH, SOURCE]),
                                       min_size=n, max_size=n)), dtype=np.int8)  # fmt: skip
    fig = st.sampled_from([0.0, 0.0, 1.5, 2.0, float("nan")])
    bt = np.array(data.draw(st.lists(st.tuples(fig, fig), min_size=n, max_size=n)))
    inflow = np.array(data.draw(st.lists(fig, min_size=n, max_size=n)))
    beyond = np.array(data.draw(st.lists(fig, min_size=n, max_size=n))) if data.draw(
        st.booleans()) else np.zeros(0)  # fmt: skip
    lab = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=n)), dtype=np.int64)
    t = np.unique(np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=n)), np.int64))
    taint = bt[:, 1]  # a strided view, as the state's
    got = pick_rows(t, role, inflow, taint, beyond, np.unique(lab), SINK, SOURCE)
    rt, f = role[t], inflow[t]
    plain = (rt != SINK) & (rt != SOURCE)
    want = (t[(rt == SINK) & (f > 0)], t[np.isin(t, lab) & plain & (f > 0)],
            t[plain & (taint[t] > 0)], t[beyond[t] > 0] if beyond.size else t[:0],
            t[rt == SOURCE])  # fmt: skip
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.int32 and g.tolist() == w.tolist()
