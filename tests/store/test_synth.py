"""``tracer synth``: deterministic, shaped like an ingested workspace, ground truth that holds."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from tracer.analysis.follow import follow
from tracer.cli import cli
from tracer.core.amounts import amount_expr
from tracer.graph.spec import Selection
from tracer.store.graph_cache import build_graph
from tracer.store.synth import SynthSpec, synth
from tracer.store.workspace import Workspace

SPEC = SynthSpec(transfers=30_000, addresses=6_000, seed=4, days=40, patterns=6, chunk=7_000)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, dict]:
    out = tmp_path_factory.mktemp("synth") / "ws"
    summary = synth(SPEC, out)
    return Workspace.open(out), summary


def test_same_seed_same_workspace_other_seed_other(made, tmp_path) -> None:
    ws, summary = made
    again = synth(SPEC, tmp_path / "again")
    assert again == summary
    assert Workspace.open(tmp_path / "again").transfers().equals(ws.transfers())
    other = synth(SynthSpec(**{**SPEC.__dict__, "seed": 5}), tmp_path / "other")
    assert other["patterns"] != summary["patterns"]


def test_stored_ids_and_dictionaries_are_what_ingest_would_build(made) -> None:
    """Ids by first appearance, CSR, dictionaries: rebuilt from the canonical rows, equal."""
    ws, summary = made
    t = ws.transfers()
    assert t.height == summary["transfers"] == SPEC.transfers
    assert t["ts"].is_sorted() and t.select("tx_hash").is_unique().all()
    ref = build_graph(t)
    got = ws.graph()  # built from the partitions' id columns (synth writes no cache)
    for name in ("src", "dst", "ts", "amount", "token_id", "out_offsets", "out_edges"):
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name), err_msg=name)
    assert got.addresses.equals(ref.addresses)
    exact = t.select(amount_expr(pl.col("value"), pl.col("decimals")).alias("x"))["x"]
    assert (exact == t["amount"]).all()  # the same float as ingest would compute
    assert (t["value"].cast(pl.Int64) % 10_000 == 0).all()  # whole cents
    assert len({p["file"][5:12] for p in ws.manifest()["parts"]}) == 2  # 40 days: Jan, Feb


def test_traffic_is_heavy_tailed_and_labelled(made) -> None:
    ws, _ = made
    g = ws.graph()
    degree = np.bincount(g.dst, minlength=g.n_nodes) + np.bincount(g.src, minlength=g.n_nodes)
    top = np.sort(degree)[::-1]
    assert top[: g.n_nodes // 100].sum() > 0.3 * degree.sum()  # 1% of addresses: >30% of ends
    assert (degree == 1).sum() > 0.2 * g.n_nodes  # and a long tail of one-shot wallets
    cats = ws.labels()["category"].value_counts()
    have = dict(zip(cats["category"].to_list(), cats["count"].to_list(), strict=True))
    assert have["exchange"] == 25 and have["scam"] == SPEC.patterns and have["sanctioned"] == 5


def test_following_each_scam_wallet_finds_its_ground_truth(made) -> None:
    ws, summary = made
    truth = pl.read_parquet(ws.path / "ground_truth.parquet")
    assert json.loads((ws.path / "ground_truth.json").read_text()) == summary
    for p in summary["patterns"]:
        r = follow(ws, [p["scam"]], Selection(max_hops=p["hops"]))
        assert r.traced_total == pytest.approx(p["collected"])
        got = pl.concat(
            [r.reached.select("address", "amount"), r.through.select("address", "amount")]
        )  # OTC desks pass taint on
        reached = dict(zip(got["address"].to_list(), got["amount"].to_list(), strict=True))
        for want in p["reaches"]:
            assert reached[want["address"]] >= want["amount"] * (1 - 1e-9), (p["kind"], want)
        if p["kind"] == "peel_chain":  # the strongest path into the exchange is the chain
            dep = p["reaches"][0]["address"]
            path = r.reached.filter(pl.col("address") == dep)["paths"][0][0]
            chain = truth.filter(
                (pl.col("pattern") == p["pattern"])
                & pl.col("role").is_in(["move", "hop", "deposit"])
            ).sort("ts")
            assert [h["tx_hash"] for h in path["hops"]] == chain["tx_hash"].to_list()
            assert path["complete"]


def test_cli_synth_and_refusal_to_overwrite(tmp_path) -> None:
    runner = CliRunner()
    args = ["synth", "--transfers", "5000", "--addresses", "2000", "--patterns", "2", "-o",
            str(tmp_path / "w"), "-q"]  # fmt: skip
    ok = runner.invoke(cli, args)
    assert ok.exit_code == 0, ok.output
    assert Workspace.open(tmp_path / "w").transfers().height == 5000
    again = runner.invoke(cli, args)
    assert again.exit_code == 2 and "already holds a workspace" in again.output
    bad = runner.invoke(cli, [*args[:-3], "--patterns", "400", "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--patterns" in bad.output
