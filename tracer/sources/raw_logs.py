"""Every log of an export, undecoded: what conversion decoding needs besides ``Transfer`` rows.

:mod:`tracer.sources.rpc_logs` turns logs into transfers and drops everything else (counted);
decoding swaps needs the other events too (``Swap``, ``Deposit``, ...), with their position in the
transaction. :func:`read_logs` reads the same inputs — ``eth_getLogs`` JSON-RPC responses (or a
batch, or a bare array), ethereum-etl ``logs.csv`` (``topics`` comma-joined) and the
``ethereumetl stream`` newline-JSON (``type: log`` records; other record types are counted) — into
one frame, :data:`LOG_SCHEMA`, with lowercase hex and the topics split into four columns.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from tracer.core.errors import InputError
from tracer.sources.rpc_logs import _logs
from tracer.sources.sample import read_csv_strings, sample
from tracer.sources.timestamps import timestamp_us

LOG_SCHEMA: dict[str, pl.DataType] = {
    "_row": pl.Int64(),
    "tx_hash": pl.String(),
    "log_index": pl.Int64(),
    "block": pl.Int64(),
    "ts": pl.Int64(),  # µs since epoch, or null when the export has none
    "address": pl.String(),
    "topic0": pl.String(),
    "topic1": pl.String(),
    "topic2": pl.String(),
    "topic3": pl.String(),
    "n_topics": pl.Int32(),
    "data": pl.String(),
}


@dataclass
class RawLogs:
    """The logs of one file plus the accounting of what was not a usable log."""

    file: str
    logs: pl.DataFrame  # LOG_SCHEMA
    skipped: Counter[str]
    read: int


def _int_text(expr: pl.Expr) -> pl.Expr:
    """Integer from decimal or ``0x`` hex text (JSON-RPC gives hex, ethereum-etl decimal)."""
    s = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    hexa = s.str.strip_prefix("0x").str.to_integer(base=16, strict=False)
    return pl.when(s.str.starts_with("0x")).then(hexa).otherwise(s.cast(pl.Int64, strict=False))


def _finish(
    frame: pl.DataFrame, topics: pl.Expr, file: str, fields: dict[str, str]
) -> pl.DataFrame:
    """Split topics, normalise case, parse integers; a field that does not parse is an error."""
    out = frame.select(
        pl.col("_row").cast(pl.Int64),
        pl.col("tx_hash").cast(pl.String).str.to_lowercase(),
        _int_text(pl.col("log_index")).alias("log_index"),
        _int_text(pl.col("block")).alias("block"),
        timestamp_us(pl.col("ts")).alias("ts"),
        pl.col("address").cast(pl.String).str.to_lowercase(),
        *(
            topics.list.get(i, null_on_oob=True).str.to_lowercase().alias(f"topic{i}")
            for i in range(4)
        ),
        topics.list.len().cast(pl.Int32).alias("n_topics"),
        pl.col("data").cast(pl.String).fill_null("0x").str.to_lowercase(),
        pl.col("log_index").cast(pl.String).alias("_li"),
        pl.col("block").cast(pl.String).alias("_bn"),
    )
    for col, raw in (("log_index", "_li"), ("block", "_bn")):
        bad = out.filter(pl.col(col).is_null() & pl.col(raw).is_not_null())
        if bad.height:
            r = bad.row(0, named=True)
            raise InputError(file, r["_row"], fields[col], f"not an integer: {r[raw]!r}")
    missing = out.filter(pl.col("tx_hash").is_null() | pl.col("log_index").is_null())
    if missing.height:
        r = missing.row(0, named=True)
        field = fields["tx_hash"] if r["tx_hash"] is None else fields["log_index"]
        raise InputError(file, r["_row"], field, "missing (a log needs its transaction and index)")
    return out.drop("_li", "_bn").cast(LOG_SCHEMA)  # type: ignore[arg-type]


def read_logs(path: str | Path) -> RawLogs:
    """Read every log of an ``eth_getLogs`` response, ethereum-etl ``logs.csv`` or stream file."""
    p = Path(path)
    s = sample(p)
    file = str(path)
    skipped: Counter[str] = Counter()
    if s.kind == "csv":
        frame = read_csv_strings(p).with_row_index("_row", offset=1)
        need = {"transaction_hash", "log_index", "address", "data", "topics"}
        if not need <= set(frame.columns):
            raise InputError(
                file, None, None, f"not an ethereum-etl logs.csv (needs {sorted(need)})"
            )
        frame = frame.rename(
            {"transaction_hash": "tx_hash", "block_number": "block"}, strict=False
        ).with_columns(
            pl.col("block_timestamp").alias("ts")
            if "block_timestamp" in frame.columns
            else pl.lit(None, pl.String).alias("ts"),
            *([] if "block_number" in frame.columns else [pl.lit(None, pl.String).alias("block")]),
        )
        topics = (
            pl.col("topics")
            .fill_null("")
            .str.split(",")
            .list.eval(pl.element().filter(pl.element() != ""))
        )
        fields = {"tx_hash": "transaction_hash", "log_index": "log_index", "block": "block_number"}
        logs = _finish(frame, topics, file, fields)
        return RawLogs(file, logs, skipped, frame.height)
    if s.kind == "ndjson" and not (s.document is not None and _logs(s.document) is not None):
        try:
            frame = pl.read_ndjson(p, infer_schema_length=None)
        except pl.exceptions.PolarsError as exc:
            raise InputError(file, None, None, f"unreadable newline JSON: {exc}") from None
        frame = frame.with_row_index("_row", offset=1)
        read = frame.height
        if "type" in frame.columns:
            others = frame.filter(pl.col("type") != "log")
            for t, n in others.group_by("type").len().iter_rows():
                skipped[f"not a log record (type={t})"] += n
            frame = frame.filter(pl.col("type") == "log")
        rename = {"transaction_hash": "tx_hash", "block_number": "block", "block_timestamp": "ts"}
        frame = frame.rename(rename, strict=False)
        for col in ("ts", "block"):
            if col not in frame.columns:
                frame = frame.with_columns(pl.lit(None, pl.String).alias(col))
        fields = {"tx_hash": "transaction_hash", "log_index": "log_index", "block": "block_number"}
        return RawLogs(file, _finish(frame, pl.col("topics"), file, fields), skipped, read)
    doc = s.document if s.document is not None else s.first
    records = _logs(doc)
    if records is None:
        raise InputError(file, None, None, "not an eth_getLogs response or a list of logs")
    rows: list[dict[str, Any]] = []
    for i, log in enumerate(records, start=1):
        if not isinstance(log, dict):
            raise InputError(file, i, None, "log is not a JSON object")
        if log.get("removed") in (True, "true"):
            skipped["removed by a chain reorganisation"] += 1
            continue
        log_topics = log.get("topics") or []
        if not isinstance(log_topics, list):
            raise InputError(file, i, "topics", "not a list")
        rows.append(
            {
                "_row": i,
                "tx_hash": log.get("transactionHash"),
                "log_index": None if log.get("logIndex") is None else str(log.get("logIndex")),
                "block": None if log.get("blockNumber") is None else str(log.get("blockNumber")),
                "ts": None
                if log.get("blockTimestamp") is None
                else str(int(str(log["blockTimestamp"]), 0)),
                "address": log.get("address"),
                "topics": [str(t) for t in log_topics],
                "data": log.get("data") or "0x",
            }
        )
    schema: dict[str, Any] = {
        "_row": pl.Int64,
        "tx_hash": pl.String,
        "log_index": pl.String,
        "block": pl.String,
        "ts": pl.String,
        "address": pl.String,
        "topics": pl.List(pl.String),
        "data": pl.String,
    }
    frame = pl.DataFrame(rows, schema=schema)
    fields = {"tx_hash": "transactionHash", "log_index": "logIndex", "block": "blockNumber"}
    return RawLogs(file, _finish(frame, pl.col("topics"), file, fields), skipped, len(records))
