"""The canonical Parquet reader validates the proven text columns once: the proofs (hex or
digits, offsets and bounds checked first) stand in for Arrow's full validation of a column
they prove; every other column, and any text column they do not prove, is fully validated
before Polars sees it. What is refused is exactly what ``validate(full=True)`` refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tracer.core.errors import InputError
from tracer.sources import canonical, read_file
from tracer.sources.proofs import _offsets_sound, proven_canonical

HASH = "0x" + "a" * 64
ADDR = "0x" + "b" * 40


def _strings(offsets: list[int], data: bytes, wide: bool = True) -> pa.Array:
    """A string array straight from buffers (no validation: may be corrupt)."""
    t, it = (pa.large_string(), pa.int64()) if wide else (pa.string(), pa.int32())
    off = pa.array(offsets, it).buffers()[1]
    return pa.Array.from_buffers(t, len(offsets) - 1, [None, off, pa.py_buffer(data)])


def _table(**cols: pa.Array) -> pa.Table:
    n = len(next(iter(cols.values())))
    base = {
        "chain": pa.array(["ethereum"] * n).dictionary_encode(),
        "tx_hash": pa.array([HASH] * n, pa.large_string()),
        "src": pa.array([ADDR] * n, pa.large_string()),
        "dst": pa.array(["0x" + "c" * 40] * n, pa.large_string()),
        "value": pa.array(["7"] * n, pa.large_string()),
        "seq": pa.array(range(n), pa.int64()),
    }
    return pa.table({**base, **cols})


def _checked(table: pa.Table) -> frozenset[str]:
    """What ``canonical.read`` does with a freshly read table: the validation at read (deferred
    columns structurally only), then the proofs and the deferred full validation."""
    canonical._validate(table, canonical._deferred(table))
    constants = canonical._constants(table)
    table = table.drop_columns(list(constants))
    return canonical._proven_or_validated("f.parquet", table, constants,
                                          canonical._deferred(table))  # fmt: skip


_H = HASH.encode()
#: (column, corrupt or odd array) over two rows; each is refused exactly when Arrow refuses it.
CASES = [
    ("tx_hash", _strings([0, 66, 132], _H + _H)),  # valid and canonical
    ("tx_hash", _strings([0, 66, 132], _H + _H[:-2] + b"\xff\xfe")),  # invalid UTF-8
    ("tx_hash", _strings([0, 66, 132], _H + _H[:-2] + b"\xc3\xa9")),  # valid UTF-8, not hex
    ("tx_hash", _strings([0, 66, 40], _H + _H)),  # offsets run backwards
    ("tx_hash", _strings([0, 200, 132], _H + _H)),  # a middle offset beyond the data
    ("tx_hash", _strings([0, 66, 132], _H + _H, wide=False)),  # 32-bit offsets, canonical
    ("value", _strings([0, 1, 2], b"12")),  # valid and canonical
    ("value", _strings([0, 2, 1], b"12")),  # backwards: the digit kernel must not see it
    ("value", _strings([0, 9, 2], b"12")),  # a middle offset beyond the data
    ("value", _strings([0, 1, 2], b"1\xff")),  # invalid UTF-8
    ("value", _strings([0, 1, 3], b"1\xc3\xa9")),  # valid UTF-8, not digits
    ("src", pa.array([ADDR, None], pa.large_string())),  # a null: validated before the proof
]


@pytest.mark.parametrize(("col", "arr"), CASES)
def test_refused_exactly_where_full_validation_refuses(col: str, arr: pa.Array) -> None:
    table = _table(**{col: arr})
    try:
        table.validate(full=True)
        arrow_refuses = False
    except pa.ArrowInvalid:
        arrow_refuses = True
    if arrow_refuses:
        with pytest.raises((pa.ArrowInvalid, InputError)):
            _checked(table)
    else:
        proven = _checked(table)
        assert proven == proven_canonical(table.drop_columns(["chain"]), {"chain": "ethereum"})


def test_proven_columns_are_not_validated_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean table: every column fully validated once, except the proven text columns (the
    proof read them); an unproven text column is fully validated after the proofs."""
    seen: list[pa.ChunkedArray] = []
    real = canonical._validate_full

    def spy(col: pa.ChunkedArray) -> None:
        seen.append(col)
        real(col)

    monkeypatch.setattr(canonical, "_validate_full", spy)
    table = _table(value=pa.array(["7", "08"], pa.large_string()))  # "08": not canonical
    proven = _checked(table)
    assert proven == {"tx_hash", "src", "dst"}
    names = sorted(c for col in seen for c in table.column_names if col.equals(table[c]))
    assert names == ["chain", "seq", "value"]


def test_offsets_sound() -> None:
    assert _offsets_sound(np.array([0, 1, 3]), 3)
    assert not _offsets_sound(np.array([0, 2, 1]), 3)
    assert not _offsets_sound(np.array([0, 1, 4]), 3)
    assert not _offsets_sound(np.array([-1, 1, 2]), 3)


def test_a_clean_file_still_loads_every_row(tmp_path: Path) -> None:
    from benchmarks.workspace_case import canonical_parquet

    f = tmp_path / "c.parquet"
    canonical_parquet(5_000, f, seed=3)
    loaded = read_file(f)
    assert loaded.transfers.height == 5_000 and loaded.rejects.height == 0
