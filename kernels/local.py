"""Local (frontier-driven) taint propagation: the sweep's result from the tainted subgraph only.

The full sweep (:mod:`.taint`, :mod:`.lots`) walks every selected edge. Most of them touch
neither a source nor an address that ever held taint, and such an edge changes only the
*balances* of clean addresses — which matter only if that address is reached later. So this
kernel processes, in the same global order (edge id order; time never runs backwards):

* every edge of an *active* address (a source, or a wallet/pass-through that has received
  delivered taint) after it became active — its outflows carry taint under the model, its
  inflows raise its balance (and, for FIFO/LIFO, add clean lots);
* on activation, a replay of that address's own earlier edges (O(its degree)) to rebuild the
  balance the sweep would hold there, with the unknown-prior-funds adjustment applied exactly as
  the sweep applies it (``b = max(b, x)`` before each outflow). Before it is reached an address
  holds only clean funds, and FIFO/LIFO hold them as one clean lot of the balance (clean lots
  merge, spending a clean lot is the balance arithmetic), so the replay is exact.

The edges still to process sit in a binary min-heap of processing keys (``e`` forward;
``E - 1 - e`` on the time-reversed graph), filled from each address's CSR slices when it
becomes active; an edge between two active addresses is pushed twice and processed once.

Equal to the sweep on every array the follow reads (taint held, inflow, hops, first arrival,
beyond-hop-limit per wallet, traced/dust/beyond totals, the tainted edges with the ledger's
sender state) — the tests compare them with hypothesis. Two figures are global by nature and are
*not* produced here: the unknown-prior-funds totals of every wallet (``OVERDRAFTS``,
``OVERDRAFT_AMOUNT``) and the count of selected edges; :func:`prior_pass` computes them once per
selection (the caller caches them). Balances of addresses never reached stay 0 here.

TIHO (transaction groups) and per-source colours run on :mod:`.local_colours`, which shares
this module's heap and activation helpers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._jit import njit
from .csr import edge_at, slices
from .lots import _lots_push
from .rules import (
    BEYOND,
    DUST,
    FIFO,
    LIFO,
    LOT_MERGES,
    NORMAL,
    POISON,
    SINK,
    SOURCE,
    THROUGH,
    TRACED,
    model_rule,
)

_NO_NODES = np.zeros(0, dtype=np.int32)
_NO_OFFSETS = np.zeros(1, dtype=np.int64)
_NO_EDGES = np.zeros(0, dtype=np.int64)


class LocalGraph(NamedTuple):
    """The whole graph as the local kernel reads it, in the sweep's direction.

    ``src, dst`` int32 per edge (swapped for the time-reversed graph), ``amount`` float64 (NaN:
    unknown decimals, never selected), ``ts`` int64, ``token_id`` int32, ``token_ok`` bool per
    token (the asset group), CSR ``out_offsets/out_edges`` and ``in_offsets/in_edges`` in the
    same direction, ``rep`` int32 entity per address (empty: no entities), and the members of
    each entity as CSR ``mem_offsets/mem_list`` (empty without entities).

    The CSR may be two levels (the edge log's, :mod:`tracer.store.edge_log`): then
    ``*_offsets/*_edges`` are the base (dense over its first nodes only: a node past them has
    an empty base slice) and ``*_dnodes/*_doffsets/*_dedges`` the sparse delta (sorted nodes,
    their offsets and edge ids, all above the base's); a node's slice is its base slice then
    its delta slice (:func:`slices`). Empty deltas (the defaults): one CSR.
    """

    src: np.ndarray
    dst: np.ndarray
    amount: np.ndarray
    ts: np.ndarray
    token_id: np.ndarray
    token_ok: np.ndarray
    out_offsets: np.ndarray
    out_edges: np.ndarray
    in_offsets: np.ndarray
    in_edges: np.ndarray
    rep: np.ndarray
    mem_offsets: np.ndarray
    mem_list: np.ndarray
    out_dnodes: np.ndarray = _NO_NODES
    out_doffsets: np.ndarray = _NO_OFFSETS
    out_dedges: np.ndarray = _NO_EDGES
    in_dnodes: np.ndarray = _NO_NODES
    in_doffsets: np.ndarray = _NO_OFFSETS
    in_dedges: np.ndarray = _NO_EDGES


class LocalParams(NamedTuple):
    """Settings: model code, dust, hop cap, record the ledger's sender state, lots per address,
    reversed (key ``E - 1 - e``), the seed window ``lo..hi`` (inclusive, µs) and the budget of
    events (edges processed or replayed) and of activations before giving up (-1: none)."""

    model: int
    min_amount: float
    max_hops: int
    record: bool
    max_lots: int
    reverse: bool
    lo: int
    hi: int
    max_events: int
    max_active: int


class LocalOut(NamedTuple):
    """The tainted edges in processing order (grown as needed; first ``n`` valid) and the
    counts the follow reports about its sources (``counts``: events, activations, source edges,
    seeds, first and last source-edge time; ``counts[6]`` 1 when the budget ran out)."""

    edge: np.ndarray
    taint: np.ndarray
    hop: np.ndarray
    bal_before: np.ndarray
    taint_before: np.ndarray
    counts: np.ndarray


#: indices into ``LocalOut.counts``
EVENTS, ACTIVATED, SOURCE_EDGES, SEEDS, FIRST_TS, LAST_TS, GAVE_UP = 0, 1, 2, 3, 4, 5, 6
N_COUNTS = 7


# The hot loops below read the bundle's fields into locals first and write the node mapping
# and the selection test out: a helper taking the bundle (or its arrays) costs an
# incref/decref pair per array per call (see :mod:`.taint`'s note), measured 3.5M edges/s for
# the balance pass against the sweep's 20M+.


@njit(cache=True)
def _heap_push(heap, n, key):
    """Push ``key`` on the min-heap ``heap[:n]`` (grown when full); returns heap and size."""
    if n == heap.shape[0]:
        bigger = np.empty(heap.shape[0] * 2, dtype=np.int64)
        bigger[:n] = heap[:n]
        heap = bigger
    i = n
    heap[i] = key
    while i > 0:
        parent = (i - 1) >> 1
        if heap[parent] <= key:
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = key
    return heap, n + 1


@njit(cache=True)
def _heap_pop(heap, n):
    """Remove and return the smallest key of ``heap[:n]`` (n > 0)."""
    top = heap[0]
    n -= 1
    last = heap[n]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and heap[c + 1] < heap[c]:
            c += 1
        if heap[c] >= last:
            break
        heap[i] = heap[c]
        i = c
    if n > 0:
        heap[i] = last
    return top, n


@njit(cache=True)
def _node_keys(g, n_edges, reverse, node):
    """Processing keys of every selected edge of ``node`` (all members, both sides, both
    levels), sorted, duplicates (self-loops) once."""
    src, dst, amount, rep = g.src, g.dst, g.amount, g.rep
    token_id, token_ok = g.token_id, g.token_ok
    out_offsets, out_edges = g.out_offsets, g.out_edges
    in_offsets, in_edges = g.in_offsets, g.in_edges
    out_dn, out_do, out_de = g.out_dnodes, g.out_doffsets, g.out_dedges
    in_dn, in_do, in_de = g.in_dnodes, g.in_doffsets, g.in_dedges
    mem_offsets, mem_list = g.mem_offsets, g.mem_list
    has_rep = rep.shape[0] > 0
    lo_m = mem_offsets[node] if has_rep else 0
    n_mem = mem_offsets[node + 1] - lo_m if has_rep else 1
    total = 0
    for j in range(n_mem):
        m = mem_list[lo_m + j] if has_rep else node
        a, b, da, db = slices(out_offsets, out_dn, out_do, m)
        total += b - a + db - da
        a, b, da, db = slices(in_offsets, in_dn, in_do, m)
        total += b - a + db - da
    keys = np.empty(total, dtype=np.int64)
    k = 0
    for j in range(n_mem):
        m = mem_list[lo_m + j] if has_rep else node
        for side in range(2):
            if side == 0:
                a, b, da, db = slices(out_offsets, out_dn, out_do, m)
            else:
                a, b, da, db = slices(in_offsets, in_dn, in_do, m)
            for part in range(2):
                edges = (out_edges if part == 0 else out_de) if side == 0 else (
                    in_edges if part == 0 else in_de)
                lo, hi = (a, b) if part == 0 else (da, db)
                for i in range(lo, hi):
                    e = edges[i]
                    if not token_ok[token_id[e]] or amount[e] != amount[e]:  # NaN: unknown
                        continue
                    if has_rep and rep[src[e]] == rep[dst[e]]:
                        continue  # inside one entity: not a hop
                    keys[k] = n_edges - 1 - e if reverse else e
                    k += 1
    keys = np.sort(keys[:k])
    if k < 2:
        return keys
    w = 1
    for i in range(1, k):
        if keys[i] != keys[w - 1]:
            keys[w] = keys[i]
            w += 1
    return keys[:w]


@njit(cache=True)
def _activate(g, reverse, node, k0, bt, heap, hn):
    """Make ``node`` active at key ``k0``: replay its earlier edges into its balance (what the
    sweep holds there: clean funds only, unknown prior funds added exactly as the sweep adds
    them) and push its later edges. Returns heap, heap size, events spent."""
    src, dst, amount, rep = g.src, g.dst, g.amount, g.rep
    has_rep = rep.shape[0] > 0
    n_edges = src.shape[0]
    keys = _node_keys(g, n_edges, reverse, node)
    b = 0.0
    for i in range(keys.shape[0]):
        k = keys[i]
        if k < k0:
            e = n_edges - 1 - k if reverse else k
            x = amount[e]
            if (rep[src[e]] if has_rep else src[e]) == node:
                if x > b:
                    b = x
                b -= x
            if (rep[dst[e]] if has_rep else dst[e]) == node:
                b += x
        elif k > k0:
            heap, hn = _heap_push(heap, hn, k)
    bt[node, 0] = b
    return heap, hn, keys.shape[0]


@njit(cache=True)
def _grow_f(a, n):
    if n < a.shape[0]:
        return a
    b = np.zeros(a.shape[0] * 2, dtype=a.dtype)
    b[:n] = a[:n]
    return b


@njit(cache=True)
def _local_kernel(g, p, role, sources, bt, inflow, hops, first_ts, beyond_from, stats, q, pool_end,
                  out):  # fmt: skip
    """The frontier-driven sweep (see the module docstring). ``role`` int8 per node (entity
    ids with entities), ``sources`` the source nodes, the state arrays as in
    :class:`~.bundles.SweepArrays`, ``q`` :class:`~.bundles.LotQueues` (FIFO/LIFO; ignored
    otherwise), ``out`` a :class:`LocalOut`. Returns the lot pool, its end, the longest queue,
    the tainted-edge buffers and their count."""
    model, min_amount, max_hops, record, max_lots, reverse, lo, hi, max_events, max_active = p
    start, head, tail, cap, lot_amt, lot_tnt = q
    o_edge, o_taint, o_hop, o_bal, o_tb, counts = out
    lots = model == FIFO or model == LIFO
    lifo = model == LIFO
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
            heap, hn, spent = _activate(g, reverse, s, -1, bt, heap, hn)
            events += spent
    traced = stats[TRACED]
    dust = stats[DUST]
    beyond = stats[BEYOND]
    merges = stats[LOT_MERGES]
    max_live = 0
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
            elif ru != SINK:
                if lots:
                    # the lot kernel's spending, line for line (:func:`.lots._lots_kernel`)
                    need = x
                    while need > 0.0 and tail[u] > head[u]:
                        idx = start[u] + (tail[u] - 1 if lifo else head[u])
                        a = lot_amt[idx]
                        if a <= need:
                            carried += lot_tnt[idx]
                            need -= a
                            lot_amt[idx] = 0.0
                            lot_tnt[idx] = 0.0
                            if lifo:
                                tail[u] -= 1
                            else:
                                head[u] += 1
                        else:
                            part = lot_tnt[idx] * (need / a)
                            if lot_tnt[idx] == a:
                                part = need
                            carried += part
                            lot_tnt[idx] -= part
                            lot_amt[idx] = a - need
                            need = 0.0
                    if tail[u] == head[u]:
                        head[u] = 0
                        tail[u] = 0
                    if carried > t_u:
                        carried = t_u
                elif t_u > 0.0:
                    carried = model_rule(model, x, b, t_u)
            bt[u, 0] = b - x
            if lots or model != POISON:
                rest = t_u - carried
                bt[u, 1] = rest if rest > 0.0 else 0.0
        if active[v]:
            bt[v, 0] += x
        moved = 0.0
        if carried > 0.0:
            h = 1 if ru == SOURCE else hops[u] + 1
            if carried < min_amount:
                dust += carried
            elif h > max_hops:
                beyond += carried
                beyond_from[u] += carried
            else:
                moved = carried
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
                if rv == NORMAL or rv == THROUGH:
                    if not active[v]:
                        active[v] = True
                        n_active += 1
                        counts[ACTIVATED] += 1
                        heap, hn, spent = _activate(g, reverse, v, k, bt, heap, hn)
                        events += spent
                        if lots and bt[v, 0] > 0.0:
                            # what the sweep holds there: one clean lot of the balance before
                            lot_amt, lot_tnt, pool_end, m = _lots_push(
                                lot_amt, lot_tnt, start, head, tail, cap, v, bt[v, 0], 0.0,
                                pool_end, max_lots, lifo,
                            )  # fmt: skip
                        bt[v, 0] += x
                    bt[v, 1] += carried
        if lots and active[v] and (rv == NORMAL or rv == THROUGH):
            if moved > 0.0:
                lot_amt, lot_tnt, pool_end, m = _lots_push(
                    lot_amt, lot_tnt, start, head, tail, cap, v, moved, moved, pool_end,
                    max_lots, lifo,
                )  # fmt: skip
                merges += m
            if x - moved > 0.0:
                lot_amt, lot_tnt, pool_end, m = _lots_push(
                    lot_amt, lot_tnt, start, head, tail, cap, v, x - moved, 0.0, pool_end,
                    max_lots, lifo,
                )  # fmt: skip
                merges += m
            live = tail[v] - head[v]
            if live > max_live:
                max_live = live
    stats[TRACED] = traced
    stats[DUST] = dust
    stats[BEYOND] = beyond
    stats[LOT_MERGES] = merges
    counts[EVENTS] = events
    counts[SOURCE_EDGES] = n_src
    counts[SEEDS] = n_seed
    counts[FIRST_TS] = ts_lo
    counts[LAST_TS] = ts_hi
    return lot_amt, lot_tnt, pool_end, max_live, o_edge, o_taint, o_hop, o_bal, o_tb, n_out


@njit(cache=True, nogil=True)
def _prior_kernel(g, reverse, bal, start, stop):
    """Every unknown-prior-funds shortfall over the selection's processing keys
    ``start..stop``, in processing order (its sender, amount and key), the selected edge count
    and the selected-token edges with unknown decimals; ``bal`` (per node, updated in place)
    is the balance state before ``start`` (zeros from the first edge)."""
    src, dst, amount, rep = g.src, g.dst, g.amount, g.rep
    token_id, token_ok = g.token_id, g.token_ok
    has_rep = rep.shape[0] > 0
    who = np.empty(1024, dtype=np.int64)
    short = np.empty(1024, dtype=np.float64)
    at = np.empty(1024, dtype=np.int64)
    n_short = 0
    n_edges = src.shape[0]
    selected = 0
    unknown = 0
    for k in range(start, stop):
        e = n_edges - 1 - k if reverse else k
        if not token_ok[token_id[e]]:
            continue
        x = amount[e]
        if x != x:
            unknown += 1
            continue
        u = rep[src[e]] if has_rep else src[e]
        v = rep[dst[e]] if has_rep else dst[e]
        if has_rep and u == v:
            continue
        selected += 1
        b = bal[u]
        if x > b:
            if n_short == who.shape[0]:
                who = _grow_f(who, n_short)
                short = _grow_f(short, n_short)
                at = _grow_f(at, n_short)
            who[n_short] = u
            short[n_short] = x - b
            at[n_short] = k
            n_short += 1
            b = x
        bal[u] = b - x
        bal[v] += x
    return who[:n_short], short[:n_short], at[:n_short], selected, unknown


@njit(cache=True)
def overdraft_totals(who, short, role):
    """The sweep's ``OVERDRAFTS`` and ``OVERDRAFT_AMOUNT`` for these roles: the shortfalls of
    wallets and pass-through services, summed in processing order as the sweep sums them (so
    bit for bit the same)."""
    n = 0.0
    total = 0.0
    for i in range(who.shape[0]):
        r = role[who[i]]
        if r == NORMAL or r == THROUGH:
            n += 1.0
            total += short[i]
    return n, total


def prior_pass(
    g: LocalGraph, n_nodes: int, reverse: bool, bal: np.ndarray | None = None, start: int = 0,
    stop: int | None = None, keys: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Every shortfall of the sweep's unknown-prior-funds adjustment (which depends on balances
    only, never on taint): sender and amount in processing order, plus the selected edge count
    and the selected-token edges left out for unknown decimals. O(edges): computed once per
    selection and reused by every local run on it (:func:`overdraft_totals` per run).

    Continuable: ``bal`` (float64 per node, written in place; None: zeros) is the balance state
    after the first ``start`` processing keys and is left as the state after the last one, so
    a pass over edges appended later continues from it over the new edges only — what one pass
    over all of them gives, bit for bit (the same additions in the same order). ``stop``: the
    processing key to stop before (None: the last edge); ``keys``: a list that gets the
    processing key of each shortfall appended (for :func:`continue_backward`)."""
    if bal is None:
        bal = np.zeros(int(n_nodes), dtype=np.float64)
    if bal.shape[0] != n_nodes or bal.dtype != np.float64:
        raise ValueError("the balance state must be float64 per node")
    end = g.src.shape[0] if stop is None else int(stop)
    who, short, at, selected, unknown = _prior_kernel(g, bool(reverse), bal, int(start), end)
    if keys is not None:
        keys.append(at)
    return who, short, int(selected), int(unknown)


@njit(cache=True, nogil=True)
def _replay_to_clamp(g, bal, nodes, n_old):
    """Per node ``u`` of ``nodes``: replay its edges older than ``n_old`` (forward ids) in the
    time-reversed processing order (descending id) from ``bal[u]``, with the pass's own float
    operations, until the first outflow larger than the balance. Returns per node that
    outflow's processing key (``n_edges``: none) and its shortfall."""
    src, dst, amount = g.src, g.dst, g.amount
    token_id, token_ok = g.token_id, g.token_ok
    out_o, out_e, in_o, in_e = g.out_offsets, g.out_edges, g.in_offsets, g.in_edges
    out_dn, out_do, out_de = g.out_dnodes, g.out_doffsets, g.out_dedges
    in_dn, in_do, in_de = g.in_dnodes, g.in_doffsets, g.in_dedges
    n_edges = src.shape[0]
    limit = np.full(nodes.shape[0], n_edges, dtype=np.int64)
    short = np.zeros(nodes.shape[0], dtype=np.float64)
    for j in range(nodes.shape[0]):
        u = nodes[j]
        b = bal[u]
        # positions in each side's two-part slice (base then delta), walked down
        oa, ob, oda, odb = slices(out_o, out_dn, out_do, u)
        ia, ib, ida, idb = slices(in_o, in_dn, in_do, u)
        o_nb, i_nb = ob - oa, ib - ia
        i_out = o_nb + odb - oda - 1
        i_in = i_nb + idb - ida - 1
        while True:
            e_out = edge_at(out_e, out_de, oa, o_nb, oda, i_out) if i_out >= 0 else -1
            e_in = edge_at(in_e, in_de, ia, i_nb, ida, i_in) if i_in >= 0 else -1
            e = max(e_out, e_in)
            if e < 0:
                break
            if e_out == e:
                i_out -= 1
            if e_in == e:
                i_in -= 1
            if e >= n_old or not token_ok[token_id[e]]:
                continue  # appended (already in ``bal``) or another asset
            x = amount[e]
            if x != x:
                continue  # unknown decimals
            if src[e] == u:
                if x > b:
                    limit[j] = n_edges - 1 - e
                    short[j] = x - b
                    break  # both passes hold 0 from here: the stored figures hold
                b = b - x
                if dst[e] == u:
                    b += x
            else:
                b += x
    return limit, short


def continue_backward(
    g: LocalGraph, n_nodes: int, n_old: int, who: np.ndarray, short: np.ndarray,
    keys: np.ndarray, counts: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """The time-reversed pass over ``g`` (its ``n_old`` first edges' pass stored as ``who``,
    ``short``, ``keys``, ``counts``) without rerunning it over the old edges. The appended
    edges come first in this order: one pass over them gives their shortfalls and each
    address's balance on entering the old edges. Per address the pass is a clamped running
    balance of its own transfers (amounts never depend on balances), so a positive entry
    balance changes only that address's shortfalls up to its first clamp in the new run —
    where both runs reach 0 exactly — so that stretch is replayed (O(its transfers until
    then)) and the rest of the stored list kept: bit for bit the full pass. Returns ``who,
    short, keys, selected, unknown``."""
    n_new = g.src.shape[0] - int(n_old)
    bal = np.zeros(int(n_nodes), dtype=np.float64)
    got: list[np.ndarray] = []
    w_n, s_n, sel, unk = prior_pass(g, n_nodes, True, bal, 0, n_new, got)
    nodes = np.flatnonzero(bal > 0).astype(np.int64)
    limit, c_short = _replay_to_clamp(g, bal, nodes, int(n_old))
    old_keys = np.asarray(keys, dtype=np.int64) + n_new
    lim = np.full(int(n_nodes), -1, dtype=np.int64)
    lim[nodes] = limit
    keep = old_keys > lim[np.asarray(who, dtype=np.int64)]
    clamped = limit < g.src.shape[0]
    order = np.argsort(limit[clamped], kind="stable")
    c_keys, c_who, c_s = limit[clamped][order], nodes[clamped][order], c_short[clamped][order]
    k_keep = old_keys[keep]
    pos = np.searchsorted(k_keep, c_keys)
    who2 = np.concatenate([w_n, np.insert(np.asarray(who, np.int64)[keep], pos, c_who)])
    short2 = np.concatenate([s_n, np.insert(np.asarray(short, np.float64)[keep], pos, c_s)])
    keys2 = np.concatenate([got[0], np.insert(k_keep, pos, c_keys)])
    return who2, short2, keys2, counts[0] + sel, counts[1] + unk


def member_csr(rep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The addresses of each entity as CSR (``rep`` int32 entity id per address)."""
    order = np.argsort(rep, kind="stable").astype(np.int64)
    offsets = np.zeros(rep.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rep, minlength=rep.shape[0]), out=offsets[1:])
    return offsets, order


def new_out(record: bool) -> LocalOut:
    """Empty output buffers (the kernel grows them)."""
    n = 256
    m = n if record else 1
    return LocalOut(np.zeros(n, np.int64), np.zeros(n, np.float64), np.zeros(n, np.int32),
                    np.zeros(m, np.float64), np.zeros(m, np.float64),
                    np.zeros(N_COUNTS, np.int64))  # fmt: skip


local_kernel = _local_kernel
