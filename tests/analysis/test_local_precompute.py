"""The local follow's stored balance passes computed at ingest (issue 17.1,
:mod:`tracer.analysis.precompute`): a fresh ingest's first follow and source read them; after an
append they were continued at ingest, bit for bit one pass over everything; after a backfill
they are computed anew (never a stale pass read as current); a kill -9 during the precompute
leaves the committed generation valid and the next question computes what is missing."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from tracer.kernels.local import prior_pass

from tests.analysis.test_local_follow import _doc
from tests.analysis.test_local_prior_append import _rows
from tests.store.test_store_append import ADDR, rows_csv
from tracer.analysis import local_follow
from tracer.analysis.follow import follow
from tracer.analysis.precompute import default_selections, precompute_case
from tracer.store.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


def _no_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if a follow runs or continues a balance pass (it must read the stored one)."""

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the follow ran a balance pass: nothing was stored for it")

    monkeypatch.setattr(local_follow, "prior_pass", boom)
    monkeypatch.setattr(local_follow, "continue_backward", boom)


def _follow(ws_dir: Path, direction: str, engine: str | None = "local",  # type: ignore[no-untyped-def]
            model: str = "haircut"):
    local_follow._CACHE.clear()
    return follow(Workspace.open(ws_dir), [ADDR[0]], model=model, direction=direction,
                  engine=engine, ledger=True)  # fmt: skip


def _stored_equal_recomputed(ws_dir: Path) -> int:
    """Every stored pass of the current generation a default follow reads equals one pass
    over all its edges, bit for bit (who, amounts, counts; the forward end state and the
    backward keys too). Returns how many sets were compared."""
    ws = Workspace.open(ws_dir)
    graph = ws.graph()
    n = 0
    for _, ids in default_selections(graph):
        for backward in (False, True):
            key = (np.unique(ids).tobytes(), backward)
            name = "prior-" + hashlib.blake2b(repr(key).encode(), digest_size=8).hexdigest()
            got = ws.derived(name)
            assert got is not None, f"nothing stored for {'backward' if backward else 'forward'}"
            g = local_follow._local_graph(graph, ids, backward, None,
                                          (local_follow._Z64, local_follow._Z64))  # fmt: skip
            bal = np.zeros(graph.n_nodes)
            keys: list[np.ndarray] = []
            who, short, selected, unknown = prior_pass(g, graph.n_nodes, backward, bal, keys=keys)
            assert np.array_equal(got["who"], who)
            assert np.array_equal(np.asarray(got["short"]).view(np.int64), short.view(np.int64))
            assert got["counts"].tolist() == [selected, unknown]
            assert int(got["edges"][0]) == graph.n_edges
            if backward:
                assert np.array_equal(got["keys"], keys[0])
            else:
                assert np.array_equal(np.asarray(got["bal"]).view(np.int64), bal.view(np.int64))
            n += 1
    return n


def _ingest(ws_dir: Path, csv: Path) -> None:
    Workspace.open(ws_dir, create=True).ingest([csv])


def test_a_fresh_ingest_precomputes_what_the_first_follow_and_source_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(1)
    ws_dir = tmp_path / "ws"
    _ingest(ws_dir, rows_csv(tmp_path / "a.csv", _rows(rng, 1, 90, 0)))
    done = precompute_case(Workspace.open(ws_dir))
    assert done.skipped is None
    assert [(s["direction"], s["origin"]) for s in done.selections] == [
        ("forward", "computed"), ("backward", "computed")]
    assert _stored_equal_recomputed(ws_dir) == 2
    sweeps = {d: _doc(_follow(ws_dir, d, "sweep")) for d in ("forward", "backward")}
    _no_pass(monkeypatch)
    for direction in ("forward", "backward"):
        got = _follow(ws_dir, direction)  # forced local: a 29-address graph spreads past 5%
        assert "read as stored with the workspace" in got.options["engine_reason"]
        assert _doc(got) == sweeps[direction]
    # a second precompute finds everything stored and changes nothing
    again = precompute_case(Workspace.open(ws_dir))
    assert {s["origin"] for s in again.selections} == {"stored"}


@pytest.mark.parametrize("threads", [1, 2])
def test_after_an_append_the_passes_were_continued_at_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    rng = np.random.default_rng(7 + threads)
    ws_dir = tmp_path / "ws"
    _ingest(ws_dir, rows_csv(tmp_path / "a.csv", _rows(rng, 1, 80, 0)))
    precompute_case(Workspace.open(ws_dir), threads=threads)
    for k, n in enumerate([25, 1, 40], start=1):  # new blocks, after every stored row
        _ingest(ws_dir, rows_csv(tmp_path / f"b{k}.csv", _rows(rng, 1000 * k, n, k)))
        done = precompute_case(Workspace.open(ws_dir), threads=threads)
        assert {s["origin"] for s in done.selections} == {
            f"continued over the {n:,} transfers appended since"}, done.selections
        assert _stored_equal_recomputed(ws_dir) == 2
    sweeps = {d: _doc(_follow(ws_dir, d, "sweep")) for d in ("forward", "backward")}
    with monkeypatch.context() as m:
        _no_pass(m)
        for direction in ("forward", "backward"):
            got = _follow(ws_dir, direction)
            assert "read as stored" in got.options["engine_reason"]
            assert _doc(got) == sweeps[direction]


def test_after_a_backfill_the_passes_are_computed_anew_never_stale(tmp_path: Path) -> None:
    """Rows landing before the stored ones shift every later edge: the previous generation's
    passes must not be carried or continued. The backfill here sends the followed wallet's
    funds out early (its later shortfalls change), so a stale pass would give other totals."""
    rng = np.random.default_rng(11)
    ws_dir = tmp_path / "ws"
    _ingest(ws_dir, rows_csv(tmp_path / "a.csv", _rows(rng, 1, 80, 2)))
    precompute_case(Workspace.open(ws_dir))
    old_gen = Workspace.open(ws_dir).manifest()["generation"]
    old = {p.name: np.load(p) for p in (ws_dir / f"g{old_gen}" / "case").glob("prior-*.who.npy")}
    early = [(5000 + i, f"2024-01-{1 + i % 20:02d}", i % 3, 3 + i % 5) for i in range(30)]
    _ingest(ws_dir, rows_csv(tmp_path / "early.csv", early))
    done = precompute_case(Workspace.open(ws_dir))
    assert {s["origin"] for s in done.selections} == {"computed"}
    assert _stored_equal_recomputed(ws_dir) == 2
    gen = Workspace.open(ws_dir).manifest()["generation"]
    new = {p.name: np.load(p) for p in (ws_dir / f"g{gen}" / "case").glob("prior-*.who.npy")}
    assert any(not np.array_equal(old[k], new[k]) for k in old)  # a stale set would differ
    for direction in ("forward", "backward"):
        got = _follow(ws_dir, direction)
        assert "read as stored" in got.options["engine_reason"]
        assert _doc(got) == _doc(_follow(ws_dir, direction, "sweep"))


@pytest.mark.parametrize("after", ["fresh", "append"])
def test_kill_minus_nine_during_the_precompute(tmp_path: Path, after: str) -> None:
    """The process dies while a pass's arrays are being written: the committed generation
    stays valid, no half-written set is read, and the next question computes the pass."""
    rng = np.random.default_rng(3)
    ws_dir = tmp_path / "ws"
    _ingest(ws_dir, rows_csv(tmp_path / "a.csv", _rows(rng, 1, 70, 0)))
    if after == "append":  # passes stored for generation 1, carried by the append
        precompute_case(Workspace.open(ws_dir))
        _ingest(ws_dir, rows_csv(tmp_path / "b.csv", _rows(rng, 1000, 20, 1)))
    manifest = (ws_dir / "manifest.json").read_bytes()
    code = textwrap.dedent(
        f"""
        import os, signal
        import tracer.store.case_index as c
        real = c._save
        def boom(path, arr):
            real(path, arr)
            if ".who." in path.name:  # a set's first arrays written, its done marker not
                os.kill(os.getpid(), signal.SIGKILL)
        c._save = boom
        from tracer.analysis.precompute import precompute_case
        from tracer.store.workspace import Workspace
        precompute_case(Workspace.open({str(ws_dir)!r}), threads=1)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert (ws_dir / "manifest.json").read_bytes() == manifest  # the generation stands
    got = _follow(ws_dir, "forward")
    assert "ran now" in got.options["engine_reason"]
    assert _doc(got) == _doc(_follow(ws_dir, "forward", "sweep"))
    precompute_case(Workspace.open(ws_dir))
    assert _stored_equal_recomputed(ws_dir) == 2


def test_in_memory_and_streamed_workspaces_are_skipped_and_said(tmp_path: Path) -> None:
    ws, _ = Workspace.in_memory([rows_csv(tmp_path / "a.csv", _rows(np.random.default_rng(2),
                                                                    1, 30, 0))])  # fmt: skip
    assert "in memory" in (precompute_case(ws).skipped or "")


def test_a_pass_from_other_edges_is_never_read_as_current(tmp_path: Path) -> None:
    """A set linked into a generation whose edges are not its own (here: the previous
    generation's sets put into a backfilled one, as a wrong carry would) is recomputed, not
    read or continued: the last edge it covers (``tip``) differs."""
    import shutil

    rng = np.random.default_rng(13)
    ws_dir = tmp_path / "ws"
    _ingest(ws_dir, rows_csv(tmp_path / "a.csv", _rows(rng, 1, 80, 2)))
    precompute_case(Workspace.open(ws_dir))
    old = ws_dir / f"g{Workspace.open(ws_dir).manifest()['generation']}" / "case"
    early = [(5000 + i, f"2024-01-{1 + i % 20:02d}", i % 3, 3 + i % 5) for i in range(30)]
    _ingest(ws_dir, rows_csv(tmp_path / "early.csv", early))
    new = ws_dir / f"g{Workspace.open(ws_dir).manifest()['generation']}" / "case"
    for f in old.glob("prior-*"):
        if not (new / f.name).exists():
            shutil.copyfile(f, new / f.name)  # the stale sets, complete with done markers
    for direction in ("forward", "backward"):
        got = _follow(ws_dir, direction)
        assert "ran now" in got.options["engine_reason"]
        assert _doc(got) == _doc(_follow(ws_dir, direction, "sweep"))
    assert _stored_equal_recomputed(ws_dir) == 2  # what the follows stored in their place
