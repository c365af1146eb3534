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
from tracer.core.csv_text import read_csv_strings as read_csv_strings  # the sources' CSV reader
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
