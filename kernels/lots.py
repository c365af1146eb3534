"""FIFO and LIFO: per-address lot queues, spent oldest-first or newest-first.

The lot models keep each wallet's funds as a queue of lots ``(amount, tainted part)`` in one
shared pool, bounded by merging (:func:`_lots_push`); :mod:`.taint` dispatches here from
:class:`~.taint.SweepState` and :func:`~.taint.sweep_chunk`.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit
from .rules import (
    BEYOND,
    DUST,
    LIFO,
    LOT_MERGES,
    NORMAL,
    OVERDRAFT_AMOUNT,
    OVERDRAFTS,
    SINK,
    SOURCE,
    THROUGH,
    TRACED,
    prior_funds,
)


@njit(cache=True)
def _lots_push(lot_amt, lot_tnt, start, head, tail, cap, v, x, tx, pool_end, max_lots, lifo):
    """Append a lot (``x`` moved, ``tx`` of it tainted) to node ``v``'s queue.

    Each node owns a region ``[start, start + cap)`` of one pool; live lots are ``head..tail``.
    A full region slides its live lots to the front when at least half is free, else moves to a
    region twice as large at the pool's end (the pool doubles when needed).

    Merging bounds memory. A lot of the same kind as the newest (both wholly tainted or both
    wholly clean) is added to it, which changes nothing. A queue already holding ``max_lots``
    lots merges two adjacent lots into one *mixed* lot, spent pro rata (haircut inside the
    lot): FIFO adds the new lot to the newest one, LIFO merges its two oldest — in both cases
    the lots spent last, so the lots about to be spent stay exact. Returns the pool arrays,
    the new pool end and 1 when a mixed merge happened (counted in ``stats[LOT_MERGES]``).
    """
    if tail[v] > head[v]:
        i = start[v] + tail[v] - 1
        if (tx == 0.0 and lot_tnt[i] == 0.0) or (tx == x and lot_tnt[i] == lot_amt[i]):
            lot_amt[i] += x
            lot_tnt[i] += tx
            return lot_amt, lot_tnt, pool_end, 0
    merged = 0
    if tail[v] - head[v] >= max_lots:
        merged = 1
        if not lifo:
            i = start[v] + tail[v] - 1
            lot_amt[i] += x
            lot_tnt[i] += tx
            return lot_amt, lot_tnt, pool_end, merged
        i = start[v] + head[v]
        lot_amt[i + 1] += lot_amt[i]
        lot_tnt[i + 1] += lot_tnt[i]
        head[v] += 1
    if tail[v] == cap[v]:
        live = tail[v] - head[v]
        if cap[v] > 0 and live <= cap[v] // 2:
            for k in range(live):
                lot_amt[start[v] + k] = lot_amt[start[v] + head[v] + k]
                lot_tnt[start[v] + k] = lot_tnt[start[v] + head[v] + k]
        else:
            new_cap = cap[v] * 2 if cap[v] > 0 else 4
            if pool_end + new_cap > lot_amt.shape[0]:
                grow = max(lot_amt.shape[0] * 2, pool_end + new_cap)
                na = np.empty(grow, dtype=np.float64)
                nt = np.zeros(grow, dtype=np.float64)
                na[:pool_end] = lot_amt[:pool_end]
                nt[:pool_end] = lot_tnt[:pool_end]
                lot_amt = na
                lot_tnt = nt
            for k in range(live):
                lot_amt[pool_end + k] = lot_amt[start[v] + head[v] + k]
                lot_tnt[pool_end + k] = lot_tnt[start[v] + head[v] + k]
            start[v] = pool_end
            cap[v] = new_cap
            pool_end += new_cap
        head[v] = 0
        tail[v] = live
    lot_amt[start[v] + tail[v]] = x
    lot_tnt[start[v] + tail[v]] = tx
    tail[v] += 1
    return lot_amt, lot_tnt, pool_end, merged


@njit(cache=True)
def _lots_kernel(tr, seed, p, a, out, q, pool_end):
    """FIFO and LIFO: per-address queues of lots ``(amount, tainted part)``.

    The queue state (``start/head/tail/cap`` per node, the pool, its end) persists across calls
    so a chain can be swept chunk by chunk. Returns the pool arrays, the pool end and the
    longest queue seen.

    ``tr`` :class:`.Transfers`, ``p`` :class:`.SweepParams` (``model`` FIFO or LIFO,
    ``max_lots``), ``a`` :class:`.SweepArrays`, ``out`` :class:`.EdgeOut`, ``q``
    :class:`.LotQueues`, ``pool_end`` the pool's first free slot; unpacked once, here (see
    :mod:`.taint`'s note on references).
    """
    src, dst, amount, ts = tr
    model, min_amount, max_hops, record, max_lots = p
    role, bt, inflow, hops, first_ts, beyond_from, stats = a
    edge_taint, edge_hop, bal_before, taint_before = out
    lifo = model == LIFO
    start, head, tail, cap, lot_amt, lot_tnt = q
    max_live = 0
    merges = stats[LOT_MERGES]
    # run totals continue from ``stats`` (not 0 + a per-chunk sum): each is then one sequential
    # sum in edge order, so any chunking gives bit-identical totals (streamed == in memory)
    traced = stats[TRACED]
    dust = stats[DUST]
    beyond = stats[BEYOND]
    n_over = stats[OVERDRAFTS]
    over = stats[OVERDRAFT_AMOUNT]
    for e in range(src.shape[0]):
        u = src[e]
        v = dst[e]
        x = amount[e]
        ru = role[u]
        rv = role[v]
        t_u = bt[u, 1]
        b, n_over, over = prior_funds(bt[u, 0], x, ru, n_over, over)
        carried = 0.0
        if ru == SOURCE:
            if seed[e]:
                carried = x
                traced += x
        elif ru != SINK:
            # FIFO spends the oldest lot first (the head), LIFO the newest (the tail). A shortfall
            # is prior funds, older than anything observed: x > b empties the queue either way.
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
                    part = lot_tnt[idx] * (need / a)  # a mixed lot is spent pro rata
                    if lot_tnt[idx] == a:
                        part = need  # wholly tainted: exact
                    carried += part
                    lot_tnt[idx] -= part
                    lot_amt[idx] = a - need
                    need = 0.0
            if tail[u] == head[u]:
                head[u] = 0
                tail[u] = 0
            if carried > t_u:
                carried = t_u
        if record:
            bal_before[e] = b
            taint_before[e] = t_u
        bt[u, 0] = b - x
        rest = t_u - carried
        bt[u, 1] = rest if rest > 0.0 else 0.0
        bt[v, 0] += x
        moved = 0.0
        if carried > 0.0:
            # deliver (same lines in _sweep_kernel; see the note above it)
            h = 1 if ru == SOURCE else hops[u] + 1
            if carried < min_amount:
                dust += carried
            elif h > max_hops:
                beyond += carried
                beyond_from[u] += carried  # who stopped at the limit (rare path)
            else:
                moved = carried
                edge_taint[e] = carried
                edge_hop[e] = h
                if hops[v] < 0 or h < hops[v]:
                    hops[v] = h
                if first_ts[v] < 0:
                    first_ts[v] = ts[e]
                inflow[v] += carried
                if rv == NORMAL or rv == THROUGH:
                    bt[v, 1] += carried
        if rv == NORMAL or rv == THROUGH:
            # the receiver's new lots: the tainted part first (same instant; documented order)
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
    stats[OVERDRAFTS] = n_over
    stats[OVERDRAFT_AMOUNT] = over
    stats[LOT_MERGES] = merges
    return lot_amt, lot_tnt, pool_end, max_live
