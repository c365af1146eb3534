"""The flow graph and the case report of a cross-asset trace: a crossed hop is a node of its
own, the pool the input went into is not drawn as a receiver of taint, and EVM services are
recognised (result rows carry checksummed addresses, the ledger lower-case ones)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.analysis.test_cross_asset_real import TRADER, S, X, case  # noqa: F401
from tracer.analysis.follow import follow
from tracer.output.case_file import Case
from tracer.output.graph import CollapseRules, build_flow_graph
from tracer.output.report_html import Provenance, write_case_report

POOL_HINT = "0x3416cf6c708da44db2624d63ea0aaef7113527c6"  # the Uniswap V3 pool of the swap


@pytest.fixture(scope="module")
def traced(case):  # type: ignore[no-untyped-def]  # noqa: F811
    ws, hops = case
    return follow(ws, [S], hops=hops, ledger=True)


def test_hop_is_a_node_and_the_pool_is_not_a_receiver(traced) -> None:  # type: ignore[no-untyped-def]
    g = build_flow_graph(traced, CollapseRules(top_k=None, max_edges=None))
    roles = dict(g.nodes.select("key", "role").iter_rows())
    hop_nodes = [k for k, r in roles.items() if r == "hop"]
    assert len(hop_nodes) == 1
    assert "uniswap-v3" in g.nodes.filter(pl.col("role") == "hop")["name"][0]
    assert f"ethereum:{POOL_HINT}" not in roles
    assert roles[f"ethereum:{X}"] == "service"  # checksummed in results, lower-case in ledger
    hop_row = traced.ledger.filter(pl.col("row_kind") == "hop")
    out_edge = g.edges.filter(pl.col("src") == hop_nodes[0])
    assert out_edge["dst"].to_list() == [f"ethereum:{TRADER}"]
    assert out_edge["tainted"][0] == pytest.approx(hop_row["tainted"][0])
    into = g.edges.filter(pl.col("dst") == hop_nodes[0])
    assert into["tainted"].sum() == pytest.approx(hop_row["tainted_in"][0])
    # what reached the service equals the follow's figure
    to_x = g.edges.filter(pl.col("dst") == f"ethereum:{X}")["tainted"].sum()
    assert to_x == pytest.approx(traced.reached["amount"].sum())


def test_case_report_shows_the_hop_in_the_paths(traced, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    prov = Provenance(command=["tracer", "report"], inputs=[], workspace={"kind": "in memory"},
                      label_set_sha256="0" * 64, labels=1, version="test")  # fmt: skip
    files = write_case_report(traced, Case(sources=[S]), prov, str(tmp_path / "case.html"),
                              CollapseRules())  # fmt: skip
    html = files.html.read_text()
    assert "swap USDC → USDT" in html and "on-chain fact, rule net-flow" in html
    assert "node&#45;hop" in html  # the hop node of the inline SVG (Graphviz escapes "-")
