"""Hops (:data:`tracer.core.hops.HOP_SCHEMA`) tied to the workspace's edges and asset groups.

The cross-asset follow (:mod:`tracer.analysis.cross_asset`) sweeps each asset group's edges with
the ordinary taint kernel; a hop changes a few of those edges. This module works out which:
the transfer rows named by ``legs_in``/``legs_out`` (found by ``(chain, tx, seq)`` among the
edges at the hop's own timestamps, so a 10M-edge workspace reads a few row groups, not 10M
hashes), the asset group of each side, and the hop's *position* in sweep order: after the
last of its legs, because a hop is atomic (Uniswap V3 pays the output before it takes the
input; the taint of the output is known only once every input leg has been swept).

Why positions in sweep order rather than time: the kernels walk edges in chain order (time,
then block, log index, ...); ``backward`` (``source``) walks them reversed, and a hop then
runs from its output side to its input side. Both directions are one code path: the plan
swaps the sides of every hop for ``backward`` and measures positions in the reversed order.

Rows that cannot be tied to the data are kept out and counted by reason (never dropped
silently): legs missing from the table, a side whose token has unknown decimals or is not in
the data, an address that never occurs, a leg claimed by two hops, a non-positive value.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from tracer.core.hops import HOP_SCHEMA
from tracer.graph.selection import AssetGroup, asset_groups
from tracer.store.graph_cache import TransferGraph
from tracer.store.workspace import Workspace

#: Reasons a hop row is not crossed (keys of :attr:`HopPlan.skipped`).
SKIP_REASONS = (
    "no_input_legs",  # legs_in empty or not found in the transfer table
    "legs_not_found",  # some listed leg is not a transfer in the table
    "unknown_asset",  # a side's token is not in the data or has unknown decimals
    "address_not_in_data",  # address_out never occurs in the data
    "shared_leg",  # a leg already claimed by an earlier hop
    "bad_value",  # value_in or value_out not a positive integer
    "leg_outside_group",  # a leg's token is not the hop side's asset
)


@dataclass
class HopPlan:
    """The hops a sweep can cross, as arrays indexed by hop number ``k`` (sweep-wise sides).

    ``in_*`` is the side taint enters (forward: the hop's input; backward: its output), ``out_*``
    the side it continues on. ``legs_in``/``legs_out`` are CSR lists of *edge ids* (row numbers
    of the transfer table). ``pos`` is the hop's position in sweep order (forward: the largest
    edge id among its legs; backward: ``n_edges - 1 -`` the smallest), ``out_ts`` the
    timestamp (µs) its output is delivered at. ``frame`` keeps each hop's row for the ledger.
    """

    frame: pl.DataFrame
    group_in: np.ndarray
    group_out: np.ndarray
    value_in: np.ndarray  # token units (float64) of the in side
    value_out: np.ndarray
    addr_out: np.ndarray  # node id receiving the output
    pos: np.ndarray
    out_ts: np.ndarray
    legs_in_off: np.ndarray
    legs_in: np.ndarray
    legs_out_off: np.ndarray
    legs_out: np.ndarray
    groups: list[AssetGroup]
    skipped: Counter[str] = field(default_factory=Counter)
    #: token id of the side taint continues in (paths prefer inflows of the token spent)
    token_out: np.ndarray | None = None

    @property
    def n_hops(self) -> int:
        return int(self.group_in.shape[0])

    def legs(self, k: int, side: str) -> np.ndarray:
        off, ids = (self.legs_in_off, self.legs_in) if side == "in" else (
            self.legs_out_off, self.legs_out)  # fmt: skip
        return ids[off[k] : off[k + 1]]


def universe(tokens: pl.DataFrame, selected: np.ndarray) -> list[AssetGroup]:
    """The selected groups first (exactly as a plain follow forms them), then every other token
    with known decimals in its own group (the USD pool for the remaining stablecoins), so a
    run without hops is today's run, and no token is in two groups."""
    chosen = asset_groups(tokens, selected)
    taken = {int(t) for g in chosen for t in g.token_ids}
    rest = tokens.filter(
        ~pl.col("token_id").is_in(list(taken)) & pl.col("decimals").is_not_null()
    )["token_id"].to_numpy()
    if rest.size == 0:
        return chosen
    return chosen + asset_groups(tokens, rest)


def _side_token_ids(tokens: pl.DataFrame, chain: pl.Series, token: pl.Series) -> np.ndarray:
    """token_id of each (chain, token) pair; -1 when the data has no such token with decimals."""
    key = pl.DataFrame({"chain": chain, "token": token}).with_row_index("_i")
    known = tokens.filter(pl.col("decimals").is_not_null()).select("chain", "token", "token_id")
    hit = key.join(known, on=["chain", "token"], how="left", nulls_equal=True)
    hit = hit.group_by("_i").agg(pl.col("token_id").first()).sort("_i")
    return hit["token_id"].fill_null(-1).to_numpy().astype(np.int64)


def _values(text: pl.Series, decimals: pl.Series) -> np.ndarray:
    """Token units of exact integer strings (-1 where not a positive integer or no decimals)."""
    ok = text.str.contains(r"^[0-9]+$").fill_null(False)
    v = text.cast(pl.Float64, strict=False).fill_null(-1.0)
    d = decimals.cast(pl.Float64).fill_null(float("nan"))
    out = (v / (10.0 ** d)).to_numpy().astype(np.float64)
    out[~ok.to_numpy() | ~np.isfinite(out) | (v.to_numpy() <= 0)] = -1.0
    return out


def _leg_edges(graph: TransferGraph, ws: Workspace, want: pl.DataFrame) -> pl.DataFrame:
    """``want`` (k, side, chain, tx, token, party, paid, seq, ts; one row per listed leg, in
    list order) with the ``edge`` id of each leg found (null: not a transfer in the table).

    Why not join on transaction hashes: reading 10M hashes to find 10k legs would cost more
    than the sweep. A leg is a transfer of its hop's transaction (so it has that transaction's
    time) paid by ``address_in`` (``paid``) or to ``address_out``, of the side's token: the
    graph's own arrays narrow each leg to a few edges, and only their ``seq`` is read (their
    hash too, where a wallet made several such transfers in one block)."""
    want = want.with_row_index("_w")
    none = want.select("_w", "k", "side", pl.lit(None, pl.Int64).alias("edge"))
    if want.height == 0:
        return none
    ts_arr = np.asarray(graph.ts)
    node = want.join(graph.addresses.rename({"address": "party"}), on=["chain", "party"],
                     how="left").sort("_w")["id"].fill_null(-1).to_numpy()  # fmt: skip
    tid = _side_token_ids(graph.tokens, want["chain"], want["token"])
    t = want["ts"].dt.epoch("us").to_numpy()
    lo = np.searchsorted(ts_arr, t, side="left")
    hi = np.searchsorted(ts_arr, t, side="right")
    counts = hi - lo
    w = np.repeat(np.arange(want.height), counts)
    e = np.repeat(lo, counts) + (np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts)
                                                                         - counts, counts))
    paid = want["paid"].to_numpy()
    end = np.where(paid[w], np.asarray(graph.src)[e], np.asarray(graph.dst)[e])
    keep = (end == node[w]) & (np.asarray(graph.token_id)[e] == tid[w])
    w, e = w[keep], e[keep]
    if e.size == 0:
        return none
    uniq = np.unique(e)
    stored = ws.rows(uniq, ["seq"])["seq"].to_numpy()
    seq = stored[np.searchsorted(uniq, e)]
    ok = seq == want["seq"].to_numpy()[w]
    w, e = w[ok], e[ok]
    pairs = pl.DataFrame({"_w": w.astype(np.uint32), "edge": e.astype(np.int64)})
    many = pairs.group_by("_w").len().filter(pl.col("len") > 1)["_w"]
    if many.len():  # several candidates: the transaction hash decides
        amb = pairs.filter(pl.col("_w").is_in(many.implode()))
        hashes = ws.rows(amb["edge"].to_numpy(), ["tx_hash"])["tx_hash"].str.to_lowercase()
        amb = amb.with_columns(hashes.alias("_h")).join(
            want.select("_w", pl.col("tx").str.to_lowercase().alias("_h")), on=["_w", "_h"])
        pairs = pl.concat([pairs.filter(~pl.col("_w").is_in(many.implode())),
                           amb.select("_w", "edge")])  # fmt: skip
    pairs = pairs.sort("_w", "edge").unique("_w", keep="first")
    return want.select("_w", "k", "side").join(pairs, on="_w", how="left").sort("_w")


def plan_hops(
    ws: Workspace,
    graph: TransferGraph,
    hops: pl.DataFrame,
    groups: list[AssetGroup],
    *,
    backward: bool = False,
) -> HopPlan:
    """Tie ``hops`` to edges and groups (see the module docstring); sides swapped if
    ``backward``."""
    missing = set(HOP_SCHEMA) - set(hops.columns)
    if missing:
        raise ValueError(f"hop frame lacks columns: {', '.join(sorted(missing))}")
    hops = hops.select(list(HOP_SCHEMA)).sort(["ts_in", "hop_id"])
    a, b = ("out", "in") if backward else ("in", "out")
    group_of = np.full(max(graph.tokens.height, 1), -1, dtype=np.int64)
    for number, g in enumerate(groups):
        group_of[np.asarray(g.token_ids, dtype=np.int64)] = number
    tid_a = _side_token_ids(graph.tokens, hops[f"chain_{a}"], hops[f"token_{a}"])
    tid_b = _side_token_ids(graph.tokens, hops[f"chain_{b}"], hops[f"token_{b}"])
    want_parts = []
    for side, s in (("in", a), ("out", b)):
        want_parts.append(
            hops.with_row_index("k").select(
                pl.col("k").cast(pl.Int64), pl.lit(side).alias("side"),
                pl.col(f"chain_{s}").alias("chain"), pl.col(f"tx_{s}").alias("tx"),
                pl.col(f"ts_{s}").alias("ts"), pl.col(f"token_{s}").alias("token"),
                pl.col(f"address_{s}").alias("party"), pl.lit(s == "in").alias("paid"),
                pl.col(f"legs_{s}").alias("seq"),
            ).explode("seq").drop_nulls("seq")
        )  # fmt: skip
    want = pl.concat(want_parts)
    legs = _leg_edges(graph, ws, want)
    n_edges = graph.n_edges
    token_id = np.asarray(graph.token_id)
    K0 = hops.height
    gi = np.where(tid_a >= 0, group_of[np.maximum(tid_a, 0)], -1)
    go = np.where(tid_b >= 0, group_of[np.maximum(tid_b, 0)], -1)
    vi = _values(hops[f"value_{a}"], hops[f"decimals_{a}"])
    vo = _values(hops[f"value_{b}"], hops[f"decimals_{b}"])
    ao_frame = pl.DataFrame({"chain": hops[f"chain_{b}"], "address": hops[f"address_{b}"]}) \
        .with_row_index("_i").join(graph.addresses, on=["chain", "address"], how="left") \
        .sort("_i")  # fmt: skip
    ao = ao_frame["id"].fill_null(-1).to_numpy().astype(np.int64)
    k_leg = legs["k"].to_numpy().astype(np.int64)
    side_in = (legs["side"] == "in").to_numpy()
    edge = legs["edge"].fill_null(-1).to_numpy().astype(np.int64)
    found = edge >= 0
    n_in_found = np.bincount(k_leg[side_in & found], minlength=K0)
    n_missing = np.bincount(k_leg[~found], minlength=K0)
    g_side = np.where(side_in, gi[k_leg], go[k_leg])
    outside = found & (group_of[token_id[np.maximum(edge, 0)]] != g_side)
    n_outside = np.bincount(k_leg[outside], minlength=K0)
    reason = np.full(K0, "", dtype=object)

    def flag(mask: np.ndarray, why: str) -> None:
        reason[(reason == "") & mask] = why

    flag((gi < 0) | (go < 0), "unknown_asset")
    flag((vi <= 0) | (vo <= 0), "bad_value")
    flag(ao < 0, "address_not_in_data")
    flag(n_missing > 0, "legs_not_found")
    flag(n_in_found == 0, "no_input_legs")
    flag(n_outside > 0, "leg_outside_group")
    # a transfer is a leg of one hop: the first (in time, then id) keeps it
    ok_leg = found & (reason[k_leg] == "")
    e_ok, k_ok = edge[ok_leg], k_leg[ok_leg]
    order = np.lexsort((k_ok, e_ok))
    first = np.ones(order.size, dtype=bool)
    first[1:] = e_ok[order][1:] != e_ok[order][:-1]
    flag(np.bincount(k_ok[order][~first], minlength=K0) > 0, "shared_leg")
    skipped: Counter[str] = Counter(r for r in reason.tolist() if r)
    keep = np.flatnonzero(reason == "")
    sel = found & np.isin(k_leg, keep)
    ek, ee, es = k_leg[sel], edge[sel], side_in[sel]
    # sweep position: after its last leg; with no output legs, not before its output time
    big = np.iinfo(np.int64).max
    if backward:
        lo_e = np.full(K0, big, dtype=np.int64)
        np.minimum.at(lo_e, ek, ee)
        pos = n_edges - 1 - lo_e
    else:
        pos = np.full(K0, -1, dtype=np.int64)
        np.maximum.at(pos, ek, ee)
    ts_b = hops[f"ts_{b}"].dt.epoch("us").to_numpy().astype(np.int64)
    ts_arr = np.asarray(graph.ts)
    no_out = np.bincount(ek[~es], minlength=K0) == 0
    if backward:  # reversed order: after every edge at or after the output time
        at = n_edges - np.searchsorted(ts_arr, ts_b, side="left").astype(np.int64) - 1
    else:
        at = np.searchsorted(ts_arr, ts_b, side="right").astype(np.int64) - 1
    pos = np.where(no_out, np.maximum(pos, at), pos)
    remap = np.full(K0, -1, dtype=np.int64)
    remap[keep] = np.arange(keep.size)

    def csr(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kk, e = remap[ek[mask]], ee[mask]
        o = np.argsort(kk, kind="stable")  # listed order inside a hop
        off = np.zeros(keep.size + 1, dtype=np.int64)
        off[1:] = np.cumsum(np.bincount(kk, minlength=keep.size))
        return off, e[o]

    li_off, li_flat = csr(es)
    lo_off, lo_flat = csr(~es)
    return HopPlan(
        frame=hops[keep.tolist()] if keep.size else hops.clear(),
        group_in=gi[keep].astype(np.int64), group_out=go[keep].astype(np.int64),
        value_in=vi[keep], value_out=vo[keep], addr_out=ao[keep].astype(np.int32),
        pos=pos[keep], out_ts=ts_b[keep],
        legs_in_off=li_off, legs_in=li_flat, legs_out_off=lo_off, legs_out=lo_flat,
        groups=groups, skipped=skipped, token_out=tid_b[keep].astype(np.int64),
    )  # fmt: skip
