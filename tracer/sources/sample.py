"""A cheap look at a file's start, shared by every format's ``sniff``; safe JSON and CSV readers.

Everything here turns malformed bytes into :class:`InputError` naming the file (and the record
where there is one): invalid UTF-8, JSON nested deeper than Python's parser allows, integers with
more digits than Python converts, lines of newline-JSON that are not objects. The list of
exceptions that mean "bad input" is explicit (:data:`JSON_ERRORS`, :data:`POLARS_ERRORS`): anything
else is a bug in tracer and is left to surface as one.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from polars.exceptions import PanicException

from tracer.core import jsonsafe
from tracer.core.errors import InputError

_HEAD = 64 * 1024

#: What ``json.loads`` raises on bad input: JSONDecodeError and UnicodeDecodeError are
#: ValueErrors, as is the int-digits limit (``sys.set_int_max_str_digits``); RecursionError for
#: nesting deeper than the C parser's recursion limit (``[`` x 100,000).
JSON_ERRORS: tuple[type[BaseException], ...] = (ValueError, RecursionError)

#: What a Polars reader raises on bad input: its own errors, and a Rust panic (PanicException is a
#: BaseException, so ``except Exception`` would not catch it).
POLARS_ERRORS: tuple[type[BaseException], ...] = (pl.exceptions.PolarsError, PanicException)


@dataclass
class Sample:
    """What detection needs: the kind of file and its header or first record."""

    path: Path
    kind: str  # "parquet" | "json" | "ndjson" | "csv" | "empty"
    header: list[str] = field(default_factory=list)
    first: dict[str, Any] | None = None
    document: Any = None  # the parsed JSON document (kind == "json"), parsed once


def json_error_reason(exc: BaseException) -> str:
    """A one-line reason for a ``json.loads`` failure (see :data:`JSON_ERRORS`)."""
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at line {exc.lineno}: {exc.msg}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply to read"
    return f"invalid JSON: {exc}"


def loads(data: bytes | str) -> Any:
    """``json.loads`` that keeps float literals as text.

    A JSON float is never an exact on-chain integer: kept as its literal (``"1.5e+21"``), it fails
    every integer check with the text the user wrote, instead of being rounded into one.
    """
    return jsonsafe.parse(data, floats_as_text=True)


@dataclass
class JsonLine:
    """One record of a newline-JSON file: the object, or why the line is not one."""

    row: int  # record number: the n-th non-empty line
    obj: dict[str, Any] | None
    error: str | None
    text: str  # the line as written (for the rejects file)


def iter_ndjson(path: Path) -> Iterator[JsonLine]:
    """Every non-empty line of a newline-JSON file, parsed on its own.

    A line that is not valid JSON, not UTF-8, nested too deeply, or not an object (``null``,
    ``[1]``, ``5``) is yielded with its reason, so it can be rejected with its record number
    (``--skip-bad``) rather than ending the read with a traceback.
    """
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(str(path), None, None, f"cannot read file: {exc.strerror}") from None
    with fh:
        row = 0
        for raw in fh:
            line = raw.strip()
            if row == 0:
                line = line.removeprefix(b"\xef\xbb\xbf")
            if not line:
                continue
            row += 1
            text = line.decode("utf-8", errors="replace")
            try:
                obj = loads(line)
            except JSON_ERRORS as exc:
                yield JsonLine(row, None, json_error_reason(exc), text)
                continue
            if not isinstance(obj, dict):
                kind = "null" if obj is None else type(obj).__name__
                yield JsonLine(row, None, f"line is not a JSON object ({kind})", text)
                continue
            yield JsonLine(row, obj, None, text)


def scalar_text(v: Any) -> str | None:
    """A JSON scalar as the text a source validates: ``None`` stays missing, everything else is
    its written form (floats keep their literal, see :func:`loads`), so a wrong type fails the
    field's own check with the value shown, never a Python ``AttributeError``."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        try:
            return str(v)
        except ValueError:  # beyond the int-digits limit: not a value anyone could mean
            return "<integer with more than 4300 digits>"
    return dump(v)


def dump(v: Any) -> str:
    """``json.dumps`` that never raises on what :func:`loads` produced (for rejects' raw)."""
    try:
        return json.dumps(v, default=str)
    except (ValueError, RecursionError):
        return "<unprintable JSON value>"


def _first_line(path: Path) -> tuple[bytes, bool]:
    """The first non-empty line in full (however long) and whether anything follows it."""
    with path.open("rb") as fh:
        line = b""
        while not line:
            raw = fh.readline()
            if not raw:
                break
            line = raw.strip().removeprefix(b"\xef\xbb\xbf").strip()
        while True:
            chunk = fh.read(4096)
            if not chunk:
                return line, False
            if chunk.strip():
                return line, True


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
        if text[:1] == b"{":
            first_line, more = _first_line(path)
            try:
                obj = loads(first_line)
            except JSON_ERRORS:
                obj = None
            if isinstance(obj, dict):
                # A complete object on the first line followed by anything is not one JSON
                # document: it is newline-JSON (later lines that are not objects are row errors).
                # A lone line is a one-record stream or a whole document; formats decide.
                return Sample(path, "ndjson", first=obj, document=None if more else obj)
        try:
            doc = loads(path.read_bytes())
        except JSON_ERRORS as exc:
            raise InputError(str(path), None, None, json_error_reason(exc)) from None
        return Sample(path, "json", document=doc)
    lines = text.decode("utf-8", errors="replace").splitlines()
    line = next((x for x in lines if x.strip()), "")
    try:
        header = next(csv.reader(io.StringIO(line)), [])
    except csv.Error as exc:
        raise InputError(str(path), None, None, f"malformed CSV header: {exc}") from None
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
            f"malformed CSV: the row has {fields} field(s) but the header has {len(header)}; "
            "a CSV whose rows and header disagree is not realigned",
        )  # fmt: skip
