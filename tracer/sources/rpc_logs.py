"""Raw ERC-20 ``Transfer`` logs: ``eth_getLogs`` JSON-RPC responses and ethereum-etl ``logs.csv``.

``eth-getlogs`` : a JSON-RPC response ``{"jsonrpc": "2.0", "result": [log, ...]}``, a JSON array of
    such responses (a batch), or a bare array of log objects (hex ``blockNumber``/``logIndex``,
    optional ``blockTimestamp`` as some providers add).
``ethereum-etl-logs`` : ethereum-etl ``logs.csv`` (``topics`` comma-joined), and the newline-JSON
    of ``type: log`` records that ``ethereumetl stream -e log`` writes (``topics`` a JSON list).

Decoding (web3.py's ABI tools): topic0 must be ``keccak("Transfer(address,address,uint256)")``;
with 3 topics it is ERC-20 (``from``/``to`` indexed, ``value`` in data as uint256); with 4 topics it
is ERC-721 (the token id is indexed: no amount), which shares topic0 and is skipped with that
reason, as are other events and logs marked ``removed`` by a reorg.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from tracer.sources.base import RawBatch, ReadOptions, raw_schema
from tracer.sources.sample import Sample, dump, iter_ndjson, read_csv_strings, scalar_text
from tracer.sources.timestamps import timestamp_us

#: keccak256("Transfer(address,address,uint256)"); a literal so that importing this module does
#: not import web3 (0.5 s of every CLI start); tests check it against ``Web3.keccak``.
TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
LOGS_CSV = {"log_index", "transaction_hash", "block_number", "address", "data", "topics"}


def _logs(doc: Any) -> list[Any] | None:
    if isinstance(doc, dict) and "result" in doc and isinstance(doc["result"], list):
        return doc["result"]
    if isinstance(doc, list) and doc and all(isinstance(x, dict) for x in doc):
        if all("result" in x for x in doc):
            out: list[Any] = []
            for x in doc:
                page = x.get("result") or []
                out.extend(page if isinstance(page, list) else [page])
            return out
        if all("topics" in x for x in doc):
            return doc
    return None


def sniff(s: Sample) -> str | None:
    if s.kind == "csv":
        return "ethereum-etl-logs" if set(s.header) >= LOGS_CSV else None
    if s.document is not None:
        logs = _logs(s.document)
        if logs is not None and (not logs or (isinstance(logs[0], dict) and "topics" in logs[0])):
            return "eth-getlogs"
    return None


_INT64_MAX = 2**63 - 1


def _int(v: Any, name: str) -> int | None:
    """An integer field of a log (hex ``0x..`` as RPC writes it, or decimal), range-checked:
    a log index or block number is never negative and always fits Int64."""
    if v is None or v == "":
        return None
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise _FieldError(name, f"{name} is not an integer: {_short(v)}")
    if isinstance(v, int):
        n = v
    else:
        t = v.strip()
        try:
            n = int(t, 16) if t.lower().startswith("0x") else int(t, 10)
        except ValueError:
            raise _FieldError(name, f"{name} is not an integer: {_short(v)}") from None
    if not 0 <= n <= _INT64_MAX:
        raise _FieldError(name, f"{name} out of range 0..2^63-1: {_short(v)}")
    return n


def _short(v: Any) -> str:
    text = scalar_text(v) or "null"
    return text if len(text) <= 80 else text[:77] + "..."


class _FieldError(ValueError):
    """A log field that cannot be read; carries the field's name for the message."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


_HEX_RE = re.compile(r"(?:0x)?(?:[0-9a-fA-F]{2})*")


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

    for t in topics[1:]:
        if not re.fullmatch(r"(?:0x)?[0-9a-fA-F]{64}", t):
            raise _FieldError("topics", f"topic is not 32 bytes of hex: {_short(t)}")
    if not _HEX_RE.fullmatch(data):
        raise _FieldError("data", f"data is not hex: {_short(data)}")
    raw = bytes.fromhex(data.removeprefix("0x"))
    try:
        (value,) = decode(["uint256"], raw[:32]) if len(raw) >= 32 else (None,)
    except DecodingError as exc:
        raise _FieldError("data", f"cannot decode uint256 from data: {exc}") from None
    if value is None:
        raise _FieldError("data", f"data has {len(raw)} bytes, expected a 32-byte uint256")
    src = "0x" + topics[1].lower().removeprefix("0x")[-40:]
    dst = "0x" + topics[2].lower().removeprefix("0x")[-40:]
    return src, dst, str(value), ""


#: Where each canonical field lives in an RPC log (camelCase) and an ethereum-etl log (snake).
_RPC_KEYS = {
    "token": "address",
    "tx_hash": "transactionHash",
    "seq": "logIndex",
    "block": "blockNumber",
    "ts": "blockTimestamp",
}
_ETL_KEYS = {
    "token": "address",
    "tx_hash": "transaction_hash",
    "seq": "log_index",
    "block": "block_number",
    "ts": "block_timestamp",
}


def _decode_log(i: int, log: Any, keys: dict[str, str]) -> dict[str, Any]:
    """One log → one raw row; every way a log can be malformed becomes the row's error."""
    row: dict[str, Any] = {"_row": i}
    if not isinstance(log, dict):
        return {**row, "_error": "log is not a JSON object", "_error_field": None}
    kind = log.get("type") if keys is _ETL_KEYS else None  # RPC logs may say type "mined"
    if kind is not None and kind != "log":
        return {**row, "_skip": f"not a log record (type={scalar_text(kind)})"}
    if log.get("removed") in (True, "true"):
        return {**row, "_skip": "removed by a chain reorganisation"}
    for name in ("token", "tx_hash"):
        v = log.get(keys[name])
        row[name] = v if isinstance(v, str) or v is None else scalar_text(v)
    try:
        topics = log.get("topics")
        if topics is None:
            topics = []
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise _FieldError("topics", f"topics is not a list of hex strings: {_short(topics)}")
        data = log.get("data")
        if data is None:
            data = "0x"
        if not isinstance(data, str):
            raise _FieldError("data", f"data is not a hex string: {_short(data)}")
        src, dst, value, reason = decode_transfer(topics, data)
        row.update(src=src, dst=dst, value=value, _skip=reason or None)
        for name in ("seq", "block", "ts"):
            row[name] = _int(log.get(keys[name]), keys[name])
    except _FieldError as exc:
        return {**row, "_skip": None, "_error": str(exc), "_error_field": exc.field}
    return row


_SCHEMA = raw_schema(
    "token", "tx_hash", "seq", "block", "ts", "src", "dst", "value", "_skip", "_error",
    "_error_field",
)


def read(s: Sample, fmt: str, opts: ReadOptions) -> RawBatch:
    rows: list[dict[str, Any]] = []
    if fmt == "ethereum-etl-logs" and s.kind == "csv":
        original = read_csv_strings(s.path).with_row_index("_row", offset=1)
        cols = set(original.columns)
        for r in original.iter_rows(named=True):
            log = {k: r.get(k) for k in ("address", "transaction_hash", "log_index",
                                         "block_number", "block_timestamp")}  # fmt: skip
            log["topics"] = r["topics"].split(",") if r.get("topics") else []
            log["data"] = r.get("data") or "0x"
            if "removed" in cols:
                log["removed"] = r["removed"]
            rows.append(_decode_log(r["_row"], log, _ETL_KEYS))
        fields = {**_ETL_KEYS, "value": "data", "src": "topics", "dst": "topics"}
    elif fmt == "ethereum-etl-logs":  # ethereum-etl stream: newline-JSON of type=log records
        texts: list[str] = []
        for line in iter_ndjson(s.path):
            texts.append(line.text)
            if line.obj is None:
                rows.append({"_row": line.row, "_error": line.error, "_error_field": None})
            else:
                rows.append(_decode_log(line.row, line.obj, _ETL_KEYS))
        original = pl.DataFrame({"record": texts}, schema={"record": pl.String})
        original = original.with_row_index("_row", offset=1)
        fields = {**_ETL_KEYS, "value": "data", "src": "topics", "dst": "topics"}
    else:
        logs = _logs(s.document) or []
        original = pl.DataFrame(
            {"_row": range(1, len(logs) + 1), "log": [dump(x) for x in logs]},
            schema={"_row": pl.Int64, "log": pl.String},
        )
        rows = [_decode_log(i, log, _RPC_KEYS) for i, log in enumerate(logs, start=1)]
        fields = {**_RPC_KEYS, "value": "data", "src": "topics", "dst": "topics"}
    frame = pl.DataFrame(rows, schema=_SCHEMA)
    frame = frame.with_columns(timestamp_us(pl.col("ts")).alias("ts"))
    # a log is a token event: its contract (address) and log index must be there
    return RawBatch(frame, original, fields, fmt, required=("seq",))
