"""Account-view segmentation of per-wallet exports (kernels/views.py) against a plain reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels.views import segment_views


def reference(rows: list[tuple[int, int, int, int]]) -> list[int]:
    """Rows are (src, dst, tx, content); written from the rule's definition with sets."""
    views: list[int] = []
    common: set[int] = set()
    seen_in_run: set[tuple[int, int]] = set()  # (tx, content) of the run, before this tx block
    block: set[tuple[int, int]] = set()
    view = -1
    last_tx = None
    for src, dst, tx, content in rows:
        if tx != last_tx:
            seen_in_run |= block
            block = set()
        key = (tx, content)
        if view < 0 or not (common & {src, dst}) or key in seen_in_run:
            view += 1
            common = {src, dst}
            seen_in_run = set()
            block = set()
        else:
            common &= {src, dst}
        block.add(key)
        views.append(view)
        last_tx = tx
    return views


def run(rows: list[tuple[int, int, int, int]]) -> list[int]:
    a = np.array(rows, dtype=np.int64).reshape(-1, 4)
    prev = np.full(len(rows), -1, dtype=np.int64)
    last: dict[tuple[int, int], int] = {}
    for i, (_, _, tx, content) in enumerate(rows):
        prev[i] = last.get((tx, content), -1)
        last[(tx, content)] = i
    views, count = segment_views(a[:, 0], a[:, 1], a[:, 2], prev)
    assert count == (int(views.max()) + 1 if len(rows) else 0)
    return views.tolist()


rows_strategy = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 3), st.integers(0, 2)),
    max_size=40,
)


@settings(deadline=None, max_examples=300, derandomize=True)
@given(rows=rows_strategy)
def test_segment_views_equals_reference(rows: list[tuple[int, int, int, int]]) -> None:
    assert run(rows) == reference(rows)


A, B, C, D, X = range(5)


def test_two_histories_concatenated() -> None:
    # A's history: X->A (tx0), A->B (tx1), A->C (tx2); then B's: A->B (tx1), B->D (tx3)
    rows = [(X, A, 0, 0), (A, B, 1, 1), (A, C, 2, 2), (A, B, 1, 1), (B, D, 3, 3)]
    assert run(rows) == [0, 0, 0, 1, 1]


def test_batch_payout_stays_in_one_view() -> None:
    # A pays B the same amount twice in tx1 (adjacent rows of one transaction): one view
    rows = [(X, A, 0, 0), (A, B, 1, 1), (A, B, 1, 1), (A, C, 2, 2)]
    assert run(rows) == [0, 0, 0, 0]


def test_batch_payout_interleaved_with_other_outputs() -> None:
    rows = [(A, B, 1, 1), (A, C, 1, 2), (A, B, 1, 1)]
    assert run(rows) == [0, 0, 0]
