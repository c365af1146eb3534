"""Local (frontier-driven) TIHO and per-source colours: :mod:`.local`'s engine for the two
sweeps it does not cover, :func:`.taint._sweep_kernel`'s TIHO groups and
:func:`.taint._colour_kernel`'s colours, with the same results from the tainted subgraph only.

The events, their order and the balance replay on activation are :mod:`.local`'s (its helpers
``_activate``, ``_node_keys`` and the heap are shared: they run once per activation or event,
never per array element of the inner loop). What this kernel adds:

* **TIHO.** The sweep groups a sender's outputs inside one transaction (``tx`` equal, same
  sender in the processing direction); the group's first output in processing order hands
  the group's pro-rata taint to its outputs, largest first, and each later output carries what
  it was handed (capped by the sender's taint then). A group's outputs are all out-edges of
  one sender, so the groups are built when that sender activates, from its own edges: a group
  whose first output came before the activation was met while the sender held no taint (an
  inactive address holds none), so the sweep allocated nothing and its later outputs carry 0;
  the others are kept (``grp``: key → group, members largest first) and allocated at their
  first output exactly as the sweep does (same sum order, same rule). What was handed to a
  later output waits in ``pend`` (key → taint) until that output is processed.
* **Colours.** One taint colour per source (``--by-source``): the total each transfer carries
  and its fate are decided as without colours; the colours then split it in proportion to the
  sender's tainted funds (the colour kernel's lines). Only active addresses ever hold colours.

``tx`` is a per-edge transaction number (equal iff the transaction hash is equal; only read
under TIHO, empty otherwise).
"""

from __future__ import annotations

import numba.typed  # Dict is reached as numba.typed.Dict: its module loads only for a compile
import numpy as np
from numba import types

from ._jit import njit
from .local import (
    ACTIVATED,
    EVENTS,
    FIRST_TS,
    GAVE_UP,
    LAST_TS,
    SEEDS,
    SOURCE_EDGES,
    _activate,
    _grow_f,
    _heap_pop,
    _node_keys,
)
from .rules import (
    BEYOND,
    DUST,
    NORMAL,
    POISON,
    SINK,
    SOURCE,
    THROUGH,
    TIHO,
    TRACED,
    haircut_rule,
    model_rule,
)


@njit(cache=True)
def _tiho_groups(g, tx, reverse, node, k0, grp, glead, goff, gmem, n_grp):
    """Record the multi-output groups of ``node`` (activated at key ``k0``) whose outputs are
    still to come: ``grp[key]`` the group (-1: its first output came before ``k0``, nothing
    was allocated, the later outputs carry 0), ``glead`` its first key, ``goff``/``gmem`` its
    member keys largest amount first (ties: processing order). Returns the grown buffers and
    the group count."""
    src, amount, rep = g.src, g.amount, g.rep
    has_rep = rep.shape[0] > 0
    n_edges = src.shape[0]
    keys = _node_keys(g, n_edges, reverse, node)
    outs = np.empty(keys.shape[0], dtype=np.int64)
    n = 0
    for i in range(keys.shape[0]):
        e = n_edges - 1 - keys[i] if reverse else keys[i]
        if (rep[src[e]] if has_rep else src[e]) == node:
            outs[n] = keys[i]
            n += 1
    outs = outs[:n]
    t = np.empty(n, dtype=np.int64)
    for i in range(n):
        t[i] = tx[n_edges - 1 - outs[i] if reverse else outs[i]]
    order = np.argsort(t, kind="mergesort")  # stable: by transaction, then processing order
    i = 0
    while i < n:
        j = i + 1
        while j < n and t[order[j]] == t[order[i]]:
            j += 1
        size = j - i
        if size > 1:
            lead = outs[order[i]]
            if lead <= k0:
                for r in range(i, j):
                    if outs[order[r]] > k0:
                        grp[outs[order[r]]] = -1
            else:
                if n_grp + 1 >= goff.shape[0]:
                    goff = _grow_i(goff, n_grp + 1)
                    glead = _grow_i(glead, n_grp)
                base = goff[n_grp]
                while base + size > gmem.shape[0]:
                    gmem = _grow_i(gmem, gmem.shape[0])
                for r in range(size):
                    # insertion sort by amount, largest first; equal amounts keep key order
                    key = outs[order[i + r]]
                    x = amount[n_edges - 1 - key if reverse else key]
                    w = base + r
                    while w > base:
                        prev = gmem[w - 1]
                        if amount[n_edges - 1 - prev if reverse else prev] >= x:
                            break
                        gmem[w] = prev
                        w -= 1
                    gmem[w] = key
                    grp[key] = n_grp
                glead[n_grp] = lead
                goff[n_grp + 1] = base + size
                n_grp += 1
        i = j
    return glead, goff, gmem, n_grp


@njit(cache=True)
def _grow_i(a, n):
    """``a`` with room past index ``n`` (doubled, contents kept)."""
    if n < a.shape[0]:
        return a
    b = np.zeros(a.shape[0] * 2, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def _local_colour_kernel(g, tx, p, role, sources, bt, inflow, hops, first_ts, beyond_from,
                         stats, col, out):  # fmt: skip
    """The frontier-driven sweep for poison, haircut, taint-first, clean-first and TIHO, with
    per-source colours when ``col`` has any (``tc.shape[1] > 0``). Arguments as in
    :func:`.local._local_kernel` (no lot queues), plus ``tx`` (TIHO's transaction numbers) and
    ``col`` a :class:`~.bundles.ColourArrays`. Returns the tainted-edge buffers and their
    count."""
    model, min_amount, max_hops, record, _, reverse, lo, hi, max_events, max_active = p
    o_edge, o_taint, o_hop, o_bal, o_tb, counts = out
    colour_of, row_of, tc, cin, cstats = col
    n_col = tc.shape[1]
    tiho = model == TIHO
    src, dst, amount, ts, rep = g.src, g.dst, g.amount, g.ts, g.rep
    has_rep = rep.shape[0] > 0
    n_edges = src.shape[0]
    active = np.zeros(role.shape[0], dtype=np.bool_)
    heap = np.empty(1024, dtype=np.int64)
    hn = 0
    events = 0
    n_active = 0
    grp = numba.typed.Dict.empty(key_type=types.int64, value_type=types.int64)
    pend = numba.typed.Dict.empty(key_type=types.int64, value_type=types.float64)
    glead = np.empty(16, dtype=np.int64)
    goff = np.zeros(17, dtype=np.int64)
    gmem = np.empty(64, dtype=np.int64)
    n_grp = 0
    for i in range(sources.shape[0]):
        s = sources[i]
        if not active[s]:
            active[s] = True
            n_active += 1
            heap, hn, spent = _activate(g, reverse, s, -1, bt, heap, hn)
            events += spent
    traced = stats[TRACED]
    dust = stats[DUST]
    beyond = stats[BEYOND]
    n_out = 0
    n_src = 0
    n_seed = 0
    ts_lo = -1
    ts_hi = -1
    last = -1
    while hn > 0:
        k, hn = _heap_pop(heap, hn)
        if k == last:
            continue  # an edge between two active addresses: pushed by both
        last = k
        events += 1
        if (max_events >= 0 and events > max_events) or (max_active >= 0 and n_active > max_active):
            counts[GAVE_UP] = 1
            break
        e = n_edges - 1 - k if reverse else k
        u = rep[src[e]] if has_rep else src[e]
        v = rep[dst[e]] if has_rep else dst[e]
        x = amount[e]
        ru = role[u]
        rv = role[v]
        carried = 0.0
        b = 0.0
        t_u = 0.0
        if active[u]:
            t_u = bt[u, 1]
            b = bt[u, 0]
            if x > b:
                b = x  # unknown prior funds (counted by prior_pass, for every wallet)
            pre = 0.0
            gi = -2  # not in a multi-output group
            if tiho:
                # taint handed to this output by its group's first output (consumed here
                # whatever happens next, as the sweep resets it)
                if k in pend:
                    pre = pend.pop(k)
                if k in grp:
                    gi = grp[k]
            if ru == SOURCE:
                t = ts[e]
                n_src += 1
                if ts_lo < 0 or t < ts_lo:
                    ts_lo = t
                if t > ts_hi:
                    ts_hi = t
                if t >= lo and t <= hi:
                    n_seed += 1
                    carried = x
                    traced += x
                    if n_col > 0:
                        cstats[colour_of[u], TRACED] += x
            elif ru != SINK and t_u > 0.0:
                if gi > -2:
                    if gi >= 0 and glead[gi] == k:
                        # the sweep's allocation, line for line (:func:`.taint._sweep_kernel`)
                        total = 0.0
                        for r in range(goff[gi], goff[gi + 1]):
                            m = gmem[r]
                            total += amount[n_edges - 1 - m if reverse else m]
                        left = haircut_rule(total, b if b > total else total, t_u)
                        for r in range(goff[gi], goff[gi + 1]):
                            m = gmem[r]
                            a = amount[n_edges - 1 - m if reverse else m]
                            give = a if a < left else left
                            if m == k:
                                pre = give
                            else:
                                pend[m] = give
                            left -= give
                    carried = pre
                    if carried > t_u:
                        carried = t_u
                else:
                    carried = model_rule(model, x, b, t_u)
            bt[u, 0] = b - x
            if model != POISON:
                rest = t_u - carried
                bt[u, 1] = rest if rest > 0.0 else 0.0
        if active[v]:
            bt[v, 0] += x
        if carried > 0.0:
            h = 1 if ru == SOURCE else hops[u] + 1
            keeps = rv == NORMAL or rv == THROUGH
            fate = 0  # 0 delivered, 1 dust, 2 beyond (every colour shares the total's fate)
            if carried < min_amount:
                dust += carried
                fate = 1
            elif h > max_hops:
                beyond += carried
                beyond_from[u] += carried
                fate = 2
            else:
                if n_out == o_edge.shape[0]:
                    o_edge = _grow_f(o_edge, n_out)
                    o_taint = _grow_f(o_taint, n_out)
                    o_hop = _grow_f(o_hop, n_out)
                o_edge[n_out] = e
                o_taint[n_out] = carried
                o_hop[n_out] = h
                if record and n_out == o_bal.shape[0]:
                    o_bal = _grow_f(o_bal, n_out)
                    o_tb = _grow_f(o_tb, n_out)
                if record:
                    o_bal[n_out] = b
                    o_tb[n_out] = t_u
                n_out += 1
                if hops[v] < 0 or h < hops[v]:
                    hops[v] = h
                if first_ts[v] < 0:
                    first_ts[v] = ts[e]
                inflow[v] += carried
                if keeps:
                    if not active[v]:
                        active[v] = True
                        n_active += 1
                        counts[ACTIVATED] += 1
                        heap, hn, spent = _activate(g, reverse, v, k, bt, heap, hn)
                        events += spent
                        if tiho:
                            glead, goff, gmem, n_grp = _tiho_groups(
                                g, tx, reverse, v, k, grp, glead, goff, gmem, n_grp
                            )
                        bt[v, 0] += x
                    bt[v, 1] += carried
            if n_col > 0:
                # the colour kernel's split (:func:`.taint._colour_kernel`), line for line
                row = row_of[v]
                for c in range(n_col):
                    if ru == SOURCE:
                        kc = carried if c == colour_of[u] else 0.0
                    else:
                        tcu = tc[u, c]
                        if tcu <= 0.0:
                            continue
                        if model == POISON:
                            kc = carried
                        else:
                            kc = carried * (tcu / t_u)
                            if kc > tcu:
                                kc = tcu
                            tc[u, c] = tcu - kc
                    if kc <= 0.0:
                        continue
                    if fate == 1:
                        cstats[c, DUST] += kc
                    elif fate == 2:
                        cstats[c, BEYOND] += kc
                    else:
                        if keeps:
                            tc[v, c] += kc
                        if row >= 0:
                            cin[row, c] += kc
    stats[TRACED] = traced
    stats[DUST] = dust
    stats[BEYOND] = beyond
    counts[EVENTS] = events
    counts[SOURCE_EDGES] = n_src
    counts[SEEDS] = n_seed
    counts[FIRST_TS] = ts_lo
    counts[LAST_TS] = ts_hi
    return o_edge, o_taint, o_hop, o_bal, o_tb, n_out


local_colour_kernel = _local_colour_kernel
