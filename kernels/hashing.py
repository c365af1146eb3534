"""Stable 64-bit FNV-1a hashing of Arrow string buffers.

Why: exports without a log index (TronGrid, Etherscan token CSV) need a ``seq`` that is the same
whichever export a transfer comes from, so duplicates across files de-duplicate. Polars' own hash
is documented as unstable across versions; FNV-1a over the UTF-8 bytes is stable forever and, as a
numba loop over the Arrow data buffer, runs at memory speed.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@njit(cache=True)
def _fnv1a_kernel(offsets: np.ndarray, data: np.ndarray, out: np.ndarray) -> None:
    n = offsets.shape[0] - 1
    for i in range(n):
        h = _FNV_OFFSET
        for j in range(offsets[i], offsets[i + 1]):
            h ^= np.uint64(data[j])
            h *= _FNV_PRIME
        out[i] = h


def fnv1a64(offsets: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Hash each string of an Arrow large-string layout.

    Parameters
    ----------
    offsets:
        int64[n+1], start of each string in ``data`` (Arrow large_string offsets).
    data:
        uint8 buffer of UTF-8 bytes.

    Returns
    -------
    uint64[n] FNV-1a hashes.
    """
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    data = np.ascontiguousarray(data, dtype=np.uint8)
    if offsets.ndim != 1 or offsets.shape[0] < 1:
        raise ValueError("offsets must be a 1-d array of length n+1")
    out = np.empty(offsets.shape[0] - 1, dtype=np.uint64)
    _fnv1a_kernel(offsets, data, out)
    return out
