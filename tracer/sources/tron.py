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

from collections.abc import Callable
from typing import Any

import polars as pl

from tracer.sources.base import (
    RawBatch,
    ReadOptions,
    flag_non_integer,
)
from tracer.sources.sample import Sample, dump, read_csv_strings, scalar_text
from tracer.sources.timestamps import timestamp_us, unparsed_time

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
    return scalar_text(v)


class _Shape(ValueError):
    """A record whose nesting is not the API's (e.g. ``"token_info": "USDT"``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def _obj(parent: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    """``parent[key]`` as an object (missing = empty); anything else is a row error."""
    v = parent.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise _Shape(name, f"{name} is not a JSON object: {_s(v)!s:.80}")
    return v


def _first_obj(parent: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    """``parent[key][0]`` as an object (missing = empty)."""
    v = parent.get(key)
    if v is None or v == []:
        return {}
    if not isinstance(v, list) or not isinstance(v[0], dict | None):
        raise _Shape(name, f"{name} is not a list of JSON objects: {_s(v)!s:.80}")
    return v[0] or {}


def _rows(
    recs: list[Any], parse: Callable[[dict[str, Any]], dict[str, str | None]]
) -> list[dict[str, str | None]]:
    """Parse every record; a record that is not an object, or nested wrongly, is a row error
    (rejected with ``--skip-bad``) instead of ending the read."""
    rows = []
    for i, r in enumerate(recs, start=1):
        try:
            if not isinstance(r, dict):
                raise _Shape("", "record is not a JSON object")
            row = parse(r)
        except _Shape as exc:
            row = {"_error": str(exc), "_error_field": exc.field or None}
        row["_row"] = str(i)
        rows.append(row)
    return rows


def _trongrid(r: dict[str, Any]) -> dict[str, str | None]:
    info = _obj(r, "token_info", "token_info")
    kind = r.get("type")
    return {
        "tx_hash": _s(r.get("transaction_id")),
        "token": _s(info.get("address")),
        "asset": _s(info.get("symbol")),
        "decimals": _s(info.get("decimals")),
        "ts": _s(r.get("block_timestamp")),
        "src": _s(r.get("from")),
        "dst": _s(r.get("to")),
        "value": _s(r.get("value")),
        "_skip": None if kind in (None, "Transfer") else f"{_s(kind)} event (moves no value)",
    }


def _trongrid_trx(r: dict[str, Any]) -> dict[str, str | None]:
    c = _first_obj(_obj(r, "raw_data", "raw_data"), "contract", "raw_data.contract")
    value = _obj(_obj(c, "parameter", "raw_data.contract.parameter"), "value", "parameter.value")
    ret = _first_obj(r, "ret", "ret").get("contractRet")
    kind = c.get("type")
    skip = None
    if kind != "TransferContract":
        skip = f"{_s(kind) or 'unknown'} transaction (moves no TRX)"
    elif ret not in (None, "", "SUCCESS"):
        skip = f"failed transaction (contractRet={_s(ret)})"
    return {
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
        "_native": "true",
    }


def _tronscan(r: dict[str, Any]) -> dict[str, str | None]:
    info = _obj(r, "tokenInfo", "tokenInfo")
    return {
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


def _tronscan_skip(event: Any, ret: Any, revert: Any) -> str | None:
    if event not in (None, "", "Transfer"):
        return f"{_s(event)} event (moves no value)"
    if ret not in (None, "", "SUCCESS"):
        return f"failed transaction (contractRet={_s(ret)})"
    if revert in (True, "true", "True", "1"):
        return "reverted transaction"
    return None


def _trongrid_rows(recs: list[Any], path: str) -> list[dict[str, str | None]]:
    """TronGrid TRC-20 records → raw rows (``path`` kept for callers; errors are per row)."""
    return _rows(recs, _trongrid)


def _trongrid_trx_rows(recs: list[Any], path: str) -> list[dict[str, str | None]]:
    """TronGrid native-TRX records → raw rows."""
    return _rows(recs, _trongrid_trx)


def _tronscan_rows(recs: list[Any], path: str) -> list[dict[str, str | None]]:
    """TronScan transfer records → raw rows."""
    return _rows(recs, _tronscan)


_COLUMNS = ["_row", "tx_hash", "token", "asset", "decimals", "ts", "block", "src", "dst", "value",
            "_skip", "_native", "_error", "_error_field"]  # fmt: skip


def read(s: Sample, fmt: str, opts: ReadOptions) -> RawBatch:
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
    else:
        key = "token_transfers" if fmt == "tronscan" else "data"
        recs = _records(s.document, key) or []
        parse = {"tronscan": _tronscan_rows, "trongrid-trx": _trongrid_trx_rows}.get(
            fmt, _trongrid_rows
        )
        frame = pl.DataFrame(parse(recs, str(s.path)), schema=dict.fromkeys(_COLUMNS, pl.String))
        original = pl.DataFrame(
            {"_row": range(1, len(recs) + 1), "record": [dump(r) for r in recs]},
            schema={"_row": pl.Int64, "record": pl.String},
        )
    frame = frame.with_columns(
        pl.col("_row").cast(pl.Int64),
        (pl.col("_native") == "true").alias("_native")
        if "_native" in frame.columns
        else pl.lit(False).alias("_native"),
        timestamp_us(pl.col("ts")).alias("ts"),
        unparsed_time(pl.col("ts"), timestamp_us(pl.col("ts"))),
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
