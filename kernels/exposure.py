"""Exposure of many addresses to many label categories in one time-ordered sweep.

Instead of one trace per labelled address (or per category), every address carries a vector of
tainted amounts, one slot per category: ``T[v, c]`` is how much of ``v``'s balance came, directly
or through unlabelled wallets, from addresses labelled ``c``. One pass over the edges in chain
order updates those vectors; receipts of the *target* addresses (the report's rows) are summed
as they happen. State is O(addresses × categories); work is O(edges × categories).

Node kinds (``kind[node]``, with ``cat[node]`` its category index or -1):

* ``PLAIN`` (0) — unlabelled, or labelled with a category outside the report: taint moves on
  under the model.
* ``ORIGIN`` (1) — labelled with category ``c``: its outflows inside the window carry ``c`` in
  full (direct exposure of the receiver, hop 1). It absorbs what arrives: a service's payouts
  are attributed to the service, not to whatever it received (the convention of commercial
  exposure scores, and of ``tracer follow``, where labelled services are sinks).
* ``PASS`` (2) — a pass-through service of category ``c`` (OTC desk, swap, bridge): taint it
  received moves on under the model, exactly as through an unlabelled wallet, and the rest of
  each outflow (what the model does not attribute to earlier categories) counts as ``c``,
  direct. So an OTC desk does not launder a scam's share away, and its own customers' money is
  still seen as OTC money.

Models (``model``): for a sender with balance ``b`` and taint vector ``T`` moving ``x``:

* haircut: ``x · T[c] / b`` per category. Linear, so every category propagates independently
  and the result equals a separate ``follow`` per category (tests check this).
* poison: ``x`` for every category with ``T[c] > 0``; never decremented; a pass-through
  service's outflows are wholly its own category too. Upper bounds on haircut, category by
  category, which overlap: shares do not sum to 1 under poison.
* taint-first / clean-first: the tainted pool ``ΣT`` is spent first (last); the tainted part of
  the transfer is split over categories pro rata. With one category these are the single-trace
  rules of :mod:`kernels.taint`.

Prior funds, dust and hop limit follow :mod:`kernels.taint`: a shortfall ``x > b`` is clean
prior funds (counted), a category share below ``min_amount`` or past ``max_hops`` stops and the
receiver sees it as unattributed (counted per category in ``stats``).

Window: only edges with ``lo <= ts <= hi`` are seeds (origin outflows) and only they are counted
in the targets' flow and exposure; every edge still moves balances and taint, so ratios are
right at the window's start and taint that arrived inside the window keeps moving after it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

PLAIN, ORIGIN, PASS = 0, 1, 2

HAIRCUT, POISON, TAINT_FIRST, CLEAN_FIRST = 0, 1, 2, 3
EXPOSURE_MODELS = {
    "haircut": HAIRCUT,
    "poison": POISON,
    "taint-first": TAINT_FIRST,
    "clean-first": CLEAN_FIRST,
}
#: Columns of ``stats[c, :]``: what origins and pass-through services paid out as their own
#: category (seeded); what stopped as dust or at the hop limit; what arrived anywhere at hop 1
#: (direct) or later (indirect); and what of it arrived at a labelled origin (absorbed there).
#: With ``held`` (taint left in wallets at the end), conserving models close per category:
#: ``seeded = held + absorbed + dust + beyond``; ``beyond`` is what wallets at the hop limit
#: passed on, after it was counted where it arrived (so ``--max-hops 1`` keeps direct complete).
SEEDED, DUST, BEYOND, DIRECT, INDIRECT, ABSORBED = 0, 1, 2, 3, 4, 5
N_STATS = 6
#: Indices into ``totals``.
OVERDRAFTS, OVERDRAFT_AMOUNT = 0, 1


class ExposureState:
    """Everything the sweep keeps between chunks (so edges can stream in pieces).

    ``targets`` maps node id → report row (-1: not reported); per-row arrays are only as long as
    the report, per-node arrays as long as the graph.
    """

    def __init__(self, n_nodes: int, n_cat: int, target_row: np.ndarray) -> None:
        n_rows = int(target_row.max()) + 1 if target_row.size else 0
        self.n_cat = n_cat
        self.target_row = np.ascontiguousarray(target_row, dtype=np.int32)
        self.balance = np.zeros(n_nodes, dtype=np.float64)
        self.taint = np.zeros((n_nodes, max(n_cat, 1)), dtype=np.float64)
        self.hops = np.full((n_nodes, max(n_cat, 1)), -1, dtype=np.int32)
        self.direct = np.zeros((n_rows, max(n_cat, 1)), dtype=np.float64)
        self.indirect = np.zeros((n_rows, max(n_cat, 1)), dtype=np.float64)
        self.min_hops = np.full((n_rows, max(n_cat, 1)), -1, dtype=np.int32)
        self.flow = np.zeros(n_rows, dtype=np.float64)
        self.touched = np.zeros(n_rows, dtype=np.float64)  # flow on which any category arrived
        self.stats = np.zeros((max(n_cat, 1), N_STATS), dtype=np.float64)
        self.totals = np.zeros(2, dtype=np.float64)

    @property
    def nbytes(self) -> int:
        return sum(
            a.nbytes
            for a in (self.balance, self.taint, self.hops, self.direct, self.indirect,
                      self.min_hops, self.flow, self.touched, self.target_row)
        )  # fmt: skip


@njit(cache=True)
def _exposure_kernel(
    src, dst, amount, ts, kind, cat, model, min_amount, max_hops, lo, hi,
    target_row, balance, taint, hops, direct, indirect, min_hops, flow, touched, stats, totals,
    carry,
):  # fmt: skip
    """One pass over a chunk of edges in chain order; state arrays are updated in place."""
    n_cat = taint.shape[1]
    # continued from ``totals`` so any chunking sums in the same order (see kernels.taint)
    n_over = totals[OVERDRAFTS]
    over = totals[OVERDRAFT_AMOUNT]
    for e in range(src.shape[0]):
        u = src[e]
        v = dst[e]
        x = amount[e]
        ku = kind[u]
        cu = cat[u]
        b = balance[u]
        inside = ts[e] >= lo and ts[e] <= hi
        if x > b:
            if ku != ORIGIN:
                n_over += 1.0
                over += x - b
            b = x
        # what this transfer carries, per category (carry[c]) and as the sender's own (resid)
        any_carry = False
        resid = 0.0
        if ku == ORIGIN:
            if inside:
                resid = x
                any_carry = x > 0.0
        else:
            pool = 0.0
            for c in range(n_cat):
                pool += taint[u, c]
            if pool > 0.0:
                part = 0.0  # taint-first / clean-first: the tainted part of x
                if model == TAINT_FIRST:
                    part = x if x < pool else pool
                elif model == CLEAN_FIRST:
                    part = x - (b - pool)
                    if part < 0.0:
                        part = 0.0
                for c in range(n_cat):
                    t = taint[u, c]
                    k = 0.0
                    if t > 0.0:
                        if model == HAIRCUT:
                            k = x * t / b if b > 0.0 else 0.0
                        elif model == POISON:
                            k = x
                        elif part >= pool * (1.0 - 1e-12):
                            # the whole pool leaves: take every category whole, so a rounding
                            # residue of the pro-rata split is not left behind as "taint"
                            k = t
                        else:
                            k = part * t / pool
                        if k > t and model != POISON:
                            k = t
                        any_carry = True
                        taint[u, c] = t - k if model != POISON else t
                    carry[c] = k
            else:
                for c in range(n_cat):
                    carry[c] = 0.0
            if ku == PASS and inside:
                s = 0.0
                for c in range(n_cat):
                    s += carry[c]
                # poison: every outflow of a service of category c is wholly c
                resid = x if model == POISON else x - s
                if resid <= x * 1e-12:  # float rounding of x - Σ shares, not the service's money
                    resid = 0.0
                if resid > 0.0:
                    any_carry = True
        balance[u] = b - x
        balance[v] += x
        row = target_row[v]
        counted = inside and row >= 0
        if counted:
            flow[row] += x
        if not any_carry:
            continue
        kv = kind[v]
        arrived = False
        for c in range(n_cat):
            own = c == cu and resid > 0.0
            k = 0.0
            if ku != ORIGIN:
                k = carry[c]
            if k <= 0.0 and not own:
                continue
            # indirect part (taint the sender passed on) and direct part (its own category)
            if k > 0.0:
                h = hops[u, c] + 1
                if k < min_amount:
                    stats[c, DUST] += k
                elif h > max_hops:
                    stats[c, BEYOND] += k
                else:
                    arrived = True
                    stats[c, INDIRECT] += k
                    if kv != ORIGIN:
                        taint[v, c] += k
                    else:
                        stats[c, ABSORBED] += k
                    if hops[v, c] < 0 or h < hops[v, c]:
                        hops[v, c] = h
                    if counted:
                        if h == 1:
                            direct[row, c] += k
                        else:
                            indirect[row, c] += k
                        if min_hops[row, c] < 0 or h < min_hops[row, c]:
                            min_hops[row, c] = h
            if own:
                stats[c, SEEDED] += resid
                if resid < min_amount:
                    stats[c, DUST] += resid
                elif max_hops < 1:
                    stats[c, BEYOND] += resid
                else:
                    arrived = True
                    stats[c, DIRECT] += resid
                    if kv != ORIGIN:
                        taint[v, c] += resid
                    else:
                        stats[c, ABSORBED] += resid
                    hops[v, c] = 1
                    if counted:
                        direct[row, c] += resid
                        min_hops[row, c] = 1
        if arrived and counted:
            touched[row] += x
    totals[OVERDRAFTS] = n_over
    totals[OVERDRAFT_AMOUNT] = over


def exposure_sweep(
    state: ExposureState,
    src: np.ndarray,
    dst: np.ndarray,
    amount: np.ndarray,
    ts: np.ndarray,
    kind: np.ndarray,
    cat: np.ndarray,
    *,
    model: str = "haircut",
    min_amount: float = 0.0,
    max_hops: int | None = None,
    lo: int | None = None,
    hi: int | None = None,
) -> None:
    """Advance ``state`` over one chunk of edges (chain order; call again for the next chunk).

    ``kind``/``cat``: int8/int32 per node (see the module docstring); ``cat`` values index the
    state's category axis. ``lo``/``hi``: the window in the units of ``ts`` (inclusive).
    """
    if model not in EXPOSURE_MODELS:
        raise ValueError(
            f"unknown exposure model {model!r}; choose from {', '.join(EXPOSURE_MODELS)}"
        )
    src = np.ascontiguousarray(src, dtype=np.int32)
    dst = np.ascontiguousarray(dst, dtype=np.int32)
    amount = np.ascontiguousarray(amount, dtype=np.float64)
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    kind = np.ascontiguousarray(kind, dtype=np.int8)
    cat = np.ascontiguousarray(cat, dtype=np.int32)
    n = src.shape[0]
    if not (dst.shape[0] == amount.shape[0] == ts.shape[0] == n):
        raise ValueError("src, dst, amount and ts must have the same length")
    n_nodes = state.balance.shape[0]
    if kind.shape[0] != n_nodes or cat.shape[0] != n_nodes or state.target_row.shape[0] != n_nodes:
        raise ValueError("kind, cat and target_row must have one entry per node")
    if n and (
        max(int(src.max()), int(dst.max())) >= n_nodes or min(int(src.min()), int(dst.min())) < 0
    ):
        raise ValueError("node id out of range")
    if n and not np.all(np.isfinite(amount) & (amount >= 0.0)):
        raise ValueError("amounts must be finite and non-negative")
    if n_nodes and int(cat.max(initial=-1)) >= state.n_cat:
        raise ValueError("category index out of range of the state")
    i64 = np.iinfo(np.int64)
    _exposure_kernel(
        src, dst, amount, ts, kind, cat, EXPOSURE_MODELS[model], float(min_amount),
        np.iinfo(np.int32).max - 1 if max_hops is None else int(max_hops),
        i64.min if lo is None else int(lo), i64.max if hi is None else int(hi),
        state.target_row, state.balance, state.taint, state.hops, state.direct, state.indirect,
        state.min_hops, state.flow, state.touched, state.stats, state.totals,
        np.zeros(state.taint.shape[1], dtype=np.float64),
    )  # fmt: skip
