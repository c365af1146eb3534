"""Whole-column checks of Arrow string buffers: is every value already in canonical form?

Why: a canonical export (``tracer export``, an ethereum-etl dump) holds hashes, addresses and
values that are already canonical; proving it lets ingest keep the column as it is instead of
normalising it row by row. A regex over 10M addresses costs about a second a column; one numba
loop over the Arrow data buffer that stops at the first miss runs at memory speed. A ``False``
only means "take the normalising path", never that a value is bad.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit


@njit(cache=True, nogil=True)
def all_hex(offsets: np.ndarray, data: np.ndarray, n_hex: int, prefixed: bool) -> bool:
    """Whether every string is ``0x`` (when ``prefixed``) then exactly ``n_hex`` lowercase hex
    digits. ``offsets``: int64[n+1] (Arrow large_string offsets), ``data``: uint8 bytes.

    Lengths first; then each string's digits are checked without a branch per byte
    (unsigned wrap-around: ``c - 48 >= 10`` is not 0-9, ``c - 97 >= 6`` is not a-f), so the
    compiler vectorises the inner loop: 1.7x faster than testing byte by byte (10M hashes)."""
    width = n_hex + 2 if prefixed else n_hex
    start = 2 if prefixed else 0
    n = offsets.shape[0] - 1
    for i in range(n):
        if offsets[i + 1] - offsets[i] != width:
            return False
    for i in range(n):
        a = offsets[i]
        if prefixed and (data[a] != 48 or data[a + 1] != 120):  # "0x"
            return False
        bad = np.uint8(0)
        for j in range(a + start, a + width):
            c = data[j]
            not_digit = np.uint8(np.uint8(c - np.uint8(48)) >= np.uint8(10))
            not_letter = np.uint8(np.uint8(c - np.uint8(97)) >= np.uint8(6))
            bad |= not_digit & not_letter
        if bad:
            return False
    return True


@njit(cache=True, nogil=True)
def all_plain_digits(offsets: np.ndarray, data: np.ndarray, max_len: int) -> bool:
    """Whether every string is a non-negative integer written canonically (digits only, no
    leading zero but a lone ``0``) of fewer than ``max_len`` digits."""
    for i in range(offsets.shape[0] - 1):
        a, b = offsets[i], offsets[i + 1]
        if b - a == 0 or b - a >= max_len:
            return False
        if data[a] == 48 and b - a > 1:  # leading zero
            return False
        for j in range(a, b):
            c = data[j]
            if c < 48 or c > 57:
                return False
    return True
