"""Raw ERC-20 ``Transfer`` logs: ``eth_getLogs`` JSON-RPC responses and ethereum-etl ``logs.csv``.

``eth-getlogs`` : a JSON-RPC response ``{"jsonrpc": "2.0", "result": [log, ...]}``, a JSON array of
    such responses (a batch), or a bare array of log objects (hex ``blockNumber``/``logIndex``,
    optional ``blockTimestamp`` as some providers add).
``ethereum-etl-logs`` : ethereum-etl ``logs.csv`` (``topics`` comma-joined).

Decoding (web3.py's ABI tools): topic0 must be ``keccak("Transfer(address,address,uint256)")``;
with 3 topics it is ERC-20 (``from``/``to`` indexed, ``value`` in data as uint256); with 4 topics it
is ERC-721 (the token id is indexed: no amount), which shares topic0 and is skipped with that
reason, as are other events and logs marked ``removed`` by a reorg.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from tracer.errors import InputError
from tracer.sources.base import RawBatch, ReadOptions, timestamp_us
from tracer.sources.sample import Sample, read_csv_strings

#: keccak256("Transfer(address,address,uint256)"); a literal so that importing this module does
#: not import web3 (0.5 s of every CLI start); tests check it against ``Web3.keccak``.
TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
LOGS_CSV = {"log_index", "transaction_hash", "block_number", "address", "data", "topics"}


def _logs(doc: Any) -> list[dict[str, Any]] | None:
    if isinstance(doc, dict) and "result" in doc and isinstance(doc["result"], list):
        return doc["result"]
    if isinstance(doc, list) and doc and all(isinstance(x, dict) for x in doc):
        if all("result" in x for x in doc):
            return [log for x in doc for log in (x.get("result") or [])]
        if all("topics" in x for x in doc):
            return doc
    return None


def sniff(s: Sample) -> str | None:
    if s.kind == "csv":
        return "ethereum-etl-logs" if set(s.header) >= LOGS_CSV else None
    if s.document is not None:
        logs = _logs(s.document)
        if logs is not None and (not logs or "topics" in logs[0]):
            return "eth-getlogs"
    return None


def _int(v: Any) -> int | None:
    if v is None or v == "":
        return None
    if isinstance(v, int):
        return v
    t = str(v).strip()
    return int(t, 16) if t.lower().startswith("0x") else int(t)


def decode_transfer(topics: list[str], data: str) -> tuple[str | None, str | None, str | None, str]:
    """Decode one log: ``(from, to, value, skip_reason_or_"")``.

    Raises ``ValueError`` for a log that claims to be an ERC-20 Transfer but cannot be decoded.
    """
    if not topics or topics[0].lower().removeprefix("0x") != TRANSFER_TOPIC:
        return None, None, None, "not an ERC-20 Transfer event"
    if len(topics) == 4:
        return None, None, None, "ERC-721 Transfer (token id, not an amount)"
    if len(topics) != 3:
        return None, None, None, f"Transfer event with {len(topics)} topics (non-standard)"
    from eth_abi import decode  # web3.py's ABI codec, imported only when logs are decoded
    from eth_abi.exceptions import DecodingError

    raw = bytes.fromhex(data.removeprefix("0x"))
    try:
        (value,) = decode(["uint256"], raw[:32]) if len(raw) >= 32 else (None,)
    except DecodingError as exc:
        raise ValueError(f"cannot decode uint256 from data: {exc}") from None
    if value is None:
        raise ValueError(f"data has {len(raw)} bytes, expected a 32-byte uint256")
    src = "0x" + topics[1].lower().removeprefix("0x")[-40:]
    dst = "0x" + topics[2].lower().removeprefix("0x")[-40:]
    return src, dst, str(value), ""


def read(s: Sample, fmt: str, opts: ReadOptions) -> RawBatch:
    path = str(s.path)
    if fmt == "ethereum-etl-logs":
        original = read_csv_strings(s.path).with_row_index("_row", offset=1)
        logs = [
            {
                "address": r["address"],
                "topics": (r["topics"] or "").split(",") if r["topics"] else [],
                "data": r["data"] or "0x",
                "transactionHash": r["transaction_hash"],
                "logIndex": r["log_index"],
                "blockNumber": r["block_number"],
                "blockTimestamp": r.get("block_timestamp"),
            }
            for r in original.iter_rows(named=True)
        ]
        fields = {
            "tx_hash": "transaction_hash",
            "seq": "log_index",
            "block": "block_number",
            "token": "address",
            "value": "data",
            "src": "topics",
            "dst": "topics",
        }
    else:
        logs = _logs(s.document) or []
        original = pl.DataFrame(
            {"_row": range(1, len(logs) + 1), "log": [json.dumps(x, default=str) for x in logs]},
            schema={"_row": pl.Int64, "log": pl.String},
        )
        fields = {
            "tx_hash": "transactionHash",
            "seq": "logIndex",
            "block": "blockNumber",
            "token": "address",
            "value": "data",
            "src": "topics",
            "dst": "topics",
            "ts": "blockTimestamp",
        }
    rows = []
    for i, log in enumerate(logs, start=1):
        if not isinstance(log, dict):
            raise InputError(path, i, None, "log is not a JSON object")
        err = None
        skip = None
        src = dst = value = None
        try:
            if log.get("removed") in (True, "true"):
                skip = "removed by a chain reorganisation"
            else:
                src, dst, value, reason = decode_transfer(
                    list(log.get("topics") or []), log.get("data") or "0x"
                )
                skip = reason or None
            seq, block = _int(log.get("logIndex")), _int(log.get("blockNumber"))
            ts = _int(log.get("blockTimestamp"))
        except (ValueError, TypeError) as exc:
            err, seq, block, ts = str(exc), None, None, None
        rows.append(
            {
                "_row": i,
                "token": log.get("address"),
                "tx_hash": log.get("transactionHash"),
                "seq": seq,
                "block": block,
                "ts": ts,
                "src": src,
                "dst": dst,
                "value": value,
                "_skip": skip,
                "_error": err,
                "_error_field": "data" if err else None,
            }
        )
    schema = {
        "_row": pl.Int64,
        "token": pl.String,
        "tx_hash": pl.String,
        "seq": pl.Int64,
        "block": pl.Int64,
        "ts": pl.Int64,
        "src": pl.String,
        "dst": pl.String,
        "value": pl.String,
        "_skip": pl.String,
        "_error": pl.String,
        "_error_field": pl.String,
    }
    frame = pl.DataFrame(rows, schema=schema)
    frame = frame.with_columns(timestamp_us(pl.col("ts")).alias("ts"))
    return RawBatch(frame, original, fields, fmt)
