"""The read-ahead of a streamed sweep: chunks in sweep order, decoded and prepared on one
thread of their own with file handles of their own, chunk boundaries and token choice as
read in turn, early exit and errors handled; reused sweep outputs give the fresh ones."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from tracer.kernels.taint import SOURCE, ChunkResult, SweepState, sweep_chunk

from tests.graph.test_stream import small_groups_ws  # noqa: F401  (the shared fixture)
from tracer.analysis.follow import trace_edges
from tracer.graph import stream
from tracer.graph.selection import DEFAULT_THROUGH, node_labels, roles
from tracer.graph.spec import Selection
from tracer.store import partitions
from tracer.store.partitions import EDGE_COLUMNS, read_ahead


@pytest.mark.parametrize("reverse", [False, True])
def test_read_ahead_keeps_order_on_one_thread_with_own_handles(
    small_groups_ws, reverse: bool  # noqa: F811
) -> None:
    ws, _ = small_groups_ws
    reader = ws.parts()
    order = reader.row_groups(reverse)
    assert len(order) >= 14 and order == sorted(order, reverse=reverse)
    seen: list[tuple[int, str]] = []
    handles: set[int] = set()

    def job(start: int, table):  # type: ignore[no-untyped-def]
        seen.append((start, threading.current_thread().name))
        return start, table.num_rows

    real = partitions.PartReader.read_group

    def spy(self, k, columns):  # type: ignore[no-untyped-def]
        handles.add(id(self))
        return real(self, k, columns)

    partitions.PartReader.read_group = spy  # type: ignore[method-assign]
    try:
        got = list(read_ahead(reader, order, ["src_id"], job, ahead=3))
    finally:
        partitions.PartReader.read_group = real  # type: ignore[method-assign]
    assert [s for s, _ in got] == [int(reader.starts[k]) for k in order]
    assert [n for _, n in got] == [reader.groups[k].rows for k in order]
    threads = {t for _, t in seen}
    assert len(threads) == 1 and threading.main_thread().name not in threads
    assert handles and id(reader) not in handles  # a clone read, never the caller's reader


def test_read_ahead_stops_early_and_passes_errors_on(small_groups_ws) -> None:  # noqa: F811
    ws, _ = small_groups_ws
    reader = ws.parts()
    done: list[int] = []

    def job(start: int, table):  # type: ignore[no-untyped-def]
        done.append(start)
        return start

    gen = read_ahead(reader, reader.row_groups(), ["src_id"], job, ahead=2)
    assert next(gen) == 0
    gen.close()  # leaving the loop: nothing else is started, the thread is joined
    assert len(done) <= 4
    assert not [t for t in threading.enumerate() if t.name.startswith("tracer-read-ahead")]

    def bad(start: int, table):  # type: ignore[no-untyped-def]
        if start:
            raise RuntimeError(f"chunk at {start}")
        return start

    with pytest.raises(RuntimeError, match="chunk at"):
        list(read_ahead(reader, reader.row_groups(), ["src_id"], bad))
    assert list(read_ahead(reader, [], ["src_id"], job)) == []


@pytest.mark.parametrize("every", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
def test_prepared_chunks_are_the_selected_row_groups(small_groups_ws, every: bool,  # noqa: F811
                                                     reverse: bool) -> None:  # fmt: skip
    """Each prepared chunk is one row group's selected rows (chunk boundaries = row groups),
    in sweep order; with some tokens asked, only their rows; prepare runs off the caller."""
    ws, _ = small_groups_ws
    reader = ws.parts()
    whole = partitions.edge_arrays(reader.read_all(EDGE_COLUMNS))
    tokens = ws.nodes().tokens["token_id"].to_numpy()
    asked = tokens if every else tokens[:1]
    names: set[str] = set()

    def prepare(sel):  # type: ignore[no-untyped-def]
        names.add(threading.current_thread().name)
        return sel

    sels = list(stream.prepared_chunks(ws, asked, prepare, stream=True, reverse=reverse))
    assert len(sels) == len(reader.groups)
    assert threading.main_thread().name not in names
    for sel, k in zip(sels, reader.row_groups(reverse), strict=True):
        lo, hi = int(reader.starts[k]), int(reader.starts[k + 1])
        idx = np.sort(sel.index)
        assert idx.size == 0 or (idx[0] >= lo and idx[-1] < hi)
        rows = np.arange(lo, hi)
        want = rows[np.isin(whole["token_id"][lo:hi], asked)]
        np.testing.assert_array_equal(idx, want)
        # the time-reversed graph's edges run the other way (its senders are the receivers)
        np.testing.assert_array_equal(sel.src, whole["dst" if reverse else "src"][sel.index])
        if reverse and sel.ts.size > 1:
            assert np.all(np.diff(sel.index) < 0)  # newest first inside the chunk too
        # contiguous, copied on the read-ahead thread (the kernels would copy views)
        assert all(a.flags.c_contiguous for a in (sel.src, sel.dst, sel.amount, sel.ts))
    assert sum(s.src.shape[0] for s in sels) == int(np.isin(whole["token_id"], asked).sum())


def test_reused_outputs_give_the_fresh_outputs(small_groups_ws) -> None:  # noqa: F811
    """``sweep_chunk(out=...)``: zeroed buffers reused chunk after chunk (cleared where read)
    give the same state and per-edge outputs as fresh ones; unfit buffers are refused."""
    ws, seeds = small_groups_ws
    nodes = ws.nodes()
    a = partitions.edge_arrays(ws.parts().read_all(EDGE_COLUMNS))
    ids = np.flatnonzero(np.isin(nodes.addresses["address"].to_numpy(), seeds)).astype(np.int32)
    role = roles(nodes, ids, node_labels(nodes, ws.labels()), DEFAULT_THROUGH)
    fresh, reused = SweepState(role), SweepState(role)
    buf = ChunkResult(700, False)
    for lo in range(0, a["src"].shape[0], 700):
        s = slice(lo, lo + 700)
        args = (a["src"][s], a["dst"][s], a["amount"][s], a["ts"][s], role[a["src"][s]] == SOURCE)
        want = sweep_chunk(fresh, *args)
        got = sweep_chunk(reused, *args, out=buf)
        np.testing.assert_array_equal(got.edge_taint, want.edge_taint)
        np.testing.assert_array_equal(got.edge_hop, want.edge_hop)
        hit = got.edge_taint > 0
        got.edge_taint[hit] = 0.0
        got.edge_hop[hit] = 0
    assert fresh.traced == reused.traced > 0
    np.testing.assert_array_equal(fresh.bt, reused.bt)
    with pytest.raises(ValueError, match="too small"):
        sweep_chunk(reused, *args, out=ChunkResult(3, False))
    with pytest.raises(ValueError, match="ledger"):
        ChunkResult(900, True).first(10)
    state, kept, counts = trace_edges(ws, nodes.tokens["token_id"].to_numpy(), role,
                                      Selection(stream=True))  # fmt: skip
    state2, kept2, counts2 = trace_edges(ws, nodes.tokens["token_id"].to_numpy(), role,
                                         Selection(stream=False))  # fmt: skip
    assert counts == counts2 and state.traced == state2.traced
    for f in kept:
        np.testing.assert_array_equal(kept[f], kept2[f])
