"""Slow, obviously-correct versions of every kernel (the stumpy ``naive.py`` idea).

Plain dicts and loops, written from the rules' definitions, not from the kernels' code. Tests
compute ``ref = reference.x(...)`` and ``got = kernel.x(...)`` on random graphs and compare.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field

NORMAL, SOURCE, SINK, THROUGH = 0, 1, 2, 3


@dataclass
class RefResult:
    edge_taint: list[float]
    inflow: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    held: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    hops: dict[int, int] = field(default_factory=dict)
    traced: float = 0.0
    dust: float = 0.0
    beyond: float = 0.0
    overdrafts: int = 0


def taint(
    edges: list[tuple[int, int, float]],
    seed: list[bool],
    role: dict[int, int],
    model: str,
    *,
    min_amount: float = 0.0,
    max_hops: int | None = None,
    tx: list[int] | None = None,
    max_lots: float = float("inf"),
) -> RefResult:
    """Propagate taint along ``edges`` (``(src, dst, amount)`` in chain order).

    FIFO/LIFO queues hold at most ``max_lots`` lots: beyond that FIFO adds a new lot to its
    newest lot and LIFO merges its two oldest, making mixed lots that are spent pro rata.
    """
    balance: dict[int, float] = defaultdict(float)
    tainted: dict[int, float] = defaultdict(float)
    lots: dict[int, deque[list]] = defaultdict(deque)  # [amount, tainted part], oldest first
    out = RefResult(edge_taint=[0.0] * len(edges))
    tiho_alloc: dict[int, float] = {}
    hop_limit = float("inf") if max_hops is None else max_hops

    for e, (u, v, x) in enumerate(edges):
        ru, rv = role.get(u, NORMAL), role.get(v, NORMAL)
        b, t = balance[u], tainted[u]
        if x > b and ru in (NORMAL, THROUGH):
            out.overdrafts += 1
        b = max(b, x)  # unknown prior funds: clean, and older than anything observed
        c = 0.0
        if ru == SOURCE:
            if seed[e]:
                c = x
                out.traced += x
        elif ru == SINK:
            c = 0.0
        elif model in ("fifo", "lifo"):
            q = lots[u]
            need = x
            while need > 0 and q:
                lot = q[-1] if model == "lifo" else q[0]  # [amount, tainted part]
                if lot[0] <= need:
                    c += lot[1]
                    need -= lot[0]
                    q.pop() if model == "lifo" else q.popleft()
                else:  # a mixed lot (only after merging) is spent pro rata
                    part = need if lot[1] == lot[0] else lot[1] * need / lot[0]
                    c += part
                    lot[1] -= part
                    lot[0] -= need
                    need = 0
            c = min(c, t)
        elif t > 0:
            if model == "poison":
                c = x
            elif model == "haircut":
                c = x * min(t / b, 1.0) if b > 0 else 0.0
            elif model == "taint-first":
                c = min(x, t)
            elif model == "clean-first":
                c = max(0.0, x - (b - t))
            elif model == "tiho":
                assert tx is not None
                group = [k for k in range(len(edges)) if tx[k] == tx[e] and edges[k][0] == u]
                if len(group) == 1:
                    c = x * min(t / b, 1.0) if b > 0 else 0.0
                else:
                    if e == group[0]:
                        total = sum(edges[k][2] for k in group)
                        bb = max(b, total)
                        left = total * min(t / bb, 1.0) if bb > 0 else 0.0
                        for k in sorted(group, key=lambda k: (-edges[k][2], k)):
                            give = min(edges[k][2], left)
                            tiho_alloc[k] = give
                            left -= give
                    c = min(tiho_alloc.get(e, 0.0), t)
        balance[u] = b - x
        if model != "poison":
            tainted[u] = max(0.0, t - c)
        balance[v] += x
        moved = 0.0
        if c > 0:
            h = 1 if ru == SOURCE else out.hops[u] + 1
            if c < min_amount:
                out.dust += c
            elif h > hop_limit:
                out.beyond += c
            else:
                moved = c
                out.edge_taint[e] = c
                out.hops[v] = min(out.hops.get(v, h), h)
                out.inflow[v] += c
                if rv in (NORMAL, THROUGH):
                    tainted[v] += c
        if model in ("fifo", "lifo") and rv in (NORMAL, THROUGH):
            for amt, part in ((moved, moved), (x - moved, 0.0)):
                if amt > 0:
                    q = lots[v]
                    same_kind = q and (q[-1][1] == q[-1][0] if part else q[-1][1] == 0)
                    if same_kind or (len(q) >= max_lots and model == "fifo"):
                        q[-1][0] += amt
                        q[-1][1] += part
                    else:
                        if len(q) >= max_lots:  # lifo: the two oldest lots become one
                            a, b = q.popleft(), q.popleft()
                            q.appendleft([a[0] + b[0], a[1] + b[1]])
                        q.append([amt, part])
    for node, t in tainted.items():
        if role.get(node, NORMAL) in (NORMAL, THROUGH) and t > 0:
            out.held[node] = t
    return out


def csr(nodes: list[int], n: int) -> tuple[list[int], list[int]]:
    """Offsets and edge ids grouped by node, edge order kept inside each group."""
    groups: list[list[int]] = [[] for _ in range(n)]
    for e, v in enumerate(nodes):
        groups[v].append(e)
    offsets = [0]
    for g in groups:
        offsets.append(offsets[-1] + len(g))
    return offsets, [e for g in groups for e in g]


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h ^= byte
        h = (h * 0x100000001B3) % (1 << 64)
    return h


@dataclass
class RefExposure:
    direct: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    indirect: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    min_hops: dict[int, int] = field(default_factory=dict)
    flow: float = 0.0
    touched: float = 0.0


def exposure_trace(
    edges: list[tuple[int, int, float, int]],
    kind: dict[int, int],
    cat: dict[int, int],
    target: int,
    model: str,
    *,
    min_amount: float = 0.0,
    max_hops: int | None = None,
    lo: int | None = None,
    hi: int | None = None,
) -> RefExposure:
    """What ``target`` received from each category: one plain trace for this one address.

    Written from the rules in ``kernels/exposure.py``'s docstring: labelled origins pay out
    their own category in full and absorb; pass-through services pass received categories on
    under the model and pay the rest as their own category; everybody else passes on.
    """
    limit = float("inf") if max_hops is None else max_hops
    balance: dict[int, float] = defaultdict(float)
    held: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    hop: dict[tuple[int, int], int] = {}
    out = RefExposure()
    for u, v, x, ts in edges:
        inside = (lo is None or ts >= lo) and (hi is None or ts <= hi)
        ku, cu = kind.get(u, NORMAL), cat.get(u, -1)
        b = max(balance[u], x)
        shares: list[tuple[int, float, int]] = []  # (category, amount, hop) this edge carries
        if ku == SOURCE:  # a labelled origin
            if inside and cu >= 0:
                shares.append((cu, x, 1))
        else:
            pool = sum(held[u].values())
            given = 0.0
            for c, t in list(held[u].items()):
                if t <= 0:
                    continue
                if model == "haircut":  # the sweep's haircut rule, category by category
                    k = x * min(t / b, 1.0) if b > 0 else 0.0
                elif model == "poison":
                    k = x
                elif model == "taint-first":
                    spend = min(x, pool)
                    # the whole pool leaves whole (no rounding residue that would later count
                    # as "touched"), as the kernel's docstring says
                    k = t if spend >= pool * (1.0 - 1e-12) else spend * t / pool
                else:  # clean-first
                    spend = max(0.0, x - (b - pool))
                    k = t if spend >= pool * (1.0 - 1e-12) else spend * t / pool
                if model != "poison":
                    k = min(k, t)
                    held[u][c] = t - k
                given += k
                shares.append((c, k, hop[(u, c)] + 1))
            if ku == THROUGH and inside and cu >= 0:
                own = x if model == "poison" else x - given
                own = 0.0 if own <= x * 1e-12 else own  # rounding, as the kernel
                shares.append((cu, own, 1))  # the service's own money: direct
        balance[u] = b - x
        balance[v] += x
        if v == target and inside:
            out.flow += x
        arrived = False
        for c, k, h in shares:
            if k <= 0 or k < min_amount or h > limit:
                continue
            arrived = True
            if kind.get(v, NORMAL) != SOURCE:
                held[v][c] += k
            hop[(v, c)] = min(hop.get((v, c), h), h)
            if v == target and inside:
                if h == 1:
                    out.direct[c] += k
                else:
                    out.indirect[c] += k
                out.min_hops[c] = min(out.min_hops.get(c, h), h)
        if arrived and v == target and inside:
            out.touched += x
    return out


def k_hop(
    edges: list[tuple[int, int]], seeds: set[int], hops: int, stop: frozenset[int] = frozenset()
) -> dict[int, int]:
    """Edge id -> level at which it is first reached (the iterative-join definition).

    Level 1: every outflow of a seed. A wallet reached at level h through *new* edges, the
    earliest at edge s, contributes its outflows after s (not yet reached) to level h + 1.
    Wallets in ``stop`` are reached but contribute nothing.
    """
    level: dict[int, int] = {}
    frontier = {u: -1 for u in seeds}
    for h in range(1, hops + 1):
        nxt: dict[int, int] = {}
        for e, (u, v) in enumerate(edges):
            if u in frontier and e > frontier[u] and e not in level:
                level[e] = h
                if v not in stop:
                    nxt[v] = min(nxt.get(v, e), e)
        frontier = nxt
        if not frontier:
            break
    return level


@dataclass
class RefColours:
    """Per-colour results of :func:`taint_colours` (colour = the source the taint came from)."""

    inflow: dict[tuple[int, int], float] = field(default_factory=lambda: defaultdict(float))
    held: dict[tuple[int, int], float] = field(default_factory=lambda: defaultdict(float))
    traced: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    dust: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    beyond: dict[int, float] = field(default_factory=lambda: defaultdict(float))


def taint_colours(
    edges: list[tuple[int, int, float]],
    seed: list[bool],
    role: dict[int, int],
    model: str,
    colour_of: dict[int, int],
    *,
    min_amount: float = 0.0,
    max_hops: int | None = None,
) -> RefColours:
    """Taint by source, from the rule's definition: a wallet's tainted funds are a mix of
    colours; whatever the model takes out of the tainted part (decided on the total, as in
    :func:`taint`) leaves in the mix's proportions; poison taints the whole transfer with
    every colour the wallet ever received. Dust and hop limit are decided on the total."""
    balance: dict[int, float] = defaultdict(float)
    mix: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    hops: dict[int, int] = {}
    limit = float("inf") if max_hops is None else max_hops
    out = RefColours()
    for e, (u, v, x) in enumerate(edges):
        ru, rv = role.get(u, NORMAL), role.get(v, NORMAL)
        b = max(balance[u], x)
        t = sum(mix[u].values())
        parts: dict[int, float] = {}
        carried = 0.0  # the total, decided as in :func:`taint`
        if ru == SOURCE:
            if seed[e]:
                parts = {colour_of[u]: x}
                carried = x
                out.traced[colour_of[u]] += x
        elif ru != SINK and t > 0:
            total = {
                "poison": x,
                "haircut": x * min(t / b, 1.0) if b > 0 else 0.0,
                "taint-first": min(x, t),
                "clean-first": max(0.0, x - (b - t)),
            }[model]
            carried = total
            for c, tc in list(mix[u].items()):
                if tc <= 0:
                    continue
                k = total if model == "poison" else min(tc, total * tc / t)
                parts[c] = k
                if model != "poison":
                    mix[u][c] = tc - k
        balance[u] = b - x
        balance[v] += x
        if carried <= 0:
            continue
        h = 1 if ru == SOURCE else hops[u] + 1
        for c, k in parts.items():
            if carried < min_amount:
                out.dust[c] += k
            elif h > limit:
                out.beyond[c] += k
            else:
                out.inflow[(v, c)] += k
                if rv in (NORMAL, THROUGH):
                    mix[v][c] += k
        if carried >= min_amount and h <= limit:
            hops[v] = min(hops.get(v, h), h)
    for node, m in mix.items():
        if role.get(node, NORMAL) in (NORMAL, THROUGH):
            for c, k in m.items():
                if k > 0:
                    out.held[(node, c)] = k
    return out
