"""k-hop reachability kernel: the iterative-join definition, poison's support, reused state."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels.csr import build_csr
from tracer.kernels.reach import Reach
from tracer.kernels.taint import NORMAL, SINK, SOURCE, propagate

from tests import reference


@st.composite
def graphs(draw: st.DrawFn) -> dict:
    n = draw(st.integers(2, 9))
    m = draw(st.integers(0, 40))
    src = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    dst = [draw(st.integers(0, n - 1).filter(lambda d, s=s: d != s)) for s in src]
    seeds = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
    stop = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    stop = [b and i not in seeds for i, b in enumerate(stop)]
    return {"n": n, "src": np.array(src, np.int32), "dst": np.array(dst, np.int32),
            "seeds": np.array(seeds, np.int32), "stop": np.array(stop, bool)}  # fmt: skip


def reach_of(g: dict) -> Reach:
    off, edges = build_csr(g["src"], g["n"])
    return Reach(off, edges, g["dst"], g.get("stop"))


@settings(deadline=None, max_examples=200)
@given(g=graphs(), hops=st.integers(1, 5))
def test_reach_matches_reference(g: dict, hops: int) -> None:
    edges, levels = reach_of(g).query(g["seeds"], hops)
    ref = reference.k_hop(list(zip(g["src"].tolist(), g["dst"].tolist(), strict=True)),
                          set(g["seeds"].tolist()), hops,
                          frozenset(np.flatnonzero(g["stop"]).tolist()))  # fmt: skip
    assert dict(zip(edges.tolist(), levels.tolist(), strict=True)) == ref
    assert np.all(np.diff(levels) >= 0)  # listed level by level


@settings(deadline=None, max_examples=150)
@given(g=graphs(), hops=st.integers(1, 4))
def test_reach_is_the_support_of_poison_with_a_hop_limit(g: dict, hops: int) -> None:
    """Poison taints exactly the transfers on a time-respecting path of <= k hops from a seed
    wallet (positive amounts; the seeds' every outflow is traced; services are sinks)."""
    role = np.where(g["stop"], SINK, NORMAL).astype(np.int8)
    role[g["seeds"]] = SOURCE
    m = g["src"].shape[0]
    seed = role[g["src"]] == SOURCE
    res = propagate(g["src"], g["dst"], np.ones(m), np.arange(m), seed, role, model="poison",
                    max_hops=hops)  # fmt: skip
    edges, _ = reach_of(g).query(g["seeds"], hops)
    assert set(np.flatnonzero(res.edge_taint > 0).tolist()) == set(edges.tolist())


def test_state_is_reused_and_reset_between_queries(rng: np.random.Generator) -> None:
    n, m = 500, 5000
    g: dict = {"n": n, "src": rng.integers(0, n, m).astype(np.int32)}
    g["dst"] = ((g["src"] + rng.integers(1, n, m)) % n).astype(np.int32)
    r = reach_of(g)
    buffers = [id(r.since), id(r.scanned), id(r.reached)]
    answers = []
    for seeds in ([1, 2], [7], [1, 2]):
        edges, _ = r.query(np.array(seeds), 3)
        answers.append(sorted(edges.tolist()))
        assert (r.scanned == -1).all() and (r.since == np.iinfo(np.int64).max).all()
    assert answers[0] == answers[2] != answers[1]
    assert [id(r.since), id(r.scanned), id(r.reached)] == buffers
    with pytest.raises(ValueError, match="out of range"):
        r.query(np.array([n]), 2)


def test_a_wallet_revisited_with_nothing_to_scan_is_touched_once() -> None:
    """Regression (found by hypothesis under NUMBA_BOUNDSCHECK=1): a wallet in the frontier of
    two levels whose first scan found no later edges was recorded in ``touched`` twice, writing
    past the end of the array (heap corruption: the test process aborted at exit)."""
    g = {
        "n": 6,
        "src": np.array([0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2], dtype=np.int32),
        "dst": np.array([1, 0, 1, 1, 1, 1, 1, 3, 4, 5, 0, 0, 0, 1], dtype=np.int32),
    }
    r = reach_of(g)
    edges, levels = r.query(np.array([2]), 3)
    # level 1: 2's outflows (1, 13); level 2: 0's after edge 1; level 3: 1's after edge 2
    assert sorted(edges.tolist()) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    assert levels.max() == 3
    assert (r.scanned == -1).all()
    # every wallet is visited (3, 4, 5 at level 3) and recorded exactly once: the old kernel
    # recorded wallet 1 at levels 2 and 3 and wrote the sixth visit past the array's end
    assert sorted(r.touched.tolist()) == [0, 1, 2, 3, 4, 5]
