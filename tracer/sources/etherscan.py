"""Etherscan "Download CSV Export" files (and the BscScan/PolygonScan clones of the same pages).

``etherscan-tokens`` : the ERC-20 token transfer export. Old header
    ``Txhash,Blockno,UnixTimestamp,DateTime,From,To,Value|Quantity,ContractAddress,TokenName,
    TokenSymbol``; new header ``Transaction Hash,Blockno,UnixTimestamp,DateTime (UTC),From,To,
    TokenValue,USDValueDayOfTx,ContractAddress,TokenName,TokenSymbol``.
``etherscan-txs`` : the normal-transaction export (``Value_IN(ETH)``, ``Value_OUT(ETH)``,
    ``Status``/``ErrCode``), for native-coin transfers.

These amounts are already scaled by the token's decimals and printed with thousands separators,
so the exact integer is recovered with the token's ``decimals`` from the token table
(:mod:`tracer.core.tokens`, extendable with ``--tokens``). A row whose token decimals are
unknown, or whose printed amount has more fractional digits than the token has decimals, cannot
be made exact and is rejected with that reason (never rounded into the data). The exports have no
log index: ``seq`` is derived from content (:func:`tracer.sources.base.synthetic_seq`).
"""

from __future__ import annotations

import polars as pl

from tracer.core.addresses import normalize, normalize_chain
from tracer.core.errors import InputError
from tracer.core.tokens import NATIVE
from tracer.sources.base import (
    RawBatch,
    ReadOptions,
    flag_non_integer,
    recover_exact,
)
from tracer.sources.sample import Sample, read_csv_strings
from tracer.sources.timestamps import timestamp_us, unparsed_time

_HASH = ("Transaction Hash", "Txhash")
_VALUE = ("TokenValue", "Value", "Quantity")


def _first(header: list[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in header), None)


def sniff(s: Sample) -> str | None:
    if s.kind != "csv":
        return None
    h = s.header
    if _first(h, _HASH) is None or "From" not in h or "To" not in h:
        return None
    if any(c.startswith("Value_IN(") for c in h):
        return "etherscan-txs"
    if _first(h, _VALUE) is not None:
        return "etherscan-tokens"
    return None


def read(s: Sample, fmt: str, opts: ReadOptions) -> RawBatch:
    frame = read_csv_strings(s.path).with_row_index("_row", offset=1)
    chain = normalize_chain(opts.chain or "ethereum")
    h = frame.columns
    hash_col = _first(h, _HASH) or "Txhash"
    time_col = (
        "UnixTimestamp" if "UnixTimestamp" in h else _first(h, ("DateTime (UTC)", "DateTime"))
    )
    fields = {"tx_hash": hash_col, "src": "From", "dst": "To", "block": "Blockno"}
    lacking = [c for c in (hash_col, "From", "To") if c not in h]
    if lacking:
        raise InputError(
            str(s.path), None, None, f"not an Etherscan export: no column {', '.join(lacking)}"
        )
    base = frame.select(
        "_row",
        pl.col(hash_col).alias("tx_hash"),
        (pl.col("Blockno") if "Blockno" in h else pl.lit(None, pl.String)).alias("block"),
        (timestamp_us(pl.col(time_col)) if time_col else pl.lit(None, pl.Int64)).alias("ts"),
        unparsed_time(pl.col(time_col), timestamp_us(pl.col(time_col)))
        if time_col
        else pl.lit(None, pl.String).alias("_ts_text"),
        pl.col("From").alias("src"),
        pl.col("To").alias("dst"),
    )
    if fmt == "etherscan-txs":
        out, fields = _native(frame, base, chain, fields)
    else:
        out, fields = _tokens(frame, base, chain, opts, fields)
    out = flag_non_integer(out, "block", "Blockno")
    return RawBatch(out, frame, fields, fmt)


def _tokens(
    frame: pl.DataFrame, base: pl.DataFrame, chain: str, opts: ReadOptions, fields: dict
) -> tuple[pl.DataFrame, dict]:
    h = frame.columns
    value_col = _first(h, _VALUE) or "Value"
    contracts = (
        frame["ContractAddress"].to_list() if "ContractAddress" in h else [None] * len(frame)
    )
    decimals: list[int | None] = []
    for c in contracts:
        try:
            tok = opts.tokens.get(chain, normalize(chain, c)) if c else None
        except ValueError:
            tok = None
        decimals.append(tok.decimals if tok else None)
    values, errors = recover_exact(
        frame[value_col].to_list(), decimals, [c or "?" for c in contracts]
    )
    out = base.with_columns(
        pl.Series("token", contracts, pl.String),
        frame["TokenSymbol"].alias("asset")
        if "TokenSymbol" in h
        else pl.lit(None, pl.String).alias("asset"),
        pl.Series("value", values, pl.String),
        pl.Series("decimals", decimals, pl.Int16),
        pl.Series("_error", errors, pl.String),
        pl.Series("_error_field", [value_col if e else None for e in errors], pl.String),
    )
    return out, {**fields, "value": value_col, "token": "ContractAddress"}


def _native(
    frame: pl.DataFrame, base: pl.DataFrame, chain: str, fields: dict
) -> tuple[pl.DataFrame, dict]:
    h = frame.columns
    in_col = next(c for c in h if c.startswith("Value_IN("))
    out_col = next((c for c in h if c.startswith("Value_OUT(")), None)
    decimals = NATIVE.get(chain, ("ETH", 18))[1]
    texts_in = frame[in_col].to_list()
    texts_out = frame[out_col].to_list() if out_col else [None] * len(frame)
    chosen: list[str | None] = []
    for a, b in zip(texts_in, texts_out, strict=True):
        a_zero = a is None or a.replace(",", "").strip("0. ") == ""
        chosen.append(b if a_zero and b is not None else a)
    values, errors = recover_exact(chosen, [decimals] * len(chosen), ["native"] * len(chosen))
    status = frame["Status"] if "Status" in h else pl.Series([None] * len(frame), dtype=pl.String)
    err_code = (
        frame["ErrCode"] if "ErrCode" in h else pl.Series([None] * len(frame), dtype=pl.String)
    )
    failed = (status.str.to_lowercase().str.contains("error").fill_null(False)) | (
        err_code.fill_null("").str.strip_chars() != ""
    )
    zero = pl.Series([v == "0" for v in values])
    skip = [
        "failed transaction (Status/ErrCode)" if f else "zero-value transaction" if z else None
        for f, z in zip(failed.to_list(), zero.to_list(), strict=True)
    ]
    out = base.with_columns(
        pl.lit(None, pl.String).alias("token"),
        pl.lit(True).alias("_native"),  # the normal-transaction export moves the native coin
        pl.lit(0, pl.Int64).alias("seq"),
        pl.Series("value", values, pl.String),
        pl.Series("_error", errors, pl.String),
        pl.Series("_error_field", [in_col if e else None for e in errors], pl.String),
        pl.Series("_skip", skip, pl.String),
    )
    return out, {**fields, "value": in_col}
