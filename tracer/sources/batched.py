"""A big CSV export read in pieces, so ingest memory is bounded by a batch, not the file.

:func:`read_batches` yields one :class:`~tracer.sources.base.Loaded` per run of consecutive
records, each read by the format's own reader (the records are re-written as a small CSV with
the file's header and handed to :func:`tracer.sources.read_file`, so every rule of the format
applies unchanged). What the caller sees is what one whole-file read would give:

* row numbers in errors and rejects are the file's (offset by the records before the batch),
  and the file named is the user's;
* ``read``, skipped and rejected counts add up over the batches to the file's;
* content-derived ``seq`` values (exports without a log index) count identical transfers of a
  transaction over the *whole file*: a batch's occurrence index is shifted by the identical
  transfers earlier batches held (only such rows are remembered, usually none).

Other files (JSON, small CSVs, small Parquet) are read whole, as one batch.

A big canonical Parquet is read in runs of row groups (:func:`parquet_batches`), each checked as
a whole-file read checks it (:func:`tracer.sources.canonical.from_table`), rows numbered as in
the file; with each batch comes the least time any later row group can hold (from the row
groups' statistics), so a caller can tell which months are complete before the file is read
to its end (:mod:`tracer.store.streamed`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa

from tracer.core.atomic import batch_dir
from tracer.core.errors import InputError
from tracer.sources import canonical, detect, read_file
from tracer.sources.base import Loaded, ReadOptions, canonicalize
from tracer.sources.proofs import warm_text_kernels
from tracer.sources.sample import sample

#: CSV files at least this large are read in batches.
BATCH_BYTES = 256 * 2**20
#: Records per batch (about 0.5 GB peak for a token-transfer export, most of it the reader).
BATCH_ROWS = 500_000
#: Rows per batch of a big canonical Parquet (whole row groups). Small enough that each
#: column's buffers stay under glibc's 32 MB mmap threshold, so a freed batch's memory is
#: reused by the next instead of returned to the kernel and faulted in again: 10M rows took
#: 1.1-1.2M page faults and 12.0-12.6 s CPU in 250k-row batches, 1.6M / 13.7-14.6 s in 400k,
#: 2.1-2.2M / 15.6-18.6 s in 1M (one process each, load 5-7, h-ingest6 note).
PARQUET_BATCH_ROWS = 250_000


def read_batches(
    path: str | Path,
    *,
    fmt: str | None = None,
    options: ReadOptions | None = None,
    skip_bad: bool = False,
    tmp_dir: Path | None = None,
    batch_rows: int | None = None,
    batch_bytes: int | None = None,
) -> Iterator[Loaded]:
    """The file's canonical transfers, in pieces (see the module docstring).

    ``tmp_dir`` holds the batch files (``.tracer-batch-*/batch-<k>.csv``; a workspace passes its
    own folder, whose next writer removes a killed run's leftovers).
    """
    p = Path(path)
    big = p.is_file() and p.stat().st_size >= (batch_bytes or BATCH_BYTES)
    if not big or sample(p).kind != "csv":
        yield read_file(p, fmt=fmt, options=options, skip_bad=skip_bad)
        return
    fmt = fmt or detect(sample(p))
    rows = batch_rows or BATCH_ROWS
    try:
        frames = pl.scan_csv(p, infer_schema=False, encoding="utf8").collect_batches(
            chunk_size=rows
        )
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise InputError(str(p), None, None, f"malformed CSV: {_first_line(exc)}") from None
    offset = 0
    seen_synthetic = pl.DataFrame(schema={"tx_hash": pl.String, "_base": pl.Int64,
                                          "_n": pl.Int64})  # fmt: skip
    with batch_dir(tmp_dir) as tmp:
        it = iter(frames)
        k = 0
        while True:
            try:
                frame = next(it)
            except StopIteration:
                break
            except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
                raise InputError(str(p), None, None,
                                 f"malformed CSV: {_first_line(exc)}") from None  # fmt: skip
            if frame.height == 0:
                continue
            piece = Path(tmp) / f"batch-{k}.csv"
            frame.write_csv(piece)
            n = frame.height
            del frame
            try:
                load = read_file(piece, fmt=fmt, options=options, skip_bad=skip_bad)
            except InputError as exc:
                row = None if exc.row is None else exc.row + offset
                raise InputError(str(p), row, exc.field, exc.reason) from None
            finally:
                piece.unlink(missing_ok=True)
            load.file = str(p)
            load.rejects = load.rejects.with_columns(
                pl.lit(str(p)).alias("file"), pl.col("row") + offset
            )
            load.transfers, seen_synthetic = _whole_file_occurrences(load.transfers, seen_synthetic)
            offset += n
            k += 1
            yield load


def _whole_file_occurrences(
    t: pl.DataFrame, seen: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Shift content-derived seqs (negative: ``-(1 + base*1024 + k)``) by the identical
    transfers of the same transaction in earlier batches, as a whole-file read counts them."""
    syn = t["seq"] < 0
    if not syn.any():
        return t, seen
    code = (-t["seq"] - 1).alias("_code")
    t = t.with_columns(code, pl.int_range(pl.len()).alias("_i"))
    t = t.with_columns((pl.col("_code") // 1024).alias("_base"),
                       (pl.col("_code") % 1024).alias("_k"))  # fmt: skip
    t = t.join(seen, on=["tx_hash", "_base"], how="left", maintain_order="left")
    k = (pl.col("_k") + pl.col("_n").fill_null(0)).clip(upper_bound=1023)
    shifted = pl.when(pl.col("seq") < 0).then(-(1 + pl.col("_base") * 1024 + k))
    counts = (
        t.filter(pl.col("seq") < 0)
        .group_by(["tx_hash", "_base"])
        .agg(pl.len().cast(pl.Int64).alias("_m"))
    )
    total = pl.col("_n").fill_null(0) + pl.col("_m").fill_null(0)
    seen = seen.join(counts, on=["tx_hash", "_base"], how="full", coalesce=True).select(
        "tx_hash", "_base", total.alias("_n")
    )
    t = t.with_columns(shifted.otherwise(pl.col("seq")).alias("seq"))
    t = t.sort("_i").drop("_code", "_i", "_base", "_k", "_n")
    return t, seen


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def parquet_plan(path: str | Path, batch_rows: int | None = None
                 ) -> list[tuple[list[int], int, int | None]] | None:  # fmt: skip
    """``(row groups, first row, least ts in µs of every later row group)`` per batch of a
    canonical Parquet, from its metadata; None when the file has no usable time statistics
    (a ``ts`` that is not a timestamp, a row group without min/max) or one row group. The
    least later time is a claim of the file's writer, not a fact: a caller relying on it
    checks each batch against it (:class:`tracer.store.streamed.MonthStream`)."""
    f = canonical.open_file(str(path))
    field = f.schema_arrow.field("ts") if "ts" in f.schema_arrow.names else None
    if field is None or not pa.types.is_timestamp(field.type) or f.metadata.num_row_groups < 2:
        return None
    per_us = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": -1_000}[field.type.unit]
    meta = f.metadata
    col = next((j for j in range(meta.num_columns)
                if meta.row_group(0).column(j).path_in_schema == "ts"), None)  # fmt: skip
    if col is None:
        return None
    mins: list[int] = []
    for g in range(meta.num_row_groups):
        st = meta.row_group(g).column(col).statistics
        if st is None or not st.has_min_max:
            return None
        raw = int(st.min_raw)
        mins.append(raw * per_us if per_us > 0 else raw // -per_us)  # floor: never later
    rows = batch_rows or PARQUET_BATCH_ROWS
    plan: list[tuple[list[int], int, int | None]] = []
    groups: list[int] = []
    first = at = 1
    for g in range(meta.num_row_groups):
        groups.append(g)
        at += meta.row_group(g).num_rows
        if at - first >= rows or g == meta.num_row_groups - 1:
            later = min(mins[g + 1:]) if g + 1 < len(mins) else None
            plan.append((groups, first, later))
            groups, first = [], at
    return plan


def parquet_batches(
    path: str | Path,
    plan: list[tuple[list[int], int, int | None]],
    *,
    options: ReadOptions | None = None,
    skip_bad: bool = False,
) -> Iterator[tuple[Loaded, int | None]]:
    """The canonical Parquet's transfers batch by batch of ``plan`` (:func:`parquet_plan`),
    each with the least time the plan claims for every later batch. Counts, rejects and row
    numbers add up to a whole-file read's."""
    opts = options or ReadOptions()
    file = canonical.open_file(str(path))
    warm = warm_text_kernels()  # while pyarrow decodes
    for groups, first, later in plan:
        table = canonical.read_groups(str(path), groups, file)
        warm.result()
        batch = canonical.from_table(str(path), table, "parquet", first)
        del table
        yield canonicalize(batch, str(path), opts, skip_bad=skip_bad), later
