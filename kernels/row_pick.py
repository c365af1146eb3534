"""A local follow's row ids picked from the entries its run wrote, in one pass (no sort first).

After a local run only its sources and tainted receivers can hold a figure. The run says which
entries it wrote (the state's dirty list: the sources, then each receiver once under poison,
every tainted edge's receiver under the other models), so the rows are picked from those:

* :func:`pick_written`: one pass over the written ids (any order, repeats allowed: a byte mark
  per address skips a repeat, zero on entry and left zero) that sorts each into the frames' id
  lists with the figure its frame shows, read while the row is in cache, and the labelled test
  by a bit per address (:func:`label_bits`) instead of a binary search into the label ids.

What this replaces (:func:`tracer.kernels.follow_pick.touched_ids` then ``pick_rows``) first
sorted the distinct receivers of every tainted edge (a spread follow's 60-80k edges, by marks
and a scan of the id span: ~0.6 ms), then read each id's figures again. The lists come in the
written order here; the caller sorts the ones whose order shows (a sum's), the frames order
their rows by amount and address anyway (tests/analysis/test_row_pick.py checks the lists
against the numpy masks).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._jit import njit
from .prefetch import AHEAD, prefetch

#: the lists :func:`pick_written` returns, in this order
LISTS = ("sinks", "through", "held", "frontier", "sources")


@njit(cache=True, nogil=True)
def _pick_kernel(ids, mark, role, inflow, taint, beyond, lab_bits, sink, source, hops, first_ts,  # type: ignore[no-untyped-def]
                 bt, clear):  # fmt: skip
    n = ids.shape[0]
    out = np.empty((5, n), dtype=np.int32)  # sinks, through, held, frontier, sources
    amt = np.empty((5, n), dtype=np.float64)  # inflow, inflow, taint, beyond, inflow
    keep = hops.shape[0] > 0  # each row's hops and first arrival too
    m = n if keep else 0
    hop = np.empty((5, m), dtype=np.int32)
    first = np.empty((5, m), dtype=np.int64)
    c = np.zeros(5, dtype=np.int64)
    n_bits = lab_bits.shape[0] * 64
    has_beyond = beyond.shape[0] > 0
    # the appends are written out: through a helper (an @njit function, inlined or not) the
    # pass took 2.5-4x as long on a spread follow's written entries (measured: 0.36 -> 0.82
    # and 1.28 ms), the list counters no longer kept in registers
    for i in range(n):
        f = i + AHEAD  # each id reads its rows at random: ask for them early
        if f < n:
            w = ids[f]
            prefetch(mark, w)
            prefetch(role, w)
            prefetch(inflow, w)
            prefetch(taint, w)
            if has_beyond:
                prefetch(beyond, w)
            if keep:
                prefetch(hops, w)
                prefetch(first_ts, w)
        v = ids[i]
        if mark[v] != 0:
            continue
        mark[v] = 1
        r = role[v]
        x = inflow[v]
        b = beyond[v] if has_beyond else 0.0
        if r == sink:
            row = 0 if x > 0.0 else -1
            y = x
        elif r == source:
            row = 4
            y = x
        else:
            row = -1
            y = 0.0
            if x > 0.0 and v < n_bits and (lab_bits[v >> 6] >> np.uint64(v & 63)) & np.uint64(1):
                j = c[1]
                out[1, j] = v
                amt[1, j] = x
                if keep:
                    hop[1, j] = hops[v]
                    first[1, j] = first_ts[v]
                c[1] = j + 1
            t = taint[v]
            if t > 0.0:
                row = 2
                y = t
        if row >= 0:
            j = c[row]
            out[row, j] = v
            amt[row, j] = y
            if keep:
                hop[row, j] = hops[v]
                first[row, j] = first_ts[v]
            c[row] = j + 1
        if b > 0.0:
            j = c[3]
            out[3, j] = v
            amt[3, j] = b
            if keep:
                hop[3, j] = hops[v]
                first[3, j] = first_ts[v]
            c[3] = j + 1
        if clear:  # the reset :func:`clear_rows` does, fused here while the row is in cache
            fresh_row(v, bt, inflow, hops, first_ts, beyond, has_beyond)
    for i in range(n):
        mark[ids[i]] = 0
    return out, amt, hop, first, c


@njit(cache=True, inline="always")
def fresh_row(v, bt, inflow, hops, first_ts, beyond, has_beyond):  # type: ignore[no-untyped-def]
    """Row ``v`` of a local state back to a fresh one's values: balance and taint 0, inflow 0,
    hop and first arrival -1, beyond 0 when kept (``has_beyond``). One definition for both
    resets, :func:`clear_rows` and the fused one of :func:`pick_written`."""
    bt[v, 0] = 0.0
    bt[v, 1] = 0.0
    inflow[v] = 0.0
    hops[v] = -1
    first_ts[v] = -1
    if has_beyond:
        beyond[v] = 0.0


@njit(cache=True)
def clear_rows(rows, bt, inflow, hops, first_ts, beyond_from):  # type: ignore[no-untyped-def]
    """A fresh state's values at ``rows``: one pass over the rows a local run wrote, whatever
    its model (:meth:`tracer.analysis.local_state.Slot.reset`), instead of a fancy-indexed
    assignment per array (~4x the time on a spread follow's 23k receivers)."""
    has_beyond = beyond_from.shape[0] > 0
    for i in range(rows.shape[0]):
        fresh_row(rows[i], bt, inflow, hops, first_ts, beyond_from, has_beyond)


class Picked(NamedTuple):
    """One list of :func:`pick_written`: the ids and their figure; with ``hops``/``first_ts``
    given, each id's least hop and first arrival too (else empty)."""

    ids: np.ndarray  # int32
    amounts: np.ndarray  # float64
    hops: np.ndarray  # int32
    first_ts: np.ndarray  # int64


_NONE_I32 = np.zeros(0, dtype=np.int32)
_NONE_I64 = np.zeros(0, dtype=np.int64)
_NONE_BT = np.zeros((0, 2), dtype=np.float64)


def pick_written(
    ids: np.ndarray,
    mark: np.ndarray,
    role: np.ndarray,
    inflow: np.ndarray,
    taint: np.ndarray,
    beyond: np.ndarray,
    lab_bits: np.ndarray,
    sink: int,
    source: int,
    *,
    hops: np.ndarray | None = None,
    first_ts: np.ndarray | None = None,
    bt: np.ndarray | None = None,
) -> list[Picked]:
    """Of the distinct ``ids`` (non-negative, below ``mark``'s length; any order, repeats
    skipped), in the order first met, each list of :data:`LISTS`: the sinks with
    ``inflow > 0`` (their inflow); the labelled (a set bit of ``lab_bits``) non-sink
    non-source ids with ``inflow > 0`` (inflow); the non-sink non-source ids with ``taint > 0``
    (taint); those with ``beyond > 0`` (beyond; none when ``beyond`` is empty); the sources,
    ``role == source`` (inflow). ``mark``: uint8 per address, all zero (lazily paged memory is
    fine), left all zero.

    ``hops`` and ``first_ts`` (per address): each listed id's values of them too. ``bt`` (the
    state's balance and taint columns, ``taint`` its second): every distinct id's entries
    reset to a fresh state's values in the same pass (balance, taint, inflow and beyond 0,
    hops and first arrival -1), while its rows are in cache: what a reset of the entries a
    local run wrote does in a pass of its own (needs ``hops`` and ``first_ts``)."""
    keep = hops is not None and first_ts is not None
    if bt is not None and not keep:
        raise ValueError("resetting the entries needs hops and first_ts")
    out, amt, hop, first, c = _pick_kernel(
        np.ascontiguousarray(ids), mark, role, inflow, taint, beyond,
        np.ascontiguousarray(lab_bits, dtype=np.uint64), np.int8(sink), np.int8(source),
        hops if keep else _NONE_I32, first_ts if keep else _NONE_I64,
        _NONE_BT if bt is None else bt, bt is not None,
    )  # fmt: skip
    return [Picked(out[i, : c[i]], amt[i, : c[i]], hop[i, : c[i]] if keep else _NONE_I32,
                   first[i, : c[i]] if keep else _NONE_I64) for i in range(5)]  # fmt: skip


def label_bits(ids: np.ndarray) -> np.ndarray:
    """A bit per address up to the largest of ``ids`` (non-negative), set at ``ids``: the
    labelled test of :func:`pick_written` (uint64 words)."""
    ids = np.asarray(ids, dtype=np.int64)
    bits = np.zeros(int(ids.max()) // 64 + 1 if ids.size else 0, dtype=np.uint64)
    if ids.size:
        np.bitwise_or.at(bits, ids >> 6, np.left_shift(np.uint64(1), (ids & 63).astype(np.uint64)))
    return bits
