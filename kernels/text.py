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

#: Strings per block of :func:`all_hex`'s flat pass (a miss stops the pass at its block).
HEX_BLOCK = 1024


@njit(cache=True, nogil=True)
def all_hex(offsets: np.ndarray, data: np.ndarray, n_hex: int, prefixed: bool) -> bool:
    """Whether every string is ``0x`` (when ``prefixed``) then exactly ``n_hex`` lowercase hex
    digits. ``offsets``: int64[n+1] (Arrow large_string offsets), ``data``: uint8 bytes.

    Lengths first: when every string has the canonical width they lie back to back, so the
    bytes are checked in one flat pass per block of :data:`HEX_BLOCK` strings, without a
    branch per byte or per string (unsigned wrap-around: ``c - 48 >= 10`` is not 0-9,
    ``c - 97 >= 6`` is not a-f), which the compiler vectorises: 2.5x faster than a loop per
    string (0.26 against 0.55 s CPU for 10M hashes). The pass lets ``x`` through and counts
    it: a block is canonical when each of its strings starts ``0x`` and the block holds no
    other ``x`` (as many as it has strings; none when not ``prefixed``)."""
    width = n_hex + 2 if prefixed else n_hex
    n = offsets.shape[0] - 1
    for i in range(n):
        if offsets[i + 1] - offsets[i] != width:
            return False
    if n == 0:
        return True
    if offsets[0] < 0 or offsets[n] > data.shape[0]:
        return False
    for first in range(0, n, HEX_BLOCK):
        last = min(first + HEX_BLOCK, n)
        block = data[offsets[first] : offsets[last]]  # a slice: unit stride, no wrap-around
        bad = np.uint8(0)
        xs = np.int64(0)
        for k in range(block.shape[0]):
            c = block[k]
            not_digit = np.uint8(np.uint8(c - np.uint8(48)) >= np.uint8(10))
            not_letter = np.uint8(np.uint8(c - np.uint8(97)) >= np.uint8(6))
            is_x = np.uint8(c == np.uint8(120))
            bad |= not_digit & not_letter & (is_x ^ np.uint8(1))
            xs += is_x
        if bad or xs != (last - first if prefixed else 0):
            return False
        if prefixed:
            for i in range(first, last):
                a = offsets[i]
                if data[a] != 48 or data[a + 1] != 120:  # "0x"
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
