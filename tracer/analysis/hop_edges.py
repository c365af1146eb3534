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


def _parse_value(text: str | None, decimals: int | None) -> float:
    try:
        v = int(text or "")
    except ValueError:
        return -1.0
    if v <= 0 or decimals is None:
        return -1.0
    return v / 10 ** int(decimals)


def _leg_edges(
    graph: TransferGraph, ws: Workspace, want: pl.DataFrame
) -> dict[tuple[int, str, int], int]:
    """Edge id of each wanted leg ``(k, side, seq)``; ``want`` has k, side, chain, tx, seq, ts.

    Only edges at the legs' own timestamps are read (a leg is a transfer of its hop's
    transaction, so it has that transaction's time)."""
    if want.height == 0:
        return {}
    ts = np.asarray(graph.ts)
    times = np.unique(want["ts"].dt.epoch("us").to_numpy())
    lo = np.searchsorted(ts, times, side="left")
    hi = np.searchsorted(ts, times, side="right")
    cand = np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in zip(lo, hi, strict=True)])
    if cand.size == 0:
        return {}
    rows = ws.rows(cand, ["chain", "tx_hash", "seq", "token"]).with_columns(
        pl.Series("edge", cand, pl.Int64), pl.col("tx_hash").str.to_lowercase()
    )
    # a leg is (chain, tx, seq, token): seq 0 is both a transaction's value and its first log
    hit = want.with_columns(pl.col("tx").str.to_lowercase()).join(
        rows, left_on=["chain", "tx", "seq", "token"],
        right_on=["chain", "tx_hash", "seq", "token"], how="inner", nulls_equal=True,
    )  # fmt: skip
    hit = hit.sort("edge").unique(["k", "side", "seq"], keep="first")
    return {(k, s, q): e for k, s, q, e in hit.select("k", "side", "seq", "edge").iter_rows()}


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
    for gi, g in enumerate(groups):
        group_of[np.asarray(g.token_ids, dtype=np.int64)] = gi
    tid_a = _side_token_ids(graph.tokens, hops[f"chain_{a}"], hops[f"token_{a}"])
    tid_b = _side_token_ids(graph.tokens, hops[f"chain_{b}"], hops[f"token_{b}"])
    want_parts = []
    for side, s in (("in", a), ("out", b)):
        want_parts.append(
            hops.with_row_index("k").select(
                pl.col("k").cast(pl.Int64), pl.lit(side).alias("side"),
                pl.col(f"chain_{s}").alias("chain"), pl.col(f"tx_{s}").alias("tx"),
                pl.col(f"ts_{s}").alias("ts"), pl.col(f"token_{s}").alias("token"),
                pl.col(f"legs_{s}").alias("seq"),
            ).explode("seq").drop_nulls("seq")
        )  # fmt: skip
    want = pl.concat(want_parts)
    edges = _leg_edges(graph, ws, want)
    n_edges = graph.n_edges
    token_id = np.asarray(graph.token_id)
    skipped: Counter[str] = Counter()
    claimed: set[int] = set()
    keep: list[int] = []
    cols: dict[str, list] = {n: [] for n in ("gi", "go", "vi", "vo", "ao", "pos", "ts",
                                            "li", "lo", "to")}  # fmt: skip
    rows = hops.to_dicts()
    for k, r in enumerate(rows):
        gi = int(group_of[tid_a[k]]) if tid_a[k] >= 0 else -1
        go = int(group_of[tid_b[k]]) if tid_b[k] >= 0 else -1
        vi = _parse_value(r[f"value_{a}"], r[f"decimals_{a}"])
        vo = _parse_value(r[f"value_{b}"], r[f"decimals_{b}"])
        seqs_in, seqs_out = r[f"legs_{a}"] or [], r[f"legs_{b}"] or []
        li = [edges.get((k, "in", q)) for q in seqs_in]
        lo = [edges.get((k, "out", q)) for q in seqs_out]
        ao = graph.id_of(r[f"chain_{b}"], r[f"address_{b}"])
        reason = None
        if gi < 0 or go < 0:
            reason = "unknown_asset"
        elif vi <= 0 or vo <= 0:
            reason = "bad_value"
        elif not li:
            reason = "no_input_legs"
        elif any(e is None for e in li + lo):
            reason = "legs_not_found" if seqs_in else "no_input_legs"
        elif ao is None:
            reason = "address_not_in_data"
        elif any(int(group_of[token_id[e]]) != gi for e in li if e is not None) or any(
            int(group_of[token_id[e]]) != go for e in lo if e is not None
        ):
            reason = "leg_outside_group"
        elif claimed.intersection(e for e in li + lo if e is not None):
            reason = "shared_leg"
        if reason is not None:
            skipped[reason] += 1
            continue
        legs_i = [int(e) for e in li if e is not None]
        legs_o = [int(e) for e in lo if e is not None]
        claimed.update(legs_i + legs_o)
        all_legs = np.array(legs_i + legs_o, dtype=np.int64)
        # sweep position: after its last leg; with no output legs, not before its output time
        pos = int(n_edges - 1 - all_legs.min()) if backward else int(all_legs.max())
        ts_b = int(r[f"ts_{b}"].timestamp() * 1_000_000)
        if not legs_o:
            ts_arr = np.asarray(graph.ts)
            if backward:  # reversed order: after every edge at or after the output time
                at = n_edges - int(np.searchsorted(ts_arr, ts_b, side="left")) - 1
            else:
                at = int(np.searchsorted(ts_arr, ts_b, side="right")) - 1
            pos = max(pos, at)
        keep.append(k)
        for name, v in (("gi", gi), ("go", go), ("vi", vi), ("vo", vo), ("ao", ao),
                        ("pos", pos), ("ts", ts_b)):  # fmt: skip
            cols[name].append(v)
        cols["li"].append(legs_i)
        cols["lo"].append(legs_o)
        cols["to"].append(int(tid_b[k]))

    def csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        off = np.zeros(len(lists) + 1, dtype=np.int64)
        off[1:] = np.cumsum([len(x) for x in lists])
        flat = np.array([e for x in lists for e in x], dtype=np.int64)
        return off, flat

    li_off, li_flat = csr(cols["li"])
    lo_off, lo_flat = csr(cols["lo"])
    return HopPlan(
        frame=hops[keep] if keep else hops.clear(),
        group_in=np.array(cols["gi"], dtype=np.int64),
        group_out=np.array(cols["go"], dtype=np.int64),
        value_in=np.array(cols["vi"], dtype=np.float64),
        value_out=np.array(cols["vo"], dtype=np.float64),
        addr_out=np.array(cols["ao"], dtype=np.int32),
        pos=np.array(cols["pos"], dtype=np.int64),
        out_ts=np.array(cols["ts"], dtype=np.int64),
        legs_in_off=li_off, legs_in=li_flat, legs_out_off=lo_off, legs_out=lo_flat,
        groups=groups, skipped=skipped, token_out=np.array(cols["to"], dtype=np.int64),
    )  # fmt: skip
