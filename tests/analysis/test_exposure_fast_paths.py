"""The ``exposure --all`` fast paths of issue 17 (round 3) give what the plain paths give.

* the ``out`` sweep walks the forward edge arrays backwards (``backward=True``) instead of
  copying them reversed: the same state, bit for bit;
* the exact values of a dense run of edges are found without per-edge temporaries;
* the report is an Arrow table with dictionary columns, written to Parquet as plain strings;
  its Polars frame is made on demand and equals the frame the Parquet file reads back as;
* the command runs with the cyclic garbage collector paused, freezes what it allocated, and
  restores the collector.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from tracer.kernels.exposure import EXPOSURE_MODELS, ExposureState, exposure_sweep

from tests.analysis.test_exposure import labelled_graphs
from tests.analysis.test_exposure_rows import sample_ws as sample_ws  # the fixture
from tracer.analysis import exposure as exposure_mod
from tracer.analysis.exposure import REPORT_SCHEMA, ExposureReport, ExposureRequest, make_plan
from tracer.analysis.exposure_run import exposure
from tracer.cli import cli
from tracer.output.exposure_report import write_report
from tracer.store import exact_values as ev
from tracer.store.workspace import Workspace

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_case"
STATE = ("balance", "taint", "hops", "direct", "indirect", "min_hops", "flow", "touched",
         "stats", "run_stats")  # fmt: skip


def _state(g: dict) -> ExposureState:
    return ExposureState(g["n"], g["n_cat"], np.arange(g["n"], dtype=np.int32))


@pytest.mark.parametrize("model", list(EXPOSURE_MODELS))
@settings(deadline=None, max_examples=60)
@given(g=labelled_graphs(), chunk=st.sampled_from([1, 2, 5, 1000]),
       min_amount=st.sampled_from([0.0, 0.4]), max_hops=st.sampled_from([None, 1]))  # fmt: skip
def test_backward_walk_equals_reversed_copies(
    model: str, g: dict, chunk: int, min_amount: float, max_hops: int | None
) -> None:
    """The time-reversed graph swept from reversed copies, and from the forward arrays walked
    backwards chunk by chunk from the end: every state array identical."""
    kw = {"model": model, "min_amount": min_amount, "max_hops": max_hops}
    m = g["src"].shape[0]
    rev = {k: np.ascontiguousarray(g[k][::-1]) for k in ("src", "dst", "amount", "ts")}
    copies = _state(g)
    for a in range(0, max(m, 1), chunk):
        b = min(m, a + chunk)
        exposure_sweep(copies, rev["dst"][a:b], rev["src"][a:b], rev["amount"][a:b],
                       rev["ts"][a:b], g["kind"], g["cat"], **kw)  # fmt: skip
    walked = _state(g)
    for b in range(m, 0, -chunk):
        a = max(b - chunk, 0)
        exposure_sweep(walked, g["dst"][a:b], g["src"][a:b], g["amount"][a:b], g["ts"][a:b],
                       g["kind"], g["cat"], backward=True, **kw)  # fmt: skip
    for name in STATE:
        np.testing.assert_array_equal(getattr(walked, name), getattr(copies, name), err_msg=name)


def test_out_sweep_walks_forward_arrays_and_equals_reversed_chunks(
    sample_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sweep(..., "out")`` in memory walks the forward arrays backwards (several chunks),
    and equals the sweep over :func:`edge_chunks`' reversed chunks."""
    monkeypatch.setattr(exposure_mod, "CHUNK", 7)  # several chunks, a partial one first
    req = ExposureRequest(addresses=None)
    plan = make_plan(sample_ws, req)
    assert plan.n_edges > 3 * 7
    chunks = list(exposure_mod._sweep_chunks(plan, "out"))
    assert len(chunks) > 3 and all(backward for _, backward in chunks)
    assert chunks[0][0].src.base is not None  # views of the plan's arrays, not copies
    new = exposure_mod.sweep(plan, req, "out")
    k = len(plan.categories)
    state = ExposureState(plan.kind.shape[0], k + 1, plan.target_row)
    remap = np.full(len(plan.all_categories) + 1, k, dtype=np.int32)
    remap[[plan.all_categories.index(c) for c in plan.categories]] = np.arange(k, dtype=np.int32)
    remap[-1] = -1
    for sel in exposure_mod.edge_chunks(plan, "out"):
        exposure_sweep(state, sel.src, sel.dst, sel.amount, sel.ts, plan.kind,
                       remap[plan.cat_all], model=req.model)  # fmt: skip
    rows = plan.target_ids.shape[0]
    np.testing.assert_array_equal(new.direct, state.direct[:rows, :k])
    np.testing.assert_array_equal(new.indirect, state.indirect[:rows, :k])
    np.testing.assert_array_equal(new.min_hops, state.min_hops[:rows, :k])
    np.testing.assert_array_equal(new.flow, state.flow)
    np.testing.assert_array_equal(new.stats, state.stats[:k])


@pytest.mark.parametrize(
    ("edges", "dense"),
    [([], True), ([5], True), ([3, 4, 5, 6], True), ([3, 4, 6, 7], False), ([4, 3], False),
     ([0, 2, 1, 3], False), ([1, 1, 2, 3], False)],
)  # fmt: skip
def test_dense_runs(edges: list[int], dense: bool) -> None:
    assert ev._dense(np.array(edges, dtype=np.int64)) is dense


def test_dense_run_checked_across_blocks() -> None:
    run = np.arange(10, 10 + 5 * 7 + 3, dtype=np.int64)
    assert ev._dense(run, block=7)
    for at in (6, 7, 8, 20):  # a swap at, just before and after a block's edge
        bad = run.copy()
        bad[at], bad[at + 1] = bad[at + 1], bad[at]
        assert not ev._dense(bad, block=7)


@settings(deadline=None, max_examples=10,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(values=st.lists(st.sampled_from([0, 1, 7, 10**6, 10**19 + 3, 10**37, 10**40]),
                       min_size=3, max_size=12))  # fmt: skip
def test_exact_values_of_a_dense_run_equal_the_gathered_ones(tmp_path_factory, values) -> None:  # type: ignore[no-untyped-def]
    """The dense path (partition bounds from the edges, views of the index) gives each edge
    the limbs and ``raw`` flag the gather path (a partition per edge) gives it."""
    tmp = tmp_path_factory.mktemp("x")
    usdt = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    a, b = "TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx", "TGz7SeJv1XLUULqFFRd6e213A8ZeDFD6PM"
    lines = ["tx_hash,src,dst,value,ts,token,seq,chain"]
    for i, v in enumerate(values):
        lines.append(f"0x{i + 1:064x},{a},{b},{v},2024-0{1 + i % 3}-01T00:00:00Z,{usdt},0,tron")
    (tmp / "t.csv").write_text("\n".join(lines) + "\n")
    ws = Workspace.open(tmp / "ws", create=True)
    ws.ingest([tmp / "t.csv"])
    plan = make_plan(ws, ExposureRequest(addresses=None))
    assert plan.index is not None
    n = plan.index.shape[0]
    dense = ev.exact_values(ws, np.arange(n, dtype=np.int64))
    assert dense is not None
    limbs = np.concatenate([p[2] for p in dense.pieces])
    for drop in range(n):  # one edge left out: the gather path (inside), dense (at an end)
        rest = np.delete(np.arange(n, dtype=np.int64), drop)
        got = ev.exact_values(ws, rest)
        assert got is not None
        if 0 < drop < n - 1:
            assert len(got.pieces) == 1 and got.pieces[0][2].base is None  # gathered
        got_limbs = np.concatenate([p[2] for p in got.pieces])
        np.testing.assert_array_equal(got_limbs, np.delete(limbs, drop, axis=0))
        np.testing.assert_array_equal(got.raw, np.delete(dense.raw, drop))
    assert int(dense.raw.sum()) == sum(1 for v in values if v >= 10**38)


def test_report_table_has_dictionaries_and_parquet_reads_as_the_schema(
    sample_ws: Workspace, tmp_path: Path
) -> None:
    """The local engine's report holds an Arrow table (few-valued columns as dictionaries);
    Parquet written from it reads back with :data:`REPORT_SCHEMA`'s plain types, its
    provenance, and exactly the frame the report makes on demand."""
    report = exposure(sample_ws, ExposureRequest(addresses=None))
    assert report.table is not None and report._frame is None
    for name in ("chain", "asset", "direction", "category", "address", "address_name",
                 "address_category"):  # fmt: skip
        assert pa.types.is_dictionary(report.table.schema.field(name).type), name
    assert report.height == report.table.num_rows > 10
    out = tmp_path / "r.parquet"
    write_report(report, str(out), ["test"])
    assert report._frame is None  # Parquet did not need the Polars frame
    schema = pq.read_schema(out)
    assert schema.remove_metadata() == REPORT_SCHEMA
    assert json.loads(schema.metadata[b"tracer"])["command_line"] == ["test"]
    assert pq.read_table(out).schema.remove_metadata() == REPORT_SCHEMA
    back = pl.read_parquet(out)
    assert_frame_equal(back, report.frame)
    assert report.metadata["reported_addresses"] == back["address"].n_unique()
    # a report given as a frame writes the same file content
    again = tmp_path / "f.parquet"
    write_report(ExposureReport(frame=report.frame, metadata=report.metadata), str(again), ["t"])
    assert_frame_equal(pl.read_parquet(again), back)


def test_report_holds_a_frame_or_a_table() -> None:
    with pytest.raises(ValueError, match="frame or as a table"):
        ExposureReport()
    t = REPORT_SCHEMA.empty_table()
    with pytest.raises(ValueError, match="frame or as a table"):
        ExposureReport(frame=pl.from_arrow(t), table=t)  # type: ignore[arg-type]


def test_command_pauses_the_garbage_collector_and_freezes_what_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracer.analysis.exposure_run as run

    seen: list[bool] = []
    real = run.exposure

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(run, "exposure", spy)
    args = ["exposure", "--all", "-o", str(tmp_path / "r.parquet"),
            "--data", str(SAMPLE / "trongrid_scam_wallet.json"),
            "--labels", str(SAMPLE / "labels.csv")]  # fmt: skip
    assert gc.isenabled()
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert seen == [False]
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # what the command allocated is not traced again


class _NoTokenColumn:
    """A graph whose per-edge token column must not be read."""

    def __init__(self, amount: list[float]) -> None:
        n = len(amount)
        self.amount = np.array(amount)
        self.src = np.zeros(n, np.int32)
        self.dst = np.ones(n, np.int32)
        self.ts = np.arange(n, dtype=np.int64)
        self.n_edges = n
        self.tokens = pl.DataFrame({"token_id": [0, 1]})

    @property
    def token_id(self) -> np.ndarray:
        raise AssertionError("the token column was read")


def test_selecting_every_token_does_not_read_the_token_column() -> None:
    """``--all`` on one asset: every edge is selected without paging in the token column,
    with or without edges of unknown decimals (NaN amounts)."""
    from tracer.graph.selection import select_edges

    sel = select_edges(_NoTokenColumn([1.0, 2.0, 3.0]), np.array([0, 1]))  # type: ignore[arg-type]
    assert sel.index.tolist() == [0, 1, 2] and sel.excluded_unknown == 0
    sel = select_edges(_NoTokenColumn([1.0, float("nan"), 3.0]), np.array([1, 0]))  # type: ignore[arg-type]
    assert sel.index.tolist() == [0, 2] and sel.excluded_unknown == 1
    assert sel.amount.tolist() == [1.0, 3.0]


def test_a_plan_of_every_edge_builds_no_identity_index_for_its_sweeps(
    sample_ws: Workspace,
) -> None:
    """In memory, a selection of every edge leaves the edge ids unbuilt through the plan and
    both sweeps (the kernel needs none); asked for, they are the identity, built once. A
    selection of some edges keeps the ids select_edges gives."""
    from tracer.analysis.exposure_run import local_sweeps
    from tracer.graph.selection import select_edges, selects_every_edge

    req = ExposureRequest(addresses=None)
    plan = make_plan(sample_ws, req)
    graph = sample_ws.graph()
    assert selects_every_edge(graph, plan.token_ids)
    assert plan.edge_ids is None and plan.src is graph.src and plan.n_edges == graph.n_edges
    local_sweeps(plan, req)
    assert plan.edge_ids is None
    index = plan.index
    assert index is not None and index is plan.index
    np.testing.assert_array_equal(index, np.arange(graph.n_edges))
    np.testing.assert_array_equal(index, select_edges(graph, plan.token_ids).index)
    some = graph.tokens["token_id"].to_numpy()[:1]
    if graph.tokens.height > 1:
        assert not selects_every_edge(graph, some)
        part = make_plan(sample_ws, ExposureRequest(addresses=None), token_ids=some)
        assert part.edge_ids is not None
        np.testing.assert_array_equal(part.edge_ids, select_edges(graph, some).index)
    nan = _NoTokenColumn([1.0, float("nan")])
    assert not selects_every_edge(nan, np.array([0, 1]))  # type: ignore[arg-type]
    assert selects_every_edge(_NoTokenColumn([1.0, 2.0]), np.array([0, 1]))  # type: ignore[arg-type]
