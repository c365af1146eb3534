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
    """Per asked edge: ``limbs`` (uint64[n, 2], value = hi * 10**19 + lo), ``decimals``
    (int16, -1 where the token's decimals are unknown) and ``raw`` (bool: no fixed-width form,
    read the text instead; its limbs are zero)."""

    limbs: np.ndarray
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
    limbs = np.zeros((n, 2), dtype=np.uint64)
    raw = np.zeros(n, dtype=bool)
    part = np.searchsorted(case.starts, edges, side="right") - 1
    if n and (part.min() < 0 or part.max() >= len(case.values)):
        return None
    step = np.diff(edges)
    ascending = bool((step >= 0).all())  # a sweep's edges come in file order, mostly
    dense = bool((step == 1).all())  # and often every one of them (--all, no window)
    order = np.arange(n) if ascending else np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(len(case.values) + 1))
    for p in range(len(case.values)):
        at: np.ndarray | slice = order[bounds[p] : bounds[p + 1]]
        if bounds[p] == bounds[p + 1]:
            continue
        values, kinds = case.values[p], case.kinds[p]
        if values is None or kinds is None:
            return None
        if ascending:
            at = slice(int(bounds[p]), int(bounds[p + 1]))
        local = edges[at] - case.starts[p]
        if dense:
            span = slice(int(local[0]), int(local[-1]) + 1)  # every row: copy, not gather
            limbs[at] = values[span]
            raw[at] = (np.asarray(kinds[span]) & VALUE_RAW) != 0
        else:
            limbs[at] = values[local]
            raw[at] = (np.asarray(kinds[local]) & VALUE_RAW) != 0
    limbs[raw] = 0
    tok = g.tokens
    ids = tok["token_id"].to_numpy().astype(np.int64)
    dec_of = np.full(int(ids.max()) + 1 if ids.size else 1, -1, dtype=np.int16)
    dec_of[ids] = tok["decimals"].fill_null(-1).to_numpy().astype(np.int16)
    decimals = dec_of[np.asarray(g.token_id[edges], dtype=np.int64)] if n else np.zeros(0, np.int16)
    return ExactValues(limbs=limbs, decimals=decimals, raw=raw)
