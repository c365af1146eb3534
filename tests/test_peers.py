"""The peers of the k-hop case query (benchmarks/peers.py) answer tracer's question exactly.

``benchmarks/test_bench_peers.py`` times tracer against a DuckDB recursive query and Polars
iterative joins; a timing means something only if the three answer the same question. Here, on
a small synth workspace of several monthly partition files (so the peers' row numbering across
files is exercised), every scam wallet at several hop limits: the DuckDB query (over Parquet and
over a table) and the Polars rounds (over ``scan_parquet`` and in memory) give exactly the
transfers, receivers and least hop counts of ``follow --model poison --max-hops k --ledger``.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from benchmarks.peers import (
    case_query,
    duckdb_edges_sql,
    duckdb_k_hop,
    duckdb_k_hop_sql,
    partition_files,
    polars_edges,
    polars_k_hop,
)
from tracer.graph.selection import asset_groups, asset_tokens
from tracer.store.synth import SynthSpec, synth
from tracer.store.workspace import Workspace

duckdb = pytest.importorskip("duckdb", reason="the DuckDB peer needs duckdb (the test extra)")

SPEC = SynthSpec(transfers=6_000, addresses=2_400, seed=5, days=75, patterns=4, chunk=2_000)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("peers") / "ws"
    synth(SPEC, out)
    ws = Workspace.open(out)
    graph = ws.graph()
    scams = [p["scam"] for p in json.loads((out / "ground_truth.json").read_text())["patterns"]]
    files = partition_files(ws)
    tokens = asset_groups(graph.tokens, asset_tokens(graph, None))[0].token_ids
    return {"ws": ws, "scams": scams, "files": files, "tokens": tokens, "con": duckdb.connect()}


def test_the_workspace_spans_several_partition_files(made: dict) -> None:
    assert len(made["files"]) >= 3
    assert sum(rows for _, rows in made["files"]) == SPEC.transfers


@pytest.mark.parametrize("hops", [1, 3, 6, 10])
def test_duckdb_and_polars_answer_tracers_question(made: dict, hops: int) -> None:
    con, files, tokens = made["con"], made["files"], made["tokens"]
    edges_sql = duckdb_edges_sql(files, tokens)
    con.sql(f"CREATE OR REPLACE TABLE peer_edges AS {edges_sql}")
    scan = polars_edges(files, tokens)
    in_memory = scan.collect().lazy()
    deepest, sinks_hit = 0, 0
    for scam in made["scams"]:
        q = case_query(made["ws"], scam, hops)
        assert q.expected.height > 0, scam
        peers = {
            "duckdb over parquet": duckdb_k_hop(con, edges_sql, q.seeds, q.sinks, hops),
            "duckdb table": duckdb_k_hop(con, "SELECT i, u, v FROM peer_edges", q.seeds,
                                         q.sinks, hops),
            "polars scan_parquet": polars_k_hop(scan, q.seeds, q.sinks, hops),
            "polars in memory": polars_k_hop(in_memory, q.seeds, q.sinks, hops),
        }  # fmt: skip
        for who, got in peers.items():
            assert got.equals(q.expected), f"{who} differs from tracer: {scam}, {hops} hops"
        deepest = max(deepest, int(q.expected["hop"].max()))
        sinks_hit += int(q.expected["v"].is_in(q.sinks.tolist()).sum())
    # the comparison covers what it claims: paths as long as the limit, services that absorb
    assert deepest == hops
    assert sinks_hit > 0 or hops < 4  # the services sit 4 or more hops out


def test_the_time_rule_and_the_sinks_change_the_answer(made: dict) -> None:
    """Each rule the peers carry matters on this data, so the equality above is not the same
    answer by accident: reached wallets sent transfers *before* their first arrival, which
    the answer leaves out, and without sinks the answer grows."""
    files, tokens = made["files"], made["tokens"]
    scan = polars_edges(files, tokens)
    edges = scan.collect()
    earlier_total, grown = 0, 0
    for scam in made["scams"]:
        q = case_query(made["ws"], scam, 6)
        first = (
            q.expected.filter(~pl.col("v").is_in(q.sinks.tolist()))
            .group_by("v").agg(pl.col("i").min().alias("first"))
        )  # fmt: skip
        earlier = edges.join(first, left_on="u", right_on="v").filter(pl.col("i") < pl.col("first"))
        assert not earlier["i"].is_in(q.expected["i"].implode()).any()
        earlier_total += earlier.height
        no_sinks = polars_k_hop(scan, q.seeds, np.zeros(0, np.int32), 6)
        assert no_sinks.height >= q.expected.height, scam
        grown += no_sinks.height - q.expected.height
    assert earlier_total > 0
    assert grown > 0


def test_the_query_builders_refuse_zero_hops() -> None:
    with pytest.raises(ValueError, match="hops"):
        duckdb_k_hop_sql("SELECT 1 AS i, 1 AS u, 1 AS v", np.array([1]), np.array([]), 0)
    with pytest.raises(ValueError, match="hops"):
        polars_k_hop(pl.LazyFrame({"i": [0], "u": [1], "v": [2]}), np.array([1]), np.array([]), 0)
