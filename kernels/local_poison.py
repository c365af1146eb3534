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
    _heap_pop,
    _heap_push,
    _node_keys,
)
from .rules import BEYOND, DUST, NORMAL, SINK, SOURCE, THROUGH, TRACED


@njit(cache=True)
def _push_after(g, reverse, node, k0, heap, hn):
    """Push the processing keys of ``node``'s selected out-edges after key ``k0`` (every member
    with entities; edges inside one entity are not hops). Returns heap, size, keys pushed."""
    src, dst, amount, rep = g.src, g.dst, g.amount, g.rep
    token_id, token_ok = g.token_id, g.token_ok
    out_offsets, out_edges = g.out_offsets, g.out_edges
    mem_offsets, mem_list = g.mem_offsets, g.mem_list
    n_edges = src.shape[0]
    has_rep = rep.shape[0] > 0
    lo_m = mem_offsets[node] if has_rep else 0
    n_mem = mem_offsets[node + 1] - lo_m if has_rep else 1
    pushed = 0
    for j in range(n_mem):
        m = mem_list[lo_m + j] if has_rep else node
        a, b = out_offsets[m], out_offsets[m + 1]
        # the slice is sorted by edge id: keys after k0 are a suffix (forward, key = e) or a
        # prefix (reversed, key = E-1-e); the binary search finds its first/last edge
        lo, hi = a, b
        while lo < hi:
            mid = (lo + hi) // 2
            e = out_edges[mid]
            if (not reverse and e <= k0) or (reverse and n_edges - 1 - e > k0):
                lo = mid + 1
            else:
                hi = mid
        first, last = (lo, b) if not reverse else (a, lo)
        for i in range(first, last):
            e = out_edges[i]
            if not token_ok[token_id[e]] or amount[e] != amount[e]:  # NaN: unknown decimals
                continue
            if has_rep and rep[src[e]] == rep[dst[e]]:
                continue
            heap, hn = _heap_push(heap, hn, n_edges - 1 - e if reverse else e)
            pushed += 1
    return heap, hn, pushed


@njit(cache=True)
def _poison_kernel(g, p, role, sources, bt, inflow, hops, first_ts, beyond_from, stats, out):
    """The frontier-driven poison sweep (module docstring). Arguments as
    :func:`.local._local_kernel`'s without the lot queues (``p`` a :class:`.local.LocalParams`,
    ``out`` a :class:`.local.LocalOut`). Returns the tainted-edge buffers and their count;
    ``o_bal`` is filled by :func:`_sender_balances` afterwards (when recording)."""
    _, min_amount, max_hops, record, _, reverse, lo, hi, max_events, max_active = p
    o_edge, o_taint, o_hop, o_bal, o_tb, counts = out
    src, dst, amount, ts, rep = g.src, g.dst, g.amount, g.ts, g.rep
    has_rep = rep.shape[0] > 0
    n_edges = src.shape[0]
    active = np.zeros(role.shape[0], dtype=np.bool_)
    heap = np.empty(1024, dtype=np.int64)
    hn = 0
    events = 0
    n_active = 0
    for i in range(sources.shape[0]):
        s = sources[i]
        if not active[s]:
            active[s] = True
            n_active += 1
            heap, hn, spent = _push_after(g, reverse, s, -1, heap, hn)
            events += spent
    traced = stats[TRACED]
    dust = stats[DUST]
    beyond = stats[BEYOND]
    n_out = 0
    n_src = 0
    n_seed = 0
    ts_lo = -1
    ts_hi = -1
    while hn > 0:
        if (max_events >= 0 and events > max_events) or (max_active >= 0 and n_active > max_active):
            counts[GAVE_UP] = 1
            break
        k, hn = _heap_pop(heap, hn)
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
                if hops[v] < 0 or h < hops[v]:
                    hops[v] = h
                if first_ts[v] < 0:
                    first_ts[v] = ts[e]
                inflow[v] += carried
                if rv == NORMAL or rv == THROUGH:
                    if not active[v]:
                        active[v] = True
                        n_active += 1
                        counts[ACTIVATED] += 1
                        heap, hn, spent = _push_after(g, reverse, v, k, heap, hn)
                        events += spent
                    bt[v, 1] += carried
    stats[TRACED] = traced
    stats[DUST] = dust
    stats[BEYOND] = beyond
    counts[EVENTS] = events
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


def poison_kernel(g, p, role, sources, bt, inflow, hops, first_ts, beyond_from, stats, out):  # type: ignore[no-untyped-def]
    """Run the local poison sweep and, when recording, the senders' balances before their
    tainted outflows. Returns ``(o_edge, o_taint, o_hop, o_bal, o_tb, n_out)`` (the first
    ``n_out`` valid); ``out.counts`` as :func:`.local._local_kernel` fills it."""
    o_edge, o_taint, o_hop, o_bal, o_tb, n_out = _poison_kernel(
        g, p, role, sources, bt, inflow, hops, first_ts, beyond_from, stats, out
    )
    if p.record and not out.counts[GAVE_UP]:
        o_bal = _sender_balances(g, bool(p.reverse), o_edge, int(n_out), o_bal)
    return o_edge, o_taint, o_hop, o_bal, o_tb, n_out
