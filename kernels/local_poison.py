"""Local poison: the sweep's poison result from the tainted out-edges only, no balance replay.

Poison taints every outflow of an address from the moment taint first reaches it (the rule is
``x if taint held > 0``, and poison never lowers the taint held). So, unlike every other model,
what a transfer carries does not depend on the sender's balance, and the local engine's work for
the other models (:mod:`.local`: on each activation a replay of the address's whole history,
both sides, and a heap of its in-edges too) is not needed: on activation at key ``k0`` this
kernel pushes only the address's *out*-edges after ``k0`` (a binary search into the CSR slice,
of every member with entities), and pops them in global processing order (edge id; ``E-1-e`` on
the time-reversed graph), applying the sweep's lines for the source window, dust, hop limit,
sinks and pass-through. Work: O(tainted out-edges · log heap), as the reach kernel's
(:mod:`.reach`) up to the heap.

Why a heap and not :mod:`.reach`'s level-by-level frontier: the reach kernel finds the same
edge set with the least hop per edge (by induction the least hop of an edge is the sweep's
``hops[sender] + 1`` at its time), but the run totals (traced, dust, beyond) and each address's
inflow and taint are float sums, bit-identical to the sweep's only when summed in its order;
and dust/hop-limit edges are processed but deliver nothing, which the frontier does not model.

What depends on balances under poison, and how it stays the sweep's:

* the ledger's ``bal_before`` (``sender_balance_before``): computed only when asked
  (``record``), after the run, by replaying each *tainted sender's* own history up to its last
  tainted outflow with the unknown-prior-funds rule (:func:`_sender_balances`; the replay
  :func:`.local._activate` does, per sender instead of per reached address);
* the unknown-prior-funds totals: global, from :func:`.local.prior_pass` as for every model;
* the balances in the state (``bt[:, 0]``): not written (``follow`` reads none of them).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._jit import njit
from .local import (
    ACTIVATED,
    EVENTS,
    FIRST_TS,
    GAVE_UP,
    LAST_TS,
    SEEDS,
    SOURCE_EDGES,
    _grow_f,
    _node_keys,
)
from .rules import BEYOND, DUST, NORMAL, SINK, SOURCE, THROUGH, TRACED


@njit(cache=True)
def _frontier(g, p, role, sources, w, al):
    """Phase 1: every edge the sweep processes for a poison run (out-edges of tainted
    addresses after taint arrived, all of a source's), level by level as :mod:`.reach` finds
    them: a wallet whose first delivery at level ``h`` is edge key ``s`` contributes its
    out-edges after ``s`` not scanned at a lower level to level ``h + 1``; a delivery is an
    edge carrying a positive amount of at least ``min_amount`` at a level within the hop
    limit (from a source: inside the window) to a wallet or pass-through. Each member's
    scanned edges form one end of its CSR slice (``scanned``), so no edge is met twice.
    Returns the processing keys (unsorted), their count, and 1 when the budget ran out.
    ``w``: scratch (``since``, ``next_since`` per node, ``scanned`` per address, ``frontier``,
    ``nxt`` per node, ``touched`` per address), left as found. ``al``: the CSR-aligned copies
    (:func:`align`; empty: read the per-edge arrays at random)."""
    _, min_amount, max_hops, _, _, reverse, lo, hi, max_events, max_active = p
    src, dst, amount, ts, rep = g.src, g.dst, g.amount, g.ts, g.rep
    token_id, token_ok = g.token_id, g.token_ok
    out_offsets, out_edges = g.out_offsets, g.out_edges
    mem_offsets, mem_list = g.mem_offsets, g.mem_list
    since, next_since, scanned, frontier, nxt, touched = w
    a_dst, a_amount, a_ts = al
    aligned = a_dst.shape[0] > 0
    none = np.iinfo(np.int64).max
    has_rep = rep.shape[0] > 0
    n_edges = src.shape[0]
    keys = np.empty(1024, dtype=np.int64)
    n = 0
    nf = 0
    nt = 0
    n_active = 0
    gave_up = 0
    for i in range(sources.shape[0]):
        s = sources[i]
        if since[s] == none:
            since[s] = -1
            frontier[nf] = s
            nf += 1
    level = 0
    while nf > 0 and gave_up == 0:
        level += 1
        nn = 0
        for i in range(nf):
            u = frontier[i]
            after = since[u]
            ru = role[u]
            lo_m = mem_offsets[u] if has_rep else 0
            n_mem = mem_offsets[u + 1] - lo_m if has_rep else 1
            for jm in range(n_mem):
                m = mem_list[lo_m + jm] if has_rep else u
                a, b = out_offsets[m], out_offsets[m + 1]
                if scanned[m] < 0:
                    scanned[m] = b if not reverse else a
                    touched[nt] = m
                    nt += 1
                # keys after ``after``: a suffix (forward, key = e) or a prefix (reversed)
                x0, x1 = a, b
                while x0 < x1:
                    mid = (x0 + x1) // 2
                    e = out_edges[mid]
                    if (not reverse and e <= after) or (reverse and n_edges - 1 - e > after):
                        x0 = mid + 1
                    else:
                        x1 = mid
                if not reverse:
                    first, last = x0, scanned[m]
                    if first < last:
                        scanned[m] = first
                else:
                    first, last = scanned[m], x0
                    if first < last:
                        scanned[m] = last
                for j in range(first, last):
                    e = out_edges[j]
                    if aligned:  # sequential reads of the CSR-aligned copies
                        x = a_amount[j]
                        d = a_dst[j]
                        t = a_ts[j]
                        if x != x:  # NaN: unknown decimals or another asset
                            continue
                    else:
                        x = amount[e]
                        if not token_ok[token_id[e]] or x != x:  # NaN: unknown decimals
                            continue
                        d = dst[e]
                        t = ts[e]
                    v = rep[d] if has_rep else d
                    if has_rep and v == u:
                        continue  # inside one entity: not a hop
                    k = n_edges - 1 - e if reverse else e
                    if n == keys.shape[0]:
                        keys = _grow_f(keys, n)
                    keys[n] = k
                    n += 1
                    if not (x > 0.0 and x >= min_amount and level <= max_hops):
                        continue  # carries nothing, dust or beyond the hop limit
                    if ru == SOURCE and (t < lo or t > hi):
                        continue  # outside the window: not a seed
                    rv = role[v]
                    if rv != NORMAL and rv != THROUGH:
                        continue  # sinks absorb; sources are already at level 0
                    if next_since[v] == none:
                        nxt[nn] = v
                        nn += 1
                        next_since[v] = k
                    elif k < next_since[v]:
                        next_since[v] = k
            if max_events >= 0 and n > max_events:
                gave_up = 1
                break
        for i in range(nf):
            since[frontier[i]] = none
        for i in range(nn):
            v = nxt[i]
            if since[v] == none and scanned[v if not has_rep else mem_list[mem_offsets[v]]] < 0:
                n_active += 1
            since[v] = next_since[v]
            next_since[v] = none
            frontier[i] = v
        nf = nn
        if max_active >= 0 and n_active > max_active:
            gave_up = 1
    for i in range(nf):
        since[frontier[i]] = none
        next_since[frontier[i]] = none
    for i in range(nt):
        scanned[touched[i]] = -1
    return keys, n, gave_up


@njit(cache=True)
def _poison_kernel(g, p, role, sources, bt, inflow, hops, first_ts, beyond_from, stats, out, w,
                   al):  # fmt: skip
    """The local poison sweep (module docstring): phase 1 (:func:`_frontier`) finds the edges
    the sweep processes, phase 2 runs the sweep's poison lines over them in processing order
    (so every sum is taken in the sweep's order). Arguments as :func:`.local._local_kernel`'s
    without the lot queues (``p`` a :class:`.local.LocalParams`, ``out`` a
    :class:`.local.LocalOut`), plus the scratch ``w`` and the aligned copies ``al``. Returns
    the tainted-edge buffers and their count; ``o_bal`` is filled by :func:`_sender_balances`
    afterwards (when recording)."""
    _, min_amount, max_hops, record, _, reverse, lo, hi, _, _ = p
    o_edge, o_taint, o_hop, o_bal, o_tb, counts = out
    src, dst, amount, ts, rep = g.src, g.dst, g.amount, g.ts, g.rep
    has_rep = rep.shape[0] > 0
    n_edges = src.shape[0]
    keys, n_keys, gave_up = _frontier(g, p, role, sources, w, al)
    counts[EVENTS] = n_keys
    if gave_up:
        counts[GAVE_UP] = 1
        return o_edge, o_taint, o_hop, o_bal, o_tb, 0
    keys = np.sort(keys[:n_keys])
    traced = stats[TRACED]
    dust = stats[DUST]
    beyond = stats[BEYOND]
    n_out = 0
    n_src = 0
    n_seed = 0
    ts_lo = -1
    ts_hi = -1
    for i in range(n_keys):
        k = keys[i]
        e = n_edges - 1 - k if reverse else k
        u = rep[src[e]] if has_rep else src[e]
        v = rep[dst[e]] if has_rep else dst[e]
        x = amount[e]
        ru = role[u]
        rv = role[v]
        carried = 0.0
        t_u = bt[u, 1]
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
        elif ru != SINK and t_u > 0.0:
            carried = x  # poison: the whole outflow of a tainted address
        if carried > 0.0:
            h = 1 if ru == SOURCE else hops[u] + 1
            if carried < min_amount:
                dust += carried
            elif h > max_hops:
                beyond += carried
                beyond_from[u] += carried
            else:
                if n_out == o_edge.shape[0]:
                    o_edge = _grow_f(o_edge, n_out)
                    o_taint = _grow_f(o_taint, n_out)
                    o_hop = _grow_f(o_hop, n_out)
                if record and n_out == o_tb.shape[0]:
                    o_tb = _grow_f(o_tb, n_out)
                o_edge[n_out] = e
                o_taint[n_out] = carried
                o_hop[n_out] = h
                if record:
                    o_tb[n_out] = t_u
                n_out += 1
                if (rv == NORMAL or rv == THROUGH) and hops[v] < 0:
                    counts[ACTIVATED] += 1
                if hops[v] < 0 or h < hops[v]:
                    hops[v] = h
                if first_ts[v] < 0:
                    first_ts[v] = ts[e]
                inflow[v] += carried
                if rv == NORMAL or rv == THROUGH:
                    bt[v, 1] += carried
    stats[TRACED] = traced
    stats[DUST] = dust
    stats[BEYOND] = beyond
    counts[SOURCE_EDGES] = n_src
    counts[SEEDS] = n_seed
    counts[FIRST_TS] = ts_lo
    counts[LAST_TS] = ts_hi
    if record and o_bal.shape[0] < o_tb.shape[0]:
        o_bal = np.zeros(o_tb.shape[0], dtype=np.float64)
    return o_edge, o_taint, o_hop, o_bal, o_tb, n_out


@njit(cache=True)
def _sender_balances(g, reverse, o_edge, n_out, o_bal):
    """``o_bal[i]``: the sweep's balance of tainted edge ``i``'s sender just before it (with
    the unknown-prior-funds rule ``b = max(b, x)``), by replaying each distinct sender's own
    selected history (both sides) up to its last tainted outflow."""
    src, dst, amount, rep = g.src, g.dst, g.amount, g.rep
    has_rep = rep.shape[0] > 0
    n_edges = src.shape[0]
    sender = np.empty(n_out, dtype=np.int64)
    for i in range(n_out):
        e = o_edge[i]
        sender[i] = rep[src[e]] if has_rep else src[e]
    order = np.argsort(sender, kind="mergesort")  # per sender, in processing order
    i = 0
    while i < n_out:
        node = sender[order[i]]
        j = i
        while j < n_out and sender[order[j]] == node:
            j += 1
        keys = _node_keys(g, n_edges, reverse, node)
        b = 0.0
        nxt = i  # next tainted edge of this sender (keys ascending, as ``order`` within it)
        for q in range(keys.shape[0]):
            if nxt == j:
                break
            k = keys[q]
            e = n_edges - 1 - k if reverse else k
            x = amount[e]
            if (rep[src[e]] if has_rep else src[e]) == node:
                if x > b:
                    b = x
                if e == o_edge[order[nxt]]:
                    o_bal[order[nxt]] = b
                    nxt += 1
                b -= x
            if (rep[dst[e]] if has_rep else dst[e]) == node:
                b += x
        i = j
    return o_bal


class PoisonScratch(NamedTuple):
    """Per-query scratch of :func:`_frontier`, allocated once per graph (O(nodes)) and left as
    found by every query, so a case-sized query costs O(what it touches), not O(nodes)."""

    since: np.ndarray
    next_since: np.ndarray
    scanned: np.ndarray
    frontier: np.ndarray
    nxt: np.ndarray
    touched: np.ndarray


class Aligned(NamedTuple):
    """Per-edge fields in out-CSR order (``out_edges``' positions), so the frontier reads each
    tainted wallet's transfers sequentially, as :mod:`.reach` reads its CSR-aligned receivers:
    the receiver, the amount (NaN when not selected: another asset or unknown decimals) and
    the time. 20 bytes per edge; empty arrays: read the per-edge arrays at random."""

    dst: np.ndarray
    amount: np.ndarray
    ts: np.ndarray


@njit(cache=True)
def _align(out_edges, dst, amount, ts, token_id, token_ok, a_dst, a_amount, a_ts):
    """Fill the aligned copies (one gather pass)."""
    nan = np.nan
    for j in range(out_edges.shape[0]):
        e = out_edges[j]
        a_dst[j] = dst[e]
        a_amount[j] = amount[e] if token_ok[token_id[e]] else nan
        a_ts[j] = ts[e]


def align(g) -> Aligned:  # type: ignore[no-untyped-def]
    """The CSR-aligned copies of ``g`` (a :class:`.local.LocalGraph`) for its asset group."""
    n = g.out_edges.shape[0]
    al = Aligned(np.empty(n, np.int32), np.empty(n, np.float64), np.empty(n, np.int64))
    _align(g.out_edges, g.dst, g.amount, g.ts, g.token_id, g.token_ok, *al)
    return al


def no_aligned() -> Aligned:
    """Empty copies: the frontier reads the per-edge arrays (graphs too large to copy)."""
    return Aligned(np.zeros(0, np.int32), np.zeros(0, np.float64), np.zeros(0, np.int64))


def new_scratch(n_nodes: int, n_addresses: int) -> PoisonScratch:
    """Scratch for ``n_nodes`` (entity ids with entities) over ``n_addresses`` CSR slices."""
    none = np.iinfo(np.int64).max
    return PoisonScratch(np.full(n_nodes, none, np.int64), np.full(n_nodes, none, np.int64),
                         np.full(n_addresses, -1, np.int64), np.zeros(n_nodes, np.int32),
                         np.zeros(n_nodes, np.int32), np.zeros(n_addresses, np.int32))  # fmt: skip


def poison_kernel(g, p, role, sources, bt, inflow, hops, first_ts, beyond_from, stats, out,  # type: ignore[no-untyped-def]
                  w=None, al=None):
    """Run the local poison sweep and, when recording, the senders' balances before their
    tainted outflows. Returns ``(o_edge, o_taint, o_hop, o_bal, o_tb, n_out)`` (the first
    ``n_out`` valid); ``out.counts`` as :func:`.local._local_kernel` fills it (events: the
    edges processed). ``w``: a :class:`PoisonScratch` to reuse (None: a new one); ``al``: the
    :class:`Aligned` copies (None: none, random reads)."""
    if w is None:
        w = new_scratch(role.shape[0], g.out_offsets.shape[0] - 1)
    if al is None:
        al = no_aligned()
    o_edge, o_taint, o_hop, o_bal, o_tb, n_out = _poison_kernel(
        g, p, role, sources, bt, inflow, hops, first_ts, beyond_from, stats, out, w, al
    )
    if p.record and not out.counts[GAVE_UP]:
        o_bal = _sender_balances(g, bool(p.reverse), o_edge, int(n_out), o_bal)
    return o_edge, o_taint, o_hop, o_bal, o_tb, n_out
