"""Kernels against their plain-Python references on random graphs, plus invariants."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels.csr import build_csr
from tracer.kernels.hashing import fnv1a64
from tracer.kernels.taint import (
    LOT_MERGES,
    MODELS,
    NORMAL,
    SINK,
    SOURCE,
    THROUGH,
    ColourState,
    SweepState,
    propagate,
    sweep_chunk,
    tx_groups,
)

from tests import reference

AMOUNTS = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 0.125, 33.3])


@st.composite
def graphs(draw: st.DrawFn) -> dict:
    n = draw(st.integers(2, 8))
    m = draw(st.integers(0, 30))
    src = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    dst = [draw(st.integers(0, n - 1).filter(lambda d, s=s: d != s)) if n > 1 else 0 for s in src]
    amount = draw(st.lists(AMOUNTS, min_size=m, max_size=m))
    roles = draw(
        st.lists(st.sampled_from([NORMAL, NORMAL, SOURCE, SINK, THROUGH]), min_size=n, max_size=n)
    )
    if SOURCE not in roles:
        roles[0] = SOURCE
    seed = [roles[s] == SOURCE and draw(st.booleans()) for s in src]
    tx = draw(st.lists(st.integers(0, 5), min_size=m, max_size=m))
    return {
        "n": n,
        "src": np.array(src, dtype=np.int32),
        "dst": np.array(dst, dtype=np.int32),
        "amount": np.array(amount, dtype=np.float64),
        "role": np.array(roles, dtype=np.int8),
        "seed": np.array(seed, dtype=bool),
        "tx": np.array(tx, dtype=np.int64),
    }


def run(g: dict, model: str, **kw) -> object:
    ts = np.arange(g["src"].shape[0], dtype=np.int64)
    return propagate(
        g["src"], g["dst"], g["amount"], ts, g["seed"], g["role"], model=model,
        tx_id=g["tx"], record=True, **kw,
    )  # fmt: skip


def run_ref(g: dict, model: str, **kw) -> reference.RefResult:
    edges = list(zip(g["src"].tolist(), g["dst"].tolist(), g["amount"].tolist(), strict=True))
    role = dict(enumerate(g["role"].tolist()))
    return reference.taint(edges, g["seed"].tolist(), role, model, tx=g["tx"].tolist(), **kw)


@pytest.mark.parametrize("model", list(MODELS))
@settings(deadline=None, max_examples=150)
@given(g=graphs(), min_amount=st.sampled_from([0.0, 0.4]), max_hops=st.sampled_from([None, 1, 2]))
def test_kernel_matches_reference(model: str, g: dict, min_amount: float, max_hops) -> None:
    got = run(g, model, min_amount=min_amount, max_hops=max_hops)
    ref = run_ref(g, model, min_amount=min_amount, max_hops=max_hops)
    exact = model == "poison"
    tol = {"rtol": 0.0, "atol": 0.0} if exact else {"rtol": 1e-9, "atol": 1e-12}
    np.testing.assert_allclose(got.edge_taint, ref.edge_taint, **tol)
    for v in range(g["n"]):
        assert got.inflow[v] == pytest.approx(ref.inflow.get(v, 0.0), rel=1e-9, abs=1e-12)
        if ref.inflow.get(v, 0.0) > 0:
            assert got.hops[v] == ref.hops[v]
        if model != "poison":
            assert got.taint[v] == pytest.approx(ref.held.get(v, 0.0), rel=1e-9, abs=1e-12)
    assert got.traced == pytest.approx(ref.traced)
    assert got.dust == pytest.approx(ref.dust, rel=1e-9, abs=1e-12)
    assert got.beyond == pytest.approx(ref.beyond, rel=1e-9, abs=1e-12)
    assert int(got.stats[3]) == ref.overdrafts


@pytest.mark.parametrize("model", [m for m in MODELS if m != "poison"])
@settings(deadline=None, max_examples=100)
@given(g=graphs(), min_amount=st.sampled_from([0.0, 0.4]), max_hops=st.sampled_from([None, 1]))
def test_value_is_conserved(model: str, g: dict, min_amount: float, max_hops) -> None:
    r = run(g, model, min_amount=min_amount, max_hops=max_hops)
    absorbed = r.inflow[(g["role"] == SINK) | (g["role"] == SOURCE)].sum()
    held = r.taint[(g["role"] == NORMAL) | (g["role"] == THROUGH)].sum()
    assert absorbed + held + r.dust + r.beyond == pytest.approx(r.traced, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("model", [m for m in MODELS if m != "poison"])
@settings(deadline=None, max_examples=100)
@given(g=graphs())
def test_poison_bounds_every_model_edge_by_edge(model: str, g: dict) -> None:
    poison = run(g, "poison")
    other = run(g, model)
    assert np.all(other.edge_taint <= poison.edge_taint + 1e-12)


@pytest.mark.parametrize("model", list(MODELS))
@settings(deadline=None, max_examples=100)
@given(g=graphs())
def test_taint_never_exceeds_what_was_received(model: str, g: dict) -> None:
    r = run(g, model)
    assert np.all(r.edge_taint <= g["amount"] + 1e-12)
    if model == "poison":
        return
    # a non-source wallet never sends more taint than it received before each outflow
    received = np.zeros(g["n"])
    sent = np.zeros(g["n"])
    for e in range(g["src"].shape[0]):
        u, v = g["src"][e], g["dst"][e]
        if g["role"][u] != SOURCE:
            sent[u] += r.edge_taint[e]
            assert sent[u] <= received[u] + 1e-9
        received[v] += r.edge_taint[e]


@pytest.mark.parametrize("model", list(MODELS))
@settings(deadline=None, max_examples=100)
@given(g=graphs())
def test_taint_only_leaves_after_it_arrived(model: str, g: dict) -> None:
    """Time never runs backwards: a tainted outflow of a non-source has an earlier tainted
    inflow; so a deposit after a payment never taints that payment."""
    r = run(g, model)
    for e in np.flatnonzero(r.edge_taint > 0):
        u = g["src"][e]
        if g["role"][u] == SOURCE:
            continue
        earlier = [k for k in range(e) if g["dst"][k] == u and r.edge_taint[k] > 0]
        assert earlier, f"edge {e} tainted without earlier tainted inflow"


def test_deposit_after_payment_never_taints_it() -> None:
    # nodes: S=0 (source), A=1, C=2, X=3, Y=4. C funds A, A pays X, *then* S pays A, and A
    # empties itself to Y: the payment to X stays clean under every model, Y's is tainted
    src = np.array([2, 1, 0, 1], dtype=np.int32)
    dst = np.array([1, 3, 1, 4], dtype=np.int32)
    amount = np.array([10.0, 4.0, 5.0, 11.0])
    role = np.array([SOURCE, NORMAL, NORMAL, SINK, SINK], dtype=np.int8)
    seed = np.array([False, False, True, False])
    for model in MODELS:
        r = propagate(src, dst, amount, np.arange(4), seed, role, model=model, tx_id=np.arange(4))
        assert r.edge_taint[1] == 0.0, model
        assert r.edge_taint[3] > 0.0, model


WORKED = {
    "poison": [2.0, 5.0, 3.0],
    "haircut": [0.6, 1.5, 0.9],
    "fifo": [2.0, 1.0, 0.0],
    "lifo": [0.0, 0.0, 3.0],
    "taint-first": [2.0, 1.0, 0.0],
    "clean-first": [0.0, 0.0, 3.0],
}


@pytest.mark.parametrize("model", list(WORKED))
def test_literature_worked_example(model: str) -> None:
    """Receive 3 tainted then 7 clean, pay 2, 5, 3 to three services."""
    src = np.array([0, 2, 1, 1, 1], dtype=np.int32)
    dst = np.array([1, 1, 3, 4, 5], dtype=np.int32)
    amount = np.array([3.0, 7.0, 2.0, 5.0, 3.0])
    role = np.array([SOURCE, NORMAL, NORMAL, SINK, SINK, SINK], dtype=np.int8)
    seed = np.array([True, False, False, False, False])
    r = propagate(src, dst, amount, np.arange(5), seed, role, model=model)
    np.testing.assert_allclose(r.inflow[3:], WORKED[model], rtol=1e-12)


def test_tiho_gives_taint_to_the_largest_output_first() -> None:
    # A holds 10, 4 tainted; one transaction pays 6 and 4 (pro-rata taint of the group: 4),
    # all of it goes to the 6 output
    src = np.array([0, 2, 1, 1], dtype=np.int32)
    dst = np.array([1, 1, 3, 4], dtype=np.int32)
    amount = np.array([4.0, 6.0, 4.0, 6.0])
    role = np.array([SOURCE, NORMAL, NORMAL, SINK, SINK], dtype=np.int8)
    seed = np.array([True, False, False, False])
    tx = np.array([0, 1, 2, 2])
    r = propagate(src, dst, amount, np.arange(4), seed, role, model="tiho", tx_id=tx)
    np.testing.assert_allclose(r.inflow[3:], [0.0, 4.0])


def test_tx_groups_orders_by_amount() -> None:
    tx = np.array([5, 5, 7, 5, 7], dtype=np.int64)
    src = np.array([1, 1, 1, 2, 1], dtype=np.int32)
    amount = np.array([1.0, 3.0, 2.0, 9.0, 2.0])
    grp_of, lead, offsets, edges = tx_groups(tx, src, amount)
    assert grp_of[3] == -1
    groups = {int(lead[g]): edges[offsets[g] : offsets[g + 1]].tolist() for g in range(len(lead))}
    assert groups == {0: [1, 0], 2: [2, 4]}


def test_fifo_lot_queue_grows_and_stays_correct(rng: np.random.Generator) -> None:
    """Many alternating lots on one wallet force region moves and pool growth."""
    m = 5000
    src = np.where(np.arange(m) % 3 == 2, 1, np.where(np.arange(m) % 2 == 0, 0, 2)).astype(np.int32)
    dst = np.where(src == 1, 3, 1).astype(np.int32)
    amount = rng.integers(1, 50, m).astype(np.float64)
    role = np.array([SOURCE, NORMAL, NORMAL, SINK], dtype=np.int8)
    seed = src == 0
    for model in ("fifo", "lifo"):
        got = propagate(src, dst, amount, np.arange(m), seed, role, model=model)
        ref = reference.taint(
            list(zip(src.tolist(), dst.tolist(), amount.tolist(), strict=True)),
            seed.tolist(), dict(enumerate(role.tolist())), model,
        )  # fmt: skip
        np.testing.assert_allclose(got.edge_taint, ref.edge_taint, rtol=1e-9, atol=1e-9)
        assert got.max_lots > 4


@pytest.mark.parametrize("model", ["fifo", "lifo"])
@settings(deadline=None, max_examples=150)
@given(g=graphs(), max_lots=st.sampled_from([2, 3]))
def test_bounded_lot_queues_match_reference(model: str, g: dict, max_lots: int) -> None:
    """Queues capped by merging: the kernel follows the reference's merge rule exactly, value
    is still conserved, and no queue ever holds more than ``max_lots`` lots."""
    got = run(g, model, max_lots=max_lots)
    ref = run_ref(g, model, max_lots=max_lots)
    np.testing.assert_allclose(got.edge_taint, ref.edge_taint, rtol=1e-9, atol=1e-12)
    for v in range(g["n"]):
        assert got.taint[v] == pytest.approx(ref.held.get(v, 0.0), rel=1e-9, abs=1e-12)
    assert got.max_lots <= max_lots
    absorbed = got.inflow[(g["role"] == SINK) | (g["role"] == SOURCE)].sum()
    assert absorbed + got.taint.sum() == pytest.approx(got.traced, rel=1e-9, abs=1e-9)


def test_bounded_queue_merges_are_counted_and_bound_memory(rng: np.random.Generator) -> None:
    """A wallet receiving alternately tainted and clean funds would grow one lot per receipt;
    with ``max_lots`` the queue stays at the bound, merges are counted, and the result is
    still the reference's (mixed lots spent pro rata)."""
    m = 3000
    src = np.where(np.arange(m) % 3 == 2, 1, np.where(np.arange(m) % 2 == 0, 0, 2)).astype(np.int32)
    dst = np.where(src == 1, 3, 1).astype(np.int32)
    amount = rng.integers(1, 50, m).astype(np.float64)
    amount[src == 1] = 1.0  # spends slowly: lots pile up
    role = np.array([SOURCE, NORMAL, NORMAL, SINK], dtype=np.int8)
    seed = src == 0
    edges = list(zip(src.tolist(), dst.tolist(), amount.tolist(), strict=True))
    for model in ("fifo", "lifo"):
        free = propagate(src, dst, amount, np.arange(m), seed, role, model=model)
        capped = propagate(src, dst, amount, np.arange(m), seed, role, model=model, max_lots=8)
        ref = reference.taint(edges, seed.tolist(), dict(enumerate(role.tolist())), model,
                              max_lots=8)  # fmt: skip
        assert free.max_lots > 100 and capped.max_lots == 8
        assert capped.stats[LOT_MERGES] > 0 and free.stats[LOT_MERGES] == 0
        np.testing.assert_allclose(capped.edge_taint, ref.edge_taint, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "model", ["poison", "haircut", "taint-first", "clean-first", "fifo", "lifo"]
)
@settings(deadline=None, max_examples=60)
@given(g=graphs(), cuts=st.lists(st.integers(0, 30), max_size=4))
def test_chunked_sweep_equals_one_sweep(model: str, g: dict, cuts: list[int]) -> None:
    """State persists across chunks: any chunking of the edges gives the one-call result."""
    whole = run(g, model, max_lots=3)
    state = SweepState(g["role"], model=model, max_lots=3)
    m = g["src"].shape[0]
    bounds = [0, *sorted(min(c, m) for c in cuts), m]
    taint = []
    ts = np.arange(m, dtype=np.int64)
    for a, b in itertools.pairwise(bounds):
        part = sweep_chunk(state, g["src"][a:b], g["dst"][a:b], g["amount"][a:b], ts[a:b],
                           g["seed"][a:b])  # fmt: skip
        taint.append(part.edge_taint)
    np.testing.assert_array_equal(np.concatenate(taint), whole.edge_taint)
    np.testing.assert_array_equal(state.inflow, whole.inflow)
    np.testing.assert_array_equal(state.taint, whole.taint)
    np.testing.assert_array_equal(state.stats, whole.stats)


@pytest.mark.parametrize("model", ["haircut", "clean-first", "fifo"])
def test_chunked_run_totals_are_bit_identical_with_inexact_amounts(model: str) -> None:
    """Run totals (traced, dust, unknown prior funds) are one sequential sum in edge order,
    whatever the chunking: amounts that float64 cannot add exactly must not change that
    (a per-chunk sum added to the total gave 1.25e-15 apart, issue 12.11)."""
    rng = np.random.default_rng(7)
    n, m = 60, 3000
    src = rng.integers(0, n, m).astype(np.int32)
    dst = ((src + rng.integers(1, n, m)) % n).astype(np.int32)
    amount = rng.uniform(0.0, 10.0, m) * np.float64(1.1)
    role = np.full(n, NORMAL, dtype=np.int8)
    role[:4] = SOURCE
    role[4:8] = SINK
    seed = role[src] == SOURCE
    ts = np.arange(m, dtype=np.int64)
    whole = SweepState(role, model=model, min_amount=0.05)
    sweep_chunk(whole, src, dst, amount, ts, seed)
    cut = SweepState(role, model=model, min_amount=0.05)
    for a in range(0, m, 97):
        sweep_chunk(cut, src[a : a + 97], dst[a : a + 97], amount[a : a + 97], ts[a : a + 97],
                    seed[a : a + 97])  # fmt: skip
    assert whole.stats[4] > 0 and whole.stats[1] > 0  # prior funds and dust occur
    assert whole.stats.tolist() == cut.stats.tolist()


def test_propagate_rejects_bad_input() -> None:
    z = np.zeros(1)
    with pytest.raises(ValueError, match="unknown model"):
        propagate(np.zeros(1), np.zeros(1), z, z, np.ones(1), np.zeros(1), model="nope")
    with pytest.raises(ValueError, match="out of range"):
        propagate(np.array([0]), np.array([5]), z, z, np.ones(1), np.zeros(2, np.int8))
    with pytest.raises(ValueError, match="finite"):
        propagate(np.array([0]), np.array([1]), np.array([np.nan]), z, np.ones(1), np.zeros(2))


@settings(deadline=None, max_examples=100)
@given(nodes=st.lists(st.integers(0, 9), max_size=60))
def test_csr_matches_reference(nodes: list[int]) -> None:
    offsets, edges = build_csr(np.array(nodes, dtype=np.int32), 10)
    ref_off, ref_edges = reference.csr(nodes, 10)
    assert offsets.tolist() == ref_off
    assert edges.tolist() == ref_edges


@settings(deadline=None, max_examples=100)
@given(strings=st.lists(st.text(max_size=20), max_size=20))
def test_fnv1a_matches_reference(strings: list[str]) -> None:
    blobs = [s.encode() for s in strings]
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8) if blobs else np.zeros(0, np.uint8)
    got = fnv1a64(offsets, data)
    assert [int(h) for h in got] == [reference.fnv1a64(b) for b in blobs]


def test_fnv1a_known_vector() -> None:
    # published FNV-1a 64 test vector: "a" -> 0xaf63dc4c8601ec8c
    got = fnv1a64(np.array([0, 1], dtype=np.int64), np.frombuffer(b"a", dtype=np.uint8))
    assert int(got[0]) == 0xAF63DC4C8601EC8C


# -- taint colours (by source) --------------------------------------------------------------------
COLOUR_MODELS = ["poison", "haircut", "taint-first", "clean-first"]


def run_colours(g: dict, model: str, **kw) -> tuple[SweepState, ColourState]:
    n = g["n"]
    sources = np.flatnonzero(g["role"] == SOURCE)
    colour_of = np.full(n, -1, dtype=np.int32)
    colour_of[sources] = np.arange(sources.shape[0], dtype=np.int32)
    col = ColourState(colour_of, sources.shape[0], np.arange(n, dtype=np.int32))
    state = SweepState(g["role"], model=model, colours=col, **kw)
    ts = np.arange(g["src"].shape[0], dtype=np.int64)
    sweep_chunk(state, g["src"], g["dst"], g["amount"], ts, g["seed"])
    return state, col


@pytest.mark.parametrize("model", COLOUR_MODELS)
@settings(deadline=None, max_examples=80)
@given(g=graphs(), min_amount=st.sampled_from([0.0, 0.6]), max_hops=st.sampled_from([None, 2]))
def test_colour_kernel_matches_reference(model: str, g: dict, min_amount: float, max_hops) -> None:
    kw = {"min_amount": min_amount, "max_hops": max_hops}
    _, col = run_colours(g, model, **kw)
    colour_of = {int(v): int(c) for v, c in enumerate(col.colour_of) if c >= 0}
    edges = list(zip(g["src"].tolist(), g["dst"].tolist(), g["amount"].tolist(), strict=True))
    ref = reference.taint_colours(edges, g["seed"].tolist(), dict(enumerate(g["role"].tolist())),
                                  model, colour_of, **kw)  # fmt: skip
    k = col.tc.shape[1]
    want_in = np.zeros((g["n"], k))
    for (v, c), a in ref.inflow.items():
        want_in[v, c] = a
    np.testing.assert_allclose(col.cin, want_in, rtol=1e-9, atol=1e-9)
    keep = np.isin(g["role"], [NORMAL, THROUGH])
    want_held = np.zeros((g["n"], k))
    for (v, c), a in ref.held.items():
        want_held[v, c] = a
    np.testing.assert_allclose(col.tc[keep], want_held[keep], rtol=1e-9, atol=1e-9)
    for c in range(len(colour_of)):
        assert col.stats[c, 0] == pytest.approx(ref.traced.get(c, 0.0))
        assert col.stats[c, 1] == pytest.approx(ref.dust.get(c, 0.0), abs=1e-9)
        assert col.stats[c, 2] == pytest.approx(ref.beyond.get(c, 0.0), abs=1e-9)


@pytest.mark.parametrize("model", COLOUR_MODELS)
@settings(deadline=None, max_examples=80)
@given(g=graphs(), min_amount=st.sampled_from([0.0, 0.6]), max_hops=st.sampled_from([None, 2]))
def test_colours_conserve_and_leave_the_totals_unchanged(model, g, min_amount, max_hops) -> None:  # type: ignore[no-untyped-def]
    """Colouring changes nothing in the totals (bit for bit), and for conserving models the
    colours sum to the total taint: received, held, seeded, dust and beyond."""
    kw = {"min_amount": min_amount, "max_hops": max_hops}
    state, col = run_colours(g, model, **kw)
    plain = run(g, model, **kw)
    np.testing.assert_array_equal(state.inflow, plain.inflow)
    np.testing.assert_array_equal(state.taint, plain.taint)
    np.testing.assert_array_equal(state.hops, plain.hops)
    np.testing.assert_array_equal(state.stats, plain.stats)
    assert col.stats[:, 0].sum() == pytest.approx(state.stats[0])
    if model == "poison":  # overlapping upper bounds: each colour at most the total
        assert np.all(col.cin.max(axis=1, initial=0.0) <= state.inflow + 1e-9)
        return
    np.testing.assert_allclose(col.cin.sum(axis=1), state.inflow, rtol=1e-9, atol=1e-9)
    keep = np.isin(g["role"], [NORMAL, THROUGH])
    np.testing.assert_allclose(col.tc[keep].sum(axis=1), state.taint[keep], rtol=1e-9, atol=1e-9)
    assert col.stats[:, 1].sum() == pytest.approx(state.stats[1], abs=1e-9)
    assert col.stats[:, 2].sum() == pytest.approx(state.stats[2], abs=1e-9)


def test_haircut_colours_equal_one_trace_per_source(rng: np.random.Generator) -> None:
    """Haircut is linear: each colour is exactly what tracing that source alone gives (the
    sources never receive here, so a source traced alone sees the others as plain senders)."""
    n, m = 40, 600
    src = rng.integers(0, n, m).astype(np.int32)
    dst = (3 + (src + rng.integers(1, n - 3, m)) % (n - 3)).astype(np.int32)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    m = src.shape[0]
    g = {"n": n, "src": src, "dst": dst, "amount": rng.uniform(0, 10, m),
         "role": np.full(n, NORMAL, dtype=np.int8), "tx": np.arange(m)}  # fmt: skip
    g["role"][:3] = SOURCE
    g["role"][3:8] = SINK
    g["seed"] = g["role"][src] == SOURCE
    _, col = run_colours(g, "haircut")
    for s in range(3):
        alone = dict(g, role=g["role"].copy())
        alone["role"][[x for x in range(3) if x != s]] = NORMAL
        alone["seed"] = src == s
        one = run(alone, "haircut")
        np.testing.assert_allclose(col.cin[3:8, s], one.inflow[3:8], rtol=1e-9, atol=1e-9)


def test_colours_are_refused_for_lot_models() -> None:
    col = ColourState(np.array([0, -1], np.int32), 1, np.array([-1, 0], np.int32))
    with pytest.raises(ValueError, match="not available"):
        SweepState(np.array([SOURCE, NORMAL], np.int8), model="fifo", colours=col)


@pytest.mark.parametrize("model", ["haircut", "taint-first", "clean-first", "fifo", "lifo"])
@settings(deadline=None, max_examples=60)
@given(g=graphs(), max_hops=st.sampled_from([1, 2, 3]), colours=st.booleans())
def test_beyond_is_attributed_to_the_wallets_at_the_limit(model, g, max_hops, colours) -> None:  # type: ignore[no-untyped-def]
    """``beyond_from`` says who stopped at the hop limit; it sums to ``stats[BEYOND]`` and only
    wallets that were at the limit *when they sent* appear in it (a wallet's hop count is the
    fewest hops so far, so it can fall later, when a shorter path reaches it: the check runs
    one transfer at a time, on the state as it was)."""
    if colours and model in ("fifo", "lifo"):
        return
    if colours:
        state, _ = run_colours(g, model, max_hops=max_hops)
        assert state.beyond_from.sum() == pytest.approx(state.stats[2], abs=1e-9)
        return
    state = SweepState(g["role"], model=model, max_hops=max_hops)
    for e in range(g["src"].shape[0]):
        before = state.beyond_from.copy()
        hops_before = state.hops.copy()
        sl = slice(e, e + 1)
        sweep_chunk(state, g["src"][sl], g["dst"][sl], g["amount"][sl],
                    np.array([e], dtype=np.int64), g["seed"][sl])  # fmt: skip
        grew = np.flatnonzero(state.beyond_from > before)
        assert set(grew.tolist()) <= {int(g["src"][e])}
        assert np.all(hops_before[grew] >= max_hops)
    assert state.beyond_from.sum() == pytest.approx(state.stats[2], abs=1e-9)
    assert SweepState(g["role"], model=model).beyond_from.size == 0  # no limit: no memory
