"""``PathEdges`` (one numba pass per chunk, :mod:`kernels.path_keep`) keeps exactly what the
plain-Python definition and the numpy code it replaced kept: the same edges, the same order,
bit for bit, whatever the chunking; and it leaves reused sweep outputs all zero (``clear``)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels.taint import NORMAL, SINK, SOURCE, THROUGH, path_edges

from tracer.analysis.path_keep import FIELDS, PathEdges, top_per_node


class Reference:
    """The numpy PathEdges before kernels/path_keep.py (h-sweep round), verbatim in effect:
    a record mask per chunk, then each sink's top ``k`` over its kept and new inflows."""

    def __init__(self, role: np.ndarray, top_k: int | None) -> None:
        self.role, self.top_k = role, top_k
        self.best = np.zeros(role.shape[0], dtype=np.float64)
        self.parts: list[dict[str, np.ndarray]] = []
        self.sinks: dict[str, np.ndarray] | None = None
        self.seen = 0

    def add(self, src: np.ndarray, dst: np.ndarray, taint: np.ndarray, index: np.ndarray) -> None:
        n = dst.shape[0]
        pos = np.arange(self.seen, self.seen + n, dtype=np.int64)
        self.seen += n
        keep = path_edges(dst, taint, self.role, self.best)
        cols = {"src": src, "dst": dst, "taint": taint, "index": index, "_pos": pos}
        if self.top_k is None:
            self.parts.append({f: a[keep] for f, a in cols.items()})
            return
        to_sink = self.role[dst] == SINK
        self.parts.append({f: a[keep & ~to_sink] for f, a in cols.items()})
        new = {f: a[to_sink] for f, a in cols.items()}
        if self.sinks is not None:
            new = {f: np.concatenate([self.sinks[f], new[f]]) for f in cols}
        top = top_per_node(new["dst"], new["taint"], new["_pos"], self.top_k)
        self.sinks = {f: a[top] for f, a in new.items()}

    def result(self) -> dict[str, np.ndarray]:
        parts = self.parts + ([self.sinks] if self.sinks is not None else [])
        both = {f: np.concatenate([p[f] for p in parts]) for f in (*FIELDS, "_pos")}
        order = np.argsort(both["_pos"], kind="stable")
        return {f: both[f][order] for f in FIELDS}


@st.composite
def outputs(draw: st.DrawFn) -> dict:
    """A sweep's dense per-edge outputs: taint on some edges (0 elsewhere), few distinct
    values so ties are common, a few nodes, sinks among them."""
    n = draw(st.integers(2, 10))
    m = draw(st.integers(0, 150))
    dst = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), np.int32)
    taint = np.array(draw(st.lists(st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, 3.0]),
                                   min_size=m, max_size=m)), np.float64)  # fmt: skip
    role = np.array(draw(st.lists(st.sampled_from([NORMAL, NORMAL, SINK, THROUGH, SOURCE]),
                                  min_size=n, max_size=n)), np.int8)  # fmt: skip
    return {"dst": dst, "src": (dst + 1) % n, "taint": taint, "role": role,
            "hop": np.where(taint > 0, 3, 0).astype(np.int32),
            "chunk": draw(st.integers(1, 40)), "top_k": draw(st.sampled_from([None, 1, 2, 4])),
            "consecutive": draw(st.booleans())}  # fmt: skip


@settings(deadline=None, max_examples=200)
@given(g=outputs())
def test_kernel_keeps_what_the_numpy_definition_kept(g: dict) -> None:
    src, dst, taint, role = g["src"], g["dst"], g["taint"], g["role"]
    m = dst.shape[0]
    # edge numbers: consecutive (the stream's fast path passes the first one) or any ids
    index = np.arange(m, dtype=np.int64) * (1 if g["consecutive"] else 3) + 7
    ref, dense, sparse = (Reference(role, g["top_k"]), PathEdges(role, g["top_k"]),
                          PathEdges(role, g["top_k"]))  # fmt: skip
    for a in range(0, max(m, 1), g["chunk"]):
        b = min(a + g["chunk"], m)
        hit = np.flatnonzero(taint[a:b] > 0) + a
        ref.add(src[hit], dst[hit], taint[hit], index[hit])
        sparse.add(src[hit], dst[hit], taint[hit], index[hit])
        t, h = taint[a:b].copy(), g["hop"][a:b].copy()  # the reused buffers of a stream
        idx = int(index[a]) if g["consecutive"] and b > a else index[a:b]
        dense.add_chunk(src[a:b], dst[a:b], t, h, idx, clear=True)
        assert not t.any() and not h.any()  # cleared for the next chunk's sweep
    # plain Python, by definition: every edge into a non-sink carrying more than all earlier
    # ones into it; each sink's k largest inflows, ties earliest (k None: all)
    best: dict[int, float] = {}
    into: dict[int, list[tuple[float, int]]] = {}
    plain: list[int] = []
    for e in range(m):
        t, v = float(taint[e]), int(dst[e])
        if t <= 0:
            continue
        if role[v] == SINK:
            into.setdefault(v, []).append((-t, e))
        elif t > best.get(v, 0.0):
            best[v] = t
            plain.append(e)
    k = g["top_k"]
    for lst in into.values():
        plain += [e for _, e in (sorted(lst)[:k] if k is not None else lst)]
    assert dense.result()["index"].tolist() == index[sorted(plain)].tolist()
    if not m:
        ref.add(src, dst, taint, index)  # the reference needs one chunk for typed columns
    want = ref.result()
    for got in (dense.result(), sparse.result()):
        for f in FIELDS:
            np.testing.assert_array_equal(got[f], want[f])
            assert got[f].dtype == want[f].dtype


def test_sink_list_keeps_the_largest_earliest_first_without_clear() -> None:
    """Each sink keeps its k largest inflows, ties to the earlier; records elsewhere; without
    ``clear`` the outputs are left as they were."""
    role = np.array([NORMAL, SINK, NORMAL], dtype=np.int8)
    dst = np.array([1, 1, 2, 1, 2, 1, 2], dtype=np.int32)
    taint = np.array([2.0, 1.0, 0.5, 2.0, 0.5, 3.0, 0.7])
    keep = PathEdges(role, 2)
    t = taint.copy()
    keep.add_chunk(np.zeros(7, np.int32), dst, t, np.ones(7, np.int32), 100)
    got = keep.result()
    # sink 1: 3.0 (edge 5) and the first 2.0 (edge 0); node 2: records 0.5 then 0.7
    assert got["index"].tolist() == [100, 102, 105, 106]
    assert got["taint"].tolist() == [2.0, 0.5, 3.0, 0.7]
    np.testing.assert_array_equal(t, taint)


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 8).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                       st.sampled_from([0.5, 1.0, 1.0, 2.0, 3.0])), max_size=40),
    st.lists(st.integers(0, n - 1), max_size=3), st.integers(0, 3), st.booleans())))
def test_path_steps_and_walks_are_the_step_by_step_rule(case: tuple) -> None:
    """Each edge's step back is the largest earlier tainted edge into its sender (ties: the
    earliest), each sink keeps its k largest inflows (ties: the earlier), a walk follows the
    steps back to a source's edge; the scratch is left all zero for the next follow."""
    from tracer.kernels.path_keep import path_steps, path_walks

    n, edges, sink_list, k, source_first = case
    src = np.array([e[0] for e in edges], np.int32)
    dst = np.array([e[1] for e in edges], np.int32)
    taint = np.array([e[2] for e in edges], np.float64)
    sinks = np.unique(np.array(sink_list, np.int64))
    scratch = np.zeros((n, 4))
    pred, top, count = path_steps(src, dst, taint, sinks, k, scratch)
    assert not scratch.any()
    for i in range(len(edges)):
        earlier = [j for j in range(i) if dst[j] == src[i]]
        want = min(earlier, key=lambda j: (-taint[j], j)) if earlier else -1
        assert pred[i] == want
    for r, s in enumerate(sinks.tolist()):
        into = sorted((j for j in range(len(edges)) if dst[j] == s), key=lambda j: (-taint[j], j))
        assert top[r, : count[r]].tolist() == into[:k]
    role = np.where(np.arange(n) % 2 == 0, SOURCE, NORMAL).astype(np.int8)
    is_src = role[src] == SOURCE  # a walk stops at a source's edge
    rows = np.arange(sinks.shape[0])[::-1]
    steps, start, complete = path_walks(pred, src, role, top, count, rows, source_first)
    p = 0
    for r in rows.tolist():
        for e in top[r, : count[r]].tolist():
            walk = [e]
            while not is_src[walk[-1]] and pred[walk[-1]] >= 0:
                walk.append(int(pred[walk[-1]]))
            assert complete[p] == bool(is_src[walk[-1]])
            assert steps[start[p]:start[p + 1]].tolist() == (walk[::-1] if source_first else walk)
            p += 1
    assert p == start.shape[0] - 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=8, unique=True), max_size=6),
       st.lists(st.sampled_from([0.5, 1.0, 1.0, 2.0, float("nan")]), min_size=31, max_size=31))
def test_weakest_steps_are_the_min_by_taint_then_position(paths: list, taint: list) -> None:
    """Each path's weakest step is Python's ``min(steps, key=(taint, position))`` (ties and
    NaN compared as the tuples compare), steps in the path's order."""
    from tracer.kernels.path_keep import weakest_steps

    t = np.array(taint, dtype=np.float64)
    steps = np.array([s for p in paths for s in p], dtype=np.int64)
    start = np.cumsum([0] + [len(p) for p in paths]).astype(np.int64)
    got = weakest_steps(steps, start, t)
    of = t.tolist()  # a float object per step, as the old code's (one NaN is not another)
    assert got.tolist() == [min(p, key=lambda s: (of[s], s)) for p in paths]
