"""Canonical Arrow schemas: the one contract between sources, workspace, kernels and reports.

Why ``value`` is a string of decimal digits: it must hold any ERC-20 amount exactly, and uint256
max (2**256 - 1) has 78 digits, beyond Arrow ``decimal256``'s 76-digit precision. A canonical digit
string (no sign, no leading zeros, no exponent) sorts, compares for equality and round-trips through
Parquet, CSV, DuckDB and pandas unchanged. ``amount`` is the float64 in token units that kernels
use (see :mod:`tracer.core.amounts`, the one place that converts).

Why ``decimals``/``amount``/``asset`` may be null: raw exports (ethereum-etl token transfers, raw
``eth_getLogs``) carry no token metadata. A row of an unknown token keeps its exact ``value``; it is
counted as ``unknown_decimals`` in every summary and excluded from kernels until the token is added
with ``--tokens``. Nothing is dropped silently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from tracer.core.lazy_import import lazy_module

if TYPE_CHECKING:
    import pyarrow as pa

    # Built on first use (module ``__getattr__`` below); typed here for the checkers.
    TS_TYPE: pa.DataType
    TRANSFER_SCHEMA: pa.Schema
    LABEL_SCHEMA: pa.Schema
    REJECT_SCHEMA: pa.Schema
else:
    pa = lazy_module("pyarrow")


def _transfer_schema() -> pa.Schema:
    ts_type = pa.timestamp("us", tz="UTC")
    return pa.schema(
        [
            pa.field("chain", pa.string(), nullable=False),
            pa.field("asset", pa.string()),
            pa.field("token", pa.string()),
            pa.field("tx_hash", pa.string(), nullable=False),
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("block", pa.int64()),
            pa.field("ts", ts_type, nullable=False),
            pa.field("src", pa.string(), nullable=False),
            pa.field("dst", pa.string(), nullable=False),
            pa.field("value", pa.string(), nullable=False),
            pa.field("decimals", pa.int16()),
            pa.field("amount", pa.float64()),
        ],
        metadata={"tracer.core.schema": "transfers/1"},
    )

#: De-duplication key: one on-chain transfer is one row, whichever export it came from.
TRANSFER_KEY = ["chain", "tx_hash", "seq", "token"]

#: Chain order: the order in which kernels process transfers. ``seq`` is block-wide for EVM
#: log indices, so (block, seq) is a total order inside a block where blocks are known.
TRANSFER_ORDER = ["ts", "block", "seq", "chain", "tx_hash", "token"]


def _label_schema() -> pa.Schema:
    return pa.schema(
        [
            pa.field("chain", pa.string()),
            pa.field("address", pa.string(), nullable=False),
            pa.field("name", pa.string(), nullable=False),
            pa.field("category", pa.string(), nullable=False),
            pa.field("source", pa.string()),
            pa.field("confidence", pa.string()),
        ],
        metadata={"tracer.core.schema": "labels/1"},
    )


def _reject_schema() -> pa.Schema:
    return pa.schema(
        [
            pa.field("file", pa.string(), nullable=False),
            pa.field("row", pa.int64()),
            pa.field("field", pa.string()),
            pa.field("reason", pa.string(), nullable=False),
            pa.field("raw", pa.string()),
        ],
        metadata={"tracer.core.schema": "rejects/1"},
    )


#: The Arrow schemas (the written contract: nullability and metadata), built when first read.
_ARROW_SCHEMAS = {
    "TS_TYPE": lambda: pa.timestamp("us", tz="UTC"),
    "TRANSFER_SCHEMA": _transfer_schema,
    "LABEL_SCHEMA": _label_schema,
    "REJECT_SCHEMA": _reject_schema,
}


def __getattr__(name: str) -> Any:
    """The Arrow schemas on first use, so importing this module does not import pyarrow.

    Why: a cold ``tracer follow`` over JSON or CSV files (the README's first command) reads with
    Polars and never touches Arrow; importing pyarrow cost it 0.03-0.05 s of CPU. Built once,
    then an ordinary module attribute."""
    if name in globals():  # built already (this module's own functions call here)
        return globals()[name]
    build = _ARROW_SCHEMAS.get(name)
    if build is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = build()
    return value


#: The label categories tracer knows. Any other category is accepted (kept as given, lower-case),
#: these are the ones with defaults: sinks by default unless listed in ``PASS_THROUGH_DEFAULT``.
CATEGORIES = (
    "exchange",
    "otc_desk",
    "guarantee_marketplace",
    "mixer",
    "bridge",
    "swap",
    "sanctioned",
    "scam",
    "gambling",
)


def polars_schema(schema: pa.Schema) -> pl.Schema:
    """The Polars schema that corresponds to an Arrow schema (how Polars reads it)."""
    return pl.from_arrow(schema.empty_table()).schema  # type: ignore[union-attr]


#: The same schemas as Polars reads them, written out (pyarrow is not imported for them); equal
#: to ``polars_schema`` of the Arrow ones (tests/core/test_schema.py holds them together).
TRANSFER_PL = pl.Schema(
    {
        "chain": pl.String(),
        "asset": pl.String(),
        "token": pl.String(),
        "tx_hash": pl.String(),
        "seq": pl.Int64(),
        "block": pl.Int64(),
        "ts": pl.Datetime("us", "UTC"),
        "src": pl.String(),
        "dst": pl.String(),
        "value": pl.String(),
        "decimals": pl.Int16(),
        "amount": pl.Float64(),
    }
)
LABEL_PL = pl.Schema(dict.fromkeys(["chain", "address", "name", "category", "source",
                                    "confidence"], pl.String()))  # fmt: skip
REJECT_PL = pl.Schema(
    {"file": pl.String(), "row": pl.Int64(), "field": pl.String(), "reason": pl.String(),
     "raw": pl.String()}
)  # fmt: skip


def empty_transfers() -> pl.DataFrame:
    """An empty frame with the canonical transfer schema."""
    return pl.DataFrame(schema=TRANSFER_PL)


def to_arrow_transfers(frame: pl.DataFrame) -> pa.Table:
    """Convert a canonical Polars frame to Arrow with exactly :data:`TRANSFER_SCHEMA`."""
    table = frame.select(TRANSFER_PL.names()).to_arrow()
    return table.cast(__getattr__("TRANSFER_SCHEMA"))
