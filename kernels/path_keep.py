"""The tainted edges a strongest-path search can read, picked in one pass over a chunk's outputs.

A whole-chain sweep taints millions of transfers but the path search reads few of them (the
argument is in :func:`kernels.taint.path_edges`): every edge into a non-sink node that carries
more taint than every earlier one into it (a running record), and each sink's ``k`` largest
inflows (ties: the earlier). Doing that per chunk with numpy (a mask of the tainted edges, a
gather of each column, a record pass, then a lexsort of every sink inflow kept so far with the
chunk's new ones) cost more CPU than the sweep itself on the 200M synth chain (0.81 s against
0.58 s user per 26M transfers). :func:`keep_paths` does it in one pass over the chunk's dense
``edge_taint``: records are appended to a scratch buffer, and each sink keeps a sorted top-``k``
list updated by insertion (the top ``k`` of a total order is the same whether it is taken at
once or edge by edge), so nothing is sorted per chunk.

Optionally it also clears what it read (``edge_taint[e] = edge_hop[e] = 0`` on the tainted
edges), so a caller can hand the same output buffers to the next chunk's sweep without zeroing
them whole (O(tainted), not O(chunk)).
"""

from __future__ import annotations

import numpy as np

from ._jit import njit
from .prefetch import AHEAD, prefetch
from .rules import SINK, SOURCE


@njit(cache=True, nogil=True)
def _keep_kernel(src, dst, edge_taint, edge_hop, index, base, role, sink_role, best,
                 sink_ids, top, out, pos0, clear):  # type: ignore[no-untyped-def]  # fmt: skip
    """See :func:`keep_paths`. ``top``: (sink_src, sink_dst, sink_taint, sink_index, sink_pos,
    sink_count), each row a sink's list, best first; ``out``: (src, dst, taint, index, pos)
    scratch columns; ``index`` empty: edge ``e``'s number is ``base + e``."""
    o_src, o_dst, o_taint, o_index, o_pos = out
    t_src, t_dst, t_taint, t_index, t_pos, t_count = top
    k = t_taint.shape[1]
    n_out = 0
    pos = pos0
    by_index = index.shape[0] > 0
    n_e = src.shape[0]
    for e in range(n_e):
        # a tainted edge reads role and best at a random row: ask for both AHEAD edges early
        f = e + AHEAD
        if f < n_e and edge_taint[f] > 0.0:
            prefetch(best, dst[f])
            prefetch(role, dst[f])
        t = edge_taint[e]
        if not t > 0.0:
            continue
        if clear:
            edge_taint[e] = 0.0
            edge_hop[e] = 0
        v = dst[e]
        i = index[e] if by_index else base + e
        if role[v] == sink_role and k > 0:
            # this sink's list, best first by (taint desc, pos asc); a new edge has the largest
            # pos so far, so it goes after every equal taint and enters only above the k-th
            s = np.searchsorted(sink_ids, v)
            c = t_count[s]
            if c == k and not t > t_taint[s, k - 1]:
                pos += 1
                continue
            j = c if c < k else k - 1
            while j > 0 and t > t_taint[s, j - 1]:
                t_src[s, j] = t_src[s, j - 1]
                t_dst[s, j] = t_dst[s, j - 1]
                t_taint[s, j] = t_taint[s, j - 1]
                t_index[s, j] = t_index[s, j - 1]
                t_pos[s, j] = t_pos[s, j - 1]
                j -= 1
            t_src[s, j] = src[e]
            t_dst[s, j] = v
            t_taint[s, j] = t
            t_index[s, j] = i
            t_pos[s, j] = pos
            if c < k:
                t_count[s] = c + 1
        elif role[v] == sink_role or t > best[v]:
            if role[v] != sink_role:
                best[v] = t
            o_src[n_out] = src[e]
            o_dst[n_out] = v
            o_taint[n_out] = t
            o_index[n_out] = i
            o_pos[n_out] = pos
            n_out += 1
        pos += 1
    return n_out, pos


def keep_paths(
    src: np.ndarray,
    dst: np.ndarray,
    edge_taint: np.ndarray,
    edge_hop: np.ndarray,
    index: np.ndarray,
    base: int,
    role: np.ndarray,
    sink_role: int,
    best: np.ndarray,
    sink_ids: np.ndarray,
    top: tuple[np.ndarray, ...],
    out: tuple[np.ndarray, ...],
    pos0: int,
    *,
    clear: bool,
) -> tuple[int, int]:
    """One chunk's sweep outputs -> the path-relevant tainted edges, in processing order.

    Edges with ``edge_taint[e] > 0`` are numbered ``pos0, pos0 + 1, ...`` (their processing
    order over the whole sweep). An edge into a node of role ``sink_role`` enters that sink's
    top list ``top`` (rows by ``sink_ids``, sorted; ``k = top[2].shape[1]`` columns; ``k = 0``:
    every sink inflow is kept like a record); any other kept edge (a running record in
    ``best``, updated in place) is written to the ``out`` columns. ``index``: each edge's number
    (empty: ``base + e``). Returns (records written, next pos). ``clear``: zero
    ``edge_taint``/``edge_hop`` on the tainted edges read."""
    n_out, pos = _keep_kernel(src, dst, edge_taint, edge_hop, index, np.int64(base), role,
                              np.int8(sink_role), best, sink_ids, top, out, np.int64(pos0),
                              bool(clear))  # fmt: skip
    return int(n_out), int(pos)


@njit(cache=True, nogil=True)
def _path_edges_kernel(dst, taint, role, best, keep):  # type: ignore[no-untyped-def]
    for e in range(dst.shape[0]):
        v = dst[e]
        t = taint[e]
        if role[v] == SINK:
            keep[e] = True
        elif t > best[v]:
            best[v] = t
            keep[e] = True


def path_edges(
    dst: np.ndarray, taint: np.ndarray, role: np.ndarray, best: np.ndarray
) -> np.ndarray:
    """Which tainted edges (in processing order, chunk after chunk) the strongest-path search
    can ever use: every edge into a sink (a path's last step), and into any other node only an
    edge carrying more taint than every earlier one into it (``best[node]``, the running
    maximum, updated in place; start it at 0).

    Why that is enough: a path steps back from node ``v`` at edge ``cur`` to the largest tainted
    edge into ``v`` before ``cur`` (ties: the earliest). That edge beats every earlier edge into
    ``v``, so it is a record in the above sense; and an edge that is not a record loses to an
    earlier record of at least its taint for every ``cur`` after it. Keeping the records keeps
    every answer, and the order of what is kept is the processing order. Sends from sinks are
    never tainted, so a path never steps back into a sink past its first step.
    """
    keep = np.zeros(dst.shape[0], dtype=np.bool_)
    if dst.shape[0]:
        _path_edges_kernel(np.ascontiguousarray(dst, dtype=np.int32),
                           np.ascontiguousarray(taint, dtype=np.float64),
                           role, best, keep)  # fmt: skip
    return keep


@njit(cache=True, nogil=True)
def _walk_kernel(src, dst, taint, n_sinks, k, node):  # type: ignore[no-untyped-def]
    """See :func:`path_steps`. ``node[v]``: (1 + the position of v's largest inflow so far,
    its taint, 1 + v's row among the sinks, unused), 0 meaning none: one cache line per node
    read, zero on entry but for the sink rows, and left so."""
    n = src.shape[0]
    pred = np.empty(n, dtype=np.int64)
    top = np.full((n_sinks, max(k, 1)), -1, dtype=np.int64)
    count = np.zeros(n_sinks, dtype=np.int64)
    for i in range(n):
        f = i + AHEAD  # each edge reads its ends' rows at random: ask for them early
        if f < n:
            prefetch(node, src[f])
            prefetch(node, dst[f])
        u = src[i]
        v = dst[i]
        t = taint[i]
        pred[i] = np.int64(node[u, 0]) - 1  # the sender's strongest earlier inflow (ties: earliest)
        if node[v, 0] == 0.0 or t > node[v, 1]:
            node[v, 0] = i + 1
            node[v, 1] = t
        s = np.int64(node[v, 2]) - 1
        if s >= 0 and k > 0:
            # the sink's k largest inflows, best first by (taint desc, position asc): a new
            # edge has the largest position so far, so it goes after every equal taint
            c = count[s]
            if c == k and not t > taint[top[s, k - 1]]:
                continue
            j = c if c < k else k - 1
            while j > 0 and t > taint[top[s, j - 1]]:
                top[s, j] = top[s, j - 1]
                j -= 1
            top[s, j] = i
            if c < k:
                count[s] = c + 1
    for i in range(n):
        if i + AHEAD < n:
            prefetch(node, dst[i + AHEAD])
        node[dst[i], 0] = 0.0
        node[dst[i], 1] = 0.0
    return pred, top, count


def path_steps(
    src: np.ndarray,
    dst: np.ndarray,
    taint: np.ndarray,
    sinks: np.ndarray,
    k: int,
    scratch: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pass over the tainted edges (in processing order) for the strongest-path walk.

    Returns ``pred`` (per edge: the position of the largest tainted edge into its sender
    before it, ties the earliest; -1: none), and per distinct sink of ``sinks`` (sorted
    ascending) its ``k`` largest inflows by (taint desc, position asc) as ``top[s, :count[s]]``.
    A walk back from a sink's inflow follows ``pred`` until a source's edge: the rule of
    :func:`tracer.analysis.follow_rows.strongest_paths`, which took each step by a binary
    search and an argmax (a running maximum per node is that answer for every edge at once).

    ``scratch``: float64 ``(nodes, 4)``, all zero (lazily paged memory is fine: only the
    touched nodes' pages are written), left zero. Positions stay exact as float64 below
    2**53 tainted edges."""
    scratch[sinks, 2] = np.arange(1, sinks.shape[0] + 1, dtype=np.float64)
    try:
        pred, top, count = _walk_kernel(
            np.ascontiguousarray(src, dtype=np.int32), np.ascontiguousarray(dst, dtype=np.int32),
            np.ascontiguousarray(taint, dtype=np.float64), int(sinks.shape[0]), int(k), scratch,
        )  # fmt: skip
    finally:
        scratch[sinks, 2] = 0.0
    return pred, top, count


@njit(cache=True, nogil=True)
def _walks_kernel(pred, src, role, top, count, rows, reverse):  # type: ignore[no-untyped-def]
    n_paths = 0
    n_steps = 0
    for r in rows:
        n_paths += count[r]
    start = np.zeros(n_paths + 1, dtype=np.int64)
    complete = np.zeros(n_paths, dtype=np.bool_)
    steps = np.empty(max(16, 8 * n_paths), dtype=np.int64)
    p = 0
    for r in rows:
        for c in range(count[r]):
            first = n_steps
            cur = top[r, c]
            while True:
                if n_steps == steps.shape[0]:
                    bigger = np.empty(steps.shape[0] * 2, dtype=np.int64)
                    bigger[:n_steps] = steps[:n_steps]
                    steps = bigger
                steps[n_steps] = cur
                n_steps += 1
                if role[src[cur]] == SOURCE or pred[cur] < 0:
                    break
                cur = pred[cur]
            complete[p] = role[src[cur]] == SOURCE
            if reverse:  # source first
                i, j = first, n_steps - 1
                while i < j:
                    steps[i], steps[j] = steps[j], steps[i]
                    i += 1
                    j -= 1
            p += 1
            start[p] = n_steps
    return steps[:n_steps], start, complete


def path_walks(
    pred: np.ndarray,
    src: np.ndarray,
    role: np.ndarray,
    top: np.ndarray,
    count: np.ndarray,
    rows: np.ndarray,
    source_first: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The walks of :func:`path_steps`' answer: for each sink row of ``rows`` in turn, each of
    its top inflows followed back by ``pred`` until an edge whose sender (``src``) has role
    ``SOURCE`` in ``role`` (complete) or one with no earlier inflow (incomplete). Returns the
    steps of every path one after another (``source_first``: each path reversed, source first),
    ``start`` (path ``i`` is ``steps[start[i]:start[i + 1]]``) and ``complete`` per path."""
    order = np.ascontiguousarray(rows, dtype=np.int64)
    return _walks_kernel(pred, np.ascontiguousarray(src, dtype=np.int32),
                         np.ascontiguousarray(role, dtype=np.int8), top, count, order,
                         bool(source_first))  # fmt: skip


@njit(cache=True, nogil=True)
def _weakest_kernel(steps, start, taint):  # type: ignore[no-untyped-def]
    n_paths = start.shape[0] - 1
    weak = np.empty(n_paths, dtype=np.int64)
    for p in range(n_paths):
        best = steps[start[p]]
        for i in range(start[p] + 1, start[p + 1]):
            s = steps[i]
            if taint[s] < taint[best] or (taint[s] == taint[best] and s < best):
                best = s
        weak[p] = best
    return weak


def weakest_steps(steps: np.ndarray, start: np.ndarray, taint: np.ndarray) -> np.ndarray:
    """Per path of :func:`path_walks`' answer (path ``p`` is ``steps[start[p]:start[p + 1]]``,
    none empty) its weakest step: the one with the least ``taint`` (ties: the smallest
    position), a path's strength (``min(steps, key=(taint, position))``, in one pass instead
    of a Python ``min`` with a key per path)."""
    return _weakest_kernel(np.ascontiguousarray(steps, dtype=np.int64),
                           np.ascontiguousarray(start, dtype=np.int64),
                           np.ascontiguousarray(taint, dtype=np.float64))  # fmt: skip
