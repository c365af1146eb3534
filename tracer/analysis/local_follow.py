"""The local engine of ``follow``/``source``: the sweep's result from the tainted subgraph only.

:func:`tracer.analysis.follow.trace_edges` sweeps every selected transfer. When the selection
has the graph cache (per-address time-ordered adjacency, memory-mapped), :func:`trace_local`
runs :mod:`tracer.kernels.local` instead: it touches the edges of the addresses the taint
reaches and, on each first arrival, that address's own history, so a case-sized question on a
whole chain costs what its neighbourhood costs. The result is the same arrays the sweep gives
(the tests compare them on random graphs for every model).

Engine choice (:func:`choose_engine`): ``engine="local"`` or ``"sweep"`` forces one; ``None``
runs local when it can (graph cache, not streamed, a model and options it covers) with a budget
of 5% of the selected transfers and of the addresses, and falls back to the full sweep by itself
when the taint spreads past it. Which engine ran and why is reported in the result's
``options["engine"]``.

Two figures depend on every transfer, not only the tainted ones: the unknown-prior-funds totals
(every wallet's shortfalls) and the selected transfer count. They are computed once per
selection (asset group, direction, entities) by one balance pass and kept with the graph in
memory (:func:`_prior`), so a second question on the same workspace pays only the local part;
without entities they are also stored with the workspace generation (``case/prior-*.npy``,
:meth:`~tracer.store.workspace.Workspace.save_derived`), so a new session reads them. The
ingest commands compute them for a default follow's selections right after the commit
(:func:`tracer.analysis.precompute.precompute_case`, which runs :func:`_prior` as the first
question would), so that question reads them too.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tracer.analysis.local_colours import run_colour_kernel, tx_numbers
from tracer.analysis.local_poison import run_poison, spread_for
from tracer.analysis.local_state import take_state
from tracer.analysis.sweep_counts import SweepCounts
from tracer.core.errors import UsageError
from tracer.graph.spec import Selection
from tracer.kernels.bundles import LotQueues
from tracer.kernels.local import (
    EVENTS,
    FIRST_TS,
    GAVE_UP,
    LAST_TS,
    SEEDS,
    SOURCE_EDGES,
    LocalGraph,
    LocalParams,
    continue_backward,
    local_kernel,
    member_csr,
    new_out,
    overdraft_totals,
    prior_pass,
)
from tracer.kernels.taint import (
    NORMAL,
    OVERDRAFT_AMOUNT,
    OVERDRAFTS,
    POISON,
    SINK,
    SOURCE,
    TIHO,
    SweepState,
)
from tracer.store.graph_cache import TransferGraph
from tracer.store.workspace import Workspace

if TYPE_CHECKING:
    from tracer.analysis.by_source import SourceColours

_Z64 = np.zeros(0, dtype=np.int64)
_Z32 = np.zeros(0, dtype=np.int32)
#: Engines ``follow(engine=...)`` accepts (``None``: choose).
ENGINES = ("local", "sweep")
#: The local engine gives up past this share of the selected transfers (events) or addresses.
SPREAD = 0.05


@dataclass
class EngineChoice:
    """Which engine a group ran on and why (reported in ``options["engine"]``)."""

    engine: str  # "local" or "sweep"
    reason: str


def unavailable(model: str, stream: bool, has_colours: bool) -> str | None:
    """Why the local engine cannot run this request (None: it can)."""
    if stream:
        return "the selection is streamed (no graph cache)"
    return None  # tiho and by_source colours: tracer.analysis.local_colours


@dataclass
class _Prior:
    """What one balance pass over a selection gives (see the module docstring)."""

    who: np.ndarray  # sender of each unknown-prior-funds shortfall, in processing order
    short: np.ndarray  # its amount
    selected: int
    unknown: int
    mem_offsets: np.ndarray
    mem_list: np.ndarray
    #: per node, how many shortfalls it has (a source with none leaves the totals unchanged)
    per_node: np.ndarray = field(default_factory=lambda: _Z64)
    #: the totals with only these sinks left out (key: the sinks' ids), reused by every run
    #: whose sources have no shortfall of their own
    by_sinks: dict[bytes, tuple[float, float]] = field(default_factory=dict)
    #: where the figures came from: "computed" (the pass ran now), "stored" (read from the
    #: workspace), "continued over the N transfers appended since" (a forward pass carried
    #: by an append, run over the new edges only); "memory" once a run has reported it
    origin: str = "computed"
    #: where derived figures are stored (no entities, a workspace on disk): the workspace and
    #: the selection's key text; None: kept in memory only
    store: tuple[Workspace, str] | None = None


#: per graph (by identity, dropped with it) and selection key: the balance pass's figures
_CACHE: dict[int, tuple[weakref.ref[TransferGraph], dict[tuple[Any, ...], _Prior]]] = {}


def _local_graph(graph: TransferGraph, token_ids: np.ndarray, backward: bool,
                 rep: np.ndarray | None, members: tuple[np.ndarray, np.ndarray]) -> LocalGraph:
    """The graph in the sweep's direction (reversed: ends and CSR sides swapped), its CSR as
    the stored levels (base + delta, :meth:`~.TransferGraph.csr_levels`): never merged here,
    so a session after an append reads only the slices its question reaches."""
    ok = np.zeros(max(graph.tokens.height, 1), dtype=np.bool_)
    ok[np.asarray(token_ids, dtype=np.int64)] = True
    src, dst = (graph.dst, graph.src) if backward else (graph.src, graph.dst)
    lv = graph.csr_levels()
    (out_o, out_e, out_d), (in_o, in_e, in_d) = (
        ((lv.in_offsets, lv.in_edges, lv.in_delta), (lv.out_offsets, lv.out_edges, lv.out_delta))
        if backward else
        ((lv.out_offsets, lv.out_edges, lv.out_delta), (lv.in_offsets, lv.in_edges, lv.in_delta))
    )  # fmt: skip
    return LocalGraph(
        np.ascontiguousarray(src, np.int32), np.ascontiguousarray(dst, np.int32),
        np.ascontiguousarray(graph.amount, np.float64), np.ascontiguousarray(graph.ts, np.int64),
        np.ascontiguousarray(graph.token_id, np.int32), ok,
        *_same_kind(out_o, out_e, in_o, in_e),
        _Z32 if rep is None else rep, members[0], members[1],
        *_same_kind(out_d.nodes, out_d.offsets, out_d.edges, in_d.nodes, in_d.offsets,
                    in_d.edges, like=out_e),
    )  # fmt: skip


def _same_kind(*arrays: np.ndarray, like: np.ndarray | None = None) -> list[np.ndarray]:
    """``arrays`` contiguous (int32 node lists, int64 offsets and edge ids), read-only when
    ``like`` (default: the first) is: the kernels read a base and a delta array through one
    variable, and one array type keeps one compiled signature whether or not there is a delta
    (the stored levels are read-only memory maps)."""
    ro = not (arrays[0] if like is None else like).flags.writeable
    out = []
    for a in arrays:
        a = np.ascontiguousarray(a, np.int32 if a.dtype == np.int32 else np.int64)
        if ro and a.flags.writeable:
            a = a.view()
            a.flags.writeable = False
        out.append(a)
    return out


def prior_table(graph: TransferGraph) -> dict[tuple[Any, ...], _Prior]:
    """This graph's in-memory balance passes by selection key (made once per graph; call it
    before running :func:`_prior` on several threads, so they share one table)."""
    ref, table = _CACHE.get(id(graph), (None, {}))
    if ref is None or ref() is not graph:
        table = {}
        _CACHE[id(graph)] = (weakref.ref(graph), table)
        for gid in [g for g, (r, _) in _CACHE.items() if r() is None]:
            del _CACHE[gid]
    return table


def _prior(graph: TransferGraph, token_ids: np.ndarray, backward: bool,
           rep: np.ndarray | None, workspace: Workspace | None = None) -> _Prior:
    """The balance pass's figures for this selection, computed once per graph in memory and,
    without entities, once per generation of ``workspace`` (stored beside it)."""
    rep_key = None if rep is None else hashlib.blake2b(rep.tobytes(), digest_size=16).digest()
    key = (np.unique(token_ids).tobytes(), bool(backward), rep_key)
    table = prior_table(graph)
    hit = table.get(key)
    if hit is None:
        members = (_Z64, _Z64) if rep is None else member_csr(rep)
        # stored with the generation (no entities): a new session reads, not recomputes, it
        name = "prior-" + hashlib.blake2b(repr(key[:2]).encode(), digest_size=8).hexdigest()
        stored = workspace.derived(name) if workspace is not None and rep is None else None
        if stored is not None and not _fits(stored, graph):
            stored = None  # from other edges than this generation's: computed anew
        seen = int(stored["edges"][0]) if stored is not None and "edges" in stored else None
        origin = "stored"
        if stored is not None and (seen is None or seen == graph.n_edges):
            who, short = stored["who"], stored["short"]
            selected, unknown = (int(v) for v in stored["counts"])
        elif (stored is not None and backward and "keys" in stored and seen is not None
              and seen < graph.n_edges):
            # time-reversed: the appended edges come first; their pass, then the stored
            # list corrected where an address enters the old edges with funds
            g = _local_graph(graph, token_ids, backward, rep, members)
            counts = tuple(int(v) for v in stored["counts"])
            who, short, keys, selected, unknown = continue_backward(
                g, graph.n_nodes, seen, stored["who"], stored["short"], stored["keys"],
                (counts[0], counts[1]))  # fmt: skip
            _save_prior(workspace, name, who, short, selected, unknown, None, graph,
                        keys)  # fmt: skip
            origin = f"continued over the {graph.n_edges - seen:,} transfers appended since"
        elif (stored is not None and "bal" in stored and not backward and seen is not None
              and seen < graph.n_edges and stored["bal"].shape[0] <= graph.n_nodes):
            # carried by an append from the previous generation (its first ``seen`` edges are
            # this one's): the forward pass continues over the appended edges only
            bal = np.zeros(graph.n_nodes, dtype=np.float64)
            bal[: stored["bal"].shape[0]] = stored["bal"]
            g = _local_graph(graph, token_ids, backward, rep, members)
            w2, s2, sel2, unk2 = prior_pass(g, graph.n_nodes, False, bal, seen)
            who, short = np.concatenate([stored["who"], w2]), np.concatenate([stored["short"], s2])
            selected, unknown = (int(v) for v in stored["counts"])
            selected, unknown = selected + sel2, unknown + unk2
            _save_prior(workspace, name, who, short, selected, unknown, bal, graph)
            origin = f"continued over the {graph.n_edges - seen:,} transfers appended since"
        else:
            g = _local_graph(graph, token_ids, backward, rep, members)
            bal = np.zeros(graph.n_nodes, dtype=np.float64)
            got: list[np.ndarray] = []
            who, short, selected, unknown = prior_pass(g, graph.n_nodes, backward, bal,
                                                       keys=got)  # fmt: skip
            if workspace is not None and rep is None:
                # forward: the end state, so the pass continues after an append; backward:
                # each shortfall's key, so an append's correction finds where it goes
                _save_prior(workspace, name, who, short, selected, unknown,
                            None if backward else bal, graph,
                            got[0] if backward else None)  # fmt: skip
            origin = "computed"
        store = (workspace, repr(key[:2])) if workspace is not None and rep is None else None
        # shortfalls per node (is a source one with a shortfall?): O(shortfalls) once, stored
        per_node = _derived(store, "nodes", "per_node", lambda: np.bincount(
            who, minlength=graph.n_nodes).astype(np.int32))  # fmt: skip
        hit = table[key] = _Prior(who, short, selected, unknown, members[0], members[1],
                                    per_node=per_node,
                                    origin=origin,
                                    store=store)  # fmt: skip
    return hit


def _tip(graph: TransferGraph, n: int) -> np.ndarray:
    """The ``n``-th edge's fields (the last one a stored pass covers) as int64, so a set is
    used only on a generation whose edge there is the same one (see :func:`_prior`)."""
    if n <= 0 or n > graph.n_edges:
        return np.full(5, -1, dtype=np.int64)
    e = n - 1
    return np.array([graph.src[e], graph.dst[e], graph.ts[e],
                     np.float64(graph.amount[e]).view(np.int64), graph.token_id[e]],
                    dtype=np.int64)  # fmt: skip


def _fits(stored: dict[str, np.ndarray], graph: TransferGraph) -> bool:
    """Whether a stored (or carried) pass belongs to this generation's edges: its edge count
    no more than this graph's, and the last edge it covers the same (``tip``; sets written
    before it existed are trusted on the count). A carried set is only linked by a pure
    append (:func:`tracer.store.edge_log.carry_prior`); this is the check that a set from
    other edges (a backfill shifts every later edge) is never read as current."""
    if "edges" not in stored:
        return True
    seen = int(stored["edges"][0])
    if seen > graph.n_edges:
        return False
    return "tip" not in stored or np.array_equal(stored["tip"], _tip(graph, seen))


def _save_prior(workspace: Workspace | None, name: str, who: np.ndarray, short: np.ndarray,
                selected: int, unknown: int, bal: np.ndarray | None, graph: TransferGraph,
                keys: np.ndarray | None = None) -> None:  # fmt: skip
    """Store a balance pass's figures with the generation; with ``bal`` (the forward pass's
    end state) or ``keys`` (the backward pass's shortfall keys) an append carries them to the
    next generation (:func:`tracer.store.edge_log.carry_prior`), which continues the pass
    over the appended edges."""
    if workspace is None:
        return
    arrays = {"who": who, "short": short, "counts": np.array([selected, unknown], np.int64),
              "edges": np.array([graph.n_edges], np.int64),
              "tip": _tip(graph, graph.n_edges)}  # fmt: skip
    if bal is not None:
        arrays["bal"] = bal
    if keys is not None:
        arrays["keys"] = keys
    workspace.save_derived(name, arrays)


def _derived(store: tuple[Workspace, str] | None, what: str, field_name: str,
             compute: Any) -> np.ndarray:  # fmt: skip
    """``compute()``, or what a previous session stored for it with the workspace (name:
    ``prior-`` and a hash of the selection key and ``what``), storing it when absent."""
    if store is None:
        return np.asarray(compute())
    ws, key = store
    name = "prior-" + hashlib.blake2b(f"{key}/{what}".encode(), digest_size=8).hexdigest()
    got = ws.derived(name)
    if got is not None and field_name in got:
        return got[field_name]
    arr = np.asarray(compute())
    ws.save_derived(name, {field_name: arr})
    return arr


def with_role(role: np.ndarray, r: int, marked: np.ndarray | None) -> np.ndarray:
    """Sorted ids whose role is ``r``: ``np.flatnonzero(role == r)``, from ``marked`` (every
    id whose role is not NORMAL, or more) when given: O(marked), not O(addresses)."""
    if marked is None:
        return np.flatnonzero(role == r)
    ids = np.unique(np.asarray(marked, dtype=np.int64))
    return ids[role[ids] == r]


def _overdrafts(pri: _Prior, role: np.ndarray, sources: np.ndarray,
                marked: np.ndarray | None = None) -> tuple[float, float]:  # fmt: skip
    """The sweep's unknown-prior-funds totals for these roles, summed in its order.

    A pass over every shortfall costs O(shortfalls) (2.4M on 10M synth transfers); the sinks
    are the same for every question of a session, so the totals without the sinks are kept
    per sink set and reused whenever no source has a shortfall of its own (then leaving the
    sources out changes nothing, bit for bit)."""
    if sources.size and pri.per_node[sources].any():
        return tuple(overdraft_totals(pri.who, pri.short, role))  # type: ignore[return-value]
    sinks = with_role(role, SINK, marked)
    key = hashlib.blake2b(sinks.tobytes(), digest_size=16).digest()
    hit = pri.by_sinks.get(key)
    if hit is None:

        def without_sources() -> np.ndarray:
            only_sinks = np.where(role == SOURCE, NORMAL, role).astype(np.int8)
            return np.array(overdraft_totals(pri.who, pri.short, only_sinks), dtype=np.float64)

        # O(shortfalls) once per sink set, then stored (a new session reads two numbers)
        got = _derived(pri.store, "sinks-" + key.hex(), "totals", without_sources)
        hit = pri.by_sinks[key] = (float(got[0]), float(got[1]))
    return hit


def trace_local(
    graph: TransferGraph,
    token_ids: np.ndarray,
    role: np.ndarray,
    selection: Selection,
    *,
    model: str,
    backward: bool,
    entities: np.ndarray | None,
    ledger: bool,
    budget: bool,
    workspace: Workspace | None = None,
    marked: np.ndarray | None = None,
    tx: np.ndarray | None = None,
    colours: SourceColours | None = None,
) -> tuple[SweepState, dict[str, np.ndarray], SweepCounts] | None:
    """What :func:`~tracer.analysis.follow.trace_edges` returns, from the tainted subgraph.

    ``budget``: give up (None) once the run has processed more than :data:`SPREAD` of the
    selected transfers or activated more than that share of the addresses; the caller then
    runs the full sweep. Without it the run always completes (forced ``engine="local"``).
    ``marked``: every node whose role is not NORMAL (sources, sinks, pass-through; more is
    fine): the sources and sinks are then found among them, not by a pass over ``role``.
    ``tx`` (TIHO: :func:`~tracer.analysis.local_colours.tx_numbers`) and ``colours``
    (by_source) run :mod:`tracer.analysis.local_colours`' kernel.
    """
    rep = None if entities is None else np.ascontiguousarray(entities, dtype=np.int32)
    pri = _prior(graph, token_ids, backward, rep, workspace)
    g = _local_graph(graph, token_ids, backward, rep, (pri.mem_offsets, pri.mem_list))
    # the local and poison kernels write only touched entries (sources, tainted receivers):
    # reused buffers (local_state); TIHO and by_source (the colour kernel) get a state of
    # their own, as the sweep's
    plain = colours is None and model != "tiho"
    if plain:
        state, slot = take_state(role, model=model, min_amount=selection.min_amount,
                                 max_hops=selection.max_hops,
                                 fill=None if workspace is None else workspace.minus_ones)
    else:
        slot = None
        state = SweepState(role, model=model, min_amount=selection.min_amount,
                           max_hops=selection.max_hops,
                           colours=None if colours is None else colours.state())  # fmt: skip
    lo, hi = selection.window_us()
    big = np.iinfo(np.int64).max
    share = spread_for(model, SPREAD)
    max_events = int(share * pri.selected) if budget else -1
    max_active = int(share * role.shape[0]) if budget else -1
    params = LocalParams(state.code, state.min_amount, state.hop_cap, bool(ledger),
                         state.max_lots, bool(backward), -big if lo is None else int(lo),
                         big if hi is None else int(hi), max_events, max_active)  # fmt: skip
    lots = state.code in (5, 6)  # FIFO, LIFO
    if lots:
        q = LotQueues(state.lot_start, state.lot_head, state.lot_tail, state.lot_cap,
                      state.lot_amt, state.lot_tnt)  # fmt: skip
        pool_end = state.pool_end
    else:
        q = LotQueues(_Z64, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32),
                      np.zeros(1, np.float64), np.zeros(1, np.float64))  # fmt: skip
        pool_end = 0
    sources = with_role(role, SOURCE, marked).astype(np.int32)
    out = new_out(bool(ledger))
    a = state.arrays
    written = None  # the receivers a run wrote, each once (poison says; else from the edges)
    if state.code == TIHO or colours is not None:
        if state.code == TIHO and tx is None:
            raise ValueError("the tiho model needs tx (tracer.analysis.local_colours.tx_numbers)")
        lot_amt, lot_tnt, longest = q.amt, q.tnt, 0
        o_edge, o_taint, o_hop, o_bal, o_tb, n_out = run_colour_kernel(g, params, state,
                                                                       sources, tx, out)
    elif state.code == POISON:  # no balances needed: tracer.analysis.local_poison
        (lot_amt, lot_tnt, pool_end, longest, o_edge, o_taint, o_hop, o_bal, o_tb,
         n_out), written = run_poison(g, params, state, sources, q, out)
    else:
        (lot_amt, lot_tnt, pool_end, longest, o_edge, o_taint, o_hop, o_bal, o_tb,
         n_out) = local_kernel(g, params, a.role, sources, a.bt, a.inflow, a.hops, a.first_ts,
                               a.beyond_from, a.stats, q, pool_end, out)  # fmt: skip
    counts_arr = out.counts
    n = int(n_out)
    edge = o_edge[:n]
    # every entry the kernel wrote is a source's or a tainted receiver's (kernels.local)
    touched = np.concatenate([sources, (g.dst if rep is None else rep[g.dst])[edge]
                              if written is None else written])  # fmt: skip
    if slot is not None:
        slot.dirty = touched
        slot.pool_end = int(pool_end) if lots else 0
        if lots:
            slot.lot_amt, slot.lot_tnt = lot_amt, lot_tnt
    if counts_arr[GAVE_UP]:
        return None
    if lots:
        state.lot_amt, state.lot_tnt, state.pool_end = lot_amt, lot_tnt, int(pool_end)
    state.longest_queue = int(longest)
    state.edges_seen = int(counts_arr[EVENTS])
    state.stats[OVERDRAFTS], state.stats[OVERDRAFT_AMOUNT] = _overdrafts(pri, state.role, sources,
                                                                         marked)  # fmt: skip
    k_src, k_dst = g.src[edge], g.dst[edge]
    if rep is not None:
        k_src, k_dst = rep[k_src], rep[k_dst]
    tainted = {"src": k_src, "dst": k_dst, "taint": o_taint[:n], "index": edge}
    if ledger:
        tainted |= {"hop": o_hop[:n], "bal_before": o_bal[:n], "taint_before": o_tb[:n]}
    counts = SweepCounts(selected=pri.selected, excluded_unknown=pri.unknown,
                         source_edges=int(counts_arr[SOURCE_EDGES]),
                         seeds=int(counts_arr[SEEDS]), first_ts=int(counts_arr[FIRST_TS]),
                         last_ts=int(counts_arr[LAST_TS]))  # fmt: skip
    return state, tainted, counts


def local_first(
    setup: Any, token_ids: np.ndarray, *, ledger: bool
) -> tuple[tuple[SweepState, dict[str, np.ndarray], SweepCounts] | None, EngineChoice]:
    """Run one asset group locally when the request allows it (``setup``: the follow's
    ``TraceSetup``). Returns the run (None: the caller sweeps) and the engine choice."""
    forced = setup.engine
    if forced == "sweep":
        return None, EngineChoice("sweep", "asked for (engine='sweep')")
    why = unavailable(setup.model, setup.stream, setup.colours is not None)
    if why is not None:
        if forced == "local":
            raise UsageError(f"engine 'local' cannot run this follow: {why}")
        return None, EngineChoice("sweep", why)
    rep = None if setup.rep is None else np.ascontiguousarray(setup.rep, dtype=np.int32)
    graph = setup.workspace.graph()
    note = _precomputed(setup.workspace, _prior(graph, token_ids, setup.backward, rep,
                                                setup.workspace))  # fmt: skip
    got = trace_local(
        graph, token_ids, setup.role, setup.selection, model=setup.model,
        backward=setup.backward, entities=setup.rep, ledger=ledger, budget=forced is None,
        workspace=setup.workspace, marked=marked(setup),
        tx=tx_numbers(setup.workspace, graph) if setup.model == "tiho" else None,
        colours=setup.colours,
    )  # fmt: skip
    if got is None:
        share = spread_for(setup.model, SPREAD)
        return None, EngineChoice(
            "sweep", f"the taint spread past {share:.0%} of the selection, so the full sweep ran"
        )
    if forced == "local":
        return got, EngineChoice("local", "asked for (engine='local')" + note)
    return got, EngineChoice(
        "local", f"the taint stayed within {spread_for(setup.model, SPREAD):.0%} of the selection"
        + note
    )


def marked(setup: Any) -> np.ndarray:
    """The nodes a follow's ``roles`` marks (sources, labelled sinks and pass-through)."""
    return np.concatenate([np.asarray(setup.src_ids, dtype=np.int64),
                           setup.labelled["id"].to_numpy().astype(np.int64)])  # fmt: skip


def _precomputed(workspace: Workspace, pri: _Prior) -> str:
    """What the local run had to compute because the workspace does not store it (said in
    ``engine_reason``): the balance pass over the selection, and path rows without the case
    index (:mod:`tracer.store.case_index`); a stored pass is said too (a reader of the
    options sees nothing was computed for the selection). Empty when the pass was already in
    this session's memory and the case index is complete."""
    notes = []
    if pri.origin == "stored":
        notes.append("the unknown-prior-funds pass was read as stored with the workspace")
    elif pri.origin == "computed":
        notes.append("the unknown-prior-funds pass over the selection ran now (nothing "
                     "stored for it yet)")  # fmt: skip
    elif pri.origin.startswith("continued"):
        notes.append(f"the unknown-prior-funds pass stored with the workspace was "
                     f"{pri.origin}")  # fmt: skip
    pri.origin = "memory"
    idx = workspace.case_index()
    if idx is not None and not (idx.has_addresses and all(k is not None for k in idx.kinds)):
        notes.append("the workspace has no case index: path rows come from Parquet")
    return "".join(f"; {n}" for n in notes)


def engine_options(choices: list[tuple[str, EngineChoice]]) -> dict[str, str]:
    """``options["engine"]`` and ``options["engine_reason"]`` for a run's asset groups."""
    if not choices:
        # the cross-asset run (hops crossed) sweeps in its own loop
        return {"engine": "sweep", "engine_reason": "the run crosses asset hops (full sweep)"}
    engines = sorted({c.engine for _, c in choices})
    reasons = list(dict.fromkeys(c.reason for _, c in choices))
    if len(reasons) == 1:
        reason = reasons[0]
    else:
        reason = "; ".join(f"{name}: {c.engine} ({c.reason})" for name, c in choices)
    return {"engine": "+".join(engines), "engine_reason": reason}
