"""Selected edges in chunks, in chain order or reversed, from memory or streamed from Parquet.

Every sweep (follow, source, exposure) walks edges once in time order with per-address state,
so it never needs the whole edge list at once. This module hands out the edges a query
selects (assets with known decimals) one chunk at a time:

* **memory** — slices of the graph's arrays (memory-mapped ``.npy`` cache): fastest when the
  workspace fits the page cache;
* **stream** — one Parquet row group at a time from the time partitions
  (:mod:`tracer.store.partitions`), the next ones decoded (and prepared:
  :func:`prepared_chunks`) on a read-ahead thread with its own file handles while the kernel
  works: memory is O(addresses) + a few row groups, for a chain of any length.

Both give identical chunks' concatenation, so results do not depend on the mode (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from tracer.graph.selection import EdgeSelection, select_edges
from tracer.store.partitions import EDGE_COLUMNS, SWEEP_COLUMNS, edge_arrays, read_ahead
from tracer.store.workspace import Workspace

if TYPE_CHECKING:  # annotations only: an in-memory follow never imports pyarrow
    import pyarrow as pa

CHUNK = 1 << 20
T = TypeVar("T")


def use_stream(ws: Workspace, requested: bool | None) -> bool:
    """Whether a sweep streams: as ``--stream/--no-stream`` asked, else when the workspace has
    no graph cache (a whole-chain workspace); never for an in-memory workspace (no files)."""
    wanted = not ws.has_graph_cache() if requested is None else requested
    return wanted and ws.parts() is not None


def selected_chunks(
    ws: Workspace,
    token_ids: np.ndarray,
    *,
    stream: bool,
    reverse: bool = False,
    chunk: int | None = CHUNK,
) -> Iterator[EdgeSelection]:
    """The selected edges, chunk by chunk in sweep order. ``reverse``: the time-reversed graph
    (newest chunk first, each :meth:`~tracer.graph.selection.EdgeSelection.time_reversed`).
    ``excluded_unknown`` of each chunk counts its rows whose token has no known decimals (they
    are kept out), so the sum over chunks is the total. ``chunk=None`` in memory mode gives the
    whole selection as one chunk (no copy)."""
    return prepared_chunks(ws, token_ids, _same, stream=stream, reverse=reverse, chunk=chunk)


def _same(sel: EdgeSelection) -> EdgeSelection:
    return sel


def prepared_chunks(
    ws: Workspace,
    token_ids: np.ndarray,
    prepare: Callable[[EdgeSelection], T],
    *,
    stream: bool,
    reverse: bool = False,
    chunk: int | None = CHUNK,
) -> Iterator[T]:
    """``prepare(chunk)`` of each chunk :func:`selected_chunks` gives, in the same order.

    Streamed, each row group is decoded, selected and prepared on the read-ahead thread
    (:func:`tracer.store.partitions.read_ahead`, its own file handles), so a sweep's per-chunk
    work that does not need its state (seed masks, id gathers) runs on the second core while
    the kernel runs on this one. ``prepare`` must not touch what the consumer changes."""
    reader = ws.parts() if stream else None
    if reader is None:
        for sel in in_chunks(select_edges(ws.graph(), token_ids), chunk, reverse=reverse):
            yield prepare(sel)
        return
    nodes = ws.nodes()
    wanted = np.zeros(max(nodes.tokens.height, 1), dtype=np.bool_)
    wanted[np.asarray(token_ids, dtype=np.int64)] = True
    every = bool(wanted.all())

    def job(start: int, table: pa.Table) -> T:
        sel = _selected(start, edge_arrays(table), None if every else wanted)
        return prepare(_contiguous(sel.time_reversed()) if reverse else sel)

    columns = SWEEP_COLUMNS if every else EDGE_COLUMNS
    yield from read_ahead(reader, reader.row_groups(reverse), columns, job)


def _contiguous(sel: EdgeSelection) -> EdgeSelection:
    """A reversed chunk's arrays copied in order here, on the read-ahead thread: the kernels
    take contiguous arrays, and ``sweep_chunk`` would otherwise copy the reversed views on the
    sweeping thread (four columns a chunk)."""
    return EdgeSelection(
        index=np.ascontiguousarray(sel.index), src=np.ascontiguousarray(sel.src),
        dst=np.ascontiguousarray(sel.dst), amount=np.ascontiguousarray(sel.amount),
        ts=np.ascontiguousarray(sel.ts), excluded_unknown=sel.excluded_unknown,
    )  # fmt: skip


def _selected(start: int, a: dict[str, np.ndarray], wanted: np.ndarray | None) -> EdgeSelection:
    """One row group's selected edges: rows of the asked tokens (``wanted`` per token id;
    ``None``: every token) with known decimals (amount not NaN), numbered from ``start``."""
    nan = np.isnan(a["amount"])
    if wanted is None:  # every token asked: no per-row token lookup (a random gather per row)
        unknown = int(np.count_nonzero(nan))
        asked = None
    else:
        asked = wanted[a["token_id"]]
        unknown = int(np.count_nonzero(nan & asked))  # selected rows only
    if wanted is None and not unknown:
        return EdgeSelection(
            index=np.arange(start, start + a["src"].shape[0], dtype=np.int64),
            src=a["src"], dst=a["dst"], amount=a["amount"], ts=a["ts"], excluded_unknown=0,
        )  # fmt: skip
    keep = np.flatnonzero(~nan if asked is None else asked & ~nan)
    return EdgeSelection(
        index=keep.astype(np.int64) + start, src=a["src"][keep], dst=a["dst"][keep],
        amount=a["amount"][keep], ts=a["ts"][keep], excluded_unknown=unknown,
    )  # fmt: skip


def in_chunks(
    sel: EdgeSelection, chunk: int | None, *, reverse: bool = False
) -> Iterator[EdgeSelection]:
    """An in-memory selection in chunks of ``chunk`` edges (``None``: one), in sweep order."""
    if reverse:
        sel = sel.time_reversed()
    n = sel.src.shape[0]
    step = n if chunk is None or n == 0 else chunk
    for a in range(0, max(n, 1), max(step, 1)):
        yield sel.part(a, min(a + step, n))
