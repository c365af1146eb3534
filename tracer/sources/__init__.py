"""One module per export format, each turning a file into canonical transfers.

:func:`read_file` detects the format from the header or shape (or takes ``fmt``), reads it with the
format's module and canonicalises it with :func:`tracer.sources.base.canonicalize`. Source modules
know nothing about the workspace or the graph.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import polars as pl

from tracer.core.errors import InputError, UnknownFormatError, UsageError
from tracer.sources import canonical, ethereum_etl, etherscan, generic, rpc_logs, traces, tron
from tracer.sources.base import Loaded, ReadOptions, canonicalize
from tracer.sources.sample import Sample, sample

#: format name → module; detection tries modules in this order (most specific first).
FORMATS: dict[str, ModuleType] = {
    "parquet": canonical,
    "ethereum-etl": ethereum_etl,
    "ethereum-etl-transactions": ethereum_etl,
    "ethereum-etl-logs": rpc_logs,
    "eth-getlogs": rpc_logs,
    "etherscan-tokens": etherscan,
    "etherscan-txs": etherscan,
    "trongrid": tron,
    "trongrid-trx": tron,
    "tronscan": tron,
    "generic": generic,
    **dict.fromkeys(traces.FORMATS, traces),
}
_DETECTORS = (canonical, rpc_logs, traces, ethereum_etl, etherscan, tron, generic)

__all__ = ["FORMATS", "Loaded", "ReadOptions", "detect", "read_file"]


def detect(s: Sample) -> str:
    """The format of a sampled file, or :class:`UnknownFormatError` saying what was seen."""
    for module in _DETECTORS:
        fmt = module.sniff(s)
        if fmt:
            return fmt
    if s.kind == "csv":
        seen = f"CSV header: {', '.join(s.header[:12])}"
    elif s.kind == "empty":
        seen = "an empty file"
    else:
        seen = f"{s.kind.upper()} of unrecognised shape"
    raise UnknownFormatError(
        f"{s.path}: unknown export format ({seen}). Known formats: {', '.join(FORMATS)}. "
        "For other CSV exports use --input-format generic --map from=COL,to=COL,hash=COL,value=COL,"
        "time=COL"
    )


def read_file(
    path: str | Path,
    *,
    fmt: str | None = None,
    options: ReadOptions | None = None,
    skip_bad: bool = False,
) -> Loaded:
    """Read one export into canonical transfers (plus rejects and skipped counts)."""
    opts = options or ReadOptions()
    p = Path(path)
    s = sample(p)
    if s.kind == "empty":
        raise UnknownFormatError(f"{p}: the file is empty")
    if fmt is None:
        # --map is only for the generic reader: giving it says which reader is meant
        fmt = "generic" if opts.column_map and s.kind == "csv" else detect(s)
    elif fmt not in FORMATS:
        raise UsageError(f"--format: unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    try:
        batch = FORMATS[fmt].read(s, fmt, opts)
    except pl.exceptions.ColumnNotFoundError as exc:
        # a reader selected a column the format always has: this file is not that format
        # (usually a forced --input-format); name the column instead of a Polars traceback
        col = str(exc).strip().splitlines()[0] if str(exc).strip() else "?"
        reason = f"not a {fmt} export: missing column {col}"
        raise InputError(str(path), None, None, reason) from None
    return canonicalize(batch, str(path), opts, skip_bad=skip_bad)
