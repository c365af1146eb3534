"""The strongest paths of a cross-asset follow: transfers and hops, across groups and chains.

Same rule as a single-asset follow (:func:`tracer.analysis.follow_rows.strongest_paths`): from a
sink's largest tainted inflows step back to the largest tainted transfer into the sender that
came earlier, until a source. When the step reaches a hop's output (the virtual wallet ``V`` of
:mod:`tracer.analysis.cross_asset`), the path records the hop (kind, both chains, assets and
transactions, rate, fact or inferred) and continues in the hop's input group from the largest
tainted input leg. Every step is on chain or is a hop row that says it is inferred, and every
address is shown with its chain.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from tracer.analysis.cross_asset import CrossResult, GroupRun, concat_kept, virtual_ids
from tracer.core.addresses import display
from tracer.core.decimal_text import decimal_text, exact_text
from tracer.kernels.taint import SOURCE
from tracer.store.workspace import Workspace


class _Index:
    """One group's tainted edges, by receiver, in processing order, with each edge's token."""

    def __init__(self, run: GroupRun, n_all: int, token_id: np.ndarray,
                 hop_token: np.ndarray | None) -> None:  # fmt: skip
        self.kept = concat_kept(run)
        index = self.kept["index"].astype(np.int64)
        self.token = np.full(index.shape[0], -1, dtype=np.int64)
        real = index >= 0
        self.token[real] = token_id[index[real]]
        hop = (index < 0) & (index >= -(hop_token.shape[0] if hop_token is not None else 0))
        if hop_token is not None and hop.any():
            self.token[hop] = hop_token[-index[hop] - 1]
        dst = self.kept["dst"].astype(np.int64)
        positions = np.arange(dst.shape[0])
        order = np.lexsort((positions, dst))
        self.by_dst = positions[order]
        ids = np.arange(n_all)
        self.starts = np.searchsorted(dst[self.by_dst], ids, side="left")
        self.ends = np.searchsorted(dst[self.by_dst], ids, side="right")

    def best_into(self, node: int, before: int | None = None, token: int = -1) -> int | None:
        """The largest earlier tainted inflow, among those of ``token`` when there are any (in
        the USD pool the USDT a wallet pays came from its USDT inflows, e.g. a swap's output)."""
        cand = self.by_dst[self.starts[node] : self.ends[node]]
        if before is not None:
            cand = cand[cand < before]
        if cand.size == 0:
            return None
        same = cand[self.token[cand] == token]
        if same.size:
            cand = same
        taint = self.kept["taint"]
        return int(cand[np.lexsort((cand, -taint[cand]))][0])

    def top_into(self, node: int, k: int) -> list[int]:
        cand = self.by_dst[self.starts[node] : self.ends[node]]
        taint = self.kept["taint"]
        return [int(e) for e in cand[np.lexsort((cand, -taint[cand]))][:k]]


def cross_paths(
    result: CrossResult,
    run: GroupRun,
    sink_ids: list[int],
    role: np.ndarray,
    workspace: Workspace,
    rates: dict[int, float | None],
    k: int,
    backward: bool = False,
) -> dict[int, list[dict[str, Any]]]:
    """The ``k`` strongest paths into each sink of ``run``'s group (see the module docstring).
    ``rates``: source units per unit of each group (None: several origins, no single unit)."""
    if k <= 0 or not sink_ids:
        return {}
    n = result.n_nodes
    n_all = n + 3 * result.plan.n_hops + 1
    runs = {r.number: r for r in result.runs}
    index: dict[int, _Index] = {}
    token_id = np.asarray(workspace.graph().token_id)

    def idx(g: int) -> _Index:
        if g not in index:
            index[g] = _Index(runs[g], n_all, token_id, result.plan.token_out)
        return index[g]

    plan = result.plan
    found: list[tuple[int, list[tuple[int, int]], bool]] = []  # sink, [(group, pos)], complete
    for sink in sink_ids:
        for e in idx(run.number).top_into(sink, k):
            steps = [(run.number, e)]
            g, cur = run.number, e
            node = int(idx(g).kept["src"][e])
            complete = False
            for _ in range(10_000):  # a path is a chain of transfers: bounded by the edges
                if node < n and role[node] == SOURCE:
                    complete = True
                    break
                if node >= n:  # a hop's output wallet: continue in its input group
                    h = (node - n) // 3
                    gi = int(plan.group_in[h])
                    if gi not in runs:
                        break
                    h_id, _, _ = virtual_ids(n, h)
                    leg = idx(gi).best_into(h_id)
                    if leg is None:
                        break
                    g, cur = gi, leg
                else:
                    nxt = idx(g).best_into(node, cur, int(idx(g).token[cur]))
                    if nxt is None:
                        break
                    cur = nxt
                steps.append((g, cur))
                node = int(idx(g).kept["src"][cur])
            if not backward:
                steps.reverse()
            found.append((sink, steps, complete))
    real = sorted({int(idx(g).kept["index"][p]) for _, st, _ in found for g, p in st
                   if int(idx(g).kept["index"][p]) >= 0})  # fmt: skip
    rows = workspace.rows(np.array(real, dtype=np.int64),
                          ["chain", "tx_hash", "src", "dst", "amount", "ts", "value", "decimals"])
    stored = dict(zip(real, rows.iter_rows(), strict=True))
    frame = plan.frame
    out: dict[int, list[dict[str, Any]]] = {}
    for sink, steps, complete in found:
        hops: list[dict[str, Any]] = []
        weakest: tuple[float, float, int] | None = None
        for g, p in steps:
            kept = idx(g).kept
            taint = float(kept["taint"][p])
            e = int(kept["index"][p])
            rate = rates.get(g)
            asset = plan.groups[g].name
            if e < 0:  # a hop's output: the hop itself
                h = -e - 1
                r = frame.row(h, named=True)
                hops.append(_hop_step(r, taint, rate, asset, backward))
                continue
            chain, tx, s, d, amount, ts, value, dec = stored[e]
            a, b = (d, s) if backward else (s, d)
            hops.append({
                "step": "transfer", "chain": chain, "asset": asset, "tx_hash": tx,
                "from": display(chain, a), "to": display(chain, b),
                "amount": float(amount), "amount_exact": exact_text(value, dec),
                "tainted": taint, "tainted_decimal": decimal_text(taint, dec),
                "tainted_source_units": None if rate is None else taint * rate,
                "ts": ts.isoformat().replace("+00:00", "Z"), "inferred": False,
            })  # fmt: skip
            key = (taint * rate if rate is not None else taint, taint, len(hops))
            if weakest is None or key < weakest:
                weakest = key
        strength = 0.0 if weakest is None else weakest[1]
        out.setdefault(sink, []).append({
            "strength": strength,
            "strength_source_units": None if weakest is None else weakest[0],
            "complete": complete,
            "crosses": sum(1 for h in hops if h["step"] == "hop"),
            "inferred_hops": sum(1 for h in hops if h["step"] == "hop" and h["inferred"]),
            "hops": hops,
        })  # fmt: skip
    for paths in out.values():
        paths.sort(key=lambda p: (-p["strength"], len(p["hops"])))
    return out


def _hop_step(r: dict[str, Any], taint: float, rate: float | None, asset: str,
              backward: bool) -> dict[str, Any]:  # fmt: skip
    """A hop as a path step: both sides with chain, asset, transaction; fact or inferred."""
    return {
        "step": "hop", "kind": r["kind"], "hop_id": r["hop_id"], "protocol": r["protocol"],
        "rule": r["rule"], "confidence": r["confidence"], "inferred": bool(r["inferred"]),
        "chain_in": r["chain_in"], "asset_in": r["asset_in"], "tx_in": r["tx_in"],
        "from": display(r["chain_in"], r["address_in"]),
        "chain_out": r["chain_out"], "asset_out": r["asset_out"], "tx_out": r["tx_out"],
        "to": display(r["chain_out"], r["address_out"]),
        "rate": _rate(r), "tainted": taint, "asset": asset,
        "tainted_source_units": None if rate is None else taint * rate,
        "ts": r["ts_in" if backward else "ts_out"].isoformat().replace("+00:00", "Z"),
    }  # fmt: skip


def _rate(r: dict[str, Any]) -> float:
    """Units out per unit in (token units, each side at its decimals)."""
    vi = int(r["value_in"]) / 10 ** int(r["decimals_in"])
    vo = int(r["value_out"]) / 10 ** int(r["decimals_out"])
    return vo / vi if vi > 0 else 0.0


def _rate_expr() -> pl.Expr:
    """:func:`_rate` for a whole frame."""
    def units(side: str) -> pl.Expr:
        return pl.col(f"value_{side}").cast(pl.Float64) / pl.lit(10.0).pow(
            pl.col(f"decimals_{side}").cast(pl.Float64))

    return units("out") / units("in")


def hop_rows(result: CrossResult, backward: bool) -> pl.DataFrame:
    """One row per hop that carried taint: the conversion ledger (rate, evidence, inferred)."""
    plan = result.plan
    if not result.crossings:
        return plan.frame.clear().with_columns(
            pl.lit(None, pl.Float64).alias("tainted_in"),
            pl.lit(None, pl.Float64).alias("tainted_out"),
            pl.lit(None, pl.Float64).alias("rate"),
            pl.lit(None, pl.Float64).alias("source_units"),
            pl.lit(None, pl.Int32).alias("at_hop"),
        )
    ks = [c.k for c in result.crossings]
    # sweep-wise in/out are the hop's own out/in when tracing backward
    return plan.frame[ks].with_columns(
        pl.Series("tainted_in" if not backward else "tainted_out",
                  [c.tainted_in for c in result.crossings], pl.Float64),
        pl.Series("tainted_out" if not backward else "tainted_in",
                  [c.tainted_out for c in result.crossings], pl.Float64),
        _rate_expr().alias("rate"),
        pl.Series("source_units", [sum(c.source_units.values()) for c in result.crossings],
                  pl.Float64),
        pl.Series("at_hop", [c.depth for c in result.crossings], pl.Int32),
    )  # fmt: skip
