"""The canonical-form column checks (kernels/text.py) against regular expressions."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels.text import all_hex, all_plain_digits


def buffers(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    arr = pa.array(values, type=pa.large_string())
    _, off, data = arr.buffers()
    offsets = np.frombuffer(off, dtype=np.int64)[: len(values) + 1]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets, raw


#: Characters near the edges of the accepted sets, so misses are found, not only hits.
HEXISH = st.sampled_from([*"0123456789abcdefABCDEFgx/:`G", "é"])


def hexes(n_hex: int, prefixed: bool) -> st.SearchStrategy[str]:
    good = st.text("0123456789abcdef", min_size=n_hex, max_size=n_hex)
    bad = st.text(HEXISH, min_size=max(0, n_hex - 1), max_size=n_hex + 3)
    body = st.one_of(good, good, bad)
    pre = st.sampled_from(["0x", "0x", "0X", "x0", ""]) if prefixed else st.sampled_from(["", "0x"])
    return st.builds(lambda p, b: p + b, pre, body)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 6), st.booleans(), st.data())
def test_all_hex_is_the_regex(n_hex: int, prefixed: bool, data: st.DataObject) -> None:
    values = data.draw(st.lists(hexes(n_hex, prefixed), max_size=6))
    pattern = ("0x" if prefixed else "") + f"[0-9a-f]{{{n_hex}}}"
    expected = all(re.fullmatch(pattern, v) for v in values)
    assert all_hex(*buffers(values), n_hex, prefixed) == expected


DIGITISH = st.text(st.sampled_from([*"0123456789", "-", " ", "e", "/", ":", "٣"]),
                   max_size=8)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(DIGITISH, st.integers(0, 10**9).map(str)), max_size=6),
       st.integers(2, 9))  # fmt: skip
def test_all_plain_digits_is_the_regex(values: list[str], max_len: int) -> None:
    expected = all(re.fullmatch(r"0|[1-9][0-9]*", v) and len(v) < max_len for v in values)
    assert all_plain_digits(*buffers(values), max_len) == expected


def test_a_78_digit_value_is_left_to_the_full_check() -> None:
    """uint256 max has 78 digits: such values go through value_error (compared exactly)."""
    big = str(2**256 - 1)
    assert not all_plain_digits(*buffers([big]), len(big))
    assert all_plain_digits(*buffers(["1" * 77, "0"]), len(big))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3 * 1024), st.booleans(), st.integers(1, 5),
       st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 70), HEXISH), max_size=3))
def test_all_hex_over_several_blocks_is_the_regex(
    n: int, prefixed: bool, n_hex: int, edits: list[tuple[int, int, str]]
) -> None:
    """Columns longer than a block of the flat pass (``HEX_BLOCK`` strings), with a few
    characters changed anywhere (an ``x`` among the digits, a lost prefix, upper case...)."""
    pre = "0x" if prefixed else ""
    values = [pre + format(i * 2654435761 % 16**n_hex, f"0{n_hex}x") for i in range(n)]
    for row, at, ch in edits:
        v = values[row % n]
        at %= len(v)
        values[row % n] = v[:at] + ch + v[at + 1 :]
    pattern = pre + f"[0-9a-f]{{{n_hex}}}"
    expected = all(re.fullmatch(pattern, v) for v in values)
    assert all_hex(*buffers(values), n_hex, prefixed) == expected


def test_an_x_moved_from_one_prefix_into_another_string_is_caught() -> None:
    """The flat pass counts ``x``: two in one string and none in the next still fail."""
    assert all_hex(*buffers(["0xaa", "0xab"]), 2, True)
    assert not all_hex(*buffers(["0xxa", "00ab"]), 2, True)
    assert not all_hex(*buffers(["xa"]), 2, False)
    assert not all_hex(*buffers(["0xa", "x0a"]), 1, True)
