"""sparse_zeros: zeros of the asked shape and type, numpy's huge-page advice restored after."""

from __future__ import annotations

import numpy as np

from tracer.core import sparse_zeros as sz


def test_sparse_zeros_are_zeros_and_leave_numpys_setting_as_it_was() -> None:
    a = sz.sparse_zeros((5, 2), np.float64)
    b = sz.sparse_zeros(7, np.int8)
    assert a.shape == (5, 2) and a.dtype == np.float64 and not a.any()
    assert b.shape == (7,) and b.dtype == np.int8 and not b.any()
    assert sz._toggle is not None  # the numpy this project pins has the switch
    for setting in (True, False):
        sz._toggle(setting)
        sz.sparse_zeros(3)
        assert sz._toggle(setting) is setting  # returns the previous value: unchanged
    sz._toggle(True)  # numpy's default
