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


def read_csv_strings(path: Path) -> pl.DataFrame:
    """Read a CSV with every column as text (sources parse and validate each field themselves).

    Malformed CSV (ragged rows, bad quoting, invalid UTF-8) becomes an :class:`InputError`
    naming the file, instead of a Polars traceback.
    """
    try:
        return pl.read_csv(path, infer_schema=False, encoding="utf8")
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(str(path), None, None, f"malformed CSV: {first}") from None
