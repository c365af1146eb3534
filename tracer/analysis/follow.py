"""``follow`` and ``source``: where did the money of these wallets go (or come from)?

One use case: select edges and roles (:mod:`tracer.graph.selection`), run a taint kernel
(:mod:`kernels.taint`), and turn its arrays into frames an investigator reads: services reached
with amounts, shares, minimum hops, first arrival and the strongest paths; the largest unlabelled
holders still sitting on taint; and an accounting line that closes
(``reached + returned + held + dust + beyond hop limit = traced``), except under poison, which
does not conserve value and says so.

``source`` is the same computation on the time-reversed graph (edges reversed and processed from
the newest to the oldest): the deposit address's *inflows* are traced back to where they came
from, and the model's rule is applied to each wallet's later outflows instead of its earlier
inflows. Time is respected in both directions.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from tracer.analysis.diagnostics import data_summary, follow_warnings
from tracer.analysis.follow_group import group_frames
from tracer.analysis.follow_result import AssetAccount, FollowResult
from tracer.analysis.follow_rows import (
    address_texts,
    ledger_frame,
)
from tracer.analysis.local_follow import (
    ENGINES,
    EngineChoice,
    engine_options,
    local_first,
)
from tracer.analysis.local_state import give_back, released, written
from tracer.analysis.path_keep import PathEdges
from tracer.analysis.sweep_counts import SweepCounts
from tracer.core.addresses import display
from tracer.core.errors import UsageError
from tracer.core.progress import Advance, Progress, no_progress
from tracer.graph.selection import (
    AssetGroup,
    EdgeSelection,
    asset_groups,
    asset_tokens,
    node_labels,
    parse_address,
    resolve_nodes,
    roles,
)
from tracer.graph.spec import Selection
from tracer.graph.stream import CHUNK, prepared_chunks, use_stream
from tracer.kernels.taint import (
    MODELS,
    SOURCE,
    ChunkResult,
    SweepState,
    sweep_chunk,
)
from tracer.sources.labels import primary_labels
from tracer.store.graph_cache import NodeIndex
from tracer.store.workspace import Workspace

if TYPE_CHECKING:
    from tracer.analysis.by_source import SourceColours

#: Model names accepted by ``--model`` (stable contract for scripts).
MODEL_NAMES = tuple(MODELS)
#: The row frames a run collects, one part per asset group.
FRAMES = ("reached", "through", "held", "frontier", "ledger", "by_source")


@dataclass
class TraceSetup:
    """What every asset group's sweep of one run shares: the nodes, who is a source, sink or
    pass-through, the labels as rows show them, the entity lift and the per-source colours."""

    workspace: Workspace
    graph: NodeIndex
    selection: Selection  # with ``stream`` resolved (True/False)
    model: str
    backward: bool
    src_ids: np.ndarray  # node ids of the sources (entities: their entities)
    missing: list[str]  # given addresses not in the data
    labelled: pl.DataFrame  # every labelled node (``label_inferred`` added)
    lab: pl.DataFrame  # the label columns rows are joined with
    role: np.ndarray  # int8 per node
    sizes: np.ndarray  # int64 per node: entity size (1 without entities)
    rep: np.ndarray | None  # int32 entity id per address, or None
    colours: SourceColours | None  # per-source taint colours (``by_source``), or None
    skipped_by_source: str | None  # why no per-source split was made, when one was wanted
    #: ``"local"``/``"sweep"`` forces an engine; None chooses (:mod:`.local_follow`)
    engine: str | None = None

    @property
    def stream(self) -> bool:
        return bool(self.selection.stream)

    @property
    def conserves(self) -> bool:
        return self.model != "poison"


@dataclass
class SweptGroups:
    """Every asset group swept: its account, its rows, and what the selections held."""

    accounts: list[AssetAccount] = field(default_factory=list)
    frames: dict[str, list[pl.DataFrame]] = field(
        default_factory=lambda: {k: [] for k in FRAMES}
    )
    counts: SweepCounts = field(default_factory=SweepCounts)
    #: each asset group's engine and why (``options["engine"]``)
    engines: list[tuple[str, EngineChoice]] = field(default_factory=list)


def follow(
    workspace: Workspace,
    sources: list[str],
    selection: Selection | None = None,
    *,
    model: str = "haircut",
    top_paths: int = 3,
    top_held: int = 20,
    ledger: bool = False,
    direction: str = "forward",
    entities: np.ndarray | bool | None = None,
    by_source: bool | None = None,
    progress: Progress | None = None,
    cross_asset: bool = True,
    hops: pl.DataFrame | None = None,
    infer_otc: bool = False,
    engine: str | None = None,
) -> FollowResult:
    """Trace the outflows of ``sources`` (``direction="backward"``: their inflows) under ``model``.

    ``selection`` (:class:`~tracer.graph.selection.Selection`; default: stablecoins, no window,
    no limits) says which transfers are in play. Labelled services are sinks unless their
    category is in ``selection.through``. See the module docstring for the accounting and
    README "Follow semantics" for the JSON contract.

    Each asset group (:func:`tracer.graph.selection.asset_groups`: the USD stablecoin pool, or one
    token) is swept on its own and accounted on its own: amounts of different tokens are never
    added (rows carry their ``asset``).

    ``entities`` (int32 entity id per node, from :mod:`~tracer.analysis.cluster`; ``True``: the
    workspace's current entities, stored or computed) makes each entity one node: transfers
    inside an entity are dropped (they are not hops, and nothing is counted twice), a labelled
    member's label spreads to its entity (``label_inferred`` unless every member carries it),
    and rows show the entity's representative address and size.

    ``selection.stream``: read edges chunk by chunk from the Parquet partitions instead of the
    graph cache (memory O(addresses) + the tainted edges). ``None``: stream when the workspace
    has no graph cache (a whole-chain workspace). Results are the same either way.

    ``by_source``: also split every reached service's amount by source, in the same sweep
    (each source its own taint colour; :mod:`tracer.analysis.by_source`). ``None``: whenever
    there are several sources and the model allows it; ``True``: required (a clear error
    otherwise).

    ``progress`` (:class:`~tracer.core.progress.Progress`): a bar over the streamed sweep; none
    by default (the command line passes one that draws on a terminal).

    ``cross_asset`` (default on): taint continues through the workspace's hops — swaps, wraps,
    bridges, and with ``infer_otc`` inferred OTC pass-throughs — at each hop's own rate
    (:mod:`tracer.analysis.cross_follow`); ``hops``: a hop frame to use instead of
    :func:`tracer.analysis.hops.load_hops`. With no hops the run is exactly the plain one.

    ``engine``: ``"local"`` runs only the tainted subgraph (:mod:`tracer.analysis.local_follow`,
    the same result), ``"sweep"`` every selected transfer; ``None`` (default) runs local while
    the taint stays small and switches to the sweep by itself. ``options["engine"]`` and
    ``options["engine_reason"]`` say which ran and why.
    """
    check_request(model, direction, sources)
    if engine is not None and engine not in ENGINES:
        raise UsageError(f"engine must be one of {', '.join(ENGINES)} (or None to choose)")
    setup = prepare(
        workspace, sources, selection or Selection(), model=model,
        backward=direction == "backward", entities=entities, by_source=by_source,
    )  # fmt: skip
    setup.engine = engine
    groups = asset_groups(setup.graph.tokens, asset_tokens(setup.graph, setup.selection.assets))
    if cross_asset:
        from tracer.analysis.cross_follow import FollowKit, follow_across

        kit = FollowKit(SweptGroups, group_frames, ledger_frame, sweep_groups, build_result,
                        run_warnings)  # fmt: skip
        done = follow_across(setup, groups, hops, kit, infer_otc=infer_otc, ledger=ledger,
                             top_paths=top_paths, top_held=top_held, direction=direction)
        if done is not None:
            return done
    swept = sweep_groups(setup, groups, ledger=ledger, top_paths=top_paths, top_held=top_held,
                         progress=progress or no_progress)  # fmt: skip
    result = build_result(setup, groups, swept, direction=direction, top_paths=top_paths)
    result.warnings = run_warnings(setup, swept)
    return result


def check_request(model: str, direction: str, sources: list[str]) -> None:
    """Refuse what cannot be traced before reading anything."""
    if model not in MODELS:
        raise UsageError(f"--model: unknown model {model!r}; choose from {', '.join(MODELS)}")
    if direction not in ("forward", "backward"):
        raise UsageError("direction must be 'forward' or 'backward'")
    if not sources:
        raise UsageError("give at least one address to follow")


def prepare(
    workspace: Workspace,
    sources: list[str],
    selection: Selection,
    *,
    model: str,
    backward: bool,
    entities: np.ndarray | bool | None = None,
    by_source: bool | None = None,
) -> TraceSetup:
    """Nodes, sources, labels, roles (and entities, colours) for a run: everything but edges."""
    stream = use_stream(workspace, selection.stream)
    if stream and model == "tiho":
        raise UsageError(
            "--model tiho groups each transaction's outputs, which needs the whole selection in "
            "one pass: run it without --stream (the graph cache is built on first use)"
        )
    graph = workspace.nodes() if stream else workspace.graph()
    src_ids, missing = _resolve(workspace, graph, sources)
    if src_ids.size == 0:
        raise UsageError(
            f"none of the addresses occurs in the data: {', '.join(missing)}; "
            f"{data_summary(graph)} (check the chain and that the export covering them was "
            "ingested)"
        )
    labelled, lab = _flagged(_node_labels(workspace, graph, workspace.labels()))
    # one per node without entities: a read-only broadcast, not 8 bytes written per address
    sizes = np.broadcast_to(np.int64(1), (graph.n_nodes,))
    rep = None
    if entities is True:
        from tracer.analysis.cluster import entity_labels

        entities, _ = entity_labels(workspace)
    if entities is not None and entities is not False:
        rep = np.ascontiguousarray(entities, dtype=np.int32)
        src_ids, labelled, sizes = _entity_labels(src_ids, labelled, rep)
        lab = labelled.select("id", "name", "category", "label_inferred")
    role = roles(graph, src_ids, labelled, selection.through)
    colours, skipped = _colours(model, role, src_ids, graph.n_nodes, by_source)
    return TraceSetup(
        workspace=workspace, graph=graph, selection=replace(selection, stream=stream),
        model=model, backward=backward, src_ids=src_ids, missing=missing, labelled=labelled,
        lab=lab, role=role,
        sizes=sizes, rep=rep, colours=colours, skipped_by_source=skipped,
    )  # fmt: skip


def _resolve(
    workspace: Workspace, graph: NodeIndex, sources: list[str]
) -> tuple[np.ndarray, list[str]]:
    """:func:`resolve_nodes`, by the case index's sorted address hashes when the workspace has
    them (a binary search per dictionary chunk and a check of the few candidates' text, not a
    join over every address: 0.05 s on 2M addresses); the same ids and misses."""
    idx = workspace.case_index()
    if idx is None or not idx.has_addresses:
        return resolve_nodes(graph, sources)
    found: set[int] = set()
    missing = []
    for text in sources:
        hit = False
        for chain, addr in parse_address(text):
            cand = np.unique(idx.candidates(addr))
            chains, addrs = address_texts(graph, cand)
            ids = [i for i, c, a in zip(cand.tolist(), chains, addrs, strict=True)
                   if a == addr and (chain is None or c == chain)]  # fmt: skip
            found.update(ids)
            hit = hit or bool(ids)
        if not hit:
            missing.append(text)
    return np.array(sorted(found), dtype=np.int32), missing


#: the last labelled-node frames, per graph and label table (both by identity, checked alive)
_LABELLED: dict[tuple[int, int], tuple[weakref.ref[Any], weakref.ref[Any], pl.DataFrame]] = {}


#: per labelled-node frame (by identity, checked alive): it with ``label_inferred`` (False) and
#: the columns rows are joined with
_FLAGGED: dict[int, tuple[weakref.ref[Any], pl.DataFrame, pl.DataFrame]] = {}


def _flagged(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``frame`` with ``label_inferred`` (False: every label is the address's own) and its
    ``id, name, category, label_inferred``; the same frames for every question of a session
    (so what is derived from them, :func:`~tracer.analysis.follow_frames.label_lookup`, is
    kept too)."""
    hit = _FLAGGED.get(id(frame))
    if hit is not None and hit[0]() is frame:
        return hit[1], hit[2]
    labelled = frame.with_columns(pl.lit(False).alias("label_inferred"))
    lab = labelled.select("id", "name", "category", "label_inferred")
    for k in [k for k, (r, _, _) in _FLAGGED.items() if r() is None]:
        del _FLAGGED[k]
    _FLAGGED[id(frame)] = (weakref.ref(frame), labelled, lab)
    return labelled, lab


def _node_labels(workspace: Workspace, graph: NodeIndex, labels: pl.DataFrame) -> pl.DataFrame:
    """:func:`node_labels`, kept per (graph, label table) of the session: it joins every
    address with the labels (0.13 s on 2M addresses), the same for every question of a case."""
    key = (id(graph), id(labels))
    hit = _LABELLED.get(key)
    if hit is not None and hit[0]() is graph and hit[1]() is labels:
        return hit[2]
    idx = workspace.case_index() if graph.rows_of is not None and not graph.loaded else None
    if idx is not None and labels.height:
        # only the ids whose address hashes like a label's (a binary search per label), not a
        # join over every address; node_labels joins those rows on the text: the same frame
        cand = idx.label_candidates(labels["address"].unique().to_list())
        frame = node_labels(graph, labels, nodes=graph.address_rows(cand))
    else:
        frame = node_labels(graph, labels)
    for k in [k for k, (g, lab, _) in _LABELLED.items() if g() is None or lab() is None]:
        del _LABELLED[k]
    _LABELLED[key] = (weakref.ref(graph), weakref.ref(labels), frame)
    return frame


def _colours(
    model: str, role: np.ndarray, src_ids: np.ndarray, n_nodes: int, by_source: bool | None
) -> tuple[SourceColours | None, str | None]:
    """Per-source colours when asked (``True``) or useful (``None`` and several sources);
    when only useful and not possible, why not (said as a warning)."""
    if not (by_source or (by_source is None and src_ids.shape[0] > 1)):
        return None, None
    from tracer.analysis.by_source import check_by_source, source_colours

    try:
        check_by_source(model, src_ids.shape[0], n_nodes)
        return source_colours(role, src_ids), None
    except UsageError as exc:
        if by_source:
            raise
        return None, str(exc)


def sweep_groups(
    setup: TraceSetup,
    groups: list[AssetGroup],
    *,
    ledger: bool = False,
    top_paths: int = 3,
    top_held: int = 20,
    progress: Progress = no_progress,
) -> SweptGroups:
    """Sweep each asset group on its own and turn it into its account and rows."""
    ws = setup.workspace
    reader = ws.parts() if setup.stream else None
    total = (reader.num_rows if reader is not None else 0) * len(groups)
    bar = progress if reader is not None else no_progress  # in memory: over in a moment
    swept = SweptGroups()
    frames = swept.frames
    nodes = setup.graph
    with bar("sweep", total) as advance:
        for group in groups:
            got, choice = local_first(setup, group.token_ids, ledger=ledger)
            swept.engines.append((group.name, choice))
            res, tainted, c = got or trace_edges(
                ws, group.token_ids, setup.role, setup.selection, model=setup.model,
                backward=setup.backward, entities=setup.rep, ledger=ledger, on_chunk=advance,
                colours=setup.colours, top_paths=top_paths,
            )  # fmt: skip
            swept.counts.merge(c)
            # local: only the entries the run wrote can hold a figure (the sources and the
            # tainted receivers: the state's written list; a state of its own, TIHO's or
            # by_source's: the tainted edges' receivers and :func:`prepare`'s ``src_ids``)
            lent = None if got is None else written(res)
            touched = lent if lent is not None or got is None else _receivers(tainted["dst"],
                                                                              setup.src_ids)
            acc, parts = group_frames(
                res, tainted, c, group, ws, setup.role, setup.lab, nodes, setup.sizes,
                conserves=setup.conserves, top_paths=top_paths, top_held=top_held,
                backward=setup.backward, touched=touched,
                # lent buffers: reset as the rows are picked (nothing below reads the state's
                # per-address arrays; by_source's state is its own, never lent)
                release=None if lent is None else partial(released, res),
            )  # fmt: skip
            swept.accounts.append(acc)
            for k, f in parts.items():
                frames[k].append(f)
            if ledger:
                frames["ledger"].append(
                    ledger_frame(tainted, ws, setup.model, setup.backward, setup.lab, setup.role)
                    .with_columns(pl.lit(group.name, pl.String).alias("asset_group"))
                )  # its account
            if setup.colours is not None:
                from tracer.analysis.by_source import by_source_frame

                frames["by_source"].append(by_source_frame(
                    res, setup.colours, setup.role, setup.lab, nodes.addresses, setup.src_ids,
                    group.name, setup.backward,
                ))  # fmt: skip
            if got is not None:  # its rows are built: the local buffers are clean for the next
                give_back(res)
    return swept


def _receivers(receivers: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """A local run's tainted receivers and sources (repeats allowed): the entries a state of
    its own (TIHO's, by_source's) can hold a figure at."""
    return np.concatenate([np.asarray(receivers, dtype=np.int64),
                           np.asarray(sources, dtype=np.int64)])  # fmt: skip


def build_result(
    setup: TraceSetup,
    groups: list[AssetGroup],
    swept: SweptGroups,
    *,
    direction: str,
    top_paths: int,
) -> FollowResult:
    """The run's :class:`FollowResult` (without warnings: :func:`run_warnings`)."""
    sel = setup.selection
    nodes = setup.graph
    frames = swept.frames
    entities = setup.rep is not None
    result = FollowResult(
        model=setup.model,
        direction=direction,
        sources=[display(c, a) for c, a in zip(*address_texts(nodes, setup.src_ids), strict=True)],
        assets=sorted({m for g in groups for m in g.members if m != "?"}),
        accounts=swept.accounts,
        reached=pl.concat(frames["reached"]),
        through=pl.concat(frames["through"]),
        held=pl.concat(frames["held"]),
        frontier=pl.concat(frames["frontier"]),
        conserves=setup.conserves,
        missing_sources=setup.missing,
        entities=entities,
        excluded_unknown_decimals=swept.counts.excluded_unknown,
        options={
            "since": None if sel.since is None else sel.since.isoformat(),
            "until": None if sel.until is None else sel.until.isoformat(),
            "through": list(sel.through),
            "max_hops": sel.max_hops,
            "min_amount": sel.min_amount,
            "asset": sel.assets or "stablecoins",
            "direction": direction,
            "top_paths": top_paths,
            "entities": entities,
            "by_source": setup.colours is not None,
            **engine_options(swept.engines),
        },
    )
    if frames["ledger"]:
        result.ledger = pl.concat(frames["ledger"])
    if setup.colours is not None:
        result.by_source = pl.concat(frames["by_source"])
    return result


def run_warnings(setup: TraceSetup, swept: SweptGroups) -> list[dict[str, str]]:
    """Why the run may mislead or found nothing (:mod:`tracer.analysis.diagnostics`)."""
    ws = setup.workspace
    warnings = follow_warnings(
        ws, setup.graph, counts=swept.counts, source_nodes=_members(setup.src_ids, setup.rep),
        selection=setup.selection, backward=setup.backward, stream=setup.stream,
        traced=sum(a.traced_total for a in swept.accounts),  # > 0 test only: any asset traced
        missing=setup.missing, n_labels=setup.labelled.height, n_loaded=ws.labels().height,
    )  # fmt: skip
    if setup.skipped_by_source:
        warnings.append({
            "code": "by_source_unavailable",
            "message": f"no per-source breakdown: {setup.skipped_by_source}",
        })  # fmt: skip
    return warnings


def _members(ids: np.ndarray, rep: np.ndarray | None) -> np.ndarray:
    """The address ids behind node ids (entities: every member of each entity)."""
    return ids if rep is None else np.flatnonzero(np.isin(rep, ids)).astype(np.int32)


def trace_edges(
    workspace: Workspace,
    token_ids: np.ndarray,
    role: np.ndarray,
    selection: Selection | None = None,
    *,
    model: str = "haircut",
    backward: bool = False,
    entities: np.ndarray | None = None,
    ledger: bool = False,
    on_chunk: Advance | None = None,
    colours: SourceColours | None = None,
    all_tainted: bool = False,
    top_paths: int | None = None,
) -> tuple[SweepState, dict[str, np.ndarray], SweepCounts]:
    """The sweep behind :func:`follow`: every selected edge once, in (reversed) chain order.

    Returns the final per-address state, the tainted edges (``src, dst, taint, index``
    and, with ``ledger``, their hop and the sender's state before each) in processing order:
    with ``ledger`` or ``all_tainted`` every one, else those the strongest paths (``top_paths``
    per sink; ``None``: every sink inflow) can use (:mod:`tracer.analysis.path_keep`),
    and what the selection held (:class:`SweepCounts`: why a trace may find nothing).
    ``colours`` (``--by-source``): one taint colour per source, in the same sweep.
    Memory: O(addresses) + one chunk + the tainted edges, whatever the chain's length when
    ``selection.stream`` (read as given: ``None`` is the graph cache).
    """
    spec = selection or Selection()
    stream = bool(spec.stream)
    state = SweepState(role, model=model, min_amount=spec.min_amount, max_hops=spec.max_hops,
                       colours=None if colours is None else colours.state())  # fmt: skip
    lo, hi = spec.window_us()
    kept: list[dict[str, np.ndarray]] = []
    # without the ledger the tainted edges serve the strongest paths only: keep what they use
    paths = None if ledger or all_tainted else PathEdges(role, top_paths)
    counts = SweepCounts()

    def prepare(sel: EdgeSelection) -> tuple[EdgeSelection, np.ndarray, SweepCounts, int]:
        """What a chunk needs besides the state (streamed: on the read-ahead thread)."""
        n_read = sel.src.shape[0] + sel.excluded_unknown
        if entities is not None:
            sel = _lift_edges(sel, entities)
        # seeds: a source's outflows (forward) or inflows (backward) inside the window
        seed = role[sel.src] == SOURCE
        part = SweepCounts(excluded_unknown=sel.excluded_unknown)
        part.add(sel.ts, seed)
        if lo is not None:
            seed &= sel.ts >= lo
        if hi is not None:
            seed &= sel.ts <= hi
        part.seeds = int(np.count_nonzero(seed))
        return sel, seed, part, n_read

    chunks = prepared_chunks(
        workspace, token_ids, prepare, stream=stream, reverse=backward,
        chunk=None if model == "tiho" or not stream else CHUNK,
    )  # fmt: skip
    reuse: ChunkResult | None = None  # zeroed outputs, cleared after each chunk (paths only)
    for sel, seed, part, n_read in chunks:
        counts.merge(part)
        if on_chunk is not None:
            on_chunk(n_read)
        k_src, k_dst, k_ts, k_amt, k_idx = sel.src, sel.dst, sel.ts, sel.amount, sel.index
        tx_id = None
        if model == "tiho":
            hashes = workspace.rows(k_idx, ["tx_hash"])["tx_hash"]
            tx_id = hashes.rank("dense").to_numpy().astype(np.int64)
        if paths is not None and (reuse is None or reuse.edge_taint.shape[0] < k_src.shape[0]):
            reuse = ChunkResult(k_src.shape[0], False)
        out = sweep_chunk(
            state, k_src, k_dst, k_amt, k_ts, seed, tx_id=tx_id, record=ledger, check=False,
            out=reuse,
        )  # fmt: skip
        if paths is not None:  # one pass: the path-relevant tainted edges, outputs cleared
            paths.add_chunk(k_src, k_dst, out.edge_taint, out.edge_hop, k_idx, clear=True)
            continue
        hit = np.flatnonzero(out.edge_taint > 0)
        kept.append({
            "src": k_src[hit], "dst": k_dst[hit], "taint": out.edge_taint[hit],
            "index": k_idx[hit],
            **({"hop": out.edge_hop[hit], "bal_before": out.bal_before[hit],
                "taint_before": out.taint_before[hit]} if ledger else {}),
        })  # fmt: skip
    return state, _concat(kept) if paths is None else paths.result(), counts


def _entity_labels(
    src_ids: np.ndarray, labelled: pl.DataFrame, rep: np.ndarray
) -> tuple[np.ndarray, pl.DataFrame, np.ndarray]:
    """Sources and labels lifted from addresses to entities (see :func:`follow`)."""
    sizes = np.bincount(rep, minlength=rep.shape[0])  # at an entity's id: its member count
    members = labelled.with_columns(pl.Series("id", rep[labelled["id"].to_numpy()], pl.Int32))
    counts = members.group_by("id", "category").agg(pl.len().alias("_n"))
    chosen = primary_labels(members, keys=("id",)).join(counts, on=["id", "category"])
    chosen = chosen.with_columns(
        (pl.col("_n") < pl.Series(sizes[chosen["id"].to_numpy()])).alias("label_inferred")
    )
    chosen = chosen.with_columns(
        pl.when(pl.col("label_inferred")).then(pl.lit("inferred")).otherwise("confidence")
        .alias("confidence")
    ).drop("_n")  # fmt: skip
    return np.unique(rep[src_ids]), chosen, sizes


def _lift_edges(sel: EdgeSelection, rep: np.ndarray) -> EdgeSelection:
    """Edges between entities; transfers inside one entity are dropped (they are not hops)."""
    s, d = rep[sel.src], rep[sel.dst]
    keep = s != d
    return EdgeSelection(
        index=sel.index[keep], src=s[keep], dst=d[keep], amount=sel.amount[keep],
        ts=sel.ts[keep], excluded_unknown=sel.excluded_unknown,
    )  # fmt: skip


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The tainted edges of all chunks, in processing order (O(tainted edges), not O(edges))."""
    if not parts:
        z = np.zeros(0)
        return {k: z for k in ("src", "dst", "taint", "index", "hop", "bal_before",
                               "taint_before")}  # fmt: skip
    if len(parts) == 1:  # in memory: one chunk, no copy
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
