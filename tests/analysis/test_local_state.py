"""The local engine's per-session state (tracer.analysis.local_state) and what a session reads.

Questions in a row share one set of dense state buffers, reset only where the last run wrote; a
kept state is never overwritten; a session reads only the addresses it shows, finds labels by
the stored address hashes, and reuses the stored whole-selection figures. Split from
test_local_follow.py (same cases, helpers and synth workspace)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tracer.kernels.taint import (
    NORMAL,
    SOURCE,
)

from tests.analysis.test_local_follow import SPEC, _doc, assert_same, both, cases
from tracer.analysis.follow import follow
from tracer.analysis.local_follow import trace_local
from tracer.graph.spec import Selection
from tracer.store.graph_cache import graph_from_arrays
from tracer.store.synth import synth
from tracer.store.workspace import Workspace


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, dict]:
    """test_local_follow's synth workspace (the same SPEC), with its graph cache."""
    out = tmp_path_factory.mktemp("synth") / "ws"
    summary = synth(SPEC, out)
    ws = Workspace.open(out)
    ws.graph()
    return ws, summary


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(cases(), min_size=2, max_size=4))
def test_reused_state_buffers_give_a_fresh_states_result(cs: list[SimpleNamespace]) -> None:
    """Questions in a row on the same-sized graph share one set of state buffers, each reset
    only where the previous run wrote: every run equals the sweep (which allocates anew)."""
    from tracer.analysis import local_state

    local_state._SLOTS.clear()
    for c in cs:
        c.graph = _resize(c.graph, 10)
        c.role = np.concatenate([c.role, np.zeros(10 - c.role.shape[0], np.int8)])
        if c.rep is not None:
            c.rep = np.concatenate([c.rep, np.arange(c.rep.shape[0], 10, dtype=np.int32)])
        sweep, local = both(c)
        assert_same(c, sweep, local)
        del local  # the state is released: the next question reuses its buffers
    assert any(k[0] == 10 for k in local_state._SLOTS)


def _resize(graph, n: int):  # type: ignore[no-untyped-def]
    """The same edges on ``n`` nodes (extra nodes without edges): one buffer shape."""
    from tracer.store.graph_cache import graph_from_arrays as gfa

    addresses = pl.DataFrame({"id": np.arange(n, dtype=np.int32)})
    return gfa(src=graph.src, dst=graph.dst, ts=graph.ts, amount=graph.amount,
               token_id=graph.token_id, addresses=addresses, tokens=graph.tokens)  # fmt: skip


def test_a_kept_state_is_never_overwritten_and_a_broken_run_resets_everything() -> None:
    """While a caller keeps a state, the next run gets new buffers (the kept one is unchanged);
    a run that ended without saying what it wrote leaves the buffers wholly reset."""
    from tracer.analysis import local_state

    graph = graph_from_arrays(
        src=np.array([0, 1], np.int32), dst=np.array([1, 2], np.int32),
        ts=np.array([1, 2], np.int64), amount=np.array([5.0, 4.0]),
        token_id=np.zeros(2, np.int32),
        addresses=pl.DataFrame({"id": np.arange(3, dtype=np.int32), "chain": ["c"] * 3,
                                "address": ["a", "b", "d"]}),
        tokens=pl.DataFrame({"token_id": [0], "chain": ["c"], "token": ["t"], "asset": ["T"],
                             "decimals": [0]}),
    )  # fmt: skip
    role = np.array([SOURCE, NORMAL, NORMAL], np.int8)
    kw = {"model": "haircut", "backward": False, "entities": None, "ledger": False,
          "budget": False}  # fmt: skip
    first = trace_local(graph, np.array([0], np.int32), role, Selection(), **kw)  # type: ignore[arg-type]
    assert first is not None
    kept = first[0].inflow.copy(), first[0].hops.copy()
    other = np.array([NORMAL, SOURCE, NORMAL], np.int8)
    second = trace_local(graph, np.array([0], np.int32), other, Selection(), **kw)  # type: ignore[arg-type]
    assert second is not None and second[0].bt is not first[0].bt
    np.testing.assert_array_equal(first[0].inflow, kept[0])
    np.testing.assert_array_equal(first[0].hops, kept[1])
    del first, second
    state, slot = local_state.take_state(role, model="haircut", min_amount=0.0, max_hops=None)
    assert slot is not None
    state.inflow[:] = 9.0  # a run that wrote everywhere and then failed (dirty stays None)
    state.hops[:] = 7
    del state
    fresh, slot2 = local_state.take_state(role, model="haircut", min_amount=0.0, max_hops=None)
    assert slot2 is slot
    assert (fresh.inflow == 0).all() and (fresh.hops == -1).all() and (fresh.first_ts == -1).all()
    ref = __import__("tracer.kernels.taint", fromlist=["SweepState"]).SweepState(role)
    assert set(vars(fresh)) == set(vars(ref))  # the same attributes as a SweepState


def test_a_session_reads_only_the_addresses_it_shows(made) -> None:
    """A workspace whose case index holds the address texts never reads the whole address
    dictionary for a follow (sources, labels, rows, paths by id), and gives the document a
    session with the dictionary loaded gives."""
    ws, summary = made
    lazy = Workspace.open(ws.path)
    g = lazy.graph()
    assert not g.loaded and lazy.case_index().n_addresses == g.n_nodes  # type: ignore[union-attr]
    eager = Workspace.open(ws.path)
    eager.graph().addresses  # noqa: B018 - read the whole dictionary
    assert eager.graph().loaded
    for p in summary["patterns"]:
        a = follow(lazy, [p["scam"]], Selection(max_hops=p["hops"]))
        b = follow(eager, [p["scam"]], Selection(max_hops=p["hops"]))
        assert _doc(a) == _doc(b) and a.reached.height > 0
    assert not g.loaded and not lazy.nodes().loaded
    ids = np.array([3, 0, g.n_nodes - 1, 3])
    assert g.address_rows(ids).equals(eager.graph().addresses[ids.tolist()])
    assert g.address_rows(np.zeros(0, np.int64)).height == 0


def test_labels_are_found_through_the_address_hashes(made) -> None:
    """node_labels over the label addresses' hash candidates == the join over every address
    (labels on a chain, on every EVM chain, absent ones)."""
    from tracer.analysis.follow import _node_labels
    from tracer.graph.selection import node_labels

    ws, _ = made
    lazy = Workspace.open(ws.path)
    g = lazy.graph()
    labels = lazy.labels()
    extra = pl.DataFrame({"chain": [None, "tron"], "address": ["0x" + "ab" * 20, "Tnowhere"],
                          "name": ["n1", "n2"], "category": ["exchange", "mixer"],
                          "source": ["t", "t"], "confidence": ["high", "high"]},
                         schema=labels.schema)  # fmt: skip
    for lab in (labels, pl.concat([labels, extra])):
        got = _node_labels(lazy, g, lab)
        assert not g.loaded
        want = node_labels(Workspace.open(ws.path).graph(), lab)
        assert got.sort("id").equals(want.sort("id")) and got.height > 0


def test_the_sink_totals_and_shortfalls_per_node_are_stored(made, monkeypatch) -> None:
    """A new session reads the per-node shortfall counts and the totals without the sinks
    (no O(shortfalls) pass), and its document is the same."""
    from tracer.analysis import local_follow

    ws, summary = made
    scam = summary["patterns"][0]["scam"]
    first = follow(Workspace.open(ws.path), [scam])
    assert first.options["engine"] == "local"
    local_follow._CACHE.clear()

    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("recomputed")

    monkeypatch.setattr(local_follow, "overdraft_totals", fail)
    monkeypatch.setattr(local_follow.np, "bincount", fail)
    again = follow(Workspace.open(ws.path), [scam])
    monkeypatch.undo()
    assert _doc(again) == _doc(first)


def test_the_minus_one_fill_is_private_to_each_state(made) -> None:
    """The stored -1 fill is mapped copy-on-write: a state writing into it changes neither
    the file nor another map of it."""
    ws, _ = made
    a, b = ws.minus_ones(1000), ws.minus_ones(1000)
    assert a is not None and b is not None and (a == -1).all()
    a[:10] = 5
    assert (b == -1).all() and (ws.minus_ones(1000) == -1).all()  # type: ignore[union-attr]
    assert Workspace.in_memory([])[0].minus_ones(10) is None


def test_a_follow_gives_its_buffers_back_clean(made, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``follow`` resets what its local run wrote once its rows are built (``give_back``): the
    next question finds clean buffers (nothing to reset, not lent), and every question of a
    row still gives the sweep's document."""
    from tracer.analysis import local_state

    ws, summary = made
    local_state._SLOTS.clear()
    for p in summary["patterns"]:
        local = follow(ws, [p["scam"]], Selection(max_hops=p["hops"]), model=p.get("model",
                                                                                "haircut"))
        assert local.options["engine"] == "local"
        sweep = follow(ws, [p["scam"]], Selection(max_hops=p["hops"]), engine="sweep")
        assert _doc(local) == _doc(sweep)
        for slot in local_state._SLOTS.values():  # clean: the next take resets nothing
            assert slot.lent is None and slot.dirty is not None and slot.dirty.size == 0
            assert not slot.inflow.any() and not slot.bt.any() and (slot.hops == -1).all()
    # without the give-back the next question would reset the previous one's entries
    left: list[int] = []
    reset = local_state.Slot.reset

    def counted(self: local_state.Slot) -> None:
        left.append(-1 if self.dirty is None else self.dirty.size)
        reset(self)

    monkeypatch.setattr(local_state.Slot, "reset", counted)
    again = follow(ws, [summary["patterns"][0]["scam"]])
    # the take found nothing to reset (the give-back after the run resets its own entries)
    assert again.options["engine"] == "local" and left[0] == 0 and len(left) == 2


@pytest.mark.parametrize("model", ["poison", "haircut", "fifo"])
def test_rows_picked_leave_every_buffer_fresh(made, model: str) -> None:  # type: ignore[no-untyped-def]
    """The rows' pass resets what the run wrote (group_frames' ``release``): after each
    question every per-address array and lot queue of every slot holds a fresh state's
    values, so a question never reads the previous one's entries (with and without a hop
    limit: the ``beyond`` array; FIFO: the lot queues); and each document is the sweep's."""
    from tracer.analysis import local_state

    ws, summary = made
    local_state._SLOTS.clear()
    ran = 0
    for hops in (2, None):
        for p in summary["patterns"]:
            local = follow(ws, [p["scam"]], Selection(max_hops=hops), model=model)
            if local.options["engine"] != "local":
                continue
            ran += 1
            sweep = follow(ws, [p["scam"]], Selection(max_hops=hops), model=model,
                           engine="sweep")  # fmt: skip
            assert _doc(local) == _doc(sweep)
            for slot in local_state._SLOTS.values():
                assert slot.lent is None and slot.dirty is not None and slot.dirty.size == 0
                assert not slot.bt.any() and not slot.inflow.any() and not slot.beyond_from.any()
                assert (slot.hops == -1).all() and (slot.first_ts == -1).all()
                assert not any(a.any() for a in slot.lots)
                assert not slot.lot_amt.any() and not slot.lot_tnt.any()
    assert ran >= 4  # most patterns stay local


MODELS = ("poison", "haircut", "taint-first", "clean-first", "tiho", "fifo", "lifo")


def _rows(frame: pl.DataFrame | None) -> list[tuple]:
    """A row frame's (address, min_hops, first_ts, amount) rows, in one order."""
    if frame is None or frame.height == 0:
        return []
    return sorted(frame.select("address", "min_hops", "first_ts", "amount").iter_rows())


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_random_requests_in_one_session_equal_the_sweep(made, data) -> None:  # type: ignore[no-untyped-def]
    """Questions one after another in one session, as an investigator asks them (every model,
    both directions, hop limits, dust, one or two wallets, the ledger or not): the default
    engine (local when the taint stays within its budget) gives the sweep's rows, each row's
    least hop and first arrival exactly and its amount exactly under poison (rtol 1e-9 for the
    others). What is reused between questions (the lent buffers, reset where a run wrote, the
    rows' pass resetting them) must never carry one question into the next."""
    ws, summary = made
    scams = [p["scam"] for p in summary["patterns"]]
    model = data.draw(st.sampled_from(MODELS))
    direction = data.draw(st.sampled_from(["forward", "backward"]))
    sel = Selection(max_hops=data.draw(st.sampled_from([None, 1, 2, 3, 6])),
                    min_amount=data.draw(st.sampled_from([0.0, 1.0, 50.0])))  # fmt: skip
    who = data.draw(st.lists(st.sampled_from(scams), min_size=1, max_size=2, unique=True))
    ledger = data.draw(st.booleans())
    kw = {"model": model, "direction": direction, "ledger": ledger}
    got = follow(ws, who, sel, **kw)
    want = follow(ws, who, sel, engine="sweep", **kw)
    event(f"engine {got.options['engine']}")
    exact = model == "poison"
    for name in ("reached", "through", "held", "frontier"):
        a, b = _rows(getattr(got, name)), _rows(getattr(want, name))
        assert [r[:3] for r in a] == [r[:3] for r in b], (name, got.options["engine"])
        amounts = np.array([r[3] for r in a]), np.array([r[3] for r in b])
        if exact:
            assert np.array_equal(*amounts), name
        else:
            np.testing.assert_allclose(*amounts, rtol=1e-9, atol=1e-9, err_msg=name)
    assert (got.ledger is None) == (want.ledger is None)
    if got.ledger is not None and want.ledger is not None:
        assert got.ledger.height == want.ledger.height
