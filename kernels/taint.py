"""Taint propagation over time-ordered transfers: the sweep kernels and their state.

The rules (one per model) and the vocabulary live in :mod:`.rules`; the FIFO/LIFO lot kernel in
:mod:`.lots`; this module holds the balance sweep, the colour sweep and the public wrappers.

Every model walks the edges once in chain order. An address holds a balance ``B`` (what the
observed transfers left it) and a tainted part ``T``; an edge ``u → v`` moving ``x`` carries the
taint ``t`` its model assigns, then ``B_u -= x, T_u -= t, B_v += x, T_v += t``. Because edges are
processed in chain order, funds received at time ``t0`` can only leave on a later edge (time never
runs backwards along a path).

Roles (``role[node]``):

* ``SOURCE`` (1) — the traced wallets: each *seed* edge (``seed[e]``: a source's outflow inside the
  window and asset set) is fully tainted, ``t = x``. Taint that comes back to a source is absorbed
  there ("returned to source"), so no unit is counted twice.
* ``SINK`` (2) — flagged services (exchanges, guarantee marketplaces, mixers, ...): taint that
  arrives is absorbed and reported; nothing leaves a sink tainted.
* ``NORMAL`` (0) and ``THROUGH`` (3, a labelled pass-through service such as an OTC desk) — taint
  moves on under the model.

Unknown prior funds: histories start at zero, so an address may send more than its observed
balance. The shortfall ``x - B`` is treated as clean funds that were there before the window (the
conservative choice: it never creates taint) and counted in ``stats[OVERDRAFTS]`` and
``stats[OVERDRAFT_AMOUNT]``, never silently.

Dust and hop limit: a ``t`` below ``min_amount`` stops where it is (``stats[DUST]``) instead of
being followed through thousands of further wallets, and so does taint that would arrive at hop
``max_hops + 1`` (``stats[BEYOND]``, and per sending wallet in ``beyond_from``: the wallets at
the limit that passed it on); the receiver sees those funds as clean. ``hops[v]`` is the
minimum number of tainted hops from a source at which taint reached ``v``; an edge's hop is its
sender's minimum hop + 1.

Accounting (every model but poison): ``traced = absorbed at sinks and sources + held + dust +
beyond``, exact up to float64 rounding (the tests check it on random graphs).
"""

from __future__ import annotations

import numpy as np

from ._jit import njit
from .bundles import ColourArrays, EdgeOut, LotQueues, SweepArrays, SweepParams, Transfers, TxGroups
from .lots import _lots_kernel
from .path_keep import path_edges
from .prefetch import AHEAD, prefetch
from .rules import (
    BEYOND,
    CLEAN_FIRST,
    DEFAULT_MAX_LOTS,
    DUST,
    FIFO,
    HAIRCUT,
    LIFO,
    LOT_MERGES,
    MODELS,
    N_STATS,
    NORMAL,
    OVERDRAFT_AMOUNT,
    OVERDRAFTS,
    POISON,
    SINK,
    SOURCE,
    TAINT_FIRST,
    THROUGH,
    TIHO,
    TRACED,
    clean_first_rule,
    haircut_rule,
    model_rule,
    poison_rule,
    prior_funds,
    taint_first_rule,
)

# Re-exported: callers and tests name the vocabulary through this module too.
__all__ = [
    "BEYOND",
    "CLEAN_FIRST",
    "DEFAULT_MAX_LOTS",
    "DUST",
    "FIFO",
    "HAIRCUT",
    "LIFO",
    "LOT_MERGES",
    "MODELS",
    "NORMAL",
    "N_STATS",
    "OVERDRAFTS",
    "OVERDRAFT_AMOUNT",
    "POISON",
    "SINK",
    "SOURCE",
    "TAINT_FIRST",
    "THROUGH",
    "TIHO",
    "TRACED",
    "ChunkResult",
    "ColourState",
    "SweepState",
    "TaintResult",
    "clean_first_rule",
    "haircut_rule",
    "path_edges",
    "poison_rule",
    "propagate",
    "sweep_chunk",
    "taint_first_rule",
    "tx_groups",
]  # fmt: skip


#: the second prefetch stage's distance (see the loop head of :func:`_sweep_kernel`)
HALF = AHEAD // 2

# The scalar steps every sweep shares (the rule dispatch, unknown prior funds) are
# ``inline="always"`` helpers in :mod:`.rules`: numba folds them into each loop at no cost.
# Delivery and settling (booking what an edge carries into the receiver, moving the balance)
# touch arrays and are written out in each kernel instead. Shared helpers taking arrays were
# measured twice: as plain ``@njit`` functions numba does not inline them (24M transfers/s
# against 80M written out, on 10M power-law transfers); as ``inline="always"`` helpers numba
# inlines them, but each inlined array argument is a new reference whose incref/decref pair
# spans the helper's branches, which numba's reference-count pruning cannot remove (33-47 of
# them left in the loop): 8-15x slower. The same holds for a bundle's field read inside the
# loop, so each kernel unpacks its bundles once, before the loop, and the loop sees plain
# locals (benchmarks/test_bench_kernels.py measures each kernel against the revision before).
# The counters live in locals too and are stored to ``stats`` once at the end.


@njit(cache=True, nogil=True)
def _sweep_kernel(tr, seed, p, a, out, grp):
    """Poison, haircut, taint-first, clean-first and TIHO: O(1) state per address.

    ``tr`` :class:`.Transfers`, ``seed`` bool per edge, ``p`` :class:`.SweepParams`, ``a``
    :class:`.SweepArrays`, ``out`` :class:`.EdgeOut`, ``grp`` :class:`.TxGroups` (TIHO only).
    The bundles are unpacked once, here: a field read inside the loop would be a new
    reference per read (see the note above).
    """
    src, dst, amount, ts = tr
    model, min_amount, max_hops, record, _ = p
    role, bt, inflow, hops, first_ts, beyond_from, stats = a
    edge_taint, edge_hop, bal_before, taint_before = out
    grp_of, grp_lead, grp_offsets, grp_edges = grp
    # run totals continue from ``stats`` (not 0 + a per-chunk sum): each is then one sequential
    # sum in edge order, so any chunking gives bit-identical totals (streamed == in memory)
    traced = stats[TRACED]
    dust = stats[DUST]
    beyond = stats[BEYOND]
    n_over = stats[OVERDRAFTS]
    over = stats[OVERDRAFT_AMOUNT]
    n_e = src.shape[0]
    for e in range(n_e):
        # prefetch (hints only, see .prefetch): both endpoints' state AHEAD edges early; at
        # half the distance, when that sender holds taint, the receiver's taint state as well
        f = e + AHEAD
        if f < n_e:
            prefetch(bt, src[f])
            prefetch(bt, dst[f])
            prefetch(role, src[f])
        f = e + HALF
        if f < n_e and bt[src[f], 1] > 0.0:
            w = dst[f]
            prefetch(inflow, w)
            prefetch(hops, w)
            prefetch(first_ts, w)
            prefetch(role, w)
            prefetch(hops, src[f])
        u = src[e]
        v = dst[e]
        x = amount[e]
        ru = role[u]
        t_u = bt[u, 1]
        b, n_over, over = prior_funds(bt[u, 0], x, ru, n_over, over)
        carried = 0.0
        pre = 0.0
        if model == TIHO:  # taint pre-allocated to this output by its group's first output
            pre = edge_taint[e]
            edge_taint[e] = 0.0
        if ru == SOURCE:
            if seed[e]:
                carried = x
                traced += x
        elif ru != SINK and t_u > 0.0:
            if model == TIHO and grp_of[e] >= 0:
                g = grp_of[e]
                if grp_lead[g] == e:
                    # first output of a multi-output transaction: the group's pro-rata taint is
                    # handed to its outputs largest first (later members read edge_taint)
                    total = 0.0
                    for k in range(grp_offsets[g], grp_offsets[g + 1]):
                        total += amount[grp_edges[k]]
                    left = haircut_rule(total, b if b > total else total, t_u)
                    for k in range(grp_offsets[g], grp_offsets[g + 1]):
                        m = grp_edges[k]
                        give = amount[m] if amount[m] < left else left
                        edge_taint[m] = give
                        left -= give
                    pre = edge_taint[e]
                    edge_taint[e] = 0.0
                carried = pre
                if carried > t_u:
                    carried = t_u
            else:
                carried = model_rule(model, x, b, t_u)
        if record:
            bal_before[e] = b
            taint_before[e] = t_u
        bt[u, 0] = b - x
        if model != POISON:
            rest = t_u - carried
            bt[u, 1] = rest if rest > 0.0 else 0.0
        bt[v, 0] += x
        if carried > 0.0:
            # deliver (same lines in _lots_kernel; see the note above)
            h = 1 if ru == SOURCE else hops[u] + 1
            if carried < min_amount:
                dust += carried
            elif h > max_hops:
                beyond += carried
                beyond_from[u] += carried  # who stopped at the limit (rare path)
            else:
                edge_taint[e] = carried
                edge_hop[e] = h
                if hops[v] < 0 or h < hops[v]:
                    hops[v] = h
                if first_ts[v] < 0:
                    first_ts[v] = ts[e]
                inflow[v] += carried
                rv = role[v]
                if rv == NORMAL or rv == THROUGH:
                    bt[v, 1] += carried
    stats[TRACED] = traced
    stats[DUST] = dust
    stats[BEYOND] = beyond
    stats[OVERDRAFTS] = n_over
    stats[OVERDRAFT_AMOUNT] = over


@njit(cache=True, nogil=True)
def _colour_kernel(tr, seed, p, a, out, col):
    """:func:`_sweep_kernel` (poison, haircut, taint-first, clean-first) with one taint colour
    per source (``--by-source``): the same totals, plus who the taint came from.

    The total a transfer carries, and whether it is delivered, dust or beyond the hop limit, are
    decided exactly as in the single-colour kernel (the lines are the same). The colours then
    split it: a seed is wholly its source's colour; any other transfer carries each colour in
    proportion to the sender's tainted funds (``tc[u, c] / T_u``), so the colours always sum
    to the total (poison: every colour the sender holds taints the whole transfer, an upper
    bound per source, exactly a separate poison trace of each). ``tc[n, S]`` is each node's
    tainted funds by colour; ``cin[row, S]`` what reported nodes (``row_of >= 0``: sinks and
    sources) received by colour. Kept out of the single-colour kernel so that one pays nothing.
    ``col`` is a :class:`.ColourArrays`; the other bundles as in :func:`_sweep_kernel`.
    """
    src, dst, amount, ts = tr
    model, min_amount, max_hops, record, _ = p
    role, bt, inflow, hops, first_ts, beyond_from, stats = a
    edge_taint, edge_hop, bal_before, taint_before = out
    colour_of, row_of, tc, cin, cstats = col
    n_col = tc.shape[1]
    traced = stats[TRACED]
    dust = stats[DUST]
    beyond = stats[BEYOND]
    n_over = stats[OVERDRAFTS]
    over = stats[OVERDRAFT_AMOUNT]
    n_e = src.shape[0]
    for e in range(n_e):
        f = e + AHEAD  # prefetch as in _sweep_kernel, plus the sender's colours
        if f < n_e:
            prefetch(bt, src[f])
            prefetch(bt, dst[f])
            prefetch(role, src[f])
        f = e + HALF
        if f < n_e and bt[src[f], 1] > 0.0:
            w = dst[f]
            prefetch(inflow, w)
            prefetch(hops, w)
            prefetch(first_ts, w)
            prefetch(role, w)
            prefetch(hops, src[f])
            prefetch(tc, src[f])
            prefetch(tc, w)
        u = src[e]
        v = dst[e]
        x = amount[e]
        ru = role[u]
        t_u = bt[u, 1]
        b, n_over, over = prior_funds(bt[u, 0], x, ru, n_over, over)
        carried = 0.0
        if ru == SOURCE:
            if seed[e]:
                carried = x
                traced += x
                cstats[colour_of[u], TRACED] += x
        elif ru != SINK and t_u > 0.0:
            carried = model_rule(model, x, b, t_u)
        if record:
            bal_before[e] = b
            taint_before[e] = t_u
        bt[u, 0] = b - x
        if model != POISON:
            rest = t_u - carried
            bt[u, 1] = rest if rest > 0.0 else 0.0
        bt[v, 0] += x
        if carried <= 0.0:
            continue
        h = 1 if ru == SOURCE else hops[u] + 1
        fate = 0  # 0 delivered, 1 dust, 2 beyond (the total's fate: every colour shares it)
        if carried < min_amount:
            dust += carried
            fate = 1
        elif h > max_hops:
            beyond += carried
            beyond_from[u] += carried
            fate = 2
        else:
            edge_taint[e] = carried
            edge_hop[e] = h
            if hops[v] < 0 or h < hops[v]:
                hops[v] = h
            if first_ts[v] < 0:
                first_ts[v] = ts[e]
            inflow[v] += carried
        rv = role[v]
        keeps = rv == NORMAL or rv == THROUGH
        if fate == 0 and keeps:
            bt[v, 1] += carried
        row = row_of[v]
        for c in range(n_col):
            if ru == SOURCE:
                k = carried if c == colour_of[u] else 0.0
            else:
                t = tc[u, c]
                if t <= 0.0:
                    continue
                if model == POISON:
                    k = carried
                else:
                    k = carried * (t / t_u)
                    if k > t:
                        k = t
                    tc[u, c] = t - k
            if k <= 0.0:
                continue
            if fate == 1:
                cstats[c, DUST] += k
            elif fate == 2:
                cstats[c, BEYOND] += k
            else:
                if keeps:
                    tc[v, c] += k
                if row >= 0:
                    cin[row, c] += k
    stats[TRACED] = traced
    stats[DUST] = dust
    stats[BEYOND] = beyond
    stats[OVERDRAFTS] = n_over
    stats[OVERDRAFT_AMOUNT] = over


# ---------------------------------------------------------------------------------------------
# Public wrapper: validate, allocate, dispatch (the stumpy shape).
# ---------------------------------------------------------------------------------------------
def tx_groups(tx_id: np.ndarray, src: np.ndarray, amount: np.ndarray) -> tuple[np.ndarray, ...]:
    """Multi-output groups for TIHO: edges of one sender inside one transaction.

    Returns ``grp_of[E]`` (group number or -1 for a lone output), ``grp_lead[G]`` (the group's
    first edge in chain order), and CSR ``grp_offsets[G+1]``/``grp_edges`` listing each group's
    edges by amount, largest first (ties: chain order).
    """
    n = tx_id.shape[0]
    grp_of = np.full(n, -1, dtype=np.int64)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return grp_of, empty, np.zeros(1, dtype=np.int64), empty
    order = np.lexsort((np.arange(n), src, tx_id))
    key_t, key_s = tx_id[order], src[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (key_t[1:] != key_t[:-1]) | (key_s[1:] != key_s[:-1])
    run_id = np.cumsum(new) - 1
    sizes = np.bincount(run_id)
    multi = sizes[run_id] > 1
    runs = np.unique(run_id[multi])
    remap = np.full(sizes.shape[0], -1, dtype=np.int64)
    remap[runs] = np.arange(runs.shape[0])
    members = order[multi]
    gnum = remap[run_id[multi]]
    grp_of[members] = gnum
    n_groups = runs.shape[0]
    grp_lead = np.full(n_groups, n, dtype=np.int64)
    np.minimum.at(grp_lead, gnum, members)
    by = np.lexsort((members, -amount[members], gnum))
    grp_edges = members[by].astype(np.int64)
    grp_offsets = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(gnum, minlength=n_groups), out=grp_offsets[1:])
    return grp_of, grp_lead, grp_offsets, grp_edges


class _Totals:
    """Run totals read from ``stats`` (traced, below dust, beyond the hop limit)."""

    stats: np.ndarray

    @property
    def traced(self) -> float:
        return float(self.stats[TRACED])

    @property
    def dust(self) -> float:
        return float(self.stats[DUST])

    @property
    def beyond(self) -> float:
        return float(self.stats[BEYOND])


class SweepState(_Totals):
    """Per-address state of one sweep; it persists across chunks, so memory is O(addresses).

    A whole chain is swept by calling :func:`sweep_chunk` on consecutive chunks of edges in
    chain order (any chunk sizes give the same result as one call). Node arrays: ``balance``,
    ``taint`` (held now; 0 at sinks and sources), ``inflow`` (taint received, all time),
    ``hops`` (minimum tainted hops, -1 if never reached), ``first_ts``. FIFO/LIFO add the lot
    queues (20 bytes per address plus the pool, bounded by ``max_lots`` lots per address).
    """

    def __init__(
        self,
        role: np.ndarray,
        *,
        model: str = "haircut",
        min_amount: float = 0.0,
        max_hops: int | None = None,
        max_lots: int = DEFAULT_MAX_LOTS,
        colours: ColourState | None = None,
    ) -> None:
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
        if colours is not None and MODELS[model] not in (POISON, HAIRCUT, TAINT_FIRST,
                                                         CLEAN_FIRST):  # fmt: skip
            raise ValueError(f"taint colours (by source) are not available for {model!r}")
        self.colours = colours
        if max_lots < 2:
            raise ValueError("max_lots must be at least 2")
        self.role = np.ascontiguousarray(role, dtype=np.int8)
        n = self.role.shape[0]
        self.model = model
        self.code = MODELS[model]
        self.min_amount = float(min_amount)
        self.hop_cap = np.iinfo(np.int32).max - 1 if max_hops is None else int(max_hops)
        # balance and taint side by side: a sweep reads both for every sender, so one cache
        # line instead of two (1.5-2.7x faster on 1.7M addresses, where state outgrows cache)
        self.bt = np.zeros((n, 2), dtype=np.float64)
        self.balance = self.bt[:, 0]
        self.taint = self.bt[:, 1]
        self.inflow = np.zeros(n, dtype=np.float64)
        self.hops = np.full(n, -1, dtype=np.int32)
        self.first_ts = np.full(n, -1, dtype=np.int64)
        self.stats = np.zeros(N_STATS, dtype=np.float64)
        # taint each wallet passed on beyond the hop limit (who the "beyond" figure stopped
        # at); only with a limit, so an unlimited whole-chain sweep pays no memory for it
        self.beyond_from = np.zeros(n if max_hops is not None else 0, dtype=np.float64)
        #: the same arrays as the kernels take them (references, not copies)
        self.arrays = SweepArrays(self.role, self.bt, self.inflow, self.hops, self.first_ts,
                                  self.beyond_from, self.stats)  # fmt: skip
        self.max_lots = int(max_lots)
        self.longest_queue = 0
        self.edges_seen = 0
        if self.code in (FIFO, LIFO):
            self.lot_start = np.zeros(n, dtype=np.int64)
            self.lot_head = np.zeros(n, dtype=np.int32)
            self.lot_tail = np.zeros(n, dtype=np.int32)
            self.lot_cap = np.zeros(n, dtype=np.int32)
            pool = max(1024, n // 4)
            self.lot_amt = np.zeros(pool, dtype=np.float64)
            self.lot_tnt = np.zeros(pool, dtype=np.float64)
            self.pool_end = 0

    @property
    def n_nodes(self) -> int:
        return int(self.role.shape[0])

    def nbytes(self) -> int:
        """Bytes held by the per-address state (what a whole-chain sweep keeps in memory)."""
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))


_Z = np.zeros(0, dtype=np.int64)
_NO_GROUPS = TxGroups(_Z, _Z, np.zeros(1, dtype=np.int64), _Z)


class ColourState:
    """Taint by colour (one colour per source) for :func:`_colour_kernel`.

    ``colour_of[node]``: the colour of a source node (-1 elsewhere); ``row_of[node]``: the
    reported row of a node whose receipts are kept by colour (-1: not reported). Memory
    ``8 · addresses · colours`` bytes for ``tc`` plus ``8 · rows · colours`` for ``cin``.
    """

    def __init__(self, colour_of: np.ndarray, n_colours: int, row_of: np.ndarray) -> None:
        self.colour_of = np.ascontiguousarray(colour_of, dtype=np.int32)
        self.row_of = np.ascontiguousarray(row_of, dtype=np.int32)
        n = self.colour_of.shape[0]
        k = max(int(n_colours), 1)
        n_rows = int(self.row_of.max()) + 1 if n and self.row_of.size else 0
        self.tc = np.zeros((n, k), dtype=np.float64)
        self.cin = np.zeros((max(n_rows, 0), k), dtype=np.float64)
        self.stats = np.zeros((k, 3), dtype=np.float64)


@njit(cache=True, nogil=True)
def _check_edges(src, dst, amount, n_nodes):  # type: ignore[no-untyped-def]
    """0 when every id is a row of the state and every amount finite and >= 0; else 1 (an id
    out of range) or 2 (an amount). One pass over the three arrays instead of numpy's six
    (min, max of each id column, isfinite, >=, and, all), which cost a sixth of the sweep."""
    bad_amount = False
    for e in range(src.shape[0]):
        u = src[e]
        v = dst[e]
        if u < 0 or u >= n_nodes or v < 0 or v >= n_nodes:
            return 1
        x = amount[e]
        if not x >= 0.0 or x == np.inf:  # NaN fails every comparison
            bad_amount = True
    return 2 if bad_amount else 0


class ChunkResult:
    """Per-edge outputs of one chunk (indexed like the chunk's arrays)."""

    def __init__(self, n_edges: int, record: bool) -> None:
        self.edge_taint = np.zeros(n_edges, dtype=np.float64)
        self.edge_hop = np.zeros(n_edges, dtype=np.int32)
        m = n_edges if record else 0
        self.bal_before = np.zeros(m, dtype=np.float64)
        self.taint_before = np.zeros(m, dtype=np.float64)

    def first(self, n_edges: int) -> ChunkResult:
        """The first ``n_edges`` of these buffers (views), for a chunk swept into reused
        outputs (see ``sweep_chunk(out=...)``)."""
        if n_edges > self.edge_taint.shape[0] or self.bal_before.shape[0]:
            raise ValueError("reused outputs: too small, or kept for the ledger")
        view = object.__new__(ChunkResult)
        view.edge_taint, view.edge_hop = self.edge_taint[:n_edges], self.edge_hop[:n_edges]
        view.bal_before, view.taint_before = self.bal_before, self.taint_before
        return view


def sweep_chunk(
    state: SweepState,
    src: np.ndarray,
    dst: np.ndarray,
    amount: np.ndarray,
    ts: np.ndarray,
    seed: np.ndarray,
    *,
    tx_id: np.ndarray | None = None,
    record: bool = False,
    check: bool = True,
    out: ChunkResult | None = None,
) -> ChunkResult:
    """Advance ``state`` over one chunk of edges (the next ones in chain order).

    Parameters are as in :func:`propagate`. ``tiho`` groups a sender's outputs inside one
    transaction, so its chunks must not split a transaction (pass the whole selection as one
    chunk). ``check=False`` skips the O(chunk) input validation for callers that validated
    the data once (the workspace's own arrays). ``out``: outputs to reuse (not with
    ``record``), at least the chunk's length and **all zero** (the kernels write only the
    tainted edges): a streamed sweep clears what it read instead of faulting in fresh
    pages per chunk (:func:`kernels.path_keep.keep_paths` with ``clear``).
    """
    src = np.ascontiguousarray(src, dtype=np.int32)
    dst = np.ascontiguousarray(dst, dtype=np.int32)
    amount = np.ascontiguousarray(amount, dtype=np.float64)
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    seed = np.ascontiguousarray(seed, dtype=np.bool_)
    n_edges = src.shape[0]
    if not (dst.shape[0] == amount.shape[0] == ts.shape[0] == seed.shape[0] == n_edges):
        raise ValueError("src, dst, amount, ts and seed must have the same length")
    n_nodes = state.n_nodes
    if check and n_edges:
        bad = _check_edges(src, dst, amount, n_nodes)
        if bad == 1:
            raise ValueError("node id out of range of role")
        if bad == 2:
            raise ValueError("amounts must be finite and non-negative")
    out = ChunkResult(n_edges, record) if out is None or record else out.first(n_edges)
    code = state.code
    tr = Transfers(src, dst, amount, ts)
    params = SweepParams(code, state.min_amount, state.hop_cap, bool(record), state.max_lots)
    edge_out = EdgeOut(out.edge_taint, out.edge_hop, out.bal_before, out.taint_before)
    if code in (FIFO, LIFO):
        lots = LotQueues(state.lot_start, state.lot_head, state.lot_tail, state.lot_cap,
                         state.lot_amt, state.lot_tnt)  # fmt: skip
        state.lot_amt, state.lot_tnt, state.pool_end, longest = _lots_kernel(
            tr, seed, params, state.arrays, edge_out, lots, state.pool_end
        )
        state.longest_queue = max(state.longest_queue, int(longest))
    elif state.colours is not None:
        col = state.colours
        if col.colour_of.shape[0] != n_nodes:
            raise ValueError("colour_of must have one entry per node")
        colours = ColourArrays(col.colour_of, col.row_of, col.tc, col.cin, col.stats)
        _colour_kernel(tr, seed, params, state.arrays, edge_out, colours)
    else:
        if code == TIHO:
            if tx_id is None:
                raise ValueError("the tiho model needs tx_id")
            groups = TxGroups(*tx_groups(np.ascontiguousarray(tx_id, dtype=np.int64), src, amount))
        else:
            groups = _NO_GROUPS  # read under tiho only
        _sweep_kernel(tr, seed, params, state.arrays, edge_out, groups)
    state.edges_seen += n_edges
    return out


class TaintResult(_Totals):
    """A whole sweep's arrays: the final :class:`SweepState` plus per-edge outputs."""

    def __init__(self, state: SweepState, chunk: ChunkResult) -> None:
        self.balance = state.balance
        self.taint = state.taint
        self.inflow = state.inflow
        self.hops = state.hops
        self.first_ts = state.first_ts
        self.stats = state.stats
        self.max_lots = state.longest_queue
        self.edge_taint = chunk.edge_taint
        self.edge_hop = chunk.edge_hop
        self.bal_before = chunk.bal_before
        self.taint_before = chunk.taint_before


def propagate(
    src: np.ndarray,
    dst: np.ndarray,
    amount: np.ndarray,
    ts: np.ndarray,
    seed: np.ndarray,
    role: np.ndarray,
    *,
    model: str = "haircut",
    min_amount: float = 0.0,
    max_hops: int | None = None,
    tx_id: np.ndarray | None = None,
    record: bool = False,
    max_lots: int = DEFAULT_MAX_LOTS,
) -> TaintResult:
    """Propagate taint from seed edges over time-ordered transfers under ``model``.

    Parameters
    ----------
    src, dst:
        int32[E] node ids, edges in chain order.
    amount:
        float64[E] token units, finite and >= 0.
    ts:
        int64[E] timestamps (µs), non-decreasing (reported as first arrival times).
    seed:
        bool[E], the traced outflows (edges out of ``SOURCE`` nodes that start taint).
    role:
        int8[N]: ``NORMAL``, ``SOURCE``, ``SINK`` or ``THROUGH`` per node.
    model:
        one of :data:`MODELS`.
    min_amount:
        dust threshold in token units: smaller taint stops where it is.
    max_hops:
        taint stops after this many hops from a source (``None``: unbounded).
    tx_id:
        int64[E] transaction number per edge; needed by ``tiho`` only.
    record:
        keep each edge's sender balance and taint before it (for the audit ledger).
    max_lots:
        FIFO/LIFO only: lots kept per address before two are merged (see :func:`.lots._lots_push`).
    """
    state = SweepState(role, model=model, min_amount=min_amount, max_hops=max_hops,
                       max_lots=max_lots)  # fmt: skip
    chunk = sweep_chunk(state, src, dst, amount, ts, seed, tx_id=tx_id, record=record)
    return TaintResult(state, chunk)
