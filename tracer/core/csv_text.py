"""A CSV read with every column as text, and malformed CSV refused with the file and row.

Below the sources because the bundled token table (:mod:`tracer.core.tokens`) is read the same
way as every export; :mod:`tracer.sources.sample` re-exports it for the format readers.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from tracer.core.errors import InputError


def read_csv_strings(path: Path, warnings: list[str] | None = None) -> pl.DataFrame:
    """Read a CSV with every column as text (sources parse and validate each field themselves).

    Malformed CSV (bad quoting, invalid UTF-8) becomes an :class:`InputError` naming the file,
    instead of a Polars traceback. A row with more or fewer fields than the header is refused
    with its row number: Polars would fill a short row with nulls, which is a silent
    realignment of the user's data. The one tolerated shape is a header ending in empty names
    (``a,b,c,,``: spreadsheet exports) over rows that have nothing there; those columns are
    dropped and ``warnings`` (when given) says so.
    """
    header = _csv_header(path)
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except pl.exceptions.ComputeError as exc:
        if "more fields" in str(exc):
            _raise_ragged(path, header)
        raise InputError(str(path), None, None, f"malformed CSV: {_first_line_of(exc)}") from None
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise InputError(str(path), None, None, f"malformed CSV: {_first_line_of(exc)}") from None
    named = len(header)
    while named and not header[named - 1].strip():
        named -= 1
    if named < len(header):
        extra = frame.columns[named:]
        if any(frame[c].null_count() < frame.height for c in extra):
            raise InputError(
                str(path), None, None,
                f"malformed CSV: {len(header) - named} column(s) at the end of the header have "
                "no name but hold data",
            )  # fmt: skip
        frame = frame.drop(extra)
        if warnings is not None:
            warnings.append(
                f"the header ends with {len(header) - named} empty column name(s) and no row "
                "has data there: ignored"
            )
    if named and frame.height and frame[frame.columns[named - 1]].null_count():
        _raise_ragged(path, header, tolerated=named)  # a short row would read as nulls
    return frame


def _first_line_of(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
            return next(csv.reader(fh), [])
    except (OSError, csv.Error) as exc:
        raise InputError(str(path), None, None, f"malformed CSV header: {exc}") from None


def _raise_ragged(path: Path, header: list[str], tolerated: int | None = None) -> None:
    """Find the first row whose field count differs from the header's and raise for it.

    Slow path (one single-threaded pass of pyarrow's CSV parser, which reports each invalid row
    with its number), taken only when the fast read showed a sign of it; returns when every row
    is whole (the nulls were empty fields, not missing ones).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    found: list[tuple[int, int]] = []
    allowed = {len(header)} | ({tolerated} if tolerated else set())

    def invalid(row: pacsv.InvalidRow) -> str:
        if row.actual_columns not in allowed and not found:
            # pyarrow numbers the file's rows with the header as 1; tracer's rows are data rows
            found.append((max(int(row.number or 0) - 1, 1), int(row.actual_columns)))
        return "skip"

    names = [f"c{i}" for i in range(len(header))]
    try:
        pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False, column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(invalid_row_handler=invalid),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
        )
    except (pa.ArrowException, OSError) as exc:
        raise InputError(str(path), None, None, f"malformed CSV: {_first_line_of(exc)}") from None
    if found:
        row, fields = found[0]
        raise InputError(
            str(path), row, None,
            f"malformed CSV: the row has {fields} field(s) but the header has {len(header)}; "
            "a CSV whose rows and header disagree is not realigned",
        )  # fmt: skip
