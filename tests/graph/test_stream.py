"""Streamed sweeps (Parquet row group by row group) give the in-memory results exactly."""

from __future__ import annotations

import shutil

import numpy as np
import polars as pl
import pytest

from benchmarks.workspace_case import canonical_parquet
from tracer.analysis.follow import follow
from tracer.core.errors import UsageError
from tracer.graph.spec import Selection
from tracer.output.follow_json import follow_json
from tracer.sources.labels import LabelLoad
from tracer.store import partitions
from tracer.store.workspace import Workspace


@pytest.fixture(scope="module")
def small_groups_ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, list[str]]:
    """4,000 power-law transfers over ~800 addresses in row groups of 300 rows, files of 1,000
    rows: a sweep crosses many chunk and file boundaries."""
    root = tmp_path_factory.mktemp("stream")
    e = canonical_parquet(4000, root / "t.parquet", seed=11)
    mp = pytest.MonkeyPatch()
    mp.setattr(partitions, "ROW_GROUP", 300)
    mp.setattr(partitions, "PART_ROWS", 1000)
    ws = Workspace.open(root / "ws", create=True)
    ws.ingest([root / "t.parquet"])
    mp.undo()
    rng = np.random.default_rng(5)
    addrs = e["addresses"]
    labels = pl.DataFrame(
        {
            "chain": ["ethereum"] * 40,
            "address": addrs.gather(rng.choice(e["n_nodes"], 40, replace=False)),
            "name": [f"svc{i}" for i in range(40)],
            "category": (["exchange", "otc_desk", "mixer", "scam"] * 10),
            "source": ["test"] * 40,
            "confidence": ["high"] * 40,
        }
    )
    ws.add_labels([LabelLoad("test", labels, 40)])
    seeds = addrs.gather(rng.choice(e["n_nodes"], 5, replace=False)).to_list()
    return Workspace.open(root / "ws"), seeds


def _how_not_what(doc: dict) -> dict:
    """The document without the engine that ran (``options["engine"]``/``engine_reason``:
    a streamed run always sweeps, an in-memory one may run the local engine)."""
    return {**doc, "options": {k: v for k, v in doc["options"].items()
                               if k not in ("engine", "engine_reason")}}  # fmt: skip


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    # every figure is bit-identical: the run totals (traced, dust, unknown prior funds) are
    # one sequential sum in edge order whatever the chunking (issue 12.11)
    assert a.traced_total == b.traced_total
    assert a.dust == b.dust and a.returned == b.returned
    assert a.beyond_max_hops == b.beyond_max_hops
    assert a.overdraft_amount == b.overdraft_amount
    assert _how_not_what(follow_json(a)) == _how_not_what(follow_json(b))
    assert a.held_total == b.held_total and a.overdrafts == b.overdrafts
    assert a.reached.drop("paths", "share").equals(b.reached.drop("paths", "share"))
    assert a.reached["paths"].to_list() == b.reached["paths"].to_list()
    assert a.held.equals(b.held) and a.through.equals(b.through)
    if a.ledger is not None:
        assert a.ledger.equals(b.ledger)


@pytest.mark.parametrize("model", ["haircut", "poison", "taint-first", "clean-first", "fifo"])
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_streamed_follow_equals_in_memory(small_groups_ws, model: str, direction: str) -> None:
    ws, seeds = small_groups_ws
    assert len(ws.parts().groups) >= 14  # the sweep really crosses chunks
    kw = {"model": model, "direction": direction, "ledger": True}
    limits = {"min_amount": 0.5, "max_hops": 4}
    mem = follow(ws, seeds, Selection(stream=False, **limits), **kw)
    streamed = follow(Workspace.open(ws.path), seeds, Selection(stream=True, **limits), **kw)
    assert mem.traced_total > 0
    if model in ("haircut", "poison"):  # the others may legitimately reach no service here
        assert mem.reached.height > 0 and mem.ledger.height > 10
    _same(mem, streamed)


def test_no_graph_cache_streams_by_default_and_refuses_tiho(small_groups_ws, tmp_path) -> None:
    ws, seeds = small_groups_ws
    copy = tmp_path / "ws"
    shutil.copytree(ws.path, copy)
    shutil.rmtree(copy / f"g{ws.manifest()['generation']}" / "graph")
    bare = Workspace.open(copy)
    streamed = follow(bare, seeds)
    assert not bare.has_graph_cache() and bare._graph is None  # never loaded the edge arrays
    _same(follow(ws, seeds, Selection(stream=False)), streamed)
    with pytest.raises(UsageError, match="tiho"):
        follow(bare, seeds, model="tiho")


@pytest.mark.parametrize("model", ["haircut", "poison", "taint-first"])
def test_streamed_exposure_equals_in_memory(small_groups_ws, model: str) -> None:
    from tracer.analysis.exposure import ExposureRequest
    from tracer.analysis.exposure_run import exposure

    ws, _ = small_groups_ws
    req = {"addresses": None, "model": model}
    mem = exposure(ws, ExposureRequest(**req, selection=Selection(min_amount=0.01, stream=False)))
    streamed = exposure(
        Workspace.open(ws.path),
        ExposureRequest(**req, selection=Selection(min_amount=0.01, stream=True)),
    )
    mem, streamed = mem.frame, streamed.frame
    assert mem.height > 100 and mem.equals(streamed)


@pytest.mark.parametrize("every", [True, False])
def test_streamed_chunks_leave_out_and_count_unknown_decimals(small_groups_ws, monkeypatch,
                                                              every: bool) -> None:  # fmt: skip
    """Rows whose amount is unknown (NaN: token without decimals) are kept out and counted,
    whether every token is asked (the path that skips the per-row token lookup) or some."""
    from tracer.graph import stream

    ws, _ = small_groups_ws
    real = stream.edge_arrays

    def with_nan(table):  # type: ignore[no-untyped-def]
        a = real(table)
        a["amount"] = a["amount"].copy()
        a["amount"][::7] = np.nan  # every 7th row of each group
        return a

    monkeypatch.setattr(stream, "edge_arrays", with_nan)
    tokens = ws.nodes().tokens["token_id"].to_numpy()
    asked = tokens if every else tokens[:1]
    sels = list(stream.selected_chunks(ws, asked, stream=True))
    reader = ws.parts()
    assert reader is not None
    whole = with_nan(reader.read_all(partitions.EDGE_COLUMNS))
    # the same rows, found over the whole table: every 7th row from each group's first
    nan_rows = np.concatenate([
        np.arange(int(s), int(s) + g.rows)[::7] for s, g in zip(reader.starts, reader.groups,
                                                                strict=False)
    ])  # fmt: skip
    is_nan = np.zeros(reader.num_rows, dtype=bool)
    is_nan[nan_rows] = True
    chosen = np.isin(whole["token_id"], asked)
    want = np.flatnonzero(chosen & ~is_nan)
    got = np.concatenate([s.index for s in sels])
    np.testing.assert_array_equal(got, want)
    assert sum(s.excluded_unknown for s in sels) == int(np.count_nonzero(chosen & is_nan)) > 0
    np.testing.assert_array_equal(np.concatenate([s.src for s in sels]), whole["src"][want])


def test_streamed_exposure_sweeps_its_directions_one_after_the_other(small_groups_ws) -> None:
    """A streamed plan reads Parquet through one PartReader: its two directions are never swept
    on two threads at once (that hung or crashed the suite), and the report says "local"."""
    import threading

    from tracer.analysis import exposure_run
    from tracer.analysis.exposure import ExposureRequest

    ws, _ = small_groups_ws
    seen: set[str] = set()
    real = exposure_run.sweep

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        seen.add(threading.current_thread().name)
        return real(*a, **k)

    exposure_run.sweep = spy  # type: ignore[assignment]
    try:
        rep = exposure_run.exposure(
            Workspace.open(ws.path),
            ExposureRequest(addresses=None, model="haircut",
                            selection=Selection(min_amount=0.01, stream=True)),
        )  # fmt: skip
    finally:
        exposure_run.sweep = real  # type: ignore[assignment]
    assert seen == {threading.main_thread().name}
    assert rep.metadata["engine"] == "local"
