"""The flow graph's options, shared by ``follow``/``source`` (``--graph FILE``) and ``report``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from tracer.cli.app import _err


def collapse_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--graph-min-amount / --graph-top-k / --graph-max-edges (README "Flow graphs")."""
    from tracer.output.graph import CollapseRules

    d = CollapseRules()
    opts = [
        click.option("--graph-min-amount", type=click.FloatRange(min=0), default=d.min_amount,
                     show_default=True,
                     help="Graph: merge a sender's flows below this (token units) into one "
                          "'N more addresses' edge."),
        click.option("--graph-top-k", type=click.IntRange(min=1), default=d.top_k,
                     show_default=True,
                     help="Graph: draw each sender's K largest flows; merge the rest."),
        click.option("--graph-max-edges", type=click.IntRange(min=1), default=d.max_edges,
                     show_default=True,
                     help="Graph: draw at most this many flows (largest first); merge the rest."),
    ]  # fmt: skip
    for o in reversed(opts):
        f = o(f)
    return f


def graph_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--graph FILE`` and the collapse rules, for ``follow`` and ``source``."""
    f = collapse_options(f)
    return click.option(
        "--graph", "graph_file", default=None, callback=_check_suffix,
        help="Also draw the flow graph: FILE.svg, .png, .pdf (Graphviz) or .dot.",
    )(f)  # fmt: skip


def _check_suffix(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse an unknown --graph suffix before any work (not after a long trace)."""
    from pathlib import Path

    from tracer.output.graph import GRAPH_FORMATS

    if value and Path(value).suffix.lower() not in GRAPH_FORMATS:
        raise click.BadParameter(f"{value}: use one of {', '.join(GRAPH_FORMATS)}")
    return value


def collapse_rules(kw: dict[str, Any]) -> Any:
    from tracer.output.graph import CollapseRules

    d = CollapseRules()
    return CollapseRules(
        min_amount=kw.get("graph_min_amount", d.min_amount),
        top_k=kw.get("graph_top_k", d.top_k),
        max_edges=kw.get("graph_max_edges", d.max_edges),
    )


def write_follow_graph(result: Any, kw: dict[str, Any]) -> None:
    """Draw ``result``'s flow graph to ``--graph FILE`` and say what was collapsed."""
    from tracer.output.graph import build_flow_graph, write_graph

    path = kw.get("graph_file")
    if not path:
        return
    graph = build_flow_graph(result, collapse_rules(kw))
    write_graph(graph, path)
    if not kw.get("quiet"):
        _err().print(
            f"graph: {graph.nodes.height:,} nodes, {graph.edges.height:,} edges → {path}"
        )
        for line in graph.collapse_text():
            _err().print(f"  collapsed: {line}", highlight=False)
