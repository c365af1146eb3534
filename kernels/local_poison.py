"""Local poison: the sweep's poison result from the tainted out-edges only, no balance replay.

Poison taints every outflow of an address from the moment taint first reaches it (the rule is
``x if taint held > 0``, and poison never lowers the taint held). So, unlike every other model,
what a transfer carries does not depend on the sender's balance, and the local engine's work for
the other models (:mod:`.local`: on each activation a replay of the address's whole history,
both sides, and a heap of its in-edges too) is not needed. Three steps, each O(events) (the
out-edges of tainted addresses after taint arrived, every source edge):

1. :func:`_frontier`, level by level as :mod:`.reach` walks (a binary search into each
   reached wallet's CSR slice, every member's with entities): the events, each with its hop
   (the level it is met at is the sweep's hop: by induction the least hop of the deliveries to
   its sender before it, plus one), and what does not depend on the order of processing: each
   receiver's least hop and first delivery, each receiver listed once;
2. one numpy sort of ``key << shift | hop`` (key = edge id, ``E-1-e`` on the time-reversed
   graph) puts the events in the sweep's order (numpy's int64 sort is ~8x numba's here);
3. :func:`_poison_sums` runs the sweep's lines for the source window, dust, hop limit, sinks
   and pass-through over them in that order, so every float sum (traced, dust, beyond, each
   receiver's inflow) is taken in the sweep's order, bit for bit.

Why not :mod:`.reach` alone: it finds the same edge set with the least hop per edge, but the
run totals and each address's inflow are float sums, bit-identical to the sweep's only when
summed in its order; and dust/hop-limit edges are processed but deliver nothing.

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
from .rules import BEYOND, DUST, NORMAL, SOURCE, THROUGH, TRACED


@njit(cache=True)
def _grow_to(a, n, need):
    """``a`` with room for ``need`` entries (doubled until it fits), its first ``n`` kept."""
    m = a.shape[0]
    while m < need:
        m *= 2
    b = np.empty(m, dtype=a.dtype)
    b[:n] = a[:n]
    return b


@njit(cache=True)
def _frontier(g, p, role, sources, w, al, hops, first_ts):
    """Phase 1: every edge the sweep processes for a poison run (out-edges of tainted
    addresses after taint arrived, all of a source's), level by level as :mod:`.reach` finds
    them: a wallet whose first delivery at level ``h`` is edge key ``s`` contributes its
    out-edges after ``s`` not scanned at a lower level to level ``h + 1``; a delivery is an
    edge carrying a positive amount of at least ``min_amount`` at a level within the hop
    limit (from a source: inside the window) to a wallet or pass-through. Each member's
    scanned edges form one end of its CSR slice (``scanned``), so no edge is met twice.

    An edge met at level ``h`` is the sweep's hop ``h`` (by induction: the least hop of the
    deliveries to its sender before it, plus one), so this pass also writes what does not
    depend on the order of processing: each receiver's least hop (``hops``, the first level
    that delivers to it) and its first delivery's key (``first_ts``, turned into a time by
    :func:`_finish`), and lists each receiver once (``written``, of the scratch). A wallet's
    least hop and first delivery are settled once per level (its earliest delivery of the
    level, which the frontier keeps anyway), a sink's or source's per delivery. Returns the keys
    (unsorted, level after level), their count, where each level starts (``starts[h - 1]``;
    ``starts[levels]`` = the count), the number of levels, the receivers written, their
    count, the activations and 1 when the budget ran out. ``w``: scratch (``since``,
    ``next_since`` per node, ``scanned`` per address, ``frontier``, ``nxt`` per node,
    ``touched`` per address, ``written`` per node), left as found. ``al``: the CSR-aligned
    copies (:func:`align`; empty: read the per-edge arrays at random)."""
    _, min_amount, max_hops, _, _, reverse, lo, hi, max_events, max_active = p
    src, dst, amount, ts, rep = g.src, g.dst, g.amount, g.ts, g.rep
    token_id, token_ok = g.token_id, g.token_ok
    out_offsets, out_edges = g.out_offsets, g.out_edges
    mem_offsets, mem_list = g.mem_offsets, g.mem_list
    since, next_since, scanned, frontier, nxt, touched, written = w
    a_dst, a_amount, a_ts = al
    aligned = a_dst.shape[0] > 0
    none = np.iinfo(np.int64).max
    has_rep = rep.shape[0] > 0
    n_edges = src.shape[0]
    keys = np.empty(1024, dtype=np.int64)
    starts = np.empty(16, dtype=np.int64)
    n = 0
    nf = 0
    nt = 0
    nw = 0
    n_active = 0
    activated = 0
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
        if level == starts.shape[0]:
            starts = _grow_f(starts, level)
        starts[level - 1] = n
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
                if n + last - first > keys.shape[0]:  # room for the whole slice
                    keys = _grow_to(keys, n, n + last - first)
                for j in range(first, last):
                    e = out_edges[j]
                    if aligned:  # sequential reads of the CSR-aligned copies
                        d = a_dst[j]
                        if d >= 0:  # a selected positive amount: read only to test the dust
                            x = a_amount[j] if min_amount > 0.0 else 1.0
                        else:
                            d = -1 - d
                            x = a_amount[j]
                            if x != x:  # NaN: unknown decimals or another asset
                                continue
                    else:
                        x = amount[e]
                        if not token_ok[token_id[e]] or x != x:  # NaN: unknown decimals
                            continue
                        d = dst[e]
                    v = rep[d] if has_rep else d
                    if has_rep and v == u:
                        continue  # inside one entity: not a hop
                    k = n_edges - 1 - e if reverse else e
                    keys[n] = k
                    n += 1
                    if not (x > 0.0 and x >= min_amount and level <= max_hops):
                        continue  # carries nothing, dust or beyond the hop limit
                    if ru == SOURCE:  # the time only matters for a source's window
                        t = a_ts[j] if aligned else ts[e]
                        if t < lo or t > hi:
                            continue  # outside the window: not a seed
                    rv = role[v]
                    if rv != NORMAL and rv != THROUGH:
                        # a sink or a source absorbs (sources are already at level 0); its
                        # least hop is the first level that delivers to it (levels rise)
                        if hops[v] < 0:
                            hops[v] = level
                            first_ts[v] = k
                            written[nw] = v
                            nw += 1
                        elif k < first_ts[v]:
                            first_ts[v] = k
                        continue
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
            k = next_since[v]  # v's first delivery at this level
            if hops[v] < 0:  # none at a lower level: this is its least hop
                hops[v] = level
                first_ts[v] = k
                written[nw] = v
                nw += 1
                activated += 1
            elif k < first_ts[v]:
                first_ts[v] = k
            if since[v] == none and scanned[v if not has_rep else mem_list[mem_offsets[v]]] < 0:
                n_active += 1
            since[v] = k
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
    if level == starts.shape[0]:
        starts = _grow_f(starts, level)
    starts[level] = n
    if gave_up:  # the caller sweeps: leave the state as found (only these were written)
        for i in range(nw):
            hops[written[i]] = -1
            first_ts[written[i]] = -1
    return keys, n, starts, level, written, nw, activated, gave_up


@njit(cache=True)
def _pack(keys, n, starts, levels, shift):
    """``keys[i] << shift | level``, in place: one sort then orders the events by key and
    each keeps its hop (the level it was met at)."""
    for h in range(1, levels + 1):
        for i in range(starts[h - 1], starts[h]):
            keys[i] = (keys[i] << shift) | h


@njit(cache=True)
def _poison_sums(g, p, packed, shift, ranked, role, bt, inflow, beyond_from, stats, out):
    """Phase 2: the sweep's poison lines over the events in processing order (``packed``:
    sorted ``key << shift | hop``; ``ranked`` non-empty: the key's rank stands for it, see
    :func:`_in_order`), so every float sum (traced, dust, beyond, each receiver's
    inflow and, when recording, its taint held) is taken in the sweep's order. Level 1 holds
    exactly the sources' edges; every later event is an outflow of an address holding taint
    (phase 1 met it after a delivery), so under poison it carries its whole amount. Writes
    the tainted edges into ``out``'s buffers (sized for every event) and returns their count
    and the source counts."""
    _, min_amount, max_hops, record, _, reverse, lo, hi, _, _ = p
    o_edge, o_taint, o_hop, _, o_tb, counts = out
    src, dst, amount, ts, rep = g.src, g.dst, g.amount, g.ts, g.rep
    has_rep = rep.shape[0] > 0
    n_edges = src.shape[0]
    mask = (np.int64(1) << shift) - 1
    by_rank = ranked.shape[0] > 0
    traced = stats[TRACED]
    dust = stats[DUST]
    beyond = stats[BEYOND]
    n_out = 0
    n_src = 0
    n_seed = 0
    ts_lo = -1
    ts_hi = -1
    for i in range(packed.shape[0]):
        q = packed[i]
        k = q >> shift
        if by_rank:
            k = ranked[k]
        h = q & mask
        e = n_edges - 1 - k if reverse else k
        x = amount[e]
        carried = x  # poison: the whole outflow of a tainted address
        if h == 1:  # a source's edge
            t = ts[e]
            n_src += 1
            if ts_lo < 0 or t < ts_lo:
                ts_lo = t
            if t > ts_hi:
                ts_hi = t
            if t >= lo and t <= hi:
                n_seed += 1
                traced += x
            else:
                carried = 0.0
        if not carried > 0.0:
            continue
        if carried < min_amount:
            dust += carried
        elif h > max_hops:
            beyond += carried
            beyond_from[rep[src[e]] if has_rep else src[e]] += carried
        else:
            v = rep[dst[e]] if has_rep else dst[e]
            o_edge[n_out] = e
            o_taint[n_out] = carried
            o_hop[n_out] = h
            if record:
                u = rep[src[e]] if has_rep else src[e]
                o_tb[n_out] = bt[u, 1]
                rv = role[v]
                if rv == NORMAL or rv == THROUGH:
                    bt[v, 1] += carried
            n_out += 1
            inflow[v] += carried
    stats[TRACED] = traced
    stats[DUST] = dust
    stats[BEYOND] = beyond
    counts[SOURCE_EDGES] = n_src
    counts[SEEDS] = n_seed
    counts[FIRST_TS] = ts_lo
    counts[LAST_TS] = ts_hi
    return n_out


@njit(cache=True)
def _finish(g, reverse, record, role, written, nw, bt, inflow, first_ts):
    """Per receiver: its first delivery's key (phase 1) becomes that edge's time, and, when
    phase 2 did not keep it (not recording), the taint it holds: under poison every delivery
    adds to both inflow and taint held of a wallet or pass-through, in the same order, so the
    two sums are the same number."""
    ts = g.ts
    n_edges = ts.shape[0]
    for i in range(nw):
        v = written[i]
        k = first_ts[v]
        first_ts[v] = ts[n_edges - 1 - k if reverse else k]
        if not record:
            r = role[v]
            if r == NORMAL or r == THROUGH:
                bt[v, 1] = inflow[v]


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
    written: np.ndarray


class Aligned(NamedTuple):
    """Per-edge fields in out-CSR order (``out_edges``' positions), so the frontier reads each
    tainted wallet's transfers sequentially, as :mod:`.reach` reads its CSR-aligned receivers:
    the receiver (``-1 - receiver`` unless the amount is selected and positive, so the usual
    edge costs the frontier one array: the amount is read only for the others and to test
    the dust), the amount (NaN when not selected: another asset or unknown decimals) and the
    time (read for a source's window only). 20 bytes per edge; empty arrays: read the
    per-edge arrays at random."""

    dst: np.ndarray
    amount: np.ndarray
    ts: np.ndarray


@njit(cache=True)
def _align(out_edges, dst, amount, ts, token_id, token_ok, a_dst, a_amount, a_ts):
    """Fill the aligned copies (one gather pass)."""
    nan = np.nan
    for j in range(out_edges.shape[0]):
        e = out_edges[j]
        x = amount[e] if token_ok[token_id[e]] else nan
        a_dst[j] = dst[e] if x > 0.0 else -1 - dst[e]
        a_amount[j] = x
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
                         np.zeros(n_nodes, np.int32), np.zeros(n_addresses, np.int32),
                         np.zeros(n_nodes, np.int32))  # fmt: skip


class PoisonRun(NamedTuple):
    """What :func:`poison_kernel` returns: the tainted edges in processing order (the first
    ``n`` of each buffer valid; ``bal_before``/``taint_before`` when recording), and every
    receiver it wrote state for, once each (``written``, unsorted): with the sources, the only
    entries of the state that differ from a fresh one."""

    edge: np.ndarray
    taint: np.ndarray
    hop: np.ndarray
    bal_before: np.ndarray
    taint_before: np.ndarray
    n: int
    written: np.ndarray


#: bits of a packed event (``key << shift | hop``, int64, sorted as signed)
PACK_BITS = 63


def _in_order(keys: np.ndarray, starts: np.ndarray, levels: int,
              n_edges: int) -> tuple[np.ndarray, int, np.ndarray]:  # fmt: skip
    """The events sorted by key, each with its hop: ``(packed, shift, ranked)``. ``packed``
    holds ``key << shift | hop`` (one numpy sort: the per-level runs are not one sorted
    list); when key and hop do not fit :data:`PACK_BITS` together (a chain of 2**(63 -
    shift) edges), the key's rank among the events stands for it and ``ranked`` maps a rank
    back to its key (else ``ranked`` is empty)."""
    n = keys.shape[0]
    shift = max(1, int(levels).bit_length())
    ranked = keys[:0]
    if max(1, int(n_edges - 1).bit_length()) + shift > PACK_BITS:
        ranked = np.sort(keys)
        keys = np.searchsorted(ranked, keys).astype(np.int64)
    _pack(keys, n, starts, levels, shift)
    keys.sort()
    return keys, shift, ranked


def poison_kernel(g, p, role, sources, bt, inflow, hops, first_ts, beyond_from, stats, out,  # type: ignore[no-untyped-def]
                  w=None, al=None) -> PoisonRun:
    """Run the local poison sweep and, when recording, the senders' balances before their
    tainted outflows; ``out.counts`` as :func:`.local._local_kernel` fills it (events: the
    edges processed). ``w``: a :class:`PoisonScratch` to reuse (None: a new one); ``al``: the
    :class:`Aligned` copies (None: none, random reads). When the budget runs out
    (``counts[GAVE_UP]``) the state is left as found and no edge is returned.

    Three steps (the module docstring): the frontier finds the events and their hops
    (numba), one numpy sort puts them in processing order (numpy's sort of int64 is several
    times numba's), the sums run over them in that order (numba)."""
    if w is None:
        w = new_scratch(role.shape[0], g.out_offsets.shape[0] - 1)
    if al is None:
        al = no_aligned()
    counts = out.counts
    keys, n_keys, starts, levels, written, nw, activated, gave_up = _frontier(
        g, p, role, sources, w, al, hops, first_ts)
    counts[EVENTS] = n_keys
    counts[ACTIVATED] += activated
    empty = np.zeros(0, np.int32)
    if gave_up:
        counts[GAVE_UP] = 1
        return PoisonRun(out.edge, out.taint, out.hop, out.bal_before, out.taint_before, 0, empty)
    packed, shift, ranked = _in_order(keys[:n_keys], starts, int(levels), g.src.shape[0])
    m = max(n_keys, 1)
    rec = bool(p.record)
    o = type(out)(np.empty(m, np.int64), np.empty(m, np.float64), np.empty(m, np.int32),
                  np.zeros(m if rec else 1, np.float64), np.empty(m if rec else 1, np.float64),
                  counts)  # fmt: skip
    n_out = _poison_sums(g, p, packed, shift, ranked, role, bt, inflow, beyond_from, stats,
                         o)  # fmt: skip
    _finish(g, bool(p.reverse), rec, role, written, nw, bt, inflow, first_ts)
    o_bal = o.bal_before
    if rec:
        o_bal = _sender_balances(g, bool(p.reverse), o.edge, int(n_out), o_bal)
    return PoisonRun(o.edge, o.taint, o.hop, o_bal, o.taint_before, int(n_out),
                     written[:nw].copy())  # fmt: skip


@njit(cache=True)
def clear_rows(rows, bt, inflow, hops, first_ts, beyond_from):  # type: ignore[no-untyped-def]
    """A fresh state's values at ``rows`` (balance and taint 0, inflow 0, hop and first
    arrival -1, beyond 0 when kept): one pass over the rows a local run wrote, whatever its
    model (:meth:`tracer.analysis.local_state.Slot.reset`), instead of a fancy-indexed
    assignment per array (~4x the time on a spread follow's 23k receivers)."""
    beyond = beyond_from.shape[0] > 0
    for i in range(rows.shape[0]):
        v = rows[i]
        bt[v, 0] = 0.0
        bt[v, 1] = 0.0
        inflow[v] = 0.0
        hops[v] = -1
        first_ts[v] = -1
        if beyond:
            beyond_from[v] = 0.0
