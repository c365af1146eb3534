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
