"""Exact transfer values as fixed-width integers, read from the case index in one pass.

A report over most of a workspace (``exposure --all``) needs the exact value of millions of
edges. :meth:`tracer.store.workspace.Workspace.rows` returns them as text, built per row; the
case index (:mod:`tracer.store.case_index`) already holds each value as two base-10**19 limbs
(``uint64[rows, 2]``), so gathering those limbs is a memory-mapped ``take`` per partition,
O(edges asked) with no per-row Python. Rows whose text has no exact fixed-width form come back
flagged so the caller reads them as text (they are rare: non-canonical digits, > 38 digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tracer.kernels.fixed_width import VALUE_RAW

if TYPE_CHECKING:
    from tracer.store.workspace import Workspace


@dataclass
class ExactValues:
    """Per asked edge: its value as ``pieces`` of limbs (``(start, stop, limbs)``: the limbs,
    uint64[stop - start, 2] with value = hi * 10**19 + lo, of asked edges ``start:stop``;
    views of the memory-mapped index where the edges are whole runs of rows), ``decimals``
    (int16, -1 where the token's decimals are unknown) and ``raw`` (bool: no fixed-width form,
    read the text instead; its limbs are zero)."""

    pieces: list[tuple[int, int, np.ndarray]]
    decimals: np.ndarray
    raw: np.ndarray


def exact_values(ws: Workspace, edges: np.ndarray) -> ExactValues | None:
    """The exact values of ``edges`` (edge ids) from the case index, or None when the
    workspace has none for one of their partitions, or its graph is not loaded (the caller
    then reads text with :meth:`Workspace.rows`, with the same result)."""
    g = ws._graph  # loaded by the caller's plan; never load a whole graph here
    case = ws.case_index() if g is not None else None
    if case is None or g is None:
        return None
    edges = np.asarray(edges, dtype=np.int64)
    n = edges.shape[0]
    raw = np.zeros(n, dtype=bool)
    n_parts = len(case.values)
    if n and (edges.min() < case.starts[0] or edges.max() >= case.starts[n_parts]):
        return None
    pieces: list[tuple[int, int, np.ndarray]] = []
    if _dense(edges):  # every row in a run, in order (--all, no window)
        # where each partition's rows start among the edges: no per-edge partition array
        bounds = np.searchsorted(edges, case.starts[: n_parts + 1])
        for p in range(n_parts):
            a, b = int(bounds[p]), int(bounds[p + 1])
            if a == b:
                continue
            values, kinds = case.values[p], case.kinds[p]
            if values is None or kinds is None:
                return None
            lo = int(edges[a] - case.starts[p])
            span = slice(lo, lo + b - a)
            raw[a:b] = (np.asarray(kinds[span]) & VALUE_RAW) != 0
            pieces.append((a, b, np.asarray(values[span])))  # a view: no copy
    else:
        part = np.searchsorted(case.starts, edges, side="right") - 1
        limbs = np.zeros((n, 2), dtype=np.uint64)
        for p in np.unique(part).tolist():
            values, kinds = case.values[p], case.kinds[p]
            if values is None or kinds is None:
                return None
            at = np.flatnonzero(part == p)
            local = edges[at] - case.starts[p]
            limbs[at] = values[local]
            raw[at] = (np.asarray(kinds[local]) & VALUE_RAW) != 0
        pieces.append((0, n, limbs))
    tok = g.tokens
    ids = tok["token_id"].to_numpy().astype(np.int64)
    dec = tok["decimals"].fill_null(-1).to_numpy().astype(np.int16)
    if ids.size == 1:  # one token: no per-edge lookup
        decimals = np.full(n, dec[0], dtype=np.int16)
    else:
        dec_of = np.full(int(ids.max()) + 1 if ids.size else 1, -1, dtype=np.int16)
        dec_of[ids] = dec
        decimals = dec_of[np.asarray(g.token_id[edges], dtype=np.int64)]
    return ExactValues(pieces=pieces, decimals=decimals, raw=raw)


def _dense(edges: np.ndarray, block: int = 1 << 16) -> bool:
    """Whether ``edges`` is a run of consecutive ids (``a, a+1, ...``), checked a block at a
    time: the whole-array ``np.diff`` was an 80 MB temporary at 10M edges (fresh pages the
    kernel zeroes: measurable in the process's system time)."""
    n = edges.shape[0]
    if n == 0 or int(edges[-1]) - int(edges[0]) != n - 1:
        return n == 0
    for a in range(0, n, block):
        piece = edges[a : min(a + block + 1, n)]
        if not bool((np.diff(piece) == 1).all()):
            return False
    return True
