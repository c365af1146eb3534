"""What the benchmarks of a live workspace share: an append of new blocks, and a scam wallet
the local engine answers.

Why here: the 10M appended-workspace fixture (:mod:`benchmarks.test_bench_local`), the 200M
case follow and :mod:`benchmarks.append_cold` need the same two steps; one copy keeps their
workloads the same.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from tracer.store.workspace import Workspace


def append_new_blocks(root: Path, share: float = 0.01, least: int = 1000) -> int:
    """Ingest into the workspace at ``root`` its last ``share`` of transfers (at least
    ``least``) again as new blocks: later times than every stored row, new transaction hashes
    (what a daily append brings). The rows are read from the last partitions only, never the
    whole table (200M rows do not fit in memory). Returns the rows appended."""
    ws = Workspace.open(root)
    want = max(int(ws.graph().n_edges * share), least)
    files = sorted(root.glob(f"g{ws.manifest()['generation']}/transfers/*.parquet"))
    frames: list[pl.DataFrame] = []
    have = 0
    for f in reversed(files):  # part names sort in chain order (month, then number)
        frames.insert(0, pl.read_parquet(f))
        have += frames[0].height
        if have >= want:
            break
    rows = pl.concat(frames).tail(want)
    top = rows["ts"].max()
    tail = rows.with_columns(
        (pl.lit(top) + pl.duration(seconds=pl.int_range(1, rows.height + 1))).alias("ts"),
        pl.concat_str(pl.lit("feed"), pl.col("tx_hash").str.slice(4)).alias("tx_hash"),
    ).drop([c for c in rows.columns if c.endswith("_id")])
    tail_file = root.parent / f"{root.name}-tail.parquet"
    tail.write_parquet(tail_file)
    del ws
    Workspace.open(root).ingest([tail_file])
    tail_file.unlink()
    return tail.height


def first_local_scam(ws: Workspace) -> str | None:
    """The first ground-truth scam wallet whose default follow (haircut) the local engine
    answers within its budget (the others spread past it and run the full sweep, as their
    results say); None when every one spreads."""
    from tracer.analysis import local_follow
    from tracer.analysis.follow import prepare
    from tracer.analysis.local_follow import trace_local
    from tracer.graph.selection import asset_groups, asset_tokens
    from tracer.graph.spec import Selection

    assert ws.path is not None
    for p in json.loads((ws.path / "ground_truth.json").read_text())["patterns"]:
        setup = prepare(ws, [p["scam"]], Selection(), model="haircut", backward=False)
        group = asset_groups(setup.graph.tokens, asset_tokens(setup.graph, None))[0]
        got = trace_local(ws.graph(), group.token_ids, setup.role, setup.selection,
                          model="haircut", backward=False, entities=None, ledger=False,
                          budget=True, workspace=ws, marked=local_follow.marked(setup))  # fmt: skip
        # drop the run's state before the next question (a live one makes it allocate anew)
        del setup
        if got is not None:
            del got
            return str(p["scam"])
    return None
