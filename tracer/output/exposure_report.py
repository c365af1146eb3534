"""Writing an exposure report: Parquet with its provenance, CSV with a ``.meta.json``, or JSON.

The use case (:func:`tracer.analysis.exposure_run.exposure`) returns the report as data (a frame
in :data:`~tracer.analysis.exposure.REPORT_SCHEMA` and its metadata); this module decides how it
lands in a file, atomically.
"""

from __future__ import annotations

import json

from tracer.analysis.exposure import REPORT_SCHEMA, ExposureReport
from tracer.core.errors import UsageError

#: ``-o`` suffixes the report can be written as (anything else is refused, never guessed).
REPORT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".json": "json"}
#: Parquet columns with few distinct values (dictionary-encoded).
DICTIONARY_COLUMNS = ("chain", "asset", "direction", "category", "address_name",
                      "address_category")  # fmt: skip
#: Rows per Parquet row group: a reader (DuckDB, Polars) scans groups in parallel and skips
#: them by statistics; the rows are sorted by address, so a group covers an address range.
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
    import pyarrow.parquet as pq

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
    table = report.frame.to_arrow().cast(REPORT_SCHEMA)
    table = table.replace_schema_metadata({b"tracer": json.dumps(meta, default=str).encode()})
    with atomic_path(path) as tmp:
        # dictionaries only for the few-valued columns: on an --all report the address and
        # exact-value columns have about as many values as rows, where building a dictionary
        # only to drop it costs time
        pq.write_table(table, tmp, compression="zstd", use_dictionary=list(DICTIONARY_COLUMNS),
                       row_group_size=ROW_GROUP)  # fmt: skip
