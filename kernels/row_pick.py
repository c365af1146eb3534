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

import numpy as np

from ._jit import njit
from .prefetch import AHEAD, prefetch

#: the lists :func:`pick_written` returns, in this order
LISTS = ("sinks", "through", "held", "frontier", "sources")


@njit(cache=True, nogil=True)
def _pick_kernel(ids, mark, role, inflow, taint, beyond, lab_bits, sink, source):  # type: ignore[no-untyped-def]  # fmt: skip
    n = ids.shape[0]
    out = np.empty((5, n), dtype=np.int32)  # sinks, through, held, frontier, sources
    amt = np.empty((5, n), dtype=np.float64)  # inflow, inflow, taint, beyond, inflow
    c = np.zeros(5, dtype=np.int64)
    n_bits = lab_bits.shape[0] * 64
    has_beyond = beyond.shape[0] > 0
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
        v = ids[i]
        if mark[v] != 0:
            continue
        mark[v] = 1
        r = role[v]
        x = inflow[v]
        if r == sink:
            if x > 0.0:
                out[0, c[0]] = v
                amt[0, c[0]] = x
                c[0] += 1
        elif r == source:
            out[4, c[4]] = v
            amt[4, c[4]] = x
            c[4] += 1
        else:
            if x > 0.0 and v < n_bits and (lab_bits[v >> 6] >> np.uint64(v & 63)) & np.uint64(1):
                out[1, c[1]] = v
                amt[1, c[1]] = x
                c[1] += 1
            t = taint[v]
            if t > 0.0:
                out[2, c[2]] = v
                amt[2, c[2]] = t
                c[2] += 1
        if has_beyond:
            b = beyond[v]
            if b > 0.0:
                out[3, c[3]] = v
                amt[3, c[3]] = b
                c[3] += 1
    for i in range(n):
        mark[ids[i]] = 0
    return out, amt, c


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
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Of the distinct ``ids`` (non-negative, below ``mark``'s length; any order, repeats
    skipped), in the order first met, each list of :data:`LISTS` as (int32 ids, float64
    figures): the sinks with ``inflow > 0`` (their inflow); the labelled (a set bit of
    ``lab_bits``) non-sink non-source ids with ``inflow > 0`` (inflow); the non-sink non-source
    ids with ``taint > 0`` (taint); those with ``beyond > 0`` (beyond; none when ``beyond`` is
    empty); the sources, ``role == source`` (inflow). ``mark``: uint8 per address, all zero
    (lazily paged memory is fine), left all zero."""
    out, amt, c = _pick_kernel(np.ascontiguousarray(ids), mark, role, inflow, taint, beyond,
                               np.ascontiguousarray(lab_bits, dtype=np.uint64), np.int8(sink),
                               np.int8(source))  # fmt: skip
    return [(out[i, : c[i]], amt[i, : c[i]]) for i in range(5)]


def label_bits(ids: np.ndarray) -> np.ndarray:
    """A bit per address up to the largest of ``ids`` (non-negative), set at ``ids``: the
    labelled test of :func:`pick_written` (uint64 words)."""
    ids = np.asarray(ids, dtype=np.int64)
    bits = np.zeros(int(ids.max()) // 64 + 1 if ids.size else 0, dtype=np.uint64)
    if ids.size:
        np.bitwise_or.at(bits, ids >> 6, np.left_shift(np.uint64(1), (ids & 63).astype(np.uint64)))
    return bits
