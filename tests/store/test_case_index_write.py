"""The partition index written at ingest straight into its files equals ``np.save`` of the
arrays built in memory, byte for byte (whatever the rows: canonical, odd forms, nulls)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.store.case_index import PART_FILES, _encode_into_files, _save, encode_part

HEX = "0123456789abcdef"
_hash = st.one_of(
    st.text(HEX, min_size=64, max_size=64).map(lambda h: "0x" + h),
    st.text(HEX, min_size=64, max_size=64),
    st.text("0123456789abcdefABCDEFx", max_size=70),  # other forms: marked raw
)
_value = st.one_of(st.integers(0, 10**40).map(str), st.text("0123456789 -", max_size=45))
_row = st.tuples(_hash, _value, st.one_of(st.none(), st.floats(allow_nan=False)))


@settings(max_examples=40, deadline=None)
@given(st.lists(_row, max_size=40), st.integers(1, 4))
def test_index_files_equal_np_save_of_the_arrays(tmp_path_factory, rows, pieces) -> None:  # type: ignore[no-untyped-def]
    d: Path = tmp_path_factory.mktemp("idx")
    hashes, values, amounts = ([r[i] for r in rows] for i in range(3))
    cut = len(rows) // pieces  # several chunks, as a slice of a chunked table has
    chunks = [slice(0, cut), slice(cut, len(rows))]

    def chunked(xs: list, t: pa.DataType) -> pa.ChunkedArray:
        return pa.chunked_array([pa.array(xs[c], t) for c in chunks], t)

    table = pa.table({"tx_hash": chunked(hashes, pa.large_string()),
                      "value": chunked(values, pa.large_string()),
                      "amount": chunked(amounts, pa.float64())})  # fmt: skip
    mapped = [d / f"m.{n}.npy" for n in PART_FILES]
    saved = [d / f"s.{n}.npy" for n in PART_FILES]
    _encode_into_files(table, mapped)
    arrays = encode_part(table)
    for name, f in zip(PART_FILES, saved, strict=True):
        _save(f, arrays[name])
    for a, b in zip(mapped, saved, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert np.load(mapped[0]).shape == (len(rows), 32)
    assert not list(d.glob("*.tracer-tmp"))  # temp files renamed, none left
