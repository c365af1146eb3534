"""Block → timestamp tables, for exports that carry block numbers only (ethereum-etl).

Accepts ethereum-etl ``blocks.csv`` / stream JSON (``number, timestamp``) and any CSV with
``block``/``block_number``/``number`` and ``timestamp``/``ts``/``block_timestamp`` columns.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer.core.errors import InputError
from tracer.sources.sample import (
    POLARS_ERRORS,
    iter_ndjson,
    read_csv_strings,
    sample,
    scalar_text,
)
from tracer.sources.timestamps import timestamp_us

BLOCK_COLS = ("number", "block_number", "block")
TS_COLS = ("timestamp", "block_timestamp", "ts")


_KEEP = (*BLOCK_COLS, *TS_COLS, "type")


def _ndjson_fast(path: Path) -> pl.DataFrame | None:
    """Polars' reader for a uniform stream (floats show up as non-integer text and are rejected
    below); None when it cannot read the file, so the exact line reader takes over."""
    try:
        raw = pl.read_ndjson(path, infer_schema_length=None)
        return raw.select(pl.col(c).cast(pl.String) for c in _KEEP if c in raw.columns)
    except POLARS_ERRORS:
        return None


def read_blocks(path: str | Path, *, chain: str | None = None) -> pl.DataFrame:
    """``chain, block, ts`` (µs) from a blocks export; bad rows raise :class:`InputError`."""
    p = Path(path)
    s = sample(p)
    frame: pl.DataFrame | None
    if s.kind == "csv":
        frame = read_csv_strings(p)
    elif s.kind == "ndjson":
        frame = _ndjson_fast(p)
    else:
        raise InputError(str(p), None, None, "blocks file must be CSV or newline-JSON")
    if frame is None:  # the fast reader refused the file: read it line by line, exactly
        rows = []
        for line in iter_ndjson(p):
            if line.obj is None:
                raise InputError(str(p), line.row, None, line.error or "not a JSON object")
            rows.append({c: scalar_text(line.obj.get(c)) for c in (*BLOCK_COLS, *TS_COLS, "type")})
        frame = pl.DataFrame(rows, schema=dict.fromkeys((*BLOCK_COLS, *TS_COLS, "type"), pl.String))
        frame = frame.select(c for c in frame.columns if frame[c].null_count() < frame.height)
    if "type" in frame.columns:
        frame = frame.filter(pl.col("type") == "block")
    bcol = next((c for c in BLOCK_COLS if c in frame.columns), None)
    tcol = next((c for c in TS_COLS if c in frame.columns), None)
    if bcol is None or tcol is None:
        raise InputError(
            str(p), None, None, "blocks file needs a block number column and a timestamp column"
        )
    out = frame.select(
        pl.lit(chain, pl.String).alias("chain"),
        pl.col(bcol).str.strip_chars().cast(pl.Int64, strict=False).alias("block"),
        timestamp_us(pl.col(tcol)).alias("ts"),
    ).with_row_index("_row", offset=1)
    bad = out.filter(pl.col("block").is_null() | (pl.col("block") < 0) | pl.col("ts").is_null())
    if bad.height:
        r = bad.row(0, named=True)
        field = bcol if r["block"] is None or r["block"] < 0 else tcol
        raise InputError(str(p), r["_row"], field, "not a block number / timestamp")
    return out.drop("_row")
