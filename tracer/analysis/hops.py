"""All hops of a workspace in one frame (:data:`tracer.core.hops.HOP_SCHEMA`): the producers.

The cross-asset follow asks one question — which hops are there — and must not care which
producer found a row: decoded swaps and wraps (:mod:`tracer.analysis.conversions`), matched
bridge legs (:mod:`tracer.analysis.bridges`) and, only when asked, inferred OTC pass-throughs
(:mod:`tracer.analysis.otc`). :func:`load_hops` assembles them; its name and return schema are
the contract and stay stable as kinds are added.

Why OTC is off by default: an OTC hop is an inference from timing and value alone; the issue
asks that it is used only on request (``--infer-otc``) and marked wherever it is used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from tracer.analysis import otc as otc_hops
from tracer.analysis.bridges import DEFAULT_FEE_BAND, DEFAULT_WINDOW, match_bridges
from tracer.analysis.conversions import conversion_hops
from tracer.core.hops import HOP_KINDS, HOP_SCHEMA, empty_hops

if TYPE_CHECKING:
    from tracer.store.workspace import Workspace

#: What :func:`load_hops` returns unless told otherwise: every kind that rests on chain data.
DEFAULT_KINDS = ("swap", "wrap", "bridge")


def _conversions(workspace: Workspace) -> pl.DataFrame:
    from tracer.store.conversions_table import read_conversions

    return read_conversions(workspace)


def _bridge_events(workspace: Workspace) -> pl.DataFrame:
    from tracer.store.conversions_table import read_table

    return read_table(workspace, "bridge")


def token_meta(transfers: pl.DataFrame) -> pl.DataFrame:
    """``chain, token, asset, decimals`` of the tokens the transfers move."""
    return transfers.select("chain", "token", "asset", "decimals").unique(["chain", "token"])


class _Rows:
    """The transfer rows a producer needs, without loading the whole table on disk: the rows
    of some transactions (legs), the rows touching some addresses (desks), the token
    dictionary. ``given``: a canonical frame to filter instead (tests, ``--data``)."""

    def __init__(self, workspace: Workspace, given: pl.DataFrame | None) -> None:
        self.ws, self.given = workspace, given

    def _where(self, **where: Any) -> pl.DataFrame:
        from tracer.store.conversions_table import transfers_where

        if self.given is None:
            return transfers_where(self.ws, **where)
        t = self.given
        if where.get("tx_hashes") is not None:
            t = t.filter(pl.col("tx_hash").is_in(where["tx_hashes"]))
        if where.get("addresses") is not None:
            t = t.filter(pl.col("src").is_in(where["addresses"])
                         | pl.col("dst").is_in(where["addresses"]))  # fmt: skip
        return t

    def of_txs(self, tx_hashes: list[str], ts: pl.Series) -> pl.DataFrame:
        us = ts.drop_nulls().dt.epoch("us")
        whole = us.len() == ts.len() and us.len() > 0
        span = (int(us.min()), int(us.max())) if whole else None  # type: ignore[arg-type]
        return self._where(tx_hashes=tx_hashes, ts_range=span)

    def touching(self, addresses: list[str]) -> pl.DataFrame:
        return self._where(addresses=addresses)

    def tokens(self) -> pl.DataFrame:
        if self.given is None and self.ws.path is not None:
            return self.ws.nodes().tokens.select("chain", "token", "asset", "decimals")
        return token_meta(self.ws.transfers() if self.given is None else self.given)


@dataclass
class HopSet:
    """Hops plus the accounting behind them: per producer, what was found and what was not
    (bridge legs without a match, desk inflows without a pass-through, skipped conversions)."""

    hops: pl.DataFrame
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    unmatched_bridge_legs: pl.DataFrame | None = None

    def inferred_share(self) -> dict[str, int]:
        """How many hops rest on an inference, by kind (what a result leaning on them shows)."""
        rows = self.hops.group_by("kind", "inferred").len().sort("kind", "inferred").rows()
        return {f"{k} ({'inferred' if i else 'on chain'})": n for k, i, n in rows}


def load_hops(workspace: Workspace, **options: Any) -> pl.DataFrame:
    """Every hop of ``workspace``, sorted by ``ts_in`` then ``hop_id`` (:data:`HOP_SCHEMA`).

    The options are :func:`hop_set`'s (``kinds``, ``infer_otc``, ``conversions``,
    ``transfers``, ``bridge_events``, ``bridge_window``, ``fee_band``, ``otc_window``,
    ``otc_fee_band``, ``otc_min_confidence``); :func:`hop_set` also returns the accounting.
    """
    return hop_set(workspace, **options).hops


def hop_set(
    workspace: Workspace,
    *,
    kinds: Iterable[str] = DEFAULT_KINDS,
    infer_otc: bool = False,
    conversions: pl.DataFrame | None = None,
    transfers: pl.DataFrame | None = None,
    bridge_events: pl.DataFrame | None = None,
    bridge_window: timedelta = DEFAULT_WINDOW,
    fee_band: float = DEFAULT_FEE_BAND,
    otc_window: timedelta = otc_hops.DEFAULT_WINDOW,
    otc_fee_band: tuple[float, float] = otc_hops.DEFAULT_FEE_BAND,
    otc_min_confidence: float = otc_hops.DEFAULT_MIN_CONFIDENCE,
) -> HopSet:
    """Every hop of the given ``kinds`` plus the counts of every producer.

    ``conversions``: a decoded conversion frame to use instead of the workspace's stored table
    (``tracer conversions --data``); ``transfers``: the canonical table to take legs from
    (default: the workspace's); ``bridge_events``: decoded bridge events instead of the stored
    ones. Bridge legs without an on-chain id are paired as candidates within ``bridge_window``
    and ``fee_band`` (:mod:`tracer.analysis.bridges`). ``infer_otc`` adds ``otc`` hops
    (inferred pass-throughs of labelled desks within ``otc_window`` and ``otc_fee_band``, at
    least ``otc_min_confidence``, :mod:`tracer.analysis.otc`) even when ``otc`` is not in
    ``kinds``. Hop ids are unique.
    """
    wanted = set(kinds) | ({"otc"} if infer_otc else set())
    unknown = wanted - set(HOP_KINDS)
    if unknown:
        raise ValueError(f"unknown hop kind(s) {sorted(unknown)}; known: {', '.join(HOP_KINDS)}")
    frames = [empty_hops()]
    result = HopSet(empty_hops())
    rows = _Rows(workspace, transfers)
    if wanted & {"swap", "wrap"}:
        conv = _conversions(workspace) if conversions is None else conversions
        t = rows.of_txs(conv["tx_hash"].unique().to_list(), conv["ts"])
        hops = conversion_hops(conv, t).filter(pl.col("kind").is_in(sorted(wanted)))
        frames.append(hops)
        result.counts["conversions"] = {"conversion rows": conv.height, "hops": hops.height}
    if "bridge" in wanted:
        events = _bridge_events(workspace) if bridge_events is None else bridge_events
        t = rows.of_txs(events["tx_hash"].unique().to_list(), events["ts"])
        matched = match_bridges(events, t, rows.tokens(), window=bridge_window,
                                fee_band=fee_band)  # fmt: skip
        frames.append(matched.hops)
        result.counts["bridges"] = matched.counts()
        result.unmatched_bridge_legs = matched.unmatched
    if "otc" in wanted:
        labels = workspace.labels()
        desk_rows = rows.touching(otc_hops.desks(labels)["address"].unique().to_list())
        otc = otc_hops.infer_otc(desk_rows, labels, window=otc_window, fee_band=otc_fee_band,
                                 min_confidence=otc_min_confidence)  # fmt: skip
        frames.append(otc.hops)
        result.counts["otc"] = otc.counts()
    out = pl.concat(frames).sort("ts_in", "hop_id")
    out = out.unique("hop_id", keep="first", maintain_order=True)
    result.hops = out.cast(HOP_SCHEMA)  # type: ignore[arg-type]
    return result
