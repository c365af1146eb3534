"""The local engine's TIHO and per-source colour runs (:mod:`tracer.kernels.local_colours`).

:func:`tracer.analysis.local_follow.trace_local` sends here the two requests
:mod:`tracer.kernels.local` does not cover: ``--model tiho`` (a sender's outputs inside one
transaction share the group's taint) and ``--by-source`` colours. The kernel needs, for TIHO,
which edges belong to the same transaction: :func:`tx_numbers` gives every edge of the graph a
number equal iff the transaction hash is equal (the dense rank the TIHO sweep takes of the
selection's hashes, here over every edge once, so every later question of the session pays
only for its tainted subgraph). It is kept in memory per graph (8 bytes per transfer), like
the balance pass's figures.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import polars as pl

from tracer.kernels.bundles import ColourArrays
from tracer.kernels.local import LocalGraph, LocalOut, LocalParams
from tracer.kernels.local_colours import local_colour_kernel
from tracer.kernels.taint import SweepState
from tracer.store.tx_keys import tx_keys

_Z32 = np.zeros(0, dtype=np.int32)
_Z64 = np.zeros(0, dtype=np.int64)
#: per graph (by identity, dropped with it): the transaction number of every edge
_TX: dict[int, tuple[weakref.ref[Any], np.ndarray]] = {}


def tx_numbers(workspace: Any, graph: Any) -> np.ndarray:
    """int64 per edge of ``graph``: equal iff the two transfers share a transaction hash.

    ``workspace`` is the one ``graph`` came from (its rows are the edges). Read once per graph
    (from the case index's 32-byte hashes, :mod:`tracer.store.tx_keys`, else one pass over the
    ``tx_hash`` column) and kept while the graph lives."""
    ref, tx = _TX.get(id(graph), (None, _Z64))
    if ref is not None and ref() is graph:
        return tx
    for gid in [g for g, (r, _) in _TX.items() if r() is None]:
        del _TX[gid]
    n = int(graph.n_edges)
    case = workspace.case_index() if hasattr(workspace, "case_index") else None
    keys = None if case is None else tx_keys(case.starts, case.hashes, case.kinds, n)
    if keys is None:  # no index (in memory, older workspace) or it cannot say exactly
        hashes = workspace.rows(np.arange(n, dtype=np.int64), ["tx_hash"])["tx_hash"]
        keys = _numbers(hashes)
    tx = keys
    _TX[id(graph)] = (weakref.ref(graph), tx)
    return tx


def _numbers(hashes: pl.Series) -> np.ndarray:
    """Equal iff the strings are equal: their 64-bit hash, checked to have no collision (one
    group-by, 5x cheaper than the sweep's dense rank on 1M hashes); a collision falls back to
    the dense rank, so the numbers are exact either way."""
    h = hashes.hash()
    per_hash = pl.DataFrame({"h": h, "s": hashes}).group_by("h").agg(pl.col("s").n_unique())
    if per_hash.height and int(per_hash["s"].max()) > 1:  # type: ignore[arg-type]  # a collision
        return np.ascontiguousarray(hashes.rank("dense").to_numpy(), dtype=np.int64)
    return np.ascontiguousarray(h.to_numpy()).view(np.int64)


def run_colour_kernel(
    g: LocalGraph,
    params: LocalParams,
    state: SweepState,
    sources: np.ndarray,
    tx: np.ndarray | None,
    out: LocalOut,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Run the local TIHO / colour kernel on ``state`` (its ``colours`` when set); returns the
    tainted-edge buffers (edge, taint, hop, balance and taint before) and their count."""
    col = state.colours
    if col is None:
        colours = ColourArrays(_Z32, _Z32, np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 3)))
    else:
        colours = ColourArrays(col.colour_of, col.row_of, col.tc, col.cin, col.stats)
    a = state.arrays
    tx_arr = _Z64 if tx is None else np.ascontiguousarray(tx, dtype=np.int64)
    o_edge, o_taint, o_hop, o_bal, o_tb, n_out = local_colour_kernel(
        g, tx_arr, params, a.role, sources, a.bt, a.inflow, a.hops, a.first_ts, a.beyond_from,
        a.stats, colours, out,
    )  # fmt: skip
    return o_edge, o_taint, o_hop, o_bal, o_tb, int(n_out)
