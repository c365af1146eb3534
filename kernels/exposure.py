"""Exposure of many addresses to many label categories in one time-ordered sweep.

Instead of one trace per labelled address (or per category), every address carries a vector of
tainted amounts, one slot per category: ``T[v, c]`` is how much of ``v``'s balance came, directly
or through unlabelled wallets, from addresses labelled ``c``. One pass over the edges in chain
order updates those vectors; receipts of the *target* addresses (the report's rows) are summed
as they happen. State is O(addresses × categories); work is O(edges × categories).

Roles (``role[node]``, the codes of :mod:`.rules`, with ``cat[node]`` its category index or -1):

* ``NORMAL`` (0) — unlabelled, or labelled with a category outside the report: taint moves on
  under the model.
* ``SOURCE`` (1) — a labelled origin of category ``c``: its outflows inside the window carry
  ``c`` in full (direct exposure of the receiver, hop 1). It absorbs what arrives: a service's
  payouts are attributed to the service, not to whatever it received (the convention of
  commercial exposure scores, and of ``tracer follow``, where labelled services are sinks).
* ``THROUGH`` (3) — a pass-through service of category ``c`` (OTC desk, swap, bridge): taint it
  received moves on under the model, exactly as through an unlabelled wallet, and the rest of
  each outflow (what the model does not attribute to earlier categories) counts as ``c``,
  direct. So an OTC desk does not launder a scam's share away, and its own customers' money is
  still seen as OTC money.

``SINK`` has no meaning here (every labelled origin absorbs) and is refused.

Models (``model``, the codes of :mod:`.rules`, each through its one rule function there): for a
sender with balance ``b`` and taint vector ``T`` moving ``x``:

* haircut: :func:`.rules.haircut_rule` per category, ``x · T[c] / b``. Linear, so every
  category propagates independently and the result equals a separate ``follow`` per category
  (tests check this).
* poison: :func:`.rules.poison_rule` per category, ``x`` for every category with ``T[c] > 0``;
  never decremented; a pass-through service's outflows are wholly its own category too. Upper
  bounds on haircut, category by category, which overlap: shares do not sum to 1 under poison.
* taint-first / clean-first: the rule applied to the tainted pool ``ΣT`` gives the tainted part
  of the transfer, split over categories pro rata. With one category these are the
  single-trace rules of :mod:`kernels.taint`.

Prior funds, dust and hop limit follow :mod:`kernels.taint`: a shortfall ``x > b`` is clean
prior funds (counted), a category share below ``min_amount`` or past ``max_hops`` stops and the
receiver sees it as unattributed (counted per category in ``stats``).

Window: only edges with ``lo <= ts <= hi`` are seeds (origin outflows) and only they are counted
in the targets' flow and exposure; every edge still moves balances and taint, so ratios are
right at the window's start and taint that arrived inside the window keeps moving after it.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit
from .bundles import ExposureArrays, ExposureOut, ExposureParams, Transfers
from .prefetch import AHEAD, prefetch
from .rules import (
    ABSORBED,
    BEYOND,
    DIRECT,
    DUST,
    HAIRCUT,
    INDIRECT,
    MODELS,
    N_CAT_STATS,
    N_STATS,
    NORMAL,
    OVERDRAFT_AMOUNT,
    OVERDRAFTS,
    POISON,
    SEEDED,
    SINK,
    SOURCE,
    THROUGH,
    model_rule,
    prior_funds,
)

#: Distance of the second prefetch (rows read only once the sender's taint is known).
HALF = AHEAD // 2

# Re-exported: the report names the per-category columns through this module.
__all__ = [
    "ABSORBED",
    "BEYOND",
    "DIRECT",
    "DUST",
    "EXPOSURE_MODELS",
    "INDIRECT",
    "NORMAL",
    "N_CAT_STATS",
    "OVERDRAFTS",
    "OVERDRAFT_AMOUNT",
    "SEEDED",
    "SOURCE",
    "THROUGH",
    "ExposureState",
    "exposure_sweep",
]  # fmt: skip

#: The models exposure supports (a subset of :data:`.rules.MODELS`, the same codes).
EXPOSURE_MODELS = {name: MODELS[name] for name in ("haircut", "poison", "taint-first",
                                                   "clean-first")}  # fmt: skip
# ``stats[c, :]`` columns (:mod:`.rules`): what origins and pass-through services paid out as
# their own category (SEEDED); what stopped as dust or at the hop limit; what arrived anywhere
# at hop 1 (DIRECT) or later (INDIRECT); and what of it arrived at a labelled origin (ABSORBED).
# With ``held`` (taint left in wallets at the end), conserving models close per category:
# ``seeded = held + absorbed + dust + beyond``; ``beyond`` is what wallets at the hop limit
# passed on, after it was counted where it arrived (so ``--max-hops 1`` keeps direct complete).
# ``run_stats[OVERDRAFTS]``, ``run_stats[OVERDRAFT_AMOUNT]``: the unknown prior funds.


#: Cache line size: per-address rows start on a line (see :func:`_lines`).
LINE = 64


def _lines(shape: tuple[int, int], dtype: type, fill: int) -> np.ndarray:
    """A C-order array filled with ``fill`` whose first byte starts a cache line.

    Why: a large numpy array comes from ``mmap`` 16 bytes past a page start, so with 8
    categories every 64-byte taint row straddled two cache lines: two misses per wallet
    visited instead of one. Aligned, a row of 8 float64 (or 16 int32) is one line."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buf = np.empty(size + LINE, dtype=np.uint8)
    start = -buf.ctypes.data % LINE
    out = buf[start : start + size].view(dtype).reshape(shape)
    out.fill(fill)
    return out


class ExposureState:
    """Everything the sweep keeps between chunks (so edges can stream in pieces).

    ``targets`` maps node id → report row (-1: not reported); per-row arrays are only as long as
    the report, per-node arrays as long as the graph.
    """

    def __init__(self, n_nodes: int, n_cat: int, target_row: np.ndarray) -> None:
        n_rows = int(target_row.max()) + 1 if target_row.size else 0
        k = max(n_cat, 1)
        self.n_cat = n_cat
        self.target_row = np.ascontiguousarray(target_row, dtype=np.int32)
        self.balance = np.zeros(n_nodes, dtype=np.float64)
        self.taint = _lines((n_nodes, k), np.float64, 0)
        self.hops = _lines((n_nodes, k), np.int32, -1)
        self.direct = _lines((n_rows, k), np.float64, 0)
        self.indirect = _lines((n_rows, k), np.float64, 0)
        self.min_hops = _lines((n_rows, k), np.int32, -1)
        self.flow = np.zeros(n_rows, dtype=np.float64)
        self.touched = np.zeros(n_rows, dtype=np.float64)  # flow on which any category arrived
        self.stats = np.zeros((k, N_CAT_STATS), dtype=np.float64)
        self.run_stats = np.zeros(N_STATS, dtype=np.float64)
        self.out = ExposureOut(self.target_row, self.direct, self.indirect, self.min_hops,
                               self.flow, self.touched, self.stats, self.run_stats)  # fmt: skip

    @property
    def nbytes(self) -> int:
        return sum(
            a.nbytes
            for a in (self.balance, self.taint, self.hops, self.direct, self.indirect,
                      self.min_hops, self.flow, self.touched, self.target_row)
        )  # fmt: skip


@njit(cache=True, nogil=True)
def _exposure_kernel(tr, p, a, out, backward):
    """One pass over a chunk of edges in chain order; state arrays are updated in place.

    Runs without the GIL, so the two directions of a report sweep on two threads at once.
    ``backward``: walk the chunk from its last edge to its first (the time-reversed graph is
    the forward arrays walked backwards: no reversed copy of them).

    ``tr`` :class:`.Transfers`, ``p`` :class:`.ExposureParams`, ``a`` :class:`.ExposureArrays`,
    ``out`` :class:`.ExposureOut`; unpacked once, here (a field read inside the loop would be
    a new reference per read: see :mod:`.taint`'s note).
    """
    src, dst, amount, ts = tr
    model, min_amount, max_hops, lo, hi = p
    role, cat, balance, taint, hops = a
    target_row, direct, indirect, min_hops, flow, touched, stats, run_stats = out
    per_category = model == HAIRCUT or model == POISON  # linear: the rule per category
    n_cat = taint.shape[1]
    carry = np.zeros(n_cat, dtype=np.float64)  # what this transfer carries, per category
    # continued from ``run_stats`` so any chunking sums in the same order (see kernels.taint)
    n_over = run_stats[OVERDRAFTS]
    over = run_stats[OVERDRAFT_AMOUNT]
    n_e = src.shape[0]
    step = -1 if backward else 1
    first = n_e - 1 if backward else 0
    for i in range(n_e):
        e = first + step * i
        # software prefetch of later edges' per-address rows (hints: results unchanged; see
        # :mod:`.prefetch`): the state of 1.7M addresses x 9 categories is far past the caches
        f = e + step * AHEAD
        if 0 <= f < n_e:
            prefetch(balance, src[f])
            prefetch(balance, dst[f])
            prefetch(taint, src[f])
            prefetch(role, src[f])
            prefetch(target_row, dst[f])
        f = e + step * HALF
        if 0 <= f < n_e:
            w = dst[f]
            prefetch(taint, w)
            prefetch(hops, src[f])
            prefetch(hops, w)
            prefetch(role, w)
        u = src[e]
        v = dst[e]
        x = amount[e]
        ru = role[u]
        cu = cat[u]
        inside = ts[e] >= lo and ts[e] <= hi
        b, n_over, over = prior_funds(balance[u], x, ru, n_over, over)
        # what this transfer carries, per category (carry[c]) and as the sender's own (resid)
        any_carry = False
        resid = 0.0
        if ru == SOURCE:
            if inside:
                resid = x
                any_carry = x > 0.0
        else:
            pool = 0.0
            for c in range(n_cat):
                pool += taint[u, c]
            if pool > 0.0:
                part = 0.0  # taint-first / clean-first: the tainted part of x
                whole = False
                if not per_category:
                    part = model_rule(model, x, b, pool)
                    # the whole pool leaves: take every category whole, so a rounding residue
                    # of the pro-rata split is not left behind as "taint"
                    whole = part >= pool * (1.0 - 1e-12)
                for c in range(n_cat):
                    t = taint[u, c]
                    k = 0.0
                    if t > 0.0:
                        if per_category:
                            k = model_rule(model, x, b, t)
                        elif whole:
                            k = t
                        else:
                            k = part * t / pool
                        if model != POISON:
                            if k > t:
                                k = t
                            taint[u, c] = t - k
                        any_carry = True
                    carry[c] = k
            else:
                for c in range(n_cat):
                    carry[c] = 0.0
            if ru == THROUGH and inside:
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
        absorbs = role[v] == SOURCE
        arrived = False
        for c in range(n_cat):
            own = c == cu and resid > 0.0
            k = 0.0
            if ru != SOURCE:
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
                    if absorbs:
                        stats[c, ABSORBED] += k
                    else:
                        taint[v, c] += k
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
                    if absorbs:
                        stats[c, ABSORBED] += resid
                    else:
                        taint[v, c] += resid
                    hops[v, c] = 1
                    if counted:
                        direct[row, c] += resid
                        min_hops[row, c] = 1
        if arrived and counted:
            touched[row] += x
    run_stats[OVERDRAFTS] = n_over
    run_stats[OVERDRAFT_AMOUNT] = over


def exposure_sweep(
    state: ExposureState,
    src: np.ndarray,
    dst: np.ndarray,
    amount: np.ndarray,
    ts: np.ndarray,
    role: np.ndarray,
    cat: np.ndarray,
    *,
    model: str = "haircut",
    min_amount: float = 0.0,
    max_hops: int | None = None,
    lo: int | None = None,
    hi: int | None = None,
    backward: bool = False,
) -> None:
    """Advance ``state`` over one chunk of edges (chain order; call again for the next chunk).

    ``role``/``cat``: int8/int32 per node (``NORMAL``, ``SOURCE`` or ``THROUGH``, see the module
    docstring); ``cat`` values index the state's category axis. ``lo``/``hi``: the window in the
    units of ``ts`` (inclusive). ``backward``: the chunk's edges are taken last to first (the
    same as passing the arrays reversed, bit for bit, without copying them).
    """
    if model not in EXPOSURE_MODELS:
        raise ValueError(
            f"unknown exposure model {model!r}; choose from {', '.join(EXPOSURE_MODELS)}"
        )
    src = np.ascontiguousarray(src, dtype=np.int32)
    dst = np.ascontiguousarray(dst, dtype=np.int32)
    amount = np.ascontiguousarray(amount, dtype=np.float64)
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    role = np.ascontiguousarray(role, dtype=np.int8)
    cat = np.ascontiguousarray(cat, dtype=np.int32)
    n = src.shape[0]
    if not (dst.shape[0] == amount.shape[0] == ts.shape[0] == n):
        raise ValueError("src, dst, amount and ts must have the same length")
    n_nodes = state.balance.shape[0]
    if role.shape[0] != n_nodes or cat.shape[0] != n_nodes or state.target_row.shape[0] != n_nodes:
        raise ValueError("role, cat and target_row must have one entry per node")
    codes = np.bincount(role.view(np.uint8), minlength=256)  # one pass; negative codes >= 128
    if codes[SINK] or codes[THROUGH + 1 :].any():
        raise ValueError("exposure roles are NORMAL, SOURCE (a labelled origin) or THROUGH")
    if n and (
        max(int(src.max()), int(dst.max())) >= n_nodes or min(int(src.min()), int(dst.min())) < 0
    ):
        raise ValueError("node id out of range")
    if n and not np.all(np.isfinite(amount) & (amount >= 0.0)):
        raise ValueError("amounts must be finite and non-negative")
    if n_nodes and int(cat.max(initial=-1)) >= state.n_cat:
        raise ValueError("category index out of range of the state")
    i64 = np.iinfo(np.int64)
    params = ExposureParams(
        EXPOSURE_MODELS[model], float(min_amount),
        np.iinfo(np.int32).max - 1 if max_hops is None else int(max_hops),
        i64.min if lo is None else int(lo), i64.max if hi is None else int(hi),
    )  # fmt: skip
    arrays = ExposureArrays(role, cat, state.balance, state.taint, state.hops)
    _exposure_kernel(Transfers(src, dst, amount, ts), params, arrays, state.out, bool(backward))
