"""The tainted edges a follow keeps for its strongest paths, chunk by chunk (issue 17.5).

A whole-chain sweep taints millions of transfers (26M of 200M on the synth chain) but the
strongest-path search (:func:`tracer.analysis.follow_rows.strongest_paths`) reads few of them:
the ``k`` largest tainted inflows of each sink (its starting points), and, stepping back from a
node at an edge, the largest earlier tainted inflow of that node. :class:`PathEdges` keeps
exactly what can be read: each sink's ``k`` largest inflows (ties: the earlier), and into any
other node the edges carrying more taint than every earlier one
(:func:`tracer.kernels.taint.path_edges`, where the argument is spelled out). Kept edges stay
in processing order, so the search finds the same paths as over every tainted edge
(``tests/kernels/test_taint_paths.py`` checks it on random sweeps).
"""

from __future__ import annotations

import numpy as np

from tracer.kernels.path_keep import keep_paths
from tracer.kernels.taint import SINK

FIELDS = ("src", "dst", "taint", "index")


def top_per_node(dst: np.ndarray, taint: np.ndarray, pos: np.ndarray, k: int) -> np.ndarray:
    """Mask of each ``dst``'s ``k`` largest ``taint`` (ties: the smaller ``pos``), the order
    in which :func:`strongest_paths` picks a sink's inflows."""
    order = np.lexsort((pos, -taint, dst))
    d = dst[order]
    first = np.ones(d.shape[0], dtype=bool)
    first[1:] = d[1:] != d[:-1]
    starts = np.flatnonzero(first)
    rank = np.arange(d.shape[0]) - np.repeat(starts, np.diff(np.append(starts, d.shape[0])))
    keep = np.zeros(d.shape[0], dtype=bool)
    keep[order[rank < k]] = True
    return keep


class PathEdges:
    """Collects the path-relevant tainted edges of consecutive chunks (O(kept), not O(tainted)).

    ``top_k``: paths per sink (``None``: keep every inflow of a sink). The picking is one
    numba pass per chunk (:func:`kernels.path_keep.keep_paths`); the numpy definition it
    replaced (a record mask, then :func:`top_per_node` over the sinks' inflows) is the
    reference in ``tests/analysis/test_path_keep.py``."""

    def __init__(self, role: np.ndarray, top_k: int | None) -> None:
        self.role = np.ascontiguousarray(role, dtype=np.int8)
        self.top_k = top_k
        self.best = np.zeros(role.shape[0], dtype=np.float64)  # running max inflow per node
        self.parts: list[dict[str, np.ndarray]] = []
        self.seen = 0
        k = 0 if top_k is None else int(top_k)
        # sinks: a few thousand labelled services; ids sorted for the kernel's binary search
        self.sink_ids = np.flatnonzero(self.role == SINK).astype(np.int32) if k else \
            np.zeros(0, dtype=np.int32)
        s = self.sink_ids.shape[0]
        self.top: tuple[np.ndarray, ...] = (np.zeros((s, k), np.int32), np.zeros((s, k), np.int32),
                    np.zeros((s, k), np.float64), np.zeros((s, k), np.int64),
                    np.zeros((s, k), np.int64), np.zeros(s, np.int64))  # fmt: skip
        self._scratch: tuple[np.ndarray, ...] = ()

    def _out(self, n: int) -> tuple[np.ndarray, ...]:
        """Scratch columns for ``n`` records, reused from chunk to chunk (fresh memory costs
        page faults; a chunk's kept records are copied out at their exact count)."""
        if not self._scratch or self._scratch[0].shape[0] < n:
            self._scratch = (np.empty(n, np.int32), np.empty(n, np.int32),
                             np.empty(n, np.float64), np.empty(n, np.int64),
                             np.empty(n, np.int64))  # fmt: skip
        return self._scratch

    def add(self, src: np.ndarray, dst: np.ndarray, taint: np.ndarray, index: np.ndarray) -> None:
        """The next chunk's tainted edges (every ``taint > 0``), in processing order."""
        self.add_chunk(src, dst, np.ascontiguousarray(taint, dtype=np.float64),
                       np.zeros(0, dtype=np.int32), index)  # fmt: skip

    def add_chunk(
        self,
        src: np.ndarray,
        dst: np.ndarray,
        edge_taint: np.ndarray,
        edge_hop: np.ndarray,
        index: np.ndarray | int,
        *,
        clear: bool = False,
    ) -> None:
        """A whole chunk's per-edge sweep output (``edge_taint`` 0 on untainted edges), in
        processing order; ``index`` each edge's number or the first one's (consecutive).
        ``clear``: zero ``edge_taint``/``edge_hop`` where read (buffers reused by the next
        chunk's sweep)."""
        n = src.shape[0]
        out = self._out(max(n, 1))
        idx, base = (np.zeros(0, np.int64), int(index)) if isinstance(index, int) else (
            np.ascontiguousarray(index, dtype=np.int64), 0)  # fmt: skip
        m, self.seen = keep_paths(
            np.ascontiguousarray(src, dtype=np.int32), np.ascontiguousarray(dst, dtype=np.int32),
            edge_taint, edge_hop, idx, base, self.role, SINK, self.best, self.sink_ids,
            self.top, out, self.seen, clear=clear,
        )  # fmt: skip
        if m:
            self.parts.append({f: a[:m].copy() for f, a in zip((*FIELDS, "_pos"), out,
                                                                 strict=True)})  # fmt: skip

    def result(self) -> dict[str, np.ndarray]:
        """The kept edges (``src, dst, taint, index``) in processing order."""
        parts = list(self.parts)
        count = self.top[5]
        if count.size and count.any():
            rows = np.arange(self.top[2].shape[1])[None, :] < count[:, None]
            names = (*FIELDS, "_pos")
            parts.append({f: np.asarray(a)[rows] for f, a in zip(names, self.top, strict=False)})
        if not parts:  # typed empties: callers index with src/dst/index
            parts = [{f: a[:0] for f, a in zip((*FIELDS, "_pos"), self._out(1), strict=True)}]
        both = {f: np.concatenate([p[f] for p in parts]) for f in (*FIELDS, "_pos")}
        order = np.argsort(both["_pos"], kind="stable")
        return {f: both[f][order] for f in FIELDS}
