"""The exposure report rows in parts (issue 17, round 5) give what the one-table rows give.

* :class:`~tracer.analysis.exposure_rows.RowParts`: consecutive parts of whole addresses,
  each at most ``part_rows`` rows, concatenated equal to the one-part table (sample case,
  every model, address lists, one direction; random graphs with hypothesis);
* the Parquet writer encodes the parts on a thread while the next is made: the file is the
  same rows whatever the threads' timing, one row group per part in order; an error of a
  write is raised as it is and an error (or Ctrl-C) while a part is made stops the write;
  neither leaves a file;
* ``window_edges`` of an in-memory ``--all`` plan is the plan's own arrays (no copy).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests.analysis.test_exposure_rows import ADDRESSES, transfer_set_ws, transfer_sets
from tests.analysis.test_exposure_rows import sample_ws as sample_ws  # the fixture
from tracer.analysis.exposure import (
    REPORT_SCHEMA,
    ExposureReport,
    ExposureRequest,
    edge_chunks,
    make_plan,
    report_frame,
)
from tracer.analysis.exposure_rows import RowParts, window_edges
from tracer.analysis.exposure_run import exposure, local_sweeps
from tracer.analysis.risk import load_risk_config
from tracer.graph.spec import Selection
from tracer.output.exposure_report import write_parquet, write_report
from tracer.store.workspace import Workspace


def _row_parts(ws: Workspace, req: ExposureRequest) -> RowParts:
    plan = make_plan(ws, req)
    return RowParts(ws, req, plan, local_sweeps(plan, req), load_risk_config(), asset="USD")


def _check_parts(rows: RowParts, part_rows: int) -> list[pa.Table]:
    """The parts of ``rows``: whole addresses, at most ``part_rows`` rows unless one address
    holds more, concatenated equal to the one-part table; returns them."""
    whole = report_frame(rows.table())
    parts = list(rows.parts(part_rows))
    assert len(parts) >= 1
    frames = [report_frame(p) for p in parts]
    seen: set[str] = set()
    for f in frames:
        addresses = set(f["address"].to_list())
        assert f.height <= part_rows or len(addresses) == 1
        assert not addresses & seen  # an address's rows are in one part
        seen |= addresses
    assert sum(f.height for f in frames) == rows.num_rows == whole.height
    assert_frame_equal(pl.concat(frames), whole)
    return parts


@pytest.mark.parametrize("part_rows", [1, 3, 10, 1 << 18])
@pytest.mark.parametrize("model", ["haircut", "poison", "taint-first", "clean-first"])
def test_parts_concatenated_equal_the_table(
    sample_ws: Workspace, model: str, part_rows: int
) -> None:
    rows = _row_parts(sample_ws, ExposureRequest(addresses=None, model=model))
    parts = _check_parts(rows, part_rows)
    assert rows.num_rows > 10
    if part_rows > rows.num_rows:
        assert len(parts) == 1
    if part_rows == 1:  # one address per part
        assert len(parts) == len(rows.addresses()) == rows.plan.target_ids.shape[0]


def test_parts_of_an_address_list_one_direction_and_no_rows(sample_ws: Workspace) -> None:
    picked = tuple(ADDRESSES[:4])
    for directions in (("in",), ("out",), ("out", "in")):
        req = ExposureRequest(addresses=picked, directions=directions, categories=("scam",))
        _check_parts(_row_parts(sample_ws, req), 5)
    # an address with no transfers: no rows at all, still one (empty) part
    missing = ("TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",)
    empty = _row_parts(sample_ws, ExposureRequest(addresses=missing))
    assert empty.num_rows == 0
    assert [p.num_rows for p in empty.parts(4)] == [0]


@settings(
    deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=transfer_sets(), part_rows=st.sampled_from([1, 2, 7, 50]),
       model=st.sampled_from(["haircut", "poison"]))  # fmt: skip
def test_parts_equal_the_table_on_random_graphs(
    tmp_path_factory, data, part_rows: int, model: str
) -> None:  # type: ignore[no-untyped-def]
    ws = transfer_set_ws(tmp_path_factory.mktemp("g"), data)
    _check_parts(_row_parts(ws, ExposureRequest(addresses=None, model=model)), part_rows)


def _read_groups(path: Path) -> list[pl.DataFrame]:
    f = pq.ParquetFile(path)
    return [pl.from_arrow(f.read_row_group(i)) for i in range(f.num_row_groups)]  # type: ignore[misc]


def test_parquet_from_parts_is_the_table_with_a_row_group_per_part(
    sample_ws: Workspace, tmp_path: Path
) -> None:
    rows = _row_parts(sample_ws, ExposureRequest(addresses=None))
    parts = list(rows.parts(7))
    assert len(parts) > 3
    write_parquet(iter(parts), tmp_path / "parts.parquet", '{"k": 1}')
    write_parquet(rows.table(), tmp_path / "one.parquet", '{"k": 1}')
    one = pl.read_parquet(tmp_path / "one.parquet")
    assert_frame_equal(pl.read_parquet(tmp_path / "parts.parquet"), one)
    groups = _read_groups(tmp_path / "parts.parquet")
    assert [g.height for g in groups] == [p.num_rows for p in parts]
    assert pq.read_schema(tmp_path / "parts.parquet").metadata[b"tracer"] == b'{"k": 1}'


def test_the_file_is_the_same_whatever_the_threads_timing(
    sample_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes and part assembly slowed at random (each way round): the same rows, the row
    groups in part order, every time."""
    rows = _row_parts(sample_ws, ExposureRequest(addresses=None))
    want = [report_frame(p) for p in rows.parts(6)]
    real = pq.ParquetWriter.write_table
    rng = random.Random(5)

    def slow_write(self, table, row_group_size=None):  # type: ignore[no-untyped-def]
        time.sleep(rng.choice([0.0, 0.001, 0.02]))
        return real(self, table, row_group_size=row_group_size)

    def slow_parts() -> Iterator[pa.Table]:
        for p in rows.parts(6):
            time.sleep(rng.choice([0.0, 0.001, 0.02]))
            yield p

    monkeypatch.setattr(pq.ParquetWriter, "write_table", slow_write)
    for i in range(4):
        out = tmp_path / f"r{i}.parquet"
        write_parquet(slow_parts(), out, "{}")
        got = _read_groups(out)
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_frame_equal(g, w)


def _second_write_fails(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the second ``write_table`` of any Parquet writer fail as a full disk does; the
    list returned records the thread of each call."""
    real = pq.ParquetWriter.write_table
    threads: list[str] = []

    def failing(self, table, row_group_size=None):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        if len(threads) == 2:
            raise OSError(28, "No space left on device")
        return real(self, table, row_group_size=row_group_size)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", failing)
    return threads


def test_a_write_error_is_raised_as_it_is_and_leaves_no_file(
    sample_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _row_parts(sample_ws, ExposureRequest(addresses=None))
    calls = _second_write_fails(monkeypatch)
    report = ExposureReport(parts=_Few(rows), metadata={"k": 1})
    out = tmp_path / "r.parquet"
    with pytest.raises(OSError, match="No space left on device"):
        write_report(report, str(out), ["t"])
    assert calls[1].startswith("tracer-parquet")  # raised on the writer thread
    assert list(tmp_path.iterdir()) == []  # no file, no temp file


class _Few:
    """A RowParts in parts of 5 rows (several parts on the sample case), optionally failing
    after ``fail_after`` parts with ``error``."""

    def __init__(self, rows: RowParts, fail_after: int | None = None,
                 error: BaseException | None = None) -> None:  # fmt: skip
        self.rows, self.fail_after, self.error = rows, fail_after, error
        self.num_rows = rows.num_rows

    def table(self) -> pa.Table:
        return self.rows.table()

    def __iter__(self) -> Iterator[pa.Table]:
        for i, p in enumerate(self.rows.parts(5)):
            if i == self.fail_after:
                assert self.error is not None
                raise self.error
            yield p


@pytest.mark.parametrize("error", [KeyboardInterrupt(), ValueError("bad part")])
def test_an_error_while_a_part_is_made_stops_the_write(
    sample_ws: Workspace, tmp_path: Path, error: BaseException
) -> None:
    rows = _row_parts(sample_ws, ExposureRequest(addresses=None))
    out = tmp_path / "r.parquet"
    with pytest.raises(type(error)):
        write_report(ExposureReport(parts=_Few(rows, 2, error)), str(out), ["t"])
    assert list(tmp_path.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("tracer-parquet")]


def test_an_all_report_is_assembled_only_as_written(
    sample_ws: Workspace, tmp_path: Path
) -> None:
    """The local engine's report holds parts: its height is known without assembling, and
    writing Parquet does not make the one table (or the frame)."""
    report = exposure(sample_ws, ExposureRequest(addresses=None))
    assert report._parts is not None and report._table is None
    assert report.height == report._parts.num_rows > 10
    write_report(report, str(tmp_path / "r.parquet"), ["t"])
    assert report._table is None and report._frame is None
    assert_frame_equal(pl.read_parquet(tmp_path / "r.parquet"), report.frame)
    assert report.height == report.frame.height


def test_window_edges_of_an_all_plan_are_the_plans_arrays(sample_ws: Workspace) -> None:
    plan = make_plan(sample_ws, ExposureRequest(addresses=None))
    index, src, dst = window_edges(plan, ["in", "out"])
    assert index is plan.index and src is plan.src and dst is plan.dst
    chunks = list(edge_chunks(plan))
    np.testing.assert_array_equal(index, np.concatenate([c.index for c in chunks]))
    # a window: the edges inside it, not the plan's arrays
    since = datetime(2024, 3, 5, tzinfo=UTC)
    windowed = make_plan(sample_ws, ExposureRequest(addresses=None,
                                                    selection=Selection(since=since)))  # fmt: skip
    assert windowed.lo is not None and windowed.ts is not None
    w_index, _, _ = window_edges(windowed, ["in", "out"])
    assert w_index is not windowed.index
    np.testing.assert_array_equal(w_index, windowed.index[windowed.ts >= windowed.lo])
    assert 0 < w_index.shape[0] < index.shape[0]


def test_the_command_reports_a_write_error_of_the_writer_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``tracer exposure --all -o r.parquet`` whose second row group fails to write (on the
    writer thread): the same clear error as any write error (exit 1, the OS's message, no
    traceback), and no file."""
    from click.testing import CliRunner

    from tracer.analysis import exposure_rows
    from tracer.cli import cli

    sample = Path(__file__).resolve().parents[2] / "fixtures" / "sample_case"
    monkeypatch.setattr(exposure_rows, "PART_ROWS", 5)  # several parts on the sample case
    threads = _second_write_fails(monkeypatch)
    out = tmp_path / "r.parquet"
    result = CliRunner().invoke(cli, [
        "exposure", "--all", "-o", str(out), "--quiet",
        "--data", str(sample / "trongrid_scam_wallet.json"),
        "--data", str(sample / "trongrid_downstream.json"),
        "--labels", str(sample / "labels.csv"),
    ])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "No space left on device" in result.output
    assert "Traceback" not in result.output
    assert threads[1].startswith("tracer-parquet")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("model", ["haircut", "poison"])
def test_a_sweep_of_every_category_returns_views_equal_to_the_copies(
    sample_ws: Workspace, model: str
) -> None:
    """Every reported category in one sweep: the result holds views of the sweep state's rows
    (no copies), equal to the copied form a category group gets (here: every category, in
    reverse slot order; per-category models, so the same sums bit for bit)."""
    from tracer.analysis.exposure import sweep

    req = ExposureRequest(addresses=None, model=model)
    plan = make_plan(sample_ws, req)
    k = len(plan.categories)
    assert k >= 3
    for d in ("in", "out"):
        views = sweep(plan, req, d)
        copies = sweep(plan, req, d, group=list(range(k))[::-1])
        assert views.direct.base is not None and copies.direct.base is None
        for name in ("direct", "indirect", "min_hops", "flow", "touched", "stats", "held"):
            np.testing.assert_array_equal(getattr(views, name), getattr(copies, name), name)
        assert views.direct.shape == (plan.target_ids.shape[0], k)
        assert (views.overdrafts, views.overdraft_amount) == (
            copies.overdrafts, copies.overdraft_amount)  # fmt: skip


def test_writing_no_table_at_all_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no table"):
        write_parquet(iter([]), tmp_path / "r.parquet", "{}")


def test_ctrl_c_during_the_sweeps_stops_them_at_their_next_chunk(
    sample_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGINT while the main thread waits for the two sweeps: KeyboardInterrupt as usual, and
    each sweep ends after the chunk it is in instead of sweeping every edge first."""
    import signal

    from tracer.analysis import exposure as exposure_mod

    monkeypatch.setattr(exposure_mod, "CHUNK", 1)  # a chunk per edge
    req = ExposureRequest(addresses=None)
    plan = make_plan(sample_ws, req)
    assert plan.n_edges > 20
    swept: list[int] = []
    main = threading.main_thread().ident
    assert main is not None

    # Python's own Ctrl-C handler, whatever this process inherited: started in the background
    # of a non-interactive shell (nohup, `cmd &`), SIGINT is ignored and Python installs none
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    sent = threading.Event()
    guard = threading.Lock()

    def on_chunk(n: int) -> None:
        # two sweep threads call this: the count and the send under one lock, so the third
        # chunk sends the signal exactly once (an unlocked ``len == 3`` could be skipped when
        # both threads append before either checks)
        with guard:
            swept.append(n)
            send = len(swept) >= 3 and not sent.is_set()
            if send:
                sent.set()
        if send:
            signal.pthread_kill(main, signal.SIGINT)
        time.sleep(0.05)

    try:
        with pytest.raises(KeyboardInterrupt):
            local_sweeps(plan, req, on_chunk=on_chunk)
    finally:
        signal.signal(signal.SIGINT, previous)
    # without the stop: both directions' every edge (2 x n_edges) before the error
    assert 3 <= len(swept) <= plan.n_edges
    assert not [t for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor")]


@settings(deadline=None, max_examples=20)
@given(n_nodes=st.integers(1, 50), n_edges=st.sampled_from([0, 1, 7, (1 << 20) + 3]),
       seed=st.integers(0, 2**32 - 1))  # fmt: skip
def test_mark_nodes_equals_the_two_scatters(n_nodes: int, n_edges: int, seed: int) -> None:
    """Below and above the threaded size: the nodes marked are exactly those of the edges."""
    from tracer.analysis.exposure import mark_nodes

    rng = np.random.default_rng(seed)
    src = rng.integers(0, n_nodes, n_edges).astype(np.int32)
    dst = rng.integers(0, n_nodes, n_edges).astype(np.int32)
    want = np.zeros(n_nodes, dtype=np.bool_)
    want[src] = True
    want[dst] = True
    got = np.zeros(n_nodes, dtype=np.bool_)
    mark_nodes(got, src, dst)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, np.isin(np.arange(n_nodes), np.concatenate([src, dst])))


def test_each_row_group_keeps_its_parts_addresses_as_its_dictionary(
    sample_ws: Workspace, tmp_path: Path
) -> None:
    """A part's ``address`` is a dictionary of that part's addresses only, in display order,
    and the file's row groups keep it (dictionary-encoded, not plain strings); statistics are
    written for the columns readers filter on and not for the amounts; same rows read back."""
    from tracer.output.exposure_report import STATISTICS_COLUMNS

    rows = _row_parts(sample_ws, ExposureRequest(addresses=None))
    parts = list(rows.parts(9))
    assert len(parts) > 3
    for p in parts:
        col = p["address"].combine_chunks()
        shown = col.dictionary.to_pylist()
        assert shown == sorted(set(col.to_pylist()), key=shown.index)  # its own, each used
        assert len(shown) == len(set(shown)) < p.num_rows or p.num_rows <= 2
    out = tmp_path / "parts.parquet"
    write_parquet(iter(parts), out, "{}")
    meta = pq.ParquetFile(out).metadata
    names = REPORT_SCHEMA.names
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        address = group.column(names.index("address"))
        assert "RLE_DICTIONARY" in address.encodings
        assert address.statistics is not None and address.statistics.has_min_max
        for i, name in enumerate(names):
            has = group.column(i).statistics is not None
            assert has == (name in STATISTICS_COLUMNS), name
    assert_frame_equal(pl.read_parquet(out), report_frame(rows.table()))


def test_a_dictionary_with_a_repeated_address_reads_back_as_its_rows(tmp_path: Path) -> None:
    """The same display address on two chains (an EVM address on two chains) appears twice
    in a part's dictionary: the file still holds every row's own value."""
    table = pa.table({n: pa.nulls(4, t) for n, t in zip(REPORT_SCHEMA.names, REPORT_SCHEMA.types,
                                                        strict=True)})  # fmt: skip
    addresses = pa.DictionaryArray.from_arrays(
        pa.array([3, 2, 1, 0], pa.int32()), pa.array(["0xab", "0xcd", "0xab", "0xef"])
    )
    table = table.set_column(0, "address", addresses)
    write_parquet(table, tmp_path / "r.parquet", "{}")
    back = pq.read_table(tmp_path / "r.parquet")["address"].to_pylist()
    assert back == ["0xef", "0xab", "0xcd", "0xab"]


@pytest.mark.parametrize("model", ["haircut", "poison", "taint-first", "clean-first"])
def test_every_category_in_one_sweep_needs_no_other_slot(
    sample_ws: Workspace, model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every labelled category reported in one sweep: the state has no "other" slot (k
    slots, not k + 1), and the results are those of the same sweep with an (empty) other
    slot, bit for bit, in every model and both directions."""
    import dataclasses

    from tracer.analysis import exposure as exposure_mod

    slots: list[int] = []

    class Recorded(exposure_mod.ExposureState):
        def __init__(self, n_nodes: int, n_cat: int, target_row: np.ndarray) -> None:
            slots.append(n_cat)
            super().__init__(n_nodes, n_cat, target_row)

    monkeypatch.setattr(exposure_mod, "ExposureState", Recorded)
    req = ExposureRequest(addresses=None, model=model)
    plan = make_plan(sample_ws, req)
    k = len(plan.categories)
    assert k >= 3 and plan.all_categories == plan.categories
    # a category no address has: the sweep keeps the other slot, empty
    with_other = dataclasses.replace(plan, all_categories=[*plan.all_categories, "zz-none"])
    for d in ("in", "out"):
        slots.clear()
        lean = exposure_mod.sweep(plan, req, d)
        full = exposure_mod.sweep(with_other, req, d)
        assert slots == [k, k + 1]
        for name in ("direct", "indirect", "min_hops", "flow", "touched", "stats", "held"):
            np.testing.assert_array_equal(getattr(lean, name), getattr(full, name), name)
        assert (lean.overdrafts, lean.overdraft_amount) == (full.overdrafts, full.overdraft_amount)
