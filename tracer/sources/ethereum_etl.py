"""ethereum-etl exports and BigQuery ``crypto_ethereum`` tables.

Formats
-------
``ethereum-etl`` : ``token_transfers.csv`` (``token_address, from_address, to_address, value,
    transaction_hash, log_index, block_number``) and the same columns as newline-JSON
    (``ethereumetl stream`` output, with ``type`` and ``block_timestamp``), and BigQuery
    ``bigquery-public-data.crypto_ethereum.token_transfers`` exports (CSV or JSON, with a
    ``block_timestamp`` text column). Token transfers carry no symbol/decimals: those come from
    the token table (:mod:`tracer.tokens`); timestamps from ``block_timestamp`` or ``--blocks``.
``ethereum-etl-transactions`` : ``transactions.csv``/JSON for native ETH. Zero-value and failed
    transactions (``receipt_status`` 0) are skipped with their reason; contract creations pay the
    created contract (``receipt_contract_address``).
A stream file that mixes record types is split by ``type``; blocks, logs and other records are
counted as skipped ("not a transfer record").
"""

from __future__ import annotations

import json

import polars as pl

from tracer.errors import InputError
from tracer.sources.base import RawBatch, ReadOptions, flag_non_integer, timestamp_series
from tracer.sources.sample import Sample, read_csv_strings

TOKEN_COLUMNS = {"token_address", "from_address", "to_address", "value", "transaction_hash"}
TX_COLUMNS = {"hash", "from_address", "to_address", "value", "block_number"}
FIELDS_TOKEN = {
    "token": "token_address",
    "src": "from_address",
    "dst": "to_address",
    "value": "value",
    "tx_hash": "transaction_hash",
    "seq": "log_index",
    "block": "block_number",
    "ts": "block_timestamp",
}
FIELDS_TX = {**FIELDS_TOKEN, "tx_hash": "hash", "token": "token_address"}


def sniff(s: Sample) -> str | None:
    keys: set[str] = set()
    if s.kind == "csv":
        keys = set(s.header)
    elif s.kind == "ndjson" and s.first is not None:
        keys = set(s.first)
        kind = s.first.get("type")
        if kind == "token_transfer":
            return "ethereum-etl"
        if kind == "transaction":
            return "ethereum-etl-transactions"
        if kind in ("block", "log", "trace", "contract", "token", "receipt") and keys:
            return "ethereum-etl"  # a mixed stream; split by type on read
    if keys >= TOKEN_COLUMNS:
        return "ethereum-etl"
    if keys >= TX_COLUMNS and ("nonce" in keys or "gas" in keys):
        return "ethereum-etl-transactions"
    return None


def _read_frame(s: Sample) -> pl.DataFrame:
    if s.kind == "csv":
        return read_csv_strings(s.path)
    try:
        # value is uint256: keep it as text (JSON integers beyond int64 survive as digits)
        return pl.read_ndjson(
            s.path,
            schema_overrides={"value": pl.String},
            infer_schema_length=None,
        ).cast(pl.String)
    except (pl.exceptions.ComputeError, pl.exceptions.SchemaError):
        return _read_ndjson_python(s)


def _read_ndjson_python(s: Sample) -> pl.DataFrame:
    rows = []
    with s.path.open("rb") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(str(s.path), i, None, f"invalid JSON: {exc.msg}") from None
            rows.append({k: None if v is None else str(v) for k, v in obj.items()})
    return pl.DataFrame(rows, infer_schema_length=None)


def read(s: Sample, fmt: str, opts: ReadOptions) -> RawBatch:
    frame = _read_frame(s).with_row_index("_row", offset=1)
    if "type" in frame.columns:
        wanted = "transaction" if fmt == "ethereum-etl-transactions" else "token_transfer"
        other = pl.col("type").fill_null("") != wanted
    else:
        other = pl.lit(False)
    original = frame
    cols = set(frame.columns)

    def col(name: str) -> pl.Expr:
        return pl.col(name) if name in cols else pl.lit(None, pl.String)

    ts = pl.lit(timestamp_series(frame, "block_timestamp"))
    if fmt == "ethereum-etl-transactions":
        status = col("receipt_status")
        dst = pl.coalesce(col("to_address"), col("receipt_contract_address"))
        skip = (
            pl.when(other)
            .then(pl.lit("not a transfer record (type=") + col("type") + pl.lit(")"))
            .when(status == "0")
            .then(pl.lit("failed transaction (receipt_status=0)"))
            .when(col("value").str.strip_chars().str.strip_chars_start("0") == "")
            .then(pl.lit("zero-value transaction (no native coin moved)"))
            .when(dst.is_null())
            .then(pl.lit("contract creation without receipt_contract_address"))
            .otherwise(None)
        )
        out = frame.select(
            "_row",
            pl.lit(None, pl.String).alias("token"),
            col("hash").alias("tx_hash"),
            pl.lit(0, pl.Int64).alias("seq"),
            col("block_number").alias("block"),
            ts.alias("ts"),
            col("from_address").alias("src"),
            dst.alias("dst"),
            col("value").alias("value"),
            skip.alias("_skip"),
        )
        fields = FIELDS_TX
    else:
        skip = (
            pl.when(other)
            .then(pl.lit("not a transfer record (type=") + col("type") + pl.lit(")"))
            .otherwise(None)
        )
        out = frame.select(
            "_row",
            col("token_address").alias("token"),
            col("transaction_hash").alias("tx_hash"),
            col("log_index").alias("seq"),
            col("block_number").alias("block"),
            ts.alias("ts"),
            col("from_address").alias("src"),
            col("to_address").alias("dst"),
            col("value").alias("value"),
            skip.alias("_skip"),
        )
        fields = FIELDS_TOKEN
        out = flag_non_integer(out, "seq", fields["seq"])
    out = flag_non_integer(out, "block", fields["block"])
    return RawBatch(out, original, fields, fmt)
