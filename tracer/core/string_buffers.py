"""A Polars string column's bytes as Arrow large-string buffers, for the byte kernels.

The text kernels (hashes, canonical-form proofs) read a column as int64 offsets and one uint8
buffer of bytes. A large column comes zero-copy through Arrow (``to_arrow``, what Polars holds
after a Parquet read); a small one is gathered by Polars and numpy alone.

Why two ways: ``to_arrow`` imports pyarrow, 0.03-0.05 s of CPU, the biggest single cost a cold
``tracer follow`` over the sample case's JSON files paid for Arrow; that case's columns have a
few hundred rows, which Polars copies out in microseconds. Above :data:`SMALL_COLUMN` rows the
copy (one Python ``bytes`` per row) would cost more than the import. Both give the same arrays
(tests/core/test_string_buffers.py), read-only like Arrow's, so a kernel sees one signature.
"""

from __future__ import annotations

import numpy as np
import polars as pl

#: Rows up to which a column is copied out by Polars (about 1 ms at this size) instead of
#: exported through pyarrow.
SMALL_COLUMN = 1 << 14


def string_buffers(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets, data)`` of a String column: ``len + 1`` int64 offsets into uint8 ``data``,
    both read-only. A null is an empty string (equal offsets), as in Arrow's buffers."""
    if len(series) > SMALL_COLUMN:
        return arrow_buffers(series)
    return polars_buffers(series)


def polars_buffers(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`string_buffers` by Polars and numpy (no pyarrow)."""
    lengths = series.str.len_bytes().fill_null(0).to_numpy()
    offsets = np.zeros(len(series) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    offsets.flags.writeable = False
    data = np.frombuffer(b"".join(series.cast(pl.Binary).fill_null(b"").to_numpy()), np.uint8)
    return offsets, data


def arrow_buffers(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`string_buffers` through Arrow: zero-copy when Polars holds one chunk."""
    import pyarrow as pa

    arr = series.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():  # Polars gives large strings: no cast, no pyarrow.compute
        arr = arr.cast(pa.large_string())
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    return offsets, data
