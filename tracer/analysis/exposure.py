"""``exposure``: how exposed is each address to scams, sanctions, mixers, ... (batch, Parquet).

For every requested address and every label category: the amount it received from (``in``) or
sent towards (``out``) that category, directly (one hop from a labelled address) and indirectly
(through unlabelled wallets), under a taint model; shares of its flow; minimum hops; and a risk
score. All addresses are computed in one time-ordered sweep per direction
(:mod:`kernels.exposure`), not one trace per address: memory is O(addresses × categories).

``out`` is the same sweep on the time-reversed graph (as ``tracer source`` is to ``follow``): an
address's outflows are traced forward in time to the labelled services where they end.

The report has one row per (address, direction, category) with non-zero exposure, plus one
``unattributed`` row per (address, direction), so that shares sum to 1 (conserving models).
Columns and metadata are documented in the README ("Exposure reports") and in
:data:`REPORT_SCHEMA`; keep them stable.
"""

from __future__ import annotations

import functools
import hashlib
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np
import polars as pl
import pyarrow as pa

from tracer.core.errors import UsageError
from tracer.graph.selection import (
    EdgeSelection,
    asset_tokens,
    node_labels,
    resolve_nodes,
    selects_every_edge,
    to_us,
)
from tracer.graph.spec import Selection
from tracer.graph.stream import in_chunks, selected_chunks, use_stream
from tracer.kernels.exposure import (
    ABSORBED,
    BEYOND,
    DIRECT,
    DUST,
    EXPOSURE_MODELS,
    INDIRECT,
    N_CAT_STATS,
    NORMAL,
    OVERDRAFT_AMOUNT,
    OVERDRAFTS,
    SEEDED,
    SOURCE,
    THROUGH,
    ExposureState,
    exposure_sweep,
)
from tracer.sources.labels import category_order
from tracer.store.workspace import Workspace

DIRECTIONS = ("in", "out")
#: Edges per kernel call in memory: the unit of progress (streamed: one Parquet row group).
CHUNK = 1 << 21

#: The report's columns (stable contract; README "Exposure reports").
REPORT_SCHEMA = pa.schema(
    [
        ("address", pa.string()),
        ("chain", pa.string()),
        ("asset", pa.string()),
        ("direction", pa.string()),
        ("category", pa.string()),
        ("direct_amount", pa.float64()),
        ("indirect_amount", pa.float64()),
        ("total_amount", pa.float64()),
        ("share", pa.float64()),
        ("direct_share", pa.float64()),
        ("indirect_share", pa.float64()),
        ("min_hops", pa.int32()),
        ("risk_score", pa.float64()),
        ("address_risk_score", pa.float64()),
        ("flow_amount", pa.float64()),
        ("flow_value", pa.string()),
        ("direct_value", pa.string()),
        ("address_name", pa.string()),
        ("address_category", pa.string()),
    ]
)

REPORT_PL = pl.DataFrame(REPORT_SCHEMA.empty_table()).schema


def report_frame(table: pa.Table) -> pl.DataFrame:
    """A report table (:func:`tracer.analysis.exposure_rows.assemble_table`, possibly several
    concatenated) as a Polars frame in :data:`REPORT_PL`: dictionaries decoded, plain strings."""
    frame = pl.from_arrow(table.cast(REPORT_SCHEMA))
    assert isinstance(frame, pl.DataFrame)
    return frame.select(pl.col(n).cast(t) for n, t in REPORT_PL.items())


@dataclass(frozen=True)
class ExposureRequest:
    """What the user asked (picklable: shipped as is to distributed workers)."""

    addresses: tuple[str, ...] | None  # None: every address with a transfer in the selection
    model: str = "haircut"
    directions: tuple[str, ...] = DIRECTIONS
    categories: tuple[str, ...] | None = None  # None: every category present in the labels
    selection: Selection = field(default_factory=Selection)  # the transfers in play (shared)

    def as_json(self) -> dict[str, Any]:
        """The request as report metadata records it (``request``; addresses left out: the
        metadata counts them)."""
        sel = self.selection.as_json()
        return {"model": self.model, "directions": list(self.directions), **{
            k: sel[k] for k in ("assets", "since", "until", "through")
        }, "categories": None if self.categories is None else list(self.categories), **{
            k: sel[k] for k in ("max_hops", "min_amount", "stream")
        }}  # fmt: skip

    def validate(self) -> None:
        if self.model not in EXPOSURE_MODELS:
            raise UsageError(
                f"--model {self.model}: exposure supports {', '.join(EXPOSURE_MODELS)} "
                "(lot-based models need one queue per category and are follow-only)"
            )
        bad = [d for d in self.directions if d not in DIRECTIONS]
        if bad or not self.directions:
            raise UsageError("--direction must be in, out or both")
        if self.addresses is not None and not self.addresses:
            raise UsageError("no addresses to report on: give an ADDRESSES_FILE or --all")


@dataclass
class ExposurePlan:
    """Kernel inputs for a request: selected edges, node kinds and categories, report rows.

    In memory the selected edges are arrays here; streamed (``source`` set) they are read
    chunk by chunk from the workspace's partitions at every pass and the arrays are None.
    """

    src: np.ndarray | None
    dst: np.ndarray | None
    amount: np.ndarray | None
    ts: np.ndarray | None
    #: full edge id of each selected edge; None in memory when every edge is selected (edge
    #: ``i`` is edge ``i``: :attr:`index` builds the identity only if asked)
    edge_ids: np.ndarray | None
    kind: np.ndarray  # int8 per node
    cat: np.ndarray  # int32 per node: index into categories (reported), or -1
    cat_all: np.ndarray  # int32 per node: index into all_categories (every label), or -1
    categories: list[str]  # reported
    all_categories: list[str]
    target_ids: np.ndarray  # int32 node id per report row
    target_row: np.ndarray  # int32 per node: report row or -1
    missing: list[str]
    lo: int | None
    hi: int | None
    excluded_unknown: int
    assets: list[str]
    n_edges: int
    token_ids: np.ndarray
    source: Workspace | None = None  # streamed from this workspace's partitions

    @property
    def index(self) -> np.ndarray | None:
        """Full edge id of each selected edge (in memory; None streamed). For a selection of
        every edge the identity, built on first use, off the sweeps' way: the sweeps do not
        need it, only the exact sums (on the side thread) do."""
        if self.edge_ids is None and self.src is not None:
            self.edge_ids = np.arange(self.src.shape[0], dtype=np.int64)
        return self.edge_ids


@dataclass
class DirectionResult:
    """Per-row sums of one direction's sweep (full category axis)."""

    direct: np.ndarray
    indirect: np.ndarray
    min_hops: np.ndarray
    flow: np.ndarray
    touched: np.ndarray
    stats: np.ndarray  # [K, N_CAT_STATS]: seeded, dust, beyond, direct, indirect, absorbed
    overdrafts: float = 0.0
    overdraft_amount: float = 0.0
    held: np.ndarray | None = None  # [K]: taint left in wallets at the end, per category


class ExposureReport:
    """The report rows and their metadata.

    The local engine builds the rows as Arrow (:class:`~tracer.analysis.exposure_rows.
    RowParts`: few-valued string columns dictionary-encoded), assembled part by part as the
    Parquet writer takes them (:meth:`arrow_parts`), or as one ``table`` when asked; the
    Polars ``frame`` (plain strings, :data:`REPORT_PL`) is made from the table only when
    asked (CSV, JSON, HTML, the terminal table, callers): on an ``--all`` report that
    conversion is a copy of every row, which ``-o report.parquet`` does not need.
    """

    def __init__(
        self,
        frame: pl.DataFrame | None = None,
        metadata: dict[str, Any] | None = None,
        table: pa.Table | None = None,
        parts: RowSource | None = None,
    ) -> None:
        if sum(x is not None for x in (frame, table, parts)) != 1:
            raise ValueError(
                "an exposure report holds its rows as a frame or as a table (or parts)"
            )
        self._frame = frame
        self._table = table
        self._parts = parts
        self.metadata: dict[str, Any] = metadata if metadata is not None else {}

    @property
    def table(self) -> pa.Table | None:
        """The rows as one Arrow table (assembled from the parts once), or None for a report
        made from a frame."""
        if self._table is None and self._parts is not None:
            self._table = self._parts.table()
        return self._table

    @property
    def frame(self) -> pl.DataFrame:
        """The rows as a Polars frame in :data:`REPORT_PL` (made from ``table`` once)."""
        if self._frame is None:
            table = self.table
            assert table is not None
            self._frame = report_frame(table)
        return self._frame

    @property
    def height(self) -> int:
        """Number of rows (without assembling them)."""
        if self._parts is not None:
            return self._parts.num_rows
        return self._table.num_rows if self._table is not None else self.frame.height

    def arrow(self) -> pa.Table:
        """The rows as Arrow in :data:`REPORT_SCHEMA`'s order; string columns may be
        dictionary-encoded (their values are the schema's strings)."""
        table = self.table
        if table is not None:
            return table
        return self.frame.to_arrow().cast(REPORT_SCHEMA)

    def arrow_parts(self) -> Iterator[pa.Table]:
        """The rows as :meth:`arrow` gives them, in consecutive tables (assembled one at a
        time, as the caller takes them, unless the whole table was made already)."""
        if self._table is None and self._parts is not None:
            yield from self._parts
        else:
            yield self.arrow()


class RowSource(Protocol):
    """Report rows assembled on demand (:class:`~tracer.analysis.exposure_rows.RowParts`)."""

    num_rows: int

    def table(self) -> pa.Table: ...

    def __iter__(self) -> Iterator[pa.Table]: ...


def make_plan(
    ws: Workspace, req: ExposureRequest, token_ids: np.ndarray | None = None
) -> ExposurePlan:
    """Select edges, assign node kinds/categories and report rows (no sweeping yet).

    ``token_ids``: one asset group's tokens (:func:`exposure` plans each group); default every
    token ``req.selection.assets`` selects (one group, as the Ray workers plan it).
    """
    req.validate()
    stream = use_stream(ws, req.selection.stream)
    graph = ws.nodes() if stream else ws.graph()
    if token_ids is None:
        token_ids = asset_tokens(graph, req.selection.assets)
    labelled = node_labels(graph, ws.labels())
    present = category_order(labelled["category"].unique().to_list())
    if req.categories is not None:
        unknown = [c for c in req.categories if c not in present]
        if unknown:
            raise UsageError(
                f"--categories: no labels of {', '.join(unknown)} in the data "
                f"(have: {', '.join(present) or 'none'})"
            )
        categories = [c for c in present if c in req.categories]
    else:
        categories = present
    n = graph.n_nodes
    kind = np.full(n, NORMAL, dtype=np.int8)
    cat_all = np.full(n, -1, dtype=np.int32)
    cat = np.full(n, -1, dtype=np.int32)
    if labelled.height:
        ids = labelled["id"].to_numpy()
        cats = labelled["category"].to_numpy()
        kind[ids] = np.where(np.isin(cats, list(req.selection.through)), THROUGH, SOURCE)
        index_all = {c: i for i, c in enumerate(present)}
        index = {c: i for i, c in enumerate(categories)}
        cat_all[ids] = np.array([index_all[c] for c in cats], dtype=np.int32)
        cat[ids] = np.array([index.get(c, -1) for c in cats], dtype=np.int32)
    # one pass over the selection (streamed: over the id columns, chunk by chunk): how many
    # edges, how many excluded, and for --all which addresses have a selected transfer
    seen = np.zeros(n, dtype=np.bool_) if req.addresses is None else None
    n_edges = excluded = 0
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None] | None = None
    if not stream and selects_every_edge(ws.graph(), token_ids):
        # every edge: the graph's own arrays, without the identity index (see ExposurePlan)
        g = ws.graph()
        arrays = (g.src, g.dst, g.amount, g.ts, None)
        n_edges = g.n_edges
        if seen is not None:
            mark_nodes(seen, g.src, g.dst)
    else:
        for sel in selected_chunks(ws, token_ids, stream=stream, chunk=None):
            n_edges += sel.src.shape[0]
            excluded += sel.excluded_unknown
            if seen is not None:
                mark_nodes(seen, sel.src, sel.dst)
            if not stream:
                arrays = (sel.src, sel.dst, sel.amount, sel.ts, sel.index)
    missing: list[str] = []
    if seen is not None:
        target_ids = np.flatnonzero(seen).astype(np.int32)
    else:
        target_ids, missing = resolve_nodes(graph, list(req.addresses))  # type: ignore[arg-type]
    target_row = np.full(n, -1, dtype=np.int32)
    target_row[target_ids] = np.arange(target_ids.shape[0], dtype=np.int32)
    assets = graph.tokens.filter(pl.col("token_id").is_in(token_ids.tolist()))["asset"]
    src, dst, amount, ts, edge_ids = (None,) * 5 if arrays is None else arrays
    return ExposurePlan(
        src=src, dst=dst, amount=amount, ts=ts, edge_ids=edge_ids,
        kind=kind, cat=cat, cat_all=cat_all, categories=categories, all_categories=present,
        target_ids=target_ids, target_row=target_row,
        missing=missing, lo=to_us(req.selection.since), hi=to_us(req.selection.until),
        excluded_unknown=excluded, assets=sorted({a for a in assets.to_list() if a}),
        n_edges=n_edges, token_ids=token_ids, source=ws if stream else None,
    )  # fmt: skip


def mark_nodes(seen: np.ndarray, src: np.ndarray, dst: np.ndarray) -> None:
    """``seen[src] = seen[dst] = True``; from a million edges the two scatters run on two
    threads (numpy releases the GIL in them: ~0.1 s each at 10M edges on the serial plan
    path). Each only writes True, so the result is the same whatever the timing."""
    if src.shape[0] < 1 << 20:
        seen[src] = True
        seen[dst] = True
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(seen.__setitem__, dst, True)
        seen[src] = True
        other.result()


def edge_chunks(plan: ExposurePlan, direction: str = "in") -> Iterator[EdgeSelection]:
    """The plan's edges in sweep order; ``out`` is the time-reversed graph (outflows become
    inflows)."""
    rev = direction == "out"
    if plan.source is not None:
        yield from selected_chunks(plan.source, plan.token_ids, stream=True, reverse=rev)
        return
    # an in-memory plan holds every edge array (only a streamed plan has ``source`` instead)
    assert plan.index is not None and plan.src is not None and plan.dst is not None
    assert plan.amount is not None and plan.ts is not None
    sel = EdgeSelection(index=plan.index, src=plan.src, dst=plan.dst, amount=plan.amount,
                        ts=plan.ts, excluded_unknown=0)  # fmt: skip
    yield from in_chunks(sel, CHUNK, reverse=rev)


class SweepChunk(NamedTuple):
    """One kernel call's edges (views of the plan's arrays, or a streamed chunk's)."""

    src: np.ndarray
    dst: np.ndarray
    amount: np.ndarray
    ts: np.ndarray


def _sweep_chunks(
    plan: ExposurePlan, direction: str
) -> Iterator[tuple[EdgeSelection | SweepChunk, bool]]:
    """The kernel's chunks for ``direction``, each with whether it is walked backwards.

    In memory, ``out`` (the time-reversed graph, as :func:`edge_chunks` gives it) is the
    forward arrays' chunks from the last, each walked backwards by the kernel with sender and
    receiver swapped: the same edges in the same order as the reversed chunks, without the
    reversed copy of every edge array (240 MB at 10M edges) the kernel would otherwise make.
    In memory the chunks carry no edge ids (the kernel needs none; see :attr:`ExposurePlan.
    index`).
    """
    if plan.source is not None:
        for sel in edge_chunks(plan, direction):
            yield sel, False
        return
    assert plan.src is not None and plan.dst is not None
    assert plan.amount is not None and plan.ts is not None
    n = plan.src.shape[0]
    if direction != "out":
        for a in range(0, max(n, 1), CHUNK):
            b = min(a + CHUNK, n)
            yield SweepChunk(plan.src[a:b], plan.dst[a:b], plan.amount[a:b], plan.ts[a:b]), False
        return
    for b in range(n, 0, -CHUNK):
        a = max(b - CHUNK, 0)
        yield SweepChunk(plan.dst[a:b], plan.src[a:b], plan.amount[a:b], plan.ts[a:b]), True


def sweep(
    plan: ExposurePlan,
    req: ExposureRequest,
    direction: str,
    group: list[int] | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> DirectionResult:
    """One direction's sweep over all edges, for the reported categories ``group`` (None: all).

    Labelled categories outside ``group`` (other groups', and those not reported at all) share
    one extra "other" slot: they are tracked, so a pass-through service's own share and the
    taint-first/clean-first pool see them, but not reported. Without dust or hop limits the
    slot is exact (every model is linear in how it splits a sum of categories), so sweeping
    category groups separately gives exactly the all-at-once result: that is how the Ray engine
    shards. With ``min_amount``/``max_hops`` the limits apply to the slot as a whole, so
    sharding is by direction only.
    """
    k_rep = len(plan.categories)
    group = list(range(k_rep)) if group is None else group
    k = len(group)
    rep_to_all = np.array(
        [plan.all_categories.index(c) for c in plan.categories], dtype=np.int64
    ).reshape(-1)
    remap = np.full(len(plan.all_categories) + 1, k, dtype=np.int32)  # the "other" slot
    remap[rep_to_all[group]] = np.arange(k, dtype=np.int32)
    remap[-1] = -1  # unlabelled (cat_all == -1 indexes the last entry)
    cat = remap[plan.cat_all]
    # the "other" slot only when a labelled address has a category outside ``group`` (every
    # category reported in one sweep: never, and each edge's category loops are 8 not 9
    # slots; an empty slot changes no sum, so the results are the same bit for bit)
    other = len(group) < len(plan.all_categories)
    state = ExposureState(plan.kind.shape[0], k + 1 if other else k, plan.target_row)
    for sel, backward in _sweep_chunks(plan, direction):
        exposure_sweep(
            state, sel.src, sel.dst, sel.amount, sel.ts, plan.kind, cat,
            model=req.model, min_amount=req.selection.min_amount,
            max_hops=req.selection.max_hops,
            lo=plan.lo, hi=plan.hi, backward=backward,
        )  # fmt: skip
        if on_chunk is not None:
            on_chunk(sel.src.shape[0])
    rows = plan.target_ids.shape[0]
    if group == list(range(k_rep)):
        # every reported category in this sweep (the local engine): views of the state's
        # per-row arrays (a last column, if any, is the "other" slot), not copies (~26 MB of fresh
        # memory per direction at 146k rows and 8 categories)
        return DirectionResult(
            direct=state.direct[:rows, :k], indirect=state.indirect[:rows, :k],
            min_hops=state.min_hops[:rows, :k], flow=state.flow, touched=state.touched,
            stats=state.stats[:k], overdrafts=float(state.run_stats[OVERDRAFTS]),
            overdraft_amount=float(state.run_stats[OVERDRAFT_AMOUNT]),
            held=state.taint[:, :k].sum(axis=0),
        )  # fmt: skip
    out = DirectionResult(
        direct=np.zeros((rows, k_rep)), indirect=np.zeros((rows, k_rep)),
        min_hops=np.full((rows, k_rep), -1, dtype=np.int32), flow=state.flow,
        touched=state.touched, stats=np.zeros((k_rep, N_CAT_STATS)),
        overdrafts=float(state.run_stats[OVERDRAFTS]),
        overdraft_amount=float(state.run_stats[OVERDRAFT_AMOUNT]),
        held=np.zeros(k_rep),
    )  # fmt: skip
    if group:
        out.direct[:, group] = state.direct[:rows, :k]
        out.indirect[:, group] = state.indirect[:rows, :k]
        out.min_hops[:, group] = state.min_hops[:rows, :k]
        out.stats[group] = state.stats[:k]
        out.held[group] = state.taint[:, :k].sum(axis=0)  # type: ignore[index]
    return out


def _total(arrays: list[np.ndarray]) -> np.ndarray:
    """Element-wise sum in list order (the same additions, in the same order, as ``sum``)."""
    return functools.reduce(operator.add, arrays)


def merge_groups(parts: list[DirectionResult]) -> DirectionResult:
    """Combine category-group results of one direction (disjoint category columns)."""
    first = parts[0]
    held = [p.held for p in parts if p.held is not None]
    out = DirectionResult(
        direct=_total([p.direct for p in parts]),
        indirect=_total([p.indirect for p in parts]),
        min_hops=np.max([p.min_hops for p in parts], axis=0), flow=first.flow,
        touched=first.touched, stats=_total([p.stats for p in parts]),
        overdrafts=first.overdrafts, overdraft_amount=first.overdraft_amount,
        held=_total(held) if held else None,
    )  # fmt: skip
    return out


def label_set_hash(labels: pl.DataFrame) -> str:
    """sha256 of the label table in a canonical order (recorded so a report can be reproduced)."""
    canon = labels.select(sorted(labels.columns)).sort(sorted(labels.columns), nulls_last=True)
    return hashlib.sha256(canon.write_csv().encode()).hexdigest()


def _accounting(plan: ExposurePlan, results: dict[str, DirectionResult]) -> dict[str, Any]:
    """Per direction: unknown prior funds, and per category where the seeded taint went."""
    return {
        d: {
            "unknown_prior_funds": {
                "transfers": int(r.overdrafts),
                "amount": r.overdraft_amount,
            },
            "per_category": {
                c: {
                    "seeded": float(r.stats[i, SEEDED]),
                    "direct": float(r.stats[i, DIRECT]),
                    "indirect": float(r.stats[i, INDIRECT]),
                    "absorbed_by_labelled": float(r.stats[i, ABSORBED]),
                    "held": float(r.held[i]) if r.held is not None else None,
                    "dust": float(r.stats[i, DUST]),
                    "beyond_max_hops": float(r.stats[i, BEYOND]),
                }
                for i, c in enumerate(plan.categories)
            },
            "rule": "seeded = held + absorbed_by_labelled + dust + beyond_max_hops (every "
            "model but poison); direct/indirect: what arrived at hop 1 / later, anywhere; "
            "beyond_max_hops: what wallets at the hop limit passed on after it arrived",
        }
        for d, r in results.items()
    }


def _workspace_desc(ws: Workspace) -> dict[str, Any]:
    if ws.path is None:
        return {"kind": "in-memory", "files": list(ws.sources)}
    return {"kind": "directory", "path": str(ws.path.resolve()),
            "generation": ws.manifest().get("generation")}  # fmt: skip


def _version() -> str:
    from tracer.core.version import __version__

    return __version__
