"""ethereum-etl exports and BigQuery ``crypto_ethereum`` tables.

Formats
-------
``ethereum-etl`` : ``token_transfers.csv`` (``token_address, from_address, to_address, value,
    transaction_hash, log_index, block_number``) and the same columns as newline-JSON
    (``ethereumetl stream`` output, with ``type`` and ``block_timestamp``), and BigQuery
    ``bigquery-public-data.crypto_ethereum.token_transfers`` exports (CSV or JSON, with a
    ``block_timestamp`` text column). Token transfers carry no symbol/decimals: those come from
    the token table (:mod:`tracer.core.tokens`); timestamps from ``block_timestamp`` or
    ``--blocks``.
``ethereum-etl-transactions`` : ``transactions.csv``/JSON for native ETH. Zero-value and failed
    transactions (``receipt_status`` 0) are skipped with their reason; contract creations pay the
    created contract (``receipt_contract_address``).
A stream file that mixes record types is split by ``type``; blocks, logs and other records are
counted as skipped ("not a transfer record"). A stream that holds logs but no ``token_transfer``
records (``ethereumetl stream -e log``) is decoded as logs (:mod:`tracer.sources.rpc_logs`).
Newline-JSON is read by Polars when its records are uniform and carry no JSON floats in integer
fields; otherwise line by line, so a line that is not a record is a row error with its number.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from tracer.core.errors import InputError
from tracer.sources.base import (
    RawBatch,
    ReadOptions,
    flag_error,
    flag_non_integer,
)
from tracer.sources.sample import (
    POLARS_ERRORS,
    Sample,
    iter_ndjson,
    read_csv_strings,
    scalar_text,
)
from tracer.sources.timestamps import timestamp_series, unparsed_time

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
        if kind == "log":
            return "ethereum-etl-logs"  # a stream of raw logs: decoded like logs.csv
        if kind in ("block", "trace", "contract", "token", "receipt") and keys:
            return "ethereum-etl"  # a mixed stream; split by type on read
    if keys >= TOKEN_COLUMNS:
        return "ethereum-etl"
    if keys >= TX_COLUMNS and ("nonce" in keys or "gas" in keys):
        return "ethereum-etl-transactions"
    return None


#: A JSON float literal as ``value``. Polars reads ``1.2345678901234567e+21`` into the text column
#: that keeps uint256 exact as the digits ``1234567890123456800000`` — an exact-looking integer
#: that is not the on-chain one — so such files take the exact line reader. (The other integer
#: fields are type-inferred: a float there shows as a Float64 column, checked after the read.)
_FLOAT_VALUE = re.compile(rb'"value"\s*:\s*-?[0-9]+(?:\.|[eE])')
_INT_FIELDS = ("log_index", "block_number", "block_timestamp", "receipt_status", "nonce")


def _has_float_value(path: Path) -> bool:
    """Whether any ``value`` is written as a JSON float, scanned in 16 MB chunks (memory stays
    bounded on multi-GB streams; the overlap keeps a match split across two chunks)."""
    tail = b""
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(16 << 20):
                if _FLOAT_VALUE.search(tail + chunk):
                    return True
                tail = chunk[-256:]
    except OSError as exc:
        raise InputError(str(path), None, None, f"cannot read file: {exc.strerror}") from None
    return False


def _read_frame(s: Sample) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The records as text columns, and (for the exact reader) the lines as written."""
    if s.kind == "csv":
        return read_csv_strings(s.path), None
    if not _has_float_value(s.path):
        try:
            # value is uint256: keep it as text (JSON integers beyond int64 survive as digits)
            frame = pl.read_ndjson(
                s.path, schema_overrides={"value": pl.String}, infer_schema_length=None
            )
            if not any(frame.schema[c].is_float() for c in _INT_FIELDS if c in frame.columns):
                return frame.cast(pl.String), None
        except POLARS_ERRORS:
            pass  # not uniform enough for the fast reader: read each line exactly instead
    return ndjson_text_frame(s.path)


def ndjson_text_frame(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Newline-JSON read line by line: every field as text (see :func:`scalar_text`), lines
    that are not records flagged as row errors, and the lines themselves for the rejects file."""
    rows: list[dict[str, str | None]] = []
    texts: list[str] = []
    keys: dict[str, None] = {}
    for line in iter_ndjson(path):
        texts.append(line.text)
        if line.obj is None:
            rows.append({"_line_error": line.error})
            continue
        row = {str(k): scalar_text(v) for k, v in line.obj.items()}
        keys.update(dict.fromkeys(row))
        rows.append(row)
    keys.pop("_line_error", None)
    keys.pop("_row", None)
    schema = dict.fromkeys([*keys, "_line_error"], pl.String)
    frame = pl.DataFrame(rows, schema=schema)
    original = pl.DataFrame({"record": texts}, schema={"record": pl.String})
    return frame, original.with_row_index("_row", offset=1)


def read(s: Sample, fmt: str, opts: ReadOptions) -> RawBatch:
    frame, lines = _read_frame(s)
    frame = frame.with_row_index("_row", offset=1)
    if fmt == "ethereum-etl" and "type" in frame.columns and s.kind != "csv":
        types = frame["type"]
        if not (types == "token_transfer").any() and (types == "log").any():
            # a stream holding raw logs but no token_transfer records: decode the logs
            from tracer.sources import rpc_logs

            return rpc_logs.read(s, "ethereum-etl-logs", opts)
    if "type" in frame.columns:
        wanted = "transaction" if fmt == "ethereum-etl-transactions" else "token_transfer"
        other = pl.col("type").fill_null("") != wanted
    else:
        other = pl.lit(False)
    original = frame if lines is None else lines
    cols = set(frame.columns)

    def col(name: str) -> pl.Expr:
        return pl.col(name) if name in cols else pl.lit(None, pl.String)

    ts = pl.lit(timestamp_series(frame, "block_timestamp"))
    ts_text = unparsed_time(col("block_timestamp"), ts)
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
            ts_text,
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
            ts_text,
            col("from_address").alias("src"),
            col("to_address").alias("dst"),
            col("value").alias("value"),
            skip.alias("_skip"),
        )
        fields = FIELDS_TOKEN
        out = flag_non_integer(out, "seq", fields["seq"], non_negative=True)
    out = flag_non_integer(out, "block", fields["block"], non_negative=True)
    if "_line_error" in cols:
        bad_line = frame["_line_error"].is_not_null()
        out = flag_error(out, bad_line, None, pl.lit(frame["_line_error"]))
        out = out.with_columns(pl.when(pl.lit(bad_line)).then(None).otherwise(pl.col("_skip")))
    if fmt == "ethereum-etl-transactions":
        out = out.with_columns(pl.lit(True).alias("_native"))
        return RawBatch(out, original, fields, fmt)
    # a token transfer names its contract and log index: blank ones are errors, not ETH or a
    # content-derived seq
    return RawBatch(out, original, fields, fmt, required=("seq",))
