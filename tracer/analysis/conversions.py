"""Decoded conversions (swaps, wraps) as hop rows (:data:`tracer.core.hops.HOP_SCHEMA`).

The decoder lives in :mod:`tracer.sources.conversions` (it reads logs, and the store decodes at
ingest); this module is the use-case side: one conversion row becomes one same-transaction hop
whose ``legs_in`` / ``legs_out`` name the canonical transfer rows (``seq``) the trader paid and
received, so the cross-asset follow replaces those transfers by the hop instead of counting
value twice.

Why ``inferred`` is ``confidence < 1``: a ``net-flow`` or ``+wrap-legs`` row rests only on logs
and transfers on chain; ``+v1-legs`` (0.9) and ``+unwrap-forward`` (0.7) assume a native leg the
inputs do not show, and the follow must mark what rests on them.
"""

from __future__ import annotations

import json

import polars as pl

from tracer.analysis.legs import with_legs
from tracer.core.hops import HOP_SCHEMA, empty_hops
from tracer.sources.conversions import CONVERSION_SCHEMA, decode_conversions, decode_files

__all__ = ["CONVERSION_SCHEMA", "conversion_hops", "decode_conversions", "decode_files"]

def conversion_hops(conversions: pl.DataFrame, transfers: pl.DataFrame) -> pl.DataFrame:
    """One hop per conversion row; ``kind`` is ``wrap`` when only a wrapped-native contract
    took part (protocol ``wrap``), ``swap`` otherwise. ``transfers`` is the canonical table (or
    the rows of the conversions' transactions); legs missing from it give empty lists."""
    if conversions.height == 0:
        return empty_hops()
    sides = {"in": ("chain", "tx_hash", "trader", "token_in"),
             "out": ("chain", "tx_hash", "recipient", "token_out")}  # fmt: skip
    conv = with_legs(conversions, transfers, sides)
    evidence = [
        json.dumps({"block": b, "pools": p, "log_indices": li, "flow_log_indices": fl})
        for b, p, li, fl in conv.select(
            "block", "pools", "log_indices", "flow_log_indices"
        ).iter_rows()
    ]
    kind = pl.when(pl.col("protocol") == "wrap").then(pl.lit("wrap")).otherwise(pl.lit("swap"))
    out = conv.with_columns(
        kind.alias("kind"),
        pl.lit(pl.Series(evidence, dtype=pl.String)).alias("evidence"),
    ).select(
        pl.concat_str(
            [kind, pl.col("chain"), pl.col("tx_hash"), pl.col("trader")], separator=":"
        ).alias("hop_id"),
        pl.col("kind"),
        pl.col("chain").alias("chain_in"),
        pl.col("tx_hash").alias("tx_in"),
        pl.col("ts").alias("ts_in"),
        pl.col("trader").alias("address_in"),
        "asset_in", "token_in", "value_in", "decimals_in", "legs_in",
        pl.col("chain").alias("chain_out"),
        pl.col("tx_hash").alias("tx_out"),
        pl.col("ts").alias("ts_out"),
        pl.col("recipient").alias("address_out"),
        "asset_out", "token_out", "value_out", "decimals_out", "legs_out",
        "protocol", "rule", "confidence",
        (pl.col("confidence") < 1.0).alias("inferred"),
        "evidence",
    )  # fmt: skip
    return out.cast(HOP_SCHEMA)  # type: ignore[arg-type]
