"""Transaction numbers from the case index (tracer.store.tx_keys): equal iff the hash texts are
equal, or None — never a wrong grouping (TIHO splits a sender's outputs by these numbers)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels import fixed_width as fw

from tracer.store import tx_keys as tk
from tracer.store.case_index import _strings

# a small pool, so texts repeat; with and without "0x"; structured (zero-padded) and random
BODIES = ["0" * 63 + "1", "0" * 63 + "2", "1" + "0" * 63, "ab" * 32, "f" * 64, "0" * 64]
TEXTS = st.sampled_from(BODIES).flatmap(lambda b: st.sampled_from([b, "0x" + b]))


def _parts(texts: list[str], cuts: list[int]) -> tuple[np.ndarray, list, list]:
    bounds = sorted({0, len(texts), *(c % (len(texts) + 1) for c in cuts)})
    hashes, kinds = [], []
    for a, b in pairwise(bounds):
        chunk = texts[a:b]
        raw, _, kind = fw.encode(_strings(pa.array(chunk, pa.string())),
                                 _strings(pa.array(["1"] * len(chunk), pa.string())))  # fmt: skip
        hashes.append(raw)
        kinds.append(kind)
    return np.array(bounds, dtype=np.int64), hashes, kinds


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXTS, min_size=1, max_size=40), st.lists(st.integers(0, 40), max_size=3))
def test_numbers_are_equal_iff_the_texts_are(texts: list[str], cuts: list[int]) -> None:
    starts, hashes, kinds = _parts(texts, cuts)
    keys = tk.tx_keys(starts, hashes, kinds, len(texts))
    assert keys is not None
    for i in range(len(texts)):
        for j in range(len(texts)):
            assert (keys[i] == keys[j]) == (texts[i] == texts[j])


def test_a_collision_of_the_mix_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every multiplier 0 all numbers are equal: the byte check must refuse them."""
    monkeypatch.setattr(tk, "MIX", np.zeros(5, dtype=np.uint64))
    starts, hashes, kinds = _parts(["0x" + "ab" * 32, "0x" + "cd" * 32], [])
    assert tk.tx_keys(starts, hashes, kinds, 2) is None
    same, h2, k2 = _parts(["0x" + "ab" * 32, "0x" + "ab" * 32], [])
    keys = tk.tx_keys(same, h2, k2, 2)  # equal texts: the byte check passes
    assert keys is not None and keys[0] == keys[1]


def test_a_hash_without_exact_form_or_a_part_without_index_gives_none() -> None:
    starts, hashes, kinds = _parts(["0x" + "AB" * 32, "0x" + "ab" * 32], [])
    assert kinds[0][0] & fw.HASH_RAW
    assert tk.tx_keys(starts, hashes, kinds, 2) is None
    starts, hashes, kinds = _parts(["0x" + "ab" * 32, "0x" + "cd" * 32], [1])
    assert tk.tx_keys(starts, [hashes[0], None], kinds, 2) is None
    assert tk.tx_keys(starts, hashes, kinds, 3) is None  # not this graph's edges
