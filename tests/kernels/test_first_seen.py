"""kernels/first_seen.py against a plain-Python reference (first appearance, interleaved)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels.first_seen import interleaved_first_appearance


def reference(src: list[int], dst: list[int]) -> tuple[list[int], list[int]]:
    rank: dict[int, int] = {}
    codes = []
    for s, d in zip(src, dst, strict=True):
        for c in (s, d):
            if c not in rank:
                rank[c] = len(rank)
            codes.append(rank[c])
    return codes, list(rank)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12).flatmap(lambda m: st.tuples(
    st.just(m), st.lists(st.tuples(st.integers(0, m - 1), st.integers(0, m - 1)), max_size=40))))
def test_interleaved_first_appearance_is_the_reference(case: tuple[int, list]) -> None:
    m, pairs = case
    src = np.array([p[0] for p in pairs], dtype=np.int32)
    dst = np.array([p[1] for p in pairs], dtype=np.int32)
    codes, order = interleaved_first_appearance(src, dst, m)
    want_codes, want_order = reference(src.tolist(), dst.tolist())
    assert codes.tolist() == want_codes
    assert order.tolist() == want_order


def test_codes_outside_the_dictionary_are_refused() -> None:
    with pytest.raises(ValueError):
        interleaved_first_appearance(np.array([0, 3]), np.array([1, 1]), 3)
    with pytest.raises(ValueError):
        interleaved_first_appearance(np.array([0]), np.array([-1]), 3)
    with pytest.raises(ValueError):
        interleaved_first_appearance(np.array([0]), np.array([0, 1]), 3)
