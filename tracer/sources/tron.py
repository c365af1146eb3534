"""Tron exports: TronGrid and TronScan.

``trongrid`` : pages of ``GET /v1/accounts/{addr}/transactions/trc20`` — a page object
    ``{"data": [...], "success": true, "meta": {...}}``, a JSON array of such pages, or a bare
    array of records. Record: ``transaction_id, token_info{symbol,address,decimals}, block_timestamp
    (ms), from, to, type, value``. No block number, no log index.
``tronscan`` : TronScan API ``/api/token_trc20/transfers`` (or ``/api/filter/trc20/transfers``)
    responses ``{"token_transfers": [...]}`` and CSV files with the same flattened columns
    (``transaction_id, block_ts, from_address, to_address, block, contract_address, quant`` and
    optionally ``tokenAbbr/tokenDecimal, event_type, contractRet``).

``trongrid-trx`` : pages of ``GET /v1/accounts/{addr}/transactions`` (native TRX): records with
    ``txID, blockNumber, block_timestamp, raw_data.contract[0]{type, parameter.value{amount,
    owner_address, to_address}}, ret[0].contractRet``. Only ``TransferContract`` moves TRX (6
    decimals, token null = native); other contract types (TRC-20 calls, freezes, votes) and
    failed transactions are skipped with their reason. The gas-funder heuristic reads these.

``Approval`` events and failed or reverted transactions are skipped with their reason (they move
no value); timestamps are milliseconds; ``seq`` is derived from content because neither API gives a
log index, so the same transfer seen in two accounts' exports de-duplicates.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from tracer.errors import InputError
from tracer.sources.base import RawBatch, ReadOptions, flag_non_integer, timestamp_us
from tracer.sources.sample import Sample, read_csv_strings

TRONSCAN_CSV = {"transaction_id", "from_address", "to_address", "quant"}


def _records(doc: Any, key: str) -> list[dict[str, Any]] | None:
    """Records under ``key`` of a page, of a list of pages, or a bare list of records."""
    if isinstance(doc, dict) and isinstance(doc.get(key), list):
        return doc[key]
    if isinstance(doc, list) and doc and all(isinstance(p, dict) for p in doc):
        if all(isinstance(p.get(key), list) for p in doc):
            return [r for p in doc for r in p[key]]
        return doc
    return None


def sniff(s: Sample) -> str | None:
    if s.kind == "csv":
        return "tronscan" if set(s.header) >= TRONSCAN_CSV else None
    if s.document is None:
        return None
    recs = _records(s.document, "token_transfers")
    if recs is not None and isinstance(s.document, dict | list):
        if recs and isinstance(recs[0], dict) and "quant" in recs[0]:
            return "tronscan"
        if isinstance(s.document, dict) and "token_transfers" in s.document:
            return "tronscan"
    recs = _records(s.document, "data")
    if recs and isinstance(recs[0], dict) and "transaction_id" in recs[0] and "from" in recs[0]:
        return "trongrid"
    if recs and isinstance(recs[0], dict) and "txID" in recs[0] and "raw_data" in recs[0]:
        return "trongrid-trx"
    if isinstance(s.document, dict) and s.document.get("data") == [] and "success" in s.document:
        return "trongrid"
    return None


def _s(v: Any) -> str | None:
    return None if v is None else str(v)


def _trongrid_rows(recs: list[dict[str, Any]], path: str) -> list[dict[str, str | None]]:
    rows = []
    for i, r in enumerate(recs, start=1):
        if not isinstance(r, dict):
            raise InputError(path, i, None, "record is not a JSON object")
        info = r.get("token_info") or {}
        kind = r.get("type")
        rows.append(
            {
                "_row": str(i),
                "tx_hash": _s(r.get("transaction_id")),
                "token": _s(info.get("address")),
                "asset": _s(info.get("symbol")),
                "decimals": _s(info.get("decimals")),
                "ts": _s(r.get("block_timestamp")),
                "src": _s(r.get("from")),
                "dst": _s(r.get("to")),
                "value": _s(r.get("value")),
                "_skip": None if kind in (None, "Transfer") else f"{kind} event (moves no value)",
            }
        )
    return rows


def _trongrid_trx_rows(recs: list[dict[str, Any]], path: str) -> list[dict[str, str | None]]:
    rows = []
    for i, r in enumerate(recs, start=1):
        if not isinstance(r, dict):
            raise InputError(path, i, None, "record is not a JSON object")
        contracts = (r.get("raw_data") or {}).get("contract") or [{}]
        c = contracts[0] if isinstance(contracts[0], dict) else {}
        value = (c.get("parameter") or {}).get("value") or {}
        ret = ((r.get("ret") or [{}])[0] or {}).get("contractRet")
        kind = c.get("type")
        skip = None
        if kind != "TransferContract":
            skip = f"{kind or 'unknown'} transaction (moves no TRX)"
        elif ret not in (None, "", "SUCCESS"):
            skip = f"failed transaction (contractRet={ret})"
        rows.append(
            {
                "_row": str(i),
                "tx_hash": _s(r.get("txID")),
                "token": None,
                "asset": "TRX",
                "decimals": "6",
                "ts": _s(r.get("block_timestamp")),
                "block": _s(r.get("blockNumber")),
                "src": _s(value.get("owner_address")),
                "dst": _s(value.get("to_address")),
                "value": _s(value.get("amount")),
                "_skip": skip,
            }
        )
    return rows


def _tronscan_rows(recs: list[dict[str, Any]], path: str) -> list[dict[str, str | None]]:
    rows = []
    for i, r in enumerate(recs, start=1):
        if not isinstance(r, dict):
            raise InputError(path, i, None, "record is not a JSON object")
        info = r.get("tokenInfo") or {}
        rows.append(
            {
                "_row": str(i),
                "tx_hash": _s(r.get("transaction_id")),
                "token": _s(r.get("contract_address") or info.get("tokenId")),
                "asset": _s(info.get("tokenAbbr")),
                "decimals": _s(info.get("tokenDecimal")),
                "ts": _s(r.get("block_ts")),
                "block": _s(r.get("block")),
                "src": _s(r.get("from_address")),
                "dst": _s(r.get("to_address")),
                "value": _s(r.get("quant")),
                "_skip": _tronscan_skip(r.get("event_type"), r.get("contractRet"), r.get("revert")),
            }
        )
    return rows


def _tronscan_skip(event: Any, ret: Any, revert: Any) -> str | None:
    if event not in (None, "", "Transfer"):
        return f"{event} event (moves no value)"
    if ret not in (None, "", "SUCCESS"):
        return f"failed transaction (contractRet={ret})"
    if revert in (True, "true", "True", "1"):
        return "reverted transaction"
    return None


_COLUMNS = ["_row", "tx_hash", "token", "asset", "decimals", "ts", "block", "src", "dst", "value"]


def read(s: Sample, fmt: str, opts: ReadOptions) -> RawBatch:
    path = str(s.path)
    if s.kind == "csv":
        original = read_csv_strings(s.path).with_row_index("_row", offset=1)
        c = set(original.columns)

        def col(n: str) -> pl.Expr:
            return pl.col(n) if n in c else pl.lit(None, pl.String).alias(n)

        frame = original.select(
            "_row",
            col("transaction_id").alias("tx_hash"),
            col("contract_address").alias("token"),
            col("tokenAbbr").alias("asset"),
            col("tokenDecimal").alias("decimals"),
            col("block_ts").alias("ts"),
            col("block").alias("block"),
            col("from_address").alias("src"),
            col("to_address").alias("dst"),
            col("quant").alias("value"),
            pl.struct(col("event_type"), col("contractRet"), col("revert"))
            .map_elements(
                lambda x: _tronscan_skip(x["event_type"], x["contractRet"], x["revert"]),
                return_dtype=pl.String,
            )
            .alias("_skip"),
        )
        rows = None
    else:
        key = "token_transfers" if fmt == "tronscan" else "data"
        recs = _records(s.document, key) or []
        parse = {"tronscan": _tronscan_rows, "trongrid-trx": _trongrid_trx_rows}.get(
            fmt, _trongrid_rows
        )
        rows = parse(recs, path)
        schema = dict.fromkeys([*_COLUMNS, "_skip"], pl.String)
        frame = pl.DataFrame(rows, schema=schema)
        original = pl.DataFrame(
            {"_row": range(1, len(recs) + 1), "record": [json.dumps(r, default=str) for r in recs]},
            schema={"_row": pl.Int64, "record": pl.String},
        )
    frame = frame.with_columns(
        pl.col("_row").cast(pl.Int64),
        timestamp_us(pl.col("ts")).alias("ts"),
        pl.lit("tron").alias("chain"),
    )
    if fmt == "trongrid-trx":
        fields = {
            "tx_hash": "txID",
            "token": "raw_data.contract",
            "ts": "block_timestamp",
            "block": "blockNumber",
            "src": "owner_address",
            "dst": "to_address",
            "value": "amount",
            "decimals": "decimals",
        }
    elif fmt == "trongrid":
        fields = {
            "tx_hash": "transaction_id",
            "token": "token_info.address",
            "ts": "block_timestamp",
            "src": "from",
            "dst": "to",
            "value": "value",
            "decimals": "token_info.decimals",
        }
    else:
        fields = {
            "tx_hash": "transaction_id",
            "token": "contract_address",
            "ts": "block_ts",
            "src": "from_address",
            "dst": "to_address",
            "value": "quant",
            "block": "block",
            "decimals": "tokenDecimal",
        }
    frame = flag_non_integer(frame, "decimals", fields["decimals"])
    frame = flag_non_integer(frame, "block", "block")
    return RawBatch(frame, original, fields, fmt)
