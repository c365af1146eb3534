"""A cheap look at a file's start, shared by every format's ``sniff``."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tracer.errors import InputError

_HEAD = 64 * 1024


@dataclass
class Sample:
    """What detection needs: the kind of file and its header or first record."""

    path: Path
    kind: str  # "parquet" | "json" | "ndjson" | "csv" | "empty"
    header: list[str] = field(default_factory=list)
    first: dict[str, Any] | None = None
    document: Any = None  # the parsed JSON document (kind == "json"), parsed once


def sample(path: Path) -> Sample:
    """Classify ``path`` by its first bytes; JSON documents are parsed here, once."""
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD)
    except OSError as exc:
        raise InputError(str(path), None, None, f"cannot read file: {exc.strerror}") from None
    if head.startswith(b"PAR1"):
        return Sample(path, "parquet")
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text:
        return Sample(path, "empty")
    if text[:1] in (b"{", b"["):
        first_line = text.split(b"\n", 1)[0].strip()
        if text[:1] == b"{" and first_line.endswith(b"}"):
            try:
                obj = json.loads(first_line)
            except json.JSONDecodeError:
                obj = None
            rest = text[len(first_line) :].lstrip()
            if isinstance(obj, dict) and rest[:1] == b"{":
                return Sample(path, "ndjson", first=obj)
            if isinstance(obj, dict) and not rest and len(head) < _HEAD:
                # one line: a one-record stream or a whole JSON document; formats decide
                return Sample(path, "ndjson", first=obj, document=obj)
        try:
            doc = json.loads(path.read_bytes())
        except json.JSONDecodeError as exc:
            raise InputError(
                str(path), None, None, f"invalid JSON at line {exc.lineno}: {exc.msg}"
            ) from None
        return Sample(path, "json", document=doc)
    line = text.decode("utf-8", errors="replace").splitlines()[0]
    header = next(csv.reader(io.StringIO(line)))
    return Sample(path, "csv", header=[h.strip() for h in header])


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
            f"the row has {fields} field(s) but the header has {len(header)}; a CSV whose rows "
            "and header disagree is not realigned",
        )  # fmt: skip
