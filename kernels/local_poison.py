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
2. one radix sort (:mod:`.radix`) of ``(key << hb | hop) << ib | index`` (key = edge id,
   ``E-1-e`` on the time-reversed graph; index: the event's slot in the buffers of what phase 1
   read) puts the events in the sweep's order, over the key's bits only (each edge is one
   event: keys are unique): 0.18 ms against numpy's 0.28 for 65k events (test_bench_radix);
3. :func:`_poison_sums` (its events' buffer slots and receivers prefetched ahead: 10M spread
   queries, 30 -> 17 ms) runs the sweep's lines for the source window, dust, hop limit, sinks
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

from ._jit import njit  # isort: split

# numba's count of trailing zero bits (LLVM cttz), imported once _jit has loaded numba
from numba.cpython.unsafe.numbers import trailing_zeros  # isort: split

from .csr import slices
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
from .prefetch import AHEAD, prefetch
from .radix import sort_bits
from .rules import BEYOND, DUST, NORMAL, SOURCE, THROUGH, TRACED

#: an empty entry of the scratch's ``since``/``next_since`` (keys are >= 0, a source's -1)
NONE = -2
#: the next frontier is read back from its bitmap when that scans at most this many words
#: per wallet (else it keeps the order found: a small frontier on a large graph)
SCAN = 8


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
def _frontier(g, p, role, sources, w, al, hops, ev):
    """Phase 1: every edge the sweep processes for a poison run (out-edges of tainted
    addresses after taint arrived, all of a source's), level by level as :mod:`.reach` finds
    them: a wallet whose first delivery at level ``h`` is edge key ``s`` contributes its
    out-edges after ``s`` not scanned at a lower level to level ``h + 1``; a delivery is an
    edge carrying a positive amount of at least ``min_amount`` at a level within the hop
    limit (from a source: inside the window) to a wallet or pass-through. Each member's
    scanned edges form one end of its CSR slice (``scanned``), so no edge is met twice.

    An edge met at level ``h`` is the sweep's hop ``h`` (by induction: the least hop of the
    deliveries to its sender before it, plus one), so this pass also writes each receiver's
    least hop (``hops``, the first level that delivers to it) and lists each receiver once
    (``written``, of the scratch). Per event it keeps its key (level after level, unsorted)
    and what phase 2 would otherwise read at random by edge id: the amount (``ev[1]``) and
    the node the sums add it to (``ev[2]``: the receiver within the hop limit, the sender
    beyond it), both read here from the CSR slice being walked.

    Each level's frontier is walked in node order (the next level's wallets are marked in a
    bitmap, ``bits``, and read back sorted when that costs at most :data:`SCAN` words per
    wallet), so the per-wallet reads (since, scanned, CSR offsets, the slice itself) move
    forward through memory instead of jumping. Nothing here depends on that order: a level's
    events are sorted later and its per-receiver results are minima.

    A wallet whose slice has no edge after its delivery (its last key, read from the CSR, is
    not later) is left out of the next level: most wallets a level delivers to are leaves, and
    visiting one (its state, a binary search into its slice, the aligned copies' lines) finds
    no event. Without entities only (an entity's last key is its members'). The hop-6
    receivers of a spread 6-hop query are about half the wallets the frontier visits (level 7
    is walked only to count what leaves beyond the hop limit): this takes about a third off
    the frontier at 1M synth transfers (``python -m benchmarks.poison_phases``).

    Returns the event buffers (``ev``, grown when needed), the event count, where each level
    starts (``starts[h - 1]``; ``starts[levels]`` = the count), the number of levels, the
    receivers written, their count, the activations and 1 when the budget ran out. ``w``:
    scratch (``since``, ``next_since`` per node, ``scanned`` per address, ``frontier``,
    ``nxt`` per node, ``touched`` per address, ``written`` per node, ``bits``), left as
    found. ``al``: the CSR-aligned copies (:func:`align`; empty: read the per-edge arrays at
    random)."""
    _, min_amount, max_hops, _, _, reverse, lo, hi, max_events, max_active = p
    src, dst, amount, ts, rep = g.src, g.dst, g.amount, g.ts, g.rep
    token_id, token_ok = g.token_id, g.token_ok
    out_offsets, out_edges = g.out_offsets, g.out_edges
    out_dn, out_do, out_de = g.out_dnodes, g.out_doffsets, g.out_dedges
    n_base = out_edges.shape[0]  # the delta's aligned copies follow the base's
    # no delta and the base covers every address (``scanned`` has one entry each): one CSR
    one_level = out_dn.shape[0] == 0 and out_offsets.shape[0] > w[2].shape[0]
    mem_offsets, mem_list = g.mem_offsets, g.mem_list
    since, next_since, scanned, frontier, nxt, touched, written, bits = w
    keys, ev_amt, ev_node, ev_ts = ev
    a_dst, a_amount, a_ts = al
    aligned = a_dst.shape[0] > 0
    none = NONE
    has_rep = rep.shape[0] > 0
    n_edges = src.shape[0]
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
        within = level <= max_hops
        nn = 0
        w_lo = bits.shape[0]
        w_hi = -1
        for i in range(nf):
            u = frontier[i]
            after = since[u]
            ru = role[u]
            lo_m = mem_offsets[u] if has_rep else 0
            n_mem = mem_offsets[u + 1] - lo_m if has_rep else 1
            for jm in range(n_mem):
                m = mem_list[lo_m + jm] if has_rep else u
                # positions 0..deg in m's two-part slice: base edges[a:b], delta's [da:db]
                if one_level:  # the base covers every node: its slice alone, as one CSR
                    a, b = out_offsets[m], out_offsets[m + 1]
                    da = db = out_do[0]
                else:
                    a, b, da, db = slices(out_offsets, out_dn, out_do, m)
                nb = b - a
                deg = nb + db - da
                if scanned[m] < 0:
                    scanned[m] = deg if not reverse else 0
                    touched[nt] = m
                    nt += 1
                # keys after ``after``: a suffix (forward, key = e) or a prefix (reversed)
                x0, x1 = 0, deg
                while x0 < x1:
                    mid = (x0 + x1) // 2
                    e = out_edges[a + mid] if one_level or mid < nb else out_de[da + mid - nb]
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
                    ev_amt = _grow_to(ev_amt, n, keys.shape[0])
                    ev_node = _grow_to(ev_node, n, keys.shape[0])
                    if aligned:
                        ev_ts = _grow_to(ev_ts, n, keys.shape[0])
                # positions j of [first, last) in one space: base ``j < n_base``, the delta's
                # ``n_base + its index`` (the aligned copies' layout); two runs at most, one
                # without a delta (the test per edge is a predicted branch)
                in_base = first < nb
                n_runs = (1 if in_base else 0) + (1 if last > nb else 0)
                for run in range(n_runs):
                    if run == 0 and in_base:
                        j0 = a + first
                        j1 = a + min(last, nb)
                    else:
                        j0 = n_base + da + max(first, nb) - nb
                        j1 = n_base + da + last - nb
                    for j in range(j0, j1):
                        e = out_edges[j] if j < n_base else out_de[j - n_base]
                        if aligned:  # sequential reads of the CSR-aligned copies
                            if j + AHEAD < j1:  # a long slice: its receivers' rows ahead
                                d = a_dst[j + AHEAD]
                                prefetch(next_since, d if d >= 0 else -1 - d)
                            d = a_dst[j]
                            x = a_amount[j]
                            if d < 0:  # not a selected positive amount
                                d = -1 - d
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
                        ev_amt[n] = x
                        ev_node[n] = v if within else u
                        if aligned:
                            ev_ts[n] = a_ts[j]
                        n += 1
                        if not (x > 0.0 and x >= min_amount and within):
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
                                written[nw] = v
                                nw += 1
                            continue
                        ns = next_since[v]
                        if ns == none:
                            nxt[nn] = v
                            nn += 1
                            next_since[v] = k
                            wd = v >> 6
                            bits[wd] |= np.int64(1) << (v & 63)
                            w_lo = min(w_lo, wd)
                            w_hi = max(w_hi, wd)
                        elif k < ns:
                            next_since[v] = k
            if max_events >= 0 and n > max_events:
                gave_up = 1
                break
        for i in range(nf):
            since[frontier[i]] = none
        if w_hi - w_lo < SCAN * nn:  # read the next frontier back in node order
            nn = 0
            for wd in range(w_lo, w_hi + 1):
                x = bits[wd]
                if x != 0:
                    bits[wd] = 0
                    while x != 0:
                        nxt[nn] = (wd << 6) + trailing_zeros(x)
                        nn += 1
                        x &= x - 1
        else:  # too sparse to scan: keep the order found
            for i in range(nn):
                bits[nxt[i] >> 6] = 0
        kept = 0
        for i in range(nn):
            v = nxt[i]
            if hops[v] < 0:  # no delivery at a lower level: this is its least hop
                hops[v] = level
                written[nw] = v
                nw += 1
                activated += 1
            if since[v] == none and scanned[v if not has_rep else mem_list[mem_offsets[v]]] < 0:
                n_active += 1
            s = next_since[v]  # v's first delivery at this level
            next_since[v] = none
            if not has_rep:  # v's last key (its last edge; time-reversed: its first)
                if one_level:
                    a, b = out_offsets[v], out_offsets[v + 1]
                    da = db = 0
                else:
                    a, b, da, db = slices(out_offsets, out_dn, out_do, v)
                if a == b and da == db:
                    continue  # no edge at all: its visit would find nothing
                if reverse:
                    e = out_edges[a] if b > a else out_de[da]
                    if n_edges - 1 - e <= s:
                        continue  # no edge after this delivery: leave it out of the next level
                else:
                    e = out_de[db - 1] if db > da else out_edges[b - 1]
                    if e <= s:
                        continue  # no edge after this delivery: leave it out of the next level
            since[v] = s
            nxt[kept] = v
            kept += 1
        nn = kept
        frontier, nxt = nxt, frontier
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
    return (keys, ev_amt, ev_node, ev_ts), n, starts, level, written, nw, activated, gave_up


@njit(cache=True)
def _pack(keys, starts, levels, hb, ib):
    """``(keys[i] << hb | level) << ib | i``, in place: sorted by their key bits, the events
    are in processing order and each keeps its hop (the level it was met at) and its index
    into the event buffers (amount, node)."""
    for h in range(1, levels + 1):
        for i in range(starts[h - 1], starts[h]):
            keys[i] = (((keys[i] << hb) | h) << ib) | i


@njit(cache=True)
def _poison_sums(g, p, packed, hb, ib, ranked, ev_amt, ev_node, ev_ts, role, bt, inflow,
                 first_ts, beyond_from, stats, out):  # fmt: skip
    """Phase 2: the sweep's poison lines over the events in processing order (``packed``:
    sorted ``(key << hb | hop) << ib | index``; ``ranked`` non-empty: the key's rank stands
    for it, see :func:`_in_order`), so every float sum (traced, dust, beyond, each
    receiver's inflow and, when recording, its taint held) is taken in the sweep's order.
    Level 1 holds exactly the sources' edges; every later event is an outflow of an address
    holding taint (phase 1 met it after a delivery), so under poison it carries its whole
    amount. The amount and the node to add it to come from the event buffers (``index``),
    not the per-edge arrays; a receiver's first delivery is the first event that adds to its
    inflow (a fresh state's inflow is 0, and a sum of positive amounts never is), and its
    time is the receiver's ``first_ts``. Writes the tainted edges into ``out``'s buffers
    (sized for every event) and returns their count and the source counts."""
    _, min_amount, max_hops, record, _, reverse, lo, hi, _, _ = p
    o_edge, o_taint, o_hop, _, o_tb, counts = out
    src, ts, rep = g.src, g.ts, g.rep
    has_rep = rep.shape[0] > 0
    n_edges = src.shape[0]
    imask = (np.int64(1) << ib) - 1
    hmask = (np.int64(1) << hb) - 1
    kshift = hb + ib
    by_rank = ranked.shape[0] > 0
    has_ts = ev_ts.shape[0] > 0
    traced = stats[TRACED]
    dust = stats[DUST]
    beyond = stats[BEYOND]
    n_out = 0
    n_src = 0
    n_seed = 0
    ts_lo = -1
    ts_hi = -1
    n = packed.shape[0]
    for i in range(n):
        # hints (results unchanged, :mod:`.prefetch`): sorted by edge id, the events' buffer
        # slots and receivers come at random; fetch an event's fields, then its receiver's
        # row, ahead of their turn
        if i + AHEAD < n:
            ahead = packed[i + AHEAD] & imask
            prefetch(ev_amt, ahead)
            prefetch(ev_node, ahead)
            if has_ts:
                prefetch(ev_ts, ahead)
        if i + AHEAD // 2 < n:
            prefetch(inflow, ev_node[packed[i + AHEAD // 2] & imask])
        q = packed[i]
        j = q & imask
        h = (q >> ib) & hmask
        k = q >> kshift
        if by_rank:
            k = ranked[k]
        e = n_edges - 1 - k if reverse else k
        x = ev_amt[j]
        carried = x  # poison: the whole outflow of a tainted address
        if h == 1:  # a source's edge
            t = ev_ts[j] if has_ts else ts[e]
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
            beyond_from[ev_node[j]] += carried
        else:
            v = ev_node[j]
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
            f = inflow[v]
            if f == 0.0:  # its first delivery
                first_ts[v] = ev_ts[j] if has_ts else ts[e]
            inflow[v] = f + carried
    stats[TRACED] = traced
    stats[DUST] = dust
    stats[BEYOND] = beyond
    counts[SOURCE_EDGES] = n_src
    counts[SEEDS] = n_seed
    counts[FIRST_TS] = ts_lo
    counts[LAST_TS] = ts_hi
    return n_out


@njit(cache=True)
def _finish(role, written, nw, bt, inflow):
    """Per receiver, when phase 2 did not keep it (not recording): the taint it holds. Under
    poison every delivery adds to both inflow and taint held of a wallet or pass-through, in
    the same order, so the two sums are the same number."""
    for i in range(nw):
        v = written[i]
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
    found by every query, so a case-sized query costs O(what it touches), not O(nodes).
    ``since``, ``next_since`` (per node: an edge key, -1 for a source, :data:`NONE`) and
    ``scanned`` (per address: a CSR position, -1) are int32 when the graph's edge ids fit:
    half the bytes of the arrays read at random per event (``next_since``: the receiver's)."""

    since: np.ndarray
    next_since: np.ndarray
    scanned: np.ndarray
    frontier: np.ndarray
    nxt: np.ndarray
    touched: np.ndarray
    written: np.ndarray
    bits: np.ndarray  # one bit per node: the next level's frontier, read back in node order


class Scratch:
    """A :class:`PoisonScratch` (``nodes``) and the event buffers reused query after query
    (grown when a query needs more, never shrunk): ``keys``, ``amount`` and ``node`` per
    event (:func:`_frontier`) and ``tmp``, the radix sort's second buffer. Not shared
    between threads (:mod:`tracer.analysis.local_poison` keeps one per thread)."""

    def __init__(self, nodes: PoisonScratch) -> None:
        self.nodes = nodes
        self.keys = np.empty(1024, np.int64)
        self.amount = np.empty(1024, np.float64)
        self.node = np.empty(1024, np.int32)
        self.ts = np.empty(1024, np.int64)
        self.tmp = np.empty(1024, np.int64)


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
    """The CSR-aligned copies of ``g`` (a :class:`.local.LocalGraph`) for its asset group:
    the base level's positions, then the delta's (position ``B + j`` for its ``j``-th edge)."""
    nb, nd = g.out_edges.shape[0], g.out_dedges.shape[0]
    al = Aligned(np.empty(nb + nd, np.int32), np.empty(nb + nd, np.float64),
                 np.empty(nb + nd, np.int64))  # fmt: skip
    for edges, lo in ((g.out_edges, 0), (g.out_dedges, nb)):
        if edges.shape[0]:
            _align(edges, g.dst, g.amount, g.ts, g.token_id, g.token_ok,
                   *(a[lo:lo + edges.shape[0]] for a in al))  # fmt: skip
    return al


def address_count(g, n_nodes: int) -> int:  # type: ignore[no-untyped-def]
    """The addresses (CSR slices) of ``g``: the entity map's length with entities, else
    ``n_nodes`` (a base level's offsets may cover fewer: nodes first seen in its delta)."""
    return int(g.rep.shape[0]) if g.rep.shape[0] else int(n_nodes)


def no_aligned() -> Aligned:
    """Empty copies: the frontier reads the per-edge arrays (graphs too large to copy)."""
    return Aligned(np.zeros(0, np.int32), np.zeros(0, np.float64), np.zeros(0, np.int64))


def new_scratch(n_nodes: int, n_addresses: int, n_edges: int = 2**62) -> Scratch:
    """Scratch for ``n_nodes`` (entity ids with entities) over ``n_addresses`` CSR slices of
    ``n_edges`` edges (int32 keys and positions when they fit)."""
    it = np.int32 if n_edges < 2**31 - 1 else np.int64
    return Scratch(PoisonScratch(
        np.full(n_nodes, NONE, it), np.full(n_nodes, NONE, it), np.full(n_addresses, -1, it),
        np.zeros(n_nodes, np.int32), np.zeros(n_nodes, np.int32),
        np.zeros(n_addresses, np.int32), np.zeros(n_nodes, np.int32),
        np.zeros(n_nodes // 64 + 1, np.int64)))  # fmt: skip


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


#: bits of a packed event (``(key << hb | hop) << ib | index``, int64, sorted as signed)
PACK_BITS = 63


def _bits(n: int) -> int:
    return max(1, int(n).bit_length())


def _in_order(keys: np.ndarray, starts: np.ndarray, levels: int, n_edges: int,
              tmp: np.ndarray) -> tuple[np.ndarray, int, int, np.ndarray]:  # fmt: skip
    """The events sorted by key, each with its hop and its index into the event buffers:
    ``(packed, hb, ib, ranked)``, ``packed`` holding ``(key << hb | hop) << ib | index``
    sorted by its key bits (:func:`.radix.sort_bits`: each edge is one event, so no two
    keys are equal and the low bits need no pass). When the three do not fit
    :data:`PACK_BITS` (a chain of about 2**(63 - hb - ib) edges), the key's rank among the
    events stands for it and ``ranked`` maps a rank back to its key (else ``ranked`` is
    empty). ``tmp``: the sort's second buffer (at least as long as ``keys``)."""
    n = keys.shape[0]
    hb = _bits(levels)
    ib = _bits(n - 1)
    kb = _bits(n_edges - 1)
    ranked = keys[:0]
    if kb + hb + ib > PACK_BITS:
        ranked = np.sort(keys)
        keys = np.searchsorted(ranked, keys).astype(np.int64)
        kb = _bits(n - 1)
    _pack(keys, starts, levels, hb, ib)
    return sort_bits(keys, hb + ib, hb + ib + kb, tmp), hb, ib, ranked


def poison_kernel(g, p, role, sources, bt, inflow, hops, first_ts, beyond_from, stats, out,  # type: ignore[no-untyped-def]
                  w=None, al=None) -> PoisonRun:
    """Run the local poison sweep and, when recording, the senders' balances before their
    tainted outflows; ``out.counts`` as :func:`.local._local_kernel` fills it (events: the
    edges processed). ``w``: a :class:`Scratch` to reuse (None: a new one); ``al``: the
    :class:`Aligned` copies (None: none, random reads). When the budget runs out
    (``counts[GAVE_UP]``) the state is left as found and no edge is returned. The state must
    be a fresh one's at the run's receivers (what every caller resets).

    Three steps (the module docstring): the frontier finds the events, their hops, amounts
    and nodes (numba), a radix sort puts them in processing order (numba), the sums run over
    them in that order (numba)."""
    n_edges = g.src.shape[0]
    if w is None:
        w = new_scratch(role.shape[0], address_count(g, role.shape[0]), n_edges)
    if al is None:
        al = no_aligned()
    counts = out.counts
    ev = (w.keys, w.amount, w.node, w.ts)
    ev, n_keys, starts, levels, written, nw, activated, gave_up = _frontier(
        g, p, role, sources, w.nodes, al, hops, ev)
    w.keys, w.amount, w.node, w.ts = ev
    counts[EVENTS] = n_keys
    counts[ACTIVATED] += activated
    empty = np.zeros(0, np.int32)
    if gave_up:
        counts[GAVE_UP] = 1
        return PoisonRun(out.edge, out.taint, out.hop, out.bal_before, out.taint_before, 0, empty)
    if w.tmp.shape[0] < n_keys:
        w.tmp = np.empty(w.keys.shape[0], np.int64)
    packed, hb, ib, ranked = _in_order(w.keys[:n_keys], starts, int(levels), n_edges, w.tmp)
    m = max(n_keys, 1)
    rec = bool(p.record)
    o = type(out)(np.empty(m, np.int64), np.empty(m, np.float64), np.empty(m, np.int32),
                  np.zeros(m if rec else 1, np.float64), np.empty(m if rec else 1, np.float64),
                  counts)  # fmt: skip
    ev_ts = w.ts if al.dst.shape[0] > 0 else w.ts[:0]  # aligned: the times came along
    n_out = _poison_sums(g, p, packed, hb, ib, ranked, w.amount, w.node, ev_ts, role, bt,
                         inflow, first_ts, beyond_from, stats, o)  # fmt: skip
    o_bal = o.bal_before
    if rec:
        o_bal = _sender_balances(g, bool(p.reverse), o.edge, int(n_out), o_bal)
    else:
        _finish(role, written, nw, bt, inflow)
    return PoisonRun(o.edge, o.taint, o.hop, o_bal, o.taint_before, int(n_out),
                     written[:nw].copy())  # fmt: skip

