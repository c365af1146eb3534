"""Proofs that text columns are already canonical, run on Arrow buffers by numba kernels.

Why: a clean export's hashes, addresses, token contracts and values need no normalising; one
byte pass per column (:mod:`tracer.kernels.text`) proves it, and the reader keeps the column as
read. Anything not proven goes through the normaliser in :mod:`tracer.sources.base`.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from tracer.core.addresses import TRON
from tracer.core.amounts import UINT256_MAX
from tracer.core.lazy_import import lazy_module
from tracer.core.string_buffers import string_buffers
from tracer.kernels.text import all_hex, all_plain_digits

if TYPE_CHECKING:
    import pyarrow as pa
else:  # imported when first used: a follow over JSON files proves Polars columns
    pa = lazy_module("pyarrow")

_UINT256_MAX_DIGITS = str(UINT256_MAX)


#: Canonical form of each id column: (hex digits, ``0x`` prefix); ``value``: digits.
_FORMS = {"tx_hash": (64, True), "src": (40, True), "dst": (40, True), "token": (40, True)}
#: The columns :func:`proven_canonical` checks.
PROOF_COLUMNS = (*_FORMS, "value")


def _checked_columns(chain: str) -> dict[str, tuple[int, bool]]:
    """The columns whose canonical form is fixed hex on ``chain`` (Tron: bare hash only;
    its base58 addresses always take the normaliser)."""
    return {"tx_hash": (64, False)} if chain == TRON else _FORMS


def _canonical_arrow(arr: pa.Array | pa.ChunkedArray, col: str, form: tuple[int, bool]) -> bool:
    """Whether an Arrow string column is canonical everywhere (nulls allowed only in
    ``token``: the native coin; ``value`` nowhere)."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    for chunk in chunks:
        if chunk.null_count:
            if col != "token":
                return False
            chunk = chunk.drop_null()
        if not (pa.types.is_large_string(chunk.type) or pa.types.is_string(chunk.type)):
            return False
        if len(chunk) == 0:
            continue
        _, off_buf, data_buf = chunk.buffers()
        wide = pa.types.is_large_string(chunk.type)
        offsets = np.frombuffer(off_buf, dtype=np.int64 if wide else np.int32)
        offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1].astype(np.int64, copy=False)
        data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
        if not _canonical_buffers(offsets, data, col, form):
            return False
    return True


def _canonical_series(series: pl.Series, col: str, form: tuple[int, bool]) -> bool:
    """:func:`_canonical_arrow` of a Polars column, whose bytes come out without pyarrow when
    the column is small (:func:`tracer.core.string_buffers.string_buffers`)."""
    if series.null_count():
        if col != "token":
            return False
        series = series.drop_nulls()
    if series.dtype != pl.String:
        return False
    if len(series) == 0:
        return True
    return _canonical_buffers(*string_buffers(series), col, form)


def _canonical_buffers(offsets: np.ndarray, data: np.ndarray, col: str,
                       form: tuple[int, bool]) -> bool:  # fmt: skip
    """The proof over one column's int64 offsets and bytes (no nulls).

    A column may come here before Arrow's full validation (the reader defers it for the
    columns proven here): no byte is read outside the data buffer. ``all_hex`` checks every
    length and the bounds before any byte; the digits' offsets here."""
    if col == "value":
        return _offsets_sound(offsets, data.shape[0]) and bool(
            all_plain_digits(offsets, data, len(_UINT256_MAX_DIGITS))
        )
    return bool(all_hex(offsets, data, form[0], form[1]))


def _offsets_sound(offsets: np.ndarray, size: int) -> bool:
    """Offsets that never fall and stay within a data buffer of ``size`` bytes."""
    return bool(offsets[0] >= 0 and offsets[-1] <= size and (offsets[1:] >= offsets[:-1]).all())


def proven_canonical(table: pa.Table, constants: dict[str, str] | None = None) -> frozenset[str]:
    """The columns of an Arrow table already in their canonical EVM form (the same on every
    EVM chain; a reader asks only when every row is of one EVM chain). ``constants``: columns
    not in ``table`` that hold one value on every row (checked as that one value).

    The columns are checked on two threads (the kernels release the GIL): the proofs of a
    10M-row export take half the wall time."""
    forms = {**_checked_columns("ethereum"), "value": (0, False)}
    consts = {c: pa.array([v], pa.large_string()) for c, v in (constants or {}).items()}
    todo = {c: consts[c] if c in consts else table[c]
            for c in forms if c in consts or c in table.column_names}  # fmt: skip
    with ThreadPoolExecutor(max_workers=2) as pool:
        ok = dict(zip(todo, pool.map(lambda c: _canonical_arrow(todo[c], c, forms[c]), todo),
                      strict=True))  # fmt: skip
    return frozenset(c for c, good in ok.items() if good)


def warm_text_kernels() -> Future[None]:
    """Load the text kernels (numba's first dispatch costs about a second of imports and
    cache loading) on a background thread, so a reader can do it while pyarrow decodes (which
    releases the GIL). The argument types :func:`_canonical_arrow` passes (Arrow buffers come
    read-only or writable)."""
    def load() -> None:
        offsets = np.zeros(2, dtype=np.int64)
        for data in (np.frombuffer(b"0", dtype=np.uint8), np.zeros(1, dtype=np.uint8)):
            all_hex(offsets, data, 40, True)
            all_plain_digits(offsets, data, len(_UINT256_MAX_DIGITS))
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(load)
    finally:
        pool.shutdown(wait=False)
