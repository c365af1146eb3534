"""The unknown-prior-funds balance pass kept current by appends: a forward pass stored with a
generation (with its end state) is carried by an append that only adds rows after the stored
ones and continued over the new edges only; every follow after appends equals the full sweep
and the same rows ingested at once. A backward pass (from the end of time, where appends
land) is continued by a pass over the new edges and a replay of each address they leave with
funds up to its first clamp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracer.kernels.local import prior_pass

from tests.analysis.test_local_follow import _doc
from tests.store.test_store_append import ADDR, rows_csv
from tracer.analysis import local_follow
from tracer.analysis.follow import follow
from tracer.store import edge_log
from tracer.store.workspace import Workspace

DAYS = [f"2024-{m:02d}-{d:02d}" for m in range(1, 4) for d in range(1, 29)]
MODELS = ["poison", "haircut", "fifo", "lifo", "taint-first", "clean-first"]


def _rows(rng: np.random.Generator, tx: int, n: int,
          window: int) -> list[tuple[int, str, int, int]]:
    """``n`` rows on the days of ``window`` (20 days each, in order: window k + 1 comes after
    every row of window k)."""
    days = np.sort(rng.integers(20 * window, 20 * window + 20, n))
    # a few busy addresses (0-5) and many others: shortfalls and a contained taint
    return [(tx + i, DAYS[int(days[i])], int(rng.integers(0, 12)), int(rng.integers(0, 29)))
            for i in range(n)]  # fmt: skip


def _prior_files(ws_dir: Path) -> list[Path]:
    gen = Workspace.open(ws_dir).manifest()["generation"]
    return sorted((ws_dir / f"g{gen}" / "case").glob("prior-*.bal.npy"))


def _follow(ws_dir: Path, model: str, direction: str, engine: str):  # type: ignore[no-untyped-def]
    return follow(Workspace.open(ws_dir), [ADDR[0]], model=model, direction=direction,
                  engine=engine, ledger=True)  # fmt: skip


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), cuts=st.lists(st.integers(5, 60), min_size=1, max_size=3),
       model=st.sampled_from(MODELS))  # fmt: skip
def test_follows_after_appends_equal_the_sweep_and_an_ingest_at_once(
    tmp_path_factory, seed: int, cuts: list[int], model: str
) -> None:
    rng = np.random.default_rng(seed)
    d = tmp_path_factory.mktemp("prior")
    ws_dir, once_dir = d / "ws", d / "once"
    ws = Workspace.open(ws_dir, create=True)
    files, tx = [], 1
    for k, n in enumerate([40, *cuts]):
        rows = _rows(rng, tx, n, k)
        if k == 0:  # the followed wallet is in the data (a random draw can miss it: ~1%)
            rows[-1] = (rows[-1][0], rows[-1][1], 0, rows[-1][3])
        tx += n
        files.append(rows_csv(d / f"b{k}.csv", rows))
        ws.ingest([files[-1]])
        local_follow._CACHE.clear()
        for direction in ("forward", "backward"):
            got = _follow(ws_dir, model, direction, "local")
            assert _doc(got) == _doc(_follow(ws_dir, model, direction, "sweep"))
            if k:  # carried by the append and continued over the new edges (both ways)
                gen = Workspace.open(ws_dir).manifest()["generation"]
                meta = edge_log.read_levels(ws_dir / f"g{gen}")
                assert meta is not None and meta["how"] in ("appended", "merged")
                assert "continued over the" in got.options["engine_reason"]
    once = Workspace.open(once_dir, create=True)
    once.ingest(files)
    local_follow._CACHE.clear()
    for direction in ("forward", "backward"):
        a, b = _follow(ws_dir, model, direction, "local"), _follow(once_dir, model, direction,
                                                                   "local")  # fmt: skip
        assert _doc(a) == _doc(b)


def test_the_forward_pass_continues_over_the_appended_edges_only(tmp_path: Path,
                                                                 monkeypatch) -> None:  # fmt: skip
    rng = np.random.default_rng(3)
    ws_dir = tmp_path / "ws"
    ws = Workspace.open(ws_dir, create=True)
    ws.ingest([rows_csv(tmp_path / "a.csv", _rows(rng, 1, 80, 0))])
    follow(Workspace.open(ws_dir), [ADDR[0]], engine="local")  # computes and stores the pass
    assert _prior_files(ws_dir)
    ws.ingest([rows_csv(tmp_path / "b.csv", _rows(rng, 1000, 20, 1))])
    assert _prior_files(ws_dir), "the append carried the stored pass"
    local_follow._CACHE.clear()
    starts: list[int] = []
    real = local_follow.prior_pass

    def counting(g, n_nodes, reverse, bal=None, start=0):  # type: ignore[no-untyped-def]
        starts.append(start)
        return real(g, n_nodes, reverse, bal, start)

    monkeypatch.setattr(local_follow, "prior_pass", counting)
    graph = Workspace.open(ws_dir).graph()
    r = follow(Workspace.open(ws_dir), [ADDR[0]], engine="local")
    assert starts == [80]  # the 20 appended edges only
    assert "continued over the 20 transfers appended since" in r.options["engine_reason"]
    # the continued figures are what one pass over every edge gives, bit for bit
    key_pri = [p for _, t in local_follow._CACHE.values() for p in t.values()]
    assert key_pri
    p = key_pri[-1]
    g = local_follow._local_graph(graph, np.arange(graph.tokens.height), False, None,
                                  (local_follow._Z64, local_follow._Z64))  # fmt: skip
    who, short, selected, unknown = real(g, graph.n_nodes, False)
    assert np.array_equal(p.who, who) and np.array_equal(p.short.view(np.int64),
                                                         short.view(np.int64))  # fmt: skip
    assert (p.selected, p.unknown) == (selected, unknown)
    # a new session reads the continued set: no pass at all
    local_follow._CACHE.clear()
    starts.clear()
    again = follow(Workspace.open(ws_dir), [ADDR[0]], engine="local")
    assert starts == [] and _doc(again) == _doc(r)


def test_a_backfill_does_not_carry_the_pass(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    ws_dir = tmp_path / "ws"
    ws = Workspace.open(ws_dir, create=True)
    ws.ingest([rows_csv(tmp_path / "a.csv", _rows(rng, 1, 60, 2))])
    follow(Workspace.open(ws_dir), [ADDR[0]], engine="local")
    ws.ingest([rows_csv(tmp_path / "b.csv", _rows(rng, 1000, 10, 0))])  # earlier days
    assert _prior_files(ws_dir) == []
    local_follow._CACHE.clear()
    r = follow(Workspace.open(ws_dir), [ADDR[0]], engine="local")
    assert "ran now" in r.options["engine_reason"]
    assert _doc(r) == _doc(follow(Workspace.open(ws_dir), [ADDR[0]], engine="sweep"))


@pytest.mark.parametrize("cut", [0, 1, 17, 50])
def test_prior_pass_continued_equals_one_pass(cut: int) -> None:
    """The kernel: a pass to ``cut`` then from ``cut`` with the end state == one pass."""
    from tracer.kernels.local import LocalGraph

    rng = np.random.default_rng(cut)
    n, e = 9, 50
    src = rng.integers(0, n, e).astype(np.int32)
    dst = rng.integers(0, n, e).astype(np.int32)
    amount = rng.random(e) * 10
    amount[::7] = np.nan
    z = np.zeros(0, np.int64)
    g = LocalGraph(src, dst, amount, np.arange(e, dtype=np.int64), np.zeros(e, np.int32),
                   np.ones(1, np.bool_), z, z, z, z, np.zeros(0, np.int32), z, z)  # fmt: skip
    full = prior_pass(g, n, False)
    bal = np.zeros(n)
    g1 = g._replace(src=src[:cut], dst=dst[:cut], amount=amount[:cut], ts=g.ts[:cut],
                    token_id=g.token_id[:cut])  # fmt: skip
    a = prior_pass(g1, n, False, bal)
    b = prior_pass(g, n, False, bal, cut)
    assert np.array_equal(np.concatenate([a[0], b[0]]), full[0])
    assert np.array_equal(np.concatenate([a[1], b[1]]), full[1])
    assert (a[2] + b[2], a[3] + b[3]) == (full[2], full[3])


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 8), e=st.integers(0, 60), cut=st.integers(0, 60),
       seed=st.integers(0, 2**31), self_loops=st.booleans())  # fmt: skip
def test_backward_continuation_equals_one_pass(n: int, e: int, cut: int, seed: int,
                                               self_loops: bool) -> None:  # fmt: skip
    """The kernel: the time-reversed pass over the first ``cut`` edges, continued over the
    rest (``continue_backward``) == one time-reversed pass over all, bit for bit (who, amount,
    key, counts); random amounts with NaN, few addresses (many clamps and carried funds)."""
    from tracer.kernels.csr import build_csr
    from tracer.kernels.local import LocalGraph, continue_backward

    rng = np.random.default_rng(seed)
    cut = min(cut, e)
    src = rng.integers(0, n, e).astype(np.int32)
    dst = rng.integers(0, n, e).astype(np.int32)
    if not self_loops:
        dst = np.where(dst == src, (dst + 1) % n, dst).astype(np.int32)
    amount = np.round(rng.random(e) * 10, 1)
    amount[rng.random(e) < 0.1] = np.nan
    token = (rng.random(e) < 0.15).astype(np.int32)  # token 1: another asset
    z = np.zeros(0, np.int64)

    def graph(m: int) -> LocalGraph:  # the time-reversed view of the first m edges
        s, d = dst[:m], src[:m]
        oo, oe = build_csr(s, n)
        io, ie = build_csr(d, n)
        return LocalGraph(s, d, amount[:m], np.arange(m, dtype=np.int64), token[:m],
                          np.array([True, False]), oo, oe, io, ie, np.zeros(0, np.int32),
                          z, z)  # fmt: skip

    keys: list[np.ndarray] = []
    old = prior_pass(graph(cut), n, True, keys=keys)
    full_keys: list[np.ndarray] = []
    full = prior_pass(graph(e), n, True, keys=full_keys)
    who, short, k, selected, unknown = continue_backward(graph(e), n, cut, old[0], old[1],
                                                         keys[0], (old[2], old[3]))  # fmt: skip
    assert np.array_equal(who, full[0]) and np.array_equal(k, full_keys[0])
    assert np.array_equal(short.view(np.int64), full[1].view(np.int64))
    assert (selected, unknown) == (full[2], full[3])
