"""The graph cache written at ingest and kept current by appends (tracer.store.edge_log):
appended == built from the same partitions at first use, the log extended in place only when
rows land after the stored ones, a backfill rebuilds, an older generation keeps its prefix, a
kill -9 during an append leaves the previous generation's cache usable."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracer.kernels.csr import build_csr, merge_levels

from tests.store.test_store_append import ADDR, rows_csv
from tracer.store import append as append_mod
from tracer.store import edge_log, partitions
from tracer.store.graph_cache import ARRAYS
from tracer.store.partitions import EDGE_COLUMNS, edge_arrays
from tracer.store.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
DAYS = [f"2024-{m:02d}-{d:02d}" for m in range(1, 5) for d in range(1, 29)]


def from_parts(ws_dir: Path) -> dict[str, np.ndarray]:
    """What first use builds from the pinned generation's partitions (the reference)."""
    ws = Workspace.open(ws_dir)
    reader = ws.parts()
    assert reader is not None
    arrays = edge_arrays(reader.read_all(EDGE_COLUMNS))
    n = ws.nodes().n_nodes
    arrays["out_offsets"], arrays["out_edges"] = build_csr(arrays["src"], n)
    arrays["in_offsets"], arrays["in_edges"] = build_csr(arrays["dst"], n)
    return arrays


def cached(ws_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    ws = Workspace.open(ws_dir)
    gdir = ws_dir / f"g{ws.manifest()['generation']}"
    meta = edge_log.read_levels(gdir)
    assert meta is not None, "no graph cache written at ingest"
    return {k: np.array(v) for k, v in ws.graph().arrays().items()}, meta


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    for k in ARRAYS:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.dtype == y.dtype or x.dtype.kind == y.dtype.kind, k
        assert np.array_equal(x.view(np.int64) if x.dtype == np.float64 else x,
                              y.view(np.int64) if y.dtype == np.float64 else y), k  # fmt: skip


def gen_dir(ws_dir: Path) -> Path:
    return ws_dir / f"g{Workspace.open(ws_dir).manifest()['generation']}"


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partitions, "PART_ROWS", 16)
    monkeypatch.setattr(partitions, "ROW_GROUP", 8)
    monkeypatch.setattr(append_mod, "RUN_ROWS", 20)


batch = st.tuples(st.integers(1, 40), st.booleans(), st.integers(0, 2**31))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(batch, min_size=1, max_size=5), fraction=st.sampled_from([2, 8]))
def test_appended_cache_equals_first_use_build(tmp_path_factory, small_parts, monkeypatch,
                                               batches, fraction) -> None:  # fmt: skip
    """Random ingests, each either after every stored row (the log is extended: ``appended``
    or ``merged``) or anywhere (a row before a stored one: ``rebuilt``): after each, the cache
    equals the partitions' build, bit for bit."""
    monkeypatch.setattr(edge_log, "DELTA_FRACTION", fraction)
    d = tmp_path_factory.mktemp("ws")
    ws = Workspace.open(d / "ws", create=True)
    tx, last = 1, -1
    for k, (n, later, seed) in enumerate(batches):
        rng = np.random.default_rng(seed)
        lo = last + 1 if later and last + 1 < len(DAYS) else 0
        days = np.sort(rng.integers(lo, len(DAYS), n)) if later else rng.integers(0, len(DAYS), n)
        rows = [(tx + i, DAYS[int(days[i])], int(rng.integers(0, len(ADDR))),
                 int(rng.integers(0, len(ADDR)))) for i in range(n)]  # fmt: skip
        tx += n
        ws.ingest([rows_csv(d / f"b{k}.csv", rows)])
        got, meta = cached(d / "ws")
        assert_same(got, from_parts(d / "ws"))
        if k and int(days.min()) > last:
            assert meta["how"] in ("appended", "merged")
        elif k and int(days.min()) < last:
            assert meta["how"] == "rebuilt"
        last = max(last, int(days.max()))


def test_append_extends_the_shared_log_and_the_old_generation_reads_its_prefix(
    tmp_path: Path, small_parts
) -> None:
    ws_dir = tmp_path / "ws"
    ws = Workspace.open(ws_dir, create=True)
    ws.ingest([rows_csv(tmp_path / "a.csv", [(i, DAYS[i % 20], i % 7, 9) for i in range(1, 60)])])
    old_dir = gen_dir(ws_dir)
    reader = Workspace.open(ws_dir)  # holds the old generation's lease
    before = {k: np.array(v) for k, v in reader.graph().arrays().items()}
    ws.ingest([rows_csv(tmp_path / "b.csv", [(i, DAYS[40], i % 5, 3) for i in range(100, 105)])])
    new_dir = gen_dir(ws_dir)
    assert new_dir != old_dir and old_dir.exists()
    meta = edge_log.read_levels(new_dir)
    assert meta is not None and meta["how"] == "appended" and meta["from_edge"] == 59
    assert meta["delta"] is not None and meta["base"]["name"] == "b0-59"
    for f in edge_log.LOG:  # the same files, extended in place (no byte of the old rewritten)
        a, b = edge_log.log_path(old_dir / "graph", f), edge_log.log_path(new_dir / "graph", f)
        assert os.stat(a).st_ino == os.stat(b).st_ino
    # the old generation still reads exactly its prefix, in this reader and a new one
    assert_same({k: np.asarray(v) for k, v in reader.graph().arrays().items()}, before)
    old_meta = edge_log.read_levels(old_dir)
    assert old_meta is not None
    assert_same(edge_log.open_arrays(old_dir, old_meta), before)
    got, _ = cached(ws_dir)
    assert_same(got, from_parts(ws_dir))
    assert got["src"].shape[0] == 64 and np.array_equal(got["src"][:59], before["src"])


def test_backfill_rebuilds_with_new_files(tmp_path: Path, small_parts) -> None:
    ws_dir = tmp_path / "ws"
    ws = Workspace.open(ws_dir, create=True)
    ws.ingest([rows_csv(tmp_path / "a.csv", [(i, DAYS[30 + i % 20], i % 7, 9)
                                             for i in range(1, 60)])])  # fmt: skip
    old_dir = gen_dir(ws_dir)
    back = [(i, DAYS[i % 30], i % 5, 3) for i in range(100, 110)]
    s = ws.ingest([rows_csv(tmp_path / "b.csv", back)])
    assert any("graph cache was rebuilt" in n for n in s.files[0].notes)  # said
    new_dir = gen_dir(ws_dir)
    meta = edge_log.read_levels(new_dir)
    assert meta is not None and meta["how"] == "rebuilt" and meta["delta"] is None
    assert meta["from_edge"] == 0  # the first backfilled row comes before every stored one
    if old_dir.exists():  # new files: the old generation's log is not touched
        a = edge_log.log_path(old_dir / "graph", "src")
        assert os.stat(a).st_ino != os.stat(edge_log.log_path(new_dir / "graph", "src")).st_ino
    got, _ = cached(ws_dir)
    assert_same(got, from_parts(ws_dir))


def test_the_delta_merges_into_a_new_base(tmp_path: Path, small_parts, monkeypatch) -> None:
    ws_dir = tmp_path / "ws"
    ws = Workspace.open(ws_dir, create=True)
    ws.ingest([rows_csv(tmp_path / "a.csv", [(i, DAYS[i % 10], i % 7, 9) for i in range(1, 41)])])
    hows = []
    for k in range(4):  # 5 more rows each: a delta past 1/8 of the base merges
        rows = [(1000 + 10 * k + i, DAYS[20 + k], i, 10 + k) for i in range(5)]
        ws.ingest([rows_csv(tmp_path / f"b{k}.csv", rows)])
        got, meta = cached(ws_dir)
        assert_same(got, from_parts(ws_dir))
        hows.append((meta["how"], meta["base"]["edges"]))
    assert hows == [("appended", 40), ("merged", 50), ("appended", 50), ("merged", 60)]


def test_kill_during_an_append_leaves_the_previous_cache_usable(tmp_path: Path) -> None:
    """kill -9 after the new edges were written into the shared log, before the generation's
    levels.json: the previous generation reads its prefix; the next append cuts the stray
    bytes and is right."""
    ws_dir = tmp_path / "ws"
    ws = Workspace.open(ws_dir, create=True)
    ws.ingest([rows_csv(tmp_path / "a.csv", [(i, DAYS[i % 20], i % 7, 9) for i in range(1, 60)])])
    before = cached(ws_dir)[0]
    log = edge_log.log_path(gen_dir(ws_dir) / "graph", "src")
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from tests.store.test_store_append import rows_csv
        from tracer.store import edge_log
        from tracer.store.workspace import Workspace
        def die(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)
        edge_log._commit = die
        ws = Workspace.open(Path({str(ws_dir)!r}))
        ws.ingest([rows_csv(Path({str(tmp_path / "b.csv")!r}),
                            [(i, "2024-03-01", 1, 2) for i in range(200, 230)])])
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env)
    assert proc.returncode == -9
    assert os.stat(log).st_size > 59 * 4  # the stray edges are in the shared file
    got, meta = cached(ws_dir)
    assert meta["edges"] == 59
    assert_same(got, before)
    assert_same(got, from_parts(ws_dir))
    ws = Workspace.open(ws_dir)
    ws.ingest([rows_csv(tmp_path / "c.csv", [(i, "2024-03-02", 3, 4) for i in range(300, 305)])])
    got, meta = cached(ws_dir)
    assert meta["how"] == "appended" and meta["edges"] == 64
    assert_same(got, from_parts(ws_dir))
    assert os.stat(edge_log.log_path(gen_dir(ws_dir) / "graph", "src")).st_size == 64 * 4


def test_an_older_workspace_gets_its_cache_at_first_use(tmp_path: Path, monkeypatch) -> None:
    """A big generation after one without a log is left to first use, which writes the log;
    the next append extends it."""
    ws_dir = tmp_path / "ws"
    monkeypatch.setattr(append_mod, "EAGER_GRAPH_ROWS", 0)
    monkeypatch.setattr(edge_log, "write_fresh", lambda *a, **k: None)  # an older tracer
    ws = Workspace.open(ws_dir, create=True)
    ws.ingest([rows_csv(tmp_path / "a.csv", [(i, DAYS[i % 20], i % 7, 9) for i in range(1, 30)])])
    monkeypatch.undo()
    monkeypatch.setattr(append_mod, "EAGER_GRAPH_ROWS", 0)
    ws.ingest([rows_csv(tmp_path / "b.csv", [(i, DAYS[50], 1, 2) for i in range(100, 105)])])
    assert edge_log.read_levels(gen_dir(ws_dir)) is None  # too big to build at ingest
    got = {k: np.array(v) for k, v in Workspace.open(ws_dir).graph().arrays().items()}
    meta = edge_log.read_levels(gen_dir(ws_dir))
    assert meta is not None and meta["how"] == "first use"
    assert_same(got, from_parts(ws_dir))
    ws.ingest([rows_csv(tmp_path / "c.csv", [(i, DAYS[60], 2, 3) for i in range(200, 203)])])
    got, meta = cached(ws_dir)
    assert meta["how"] == "appended"
    assert_same(got, from_parts(ws_dir))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.lists(st.integers(0, 11), max_size=60), st.integers(0, 60))
def test_merge_levels_equals_one_csr(n_nodes, ends, cut) -> None:
    """Base CSR over the first edges + sparse delta over the rest == one CSR over all."""
    ends_a = np.array([e % n_nodes for e in ends], dtype=np.int32)
    cut = min(cut, ends_a.size)
    n_base = int(ends_a[:cut].max()) + 1 if cut else 0
    b_off, b_edges = build_csr(ends_a[:cut], n_base)
    nodes, d_off, d_edges = edge_log.sparse_csr(ends_a[cut:], cut)
    off, edges = merge_levels(b_off, b_edges, nodes, d_off, d_edges, n_nodes)
    ref_off, ref_edges = build_csr(ends_a, n_nodes)
    assert np.array_equal(off, ref_off) and np.array_equal(edges, ref_edges)


def test_a_hard_linked_copy_never_cuts_the_originals_edges(tmp_path: Path) -> None:
    """A workspace copied with hard links shares the log's inode: an append to the copy and
    then one to the original must not overwrite each other's edges (a log linked from
    outside the workspace is copied before it is extended)."""
    import shutil

    orig, copy = tmp_path / "orig", tmp_path / "copy"
    ws = Workspace.open(orig, create=True)
    ws.ingest([rows_csv(tmp_path / "a.csv", [(i, DAYS[i % 20], i % 7, 9) for i in range(1, 60)])])
    shutil.copytree(orig, copy, copy_function=os.link)
    Workspace.open(copy).ingest([rows_csv(tmp_path / "b.csv",
                                          [(i, DAYS[40], 1, 2) for i in range(100, 105)])])
    want_copy = from_parts(copy)
    Workspace.open(orig).ingest([rows_csv(tmp_path / "c.csv",
                                          [(i, DAYS[41], 3, 4) for i in range(200, 206)])])
    for d in (orig, copy):
        got, meta = cached(d)
        assert meta["how"] == "appended"
        assert_same(got, from_parts(d))
    assert_same(cached(copy)[0], want_copy)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.lists(st.integers(0, 11), max_size=60), st.integers(0, 60),
       st.integers(0, 60))  # fmt: skip
def test_merge_sparse_equals_one_sparse_csr(n_nodes, ends, cut_a, cut_b) -> None:
    """A delta level grown by merging (old delta + the new edges' sparse CSR) == the sparse
    CSR of all its edges at once; and sparse_csr == build_csr restricted to the nodes seen."""
    from tracer.kernels.csr import merge_sparse

    ends_a = np.array([e % n_nodes for e in ends], dtype=np.int32)
    lo = min(cut_a, ends_a.size)
    mid = min(max(lo, cut_b), ends_a.size)
    whole = edge_log.sparse_csr(ends_a[lo:], lo)
    merged = merge_sparse(edge_log.sparse_csr(ends_a[lo:mid], lo),
                          edge_log.sparse_csr(ends_a[mid:], mid))  # fmt: skip
    for a, b in zip(whole, merged, strict=True):
        assert np.array_equal(a, b) and a.dtype == b.dtype
    off, edges = build_csr(ends_a[lo:], n_nodes)
    nodes, s_off, s_edges = whole
    assert np.array_equal(nodes, np.flatnonzero(np.diff(off)))
    assert np.array_equal(s_edges, edges + lo) and np.array_equal(np.diff(s_off),
                                                                  np.diff(off)[nodes])  # fmt: skip


def test_build_csr_into_given_buffers() -> None:
    """``build_csr(out=...)`` (the base level is built straight into its memory-mapped files)
    fills dirty buffers exactly as the default allocation, and refuses wrong shapes."""
    ends = np.array([3, 0, 3, 1, 0, 3], dtype=np.int32)
    want = build_csr(ends, 5)
    off, edges = np.full(6, 7, np.int64), np.full(6, -1, np.int64)  # not zero: zeroed there
    got = build_csr(ends, 5, out=(off, edges))
    assert got[0] is off and np.array_equal(off, want[0]) and np.array_equal(edges, want[1])
    with pytest.raises(ValueError):
        build_csr(ends, 5, out=(np.zeros(5, np.int64), edges))
