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

from tracer.kernels.taint import SINK, path_edges

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

    ``top_k``: paths per sink (``None``: keep every inflow of a sink)."""

    def __init__(self, role: np.ndarray, top_k: int | None) -> None:
        self.role = role
        self.top_k = top_k
        self.best = np.zeros(role.shape[0], dtype=np.float64)  # running max inflow per node
        self.parts: list[dict[str, np.ndarray]] = []
        self.sinks: dict[str, np.ndarray] | None = None
        self.seen = 0

    def add(self, src: np.ndarray, dst: np.ndarray, taint: np.ndarray, index: np.ndarray) -> None:
        """The next chunk's tainted edges, in processing order."""
        n = dst.shape[0]
        pos = np.arange(self.seen, self.seen + n, dtype=np.int64)
        self.seen += n
        keep = path_edges(dst, taint, self.role, self.best)
        cols = {"src": src, "dst": dst, "taint": taint, "index": index, "_pos": pos}
        if self.top_k is None:
            self.parts.append({f: a[keep] for f, a in cols.items()})
            return
        to_sink = self.role[dst] == SINK
        self.parts.append({f: a[keep & ~to_sink] for f, a in cols.items()})
        new = {f: a[to_sink] for f, a in cols.items()}
        if self.sinks is not None:
            new = {f: np.concatenate([self.sinks[f], new[f]]) for f in cols}
        top = top_per_node(new["dst"], new["taint"], new["_pos"], self.top_k)
        self.sinks = {f: a[top] for f, a in new.items()}

    def result(self) -> dict[str, np.ndarray]:
        """The kept edges (``src, dst, taint, index``) in processing order."""
        parts = self.parts + ([self.sinks] if self.sinks is not None else [])
        if not parts:
            return {f: np.zeros(0) for f in FIELDS}
        both = {f: np.concatenate([p[f] for p in parts]) for f in (*FIELDS, "_pos")}
        order = np.argsort(both["_pos"], kind="stable")
        return {f: both[f][order] for f in FIELDS}
