"""Number the endpoints of transfers in order of first appearance, source before destination.

Why a kernel: an ingest numbers each run of new rows' addresses in the order graph building
uses (row 0's source, row 0's destination, row 1's source, ...). Arrow's ``dictionary_encode``
gives codes in first appearance over all sources, then all destinations; renumbering them in
the interleaved order with numpy took an interleaving copy, a ``unique`` keeping order and two
gathers over 2n codes (about 0.08 s per 1M rows, on the ingest's main thread). One pass with
a rank table the size of the dictionary (small: it fits in cache) does the same.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit


@njit(cache=True, nogil=True)
def _interleaved(src: np.ndarray, dst: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    n = src.shape[0]
    rank = np.full(m, -1, dtype=np.int64)
    order = np.empty(m, dtype=np.int64)
    codes = np.empty(2 * n, dtype=np.int64)
    k = 0
    for j in range(2 * n):
        c = src[j >> 1] if j & 1 == 0 else dst[j >> 1]  # src0, dst0, src1, ...
        r = rank[c]
        if r < 0:
            r = k
            rank[c] = k
            order[k] = c
            k += 1
        codes[j] = r
    return codes, order[:k]


def interleaved_first_appearance(
    src: np.ndarray, dst: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, order)`` for codes ``src``/``dst`` (each ``n``, values in ``0..m-1``):
    ``codes`` (int64[2n]: src at even, dst at odd positions) renumbered by first appearance in
    the interleaved order, and ``order`` (int64[k]: the old code of each new number, ``k`` the
    codes that occur)."""
    src = np.ascontiguousarray(src)
    dst = np.ascontiguousarray(dst)
    if src.shape != dst.shape or src.ndim != 1:
        raise ValueError("src and dst must be 1-d arrays of the same length")
    for a in (src, dst):
        if a.size and (int(a.min()) < 0 or int(a.max()) >= m):
            raise ValueError(f"codes must lie in 0..{m - 1}")
    return _interleaved(src, dst, m)
