"""The local (frontier-driven) follow equals the full sweep: same arrays on random graphs for
every model, direction, window, dust, hop limit, sinks, pass-through and entities; the engine
choice and the switch-over to the sweep are reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracer.kernels.taint import (
    NORMAL,
    OVERDRAFT_AMOUNT,
    OVERDRAFTS,
    SINK,
    SOURCE,
    THROUGH,
)

from tracer.analysis.follow import follow, trace_edges
from tracer.analysis.follow_result import FollowResult
from tracer.analysis.local_follow import trace_local
from tracer.core.errors import UsageError
from tracer.graph.spec import Selection
from tracer.output.follow_json import follow_json
from tracer.store.graph_cache import graph_from_arrays
from tracer.store.synth import SynthSpec, synth
from tracer.store.workspace import Workspace

MODELS = ("poison", "haircut", "taint-first", "clean-first", "fifo", "lifo")


class _Ws:
    """Just what the in-memory sweep reads of a workspace: the graph, no partitions."""

    def __init__(self, graph: object) -> None:
        self._g = graph

    def graph(self) -> object:
        return self._g

    def parts(self) -> None:
        return None


@st.composite
def cases(draw: st.DrawFn) -> SimpleNamespace:
    n = draw(st.integers(2, 10))
    m = draw(st.integers(0, 45))
    src = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), np.int32)
    dst = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), np.int32)
    amt = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 7.5, 10.0, float("nan")]),
                        min_size=m, max_size=m))  # fmt: skip
    tok = np.array(draw(st.lists(st.integers(0, 1), min_size=m, max_size=m)), np.int32)
    ts = np.cumsum(draw(st.lists(st.integers(0, 2), min_size=m, max_size=m))).astype(np.int64)
    role = np.array(draw(st.lists(st.sampled_from([NORMAL, NORMAL, NORMAL, SINK, THROUGH]),
                                  min_size=n, max_size=n)), np.int8)  # fmt: skip
    srcs = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2, unique=True))
    rep = None
    if draw(st.booleans()):
        groups = draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n))
        # an entity's id is its smallest member (as entity ids are addresses)
        first = {}
        for a, gr in enumerate(groups):
            first.setdefault(gr, a)
        rep = np.array([first[gr] for gr in groups], np.int32)
        role = role.copy()
        # roles live on entity ids
        role = np.where(np.isin(np.arange(n), rep), role, NORMAL).astype(np.int8)
        srcs = sorted({int(rep[s]) for s in srcs})
    role[srcs] = SOURCE
    lo = draw(st.none() | st.integers(0, 20))
    hi = draw(st.none() | st.integers(0, 40))
    sel = Selection(
        since=None if lo is None else datetime.fromtimestamp(lo / 1e6, tz=UTC),
        until=None if hi is None else datetime.fromtimestamp(hi / 1e6, tz=UTC),
        max_hops=draw(st.none() | st.integers(1, 4)),
        min_amount=draw(st.sampled_from([0.0, 0.0, 0.3, 1.0])),
    )
    tokens = pl.DataFrame({"token_id": [0, 1]}, schema={"token_id": pl.Int32})
    addresses = pl.DataFrame({"id": np.arange(n, dtype=np.int32)})
    graph = graph_from_arrays(src=src, dst=dst, ts=ts, amount=np.array(amt, np.float64),
                              token_id=tok, addresses=addresses, tokens=tokens)  # fmt: skip
    token_ids = np.array(draw(st.sampled_from([[0], [1], [0, 1]])), np.int32)
    return SimpleNamespace(graph=graph, role=role, rep=rep, sel=sel, token_ids=token_ids,
                           model=draw(st.sampled_from(MODELS)), backward=draw(st.booleans()))


def both(c: SimpleNamespace, ledger: bool = True) -> tuple[tuple, tuple]:
    sweep = trace_edges(_Ws(c.graph), c.token_ids, c.role, c.sel, model=c.model,  # type: ignore[arg-type]
                        backward=c.backward, entities=c.rep, ledger=ledger)  # fmt: skip
    local = trace_local(c.graph, c.token_ids, c.role, c.sel, model=c.model,  # type: ignore[arg-type]
                        backward=c.backward, entities=c.rep, ledger=ledger, budget=False)
    assert local is not None
    return sweep, local


def assert_same(c: SimpleNamespace, sweep: tuple, local: tuple) -> None:
    (s_state, s_t, s_c), (l_state, l_t, l_c) = sweep, local
    # each address sees the same float operations in the same order as in the sweep, and the
    # run totals are summed in processing order: bit for bit, every model (the issue allows
    # rtol 1e-9 outside poison; nothing needs it)
    close = {"rtol": 0.0, "atol": 0.0}
    np.testing.assert_allclose(l_state.taint, s_state.taint, **close)
    np.testing.assert_allclose(l_state.inflow, s_state.inflow, **close)
    np.testing.assert_array_equal(l_state.hops, s_state.hops)
    np.testing.assert_array_equal(l_state.first_ts, s_state.first_ts)
    np.testing.assert_allclose(l_state.beyond_from, s_state.beyond_from, **close)
    for i in range(3):  # traced, dust, beyond
        np.testing.assert_allclose(l_state.stats[i], s_state.stats[i], **close)
    assert l_state.stats[OVERDRAFTS] == s_state.stats[OVERDRAFTS]
    # summed in the sweep's order: bit for bit
    assert l_state.stats[OVERDRAFT_AMOUNT] == s_state.stats[OVERDRAFT_AMOUNT]
    np.testing.assert_array_equal(l_t["index"], s_t["index"])
    np.testing.assert_array_equal(l_t["src"], s_t["src"])
    np.testing.assert_array_equal(l_t["dst"], s_t["dst"])
    np.testing.assert_allclose(l_t["taint"], s_t["taint"], **close)
    if "hop" in s_t:
        np.testing.assert_array_equal(l_t["hop"], s_t["hop"])
        np.testing.assert_array_equal(l_t["bal_before"], s_t["bal_before"])
        np.testing.assert_allclose(l_t["taint_before"], s_t["taint_before"], **close)
    assert l_c == s_c


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_local_equals_the_sweep(c: SimpleNamespace) -> None:
    sweep, local = both(c)
    assert_same(c, sweep, local)


def test_a_worked_case_by_hand() -> None:
    """S pays A 3; C pays A 7; A pays X 2, Y 5 (haircut: 0.6, 1.5 reach X, Y); an unrelated
    pair B → D never enters the local run (it is not an event)."""
    src = np.array([0, 2, 1, 1, 5], np.int32)
    dst = np.array([1, 1, 3, 4, 6], np.int32)
    graph = graph_from_arrays(
        src=src, dst=dst, ts=np.arange(5, dtype=np.int64),
        amount=np.array([3.0, 7.0, 2.0, 5.0, 9.0]), token_id=np.zeros(5, np.int32),
        addresses=pl.DataFrame({"id": np.arange(7, dtype=np.int32)}),
        tokens=pl.DataFrame({"token_id": [0]}, schema={"token_id": pl.Int32}),
    )  # fmt: skip
    role = np.array([SOURCE, NORMAL, NORMAL, SINK, SINK, NORMAL, NORMAL], np.int8)
    got = trace_local(graph, np.array([0], np.int32), role, Selection(), model="haircut",
                      backward=False, entities=None, ledger=False, budget=False)  # fmt: skip
    assert got is not None
    state, tainted, counts = got
    assert state.inflow[3] == pytest.approx(0.6) and state.inflow[4] == pytest.approx(1.5)
    assert tainted["index"].tolist() == [0, 2, 3]
    assert state.edges_seen < 5 + 5  # replays and pops only; edge 4 (5 → 6) is never seen
    assert counts.selected == 5 and counts.seeds == 1


def test_the_budget_gives_up_when_the_taint_spreads() -> None:
    """A chain where everything is tainted: past 5% of the selection the local run stops
    (None), so the caller sweeps."""
    n = 200
    src = np.arange(n - 1, dtype=np.int32)
    graph = graph_from_arrays(
        src=src, dst=src + 1, ts=np.arange(n - 1, dtype=np.int64),
        amount=np.ones(n - 1), token_id=np.zeros(n - 1, np.int32),
        addresses=pl.DataFrame({"id": np.arange(n, dtype=np.int32)}),
        tokens=pl.DataFrame({"token_id": [0]}, schema={"token_id": pl.Int32}),
    )  # fmt: skip
    role = np.zeros(n, np.int8)
    role[0] = SOURCE
    args = (graph, np.array([0], np.int32), role, Selection())
    kw = {"model": "haircut", "backward": False, "entities": None, "ledger": False}
    assert trace_local(*args, **kw, budget=True) is None  # type: ignore[arg-type]
    assert trace_local(*args, **kw, budget=False) is not None  # type: ignore[arg-type]


SPEC = SynthSpec(transfers=30_000, addresses=6_000, seed=4, days=40, patterns=6, chunk=7_000)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, dict]:
    out = tmp_path_factory.mktemp("synth") / "ws"
    summary = synth(SPEC, out)
    ws = Workspace.open(out)
    ws.graph()  # the graph cache (built on first use): what the local engine reads
    return ws, summary


def _doc(r: FollowResult) -> dict:
    doc = follow_json(r)
    doc["options"] = {k: v for k, v in doc["options"].items() if not k.startswith("engine")}
    return doc


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_synth_ground_truth_through_both_engines(made, direction: str) -> None:
    """Every scam wallet of a synth workspace: the local engine finds the ground truth and
    gives the sweep's document, bit for bit (paths and ledger included)."""
    ws, summary = made
    for p in summary["patterns"]:
        sel = Selection(max_hops=p["hops"])
        # backward: trace the first deposit back to where it came from
        who = [p["reaches"][0]["address"]] if direction == "backward" else [p["scam"]]
        loc = follow(ws, who, sel, engine="local", ledger=True, direction=direction)
        swp = follow(ws, who, sel, engine="sweep", ledger=True, direction=direction)
        assert loc.options["engine"] == "local" and swp.options["engine"] == "sweep"
        a, b = _doc(loc), _doc(swp)
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == b[key], key  # bit for bit, paths and ledger included
        assert loc.ledger is not None and swp.ledger is not None
        assert loc.ledger.equals(swp.ledger)
        if direction == "forward":
            assert loc.traced_total == pytest.approx(p["collected"])
            got = pl.concat([loc.reached.select("address", "amount"),
                             loc.through.select("address", "amount")])  # fmt: skip
            reached = dict(zip(got["address"].to_list(), got["amount"].to_list(), strict=True))
            for want in p["reaches"]:
                assert reached[want["address"]] >= want["amount"] * (1 - 1e-9)


def test_the_default_chooses_local_and_switches_to_the_sweep_when_taint_spreads(made) -> None:
    """A scam wallet's case is local by default; the same follow from the busiest wallets
    (taint everywhere) switches to the sweep by itself and says why; streamed: the sweep."""
    ws, summary = made
    case = follow(ws, [summary["patterns"][0]["scam"]])
    assert case.options["engine"] == "local"
    assert "within 5%" in case.options["engine_reason"]
    g = ws.graph()
    busiest = np.argsort(np.bincount(g.src, minlength=g.n_nodes))[-300:]
    addrs = g.addresses["address"].to_numpy()[busiest].tolist()
    wide = follow(ws, addrs, by_source=False)
    assert wide.options["engine"] == "sweep"
    assert "spread past 5%" in wide.options["engine_reason"]
    forced = follow(ws, addrs, by_source=False, engine="local")
    assert _doc(forced) == _doc(wide)
    streamed = follow(ws, [summary["patterns"][0]["scam"]], Selection(stream=True))
    assert streamed.options["engine"] == "sweep" and "streamed" in streamed.options["engine_reason"]
    with pytest.raises(UsageError):
        follow(ws, [summary["patterns"][0]["scam"]], Selection(stream=True), engine="local")
    with pytest.raises(UsageError):
        follow(ws, [summary["patterns"][0]["scam"]], engine="fast")


def test_cli_engine_flag_is_reported_in_the_json(sample_addresses: dict[str, str]) -> None:
    """``--engine-follow local|sweep`` reaches the library and the JSON says which ran; the
    figures are the same."""
    from click.testing import CliRunner

    from tests.conftest import SAMPLE_DATA, SAMPLE_LABELS
    from tracer.cli import cli

    base = ["follow", sample_addresses["scam"], "--format", "json", "--labels",
            str(SAMPLE_LABELS)]  # fmt: skip
    for f in SAMPLE_DATA:
        base += ["--data", str(f)]
    docs = {}
    for engine in ("local", "sweep"):
        r = CliRunner().invoke(cli, [*base, "--engine-follow", engine], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        docs[engine] = json.loads(r.output)
        assert docs[engine]["options"]["engine"] == engine
    assert docs["local"]["traced_total"] == docs["sweep"]["traced_total"] > 0
    assert docs["local"]["reached"] == docs["sweep"]["reached"]


def _copy_without_case_index(ws: Workspace, tmp_path) -> Workspace:  # type: ignore[no-untyped-def]
    """The same workspace as an older one: no case index, no stored balance-pass figures."""
    import shutil

    assert ws.path is not None
    copy = tmp_path / "old"
    shutil.copytree(ws.path, copy)
    for case in copy.glob("g*/case"):
        shutil.rmtree(case)
    old = Workspace.open(copy)
    old.graph()
    assert old.case_index() is not None and old.case_index().kinds[0] is None  # type: ignore[union-attr]
    return old


def test_the_case_index_gives_the_documents_parquet_gives(made, tmp_path) -> None:
    """Path rows and ledgers from the case index, sources found by its address hashes: the
    same documents as a workspace without it (Parquet rows, the join over every address)."""
    from tracer.analysis.follow import _resolve
    from tracer.graph.selection import resolve_nodes

    ws, summary = made
    old = _copy_without_case_index(ws, tmp_path)
    assert ws.case_index().has_addresses and not old.case_index().has_addresses  # type: ignore[union-attr]
    for p in summary["patterns"]:
        a = follow(ws, [p["scam"]], Selection(max_hops=p["hops"]), ledger=True)
        b = follow(old, [p["scam"]], Selection(max_hops=p["hops"]), ledger=True)
        assert _doc(a) == _doc(b)
        assert a.ledger is not None and b.ledger is not None and a.ledger.equals(b.ledger)
        assert "no case index" in b.options["engine_reason"]
        assert "no case index" not in a.options["engine_reason"]
    g = ws.graph()
    some = [*g.addresses["address"].to_list()[::997], "0x" + "ab" * 20]
    got_ids, got_missing = _resolve(ws, g, some)
    want_ids, want_missing = resolve_nodes(g, some)
    assert got_ids.tolist() == want_ids.tolist() and got_missing == want_missing


def test_the_balance_pass_is_stored_and_read_by_the_next_session(made, monkeypatch) -> None:
    """The unknown-prior-funds shortfalls are stored with the generation after the first
    question; a new session reads them (no balance pass) and gives the same document."""
    from tracer.analysis import local_follow

    ws, summary = made
    scam = summary["patterns"][0]["scam"]
    first = follow(ws, [scam])
    assert first.options["engine"] == "local"
    stored = list(ws.path.glob("g*/case/prior-*.who.npy"))  # type: ignore[union-attr]
    assert stored
    local_follow._CACHE.clear()

    def no_pass(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the balance pass ran again")

    monkeypatch.setattr(local_follow, "prior_pass", no_pass)
    again = follow(Workspace.open(ws.path), [scam])
    assert _doc(again) == _doc(first)
    assert "ran now" not in again.options["engine_reason"]
    assert "case index" not in again.options["engine_reason"]
    monkeypatch.undo()
    for f in ws.path.glob("g*/case/prior-*"):  # type: ignore[union-attr]
        f.unlink()
    local_follow._CACHE.clear()
    fresh = follow(Workspace.open(ws.path), [scam])  # recomputed when missing, and said
    assert _doc(fresh) == _doc(first)
    assert "unknown-prior-funds pass over the selection ran now" in fresh.options["engine_reason"]


def test_rows_from_the_touched_addresses_equal_the_sweep_with_entities(made) -> None:
    """The local run picks its rows from the tainted receivers and the sources only; with
    entities (ids are representatives) the documents still equal the sweep's."""
    ws, summary = made
    g = ws.graph()
    rng = np.random.default_rng(7)
    ent = np.arange(g.n_nodes, dtype=np.int32)
    odd = rng.choice(np.arange(1, g.n_nodes, 2), g.n_nodes // 5, replace=False)
    ent[odd] = rng.choice(np.arange(0, g.n_nodes, 2), odd.size)  # merged into even ids
    assert (ent[ent] == ent).all()  # each entity named by its representative
    for p in summary["patterns"][:3]:
        sel = Selection(max_hops=p["hops"])
        loc = follow(ws, [p["scam"]], sel, entities=ent, engine="local")
        swp = follow(ws, [p["scam"]], sel, entities=ent, engine="sweep")
        assert _doc(loc) == _doc(swp)
        assert loc.reached.height > 0


# -- TIHO and per-source colours on the local engine (tracer.analysis.local_colours) -------------


class _TxWs(_Ws):
    """:class:`_Ws` plus the transaction hash of each edge (what the TIHO sweep reads)."""

    def __init__(self, graph: object, hashes: list[str]) -> None:
        super().__init__(graph)
        self._hashes = hashes

    def rows(self, edges: np.ndarray, columns: list[str]) -> pl.DataFrame:
        assert columns == ["tx_hash"]
        return pl.DataFrame({"tx_hash": [self._hashes[int(e)] for e in edges]},
                            schema={"tx_hash": pl.String})  # fmt: skip


@st.composite
def grouped_cases(draw: st.DrawFn) -> SimpleNamespace:
    """:func:`cases` under TIHO (few transaction hashes, so senders often have several outputs
    in one transaction) or with one taint colour per source (the colour models)."""
    c = draw(cases())
    m = c.graph.n_edges
    c.hashes = [f"0x{h:02x}" for h in draw(st.lists(st.integers(0, 5), min_size=m, max_size=m))]
    c.by_source = draw(st.booleans())
    if c.by_source:
        from tracer.analysis.by_source import COLOUR_MODELS, source_colours

        c.model = draw(st.sampled_from(COLOUR_MODELS))
        c.colours = source_colours(c.role, np.flatnonzero(c.role == SOURCE).astype(np.int32))
    else:
        c.model = "tiho"
        c.colours = None
    return c


def both_grouped(c: SimpleNamespace, ledger: bool = True) -> tuple[tuple, tuple]:
    from tracer.analysis.local_colours import tx_numbers

    ws = _TxWs(c.graph, c.hashes)
    sweep = trace_edges(ws, c.token_ids, c.role, c.sel, model=c.model,  # type: ignore[arg-type]
                        backward=c.backward, entities=c.rep, ledger=ledger,
                        colours=c.colours)  # fmt: skip
    tx = tx_numbers(ws, c.graph) if c.model == "tiho" else None
    local = trace_local(c.graph, c.token_ids, c.role, c.sel, model=c.model,  # type: ignore[arg-type]
                        backward=c.backward, entities=c.rep, ledger=ledger, budget=False,
                        tx=tx, colours=c.colours)  # fmt: skip
    assert local is not None
    return sweep, local


def assert_same_colours(sweep: tuple, local: tuple) -> None:
    s_col, l_col = sweep[0].colours, local[0].colours
    assert (s_col is None) == (l_col is None)
    if s_col is not None:
        # the same float operations in the same order: bit for bit
        np.testing.assert_array_equal(l_col.cin, s_col.cin)
        np.testing.assert_array_equal(l_col.stats, s_col.stats)
        np.testing.assert_array_equal(l_col.tc, s_col.tc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grouped_cases(), st.booleans())
def test_local_tiho_and_by_source_equal_the_sweep(c: SimpleNamespace, ledger: bool) -> None:
    """TIHO and per-source colours, local == sweep: both directions, windows, dust, hop limit,
    sinks, pass-through, entities on/off, ledger on/off, bit for bit (colours included)."""
    sweep, local = both_grouped(c, ledger=ledger)
    if not ledger:  # the sweep keeps only the tainted edges paths can use (path_keep.py)
        local = (local[0], path_edges(c.role, local[1]), local[2])
    assert_same(c, sweep, local)
    assert_same_colours(sweep, local)


def path_edges(role: np.ndarray, tainted: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What the sweep keeps of these tainted edges without the ledger (every sink inflow and
    each wallet's rising inflows): the local engine returns every tainted edge, and
    ``follow`` draws the same paths from either (tests/kernels/test_taint_paths.py)."""
    from tracer.analysis.path_keep import PathEdges

    keep = PathEdges(role, None)
    keep.add(tainted["src"], tainted["dst"], tainted["taint"], tainted["index"])
    return keep.result()


ETL = Path(__file__).resolve().parents[2] / "fixtures" / "ethereum_etl" / "blocks_17173049_17173050"


@pytest.fixture(scope="module")
def etl() -> Workspace:
    """Two real Ethereum mainnet blocks (ethereum-etl export): senders with several token
    outputs inside one transaction (routers, pools), which is what TIHO groups."""
    ws, _ = Workspace.in_memory([ETL / "expected_token_transfers.json"])
    return ws


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_tiho_on_real_multi_output_transactions_through_both_engines(etl, direction) -> None:  # type: ignore[no-untyped-def]
    """Whoever paid a sender of a multi-output transaction in two real mainnet blocks (forward)
    or received from it (backward), followed under TIHO over every asset: the local engine
    gives the sweep's document and ledger, bit for bit, and some of those runs carry taint
    through a transaction group (two tainted outputs of one sender in one transaction)."""
    t = etl.transfers().with_row_index("e")
    multi = (t.filter(pl.col("asset").is_not_null())
             .group_by("tx_hash", "src", "token").agg(pl.len().alias("n"))
             .filter(pl.col("n") > 1))  # fmt: skip
    end, other = ("dst", "src") if direction == "forward" else ("src", "dst")
    who = sorted(set(t.join(multi.select(pl.col("src").alias(end), "token"),
                            on=[end, "token"])[other].to_list()))  # fmt: skip
    assert len(who) >= 5
    sel = Selection(assets="all")
    through_groups = 0
    for w in who:
        loc = follow(etl, [w], sel, model="tiho", engine="local", ledger=True,
                     direction=direction)  # fmt: skip
        swp = follow(etl, [w], sel, model="tiho", engine="sweep", ledger=True,
                     direction=direction)  # fmt: skip
        assert loc.options["engine"] == "local" and swp.options["engine"] == "sweep"
        assert _doc(loc) == _doc(swp)
        assert loc.ledger is not None and swp.ledger is not None
        assert loc.ledger.equals(swp.ledger)
        sender = "src" if direction == "forward" else "dst"
        steps = loc.ledger.filter(~pl.col("is_seed"))
        through_groups += steps.group_by("tx_hash", sender, "token").len()["len"].max() or 0 > 1
    assert through_groups > 0


def test_by_source_on_real_blocks_through_both_engines(tmp_path: Path) -> None:
    """The ten busiest senders of the real blocks followed together with a per-source split
    (every colour model, every asset), the ten busiest receivers labelled as exchanges:
    local == sweep, by_source frame included."""
    from tracer.analysis.by_source import COLOUR_MODELS
    from tracer.sources.labels import read_labels

    ws0, _ = Workspace.in_memory([ETL / "expected_token_transfers.json"])
    t = ws0.transfers()
    busiest = (t.group_by("src").len().sort(["len", "src"], descending=True)["src"]
               .head(10).to_list())  # fmt: skip
    sinks = (t.filter(~pl.col("dst").is_in(busiest)).group_by("dst").len()
             .sort(["len", "dst"], descending=True)["dst"].head(10).to_list())  # fmt: skip
    csv = tmp_path / "labels.csv"
    pl.DataFrame({"address": sinks, "name": [f"Exchange {i}" for i in range(len(sinks))],
                  "category": ["exchange"] * len(sinks)}).write_csv(csv)  # fmt: skip
    etl, _ = Workspace.in_memory([ETL / "expected_token_transfers.json"], [read_labels(csv)])
    for model in COLOUR_MODELS:
        kw = {"model": model, "by_source": True}
        loc = follow(etl, busiest, Selection(assets="all"), engine="local", **kw)  # type: ignore[arg-type]
        swp = follow(etl, busiest, Selection(assets="all"), engine="sweep", **kw)  # type: ignore[arg-type]
        assert loc.by_source is not None and swp.by_source is not None
        assert loc.by_source.height > 0
        assert loc.by_source.equals(swp.by_source)
        assert _doc(loc) == _doc(swp)


def test_synth_tiho_and_by_source_default_to_local(made) -> None:
    """On a stored synth workspace (Parquet partitions and graph cache) a TIHO case and a
    multi-source per-source split run locally by default and give the sweep's documents."""
    ws, summary = made
    scams = [p["scam"] for p in summary["patterns"]]
    sel = Selection(max_hops=summary["patterns"][0]["hops"])
    loc = follow(ws, scams[:1], sel, model="tiho", ledger=True)
    assert loc.options["engine"] == "local", loc.options["engine_reason"]
    swp = follow(ws, scams[:1], sel, model="tiho", ledger=True, engine="sweep")
    assert _doc(loc) == _doc(swp) and loc.traced_total > 0
    assert loc.ledger is not None and swp.ledger is not None and loc.ledger.equals(swp.ledger)
    loc = follow(ws, scams[:3], sel)  # several sources: by_source by default
    assert loc.options["by_source"] and loc.options["engine"] == "local"
    swp = follow(ws, scams[:3], sel, engine="sweep")
    assert loc.by_source is not None and swp.by_source is not None
    assert loc.by_source.height > 0 and loc.by_source.equals(swp.by_source)
    assert _doc(loc) == _doc(swp)


def test_tx_numbers_are_equal_iff_the_hashes_are(monkeypatch: pytest.MonkeyPatch) -> None:
    """The transaction numbers TIHO groups by: equal exactly when the hashes are equal, also
    when two hashes collide (then the dense rank is used)."""
    from tracer.analysis import local_colours

    hashes = pl.Series("tx_hash", ["0xa", "0xb", "0xa", "0xc", "0xb", "0xa"])
    want = np.equal.outer(hashes.to_numpy(), hashes.to_numpy())
    got = local_colours._numbers(hashes)
    assert (np.equal.outer(got, got) == want).all()
    # every string hashing alike: the check sees the collision and ranks instead
    monkeypatch.setattr(pl.Series, "hash", lambda self: pl.Series(np.zeros(len(self), np.uint64)))
    got = local_colours._numbers(hashes)
    assert (np.equal.outer(got, got) == want).all()


def test_tiho_on_disk_numbers_transactions_from_the_case_index(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The same real blocks ingested into an on-disk workspace (which writes the case index):
    the local engine's transaction numbers come from the index's 32-byte hashes
    (tracer.store.tx_keys), without decoding the tx_hash column, and group exactly as the
    texts do; TIHO through both engines still gives the same document and ledger."""
    from tracer.analysis import local_colours

    Workspace.open(tmp_path / "ws", create=True).ingest([ETL / "expected_token_transfers.json"])
    ws = Workspace.open(tmp_path / "ws")
    graph = ws.graph()
    local_colours._TX.clear()
    read = []
    rows = ws.rows
    monkeypatch.setattr(ws, "rows", lambda e, c=None: read.append(c) or rows(e, c))
    tx = local_colours.tx_numbers(ws, graph)
    assert ["tx_hash"] not in read  # from the index
    texts = rows(np.arange(graph.n_edges), ["tx_hash"])["tx_hash"].to_list()
    first: dict[str, int] = {}
    for t, k in zip(texts, tx.tolist(), strict=True):
        assert first.setdefault(t, k) == k
    assert len(set(first.values())) == len(first)  # equal iff the texts are equal
    assert len(first) < len(texts)  # the blocks do have multi-transfer transactions
    t = ws.transfers()
    sender = t.group_by("tx_hash", "src").agg(pl.len().alias("n")).filter(pl.col("n") > 1)
    payer = t.join(sender.select(pl.col("src").alias("dst")), on="dst")["src"].unique().sort()
    sel = Selection(assets="all")
    for w in payer.to_list()[:5]:
        loc = follow(ws, [w], sel, model="tiho", engine="local", ledger=True)
        swp = follow(ws, [w], sel, model="tiho", engine="sweep", ledger=True)
        assert _doc(loc) == _doc(swp)
        assert loc.ledger is not None and swp.ledger is not None
        assert loc.ledger.equals(swp.ledger)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.booleans())
def test_local_poison_equals_the_sweep(c: SimpleNamespace, ledger: bool) -> None:
    """Poison runs on its own kernel (no balance replay): the sweep's arrays bit for bit,
    with and without the ledger (whose sender balances are replayed per tainted sender)."""
    c.model = "poison"
    sweep, local = both(c, ledger=ledger)
    if not ledger:  # the sweep keeps only the tainted edges paths can use (path_keep.py)
        local = (local[0], path_edges(c.role, local[1]), local[2])
    assert_same(c, sweep, local)


def test_poison_does_not_replay_balances(made, monkeypatch: pytest.MonkeyPatch) -> None:
    """A poison follow never calls the balance-replaying kernel, and its document is the
    sweep's; the reason names poison's own budget."""
    import tracer.analysis.local_follow as lf

    ws, summary = made
    scam = summary["patterns"][0]["scam"]
    want = follow(ws, [scam], model="poison", engine="sweep", ledger=True)

    def no_replay(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("poison must not run the balance replay")

    monkeypatch.setattr(lf, "local_kernel", no_replay)
    got = follow(ws, [scam], model="poison", ledger=True)
    assert got.options["engine"] == "local"
    assert "within 25%" in got.options["engine_reason"]
    assert _doc(got) == _doc(want)
    assert got.ledger is not None and want.ledger is not None and got.ledger.equals(want.ledger)


# -- reused state buffers, lazy address dictionary, stored figures (issue 17, h-case2) -------
