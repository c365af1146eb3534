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

import polars as pl
import pyarrow as pa

TS_TYPE = pa.timestamp("us", tz="UTC")

TRANSFER_SCHEMA = pa.schema(
    [
        pa.field("chain", pa.string(), nullable=False),
        pa.field("asset", pa.string()),
        pa.field("token", pa.string()),
        pa.field("tx_hash", pa.string(), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("block", pa.int64()),
        pa.field("ts", TS_TYPE, nullable=False),
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

LABEL_SCHEMA = pa.schema(
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

REJECT_SCHEMA = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),
        pa.field("row", pa.int64()),
        pa.field("field", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
    ],
    metadata={"tracer.core.schema": "rejects/1"},
)

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
    """The Polars schema that corresponds to an Arrow schema (one source of truth: Arrow)."""
    return pl.from_arrow(schema.empty_table()).schema  # type: ignore[union-attr]


TRANSFER_PL = polars_schema(TRANSFER_SCHEMA)
LABEL_PL = polars_schema(LABEL_SCHEMA)
REJECT_PL = polars_schema(REJECT_SCHEMA)


def empty_transfers() -> pl.DataFrame:
    """An empty frame with the canonical transfer schema."""
    return pl.DataFrame(schema=TRANSFER_PL)


def to_arrow_transfers(frame: pl.DataFrame) -> pa.Table:
    """Convert a canonical Polars frame to Arrow with exactly :data:`TRANSFER_SCHEMA`."""
    table = frame.select(TRANSFER_PL.names()).to_arrow()
    return table.cast(TRANSFER_SCHEMA)
