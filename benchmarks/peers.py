"""Peers of tracer's case query: the same time-respecting k-hop search in DuckDB and in Polars.

The question (issue 17, "peer in the same run"): from the seed wallets, which transfers can
carry their funds within ``k`` hops, time respected, and which addresses do those transfers
reach? Precisely, with transfers in chain order (row ``i`` of the workspace's partitions, the
order tracer sweeps in; ``ts`` never decreases along it):

* every outflow of a seed is reached at hop 1;
* a transfer ``i`` out of wallet ``u`` is reached at hop ``h + 1`` if a transfer reached at
  hop ``h`` arrived at ``u`` *before* it (at row ``j < i``), for ``h + 1 <= k``;
* labelled services (sinks: every labelled category but the pass-through ones) absorb: the
  transfers into them are reached, their own outflows are not followed;
* only the traced assets (``token_id``) and transfers that move a positive amount count (a
  zero or unknown amount carries no taint in tracer's sweep).

This is the support of tracer's ``poison`` model with ``max_hops = k`` (every transfer the
poison sweep taints) and the k-hop reach kernel's answer (:mod:`kernels.reach`). Each peer
reads the generation's Parquet partition files the manifest lists, in its order, so row
numbers are tracer's edge ids.

The formulations carry what the issue names: per wallet its earliest arrival and the hop
count. The DuckDB one is a single ``WITH RECURSIVE`` query (a row per wallet and level: the
earliest arrival by a path of exactly that many hops); the Polars one is ``k`` rounds of
frontier join + earliest-arrival minimum over a lazy ``scan_parquet``, keeping only arrivals
that improve on a wallet's earliest so far (the breadth-first rule). Both return the reached
transfers as ``(i, v, hop)`` (row number, receiver, least hop count).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from tracer.kernels.taint import SINK

from tracer.analysis.follow import follow, prepare
from tracer.graph.spec import Selection
from tracer.store.workspace import Workspace

#: The columns a peer reads from the partitions (the same ones tracer's graph cache holds).
PEER_COLUMNS = ["src_id", "dst_id", "token_id", "amount"]


@dataclass
class CaseQuery:
    """One case query as the peers take it (node ids) and tracer's answer to it."""

    scam: str
    selection: Selection  # poison's: ``max_hops = k``, in memory
    seeds: np.ndarray  # int32 node ids of the source (the scam wallet)
    sinks: np.ndarray  # int32 node ids of the wallets that absorb (this follow's sinks)
    role: np.ndarray  # int8 per node, the follow's roles
    expected: pl.DataFrame  # (i, v, hop): tracer's tainted transfers, from its ledger


def case_query(workspace: Workspace, scam: str, hops: int) -> CaseQuery:
    """The query from wallet ``scam`` and tracer's answer, by the command a user runs for it:
    ``tracer follow --model poison --max-hops k --ledger`` (one ledger row per tainted transfer,
    with its edge id and hop; the default engine, whichever it chooses)."""
    selection = Selection(max_hops=hops, stream=False)
    setup = prepare(workspace, [scam], selection, model="poison", backward=False)
    res = follow(workspace, [scam], selection, model="poison", ledger=True)
    assert res.ledger is not None
    ids = setup.graph.addresses.select("chain", "address", "id")
    expected = (
        res.ledger.select(pl.col("edge").alias("i"), "chain", pl.col("dst").alias("address"),
                          "hop")
        .join(ids, on=["chain", "address"], how="left")
        .select(pl.col("i").cast(pl.Int64), pl.col("id").cast(pl.Int32).alias("v"),
                pl.col("hop").cast(pl.Int32))
    )  # fmt: skip
    sinks = np.flatnonzero(setup.role == SINK).astype(np.int32)
    return CaseQuery(scam, selection, setup.src_ids, sinks, setup.role, _tidy(expected))


def partition_files(workspace: Workspace) -> list[tuple[Path, int]]:
    """The pinned generation's partition files and their row counts, in manifest (chain)
    order: what a peer concatenates to number rows as tracer does."""
    reader = workspace.parts()
    if reader is None:
        raise ValueError("the workspace has no partitions (nothing ingested)")
    return [(reader.directory / p["file"], int(p["rows"])) for p in reader.parts]


def _ids(values: np.ndarray | list[int]) -> str:
    vals = [int(v) for v in np.asarray(values).ravel()]
    return ", ".join(str(v) for v in vals) if vals else "NULL"


def duckdb_edges_sql(files: list[tuple[Path, int]], token_ids: np.ndarray) -> str:
    """The selected transfers as ``(i, u, v)`` over ``read_parquet`` of each file, with the
    global row number ``i`` (file offset + ``file_row_number``)."""
    parts = []
    offset = 0
    for path, rows in files:
        lit = str(path).replace("'", "''")
        parts.append(
            f"SELECT file_row_number + {offset} AS i, src_id AS u, dst_id AS v, token_id, amount "
            f"FROM read_parquet('{lit}', file_row_number = true)"
        )
        offset += rows
    return (
        "SELECT i, u, v FROM (" + " UNION ALL ".join(parts) + ") "
        f"WHERE token_id IN ({_ids(token_ids)}) AND amount > 0"
    )


def duckdb_k_hop_sql(
    edges_sql: str, seeds: np.ndarray, sinks: np.ndarray, hops: int
) -> str:
    """The k-hop query as one ``WITH RECURSIVE``: ``front(addr, arr, hops)`` holds, per wallet
    and level ``h < k``, the earliest arrival by a time-respecting path of exactly ``h`` hops
    (seeds: ``arr = -1`` at level 0; sinks get no row, so they do not expand). A transfer out of
    ``u`` is reached if it comes after ``u``'s earliest arrival at any level ``< k``; its hop is
    one more than the least such level. ``edges_sql`` is a relation of ``(i, u, v)``."""
    if hops < 1:
        raise ValueError("hops must be at least 1")
    seed_rows = ", ".join(f"({int(s)})" for s in np.asarray(seeds).ravel())
    return f"""
WITH RECURSIVE
e AS MATERIALIZED ({edges_sql}),
seeds(addr) AS (VALUES {seed_rows}),
front(addr, arr, hops) AS (
    SELECT addr, CAST(-1 AS BIGINT), 0 FROM seeds
    UNION ALL
    SELECT e.v, min(e.i), f.hops + 1
    FROM front f JOIN e ON e.u = f.addr AND e.i > f.arr
    WHERE f.hops < {int(hops) - 1} AND e.v NOT IN ({_ids(sinks)})
    GROUP BY e.v, f.hops
)
SELECT e.i, e.v, min(f.hops) + 1 AS hop
FROM e JOIN front f ON e.u = f.addr AND e.i > f.arr
GROUP BY e.i, e.v
"""


def duckdb_k_hop(
    con: Any, edges_sql: str, seeds: np.ndarray, sinks: np.ndarray, hops: int
) -> pl.DataFrame:
    """Run :func:`duckdb_k_hop_sql` on connection ``con``: ``(i, v, hop)`` sorted by ``i``."""
    sql = duckdb_k_hop_sql(edges_sql, seeds, sinks, hops)
    table = con.sql(sql).arrow()
    out = pl.from_arrow(table)
    assert isinstance(out, pl.DataFrame)
    return _tidy(out)


def polars_edges(files: list[tuple[Path, int]], token_ids: np.ndarray) -> pl.LazyFrame:
    """The selected transfers as a lazy ``(i, u, v)`` over ``scan_parquet`` of the files (in
    manifest order, so the row index is tracer's edge id)."""
    return (
        pl.scan_parquet([p for p, _ in files], row_index_name="i")
        .select([*PEER_COLUMNS, "i"])
        .filter(pl.col("token_id").is_in([int(t) for t in token_ids]) & (pl.col("amount") > 0))
        .select(pl.col("i").cast(pl.Int64), pl.col("src_id").alias("u"),
                pl.col("dst_id").alias("v"))
    )  # fmt: skip


def polars_k_hop(
    edges: pl.LazyFrame, seeds: np.ndarray, sinks: np.ndarray, hops: int
) -> pl.DataFrame:
    """``k`` rounds of frontier join + earliest-arrival minimum: round ``h`` joins the frontier
    (wallets whose earliest arrival improved in round ``h - 1``, with that arrival) with the
    transfers after it, keeps the new ones at hop ``h``, and takes each receiver's earliest
    arrival; receivers that are not sinks and improved form the next frontier."""
    if hops < 1:
        raise ValueError("hops must be at least 1")
    sink_list = [int(s) for s in np.asarray(sinks).ravel()]
    front = pl.DataFrame(
        {"u": np.asarray(seeds, dtype=np.int32), "arr": np.full(len(seeds), -1, np.int64)}
    )
    best = front.rename({"u": "v", "arr": "best"})
    found: list[pl.DataFrame] = []
    for h in range(1, hops + 1):
        new = (
            edges.join(front.lazy(), on="u", how="inner")
            .filter(pl.col("i") > pl.col("arr"))
            .select("i", "v", pl.lit(h, pl.Int32).alias("hop"))
            .collect()
        )
        if new.height == 0:
            break
        found.append(new)
        if h == hops:
            break
        arrive = (
            new.filter(~pl.col("v").is_in(sink_list))
            .group_by("v")
            .agg(pl.col("i").min().alias("arr"))
            .join(best, on="v", how="left")
            .filter(pl.col("best").is_null() | (pl.col("arr") < pl.col("best")))
        )
        best = pl.concat([best.join(arrive.select("v"), on="v", how="anti"),
                          arrive.select("v", pl.col("arr").alias("best"))])  # fmt: skip
        front = arrive.select(pl.col("v").alias("u"), "arr")
        if front.height == 0:
            break
    if not found:
        return _tidy(pl.DataFrame(schema={"i": pl.Int64, "v": pl.Int32, "hop": pl.Int32}))
    return _tidy(pl.concat(found).group_by("i", "v").agg(pl.col("hop").min()))


def _tidy(frame: pl.DataFrame) -> pl.DataFrame:
    """``(i, v, hop)`` with fixed dtypes, sorted by row number (peers compare equal as frames)."""
    return frame.select(
        pl.col("i").cast(pl.Int64), pl.col("v").cast(pl.Int32), pl.col("hop").cast(pl.Int32)
    ).sort("i")
