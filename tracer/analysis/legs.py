"""Which canonical transfer rows are a hop's legs (``legs_in`` / ``legs_out`` of the hop table).

Why one helper for every producer: the cross-asset follow replaces the legs by the hop, so a
swap, a bridge and an OTC hop must name their legs by the same rule — a transfer of the hop's
transaction and asset (``token`` null = native coin, compared null-safe) leaving the payer
(input side) or reaching the receiver (output side).
"""

from __future__ import annotations

import polars as pl

_COLS = ["chain", "tx_hash", "seq", "src", "dst", "token"]


def leg_seqs(keys: pl.DataFrame, transfers: pl.DataFrame, side: str) -> pl.DataFrame:
    """``_k, legs_<side>``: sorted ``seq`` lists per key row.

    ``keys`` holds ``_k`` (any id), ``chain``, ``tx_hash``, ``address`` (payer for ``in``,
    receiver for ``out``) and ``token``; keys without a matching transfer are absent.
    """
    who = "src" if side == "in" else "dst"
    k = keys.select("_k", "chain", "tx_hash", pl.col("address").alias(who), "token")
    t = transfers.select(_COLS).join(
        k.select("chain", "tx_hash").unique(), on=["chain", "tx_hash"], how="semi"
    )
    hit = k.join(t, on=["chain", "tx_hash", who, "token"], how="inner", nulls_equal=True)
    return hit.group_by("_k").agg(pl.col("seq").unique().sort().alias(f"legs_{side}"))


def with_legs(frame: pl.DataFrame, transfers: pl.DataFrame,
              sides: dict[str, tuple[str, str, str, str]]) -> pl.DataFrame:  # fmt: skip
    """``frame`` plus ``legs_in``/``legs_out`` (empty lists where none): ``sides`` maps each
    side to the columns of ``frame`` holding its (chain, tx hash, address, token)."""
    out = frame.with_row_index("_k")
    for side, (chain, tx, address, token) in sides.items():
        names = {chain: "chain", tx: "tx_hash", address: "address", token: "token"}
        keys = out.select("_k", *(pl.col(c).alias(n) for c, n in names.items()))
        out = out.join(leg_seqs(keys, transfers, side), on="_k", how="left")
        out = out.with_columns(pl.col(f"legs_{side}").fill_null(pl.lit([], pl.List(pl.Int64))))
    return out.sort("_k").drop("_k")
