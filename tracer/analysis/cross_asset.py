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

Order, and why it is one pass: groups are taken by components of the hop graph (``asset_in
group → asset_out group``), upstream first. A component without a hop inside it is swept in one
kernel call per group, every incoming hop's output already known; inside a component (USDT →
USDC within the USD pool, a USD → WETH → USD loop) its groups advance together and stop only at
its inner hops, in sweep order, so each output is set before the kernel reaches it. Every group
is swept once (no rounds, no bound to hit), only if taint reaches it, and taint never runs
backwards in time (an output is delivered after every leg of its hop).

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
from tracer.kernels.taint import (
    MODELS,
    NORMAL,
    SINK,
    SOURCE,
    TIHO,
    TRACED,
    SweepState,
    sweep_chunk,
)
from tracer.store.graph_cache import TransferGraph


def virtual_ids(n_nodes: int, k: int) -> tuple[int, int, int]:
    """Node ids of hop ``k``'s hop sink ``H``, its seeding source ``S`` and its wallet ``V``."""
    base = n_nodes + 3 * k
    return base, base + 1, base + 2


@dataclass
class GroupRun:
    """One asset group's sweep: its edges in sweep order with the hops applied (``sel``, built
    when taint first reaches the group), its kernel state, and its source-unit book."""

    number: int
    group: AssetGroup
    seeded: bool
    sel: EdgeSelection | None = None
    tx_id: np.ndarray | None = None
    state: SweepState | None = None
    cursor: int = 0  # edges of ``sel`` swept so far
    kept: list[dict[str, np.ndarray]] = field(default_factory=list)
    seeds: int = 0
    # where the hops sit in ``sel``: sorted insertion keys of the added edges (4·j + 0 for a
    # block before selected edge j, 4·i + 2 for the copy after input leg i) and, per output
    # hop, the positions of its tainted edge, its remainder edges and their base amounts
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pos: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    v_at: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    rest_pos: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    rest_base: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rest_off: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    # source-unit book per origin group: entered (own units), entered (source units)
    in_units: dict[int, float] = field(default_factory=dict)
    in_source: dict[int, float] = field(default_factory=dict)
    out_units: dict[int, float] = field(default_factory=dict)
    out_source: dict[int, float] = field(default_factory=dict)
    routes: set[tuple[int, float]] = field(default_factory=set)
    seed_total: float = 0.0  # the group's own seeds (seeded groups)

    @property
    def opened(self) -> bool:
        return self.state is not None

    def cut(self, p: int) -> int:
        """Index in ``sel`` up to which edges come before the blocks of hops at position
        ``p`` (every selected edge at or before ``p`` and its copies, no block at ``p``)."""
        j = int(np.searchsorted(self.pos, p, side="right"))
        return j + int(np.searchsorted(self.keys, 4 * j, side="left"))

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


def _components(n_groups: int, arcs: set[tuple[int, int]]) -> list[list[int]]:
    """Strongly connected groups of the hop graph (``gi → go``), upstream first.

    Groups are few (one per token), so mutual reachability by breadth-first search is plenty
    and obviously right. Order: a component comes after every component that reaches it."""
    nxt: dict[int, set[int]] = {}
    for a, b in arcs:
        nxt.setdefault(a, set()).add(b)
    reach: list[set[int]] = []
    for g in range(n_groups):
        seen, todo = {g}, [g]
        while todo:
            for b in nxt.get(todo.pop(), ()):
                if b not in seen:
                    seen.add(b)
                    todo.append(b)
        reach.append(seen)
    comps: list[list[int]] = []
    done: set[int] = set()
    for g in range(n_groups):
        if g not in done:
            comp = sorted(h for h in reach[g] if g in reach[h])
            done.update(comp)
            comps.append(comp)
    # upstream first: fewer groups reach it (a DAG of components; ties by number)
    reached_by = {tuple(c): sum(1 for r in reach if c[0] in r) for c in comps}
    return sorted(comps, key=lambda c: (reached_by[tuple(c)], c[0]))


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
    ``tx_ids`` (``tiho``): transaction number per edge id.

    Order: the groups' components in hop order (upstream first); a component without a hop
    inside it is swept in one kernel call per group, with every incoming hop's output known;
    inside a component (a hop back into a group, e.g. USDT → USDC in the USD pool) the groups
    advance together and stop only at its inner hops."""
    n = int(role.shape[0])
    K = plan.n_hops
    full_role = _role_with_virtual(role, K)
    n_edges = graph.n_edges
    cap = np.iinfo(np.int32).max - 1
    out_amount = np.zeros(K, dtype=np.float64)
    runs = {g: GroupRun(g, plan.groups[g], seeded=g < seed_groups)
            for g in range(len(plan.groups))}  # fmt: skip
    crossings: list[HopCrossing] = []

    def sweep(run: GroupRun, a: int, b: int) -> None:
        s, st = run.sel, run.state
        assert s is not None and st is not None
        if b <= a:
            return
        src, ts = s.src[a:b], s.ts[a:b]
        seed = full_role[src] == SOURCE
        if not run.seeded:
            seed[:] = False
        if lo is not None:
            seed &= ts >= lo
        if hi is not None:
            seed &= ts <= hi
        run.seeds += int(np.count_nonzero(seed))
        tx = None if run.tx_id is None else run.tx_id[a:b]
        out = sweep_chunk(st, src, s.dst[a:b], s.amount[a:b], ts, seed, tx_id=tx,
                          record=ledger, check=False)  # fmt: skip
        hit = np.flatnonzero(out.edge_taint > 0)
        if hit.size:
            run.kept.append({
                "src": src[hit], "dst": s.dst[a:b][hit], "taint": out.edge_taint[hit],
                "index": s.index[a:b][hit],
                **({"hop": out.edge_hop[hit], "bal_before": out.bal_before[hit],
                    "taint_before": out.taint_before[hit]} if ledger else {}),
            })  # fmt: skip

    def advance(run: GroupRun, target: int) -> None:
        sweep(run, run.cursor, target)
        run.cursor = max(run.cursor, target)

    def preload(run: GroupRun, ks: np.ndarray) -> None:
        """V of each hop in ``ks`` holds exactly its converted taint at the input's depth (one
        seeding sweep; the run totals are restored so "traced" stays the sources' seeds)."""
        st = run.state
        assert st is not None
        ks = ks[out_amount[ks] > 0]
        if ks.size == 0:
            return
        saved, st.min_amount, st.hop_cap = st.stats.copy(), 0.0, cap
        sweep_chunk(st, (n + 3 * ks + 1).astype(np.int32), (n + 3 * ks + 2).astype(np.int32),
                    out_amount[ks], plan.out_ts[ks], np.ones(ks.size, np.bool_),
                    tx_id=np.arange(ks.size, dtype=np.int64), check=False)  # fmt: skip
        st.stats[:] = saved
        st.min_amount = float(min_amount)
        st.hop_cap = cap if max_hops is None else int(max_hops)
        st.hops[n + 3 * ks + 2] = np.maximum(depth[ks] - 1, 0)

    def set_block(run: GroupRun, k: int) -> None:
        """Hop ``k``'s output edges in ``run.sel``: its taint from V, the rest clean."""
        s = run.sel
        assert s is not None
        t_out = float(out_amount[k])
        share = min(t_out / plan.value_out[k], 1.0) if plan.value_out[k] > 0 else 0.0
        s.amount[run.v_at[k]] = t_out
        a, b = run.rest_off[k], run.rest_off[k + 1]
        s.amount[run.rest_pos[a:b]] = run.rest_base[a:b] * (1.0 - share)

    def open_run(run: GroupRun) -> None:
        _build(run, graph, plan, n, n_edges, backward, out_amount)
        if MODELS[model] == TIHO:
            assert run.sel is not None
            run.tx_id = _tx_numbers(run.sel, tx_ids)
        run.state = SweepState(full_role, model=model, min_amount=min_amount, max_hops=max_hops)
        preload(run, np.flatnonzero((plan.group_out == run.number) & (out_amount > 0)))

    depth = np.zeros(K, dtype=np.int64)

    def cross(ks: np.ndarray) -> None:
        """Hops ``ks`` (one input group, which has swept past their legs): what went in, what
        comes out at each hop's rate, and in source units. The group's origin mix is the same
        for every hop of the batch (each takes its proportional part), so it is vectorised."""
        if ks.size == 0:
            return
        run_in = runs[int(plan.group_in[ks[0]])]
        st = run_in.state
        assert st is not None
        t_in = st.inflow[n + 3 * ks]
        ks, t_in = ks[t_in > 0], t_in[t_in > 0]
        if ks.size == 0:
            return
        t_out = plan.value_out[ks] * np.minimum(t_in / plan.value_in[ks], 1.0)
        out_amount[ks] = t_out
        depth[ks] = st.hops[n + 3 * ks]
        _book_seeds(run_in)
        mix = {o: us for o, us in run_in.origin_rate().items() if us[0] > 0}
        held = sum(u for u, _ in mix.values())
        carried: dict[int, np.ndarray] = {}
        for o, (u, sv) in mix.items():
            part = t_in * (u / held)
            carried[o] = part * (sv / u)
            run_in.out_units[o] = run_in.out_units.get(o, 0.0) + float(part.sum())
            run_in.out_source[o] = run_in.out_source.get(o, 0.0) + float(carried[o].sum())
            own = t_out * (u / held)
            gos = plan.group_out[ks]
            for go in np.unique(gos).tolist():
                run_out, m = runs[go], gos == go
                run_out.in_units[o] = run_out.in_units.get(o, 0.0) + float(own[m].sum())
                run_out.in_source[o] = run_out.in_source.get(o, 0.0) + float(carried[o][m].sum())
                rates = np.round(carried[o][m] / own[m], 9)
                run_out.routes.update((o, float(r)) for r in np.unique(rates).tolist())
        rate = plan.value_out[ks] / plan.value_in[ks]
        for i, k in enumerate(ks.tolist()):
            crossings.append(HopCrossing(k, float(t_in[i]), float(t_out[i]), float(rate[i]),
                                         int(depth[k]), {o: float(c[i])
                                                         for o, c in carried.items()}))

    arcs = {(int(a), int(b)) for a, b in zip(plan.group_in, plan.group_out, strict=True)}
    order = np.lexsort((np.arange(K), plan.pos))
    for comp in _components(len(plan.groups), arcs):
        members = set(comp)
        for g in comp:  # seeded, or reached by a hop from upstream
            if runs[g].seeded or bool(((plan.group_out == g) & (out_amount > 0)).any()):
                open_run(runs[g])
        inner = [k for k in order.tolist()
                 if int(plan.group_in[k]) in members and int(plan.group_out[k]) in members]
        for k in inner:  # hops back into the component: stop at each, in sweep order
            run_in, run_out = runs[int(plan.group_in[k])], runs[int(plan.group_out[k])]
            if not run_in.opened:
                continue  # no taint has reached the input asset: the hop is clean
            p = int(plan.pos[k])
            advance(run_in, run_in.cut(p))
            cross(np.array([k]))
            if out_amount[k] <= 0:
                continue
            if not run_out.opened:
                open_run(run_out)  # built with this hop's output already known
            else:
                advance(run_out, run_out.cut(p))
                set_block(run_out, k)
                preload(run_out, np.array([k]))
        for g in comp:
            run = runs[g]
            if run.opened:
                assert run.sel is not None
                advance(run, run.sel.index.shape[0])
                _book_seeds(run)
        # hops out of the component: their outputs are now known (batched per input group)
        leaving = order[np.isin(plan.group_in[order], comp)
                        & ~np.isin(plan.group_out[order], comp)]  # fmt: skip
        for g in comp:
            if runs[g].opened:
                cross(leaving[plan.group_in[leaving] == g])
    done = [r for r in runs.values() if r.opened]
    return CrossResult(done, crossings, plan, n)


def _tx_numbers(sel: EdgeSelection, tx_ids: Callable[[np.ndarray], np.ndarray] | None
                ) -> np.ndarray:  # fmt: skip
    """Transaction number per edge of a built selection (``tiho``): stored edges by their
    hash, every added edge alone in its own transaction."""
    out = np.arange(sel.index.shape[0], dtype=np.int64) + (1 << 40)
    real = sel.index >= 0
    if tx_ids is not None and real.any():
        out[real] = tx_ids(sel.index[real])
    return out


def _build(run: GroupRun, graph: TransferGraph, plan: HopPlan, n: int, n_edges: int,
           backward: bool, out_amount: np.ndarray) -> None:  # fmt: skip
    """The group's edges in sweep order with its hops applied (module docstring), in one
    vectorised pass: input legs pay their hop sink ``H`` (a clean copy ``H → pool`` follows),
    output legs are zeroed where they stand and reappear in the hop's block after its last
    leg — ``V → address_out`` (the converted taint), then each leg's clean remainder."""
    g, K = run.number, plan.n_hops
    sel = select_edges(graph, plan.groups[g].token_ids)
    if backward:
        sel = sel.time_reversed()
        pos = (n_edges - 1 - sel.index).astype(np.int64)
    else:
        pos = sel.index.astype(np.int64)
    m = sel.index.shape[0]
    fwd = sel.index[::-1] if backward else sel.index

    def at(edges: np.ndarray) -> np.ndarray:
        i = np.searchsorted(fwd, edges).astype(np.int64)
        return m - 1 - i if backward else i

    def legs(ks: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray]:
        """(hop, edge) of every leg of hops ``ks`` on one side (CSR gather, no loop)."""
        off, flat = (plan.legs_in_off, plan.legs_in) if side == "in" else (
            plan.legs_out_off, plan.legs_out)  # fmt: skip
        counts = off[ks + 1] - off[ks]
        start = np.repeat(off[ks], counts)
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        return np.repeat(ks, counts), flat[start + within]

    # the selection's arrays are read, not copied: np.insert below makes the one copy, and
    # the two edits (legs pay H, output legs zeroed) are applied to it
    src, dst, amt, ts, index = sel.src, sel.dst, sel.amount, sel.ts, sel.index
    # added edges: (key, hop, sub, src, dst, amount, ts, index, base); key 4i + 2 after
    # selected edge i, 4j before selected edge j
    k_in, e_in = legs(np.flatnonzero(plan.group_in == g), "in")
    i_in = at(e_in)
    h_in = (n + 3 * k_in).astype(np.int32)
    add = [(4 * i_in + 2, k_in, np.zeros(i_in.size, np.int64),
            h_in, dst[i_in], amt[i_in], ts[i_in], -1 - 2 * K - k_in, np.zeros(i_in.size))]
    k_out = np.flatnonzero(plan.group_out == g)
    j_of = np.zeros(K, dtype=np.int64)
    j_of[k_out] = np.searchsorted(pos, plan.pos[k_out], side="right")
    share = np.zeros(K, dtype=np.float64)
    share[k_out] = np.minimum(out_amount[k_out] / plan.value_out[k_out], 1.0)
    add.append((4 * j_of[k_out], k_out, np.zeros(k_out.size, np.int64),
                (n + 3 * k_out + 2).astype(np.int32), plan.addr_out[k_out].astype(np.int32),
                out_amount[k_out].copy(), plan.out_ts[k_out], -(k_out + 1),
                np.zeros(k_out.size)))  # fmt: skip
    k_leg, e_out = legs(k_out, "out")
    i_out = at(e_out)
    base = amt[i_out].copy()
    add.append((4 * j_of[k_leg], k_leg, np.arange(1, k_leg.size + 1, dtype=np.int64),
                src[i_out], dst[i_out], base * (1.0 - share[k_leg]), plan.out_ts[k_leg],
                index[i_out], base))  # fmt: skip
    bare = k_out[(plan.legs_out_off[k_out + 1] - plan.legs_out_off[k_out]) == 0]
    add.append((4 * j_of[bare], bare, np.ones(bare.size, np.int64),
                np.full(bare.size, n + 3 * K, np.int32), plan.addr_out[bare].astype(np.int32),
                plan.value_out[bare] * (1.0 - share[bare]), plan.out_ts[bare],
                -1 - 3 * K - bare, plan.value_out[bare].copy()))  # fmt: skip
    key, hk, sub, a_src, a_dst, a_amt, a_ts, a_idx, a_base = (
        np.concatenate(c) for c in zip(*add, strict=True))  # fmt: skip
    # blocks at one place: in the hops' own order (position, then number), as events run
    block = key % 4 == 0
    o = np.lexsort((sub, hk, np.where(block, plan.pos[hk] if K else 0, 0), key))
    key, hk, sub, a_base, block = key[o], hk[o], sub[o], a_base[o], block[o]
    at_orig = (key + 2) // 4  # insert before this selected edge (blocks: j; copies: i + 1)
    at_new = at_orig + np.arange(key.size)
    run.sel = EdgeSelection(
        index=np.insert(index, at_orig, a_idx[o]), src=np.insert(src, at_orig, a_src[o]),
        dst=np.insert(dst, at_orig, a_dst[o]), amount=np.insert(amt, at_orig, a_amt[o]),
        ts=np.insert(ts, at_orig, a_ts[o]), excluded_unknown=sel.excluded_unknown,
    )  # fmt: skip

    def moved(i: np.ndarray) -> np.ndarray:  # where selected edge i now stands
        return i + np.searchsorted(at_orig, i, side="right")

    run.sel.dst[moved(i_in)] = h_in  # the leg pays the hop
    run.sel.amount[moved(i_out)] = 0.0  # the output leg: zero where it stands (a zero
    # transfer changes nothing); its amount is paid in the hop's block
    run.keys, run.pos = key, pos
    is_v = block & (sub == 0)
    run.v_at = np.full(K, -1, dtype=np.int64)
    run.v_at[hk[is_v]] = at_new[is_v]
    rest = block & (sub > 0)
    r_hop = hk[rest]
    run.rest_pos, run.rest_base = at_new[rest], a_base[rest]  # grouped by hop (sorted by key)
    ordr = np.argsort(r_hop, kind="stable")
    run.rest_pos, run.rest_base, r_hop = run.rest_pos[ordr], run.rest_base[ordr], r_hop[ordr]
    run.rest_off = np.zeros(K + 1, dtype=np.int64)
    run.rest_off[1:] = np.cumsum(np.bincount(r_hop, minlength=K))


def _book_seeds(run: GroupRun) -> None:
    """A seeded group's own seeds are its origin's taint, 1 source unit per unit."""
    if run.seeded and run.state is not None:
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
