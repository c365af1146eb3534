"""The hop table: the one contract between what finds conversions and what follows through them.

A *hop* is value that leaves one (chain, asset) and arrives in another: a swap or a wrap (same
chain, same transaction), a bridge (two chains, two transactions) or an OTC desk / instant
exchanger (an inflow and a later outflow of matching value, inferred). Producers (decoded swaps
and wraps, the bridge matcher, the OTC inference) each return frames of :data:`HOP_SCHEMA`; the
cross-asset follow consumes them without knowing which producer made a row.

Why one schema for facts and inferences: an investigator must see, per hop, whether it is on-chain
fact or an inference, and how much of a result rests on inferences. ``inferred`` and
``confidence`` travel with every row, so no consumer can mix the two silently.

Semantics of a row (amounts are exact integer strings, as in the transfer table):
- ``address_in`` sent ``value_in`` of ``token_in`` (``asset_in``) on ``chain_in`` in ``tx_in`` at
  ``ts_in``; ``address_out`` received ``value_out`` of ``token_out`` on ``chain_out`` in
  ``tx_out`` at ``ts_out`` (``ts_out >= ts_in``: time never runs backwards).
- Taint entering the hop continues at the hop's own rate: tainted_out = value_out ×
  tainted_in / value_in.
- ``legs_in`` / ``legs_out``: the ``seq`` values of the transfer rows (in the canonical table)
  that are the hop's input and output legs, so a consumer can replace those transfers by the hop
  instead of counting them twice. Empty when the legs are not transfers in the table.
"""

from __future__ import annotations

import polars as pl

#: Kinds of hop. ``swap`` and ``wrap`` are same-transaction conversions, ``bridge`` crosses
#: chains, ``otc`` is an inferred pass-through of a desk or exchanger.
HOP_KINDS = ("swap", "wrap", "bridge", "otc")

HOP_SCHEMA: dict[str, pl.DataType] = {
    "hop_id": pl.String(),  # stable and unique: kind:chain_in:tx_in:... (same input -> same id)
    "kind": pl.String(),
    "chain_in": pl.String(),
    "tx_in": pl.String(),
    "ts_in": pl.Datetime("us", "UTC"),
    "address_in": pl.String(),
    "asset_in": pl.String(),
    "token_in": pl.String(),
    "value_in": pl.String(),
    "decimals_in": pl.Int16(),
    "legs_in": pl.List(pl.Int64()),
    "chain_out": pl.String(),
    "tx_out": pl.String(),
    "ts_out": pl.Datetime("us", "UTC"),
    "address_out": pl.String(),
    "asset_out": pl.String(),
    "token_out": pl.String(),
    "value_out": pl.String(),
    "decimals_out": pl.Int16(),
    "legs_out": pl.List(pl.Int64()),
    "protocol": pl.String(),  # uniswap-v2, cctp, otc-desk:<label name>, ...
    "rule": pl.String(),  # how the row was found (net-flow, cctp-nonce, amount-window, ...)
    "confidence": pl.Float64(),  # 1.0 for on-chain fact
    "inferred": pl.Boolean(),  # False only when every leg and the link are on chain
    "evidence": pl.String(),  # JSON: pools, log indices, message ids, window, fee band, ...
}


def empty_hops() -> pl.DataFrame:
    """A hop frame with no rows (the schema a producer returns when it finds nothing)."""
    return pl.DataFrame(schema=HOP_SCHEMA)
