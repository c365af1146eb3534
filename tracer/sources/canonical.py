"""tracer's own canonical Parquet (``tracer export``), re-validated on the way in.

Also reads any Parquet with the canonical column names (DuckDB/Spark outputs): it goes through the
same canonicaliser as every other format, so a hand-edited file cannot smuggle in a bad row.
"""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import polars as pl

from tracer.core.addresses import TRON, normalize_chain
from tracer.core.errors import InputError
from tracer.core.lazy_import import lazy_module
from tracer.sources.base import (
    RawBatch,
    ReadOptions,
    flag_error,
)
from tracer.sources.proofs import PROOF_COLUMNS, proven_canonical, warm_text_kernels
from tracer.sources.sample import POLARS_ERRORS, Sample
from tracer.sources.timestamps import timestamp_series, unparsed_time

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
else:  # imported when first used (~0.1 s a follow in memory never needs)
    pa = lazy_module("pyarrow")
    pc = lazy_module("pyarrow.compute")
    pq = lazy_module("pyarrow.parquet")

REQUIRED = {"chain", "tx_hash", "src", "dst", "value", "ts"}


def sniff(s: Sample) -> str | None:
    return "parquet" if s.kind == "parquet" else None


def _arrow_errors() -> tuple[type[BaseException], ...]:
    """What pyarrow raises on a corrupt or unreadable Parquet file: its own errors (ArrowInvalid
    for bad metadata or data, ArrowIOError = OSError for truncation, ArrowNotImplementedError
    for an encoding it does not know), OSError from the file system, and UnicodeDecodeError for
    key-value metadata that is not UTF-8 (found by flipping bits in the footer). A function, so
    importing this module imports no pyarrow (an ``except`` clause evaluates it only on an
    error)."""
    return (pa.ArrowException, OSError, UnicodeDecodeError)


#: Columns that must be plain scalars (a list or struct column is not a canonical export).
_SCALAR = {"chain", "asset", "token", "tx_hash", "seq", "block", "ts", "src", "dst", "value",
           "decimals"}  # fmt: skip
_TEXT = {"chain", "asset", "token", "tx_hash", "src", "dst", "value"}


#: Columns an export holds one or a few values of (one chain, one token per file, usually):
#: read as Arrow dictionaries, so ten million copies of one string are never decoded (nor
#: validated, converted and compared) when the column holds one value.
_FEW = ("chain", "asset", "token")


def _read_table(path: str, groups: list[int] | None = None,
                file: pq.ParquetFile | None = None) -> pa.Table:  # fmt: skip
    """Read and fully validate with pyarrow before Polars sees the data: a bit-flipped file can
    otherwise decode into buffers that make Polars' Rust code panic.

    Only the canonical columns are read (another column is the user's, never used), and the
    text columns of :data:`_FEW` as dictionaries (:func:`_constants` then spots one value).
    ``groups``: only those row groups (of ``file``, opened by :func:`open_file`)."""
    try:
        if groups is None:
            schema = pq.read_schema(path)
            keep, few = _columns(schema)
            table = pq.read_table(path, columns=keep, read_dictionary=few,  # CRCs where written
                                  page_checksum_verification=True)  # fmt: skip
        else:
            assert file is not None
            table = file.read_row_groups(groups, columns=_columns(file.schema_arrow)[0])
        _validate(table, _deferred(table))
    except _arrow_errors() as exc:
        raise _unreadable(path, exc) from None
    return table


def _columns(schema: pa.Schema) -> tuple[list[str], list[str]]:
    """The canonical columns to read, and which of them to read as dictionaries."""
    keep = [c for c in schema.names if c in _SCALAR]
    return keep, [c for c in _FEW if c in keep and _is_text(schema.field(c).type)]


def read_groups(path: str, groups: list[int], file: pq.ParquetFile) -> pa.Table:
    """Row groups ``groups`` of ``file`` (:func:`open_file`), checked as :func:`read` checks."""
    return _read_table(path, groups, file)


def open_file(path: str) -> pq.ParquetFile:
    """``path`` opened for reading row groups as :func:`_read_table` reads the whole file."""
    try:
        few = _columns(pq.read_schema(path))[1]
        return pq.ParquetFile(path, read_dictionary=few, page_checksum_verification=True)
    except _arrow_errors() as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: str, exc: BaseException) -> InputError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputError(path, None, None, f"unreadable Parquet: {first}")


def _validate(table: pa.Table, deferred: Collection[str] = ()) -> None:
    """``table.validate(full=True)``, column by column on two threads (Arrow releases the GIL):
    the same checks (offsets, UTF-8, dictionary indices), half the wall time. The first
    invalid column raises, as the whole-table call did.

    ``deferred`` (:func:`_deferred`): text columns only structurally checked here (buffer
    sizes); their full check is :func:`_proven_or_validated`'s."""
    table.validate()  # the table's own structure (column lengths) first
    cols = [c for c in table.column_names if c not in deferred]
    for name in deferred:
        table[name].validate()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in pool.map(lambda c: _validate_full(table[c]), cols):
            pass


def _validate_full(col: pa.ChunkedArray) -> None:
    col.validate(full=True)


def _deferred(table: pa.Table) -> list[str]:
    """The text columns whose full validation waits for the proofs: plain strings without
    nulls that :func:`~tracer.sources.proofs.proven_canonical` checks. A proven column is
    ASCII hex or digits in bounds with offsets rising (the proofs check offsets and bounds
    before any byte), so valid UTF-8 with valid offsets: what ``validate(full=True)`` checks,
    read once instead of twice (0.45 s of CPU per 10M rows, measured)."""
    return [c for c in PROOF_COLUMNS if c in table.column_names
            and _is_text(table.schema.field(c).type) and table[c].null_count == 0]  # fmt: skip


def _proven_or_validated(
    path: str, table: pa.Table, constants: dict[str, str], deferred: Collection[str]
) -> frozenset[str]:
    """The proofs (:func:`_proof`), then the full validation of the ``deferred`` columns the
    proofs did not prove (an invalid one raises the same :class:`InputError` as before)."""
    proven = _proof(table, constants)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for _ in pool.map(_validate_full, [table[c] for c in deferred if c not in proven]):
                pass
    except _arrow_errors() as exc:
        raise _unreadable(path, exc) from None
    return proven


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _constants(table: pa.Table) -> dict[str, str]:
    """The dictionary-read text columns that hold one non-null value on every row (every
    chunk's dictionary is that one value: proven from the dictionaries, no pass over the rows).
    A column with more values, or a dictionary entry no row uses, is simply not listed."""
    out: dict[str, str] = {}
    for name in _FEW:
        if name not in table.column_names:
            continue
        col = table[name]
        if not pa.types.is_dictionary(col.type) or not _is_text(col.type.value_type):
            continue
        if col.null_count or not col.num_chunks or len(col) == 0:
            continue
        values = {v for c in col.chunks for v in c.dictionary.to_pylist()}
        if len(values) == 1 and all(len(c.dictionary) == 1 for c in col.chunks):
            (value,) = values
            if isinstance(value, str):
                out[name] = value
    return out


def read(s: Sample, fmt: str, opts: ReadOptions) -> RawBatch:
    path = str(s.path)
    warm = warm_text_kernels()  # while pyarrow decodes
    table = _read_table(path)
    warm.result()
    return from_table(path, table, fmt)


def from_table(path: str, table: pa.Table, fmt: str, first_row: int = 1) -> RawBatch:
    """The raw batch of ``table`` (rows of the file ``path`` from row ``first_row`` on, read
    by :func:`_read_table`): every check of a whole-file read, rows numbered as in the file."""
    missing = REQUIRED - set(table.column_names)
    if missing:
        raise InputError(
            path, None, None, f"Parquet lacks canonical column(s): {', '.join(sorted(missing))}"
        )
    for name in table.column_names:
        t = table.schema.field(name).type
        if name in _SCALAR and (pa.types.is_nested(t) or pa.types.is_dictionary(t)):
            if pa.types.is_dictionary(t) and not pa.types.is_nested(t.value_type):
                continue
            raise InputError(path, None, name, f"column has type {t}, expected a scalar")
    # only the canonical columns are read (a column named like an internal one, e.g. _native,
    # is the user's data, never an instruction)
    keep = [c for c in table.column_names if c in _SCALAR]
    table = table.select(keep)
    # a column of one value joins the frame as that value repeated (never decoded per row)
    constants = _constants(table)
    table = table.drop_columns(list(constants))
    try:
        for name in _TEXT & set(table.column_names):
            t = table.schema.field(name).type
            if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
                idx = table.column_names.index(name)
                table = table.set_column(idx, name, pc.cast(table[name], pa.large_string()))
    except _arrow_errors() as exc:
        raise InputError(path, None, name, f"column cannot be read as text: {exc}") from None
    # Polars takes the table only once every column is proven or fully validated
    proven = _proven_or_validated(path, table, constants, _deferred(table))
    try:
        original = pl.from_arrow(table)
    except POLARS_ERRORS as exc:
        raise InputError(path, None, None, f"unreadable Parquet: {exc}") from None
    assert isinstance(original, pl.DataFrame)
    original, frame = _frames(original, constants, keep, first_row)
    # the chain is a column of this format: a blank one is an error, not "ethereum"
    # (a chain of one value on every row is decided on that value, not on 10M copies of it)
    chain = pl.Series([constants["chain"]]) if "chain" in constants else frame["chain"]
    blank = (chain.is_null() | (chain.str.strip_chars() == "")).fill_null(True)
    if "chain" in constants and blank.any():
        blank = pl.repeat(True, frame.height, eager=True)
    if "chain" not in constants or blank.any():
        frame = flag_error(frame, blank, "chain", "missing chain name")
    required = ("seq",) if "seq" in frame.columns else ()  # a null seq is not "derive one"
    # the rows as read; rejects show their times as text (cast there, for the rejected rows only)
    return RawBatch(frame, original, {}, fmt, native_by_asset=True, required=required,
                    canonical=proven)  # fmt: skip


def _frames(
    original: pl.DataFrame, constants: dict[str, str], keep: list[str], first_row: int = 1
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(original, frame)``: the rows as read (the constant columns added back, a ``_row``
    number) and the raw frame the canonicaliser takes (``ts`` as µs, ``_ts_text``)."""
    if constants:
        # materialised once (a literal column would be expanded again by every frame built
        # from it: 0.6 s against 0.3 s for four uses of a 10M-row token column, measured)
        n = original.height
        original = original.with_columns(
            pl.repeat(v, n, eager=True, dtype=pl.String).alias(c) for c, v in constants.items()
        ).select(keep)
    original = original.with_row_index("_row", offset=first_row)
    frame = original.select(
        pl.col("_row").cast(pl.Int64),
        *(pl.col(c) for c in original.columns if c not in ("_row", "ts")),
        _ts(original),
        _ts_text(original),
    )
    return original, frame


def _proof(table: pa.Table, constants: dict[str, str]) -> frozenset[str]:
    """Columns proven canonical on the Arrow buffers as read (no conversion to check them):
    only when every row names one EVM chain, already spelled canonically. ``constants``: the
    columns left out of ``table`` because every row holds that one value."""
    chains = [constants["chain"]] if "chain" in constants else pc.unique(table["chain"]).to_pylist()
    if len(chains) != 1 or not isinstance(chains[0], str):
        return frozenset()
    try:
        if normalize_chain(chains[0]) != chains[0] or chains[0] == TRON:
            return frozenset()
    except ValueError:
        return frozenset()
    return proven_canonical(table, constants)


def _ts(original: pl.DataFrame) -> pl.Expr:
    """``ts`` as µs: datetimes of any unit and zone, dates, or epoch numbers/text."""
    dtype = original.schema["ts"]
    ts = pl.col("ts")
    if isinstance(dtype, pl.Datetime):
        return ts.dt.epoch("us").alias("ts")
    if dtype == pl.Date:
        return ts.cast(pl.Datetime("us")).dt.epoch("us").alias("ts")
    return pl.lit(timestamp_series(original, "ts")).alias("ts")


def _ts_text(original: pl.DataFrame) -> pl.Expr:
    if isinstance(original.schema["ts"], pl.Datetime) or original.schema["ts"] == pl.Date:
        return pl.lit(None, pl.String).alias("_ts_text")
    return unparsed_time(pl.col("ts"), pl.lit(timestamp_series(original, "ts")))
