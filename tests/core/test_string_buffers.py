"""``string_buffers``: a Polars column's bytes copied out by Polars (small columns, no pyarrow)
are Arrow's buffers of the same column, byte for byte, and read-only like them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.core import string_buffers as sb

ROOT = Path(__file__).resolve().parents[2]

texts = st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=40)


def _same(series: pl.Series) -> None:
    off_p, data_p = sb.polars_buffers(series)
    off_a, data_a = sb.arrow_buffers(series)
    assert off_p.dtype == off_a.dtype == np.int64 and data_p.dtype == data_a.dtype == np.uint8
    assert len(off_p) == len(series) + 1
    # Arrow may keep a null's bytes or leave them out; every non-null string is the same
    for i, v in enumerate(series.to_list()):
        want = b"" if v is None else v.encode()
        assert bytes(data_p[off_p[i] : off_p[i + 1]]) == want
        if v is not None:
            assert bytes(data_a[off_a[i] : off_a[i + 1]]) == want
    if not series.null_count():
        assert np.array_equal(off_p - off_p[0], off_a - off_a[0])
        assert bytes(data_p) == bytes(data_a[off_a[0] : off_a[-1]])
    assert not off_p.flags.writeable and not data_p.flags.writeable


@settings(max_examples=200, deadline=None)
@given(texts, st.integers(0, 5), st.integers(0, 5))
def test_polars_buffers_are_arrows(values: list[str | None], lo: int, cut: int) -> None:
    series = pl.Series("k", values, dtype=pl.String)
    _same(series)
    _same(series.slice(min(lo, len(series)), max(len(series) - lo - cut, 0)))  # an offset view


@given(texts, texts)
def test_two_chunks(a: list[str | None], b: list[str | None]) -> None:
    series = pl.concat([pl.Series("k", a, pl.String), pl.Series("k", b, pl.String)],
                       rechunk=False)  # fmt: skip
    _same(series)


def test_a_large_column_goes_through_arrow() -> None:
    series = pl.Series("k", [f"0x{i:040x}" for i in range(sb.SMALL_COLUMN + 1)])
    off, data = sb.string_buffers(series)
    assert off[-1] == len(data) == 42 * len(series)  # one contiguous buffer, zero-copy
    assert bytes(data[off[5] : off[6]]) == b"0x" + b"0" * 39 + b"5"


def test_a_small_column_imports_no_pyarrow() -> None:
    code = ("import sys, polars as pl; from tracer.core.string_buffers import string_buffers;"
            " o, d = string_buffers(pl.Series(['ab', 'c'])); print(o.tolist(), bytes(d),"
            " 'pyarrow' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""}, check=True)  # fmt: skip
    assert out.stdout.strip() == "[0, 2, 3] b'abc' False", out.stderr
