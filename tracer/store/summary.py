"""The summary ``tracer info`` prints: counts per chain/asset, addresses, time range, labels.

Kept apart from :mod:`tracer.store.workspace` (which reads and writes the store): it only
describes frames the workspace already read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl


def workspace_info(path: Path | None, t: pl.DataFrame, labels: pl.DataFrame) -> dict[str, Any]:
    """Counts per chain/asset, addresses, time range, labels per category of transfers ``t``
    and ``labels`` (``path``: the workspace folder, None in memory)."""
    from tracer.core.chains import iso_us

    def _epoch_us(t: pl.DataFrame, how: str) -> int | None:
        if t.height == 0:
            return None
        us = t.select(getattr(pl.col("ts").dt.epoch("us"), how)()).item()
        return None if us is None else int(us)

    per_asset = (
        t.group_by(["chain", "asset"], maintain_order=False)
        .agg(pl.len().alias("transfers"), pl.col("amount").sum().alias("amount"))
        .sort(["chain", "asset"], nulls_last=True)
    )
    n_addr = (
        pl.concat(
            [
                t.select("chain", pl.col("src").alias("a")),
                t.select("chain", pl.col("dst").alias("a")),
            ]
        )
        .unique()
        .height
        if t.height
        else 0
    )
    return {
        "workspace": str(path) if path is not None else "(in memory)",
        "transfers": t.height,
        "addresses": n_addr,
        "unknown_decimals": int(t["decimals"].null_count()),
        # via integers: a stored time outside Python's datetime range (an old workspace,
        # a hand-edited part) must print, not panic (`DateTime + TimeDelta overflowed`)
        "first_ts": iso_us(_epoch_us(t, "min")),
        "last_ts": iso_us(_epoch_us(t, "max")),
        "per_asset": per_asset.to_dicts(),
        # distinct labelled addresses (one address can carry several labels: two sources,
        # or a name and a category list); label rows are counted apart
        "labels": labels.select("chain", "address").n_unique() if labels.height else 0,
        "label_rows": labels.height,
        "labels_per_category": {
            r["category"]: r["addresses"]
            for r in labels.group_by("category")
            .agg(pl.struct("chain", "address").n_unique().alias("addresses"))
            .sort("category", nulls_last=True)
            .iter_rows(named=True)
        },
    }
