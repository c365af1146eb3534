"""The JSON contract of ``follow``/``source`` (README "JSON contract"; keep keys stable).

The use case returns data (:class:`~tracer.analysis.follow_result.FollowResult`); this module
says how it reads as JSON: next to each float the same figure as a decimal string rounded to the
asset's decimals (``*_decimal``), times in ISO 8601 with ``Z``, one ``by_asset`` entry per
account, and run-level totals only when the run covers one asset (amounts of different assets
are never added).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from tracer.analysis.follow_result import PRIOR_FUNDS_RULE, AssetAccount, FollowResult
from tracer.core.decimal_text import decimal_text

#: The columns of a ``reached`` row in JSON.
REACHED_KEYS = [
    "address", "chain", "asset", "name", "category", "amount", "share", "min_hops",
    "first_ts", "paths", "label_inferred", "entity_size",
]  # fmt: skip


def _ts(v: datetime | None) -> str | None:
    return None if v is None else v.isoformat().replace("+00:00", "Z")


def accounting_json(acc: AssetAccount) -> dict[str, Any]:
    """One account's closing line: ``reached + returned + held + dust + beyond = traced``."""

    def d(v: float) -> str | None:
        return decimal_text(v, acc.decimals)

    return {
        "asset": acc.asset,
        "reached": acc.reached_total, "reached_decimal": d(acc.reached_total),
        "returned_to_sources": acc.returned, "returned_to_sources_decimal": d(acc.returned),
        "held": acc.held_total, "held_decimal": d(acc.held_total),
        "dust": acc.dust, "dust_decimal": d(acc.dust),
        "beyond_max_hops": acc.beyond_max_hops,
        "beyond_max_hops_decimal": d(acc.beyond_max_hops),
        "traced_total": acc.traced_total, "traced_total_decimal": d(acc.traced_total),
        **({"converted_in": acc.converted_in, "converted_in_decimal": d(acc.converted_in),
            "converted_out": acc.converted_out, "converted_out_decimal": d(acc.converted_out)}
           if acc.source_units is not None else {}),
        "closes": acc.conserves,
        "note": None if acc.conserves
        else "poison does not conserve value: figures are upper bounds, not shares",
    }  # fmt: skip


def account_json(acc: AssetAccount) -> dict[str, Any]:
    """One ``by_asset`` entry."""
    return {
        "asset": acc.asset,
        "members": acc.members,
        "decimals": acc.decimals,
        "traced_total": acc.traced_total,
        "traced_total_decimal": decimal_text(acc.traced_total, acc.decimals),
        "accounting": accounting_json(acc),
        "unknown_prior_funds": {
            "transfers": acc.overdrafts,
            "amount": acc.overdraft_amount,
            "amount_decimal": decimal_text(acc.overdraft_amount, acc.decimals),
        },
        **({"source_units": acc.source_units} if acc.source_units is not None else {}),
    }


def rows_json(
    result: FollowResult, frame: pl.DataFrame, keys: list[str] | None = None
) -> list[dict[str, Any]]:
    """A frame's rows (``keys`` only, if given), times as text, amounts also as decimals."""
    out = []
    for r in frame.iter_rows(named=True):
        row = {k: r[k] for k in keys} if keys else dict(r)
        if "first_ts" in row:
            row["first_ts"] = _ts(row["first_ts"])
        row["amount_decimal"] = decimal_text(row["amount"], result.decimals_of(r["asset"]))
        out.append(row)
    return out


def follow_json(result: FollowResult) -> dict[str, Any]:
    """The whole document ``follow --format json`` prints."""
    one = result.accounts[0] if result.single_asset else None
    # cross-asset runs: reached and held rows also in source-asset units
    src_keys = ["source_asset", "source_amount"] if "source_asset" in result.reached.columns else []

    def dec(v: float) -> str | None:
        return None if one is None else decimal_text(v, one.decimals)

    doc: dict[str, Any] = {
        "model": result.model,
        "direction": result.direction,
        "services": rows_json(result, result.services()),
        "sources": result.sources,
        "assets": result.assets,
        "by_asset": [account_json(a) for a in result.accounts],
        "traced_total": result.traced_total,
        "traced_total_decimal": None if one is None else dec(one.traced_total),
        "reached": rows_json(result, result.reached, REACHED_KEYS + src_keys),
        "through": rows_json(result, result.through),
        "held": rows_json(result, result.held, ["address", "chain", "asset", "amount", *src_keys]),
        "held_total": result.held_total,
        "returned": result.returned,
        "dust": result.dust,
        "beyond_max_hops": result.beyond_max_hops,
        "hop_limit_frontier": []
        if result.frontier is None
        else rows_json(result, result.frontier, ["address", "chain", "asset", "amount",
                                                 "min_hops"]),
        "conserves": result.conserves,
        "accounting": None if one is None else accounting_json(one),
        "unknown_prior_funds": {
            "transfers": result.overdrafts,
            "amount": result.overdraft_amount,
            "amount_decimal": None if one is None else dec(one.overdraft_amount),
            "rule": PRIOR_FUNDS_RULE,
        },
        "excluded_unknown_decimals": result.excluded_unknown_decimals,
        "missing_sources": result.missing_sources,
        "entities": result.entities,
        "options": result.options,
        "warnings": result.warnings,
    }  # fmt: skip
    if result.by_source is not None:
        doc["by_source"] = rows_json(result, result.by_source)
    if result.cross_asset is not None:
        hops = [] if result.hops is None else [
            {k: (_ts(v) if isinstance(v, datetime) else v) for k, v in r.items()}
            for r in result.hops.iter_rows(named=True)
        ]  # fmt: skip
        doc["cross_asset"] = {**result.cross_asset, "hops": hops}
    return doc
