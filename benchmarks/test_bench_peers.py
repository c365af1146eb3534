"""Peers in the same run (issue 17): the time-respecting k-hop case query in tracer, DuckDB, Polars.

The question (:mod:`benchmarks.peers` defines it exactly): from one synth scam wallet, which
transfers can carry its funds within ``k`` hops (default 6, ``TRACER_PEER_HOPS``), time
respected, labelled services absorbing, and which addresses do they reach? Each of the synth
ground truth's scam wallets is one query (``TRACER_PEER_QUERIES`` limits how many).

* **tracer** answers it as a user would: ``follow(model="poison", max_hops=k)`` (``tracer
  follow --model poison --max-hops 6``), whose tainted transfers are exactly that set: the
  default engine (poison runs on its own local kernel, :mod:`kernels.local_poison`, while the
  taint stays within 25% of the selection, else the full sweep), warm (graph cache
  memory-mapped, case index built, as in a session). Also timed: the engine alone
  (``trace_local``, the local engine forced) and the k-hop reach kernel (:mod:`kernels.reach`,
  the same set without the sweep's figures), so the split engine vs follow's own work shows.
* **Case queries** are the synth ground truth's scam wallets, every one of them (the first
  ``TRACER_PEER_QUERIES`` when set; none is left out or picked): one query each, the default
  options of the peer question (6 hops). The summary prints every query (its class, the engine
  ``follow`` used, each method's wall / CPU ms, each peer's ratio to ``follow``) and the
  **median** ratio over all queries, per class and over the queries ``follow`` answered by the
  full sweep (the default engine's fallback when the taint spreads past its budget: said
  apart). Classes: **contained** (case-sized: at most :data:`CONTAINED` of the workspace's
  transfers) and **spread**; one recorded row per class and method.
* **DuckDB**: one ``WITH RECURSIVE`` query over ``read_parquet`` of the generation's partition
  files (the manifest's list), and the same query over the edges loaded once into a DuckDB
  table (the peer's warm state, as tracer's graph cache is tracer's).
* **Polars**: ``k`` rounds of frontier join + earliest-arrival minimum over a lazy
  ``scan_parquet`` of the same files, and over the edges held in memory.

Before anything is timed, every peer's answer on every query is checked against tracer's:
the same transfers (row numbers = tracer's edge ids), the same least hop count per transfer and
the same reached addresses, tracer's taken from ``follow(..., ledger=True)`` (one row per
tainted transfer, with its hop) and from the engine's per-address state. A peer answering a
different question would fail here, not be timed.

Run (1M transfers by default for this file; 10M peaks at about 4.2 GB with 4 queries)::

    TRACER_BENCH_EDGES=1M python -m pytest -m bench benchmarks/test_bench_peers.py -s
    TRACER_BENCH_EDGES=10M TRACER_PEER_QUERIES=4 TRACER_PEER_DUCKDB_MEMORY=1500MB \
        flock /tmp/big.lock python -m pytest -m bench benchmarks/test_bench_peers.py -s

Recorded (h-case3, 2026-12-01, 2 shared cores at load 3.5-4; per query, wall / CPU ms, CPU =
process_time of all threads: tracer is single-threaded, DuckDB and Polars use both cores).
No query fell back to the full sweep.

======================  ==============  ==============  ==================  =================
method                  1M contained    1M spread       10M contained       10M spread
======================  ==============  ==============  ==================  =================
tracer follow           3.0 / 3.0       56 / 52         5.0 / 3.5           633 / 601
DuckDB over Parquet     150 / 141       173 / 167       1,200 / 1,200       1,571 / 1,543
DuckDB, table           74 / 73         101 / 95        702 / 726           1,200 / 1,185
Polars over Parquet     289 / 298       320 / 332       2,526 / 2,736       2,408 / 3,132
Polars, in memory       59 / 59         88 / 86         302 / 579           594 / 1,109
======================  ==============  ==============  ==================  =================

Median peer / follow per query (wall / CPU), DuckDB over Parquet, DuckDB table, Polars over
Parquet, Polars in memory: 1M contained (9 of 20 queries) 54x / 54x, 25x / 25x, 119x / 120x,
20x / 20x; 1M spread (11) 3.4x / 3.6x, 1.8x / 1.8x, 5.7x / 6.3x, 1.6x / 1.8x; 10M (the first
4 scam wallets: 2 contained of 12-13 transfers, 2 spread of 632k-787k) contained 295x / 359x,
177x / 218x, 613x / 809x, 76x / 175x; spread 2.5x / 2.6x, 1.9x / 2.0x, 3.9x / 5.2x, 1.0x /
1.9x. Before (main 3d7dba2, load 3.5): 1M follow 21.0 / 15.6 ms per contained query, 176 /
113 ms per spread one (h-reach's 10M run: 27.5 / 28.4 and 1,231 / 1,232 ms).

h-peers2 (2026-12-01, load 6-8, per query wall / CPU ms, base 2de286d in the same run): 1M
spread follow 100.5 / 49.6 -> 21.0 / 13.5 (engine 43.4 / 24.3 -> 10.7 / 8.7), contained
4.7 / 2.5 -> 2.3 / 1.7; DuckDB over Parquet 133 / 116 (spread), 137 / 104 (contained); median
peer / follow, spread: DuckDB-Parquet 2.1x / 2.5x -> 7.1x / 8.2x, Polars-Parquet 3.3x / 6.1x ->
13.8x / 20.4x; contained: 71x / 70x and 97x / 129x. A spread query's cost is its answer's
(the bare reach kernel alone is ~27x the DuckDB peer there): see /work notes h-peers2.

Main 906057d (2026-12-02, quiet, load 0.7; 1M, per query wall ms): follow 1.0 contained, 9.5
spread (engine 7.1, reach 3.9); DuckDB over Parquet 76 / 98, table 35 / 48; Polars over
Parquet 119 / 130, in memory 31 / 47. Median peer / follow, contained (9): 82x DuckDB-Parquet,
38x DuckDB table, 123x Polars-Parquet, 32x Polars in memory; spread (11): 10.3x, 4.8x, 13.8x,
4.9x.

Main f2fe5c2 (2026-12-02 18:20, load 0.9-1.0; the leaf skip and prefetches in the poison engine,
h-frames2's row pick): 1M follow 0.9-1.5 ms contained, 3.9-10.7 spread; median peer / follow,
contained (9) 86x DuckDB-Parquet, 40x DuckDB table, 119x Polars-Parquet, 32x Polars in memory;
spread (11) 12.6x, 6.9x, 18.4x, 5.9x. 10M (4 queries): contained 410x, 166x, 603x, 110x; spread
(follow 98-117 ms) 8.5x, 4.5x, 12.3x, 4.2x.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pytest
from tracer.kernels.reach import Reach
from tracer.kernels.taint import SINK

from benchmarks.conftest import bench_edges, record, synth_workspace
from benchmarks.peers import (
    CaseQuery,
    case_query,
    duckdb_edges_sql,
    duckdb_k_hop,
    partition_files,
    polars_edges,
    polars_k_hop,
)
from tracer.analysis.follow import follow
from tracer.analysis.local_follow import trace_local
from tracer.graph.selection import asset_groups, asset_tokens
from tracer.store.workspace import Workspace

duckdb = pytest.importorskip("duckdb")

HOPS = int(os.environ.get("TRACER_PEER_HOPS", "6"))
FOLLOW = f"{HOPS}-hop case queries: tracer follow (poison, max_hops={HOPS}, warm)"
ENGINE = f"{HOPS}-hop case queries: tracer engine only (local, forced)"
REACH = f"{HOPS}-hop case queries: tracer reach kernel"
DUCK_PQ = f"{HOPS}-hop case queries: DuckDB WITH RECURSIVE over Parquet"
DUCK_MEM = f"{HOPS}-hop case queries: DuckDB WITH RECURSIVE, edges in a table"
POLARS_PQ = f"{HOPS}-hop case queries: Polars joins over scan_parquet"
POLARS_MEM = f"{HOPS}-hop case queries: Polars joins, edges in memory"


def _edges() -> int:
    return bench_edges() if os.environ.get("TRACER_BENCH_EDGES") else 1_000_000


@dataclass
class Query:
    """One case query (:class:`benchmarks.peers.CaseQuery`) with what the checks need."""

    case: CaseQuery
    reached: np.ndarray  # address ids holding or receiving taint (the engine's state)
    stop: np.ndarray  # bool per node: the sinks, for the reach kernel

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.case, name)


@dataclass
class Timing:
    """Per query wall and CPU seconds of one method's last round, and the round's CPU."""

    wall: list[float] = field(default_factory=list)
    cpu: float = 0.0
    cpus: list[float] = field(default_factory=list)


#: a query is *contained* (case-sized) when it reaches at most this share of the workspace's
#: transfers, else *spread* (the synth scam wallets fall in two clear groups: 8-128 transfers,
#: and 17k-83k at 1M / 0.6-0.8M at 10M, 2-8% of the workspace)
CONTAINED = 0.001


@pytest.fixture(scope="module")
def peer_case() -> dict:
    root = synth_workspace(_edges())
    ws = Workspace.open(root)
    graph = ws.graph()  # memory-mapped graph cache (built on first use)
    ws.build_case_index()  # path rows and address lookups O(case) (idempotent; h-case)
    patterns = json.loads((root / "ground_truth.json").read_text())["patterns"]
    limit = int(os.environ.get("TRACER_PEER_QUERIES", "0")) or len(patterns)
    tokens = asset_groups(graph.tokens, asset_tokens(graph, None))[0].token_ids
    queries = [_query(ws, graph, p["scam"], tokens) for p in patterns[:limit]]
    con = duckdb.connect()
    con.sql(f"SET memory_limit = '{os.environ.get('TRACER_PEER_DUCKDB_MEMORY', '3GB')}'")
    files = partition_files(ws)
    return {
        "ws": ws, "graph": graph, "tokens": tokens, "queries": queries, "files": files,
        "con": con, "n": graph.n_edges, "timings": {},
    }  # fmt: skip


def _query(ws: Workspace, graph, scam: str, tokens: np.ndarray) -> Query:  # type: ignore[no-untyped-def]
    """The query, tracer's answer (:func:`case_query`) and the engine's reached addresses."""
    q = case_query(ws, scam, HOPS)
    state, _, _ = trace_local(graph, tokens, q.role, q.selection, model="poison",
                              backward=False, entities=None, ledger=False,
                              budget=False)  # fmt: skip
    reached = np.flatnonzero((state.inflow > 0) | (state.taint > 0)).astype(np.int32)
    return Query(q, reached, q.role == SINK)


def _same(q: Query, got: pl.DataFrame, who: str) -> None:
    """The peer answered tracer's question: same transfers, hops and reached addresses."""
    assert got["i"].to_list() == q.expected["i"].to_list(), f"{who}: other transfers, {q.scam}"
    assert got.equals(q.expected), f"{who}: other receivers or hop counts, {q.scam}"
    # reached addresses: the receivers of the reached transfers, plus the seeds (tracer holds
    # the seed's own funds as taint)
    peer = np.union1d(got["v"].unique().to_numpy(), q.seeds).astype(np.int32)
    mine = np.union1d(q.reached, q.seeds).astype(np.int32)
    assert np.array_equal(peer, mine), f"{who}: other reached addresses, {q.scam}"


def _run_all(case: dict, key: str, one: Callable[[Query], object]) -> Callable[[], list]:
    """A round: every query once, timing each (wall) and the round (CPU, all threads)."""

    def run() -> list:
        t = Timing()
        out = []
        c0 = time.process_time()
        for q in case["queries"]:
            w0, p0 = time.perf_counter(), time.process_time()
            out.append(one(q))
            t.wall.append(time.perf_counter() - w0)
            t.cpus.append(time.process_time() - p0)
        t.cpu = time.process_time() - c0
        case["timings"][key] = t
        return out

    return run


def _record(case: dict, name: str, key: str, seconds: float, **extra) -> None:  # type: ignore[no-untyped-def]
    t: Timing = case["timings"][key]
    # items: the workspace's transfers once per query (the house unit: a query on N transfers
    # at rate R takes N/R seconds), so the table's ratio is the speed-up over the same queries
    record(name, items=case["n"] * len(case["queries"]), seconds=seconds, cpu_s=t.cpu,
           wall_s=sum(t.wall), queries=len(case["queries"]), **extra)  # fmt: skip
    print(f"\n{name}: {len(t.wall)} queries, wall {sum(t.wall):.3f} s, CPU {t.cpu:.3f} s "
          f"({os.getloadavg()[0]:.1f} load)")  # fmt: skip


@pytest.mark.bench
def test_peer_tracer_follow(benchmark, peer_case: dict) -> None:  # type: ignore[no-untyped-def]
    case = peer_case

    def one(q: Query) -> object:
        return follow(case["ws"], [q.scam], q.selection, model="poison")

    results = benchmark.pedantic(_run_all(case, "follow", one), rounds=3, warmup_rounds=1)
    # which engine answered each query (the default engine falls back to the full sweep when
    # the taint spreads past its budget: those queries are reported apart)
    case["engines"] = [r.options["engine"] for r in results]
    for q, r in zip(case["queries"], results, strict=True):
        sinks = set(q.expected.filter(pl.col("v").is_in(q.sinks.tolist()))["v"].to_list())
        got = set(r.reached["address"].to_list())
        addr = case["graph"].addresses
        assert got == set(addr[sorted(sinks)]["address"].to_list()), q.scam
    _record(case, FOLLOW, "follow", benchmark.stats["mean"], baseline=DUCK_MEM)


@pytest.mark.bench
def test_peer_tracer_engine(benchmark, peer_case: dict) -> None:  # type: ignore[no-untyped-def]
    case = peer_case

    def one(q: Query) -> object:
        return trace_local(case["graph"], case["tokens"], q.role, q.selection, model="poison",
                           backward=False, entities=None, ledger=False, budget=False)  # fmt: skip

    results = benchmark.pedantic(_run_all(case, "engine", one), rounds=3, warmup_rounds=1)
    for q, (_, tainted, _) in zip(case["queries"], results, strict=True):
        assert np.array_equal(np.sort(tainted["index"]), q.expected["i"].to_numpy()), q.scam
    _record(case, ENGINE, "engine", benchmark.stats["mean"], baseline=DUCK_MEM)


@pytest.mark.bench
def test_peer_tracer_reach(benchmark, peer_case: dict) -> None:  # type: ignore[no-untyped-def]
    case = peer_case
    g = case["graph"]
    reach = Reach(g.out_offsets, g.out_edges, g.dst)

    def one(q: Query) -> pl.DataFrame:
        reach.stop[:] = q.stop  # each query's sinks (its own scam wallet is its source)
        edges, level = reach.query(q.seeds, HOPS)
        return pl.DataFrame({"i": edges.astype(np.int64), "v": g.dst[edges].astype(np.int32),
                             "hop": level.astype(np.int32)}).sort("i")  # fmt: skip

    results = benchmark.pedantic(_run_all(case, "reach", one), rounds=3, warmup_rounds=1)
    for q, got in zip(case["queries"], results, strict=True):
        _same(q, got, "reach kernel")
    _record(case, REACH, "reach", benchmark.stats["mean"], baseline=DUCK_MEM)


@pytest.mark.bench
@pytest.mark.parametrize("where", ["parquet", "table"])
def test_peer_duckdb(benchmark, peer_case: dict, where: str) -> None:  # type: ignore[no-untyped-def]
    case = peer_case
    con = case["con"]
    edges = duckdb_edges_sql(case["files"], case["tokens"])
    if where == "table":  # the peer's warm state: the selected edges loaded once
        con.sql(f"CREATE OR REPLACE TABLE peer_edges AS {edges}")
        edges = "SELECT i, u, v FROM peer_edges"

    def one(q: Query) -> pl.DataFrame:
        return duckdb_k_hop(con, edges, q.seeds, q.sinks, HOPS)

    key = f"duckdb-{where}"
    results = benchmark.pedantic(_run_all(case, key, one), rounds=1, iterations=1)
    for q, got in zip(case["queries"], results, strict=True):
        _same(q, got, f"DuckDB ({where})")
    _record(case, DUCK_PQ if where == "parquet" else DUCK_MEM, key, benchmark.stats["mean"])


@pytest.mark.bench
@pytest.mark.parametrize("where", ["parquet", "memory"])
def test_peer_polars(benchmark, peer_case: dict, where: str) -> None:  # type: ignore[no-untyped-def]
    case = peer_case
    edges = polars_edges(case["files"], case["tokens"])
    if where == "memory":  # the peer's warm state: the selected edges collected once
        edges = edges.collect().lazy()

    def one(q: Query) -> pl.DataFrame:
        return polars_k_hop(edges, q.seeds, q.sinks, HOPS)

    key = f"polars-{where}"
    results = benchmark.pedantic(_run_all(case, key, one), rounds=1, iterations=1)
    for q, got in zip(case["queries"], results, strict=True):
        _same(q, got, f"Polars ({where})")
    name = POLARS_PQ if where == "parquet" else POLARS_MEM
    _record(case, name, key, benchmark.stats["mean"])


@pytest.mark.bench
def test_peer_summary(peer_case: dict) -> None:
    """Per query: each method's wall time and tracer's speed-up against each peer."""
    case = peer_case
    t: dict[str, Timing] = case["timings"]
    tracer_keys = [k for k in ("follow", "engine", "reach") if k in t]
    peer_keys = [k for k in ("duckdb-parquet", "duckdb-table", "polars-parquet",
                             "polars-memory") if k in t]  # fmt: skip
    if not tracer_keys or not peer_keys:
        pytest.skip("run the whole file: the summary compares the methods above")
    print(f"\n{case['n']:,} transfers, {HOPS} hops, wall / CPU ms per query "
          f"(load {os.getloadavg()[0]:.1f}):")  # fmt: skip
    _per_query(case, tracer_keys, peer_keys)
    for tk in tracer_keys:
        for pk in peer_keys:
            wall = sum(t[pk].wall) / sum(t[tk].wall)
            cpu = t[pk].cpu / max(t[tk].cpu, 1e-9)
            print(f"{pk} / tracer {tk}: {wall:,.1f}x wall, {cpu:,.1f}x CPU (all queries)")
    _split(case, tracer_keys, peer_keys)
    assert all(len(t[k].wall) == len(case["queries"]) for k in t)


def _class(case: dict, i: int) -> str:
    """``contained`` (case-sized: at most :data:`CONTAINED` of the transfers) or ``spread``."""
    return "contained" if case["queries"][i].expected.height <= CONTAINED * case["n"] else "spread"


def _per_query(case: dict, tracer_keys: list[str], peer_keys: list[str]) -> None:
    """Every case query (each synth ground-truth scam wallet: none left out), its class, the
    engine follow used, each method's wall / CPU ms, and each peer's ratio to tracer's follow
    (wall and CPU); then the median ratio over all queries, per class, and over the queries
    follow answered by the full sweep (said apart: those left the local engine's budget)."""
    t: dict[str, Timing] = case["timings"]
    engines = case.get("engines") or ["?"] * len(case["queries"])
    has_follow = "follow" in t
    print("| scam | transfers | class | engine | " + " | ".join(tracer_keys + peer_keys)
          + (" | " + " | ".join(f"{p} / follow" for p in peer_keys) if has_follow else "")
          + " |")  # fmt: skip
    ratios: dict[str, list[tuple[int, float, float]]] = {p: [] for p in peer_keys}
    for i, q in enumerate(case["queries"]):
        cells = [f"{t[k].wall[i] * 1e3:,.1f} / {t[k].cpus[i] * 1e3:,.1f}"
                 for k in tracer_keys + peer_keys]  # fmt: skip
        if has_follow:
            for p in peer_keys:
                w = t[p].wall[i] / max(t["follow"].wall[i], 1e-9)
                c = t[p].cpus[i] / max(t["follow"].cpus[i], 1e-9)
                ratios[p].append((i, w, c))
                cells.append(f"{w:,.0f}x / {c:,.0f}x")
        print(f"| {q.scam} | {q.expected.height:,} | {_class(case, i)} | {engines[i]} | "
              + " | ".join(cells) + " |")  # fmt: skip
    if not has_follow:
        return
    groups = {"all queries": lambda i: True,
              "contained": lambda i: _class(case, i) == "contained",
              "spread": lambda i: _class(case, i) == "spread",
              "answered by the full sweep (fallback)": lambda i: engines[i] != "local"}
    for name, member in groups.items():
        picked = [i for i in range(len(case["queries"])) if member(i)]
        if not picked:
            print(f"median peer / follow, {name}: none")
            continue
        cells = []
        for p in peer_keys:
            w = float(np.median([r[1] for r in ratios[p] if r[0] in picked]))
            c = float(np.median([r[2] for r in ratios[p] if r[0] in picked]))
            cells.append(f"{p} {w:,.1f}x wall / {c:,.1f}x CPU")
        print(f"median peer / follow, {name} ({len(picked)} queries): " + "; ".join(cells))


def _split(case: dict, tracer_keys: list[str], peer_keys: list[str]) -> None:
    """The figures per class of query (contained: case-sized; spread: :data:`CONTAINED`),
    each method's wall and CPU summed over the class, and the peer / tracer ratios; recorded
    as one row per class and method (``... contained`` / ``... spread``)."""
    t: dict[str, Timing] = case["timings"]
    n = case["n"]
    classes = {"contained": [], "spread": []}  # type: dict[str, list[int]]
    for i in range(len(case["queries"])):
        classes[_class(case, i)].append(i)
    names = {"follow": FOLLOW, "engine": ENGINE, "reach": REACH, "duckdb-parquet": DUCK_PQ,
             "duckdb-table": DUCK_MEM, "polars-parquet": POLARS_PQ, "polars-memory": POLARS_MEM}
    for cls, idx in classes.items():
        if not idx:
            continue
        sizes = [case["queries"][i].expected.height for i in idx]
        print(f"\n{cls}: {len(idx)} queries, {min(sizes):,}-{max(sizes):,} transfers")
        sums = {}
        for k in tracer_keys + peer_keys:
            wall = sum(t[k].wall[i] for i in idx)
            cpu = sum(t[k].cpus[i] for i in idx)
            sums[k] = (wall, cpu)
            record(f"{names[k]} ({cls})", items=n * len(idx), seconds=wall, cpu_s=cpu,
                   wall_s=wall, queries=len(idx))  # fmt: skip
            print(f"  {k}: wall {wall * 1e3:,.1f} ms, CPU {cpu * 1e3:,.1f} ms "
                  f"(per query {wall / len(idx) * 1e3:,.1f} / {cpu / len(idx) * 1e3:,.1f} ms)")
        for tk in tracer_keys:
            cells = [f"{pk} {sums[pk][0] / max(sums[tk][0], 1e-9):,.1f}x wall "
                     f"{sums[pk][1] / max(sums[tk][1], 1e-9):,.1f}x CPU" for pk in peer_keys]
            print(f"  peer / tracer {tk} ({cls}): " + "; ".join(cells))
