"""The cross-asset sweep (:mod:`tracer.analysis.cross_asset`) against its plain-Python reference
on random graphs with random conversions, and its invariants."""

from __future__ import annotations

from collections import Counter

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracer.kernels.taint import NORMAL, SINK, SOURCE

from tests.reference_cross_asset import RefHop, cross_taint
from tracer.analysis.cross_asset import concat_kept, cross_sweep, group_figures, virtual_ids
from tracer.analysis.hop_edges import HopPlan
from tracer.core.hops import empty_hops
from tracer.graph.selection import AssetGroup
from tracer.store.graph_cache import graph_from_arrays

#: the conserving models with O(1) or lot state (tiho groups a transaction's outputs: it is run
#: by the follow tests; poison does not conserve and is compared below without the balance)
MODELS = ["haircut", "taint-first", "clean-first", "fifo", "lifo"]


def make_graph(edges: list[tuple[int, int, float, int]], ts: list[int], n_nodes: int,
               n_groups: int):  # type: ignore[no-untyped-def]  # fmt: skip
    addresses = pl.DataFrame({
        "id": pl.Series(range(n_nodes), dtype=pl.Int32),
        "chain": ["ethereum"] * n_nodes,
        "address": [f"0x{i:040x}" for i in range(n_nodes)],
    })  # fmt: skip
    tokens = pl.DataFrame({
        "token_id": pl.Series(range(n_groups), dtype=pl.Int32),
        "chain": ["ethereum"] * n_groups, "token": [f"0x{g + 1:040x}" for g in range(n_groups)],
        "asset": [f"T{g}" for g in range(n_groups)],
        "decimals": pl.Series([6] * n_groups, dtype=pl.Int16),
    })  # fmt: skip
    return graph_from_arrays(
        src=np.array([e[0] for e in edges], dtype=np.int32),
        dst=np.array([e[1] for e in edges], dtype=np.int32),
        ts=np.array(ts, dtype=np.int64),
        amount=np.array([e[2] for e in edges], dtype=np.float64),
        token_id=np.array([e[3] for e in edges], dtype=np.int32),
        addresses=addresses, tokens=tokens,
    )  # fmt: skip


def make_plan(hops: list[RefHop], ts: list[int], n_groups: int) -> HopPlan:
    def csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        off = np.zeros(len(lists) + 1, dtype=np.int64)
        off[1:] = np.cumsum([len(x) for x in lists])
        return off, np.array([e for x in lists for e in x], dtype=np.int64)

    li_off, li = csr([h.legs_in for h in hops])
    lo_off, lo = csr([h.legs_out for h in hops])
    return HopPlan(
        frame=empty_hops(),
        group_in=np.array([h.group_in for h in hops], dtype=np.int64),
        group_out=np.array([h.group_out for h in hops], dtype=np.int64),
        value_in=np.array([h.value_in for h in hops], dtype=np.float64),
        value_out=np.array([h.value_out for h in hops], dtype=np.float64),
        addr_out=np.array([h.address_out for h in hops], dtype=np.int32),
        pos=np.array([h.pos for h in hops], dtype=np.int64),
        out_ts=np.array([ts[min(h.pos, len(ts) - 1)] for h in hops], dtype=np.int64),
        legs_in_off=li_off, legs_in=li, legs_out_off=lo_off, legs_out=lo,
        groups=[AssetGroup(f"T{g}", np.array([g], np.int32), (f"T{g}",), 6)
                for g in range(n_groups)],
        skipped=Counter(),
    )  # fmt: skip


@st.composite
def cases(draw: st.DrawFn, models: tuple[str, ...] = tuple(MODELS)) -> tuple:
    n_nodes = draw(st.integers(4, 9))
    n_groups = draw(st.integers(1, 3))
    n_edges = draw(st.integers(3, 30))
    edges = []
    for i in range(n_edges):  # the source pays early and often, so hops see taint
        u = 0 if i < 2 else draw(st.integers(0, n_nodes - 1))
        v = draw(st.integers(0, n_nodes - 1).filter(lambda x, u=u: x != u))
        x = float(draw(st.integers(1, 50)))
        edges.append((u, v, x, 0 if i < 2 else draw(st.integers(0, n_groups - 1))))
    ts = sorted(draw(st.lists(st.integers(0, 20), min_size=n_edges, max_size=n_edges)))
    role = {0: SOURCE}
    for node in range(1, n_nodes):
        role[node] = draw(st.sampled_from([NORMAL, NORMAL, NORMAL, SINK]))
    used: set[int] = set()
    hops: list[RefHop] = []
    for _ in range(draw(st.integers(0, 5))):
        free = [e for e in range(n_edges) if e not in used]
        if not free:
            break
        busy = [e for e in free if edges[e][0] in {edges[f][1] for f in range(e)} | {0}]
        chained = [e for e in free if any(edges[e][0] == h.address_out and e > h.pos
                                          for h in hops)]  # a hop after a hop
        e_in = draw(st.sampled_from(chained or busy or free))
        later = [e for e in free if e != e_in and e >= e_in - 2]
        legs_out: list[int] = []
        if later and draw(st.booleans()):
            legs_out = [draw(st.sampled_from(later))]
        used.update([e_in, *legs_out])
        gi = edges[e_in][3]
        go = edges[legs_out[0]][3] if legs_out else draw(st.integers(0, n_groups - 1))
        addr_out = edges[legs_out[0]][1] if legs_out else draw(st.integers(1, n_nodes - 1))
        value_in = edges[e_in][2] * draw(st.sampled_from([1.0, 1.0, 2.0]))
        value_out = edges[legs_out[0]][2] if legs_out else float(draw(st.integers(1, 40)))
        pos = max([e_in, *legs_out, draw(st.integers(0, n_edges - 1))])
        hops.append(RefHop(gi, go, [e_in], legs_out, addr_out, value_in, value_out, pos))
    model = draw(st.sampled_from(models))
    return n_nodes, n_groups, edges, ts, role, hops, model


def run_impl(n_nodes, n_groups, edges, ts, role, hops, model, min_amount=0.0):  # type: ignore[no-untyped-def]
    graph = make_graph(edges, ts, n_nodes, n_groups)
    plan = make_plan(hops, ts, n_groups)
    role_arr = np.array([role.get(i, NORMAL) for i in range(n_nodes)], dtype=np.int8)
    return cross_sweep(graph, role_arr, plan, 1, model=model, min_amount=min_amount), plan


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases((*MODELS, "poison")))
def test_cross_sweep_matches_reference(case: tuple) -> None:
    n_nodes, n_groups, edges, _, role, hops, model = case
    ref = cross_taint(edges, role, hops, {0}, model)
    res, _ = run_impl(*case)
    crossed = {c.k: c for c in res.crossings}
    for k in range(len(hops)):
        got_in = crossed[k].tainted_in if k in crossed else 0.0
        got_out = crossed[k].tainted_out if k in crossed else 0.0
        assert got_in == pytest.approx(ref.tainted_in[k], abs=1e-9)
        assert got_out == pytest.approx(ref.tainted_out[k], abs=1e-9)
    runs = {r.number: r for r in res.runs}
    for g in range(n_groups):
        run = runs.get(g)
        want_inflow = {n: a for (gg, n), a in ref.inflow.items() if gg == g and a > 1e-12}
        want_held = {n: a for (gg, n), a in ref.held.items() if gg == g and a > 1e-12}
        if run is None:  # never opened: the reference finds no taint there either
            assert not want_inflow and not want_held
            continue
        st_ = run.state
        assert st_ is not None
        got_inflow = {i: float(st_.inflow[i]) for i in range(n_nodes) if st_.inflow[i] > 1e-12}
        got_held = {i: float(st_.taint[i]) for i in range(n_nodes) if st_.taint[i] > 1e-12}
        assert got_inflow == pytest.approx(want_inflow, abs=1e-9)
        assert got_held == pytest.approx(want_held, abs=1e-9)
        assert float(st_.stats[0]) == pytest.approx(ref.traced.get(g, 0.0), abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(cases())
def test_conservation_time_order_and_rate(case: tuple) -> None:
    """Per group: seeds + converted in = reached/returned + held + dust + converted out; each
    hop: taint out = value_out × taint in / value_in, taint in <= value in; a hop's output edge
    is processed after every input leg."""
    n_nodes, _, edges, ts, role, hops, _ = case
    res, plan = run_impl(*case)
    for c in res.crossings:
        h = hops[c.k]
        assert c.tainted_in <= h.value_in * (1 + 1e-12) + sum(edges[e][2] for e in h.legs_in)
        assert c.tainted_out == pytest.approx(h.value_out * min(c.tainted_in / h.value_in, 1.0))
        assert c.tainted_out <= h.value_out * (1 + 1e-12)
    for run in res.runs:
        st_ = run.state
        assert st_ is not None
        fig = group_figures(res, run)
        absorbed = float(st_.inflow[:n_nodes][np.isin(
            np.arange(n_nodes), [i for i, r in role.items() if r in (SOURCE, SINK)])].sum())
        held = float(st_.taint[:n_nodes].sum()) + fig["virtual_held"]
        lhs = float(st_.stats[0]) + fig["converted_in"]
        rhs = absorbed + held + float(st_.stats[1]) + float(st_.stats[2]) + fig["converted_out"]
        assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9)
        # taint <= what moved, edge by edge
        kept = concat_kept(run)
        sel = run.sel
        assert sel is not None
        if kept["taint"].size:
            moved = dict(zip(sel.index.tolist(), sel.amount.tolist(), strict=True))
            for idx, t in zip(kept["index"].tolist(), kept["taint"].tolist(), strict=True):
                if idx >= 0:  # a stored transfer (remainders: at most the leg itself)
                    assert t <= edges[idx][2] * (1 + 1e-12)
                else:
                    assert t <= moved[idx] * (1 + 1e-12)
        # time never runs backwards: a hop's output is delivered after every input leg, and
        # its taint is paid by the hop's own wallet V
        for c in res.crossings:
            if c.tainted_out > 0 and int(plan.group_out[c.k]) == run.number:
                at = int(run.v_at[c.k])
                assert int(sel.src[at]) == virtual_ids(n_nodes, c.k)[2]
                assert int(sel.ts[at]) >= max(ts[e] for e in hops[c.k].legs_in)
                if int(plan.group_in[c.k]) == run.number:  # same sweep: later in it too
                    legs_at = np.flatnonzero(np.isin(sel.index, hops[c.k].legs_in))
                    assert at > legs_at.max()


def test_swap_continues_at_its_rate() -> None:
    """The issue's example: 1,000 tainted USDT of a 2,000 USDT input for 1 WETH → 0.5 WETH."""
    # node 0 source, 1 trader, 2 pool, 3 exchange (sink), 4 clean funder
    edges = [
        (0, 1, 1000.0, 0),  # seed: source pays the trader 1,000 USDT
        (4, 1, 1000.0, 0),  # clean 1,000 USDT
        (2, 4, 50.0, 1),  # the pool holds WETH from before (an unrelated payout)
        (1, 2, 2000.0, 0),  # the swap's input leg
        (2, 1, 1.0, 1),  # the swap's output leg
        (1, 3, 1.0, 1),  # the trader deposits the WETH at the exchange
    ]
    ts = [0, 1, 2, 3, 3, 4]
    role = {0: SOURCE, 3: SINK}
    hops = [RefHop(0, 1, [3], [4], 1, 2000.0, 1.0, 4)]
    res, _ = run_impl(5, 2, edges, ts, role, hops, "haircut")
    (c,) = res.crossings
    assert c.tainted_in == pytest.approx(1000.0)
    assert c.tainted_out == pytest.approx(0.5)
    weth = res.runs[1]
    assert weth.state is not None
    assert float(weth.state.inflow[3]) == pytest.approx(0.5)  # the exchange got 0.5 WETH
    assert float(res.runs[0].state.inflow[2]) == 0.0  # type: ignore[union-attr]  # no pool
    # source units: 0.5 WETH carries the 1,000 USDT that entered the swap
    assert weth.origin_rate()[0] == pytest.approx((0.5, 1000.0))
