"""Follow across assets and chains: one taint sweep per asset group, joined at the hops.

Why no new kernel: every group is swept by the ordinary taint kernel
(:func:`tracer.kernels.taint.sweep_chunk`), and a hop only changes a few of its edges. In the
group taint *enters* a hop from (sweep-wise input side):

* each input leg ``address_in → pool/router/bridge`` is delivered to a virtual **hop sink**
  ``H`` (role ``SINK``), so the pool does not absorb and dilute the taint: what arrives at
  ``H`` is the taint that was *converted*, not taint that reached the pool; a clean edge
  ``H → pool`` of the same amount follows, so the pool's balance is what the chain says (a sink
  never sends taint, and its overdrafts are not counted as unknown prior funds).

In the group taint *continues* in (the output side), at the hop's position (after the last of
its legs: a hop is atomic), its output legs are replaced by

* a fully tainted edge ``V → address_out`` of ``value_out × min(1, tainted_in / value_in)``
  (``V`` a virtual wallet holding exactly that, at the input's hop depth, so the conversion
  counts as one hop and ``--max-hops`` reads across it), then
* the clean remainder ``pool → address_out`` (each output leg less the same share; a hop with
  no output leg in the table pays the remainder from a virtual clean sink).

Intermediate plumbing of the same transaction (router → pool, pool → pool) is left as it is: it
carries no taint, because the input legs went to ``H``.

Groups advance lazily, in sweep order, event by event: at a hop's position the input group is
swept up to it (so ``H`` holds the converted taint), then the output group (opened when taint
first reaches it: a group nothing converts into is never swept) up to the same position, and
its output edges are set before the kernel reaches them. Every group is swept once, so there
are no rounds and no bound to hit; taint can cross any number of hops, back into a group
already swept, and never runs backwards in time (an output is delivered after every leg).

Source units: every group keeps, per *origin* (the seeded group the taint started in), how much
source-asset taint entered it and how much of the group's own asset that became; a hop's
output carries the origin mix of its group at that moment, at the hop's rate. Exact when taint
enters a group by one route; several routes at different rates give their average, and the
result says so (``mixed_rates``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tracer.analysis.hop_edges import HopPlan
from tracer.graph.selection import AssetGroup, EdgeSelection, select_edges
from tracer.kernels.taint import MODELS, NORMAL, SINK, SOURCE, TIHO, TRACED, SweepState, sweep_chunk
from tracer.store.graph_cache import TransferGraph

#: ops in a group's sweep, at a position ``i`` of its selection (same ``i``: inserts first)
_INSERT, _REPLACE, _SKIP = 0, 1, 2


def virtual_ids(n_nodes: int, k: int) -> tuple[int, int, int]:
    """Node ids of hop ``k``'s hop sink ``H``, its seeding source ``S`` and its wallet ``V``."""
    base = n_nodes + 3 * k
    return base, base + 1, base + 2


def hop_edge_index(k: int) -> int:
    """The (negative) edge index a hop's tainted output edge carries in outputs."""
    return -(k + 1)


def hop_of_index(index: int) -> int:
    return -index - 1


@dataclass
class GroupRun:
    """One asset group's sweep: its edges in sweep order, its hop ops, its state."""

    number: int
    group: AssetGroup
    sel: EdgeSelection
    pos: np.ndarray  # global sweep position of each selected edge (ascending)
    ops: list[tuple[int, int, int]]  # (i, kind, hop k), sorted
    seeded: bool
    tx_id: np.ndarray | None = None
    state: SweepState | None = None
    cursor: int = 0
    next_op: int = 0
    kept: list[dict[str, np.ndarray]] = field(default_factory=list)
    seeds: int = 0
    # source-unit book per origin group: entered (own units), entered (source units)
    in_units: dict[int, float] = field(default_factory=dict)
    in_source: dict[int, float] = field(default_factory=dict)
    out_units: dict[int, float] = field(default_factory=dict)
    out_source: dict[int, float] = field(default_factory=dict)
    routes: set[tuple[int, float]] = field(default_factory=set)

    seed_total: float = 0.0  # the group's own seeds so far (seeded groups)

    def origin_rate(self) -> dict[int, tuple[float, float]]:
        """Per origin: (own units not yet converted out, their source units)."""
        units = dict(self.in_units)
        source = dict(self.in_source)
        if self.seeded:
            units[self.number] = units.get(self.number, 0.0) + self.seed_total
            source[self.number] = source.get(self.number, 0.0) + self.seed_total
        out: dict[int, tuple[float, float]] = {}
        for o in units:
            u = units[o] - self.out_units.get(o, 0.0)
            s = source[o] - self.out_source.get(o, 0.0)
            out[o] = (max(u, 0.0), max(s, 0.0))
        return out


@dataclass
class HopCrossing:
    """What one hop carried in this sweep (units of each side's group)."""

    k: int
    tainted_in: float
    tainted_out: float
    rate: float  # value_out / value_in
    depth: int  # hop count at the input leg (the output arrives at the same depth)
    source_units: dict[int, float]  # per origin group: source-asset units carried


@dataclass
class CrossResult:
    runs: list[GroupRun]
    crossings: list[HopCrossing]
    plan: HopPlan
    n_nodes: int  # real nodes (ids >= n_nodes are virtual)


def _role_with_virtual(role: np.ndarray, n_hops: int) -> np.ndarray:
    extra = np.empty(3 * n_hops + 1, dtype=np.int8)
    extra[0:-1:3] = SINK  # H: the hop sink
    extra[1:-1:3] = SOURCE  # S: seeds V
    extra[2:-1:3] = NORMAL  # V: holds the converted taint, pays it to address_out
    extra[-1] = SINK  # C: pays the clean remainder of hops without output legs
    return np.concatenate([np.asarray(role, dtype=np.int8), extra])


def cross_sweep(
    graph: TransferGraph,
    role: np.ndarray,
    plan: HopPlan,
    seed_groups: int,
    *,
    model: str = "haircut",
    min_amount: float = 0.0,
    max_hops: int | None = None,
    lo: int | None = None,
    hi: int | None = None,
    backward: bool = False,
    ledger: bool = False,
    tx_ids: Callable[[np.ndarray], np.ndarray] | None = None,
) -> CrossResult:
    """Sweep the first ``seed_groups`` groups of ``plan.groups`` and every group taint reaches
    through ``plan``'s hops (see the module docstring). ``lo``/``hi``: the seed window (µs).
    ``tx_ids`` (``tiho``): transaction number per edge id."""
    n = int(role.shape[0])
    K = plan.n_hops
    full_role = _role_with_virtual(role, K)
    n_edges = graph.n_edges
    runs: dict[int, GroupRun] = {}

    def make_run(g: int) -> GroupRun:
        sel = select_edges(graph, plan.groups[g].token_ids)
        if backward:
            sel = sel.time_reversed()
            pos = (n_edges - 1 - sel.index).astype(np.int64)
        else:
            pos = sel.index.astype(np.int64)
        ops: list[tuple[int, int, int]] = []
        fwd_index = sel.index[::-1] if backward else sel.index
        m = sel.index.shape[0]

        def at(edge: int) -> int:
            i = int(np.searchsorted(fwd_index, edge))
            return m - 1 - i if backward else i

        for k in np.flatnonzero(plan.group_in == g).tolist():
            ops.extend((at(int(e)), _REPLACE, k) for e in plan.legs(k, "in"))
        for k in np.flatnonzero(plan.group_out == g).tolist():
            ops.extend((at(int(e)), _SKIP, k) for e in plan.legs(k, "out"))
            ops.append((int(np.searchsorted(pos, plan.pos[k], side="right")), _INSERT, k))
        ops.sort()
        run = GroupRun(g, plan.groups[g], sel, pos, ops, seeded=g < seed_groups)
        if MODELS[model] == TIHO:
            run.tx_id = np.zeros(0) if tx_ids is None else tx_ids(sel.index)
        run.state = SweepState(full_role, model=model, min_amount=min_amount, max_hops=max_hops)
        runs[g] = run
        return run

    cap = np.iinfo(np.int32).max - 1

    def sweep(run: GroupRun, src: np.ndarray, dst: np.ndarray, amt: np.ndarray, ts: np.ndarray,
              index: np.ndarray, tx: np.ndarray | None) -> None:  # fmt: skip
        if src.shape[0] == 0:
            return
        assert run.state is not None
        seed = full_role[src] == SOURCE
        if not run.seeded:
            seed[:] = False
        if lo is not None:
            seed &= ts >= lo
        if hi is not None:
            seed &= ts <= hi
        run.seeds += int(np.count_nonzero(seed))
        out = sweep_chunk(run.state, src, dst, amt, ts, seed, tx_id=tx, record=ledger,
                          check=False)  # fmt: skip
        hit = np.flatnonzero(out.edge_taint > 0)
        if hit.size:
            run.kept.append({
                "src": src[hit], "dst": dst[hit], "taint": out.edge_taint[hit],
                "index": index[hit],
                **({"hop": out.edge_hop[hit], "bal_before": out.bal_before[hit],
                    "taint_before": out.taint_before[hit]} if ledger else {}),
            })  # fmt: skip

    out_amount: dict[int, float] = {}  # hop k -> taint delivered to V (0: clean)

    def small_tx(run: GroupRun, n_e: int) -> np.ndarray | None:
        if run.tx_id is None:
            return None
        base = int(run.tx_id.max()) + 1 if run.tx_id.size else 0
        return np.arange(base, base + n_e, dtype=np.int64)

    def advance(run: GroupRun, target: int) -> None:
        s = run.sel
        while run.next_op < len(run.ops) and run.ops[run.next_op][0] < target:
            i, kind, k = run.ops[run.next_op]
            a = run.cursor
            tx = None if run.tx_id is None else run.tx_id[a:i]
            sweep(run, s.src[a:i], s.dst[a:i], s.amount[a:i], s.ts[a:i], s.index[a:i], tx)
            h_id, _, v_id = virtual_ids(n, k)
            if kind == _REPLACE:
                src = np.array([s.src[i], h_id], dtype=np.int32)
                dst = np.array([h_id, s.dst[i]], dtype=np.int32)
                amt = np.array([s.amount[i], s.amount[i]], dtype=np.float64)
                ts = np.array([s.ts[i], s.ts[i]], dtype=np.int64)
                idx = np.array([s.index[i], -1 - 2 * K - k], dtype=np.int64)
                sweep(run, src, dst, amt, ts, idx, small_tx(run, 2))
                run.cursor = i + 1
            elif kind == _SKIP:
                run.cursor = i + 1
            else:
                _block(run, k, v_id)
                run.cursor = i
            run.next_op += 1
        a = run.cursor
        if target > a:
            tx = None if run.tx_id is None else run.tx_id[a:target]
            sweep(run, s.src[a:target], s.dst[a:target], s.amount[a:target], s.ts[a:target],
                  s.index[a:target], tx)  # fmt: skip
            run.cursor = target

    def _block(run: GroupRun, k: int, v_id: int) -> None:
        """Hop ``k``'s output: the tainted part from V, then the clean remainder."""
        t_out = out_amount.get(k, 0.0)
        share = min(t_out / plan.value_out[k], 1.0) if plan.value_out[k] > 0 else 0.0
        legs = plan.legs(k, "out")
        s = run.sel
        fwd_index = s.index[::-1] if backward else s.index
        m = s.index.shape[0]
        src = [v_id] if t_out > 0 else []
        dst = [int(plan.addr_out[k])] if t_out > 0 else []
        amt = [t_out] if t_out > 0 else []
        idx = [hop_edge_index(k)] if t_out > 0 else []
        if legs.size:
            for e in legs.tolist():
                i = int(np.searchsorted(fwd_index, e))
                i = m - 1 - i if backward else i
                src.append(int(s.src[i]))
                dst.append(int(s.dst[i]))
                amt.append(float(s.amount[i]) * (1.0 - share))
                idx.append(int(s.index[i]))
        elif share < 1.0:
            src.append(n + 3 * K)  # C: a clean virtual payer
            dst.append(int(plan.addr_out[k]))
            amt.append(float(plan.value_out[k]) * (1.0 - share))
            idx.append(-1 - 3 * K - k)
        if not src:
            return
        ne = len(src)
        ts = np.full(ne, plan.out_ts[k], dtype=np.int64)
        sweep(run, np.array(src, dtype=np.int32), np.array(dst, dtype=np.int32),
              np.array(amt, dtype=np.float64), ts, np.array(idx, dtype=np.int64),
              small_tx(run, ne))  # fmt: skip

    for g in range(seed_groups):
        make_run(g)
    crossings: list[HopCrossing] = []
    order = np.lexsort((np.arange(K), plan.pos))
    for k in order.tolist():
        gi, go = int(plan.group_in[k]), int(plan.group_out[k])
        run_in = runs.get(gi)
        if run_in is None:
            continue  # no taint has reached the input asset: the hop is clean
        p = int(plan.pos[k])
        advance(run_in, int(np.searchsorted(run_in.pos, p, side="right")))
        assert run_in.state is not None
        h_id, s_id, v_id = virtual_ids(n, k)
        t_in = float(run_in.state.inflow[h_id])
        if t_in <= 0.0:
            continue
        rate = float(plan.value_out[k] / plan.value_in[k])
        t_out = float(plan.value_out[k]) * min(t_in / float(plan.value_in[k]), 1.0)
        depth = int(run_in.state.hops[h_id])
        # the origin mix of what left the input group, in source units
        _book_seeds(run_in)
        mix = run_in.origin_rate()
        held = sum(u for u, _ in mix.values())
        carried: dict[int, float] = {}
        parts: dict[int, float] = {}
        for o, (u, sv) in mix.items():
            if held > 0 and u > 0:
                parts[o] = t_in * u / held
                carried[o] = sv * parts[o] / u
                run_in.out_units[o] = run_in.out_units.get(o, 0.0) + parts[o]
                run_in.out_source[o] = run_in.out_source.get(o, 0.0) + carried[o]
        run_out = runs.get(go) or make_run(go)
        advance(run_out, int(np.searchsorted(run_out.pos, p, side="right")))
        st = run_out.state
        assert st is not None
        # V holds exactly the converted taint at the input's depth (a one-edge seeding sweep;
        # the run totals are restored so "traced" stays the sources' own seeds)
        saved, st.min_amount, st.hop_cap = st.stats.copy(), 0.0, cap
        sweep_chunk(st, np.array([s_id], np.int32), np.array([v_id], np.int32),
                    np.array([t_out]), np.array([plan.out_ts[k]], np.int64),
                    np.array([True]), tx_id=np.zeros(1, np.int64), check=False)  # fmt: skip
        st.stats[:] = saved
        st.min_amount = float(min_amount)
        st.hop_cap = cap if max_hops is None else int(max_hops)
        st.hops[v_id] = max(depth - 1, 0)
        out_amount[k] = t_out
        for o, sv in carried.items():
            own = t_out * parts[o] / t_in
            run_out.in_units[o] = run_out.in_units.get(o, 0.0) + own
            run_out.in_source[o] = run_out.in_source.get(o, 0.0) + sv
            run_out.routes.add((o, round(sv / own, 9) if own > 0 else 0.0))
        crossings.append(HopCrossing(k, t_in, t_out, rate, depth, carried))
    for run in runs.values():
        advance(run, run.sel.index.shape[0])
        while run.next_op < len(run.ops):  # inserts at the very end
            advance(run, run.sel.index.shape[0] + 1)
        _book_seeds(run)
    return CrossResult(sorted(runs.values(), key=lambda r: r.number), crossings, plan, n)


def _book_seeds(run: GroupRun) -> None:
    """A seeded group's own seeds are its origin's taint, 1 source unit per unit."""
    if not run.seeded or run.state is None:
        return
    run.seed_total = float(run.state.stats[TRACED])


def concat_kept(run: GroupRun) -> dict[str, np.ndarray]:
    """A group's tainted edges in processing order."""
    keys = ("src", "dst", "taint", "index", "hop", "bal_before", "taint_before")
    if not run.kept:
        z = np.zeros(0)
        return {k: z for k in keys}
    return {k: np.concatenate([p[k] for p in run.kept]) for k in run.kept[0]}


def group_figures(result: CrossResult, run: GroupRun) -> dict[str, Any]:
    """A group's converted-in / converted-out totals (own units) and its source-unit rates."""
    n = result.n_nodes
    K = result.plan.n_hops
    st = run.state
    assert st is not None
    conv_in = sum(c.tainted_out for c in result.crossings
                  if int(result.plan.group_out[c.k]) == run.number)  # fmt: skip
    h_ids = n + 3 * np.flatnonzero(result.plan.group_in == run.number)
    conv_out = float(st.inflow[h_ids].sum()) if h_ids.size else 0.0
    virtual_held = float(st.taint[n : n + 3 * K + 1].sum())
    mix = run.origin_rate()
    return {
        "converted_in": conv_in,
        "converted_out": conv_out,
        "virtual_held": virtual_held,
        "origins": mix,
        "mixed_rates": len(run.routes) > 1,
    }
