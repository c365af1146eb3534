"""Per-address state for the local engine, allocated once and reset only where a run wrote.

A :class:`~tracer.kernels.taint.SweepState` is dense: balance, taint, inflow, hops, first
arrival (and, with a hop limit, what each wallet passed on beyond it) for every address. The
full sweep needs that, but a local run writes only its sources' and tainted receivers' entries
(:mod:`tracer.kernels.local`), a few thousand of them. Allocating and initialising the dense
arrays anew for every question cost ~10 ms of a ~20 ms case follow on 2M addresses (72 MB
written, the ``-1`` fills and glibc's memset of reused memory) and would cost ~1.4 GB written
per question on 40M addresses.

So :func:`take_state` keeps one set of dense buffers per shape (addresses, lots or not, hop
limit or not) and hands them out as a ``SweepState``; the run records which entries it wrote
(:attr:`Slot.dirty`) and the next :func:`take_state` resets exactly those to their initial
values. O(touched) per question after the first. A buffer set is lent to one state at a time:
while a previous state is still alive (its caller still holds it), the next call gets buffers of
its own (lazily paged, dropped with it), so a kept result is never overwritten.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tracer.core.sparse_zeros import sparse_zeros
from tracer.kernels.bundles import SweepArrays
from tracer.kernels.row_pick import clear_rows
from tracer.kernels.rules import FIFO, LIFO, N_STATS
from tracer.kernels.taint import DEFAULT_MAX_LOTS, MODELS, SweepState

_Z64 = np.zeros(0, dtype=np.int64)
#: buffer sets kept (one per shape; the most recent few): bounds what a session holds
KEEP = 2


@dataclass
class Slot:
    """One set of dense buffers and what the last run wrote into it."""

    bt: np.ndarray
    inflow: np.ndarray
    hops: np.ndarray
    first_ts: np.ndarray
    beyond_from: np.ndarray
    lots: tuple[np.ndarray, ...] = ()  # start, head, tail, cap
    lot_amt: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lot_tnt: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: node ids the last run wrote (sources and tainted receivers), reset on the next take;
    #: None while a run is under way or ended without saying (then everything is reset)
    dirty: np.ndarray | None = field(default_factory=lambda: _Z64)
    pool_end: int = 0
    lent: weakref.ref[SweepState] | None = None

    def reset(self) -> None:
        """Every entry back to a fresh SweepState's value (only those the last run wrote)."""
        d = self.dirty
        if d is None:
            self.bt[:] = 0.0
            self.inflow[:] = 0.0
            self.hops[:] = -1
            self.first_ts[:] = -1
            self.beyond_from[:] = 0.0
            for arr in self.lots:
                arr[:] = 0
            self.lot_amt[:] = 0.0
            self.lot_tnt[:] = 0.0
        elif d.size:
            clear_rows(d, self.bt, self.inflow, self.hops, self.first_ts, self.beyond_from)
            for arr in self.lots:
                arr[d] = 0
        if self.pool_end:
            self.lot_amt[: self.pool_end] = 0.0
            self.lot_tnt[: self.pool_end] = 0.0
        self.dirty, self.pool_end = _Z64, 0


#: ``n`` int64 -1s, writable (or None: not available)
Fill = Callable[[int], "np.ndarray | None"]
_SLOTS: dict[tuple[int, bool, bool], Slot] = {}


def _new_slot(n: int, lots: bool, beyond: bool, fill: Fill | None) -> Slot:
    """Dense buffers with :class:`SweepState`'s initial values. Zeros come from the system
    lazily (``np.zeros``); the ``-1`` arrays from ``fill`` (a copy-on-write map of stored
    ``-1``s, :meth:`~tracer.store.workspace.Workspace.minus_ones`) when it gives them, so a
    new process on 40M addresses pages in what its question touches instead of writing
    480 MB; else ``np.full``."""
    hops = first_ts = None
    if fill is not None:
        a, b = fill(n), fill(n)
        if a is not None and b is not None:
            hops, first_ts = a.view(np.int32)[:n], b
    if hops is None or first_ts is None:
        hops, first_ts = np.full(n, -1, dtype=np.int32), np.full(n, -1, dtype=np.int64)
    z = sparse_zeros  # written at the touched entries only: 4 KiB pages, not 2 MiB
    slot = Slot(z((n, 2), np.float64), z(n, np.float64), hops, first_ts,
                z(n if beyond else 0, np.float64))  # fmt: skip
    if lots:
        slot.lots = (z(n, np.int64), z(n, np.int32), z(n, np.int32), z(n, np.int32))
        pool = max(1024, n // 4)
        slot.lot_amt, slot.lot_tnt = np.zeros(pool), np.zeros(pool)
    return slot


def take_state(
    role: np.ndarray, *, model: str, min_amount: float, max_hops: int | None,
    fill: Fill | None = None,
) -> tuple[SweepState, Slot | None]:
    """A fresh-valued :class:`SweepState` for ``role`` (what ``SweepState(role, ...)`` gives)
    on reused buffers, and its slot (the caller records :attr:`Slot.dirty`). ``None`` slot:
    the buffers were still lent to a live state, so this one is newly allocated."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    role = np.ascontiguousarray(role, dtype=np.int8)
    n = role.shape[0]
    code = MODELS[model]
    lots = code in (FIFO, LIFO)
    key = (n, lots, max_hops is not None)
    slot = _SLOTS.get(key)
    if slot is not None and slot.lent is not None and slot.lent() is not None:
        # still held by a caller: new buffers for this state only (lazily paged zeros and
        # the copy-on-write fill when there is one: O(touched) too), dropped with it
        return _lend(_new_slot(n, lots, max_hops is not None, fill), role, model, code,
                     min_amount, max_hops), None  # fmt: skip
    if slot is None:
        while len(_SLOTS) >= KEEP:
            del _SLOTS[next(iter(_SLOTS))]
        slot = _SLOTS[key] = _new_slot(n, lots, max_hops is not None, fill)
    slot.reset()
    slot.dirty = None  # until the run says what it wrote
    return _lend(slot, role, model, code, min_amount, max_hops), slot


def give_back(state: SweepState) -> None:
    """The caller is done with ``state`` (it reads none of its arrays again): reset what its
    run wrote now, so the next question starts on clean buffers instead of paying for this
    one's reset (a question that spread to 80k addresses left 80k entries per array). A
    state not lent from a slot, or whose slot has been lent again, is left alone."""
    for slot in _SLOTS.values():
        if slot.lent is not None and slot.lent() is state:
            if slot.dirty is not None:
                slot.reset()
            slot.lent = None
            return


def released(state: SweepState) -> None:
    """:func:`give_back` for a caller that has reset the five per-address arrays at the entries
    the run wrote (:func:`written`) itself, in the pass that read them
    (:func:`tracer.analysis.follow_group.group_frames`): the rest is reset (the lots), and
    the buffers are free for the next question."""
    for slot in _SLOTS.values():
        if slot.lent is not None and slot.lent() is state:
            d = slot.dirty
            if d is not None:
                for arr in slot.lots:  # the lot queues' heads (the pool: by the reset)
                    arr[d] = 0
                slot.dirty = _Z64  # the five arrays are clean: nothing of them to reset
                slot.reset()
            slot.lent = None
            return


def written(state: SweepState) -> np.ndarray | None:
    """The entries ``state``'s run wrote (its slot's :attr:`Slot.dirty`: the sources and the
    tainted receivers, any order, repeats allowed), or None when the state is not lent from a
    slot or its run has not said: outside these every figure of the state is a fresh one's,
    so a follow picks its rows from them (:func:`tracer.analysis.follow_group.group_frames`)
    instead of deduplicating every tainted edge's receiver."""
    for slot in _SLOTS.values():
        if slot.lent is not None and slot.lent() is state:
            return slot.dirty
    return None


def _lend(slot: Slot, role: np.ndarray, model: str, code: int, min_amount: float,
          max_hops: int | None) -> SweepState:  # fmt: skip
    """A SweepState on ``slot``'s buffers (the attributes ``SweepState.__init__`` sets)."""
    s = SweepState.__new__(SweepState)
    s.colours = None
    s.role = role
    s.model, s.code = model, code
    s.min_amount = float(min_amount)
    s.hop_cap = np.iinfo(np.int32).max - 1 if max_hops is None else int(max_hops)
    s.bt = slot.bt
    s.balance, s.taint = s.bt[:, 0], s.bt[:, 1]
    s.inflow, s.hops, s.first_ts, s.beyond_from = (slot.inflow, slot.hops, slot.first_ts,
                                                   slot.beyond_from)  # fmt: skip
    s.stats = np.zeros(N_STATS, dtype=np.float64)
    s.arrays = SweepArrays(s.role, s.bt, s.inflow, s.hops, s.first_ts, s.beyond_from, s.stats)
    s.max_lots = DEFAULT_MAX_LOTS
    s.longest_queue = 0
    s.edges_seen = 0
    if code in (FIFO, LIFO):
        s.lot_start, s.lot_head, s.lot_tail, s.lot_cap = slot.lots
        s.lot_amt, s.lot_tnt = slot.lot_amt, slot.lot_tnt
        s.pool_end = 0
    slot.lent = weakref.ref(s)
    return s
