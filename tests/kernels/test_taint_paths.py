"""``path_edges`` / ``PathEdges``: the tainted edges kept for the strongest paths give the same
paths as all of them (issue 17.5: a whole-chain follow no longer keeps every tainted transfer)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels.taint import NORMAL, SINK, SOURCE, THROUGH, path_edges, propagate

from tracer.analysis.follow_rows import strongest_paths
from tracer.analysis.path_keep import PathEdges, top_per_node


class RowsStub:
    """``workspace.rows`` for stored rows numbered 0..: made-up hash, amount, time, value."""

    def rows(self, index: np.ndarray, columns: list[str]) -> pl.DataFrame:
        i = np.asarray(index, dtype=np.int64)
        return pl.DataFrame({
            "tx_hash": [f"0x{k:064x}" for k in i.tolist()],
            "amount": (i + 1).astype(np.float64),
            "ts": [datetime.fromtimestamp(int(k), UTC) for k in i.tolist()],
            "value": [str(k + 1) for k in i.tolist()],
            "decimals": [0] * i.shape[0],
        })  # fmt: skip


@st.composite
def sweeps(draw: st.DrawFn) -> dict:
    n = draw(st.integers(3, 12))
    m = draw(st.integers(1, 120))
    src = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), np.int32)
    dst = np.array([draw(st.integers(0, n - 1).filter(lambda d, s=s: d != s)) for s in src],
                   np.int32)  # fmt: skip
    amount = np.array(draw(st.lists(st.sampled_from([1.0, 2.0, 3.0, 5.0, 8.0]), min_size=m,
                                    max_size=m)), np.float64)  # fmt: skip
    role = np.array(draw(st.lists(st.sampled_from([NORMAL, NORMAL, NORMAL, SINK, THROUGH]),
                                  min_size=n, max_size=n)), np.int8)  # fmt: skip
    role[0] = SOURCE
    role[n - 1] = SINK
    return {"src": src, "dst": dst, "amount": amount, "role": role,
            "chunk": draw(st.integers(1, 40)), "model": draw(st.sampled_from(
                ["haircut", "poison", "taint-first", "clean-first"])),
            "k": draw(st.integers(1, 4)), "backward": draw(st.booleans()),
            "top_k": draw(st.booleans())}  # fmt: skip


@settings(deadline=None, max_examples=150)
@given(g=sweeps())
def test_kept_edges_give_the_same_strongest_paths(g: dict) -> None:
    src, dst, role = g["src"], g["dst"], g["role"]
    m = src.shape[0]
    res = propagate(src, dst, g["amount"], np.arange(m), role[src] == SOURCE, role,
                    model=g["model"])  # fmt: skip
    hit = np.flatnonzero(res.edge_taint > 0)
    every = {"src": src[hit], "dst": dst[hit], "taint": res.edge_taint[hit],
             "index": hit.astype(np.int64)}  # fmt: skip
    keeper = PathEdges(role, g["k"] if g["top_k"] else None)
    for a in range(0, hit.shape[0], g["chunk"]):  # chunk after chunk, as a streamed sweep
        h = hit[a : a + g["chunk"]]
        keeper.add(src[h], dst[h], res.edge_taint[h], h.astype(np.int64))
    kept = keeper.result()
    assert np.all(np.diff(kept["index"]) > 0)  # processing order kept
    nodes = pl.DataFrame({"chain": ["ethereum"] * role.shape[0],
                          "address": [f"0x{i:040x}" for i in range(role.shape[0])]})  # fmt: skip
    sinks = np.flatnonzero((role == SINK) & (res.inflow > 0)).tolist()
    args = (role, RowsStub(), nodes, g["k"], g["backward"])
    assert strongest_paths(sinks, kept, *args) == strongest_paths(sinks, every, *args)  # type: ignore[arg-type]


def test_path_edges_keeps_sink_inflows_and_running_records_only() -> None:
    role = np.array([SOURCE, NORMAL, SINK], dtype=np.int8)
    dst = np.array([1, 1, 2, 1, 1, 2, 1], dtype=np.int32)
    taint = np.array([2.0, 1.0, 0.5, 2.0, 3.0, 0.1, 2.5])
    best = np.zeros(3)
    keep = path_edges(dst, taint, role, best)
    # into 1: 2.0 (record), 1.0 (no), 2.0 (tie: the earlier wins), 3.0 (record), 2.5 (no)
    assert keep.tolist() == [True, False, True, False, True, True, False]
    assert best.tolist() == [0.0, 3.0, 0.0]


def test_top_per_node_keeps_each_nodes_largest_earliest_first() -> None:
    dst = np.array([4, 4, 4, 7, 4, 7])
    taint = np.array([1.0, 3.0, 3.0, 2.0, 0.5, 2.0])
    pos = np.arange(6)
    assert top_per_node(dst, taint, pos, 2).tolist() == [False, True, True, True, False, True]
    assert top_per_node(dst, taint, pos, 1).tolist() == [False, True, False, True, False, False]
