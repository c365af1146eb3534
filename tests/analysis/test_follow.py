"""follow / source end to end: figures, accounting, paths, ledger, JSON contract."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import SAMPLE_DATA, SAMPLE_LABELS
from tracer.analysis.follow import MODEL_NAMES, follow
from tracer.graph.spec import Selection
from tracer.sources.labels import read_labels
from tracer.store.workspace import Workspace

S, A, C, X, Y, Z = ("0x" + c * 40 for c in "123456")
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"


def write_case(tmp_path: Path, rows: list[tuple[str, str, int, int]]) -> tuple[Path, Path]:
    """A generic CSV of USDT transfers (src, dst, whole USDT, unix second) and labels."""
    data = tmp_path / "case.csv"
    lines = ["tx_hash,seq,src,dst,value,ts,token,chain"]
    for i, (s, d, usdt, t) in enumerate(rows):
        lines.append(f"0x{i + 1:064x},0,{s},{d},{usdt * 10**6},{t},{USDT},ethereum")
    data.write_text("\n".join(lines) + "\n")
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "address,name,category\n"
        f"{X},Exchange X,exchange\n{Y},Exchange Y,exchange\n{Z},Exchange Z,exchange\n"
    )
    return data, labels


WORKED = {
    "poison": [2, 5, 3],
    "haircut": [0.6, 1.5, 0.9],
    "fifo": [2, 1, 0],
    "lifo": [0, 0, 3],
    "taint-first": [2, 1, 0],
    "clean-first": [0, 0, 3],
    "tiho": [0.6, 1.5, 0.9],  # one output per transaction: TIHO is haircut
}


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_worked_example_through_the_whole_stack(tmp_path: Path, model: str) -> None:
    data, labels = write_case(
        tmp_path,
        [(S, A, 3, 1_700_000_000), (C, A, 7, 1_700_000_100), (A, X, 2, 1_700_000_200),
         (A, Y, 5, 1_700_000_300), (A, Z, 3, 1_700_000_400)],
    )  # fmt: skip
    ws, _ = Workspace.in_memory([data], [read_labels(labels)])
    r = follow(ws, [S], model=model)
    got = {row["name"]: row["amount"] for row in r.reached.iter_rows(named=True)}
    want = dict(zip(["Exchange X", "Exchange Y", "Exchange Z"], WORKED[model], strict=True))
    assert {k: pytest.approx(v) for k, v in want.items() if v} == got
    assert r.traced_total == pytest.approx(3.0)
    if model != "poison":
        assert r.unaccounted == pytest.approx(0.0, abs=1e-9)
        assert r.conserves
    else:
        assert not r.conserves and not r.to_dict()["accounting"]["closes"]


@pytest.fixture(scope="module")
def sample_ws() -> Workspace:
    ws, _ = Workspace.in_memory(SAMPLE_DATA, [read_labels(SAMPLE_LABELS)])
    return ws


def test_sample_case_haircut(sample_ws: Workspace, sample_addresses: dict[str, str]) -> None:
    r = follow(sample_ws, [sample_addresses["scam"]], model="haircut", ledger=True)
    assert r.traced_total == pytest.approx(115_000.0)
    by_addr = {row["address"]: row for row in r.reached.iter_rows(named=True)}
    hg2 = by_addr[sample_addresses["hg-merchant-2"]]
    assert hg2["amount"] == pytest.approx(20_000.0) and hg2["min_hops"] == 4
    # the OTC desk mixes 30k of scam money into 230k: the hot wallet gets 150k · 30/230
    hot = by_addr[sample_addresses["exchange-c-hot"]]
    assert hot["amount"] == pytest.approx(150_000 * 30_000 / 230_000)
    assert r.through["name"].to_list() == ["OTC desk (underground bank)"]
    held = dict(zip(r.held["address"].to_list(), r.held["amount"].to_list(), strict=True))
    assert held[sample_addresses["peel-4"]] == pytest.approx(25_000.0)
    assert r.unaccounted == pytest.approx(0.0, abs=1e-6)
    # victim-7 paid the scam wallet after its payouts: that money is not traced
    assert sample_addresses["victim-7"] not in by_addr


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_sample_case_accounting_and_paths(
    sample_ws: Workspace, sample_addresses: dict[str, str], model: str
) -> None:
    r = follow(sample_ws, [sample_addresses["scam"]], model=model, ledger=True)
    if model != "poison":
        assert r.unaccounted == pytest.approx(0.0, abs=1e-6)
    for row in r.reached.iter_rows(named=True):
        assert row["paths"], row["name"]
        for p in row["paths"]:
            hops = p["hops"]
            assert hops[0]["from"] == sample_addresses["scam"]
            assert hops[-1]["to"] == row["address"]
            for a, b in itertools.pairwise(hops):
                assert a["to"] == b["from"]
                assert a["ts"] <= b["ts"]  # time never runs backwards along a path
            assert p["strength"] == pytest.approx(min(h["tainted"] for h in hops))
            assert len(hops) >= row["min_hops"]
    assert r.ledger is not None
    into_sinks = r.ledger.filter(pl.col("dst").is_in(r.reached["address"].to_list()))
    assert into_sinks["tainted"].sum() == pytest.approx(r.reached_total)


def test_ledger_lets_an_outsider_recompute_haircut(
    sample_ws: Workspace, sample_addresses: dict[str, str]
) -> None:
    r = follow(sample_ws, [sample_addresses["scam"]], model="haircut", ledger=True)
    assert r.ledger is not None
    led = r.ledger.filter(pl.col("src") != sample_addresses["scam"])
    recomputed = led["amount"] * led["sender_taint_before"] / led["sender_balance_before"]
    assert recomputed.to_list() == pytest.approx(led["tainted"].to_list(), rel=1e-12)
    seeds = r.ledger.filter(pl.col("src") == sample_addresses["scam"])
    assert seeds["tainted"].to_list() == seeds["amount"].to_list()
    assert set(r.ledger["hop"].to_list()) == {1, 2, 3, 4, 5}
    assert r.ledger["value"].dtype == pl.String  # the exact integers travel with the ledger


def test_window_max_hops_and_dust(sample_ws: Workspace, sample_addresses: dict[str, str]) -> None:
    scam = sample_addresses["scam"]
    since = datetime.fromisoformat("2024-03-09T03:00:00+00:00")
    late = follow(sample_ws, [scam], Selection(since=since))
    assert late.traced_total == pytest.approx(15_000.0)  # only the merchant-1 payout
    short = follow(sample_ws, [scam], Selection(max_hops=2))
    assert short.beyond_max_hops > 0
    assert short.reached["min_hops"].max() <= 2
    assert short.unaccounted == pytest.approx(0.0, abs=1e-6)
    dusty = follow(sample_ws, [scam], Selection(min_amount=10_000.0))
    assert dusty.dust > 0 and dusty.unaccounted == pytest.approx(0.0, abs=1e-6)


def test_source_traces_a_deposit_back_to_the_scam_wallet(
    tmp_path: Path, sample_ws: Workspace, sample_addresses: dict[str, str]
) -> None:
    # the bundled labels name the scam wallet (victim reports)
    r = follow(sample_ws, [sample_addresses["exchange-a-deposit-1"]], direction="backward")
    assert r.traced_total == pytest.approx(5_000.0)
    assert r.reached["name"].to_list() == ["Pig-butchering wallet (victim reports)"]
    assert r.reached["amount"][0] == pytest.approx(5_000.0)
    path = r.reached["paths"][0][0]["hops"]
    # shown in the direction the money moved: from the origin down to the deposit
    assert path[0]["from"] == sample_addresses["scam"]
    assert path[-1]["to"] == sample_addresses["exchange-a-deposit-1"]


def test_json_contract(sample_ws: Workspace, sample_addresses: dict[str, str]) -> None:
    d = follow(sample_ws, [sample_addresses["scam"]], model="fifo").to_dict()
    assert {"model", "sources", "traced_total", "reached", "held", "dust"} <= set(d)
    for r in d["reached"]:
        assert {"address", "name", "category", "amount", "share", "min_hops", "first_ts",
                "paths"} <= set(r)  # fmt: skip
        assert r["first_ts"].endswith("Z")
    for h in d["held"]:
        # 13.3/13.6: each amount carries its asset and its decimal string
        assert set(h) == {"address", "chain", "amount", "asset", "amount_decimal"}
    assert d["model"] == "fifo" and d["sources"] == [sample_addresses["scam"]]


def test_unknown_address_and_asset_are_clear(sample_ws: Workspace) -> None:
    from tracer.core.errors import UsageError

    with pytest.raises(UsageError, match="none of the addresses"):
        follow(sample_ws, ["0x" + "9" * 40])
    with pytest.raises(UsageError, match="not an EVM"):
        follow(sample_ws, ["hello"])
    with pytest.raises(UsageError, match="no such asset"):
        follow(sample_ws, [next(iter(sample_ws.transfers()["src"]))], Selection(assets="DOGE"))
