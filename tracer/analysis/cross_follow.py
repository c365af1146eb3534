"""``follow``/``source`` across swaps, wraps, bridges and (when asked) OTC hops: the glue between
the follow use case (:mod:`tracer.analysis.follow`) and the cross-asset sweep
(:mod:`tracer.analysis.cross_asset`).

What it adds to a follow's result: every asset group taint reached (not only the selected
ones), each account with what was converted into and out of it, so its line still closes
(``reached + returned + held + dust + beyond + converted out = traced + converted in``), and its
*source units* — the source asset's equivalent at the conversion rates of the path
(``source_asset``, ``source_rate``; several origins are listed, never added); paths that show
every hop; the conversion ledger (one row per crossed hop, with its rate and evidence); and how
much of the result rests on inferred hops.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from tracer.analysis.cross_asset import (
    CrossResult,
    GroupRun,
    concat_kept,
    cross_sweep,
    group_figures,
)
from tracer.analysis.cross_paths import cross_paths, hop_rows
from tracer.analysis.follow_result import FollowResult
from tracer.analysis.hop_edges import HopPlan, plan_hops, universe
from tracer.analysis.sweep_counts import SweepCounts
from tracer.core.hops import empty_hops
from tracer.graph.selection import AssetGroup
from tracer.kernels.taint import SINK, SOURCE, SweepState
from tracer.store.workspace import Workspace


@dataclass(frozen=True)
class FollowKit:
    """The follow use case's own steps, handed in by :func:`tracer.analysis.follow.follow`
    (this module sits beside it and must not import it: no import cycle). ``swept()`` makes an
    empty ``SweptGroups``; the others are ``follow``'s functions of the same names."""

    swept: Callable[[], Any]
    group_frames: Callable[..., Any]
    ledger: Callable[..., pl.DataFrame]
    sweep_groups: Callable[..., Any]
    build_result: Callable[..., FollowResult]
    run_warnings: Callable[..., list[dict[str, str]]]


#: what the follow use case calls a run's shared setup (``follow.TraceSetup``)
TraceSetup = Any


@dataclass
class CrossReport:
    """What crossing the hops added to a run (``FollowResult.hops`` and friends)."""

    hops: pl.DataFrame  # one row per crossed hop (the conversion ledger)
    skipped: dict[str, int]  # hop rows that could not be tied to the data, by reason
    #: per asset: share of reached that is not reached without the inferred hops
    inferred_share: dict[str, float]
    mixed_rates: list[str]  # assets whose source units are an average of several routes
    considered: int  # hop rows given


def _view(state: SweepState, n: int) -> SweepState:
    """The state restricted to the real nodes (virtual hop nodes sit at ids >= n)."""
    v = copy.copy(state)
    v.bt = state.bt[:n]
    v.balance, v.taint = state.balance[:n], state.taint[:n]
    v.inflow, v.hops, v.first_ts = state.inflow[:n], state.hops[:n], state.first_ts[:n]
    v.role = state.role[:n]
    if state.beyond_from.size:
        v.beyond_from = state.beyond_from[:n]
    return v


def _real(tainted: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Tainted edges that are stored transfers (hop outputs are in the conversion ledger)."""
    keep = (tainted["index"] >= 0) & (tainted["src"] < n)
    return {k: v[keep] if v.shape[0] == keep.shape[0] else v for k, v in tainted.items()}


def sweep_across(
    setup: TraceSetup,
    groups: list[AssetGroup],
    hops: pl.DataFrame,
    kit: FollowKit,
    *,
    ledger: bool = False,
    top_paths: int = 3,
    top_held: int = 20,
) -> tuple[Any, list[AssetGroup], CrossReport]:
    """The follow's sweep with ``hops`` crossed (see the module docstring). Returns the swept
    groups (selected ones first, then those taint reached), those groups, and the report."""
    ws = setup.workspace
    graph = ws.graph()
    n = graph.n_nodes
    selected = np.concatenate([g.token_ids for g in groups]) if groups else np.zeros(0, np.int32)
    uni = universe(graph.tokens, selected)
    plan = plan_hops(ws, graph, hops, uni, backward=setup.backward)
    lo, hi = setup.selection.window_us()

    def tx_ids(index: np.ndarray) -> np.ndarray:
        hashes = ws.rows(index, ["tx_hash"])["tx_hash"]
        return hashes.rank("dense").to_numpy().astype(np.int64)

    def run_plan(p: HopPlan, record: bool = False) -> CrossResult:
        return cross_sweep(
            graph, setup.role, p, len(groups), model=setup.model,
            min_amount=setup.selection.min_amount, max_hops=setup.selection.max_hops, lo=lo,
            hi=hi, backward=setup.backward, ledger=record, tx_ids=tx_ids,
        )  # fmt: skip

    res = run_plan(plan, ledger)
    swept = kit.swept()
    out_groups: list[AssetGroup] = []
    rates = {r.number: _rate(r) for r in res.runs}
    origin_names = {r.number: uni[r.number].name for r in res.runs}
    inferred_share: dict[str, float] = {}
    mixed: list[str] = []
    traced_by_origin = {r.number: r.seed_total for r in res.runs if r.seeded}
    on_inference = _inferred_share(res, run_plan)
    for run in res.runs:
        assert run.state is not None
        group = uni[run.number]
        out_groups.append(group)
        view = _view(run.state, n)
        tainted = concat_kept(run)
        real = _real(tainted, n)
        counts = _counts(run, setup.role, n, lo, hi)
        swept.counts.merge(counts)
        acc, parts = kit.group_frames(
            view, real, counts, group, ws, setup.role, setup.lab, setup.graph.addresses,
            setup.sizes, conserves=setup.conserves, top_paths=0, top_held=top_held,
            backward=setup.backward,
        )  # fmt: skip
        fig = group_figures(res, run)
        acc.converted_in = float(fig["converted_in"])
        acc.converted_out = float(fig["converted_out"])
        acc.held_total += float(fig["virtual_held"]) if setup.conserves else 0.0
        acc.source_units = [
            {"origin": origin_names.get(o, "?"), "held_units": u, "source_units": s,
             "rate": s / u if u > 0 else None}
            for o, (u, s) in sorted(fig["origins"].items()) if u > 0 or s > 0
        ]  # fmt: skip
        if fig["mixed_rates"]:
            mixed.append(group.name)
        rate = rates[run.number]
        origin_number = _single_origin(run)
        origin = None if origin_number is None else origin_names.get(origin_number, "?")
        if origin_number == -1:
            origin, origin_number = "mixed", None
        reached = parts["reached"]
        sink_ids = reached["id"].to_list()[: max(top_paths and 50, 0)]
        paths = cross_paths(res, run, sink_ids, setup.role, ws, rates, top_paths,
                            setup.backward)  # fmt: skip
        # share of the origin's traced money (in source units: a swap inside the USD pool
        # must not count the same dollars twice); None when several origins mix
        base = traced_by_origin.get(origin_number) if origin_number is not None else None
        reached = reached.with_columns(
            pl.Series("paths", [paths.get(i, []) for i in reached["id"].to_list()],
                      dtype=pl.Object),
            (pl.col("amount") * rate / base if base and rate is not None
             else pl.lit(None, pl.Float64)).alias("share"),
        )  # fmt: skip
        parts["reached"] = reached
        for key in ("reached", "held"):
            parts[key] = parts[key].with_columns(
                pl.lit(origin, pl.String).alias("source_asset"),
                (pl.col("amount") * rate if rate is not None else pl.lit(None, pl.Float64))
                .alias("source_amount"),
            )  # fmt: skip
        with_inf, without = on_inference.get(run.number, (0.0, 0.0))
        if with_inf > 0:
            inferred_share[group.name] = max(with_inf - without, 0.0) / with_inf
        swept.accounts.append(acc)
        for k, f in parts.items():
            swept.frames[k].append(f)
        if ledger:
            swept.frames["ledger"].append(
                kit.ledger(real, ws, setup.model, setup.backward, setup.lab, setup.role)
                .with_columns(pl.lit(group.name, pl.String).alias("asset_group"),
                              _into_hop(real, plan, n))
            )  # fmt: skip
    report = CrossReport(
        hops=hop_rows(res, setup.backward), skipped=dict(plan.skipped),
        inferred_share=inferred_share, mixed_rates=mixed, considered=hops.height,
    )  # fmt: skip
    return swept, out_groups, report


def workspace_hops(ws: Workspace, infer_otc: bool) -> pl.DataFrame:
    """The workspace's hops (:func:`tracer.analysis.hops.load_hops`); the producers run only
    when the workspace holds something to make hops from (decoded conversions or bridge
    events; labelled desks with ``infer_otc``), so a plain workspace pays nothing."""
    from tracer.analysis.hops import load_hops
    from tracer.store.conversions_table import read_conversions, read_table

    conv = read_conversions(ws)
    bridge = read_table(ws, "bridge")
    if conv.height == 0 and bridge.height == 0 and not infer_otc:
        return empty_hops()
    return load_hops(ws, infer_otc=infer_otc, conversions=conv, bridge_events=bridge)


def follow_across(
    setup: TraceSetup,
    groups: list[AssetGroup],
    hops: pl.DataFrame | None,
    kit: FollowKit,
    *,
    infer_otc: bool = False,
    ledger: bool = False,
    top_paths: int = 3,
    top_held: int = 20,
    direction: str = "forward",
) -> FollowResult | None:
    """A follow that crosses the hops, or None when there are none (the plain run is then
    exactly today's). Entities are not lifted across hops yet: such a run stays plain and says
    so; the per-source split is not carried across hops: it is dropped and said."""
    from tracer.store.conversions_table import stores_any

    if hops is None and not infer_otc and not stores_any(setup.workspace, ("conversions",
                                                                           "bridge")):
        return None  # nothing to make hops from (what workspace_hops finds, without frames)
    frame = workspace_hops(setup.workspace, infer_otc) if hops is None else hops
    if frame.height == 0:
        return None
    if setup.rep is not None:
        swept = kit.sweep_groups(setup, groups, ledger=ledger, top_paths=top_paths,
                                 top_held=top_held)  # fmt: skip
        result = kit.build_result(setup, groups, swept, direction=direction, top_paths=top_paths)
        result.warnings = [*kit.run_warnings(setup, swept), {
            "code": "cross_asset_unavailable",
            "message": f"{frame.height} hop(s) in the data were not crossed: --entities is not "
                       "supported across conversions yet (the trace stops at them)",
        }]  # fmt: skip
        return result
    if setup.colours is not None:
        setup = replace(setup, colours=None, skipped_by_source=(
            "the per-source split is not carried across conversions (run with "
            "--no-cross-asset for it)"))  # fmt: skip
    swept, out_groups, report = sweep_across(setup, groups, frame, kit, ledger=ledger,
                                             top_paths=top_paths, top_held=top_held)  # fmt: skip
    result = kit.build_result(setup, out_groups, swept, direction=direction, top_paths=top_paths)
    result.options["cross_asset"] = True
    result.options["infer_otc"] = infer_otc
    if ledger and result.ledger is not None:
        result.ledger = pl.concat([result.ledger, _hop_ledger(report.hops, setup)],
                                  how="diagonal_relaxed")  # fmt: skip
    result.hops = report.hops
    result.cross_asset = result_extras(report)
    result.warnings = [*kit.run_warnings(setup, swept), *cross_warnings(report)]
    return result


def _hop_ledger(hops: pl.DataFrame, setup: TraceSetup) -> pl.DataFrame:
    """The crossed hops as ledger rows (``row_kind = "hop"``): rate, evidence, fact or inferred."""
    return hops.select(
        pl.lit("hop").alias("row_kind"), "hop_id", pl.col("kind").alias("hop_kind"),
        pl.col("chain_out").alias("chain"), pl.col("asset_out").alias("asset"),
        pl.col("token_out").alias("token"), pl.col("tx_out").alias("tx_hash"),
        pl.col("ts_out").alias("ts"), pl.col("address_in").alias("src"),
        pl.col("address_out").alias("dst"), pl.col("value_out").alias("value"),
        pl.col("decimals_out").alias("decimals"), pl.col("tainted_out").alias("tainted"),
        "tainted_in", "rate", "source_units", "chain_in", "tx_in", "asset_in", "value_in",
        "protocol", "rule", "confidence", "inferred", "evidence",
        pl.lit(setup.model).alias("model"),
        pl.lit("backward" if setup.backward else "forward").alias("direction"),
    )  # fmt: skip


def cross_warnings(report: CrossReport) -> list[dict[str, str]]:
    """Hops left out, averaged source units, and inferred hops in use: said aloud."""
    out = []
    if report.skipped:
        why = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in sorted(report.skipped.items()))
        out.append({"code": "hops_skipped",
                    "message": f"{sum(report.skipped.values())} hop(s) not crossed (the trace "
                               f"stops there): {why}"})  # fmt: skip
    if report.mixed_rates:
        out.append({"code": "mixed_rates",
                    "message": "source units of " + ", ".join(report.mixed_rates) + " average "
                               "several conversion routes at different rates"})  # fmt: skip
    shares = {a: v for a, v in report.inferred_share.items() if v > 0}
    if shares:
        said = ", ".join(f"{a} {v:.1%}" for a, v in shares.items())
        out.append({"code": "inferred_hops",
                    "message": f"part of the result rests on inferred hops (OTC): {said} of "
                               "what reached services"})  # fmt: skip
    return out


def _into_hop(real: dict[str, np.ndarray], plan: HopPlan, n: int) -> pl.Series:
    """The hop id a ledger row's taint went into (its input legs), else null."""
    dst = real["dst"].astype(np.int64)
    ids = plan.frame["hop_id"].to_list()
    return pl.Series(
        "into_hop", [ids[(d - n) // 3] if d >= n else None for d in dst.tolist()], pl.String
    )


def _rate(run: GroupRun) -> float | None:
    """Source units per unit of the group, when its taint has one origin."""
    live = [(u, s) for u, s in run.origin_rate().values() if u > 0 or s > 0]
    if len(live) != 1:
        return 1.0 if not live and run.seeded else None
    u, s = live[0]
    return s / u if u > 0 else None


def _single_origin(run: GroupRun) -> int | None:
    """The one seeded group the group's taint came from (-1: several; None: none)."""
    live = [o for o, (u, s) in run.origin_rate().items() if u > 0 or s > 0]
    if not live:
        return run.number if run.seeded else None
    return live[0] if len(live) == 1 else -1


def _counts(run: GroupRun, role: np.ndarray, n: int, lo: int | None,
            hi: int | None) -> SweepCounts:  # fmt: skip
    """What the group's selection held (the diagnostics read it): seeds only where seeded."""
    c = SweepCounts()
    sel = run.sel
    assert sel is not None
    real = (sel.index >= 0) & (sel.src < n)  # stored transfers (not the hops' added edges)
    src, ts = sel.src[real], sel.ts[real]
    c.excluded_unknown = sel.excluded_unknown if run.seeded else 0
    from_source = role[src] == SOURCE if run.seeded else np.zeros(src.shape[0], np.bool_)
    c.add(ts, from_source)
    c.selected = int(src.shape[0]) if run.seeded else 0
    c.seeds = run.seeds
    return c


def _reached_by_group(res: CrossResult) -> dict[int, float]:
    """Taint absorbed at real sinks, per group."""
    n = res.n_nodes
    out: dict[int, float] = {}
    for run in res.runs:
        assert run.state is not None
        sink = run.state.role[:n] == SINK
        out[run.number] = float(run.state.inflow[:n][sink].sum())
    return out


def _inferred_share(
    res: CrossResult, rerun: Callable[[HopPlan], CrossResult]
) -> dict[int, tuple[float, float]]:
    """Per group: (reached, reached without the inferred hops). What rests on inference is the
    difference: the same sweep once more with only the on-chain hops (run only when an
    inferred hop carried taint, i.e. with ``--infer-otc``)."""
    inferred = res.plan.frame["inferred"].fill_null(True).to_numpy()
    if not any(inferred[c.k] for c in res.crossings):
        return {}
    facts = res.plan.frame.filter(~pl.col("inferred").fill_null(True))
    without = _reached_by_group(rerun(_subplan(res.plan, facts)))
    return {g: (v, without.get(g, 0.0)) for g, v in _reached_by_group(res).items()}


def _subplan(plan: HopPlan, frame: pl.DataFrame) -> HopPlan:
    """``plan`` restricted to the hops in ``frame`` (same groups and positions)."""
    ks = np.flatnonzero(plan.frame["hop_id"].is_in(frame["hop_id"].to_list()).to_numpy())

    def sub(off: np.ndarray, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lists = [flat[off[k] : off[k + 1]] for k in ks]
        new = np.zeros(len(lists) + 1, dtype=np.int64)
        new[1:] = np.cumsum([x.shape[0] for x in lists])
        return new, (np.concatenate(lists) if lists else np.zeros(0, np.int64))

    li_off, li = sub(plan.legs_in_off, plan.legs_in)
    lo_off, lo = sub(plan.legs_out_off, plan.legs_out)
    return HopPlan(
        frame=plan.frame[ks.tolist()], group_in=plan.group_in[ks], group_out=plan.group_out[ks],
        value_in=plan.value_in[ks], value_out=plan.value_out[ks], addr_out=plan.addr_out[ks],
        pos=plan.pos[ks], out_ts=plan.out_ts[ks], legs_in_off=li_off, legs_in=li,
        legs_out_off=lo_off, legs_out=lo, groups=plan.groups, skipped=plan.skipped,
        token_out=None if plan.token_out is None else plan.token_out[ks],
    )  # fmt: skip


def result_extras(report: CrossReport) -> dict[str, Any]:
    """The JSON block a cross-asset run adds (``cross_asset``)."""
    hops = report.hops
    return {
        "hops_given": report.considered,
        "hops_crossed": hops.height,
        "hops_inferred": int(hops["inferred"].fill_null(True).sum()) if hops.height else 0,
        "hops_skipped": report.skipped,
        "inferred_share_of_reached": report.inferred_share,
        "mixed_rates": report.mixed_rates,
    }


__all__ = ["CrossReport", "CrossResult", "FollowKit", "follow_across", "result_extras",
           "sweep_across"]
