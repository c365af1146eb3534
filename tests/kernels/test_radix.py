"""kernels/radix.py against numpy's sort: the same order, the other bits carried along."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels.radix import MAX_DIGIT, passes_for, sort_bits


def reference(a: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """A stable sort by bits ``lo..hi - 1`` in plain numpy."""
    digit = (a >> lo) & ((1 << (hi - lo)) - 1) if hi > lo else np.zeros_like(a)
    return a[np.argsort(digit, kind="stable")]


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, int, int, int]:
    lo = draw(st.integers(0, 20))
    width = draw(st.integers(0, 40))
    n = draw(st.integers(0, 300))
    top = min(lo + width, 62)  # sort_bits' contract: no bit set at hi or above
    vals = draw(st.lists(st.integers(0, (1 << top) - 1), min_size=n, max_size=n))
    spare = draw(st.integers(0, 5))  # tmp may be longer than the values
    return np.array(vals, np.int64), lo, top, spare


@settings(max_examples=300, deadline=None)
@given(cases())
def test_sort_bits_is_numpys_stable_sort_by_those_bits(c: tuple) -> None:
    a, lo, hi, spare = c
    tmp = np.full(a.shape[0] + spare, -7, np.int64)
    got = sort_bits(a.copy(), lo, hi, tmp)
    assert got.shape == a.shape
    assert got.tolist() == reference(a, lo, hi).tolist()


def test_unique_keys_sort_fully() -> None:
    """The engine's use: unique keys above an index payload, many passes skipped or not."""
    rng = np.random.default_rng(3)
    for n_edges in (1_000, 1 << 20, 200_000_000):
        keys = rng.choice(n_edges, min(5_000, n_edges), replace=False).astype(np.int64)
        ib = int(keys.shape[0] - 1).bit_length()
        packed = (keys << ib) | np.arange(keys.shape[0])
        got = sort_bits(packed.copy(), ib, ib + int(n_edges - 1).bit_length(),
                        np.empty_like(packed))  # fmt: skip
        assert (got == np.sort(packed)).all()


def test_passes() -> None:
    assert passes_for(0) == (0, 0)
    assert passes_for(20) == (2, 10)
    assert passes_for(MAX_DIGIT) == (1, MAX_DIGIT)
    assert passes_for(28) == (3, 10)
