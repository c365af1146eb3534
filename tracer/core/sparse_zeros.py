"""Zeroed arrays that are written sparsely: paged in 4 KiB at a time, not 2 MiB.

numpy asks the kernel for transparent huge pages on every array of 4 MiB or more
(``madvise(MADV_HUGEPAGE)``). For an array a question writes in a few hundred scattered places
(a role or state entry per touched address of a 40M-address chain) that turns each write into
a 2 MiB page zeroed by the kernel: 200 scattered writes into a 40M int8 and a 40M x 2 float64
array cost 60-770 ms of CPU with huge pages and ~1 ms without (measured on this machine). So
these arrays are allocated with numpy's huge-page advice switched off for the call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_core = getattr(np, "_core", None)
_toggle = getattr(getattr(_core, "multiarray", None), "_set_madvise_hugepage", None)


def sparse_zeros(shape: Any, dtype: Any = np.float64) -> np.ndarray:
    """``np.zeros(shape, dtype)`` without the huge-page advice (see the module docstring)."""
    if _toggle is None:
        return np.zeros(shape, dtype=dtype)
    previous = _toggle(False)
    try:
        return np.zeros(shape, dtype=dtype)
    finally:
        _toggle(previous)
