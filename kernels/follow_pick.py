"""A local follow's row ids from its touched addresses, in one pass each (no numpy temporaries).

After a local run (:mod:`tracer.analysis.local_follow`) only its tainted receivers and its
sources can hold a figure, so :func:`tracer.analysis.follow_group.group_frames` picks the reached,
through, held and frontier ids from those instead of every address. With numpy that was a sort
of every tainted edge's receiver (``np.unique`` of 80k ids on a spread follow: ~1.8 ms), then
about fifteen gathers and masks over the ~30k distinct ones (~1.2 ms). Here:

* :func:`touched_ids`: the distinct ids of some id arrays, ascending, by a reusable mark array
  (one byte per address, zero on entry and left zero): O(ids) marking, then the marked ids in
  order, either by scanning the marks between the smallest and largest id (when the ids are
  dense there, the usual case) or by sorting the distinct ones.
* :func:`pick_rows`: one pass over those ids that sorts each into the frames' id lists, in the
  same ascending order the masks gave.

Both are checked against the numpy forms they replace (tests/analysis/test_follow_pick.py).
"""

from __future__ import annotations

import numpy as np

from ._jit import njit

#: scan the marks (instead of sorting the distinct ids) while the id span is at most this many
#: times their count: a byte read per address of the span costs about what a sort step costs
SCAN_SPAN = 32


@njit(cache=True, nogil=True)
def _mark(part, mark, out, k, lo, hi):  # type: ignore[no-untyped-def]
    """Mark ``part``'s ids not marked yet, appending each to ``out`` (from ``k``)."""
    for i in range(part.shape[0]):
        v = np.int64(part[i])
        if mark[v] == 0:
            mark[v] = 1
            out[k] = v
            k += 1
            if v < lo:
                lo = v
            if v > hi:
                hi = v
    return k, lo, hi


@njit(cache=True, nogil=True)
def _touched_kernel(a, b, mark, scan_span):  # type: ignore[no-untyped-def]
    out = np.empty(a.shape[0] + b.shape[0], dtype=np.int64)
    k, lo, hi = _mark(a, mark, out, 0, np.int64(mark.shape[0]), np.int64(-1))
    k, lo, hi = _mark(b, mark, out, k, lo, hi)
    if k == 0:
        return out[:0]
    if hi - lo + 1 <= scan_span * k:  # dense: the marks in order are the sorted ids
        j = 0
        for v in range(lo, hi + 1):
            if mark[v] != 0:
                mark[v] = 0
                out[j] = v
                j += 1
        return out[:k]
    got = np.sort(out[:k])
    for i in range(k):
        mark[got[i]] = 0
    return got


def touched_ids(a: np.ndarray, b: np.ndarray, mark: np.ndarray) -> np.ndarray:
    """``np.unique(np.concatenate([a, b]))`` as int64: the distinct ids of ``a`` and ``b``
    (non-negative, below ``mark``'s length), ascending. ``mark``: uint8, one per address, all
    zero (lazily paged memory is fine), left all zero."""
    return _touched_kernel(np.ascontiguousarray(a), np.ascontiguousarray(b), mark,
                           np.int64(SCAN_SPAN))  # fmt: skip


@njit(cache=True, nogil=True)
def _pick_kernel(t, role, inflow, taint, beyond, lab_ids, sink, source):  # type: ignore[no-untyped-def]
    n = t.shape[0]
    out = np.empty((5, n), dtype=np.int32)  # sinks, through, held, frontier, sources
    c = np.zeros(5, dtype=np.int64)
    n_lab = lab_ids.shape[0]
    has_beyond = beyond.shape[0] > 0
    for i in range(n):
        v = t[i]
        r = role[v]
        f = inflow[v]
        if r == sink:
            if f > 0.0:
                out[0, c[0]] = v
                c[0] += 1
        elif r == source:
            out[4, c[4]] = v
            c[4] += 1
        else:
            if f > 0.0 and n_lab > 0:
                j = np.searchsorted(lab_ids, v)
                if j < n_lab and lab_ids[j] == v:
                    out[1, c[1]] = v
                    c[1] += 1
            if taint[v] > 0.0:
                out[2, c[2]] = v
                c[2] += 1
        if has_beyond and beyond[v] > 0.0:
            out[3, c[3]] = v
            c[3] += 1
    return out, c


def pick_rows(
    t: np.ndarray,
    role: np.ndarray,
    inflow: np.ndarray,
    taint: np.ndarray,
    beyond: np.ndarray,
    lab_ids: np.ndarray,
    sink: int,
    source: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Of the ascending ids ``t``, as int32 in that order: the sinks with ``inflow > 0``; the
    labelled (in the sorted ``lab_ids``) non-sink non-source ids with ``inflow > 0``; the
    non-sink non-source ids with ``taint > 0``; those with ``beyond > 0`` (none when
    ``beyond`` is empty); the sources (``role == source``)."""
    out, c = _pick_kernel(np.ascontiguousarray(t, dtype=np.int64), role, inflow, taint, beyond,
                          np.ascontiguousarray(lab_ids, dtype=np.int64), np.int8(sink),
                          np.int8(source))  # fmt: skip
    return tuple(out[i, : c[i]] for i in range(5))  # type: ignore[return-value]
