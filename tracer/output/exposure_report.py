"""Writing an exposure report: Parquet with its provenance, CSV with a ``.meta.json``, or JSON.

The use case (:func:`tracer.analysis.exposure_run.exposure`) returns the report as data (a frame
in :data:`~tracer.analysis.exposure.REPORT_SCHEMA` and its metadata); this module decides how it
lands in a file, atomically.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tracer.analysis.exposure import REPORT_SCHEMA, ExposureReport
from tracer.core.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

#: ``-o`` suffixes the report can be written as (anything else is refused, never guessed).
REPORT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".json": "json"}
#: Parquet columns with few distinct values (dictionary-encoded).
DICTIONARY_COLUMNS = ("chain", "asset", "direction", "category", "address_name",
                      "address_category")  # fmt: skip
#: Dictionary-encoded too: ``address``, whose rows come sorted, about ten per address. The
#: local engine's parts hold it as a dictionary of the part's own addresses
#: (:class:`tracer.analysis.exposure_rows.RowParts`), which the writer keeps as the row group's
#: dictionary: its indices are run-length encoded instead of 1.6M strings being written and
#: compressed (a fifth of the encode of an ``--all`` report).
ENCODED_COLUMNS = (*DICTIONARY_COLUMNS, "address")
#: Largest dictionary page: a part's addresses (up to ``PART_ROWS``, ~46 bytes each); a column
#: chunk whose dictionary grows past it falls back to plain encoding (same values).
DICTIONARY_PAGE = 1 << 24
#: zstd level of the float columns: amounts and shares are mostly distinct doubles, which
#: zstd's default level shrinks by a few percent at several times the CPU of its fast levels
#: (a negative level: still zstd, readable by every Parquet reader); other columns: level 1.
FLOAT_ZSTD_LEVEL = -3
#: Columns with min/max statistics: those a reader may skip row groups by (the rows are sorted
#: by address; direction, category, hops and scores are the usual filters). Amounts, shares
#: and exact values span their whole range in every group, so their statistics skip nothing.
STATISTICS_COLUMNS = (*DICTIONARY_COLUMNS, "address", "min_hops", "risk_score",
                      "address_risk_score")  # fmt: skip
#: Most rows per Parquet row group: a reader (DuckDB, Polars) scans groups in parallel and
#: skips them by statistics; the rows are sorted by address, so a group covers an address
#: range. A report written in parts (the local engine's) has one group per part
#: (:data:`tracer.analysis.exposure_rows.PART_ROWS` rows at most, whole addresses).
ROW_GROUP = 1 << 20


def report_format(path: str) -> str:
    """The format ``-o PATH`` asks for, from its suffix; a clear error for any other."""
    from pathlib import Path

    fmt = REPORT_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UsageError(
            f"-o {path}: write the exposure report as .parquet (with provenance metadata), "
            ".csv (metadata in a .meta.json beside it) or .json"
        )
    return fmt


def write_report(report: ExposureReport, path: str, command_line: list[str]) -> None:
    """Write the report atomically in the format its suffix names (:func:`report_format`).

    Parquet keeps the provenance in the file metadata (key ``tracer``); CSV cannot hold
    metadata, so it goes to ``PATH.meta.json`` beside it; JSON holds ``{"metadata", "rows"}``.
    """
    from tracer.core.atomic import atomic_path, write_text_atomic

    fmt = report_format(path)
    meta = {**report.metadata, "command_line": command_line}
    if fmt == "csv":
        write_text_atomic(path, report.frame.write_csv())
        write_text_atomic(f"{path}.meta.json", json.dumps(meta, indent=2, default=str) + "\n")
        return
    if fmt == "json":
        doc = {"metadata": meta, "rows": report.frame.to_dicts()}
        write_text_atomic(path, json.dumps(doc, indent=2, default=str) + "\n")
        return
    with atomic_path(path) as tmp:
        write_parquet(report.arrow_parts(), tmp, json.dumps(meta, default=str))


def write_parquet(table: pa.Table | Iterable[pa.Table], path: str | Path, meta_json: str) -> None:
    """The report rows as Parquet: zstd (a fast level for the float columns), the few-valued
    string columns and the addresses dictionary-encoded, statistics for the columns a reader
    filters on (:data:`STATISTICS_COLUMNS`), the provenance JSON in the file metadata (key
    ``tracer``).

    ``table`` may hold dictionary arrays (:func:`tracer.analysis.exposure_rows.
    assemble_table`): the writer writes their indices as they are instead of hashing every
    string again (a fifth of the write on an ``--all`` report). The Arrow schema is not stored
    (``store_schema=False``) so that readers see what the schema says, plain strings, and not
    Arrow dictionaries: every column's Parquet type (string, double, int32) reads back as
    :data:`REPORT_SCHEMA` without it.

    ``table`` may also be the rows in consecutive parts (:meth:`~tracer.analysis.exposure.
    ExposureReport.arrow_parts`, assembled as they are taken): each part is encoded on one
    writer thread (pyarrow releases the GIL) while the caller's thread makes the next, at
    most one part ahead. The file is the same rows in the same order whatever the timing
    (one thread writes, in order); a write's error is raised here, as it is.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = iter([table] if isinstance(table, pa.Table) else table)
    first = next(parts, None)
    if first is None:
        raise ValueError("not an exposure report: no table (a report without rows is one)")
    types = [getattr(f.type, "value_type", f.type) if pa.types.is_dictionary(f.type) else f.type
             for f in first.schema]  # fmt: skip
    if first.schema.names != REPORT_SCHEMA.names or types != REPORT_SCHEMA.types:
        raise ValueError(f"not an exposure report table: {first.schema}")
    # dictionaries only for the few-valued columns and the sorted addresses: on an --all
    # report the exact-value columns have about as many values as rows, where building a
    # dictionary only to drop it costs time
    levels = {f.name: FLOAT_ZSTD_LEVEL if pa.types.is_floating(f.type) else 1
              for f in REPORT_SCHEMA}  # fmt: skip
    with pq.ParquetWriter(path, first.schema, compression="zstd", compression_level=levels,
                          store_schema=False, use_dictionary=list(ENCODED_COLUMNS),
                          dictionary_pagesize_limit=DICTIONARY_PAGE,
                          write_statistics=list(STATISTICS_COLUMNS)) as writer:  # fmt: skip
        _write_in_order(writer, first, parts)
        writer.add_key_value_metadata({"tracer": meta_json})


def _write_in_order(writer: pq.ParquetWriter, first: pa.Table, rest: Iterator[pa.Table]) -> None:
    """``writer.write_table`` of ``first`` then of each of ``rest``, in order, on one thread,
    while the next part is made on this one; returns when every part is written.

    An error (or Ctrl-C) while a part is made here propagates once the running write has
    ended (the pool's exit waits for it; the writer is closed only after); the caller's
    ``atomic_path`` then removes the unfinished file."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracer-parquet") as pool:
        pending = pool.submit(writer.write_table, first, row_group_size=ROW_GROUP)
        for part in rest:
            pending.result()  # at most one part ahead; a write's error is raised here
            pending = pool.submit(writer.write_table, part, row_group_size=ROW_GROUP)
        pending.result()
