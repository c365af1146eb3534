"""The rows a follow shows beyond its totals: addresses in display form, the strongest paths
to each reached service, and the audit ledger of every tainted transfer.

Split from :mod:`tracer.analysis.follow` (the use case and its steps): these turn a sweep's
arrays into frames, the same for both engines and both directions.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np
import polars as pl

from tracer.core.addresses import display_many
from tracer.core.decimal_text import decimal_text, exact_text
from tracer.core.sparse_zeros import sparse_zeros
from tracer.kernels.path_keep import path_steps, path_walks, weakest_steps
from tracer.kernels.taint import SOURCE
from tracer.store.case_index import CaseIndex
from tracer.store.graph_cache import NodeIndex
from tracer.store.workspace import Workspace


def distinct(ids: np.ndarray) -> np.ndarray:
    """``np.unique(ids)`` (sorted, each once) by one sort: numpy 2's ``unique`` hashes first,
    15 ms on 85k int32 ids against 0.8 ms for the sort (a spread follow's receivers)."""
    ids = np.sort(np.asarray(ids).ravel())
    if ids.size < 2:
        return ids
    keep = np.empty(ids.size, dtype=np.bool_)
    keep[0] = True
    np.not_equal(ids[1:], ids[:-1], out=keep[1:])
    return ids[keep]


#: each stored (chain, address) text's display form (:func:`display_many`: a keccak per EVM
#: address, ~3 µs): a session shows the same few addresses question after question
_SHOWN: dict[tuple[str, str], str] = {}
SHOWN_KEEP = 100_000


def shown_addresses(chains: list[str], addrs: list[str]) -> list[str]:
    """:func:`display_many` of these texts (a pure function of each text), from the kept
    forms; the others computed at once (a long list by its compiled pass) and kept."""
    keys = list(zip(chains, addrs, strict=True))
    want = [k for k in dict.fromkeys(keys) if k not in _SHOWN]
    if want:
        if len(_SHOWN) + len(want) > SHOWN_KEEP:
            _SHOWN.clear()
        got = display_many([c for c, _ in want], [a for _, a in want])
        _SHOWN.update(zip(want, got, strict=True))
    return [_SHOWN[k] for k in keys]


#: each (figure, decimals)'s :func:`decimal_text` (a pure function of the two, ~1.5 µs a
#: figure): a case's questions show the same steps' tainted amounts again and again (a spread
#: follow's 264 steps: ~0.4 ms)
_TEXTS: dict[tuple[float, int], str | None] = {}
TEXTS_KEEP = 200_000


def taint_texts(values: list[float], decimals: list[int]) -> list[str | None]:
    """:func:`decimal_text` of each value with its decimals, from the kept texts; the others
    computed and kept (NaN, never equal to itself, is computed each time)."""
    kept = _TEXTS
    out: list[str | None] = []
    for key in zip(values, decimals, strict=True):
        if key in kept:
            out.append(kept[key])
            continue
        text = decimal_text(*key)
        if key[0] == key[0]:
            if len(kept) >= TEXTS_KEEP:
                kept.clear()
            kept[key] = text
        out.append(text)
    return out


def display_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Addresses in display form (EIP-55 on EVM chains)."""
    if frame.height == 0:
        return frame
    shown = display_many(frame["chain"].to_list(), frame["address"].to_list())
    return frame.with_columns(pl.Series("address", shown, pl.String))


def address_rows(nodes: pl.DataFrame | NodeIndex, ids: np.ndarray) -> pl.DataFrame:
    """``id, chain, address`` of ``ids`` in that order, from the address frame or through the
    node index (which reads only those rows when the workspace stores the texts by id)."""
    if isinstance(nodes, NodeIndex):
        return nodes.address_rows(ids)
    return nodes[ids.tolist()] if ids.size else nodes.clear()


def address_texts(nodes: pl.DataFrame | NodeIndex, ids: np.ndarray) -> tuple[list[str], list[str]]:
    """The chain and address text of each of ``ids`` (in that order): from the case index's
    stored texts without a frame when the node index reads through it (even when the whole
    frame was read: a gather from it costs more than the index's kept texts), else from
    :func:`address_rows`."""
    owner = getattr(nodes.rows_of, "__self__", None) if isinstance(nodes, NodeIndex) else None
    if isinstance(owner, CaseIndex) and isinstance(nodes, NodeIndex):
        return owner.address_texts(ids)
    rows = address_rows(nodes, np.asarray(ids))
    return rows["chain"].to_list(), rows["address"].to_list()


def strongest_paths(
    sink_ids: list[int],
    tainted: dict[str, np.ndarray],
    role: np.ndarray,
    workspace: Workspace,
    nodes: pl.DataFrame | NodeIndex,
    k: int,
    backward: bool = False,
) -> dict[int, list[dict[str, Any]]]:
    """The ``k`` strongest paths into each sink, recovered greedily backwards.

    Rule: start from the sink's ``k`` largest tainted inflows; from each, step back to the
    largest tainted transfer into the sender that came *earlier* in chain order, until a
    source is reached. Each step is a real transfer, earlier than the next, so a path is a
    time-respecting chain of transactions an investigator can verify one by one. Strength =
    the smallest taint along the path (its bottleneck).
    """
    if k <= 0 or not sink_ids or tainted["taint"].size == 0:
        return {}
    src, dst = tainted["src"], tainted["dst"]
    edge_taint, edge_index = tainted["taint"], tainted["index"]
    # one numba pass: each edge's step back (the largest earlier tainted edge into its
    # sender, ties the earliest) and each sink's k largest inflows (ties: the earlier)
    sinks = distinct(np.asarray(sink_ids, dtype=np.int64))
    pred, top, count = path_steps(src, dst, edge_taint, sinks, k, _walk_scratch(role.shape[0]))
    row_of = {s: i for i, s in enumerate(sinks.tolist())}
    sink_rows = [row_of[int(sink)] for sink in sink_ids]
    flat, start, complete = path_walks(pred, src, role, top, count, np.array(sink_rows, np.int64),
                                       not backward)  # fmt: skip
    # (backward: already origin → deposit, money order; forward: reversed, source first)
    weak = weakest_steps(flat, start, edge_taint)  # each path's strength: its weakest step
    all_steps = distinct(flat)
    s_src, s_dst = src[all_steps], dst[all_steps]
    ends = distinct(np.concatenate([s_src, s_dst]))
    chain_of, addr_of = address_texts(nodes, ends)  # only the addresses the paths show
    shown = dict(zip(ends.tolist(), shown_addresses(chain_of, addr_of), strict=True))
    # the path's transfers as stored (hash, amount, time): a few rows, read by row group
    stored = path_rows(workspace, edge_index[all_steps])
    a_of, b_of = (s_dst, s_src) if backward else (s_src, s_dst)
    taints = edge_taint[all_steps].tolist()
    texts = taint_texts(taints, [row[4] for row in stored])
    # one row per step (paths to several sinks share them), each path given its own copies
    hop_of = {
        s: {"tx_hash": tx_hash, "from": shown[a], "to": shown[b], "amount": amount,
            "amount_exact": amount_exact, "tainted": t, "tainted_decimal": text, "ts": ts}
        for s, a, b, t, text, (tx_hash, amount, ts, amount_exact, _) in zip(
            all_steps.tolist(), a_of.tolist(), b_of.tolist(), taints, texts, stored,
            strict=True)
    }  # fmt: skip
    flat_l, start_l, complete_l, weak_l = (flat.tolist(), start.tolist(), complete.tolist(),
                                           weak.tolist())  # fmt: skip
    out: dict[int, list[dict[str, Any]]] = {}
    p = 0
    for sink, r in zip(sink_ids, sink_rows, strict=True):
        paths = out.setdefault(sink, [])
        for _ in range(int(count[r])):
            w = hop_of[weak_l[p]]
            paths.append({
                "strength": w["tainted"],
                # the weakest step's own text: the same figure and decimals
                "strength_decimal": w["tainted_decimal"],
                "complete": complete_l[p],
                "hops": list(map(dict, map(hop_of.__getitem__, flat_l[start_l[p]:start_l[p + 1]]))),
            })  # fmt: skip
            p += 1
        if not paths:
            del out[sink]
    for paths in out.values():  # strongest first; ties: fewer hops, then as found
        paths.sort(key=lambda p: (-p["strength"], len(p["hops"])))
    return out


def iso_times(ts: pl.Series) -> list[str]:
    """Each UTC time as ``datetime.isoformat()`` writes it, ``Z`` for ``+00:00`` (seconds,
    then ``.ffffff`` only when the microseconds are not 0), from the integer microseconds:
    a Python datetime per row cost ~9 µs to build and format (zoneinfo), ~2.5 ms a spread
    follow's paths."""
    dtype = ts.dtype
    if isinstance(dtype, pl.Datetime) and dtype.time_unit == "us":
        us = ts.cast(pl.Int64).to_numpy().astype(np.int64)  # the stored µs (~3 µs, not ~25)
    else:
        us = ts.dt.epoch("us").to_numpy().astype(np.int64)
    secs, frac = np.divmod(us, 1_000_000)
    base = np.datetime_as_string(secs.astype("datetime64[s]")).tolist()
    return [f"{b}.{f:06d}Z" if f else f"{b}Z" for b, f in zip(base, frac.tolist(), strict=True)]


#: the columns a path step shows of its stored transfer
PATH_COLUMNS = ["tx_hash", "amount", "ts", "value", "decimals"]
#: per row source (the generation's partition reader, or an in-memory workspace's transfer
#: frame; by identity, checked alive): each edge's stored path-step fields
_PATH_ROWS: dict[int, tuple[weakref.ref[Any], dict[int, tuple[Any, ...]]]] = {}
PATH_ROWS_KEEP = 200_000


def path_rows(workspace: Workspace, edges: np.ndarray) -> list[tuple[Any, ...]]:
    """Per edge (a row number of the transfer table) its ``(tx_hash, amount, ts text,
    amount_exact, decimals)`` as a path step shows them (:data:`PATH_COLUMNS` read by
    :meth:`~tracer.store.workspace.Workspace.rows`). A case's questions show the same steps
    again and again, and a generation's rows never change: the fields are kept per row
    source, the object a generation's rows are read from (a commit or ``refresh`` makes a new
    one, so an append, a backfill or another generation is never served from the old),
    up to :data:`PATH_ROWS_KEEP` edges."""
    owner = _row_source(workspace)
    if owner is None:  # not a workspace (a stand-in serving rows): read each time
        return _read_path_rows(workspace, np.asarray(edges, dtype=np.int64))
    hit = _PATH_ROWS.get(id(owner))
    if hit is None or hit[0]() is not owner:
        for k in [k for k, (r, _) in _PATH_ROWS.items() if r() is None or k == id(owner)]:
            del _PATH_ROWS[k]
        hit = _PATH_ROWS[id(owner)] = (weakref.ref(owner), {})
    kept = hit[1]
    keys = np.asarray(edges, dtype=np.int64).tolist()
    want = [e for e in dict.fromkeys(keys) if e not in kept]
    if want:
        if len(kept) + len(want) > PATH_ROWS_KEEP:
            kept.clear()
        got = _read_path_rows(workspace, np.array(want, dtype=np.int64))
        kept.update(zip(want, got, strict=True))
    return [kept[e] for e in keys]


def _row_source(workspace: Workspace) -> Any:
    """The object a workspace's pinned rows are read from (its partition reader; in memory,
    its transfer frame), new with every generation it pins; None for a stand-in."""
    if not isinstance(workspace, Workspace):
        return None
    owner = workspace.parts()
    return workspace.transfers() if owner is None else owner


def _read_path_rows(workspace: Workspace, edges: np.ndarray) -> list[tuple[Any, ...]]:
    """:func:`path_rows` read now, one stored-row read for every edge."""
    rows = workspace.rows(edges, PATH_COLUMNS)
    cols = (rows["tx_hash"].to_list(), rows["amount"].to_list(), iso_times(rows["ts"]),
            rows["value"].to_list(), rows["decimals"].to_list())  # fmt: skip
    return [(tx_hash, float(amount), ts, exact_text(value, decimals), decimals)
            for tx_hash, amount, ts, value, decimals in zip(*cols, strict=True)]  # fmt: skip


#: per node count and thread: the walk's zeroed scratch (lazily paged: a follow writes the pages
#: of the nodes it touches, and leaves them zero)
_WALK: dict[tuple[int, int], np.ndarray] = {}


def _walk_scratch(n: int) -> np.ndarray:
    """:func:`~tracer.kernels.path_keep.path_steps`' scratch for ``n`` nodes, allocated once
    per size and thread (the last two sizes kept)."""
    key = (n, threading.get_ident())
    hit = _WALK.get(key)
    if hit is None:
        while len(_WALK) >= 2:
            del _WALK[next(iter(_WALK))]
        hit = _WALK[key] = sparse_zeros((n, 4), np.float64)
    return hit


def ledger_frame(
    tainted: dict[str, np.ndarray],
    workspace: Workspace,
    model: str,
    backward: bool,
    lab: pl.DataFrame,
    role: np.ndarray,
) -> pl.DataFrame:
    """One row per tainted transfer: enough to recompute every figure by hand.

    ``is_seed`` marks the traced transfers themselves (a source's outflow inside the window):
    wholly tainted by definition, ``tainted = amount``. On every other row
    ``sender_balance_before``/``sender_taint_before`` are the sender's state just before the
    transfer (after the unknown-prior-funds adjustment), so the model's rule recomputes
    ``tainted``: haircut ``amount · taint_before / balance_before``, taint-first
    ``min(amount, taint_before)``, clean-first ``max(0, amount − (balance_before −
    taint_before))``, poison ``amount`` (taint_before > 0). ("Sender" is the sweep's: under
    ``source``, the time-reversed graph's, i.e. the stored row's receiver.) ``src_name`` ...
    ``dst_category`` are the stored sender's and receiver's labels (an entity's, with
    ``--entities``).
    """
    rows = workspace.rows(tainted["index"])
    k_src = tainted["src"].astype(np.int64)
    k_dst = tainted["dst"].astype(np.int64)
    s_node, d_node = (k_dst, k_src) if backward else (k_src, k_dst)
    names = lab.select("id", "name", "category")

    def labels_of(ids: np.ndarray, who: str) -> pl.DataFrame:
        return (
            pl.DataFrame({"id": ids.astype(np.int32)}, schema={"id": pl.Int32})
            .join(names, on="id", how="left", maintain_order="left")
            .select(
                pl.col("name").alias(f"{who}_name"),
                pl.col("category").alias(f"{who}_category"),
            )
        )

    base = rows.select(
        pl.Series("edge", tainted["index"], pl.Int64),
        "chain", "asset", "token", "tx_hash", "seq", "block", "ts", "src", "dst", "value",
        "decimals", "amount",
    ).with_columns(
        pl.Series("tainted", tainted["taint"], pl.Float64),
        pl.Series("is_seed", role[k_src] == SOURCE if k_src.size else [], pl.Boolean),
        pl.Series("sender_balance_before", tainted["bal_before"], pl.Float64),
        pl.Series("sender_taint_before", tainted["taint_before"], pl.Float64),
        pl.Series("hop", tainted["hop"], pl.Int32),
        pl.lit(model).alias("model"),
        pl.lit("backward" if backward else "forward").alias("direction"),
    )  # fmt: skip
    return pl.concat([base, labels_of(s_node, "src"), labels_of(d_node, "dst")], how="horizontal")


def by_amount(frame: pl.DataFrame) -> pl.DataFrame:
    """Largest first; ties by chain and address, so the order does not depend on address ids
    (which follow ingest order in an append-only workspace)."""
    return frame.sort(["amount", "chain", "address"], descending=[True, False, False])


def top_ids(ids: np.ndarray, amounts: np.ndarray, k: int) -> np.ndarray:
    """The ids whose amount is among the ``k`` largest, ties at the boundary included (the final
    order, :func:`by_amount`, then cuts to ``k``), without building rows for every id."""
    return ids[top_positions(amounts, k)]


def top_positions(amounts: np.ndarray, k: int) -> slice | np.ndarray:
    """Where :func:`top_ids` takes its ids from (a slice or a mask over ``amounts``), to take
    what goes along with them (their hops, first arrivals) the same way."""
    n = amounts.shape[0]
    if k <= 0 or n == 0:
        return slice(0, 0)
    if n <= k:
        return slice(0, n)
    kth = np.partition(amounts, n - k)[n - k]
    return amounts >= kth
