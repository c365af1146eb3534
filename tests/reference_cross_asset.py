"""Plain-Python cross-asset follow: the reference :mod:`tracer.analysis.cross_asset` is tested
against.

Written from the rule, not from the implementation's mechanics: it solves the hops by *rounds*
(sweep every group from scratch with the current estimate of each hop's output, with the plain
single-asset reference :func:`tests.reference.taint`; repeat until no hop's output changes),
where the implementation sweeps each group once, lazily, event by event, with kernel state
preloaded at the hops. The rule, per hop ``k`` (legs are edge numbers, in chain order):

* an input leg ``u → pool`` is paid by ``u`` under the model; its taint goes into the hop
  (``tainted_in``), the pool receives the amount clean;
* after the hop's last leg, ``address_out`` receives ``value_out × min(1, tainted_in /
  value_in)`` wholly tainted, then each output leg less the same share (clean, paid by the pool
  under the model); a hop with no output leg pays that remainder from nowhere (clean).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests import reference as ref

NORMAL, SOURCE, SINK = ref.NORMAL, ref.SOURCE, ref.SINK


@dataclass
class RefHop:
    group_in: int
    group_out: int
    legs_in: list[int]
    legs_out: list[int]
    address_out: int
    value_in: float
    value_out: float
    pos: int  # after this edge number (>= every leg)


@dataclass
class RefCross:
    tainted_in: list[float]
    tainted_out: list[float]
    inflow: dict[tuple[int, int], float] = field(default_factory=dict)  # (group, node)
    held: dict[tuple[int, int], float] = field(default_factory=dict)
    traced: dict[int, float] = field(default_factory=dict)
    dust: dict[int, float] = field(default_factory=dict)
    rounds: int = 0


def cross_taint(
    edges: list[tuple[int, int, float, int]],
    role: dict[int, int],
    hops: list[RefHop],
    seeded: set[int],
    model: str,
    *,
    min_amount: float = 0.0,
) -> RefCross:
    """``edges``: ``(src, dst, amount, group)`` in chain order; a source's outflows in a
    ``seeded`` group are the seeds."""
    n_hops = len(hops)
    hi = 1 + max([u for u, _, _, _ in edges] + [v for _, v, _, _ in edges]
                 + [h.address_out for h in hops] + [0])  # fmt: skip
    groups = sorted({g for *_, g in edges} | {h.group_out for h in hops})
    t_out = [0.0] * n_hops
    for rnd in range(n_hops + 2):
        t_in = [0.0] * n_hops
        result = RefCross(tainted_in=t_in, tainted_out=list(t_out), rounds=rnd + 1)
        for g in groups:
            rows, seeds, marks = _group_edges(g, edges, role, hops, t_out, g in seeded, hi)
            roles = dict(role)
            for k in range(n_hops):
                roles[hi + 2 * k] = SINK
                roles[hi + 2 * k + 1] = SOURCE
            roles[hi + 2 * n_hops] = SINK
            r = ref.taint(rows, seeds, roles, model, min_amount=min_amount)
            injected = 0.0
            for i, (u, _, _) in enumerate(rows):
                if u >= hi and roles[u] == SOURCE and seeds[i]:
                    injected += rows[i][2]
                if marks[i] >= 0:
                    t_in[marks[i]] += r.edge_taint[i]
            result.traced[g] = r.traced - injected
            result.dust[g] = r.dust
            for node, amt in r.inflow.items():
                if node < hi and amt > 0:
                    result.inflow[(g, node)] = amt
            for node, amt in r.held.items():
                if node < hi and amt > 0:
                    result.held[(g, node)] = amt
        new = [h.value_out * min(t_in[k] / h.value_in, 1.0) for k, h in enumerate(hops)]
        if new == t_out:
            return result
        t_out = new
    raise AssertionError("cross_taint did not converge")  # cannot happen: time is ordered


def _group_edges(
    g: int,
    edges: list[tuple[int, int, float, int]],
    role: dict[int, int],
    hops: list[RefHop],
    t_out: list[float],
    seeded: bool,
    hi: int,
) -> tuple[list[tuple[int, int, float]], list[bool], list[int]]:
    """Group ``g``'s edges with the hops applied (``H_k = hi + 2k`` the hop's sink, ``V_k =
    hi + 2k + 1`` its tainted payer, ``hi + 2·hops`` the clean payer), the seeds, and per edge
    the hop whose sink it pays (-1: none)."""
    n_hops = len(hops)
    leg_in = {e: k for k, h in enumerate(hops) for e in h.legs_in}
    leg_out = {e for h in hops for e in h.legs_out}
    rows: list[tuple[int, int, float]] = []
    seeds: list[bool] = []
    marks: list[int] = []
    blocks = sorted((h.pos, k) for k, h in enumerate(hops) if h.group_out == g)

    def put(u: int, v: int, x: float, seed: bool, mark: int = -1) -> None:
        rows.append((u, v, x))
        seeds.append(seed)
        marks.append(mark)

    def is_seed(u: int) -> bool:
        return role.get(u, NORMAL) == SOURCE and seeded

    def flush(upto: int) -> None:
        while blocks and blocks[0][0] <= upto:
            _, k = blocks.pop(0)
            h = hops[k]
            share = min(t_out[k] / h.value_out, 1.0)
            if t_out[k] > 0:
                put(hi + 2 * k + 1, h.address_out, t_out[k], True)
            for e in h.legs_out:
                u, v, x, _ = edges[e]
                put(u, v, x * (1.0 - share), is_seed(u))
            if not h.legs_out and share < 1.0:
                put(hi + 2 * n_hops, h.address_out, h.value_out * (1.0 - share), False)

    for e, (u, v, x, eg) in enumerate(edges):
        if eg == g:
            if e in leg_in:
                k = leg_in[e]
                put(u, hi + 2 * k, x, is_seed(u), k)
                put(hi + 2 * k, v, x, False)
            elif e not in leg_out:
                put(u, v, x, is_seed(u))
        flush(e)
    flush(len(edges) + 1)
    return rows, seeds, marks
