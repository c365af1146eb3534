"""The flow graph: edge amounts are the follow's, collapsing says what it merged, layout by dot."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from tests.output.report_case import SCAM, sample_result
from tracer.core.errors import UsageError
from tracer.output.follow_json import follow_json
from tracer.output.graph import (
    CollapseRules,
    aggregate_edges,
    build_flow_graph,
    inline_svg,
    to_dot,
    write_graph,
)

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz 'dot' is not installed")
ALL = CollapseRules(top_k=None, max_edges=None)


def edge_statements(src: str) -> list[str]:
    """The DOT edge statements (``nA -> nB [...]``, labels span lines)."""
    return re.findall(r"n\d+ -> n\d+ \[.*?\]", src, re.S)


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    return sample_result("fifo")


def test_edge_amounts_into_services_equal_the_follow_json(result) -> None:  # type: ignore[no-untyped-def]
    g = build_flow_graph(result, ALL)
    into = g.edges.group_by("dst").agg(pl.col("tainted").sum())
    got = dict(into.iter_rows())
    doc = follow_json(result)
    assert doc["reached"]
    for r in doc["reached"]:
        assert got[f"{r['chain']}:{r['address']}"] == pytest.approx(r["amount"], rel=1e-12)
    for t in doc["through"]:  # pass-through services: what entered them
        assert got[f"tron:{t['address']}"] == pytest.approx(t["amount"], rel=1e-12)
    # the traced total leaves the source on the drawn edges
    out = g.edges.filter(pl.col("src") == f"tron:{SCAM}")["tainted"].sum()
    assert out == pytest.approx(doc["traced_total"])


def test_every_path_hop_is_on_a_drawn_edge_with_at_least_its_taint(result) -> None:  # type: ignore[no-untyped-def]
    g = build_flow_graph(result, ALL)
    edge = {(s, d): t for s, d, t in g.edges.select("src", "dst", "tainted").iter_rows()}
    for r in follow_json(result)["reached"]:
        for p in r["paths"]:
            for h in p["hops"]:
                t = edge[(f"tron:{h['from']}", f"tron:{h['to']}")]
                assert t >= h["tainted"] - 1e-9


def test_nodes_carry_roles_labels_and_held_amounts(result) -> None:  # type: ignore[no-untyped-def]
    g = build_flow_graph(result, ALL)
    nodes = {r["key"]: r for r in g.nodes.iter_rows(named=True)}
    assert nodes[f"tron:{SCAM}"]["role"] == "source"
    assert nodes[f"tron:{SCAM}"]["hop"] == 0
    services = [r for r in nodes.values() if r["role"] == "service"]
    assert {r["category"] for r in services} == {"exchange", "guarantee_marketplace"}
    held = {r["address"]: r["held"] for r in nodes.values() if r["held"]}
    for h in result.held.iter_rows(named=True):
        assert held[h["address"]].startswith(f"{h['amount']:,.0f}")
    assert any(r["role"] == "through" and r["category"] == "otc_desk" for r in nodes.values())


def test_collapse_keeps_each_senders_total_and_says_how_much(result) -> None:  # type: ignore[no-untyped-def]
    full = build_flow_graph(result, ALL)
    g = build_flow_graph(result, CollapseRules(top_k=1, max_edges=None))
    assert g.edges.height < full.edges.height
    assert g.edges["collapsed"].any()
    c = g.collapsed["USDT"]
    merged = g.edges.filter(pl.col("collapsed"))["tainted"].sum()
    assert c["merged_amount"] == pytest.approx(merged) and merged > 0
    # every drawn sender's outflow still sums to the ledger's
    per = full.edges.group_by("src").agg(pl.col("tainted").sum())
    drawn = g.edges.group_by("src").agg(pl.col("tainted").sum())
    for src, amount in drawn.iter_rows():
        assert amount == pytest.approx(dict(per.iter_rows())[src])
    # drawn + merged + hidden = everything in the ledger
    total = full.edges["tainted"].sum()
    kept = g.edges.filter(~pl.col("collapsed"))["tainted"].sum()
    assert kept + c["merged_amount"] + c["hidden_amount"] == pytest.approx(total)
    text = " ".join(g.collapse_text())
    assert "merged" in text and "USDT" in text and "largest" in text
    assert full.collapse_text() == []


def test_min_amount_collapses_small_flows(result) -> None:  # type: ignore[no-untyped-def]
    g = build_flow_graph(result, CollapseRules(min_amount=10_000, top_k=None, max_edges=None))
    drawn = g.edges.filter(~pl.col("collapsed"))
    assert drawn["tainted"].min() >= 10_000
    assert g.collapsed["USDT"]["merged_edges"] > 0


def test_inferred_edges_are_dashed_with_their_confidence(result) -> None:  # type: ignore[no-untyped-def]
    led = result.ledger
    first = led["edge"][0]
    result.ledger = led.with_columns(
        (pl.col("edge") == first).alias("inferred"),
        pl.when(pl.col("edge") == first).then(0.7).otherwise(1.0).alias("confidence"),
    )
    try:
        g = build_flow_graph(result, ALL)
        src = to_dot(g).source
    finally:
        result.ledger = led
    edges = edge_statements(src)
    assert len(edges) == g.edges.height
    inferred = [e for e in edges if "confidence 0.70" in e]
    assert len(inferred) == 1 and "style=dashed" in inferred[0]
    assert sum("style=dashed" not in e for e in edges) == g.edges.height - 1


def test_converted_hops_show_the_source_asset_units_too(result) -> None:  # type: ignore[no-untyped-def]
    led = result.ledger
    result.ledger = led.with_columns(
        pl.lit("ETH").alias("source_asset"), (pl.col("tainted") / 2000).alias("tainted_source")
    )
    try:
        g = build_flow_graph(result, CollapseRules(top_k=1, max_edges=None))
        labels = edge_statements(to_dot(g).source)
    finally:
        result.ledger = led
    assert any("70,000 USDT (= 35 ETH)" in e for e in labels)
    merged = g.edges.filter(pl.col("collapsed"))
    assert merged["tainted_source"].sum() == pytest.approx(merged["tainted"].sum() / 2000)
    assert g.nodes["key"].n_unique() == g.nodes.height


def test_without_inferred_columns_every_edge_is_solid(result) -> None:  # type: ignore[no-untyped-def]
    edges = edge_statements(to_dot(build_flow_graph(result, ALL)).source)
    assert len(edges) == 11 and not any("dashed" in e for e in edges)


def test_dot_is_deterministic_and_needs_no_graphviz(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = tmp_path / "a.dot", tmp_path / "b.dot"
    write_graph(build_flow_graph(result), a)
    write_graph(build_flow_graph(sample_result("fifo")), b)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_text().startswith("digraph trace {")
    assert "rankdir=LR" in a.read_text()


def test_unknown_suffix_is_refused(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match="unknown suffix"):
        write_graph(build_flow_graph(result), tmp_path / "g.jpeg")


def test_missing_dot_is_a_clear_message(result, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("tracer.output.graph.shutil.which", lambda name: None)
    with pytest.raises(UsageError, match="apt-get install graphviz"):
        write_graph(build_flow_graph(result), tmp_path / "g.svg")


@needs_dot
@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".png", b"\x89PNG"),
                                                (".pdf", b"%PDF")])  # fmt: skip
def test_rendered_formats(result, tmp_path: Path, suffix: str, magic: bytes) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / f"g{suffix}"
    write_graph(build_flow_graph(result), out)
    assert out.read_bytes().startswith(magic)


@needs_dot
def test_inline_svg_names_no_external_address(result) -> None:  # type: ignore[no-untyped-def]
    svg = inline_svg(build_flow_graph(result))
    assert svg.startswith("<svg")
    assert "http" not in svg and "xlink" not in svg
    assert "Guarantee marketplace merchant 2" in svg
    assert "20,000 USDT" in svg


def test_empty_ledger_draws_only_nothing() -> None:
    empty = aggregate_edges(pl.DataFrame(schema={"tainted": pl.Float64}))
    assert empty.height == 0


def test_backward_graph_reads_from_the_origins_to_the_traced_deposits() -> None:
    from tests.output.report_case import sample_workspace
    from tracer.analysis.follow import follow

    deposits = ["TKuHBGr576Gou6txypGUrNFcj4qyuZyZRJ", "TQVb9SQxVnhXSFviQ8SsmzUL3UKcSpJZT2"]
    r = follow(sample_workspace(), deposits, direction="backward", ledger=True)
    g = build_flow_graph(r, ALL)
    out = dict(g.edges.group_by("src").agg(pl.col("tainted").sum()).iter_rows())
    doc = follow_json(r)
    assert doc["reached"]
    for origin in doc["reached"]:  # backward: the services money came from
        assert out[f"tron:{origin['address']}"] == pytest.approx(origin["amount"])
    nodes = {row["address"]: row for row in g.nodes.iter_rows(named=True)}
    assert {nodes[d]["role"] for d in deposits} == {"source"}
    assert nodes[deposits[0]]["name"] == "Exchange B (deposit)"  # a labelled source keeps it
    src = to_dot(g).source
    first = src.index("rank=min")
    ids = {row["address"]: f"n{i}" for i, row in enumerate(g.nodes.iter_rows(named=True))}
    block = src[first: src.index("}", first)]
    assert ids[SCAM] in block  # the origin (the scam wallet) is on the left
