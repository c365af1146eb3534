"""The Ray engine gives exactly the local engine's report (local Ray cluster, 2 CPUs)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tracer.analysis.engines import shards
from tracer.analysis.exposure import ExposureRequest
from tracer.analysis.exposure_run import exposure
from tracer.graph.spec import Selection
from tracer.sources.labels import read_labels
from tracer.store.workspace import Workspace

ray = pytest.importorskip("ray", reason="Ray is the optional extra tracer[ray]")

VOLATILE = ["created_at", "engine"]


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)  # fmt: skip
    yield
    ray.shutdown()


def _same(a, b) -> None:
    assert a.frame.equals(b.frame), "ray and local reports differ"
    for key in set(a.metadata) - set(VOLATILE):
        assert a.metadata[key] == b.metadata[key], key


def test_shards_cover_every_category_once() -> None:
    req = ExposureRequest(addresses=None, directions=("in", "out"))
    pieces = shards(req, n_cat=5, workers=2)
    for d in ("in", "out"):
        cats = sorted(c for dd, g in pieces if dd == d for c in g)
        assert cats == [0, 1, 2, 3, 4]
    limited = ExposureRequest(
        addresses=None, directions=("in", "out"), selection=Selection(max_hops=3)
    )
    assert shards(limited, n_cat=5, workers=2) == [("in", None), ("out", None)]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["haircut", "poison", "taint-first"])
def test_ray_in_memory_equals_local(ray_cluster, sample_dir: Path, model: str) -> None:
    ws, _ = Workspace.in_memory(
        [sample_dir / "trongrid_scam_wallet.json", sample_dir / "trongrid_downstream.json"],
        [read_labels(sample_dir / "labels.csv")],
    )
    req = ExposureRequest(addresses=None, model=model)
    _same(exposure(ws, req, engine="ray"), exposure(ws, req))


@pytest.mark.slow
def test_ray_workers_read_the_workspace(ray_cluster, sample_dir: Path, tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([sample_dir / "trongrid_scam_wallet.json", sample_dir / "trongrid_downstream.json"])
    ws.add_labels([read_labels(sample_dir / "labels.csv")])
    ws = Workspace.open(tmp_path / "ws")
    req = ExposureRequest(addresses=None, directions=("in",), selection=Selection(min_amount=0.0))
    local = exposure(ws, req)
    remote = exposure(ws, req, engine="ray")
    _same(remote, local)
    assert local.frame.filter(pl.col("category") == "scam").height > 5
