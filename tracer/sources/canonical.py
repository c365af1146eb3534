"""tracer's own canonical Parquet (``tracer export``), re-validated on the way in.

Also reads any Parquet with the canonical column names (DuckDB/Spark outputs): it goes through the
same canonicaliser as every other format, so a hand-edited file cannot smuggle in a bad row.
"""

from __future__ import annotations

import polars as pl

from tracer.errors import InputError
from tracer.sources.base import RawBatch, ReadOptions
from tracer.sources.sample import Sample

REQUIRED = {"chain", "tx_hash", "src", "dst", "value", "ts"}


def sniff(s: Sample) -> str | None:
    return "parquet" if s.kind == "parquet" else None


def read(s: Sample, fmt: str, opts: ReadOptions) -> RawBatch:
    try:
        original = pl.read_parquet(s.path)
    except pl.exceptions.PolarsError as exc:
        raise InputError(str(s.path), None, None, f"unreadable Parquet: {exc}") from None
    missing = REQUIRED - set(original.columns)
    if missing:
        raise InputError(
            str(s.path),
            None,
            None,
            f"Parquet lacks canonical column(s): {', '.join(sorted(missing))}",
        )
    original = original.with_row_index("_row", offset=1)
    ts = pl.col("ts")
    if isinstance(original.schema["ts"], pl.Datetime):
        ts = ts.dt.epoch("us")
    frame = original.select(
        pl.col("_row").cast(pl.Int64),
        *(pl.col(c) for c in original.columns if c not in ("_row", "ts", "amount")),
        ts.alias("ts"),
    ).with_columns(pl.col("value").cast(pl.String))
    if "token" in frame.columns:
        frame = frame.with_columns(pl.col("token").cast(pl.String))
    return RawBatch(frame, original.with_columns(pl.col(pl.Datetime).cast(pl.String)), {}, fmt)
