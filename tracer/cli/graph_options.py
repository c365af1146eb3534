"""The flow graph's options, shared by ``follow``/``source`` (``--graph FILE``) and ``report``.

Each family reaches the command as one typed value (:func:`tracer.cli.options.bundle`): the
collapse rules as ``collapse: CollapseChoice``, and ``--graph`` plus the rules as
``graph: GraphChoice``. The defaults are written here, not read from
:class:`tracer.output.graph.CollapseRules`, so that ``--help`` loads no Polars (a test in
tests/cli checks that they agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from tracer.cli.app import err_console
from tracer.cli.options import bundle

#: Formats ``--graph`` writes (the same as :data:`tracer.output.graph.GRAPH_FORMATS`).
GRAPH_SUFFIXES = (".svg", ".dot", ".png", ".pdf")
#: Defaults of :class:`tracer.output.graph.CollapseRules`.
MIN_AMOUNT, TOP_K, MAX_EDGES = 0.0, 8, 250


@dataclass(frozen=True)
class CollapseChoice:
    """``--graph-min-amount`` / ``--graph-top-k`` / ``--graph-max-edges`` as given."""

    min_amount: float = MIN_AMOUNT
    top_k: int = TOP_K
    max_edges: int = MAX_EDGES

    def rules(self) -> Any:
        """The :class:`tracer.output.graph.CollapseRules` these options ask for."""
        from tracer.output.graph import CollapseRules

        return CollapseRules(self.min_amount, self.top_k, self.max_edges)


@dataclass(frozen=True)
class GraphChoice:
    """``--graph FILE`` (None: no graph) and its collapse rules."""

    file: str | None = None
    collapse: CollapseChoice = CollapseChoice()


def _collapse(graph_min_amount: float, graph_top_k: int, graph_max_edges: int) -> CollapseChoice:
    return CollapseChoice(graph_min_amount, graph_top_k, graph_max_edges)


#: README "Flow graphs": the command receives ``collapse: CollapseChoice``.
collapse_options = bundle("collapse", [
    click.option("--graph-min-amount", type=click.FloatRange(min=0), default=MIN_AMOUNT,
                 show_default=True,
                 help="Graph: merge a sender's flows below this (token units) into one "
                      "'N more addresses' edge."),
    click.option("--graph-top-k", type=click.IntRange(min=1), default=TOP_K,
                 show_default=True,
                 help="Graph: draw each sender's K largest flows; merge the rest."),
    click.option("--graph-max-edges", type=click.IntRange(min=1), default=MAX_EDGES,
                 show_default=True,
                 help="Graph: draw at most this many flows (largest first); merge the rest."),
], _collapse)  # fmt: skip


def _check_suffix(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse an unknown --graph suffix before any work (not after a long trace)."""
    if value and Path(value).suffix.lower() not in GRAPH_SUFFIXES:
        raise click.BadParameter(f"{value}: use one of {', '.join(GRAPH_SUFFIXES)}")
    return value


def _graph(graph_file: str | None, collapse: CollapseChoice) -> GraphChoice:
    return GraphChoice(graph_file, collapse)


_graph_bundle = bundle("graph", [
    click.option("--graph", "graph_file", default=None, callback=_check_suffix,
                 help="Also draw the flow graph: FILE.svg, .png, .pdf (Graphviz) or .dot."),
], _graph, takes=("collapse",))  # fmt: skip


def graph_options(f: Any) -> Any:
    """``--graph FILE`` and the collapse rules, for ``follow`` and ``source``: the command
    receives ``graph: GraphChoice``."""
    return collapse_options(_graph_bundle(f))


def write_follow_graph(result: Any, graph: GraphChoice, quiet: bool) -> None:
    """Draw ``result``'s flow graph to ``--graph FILE`` and say what was collapsed."""
    if not graph.file:
        return
    from tracer.output.graph import build_flow_graph, write_graph

    drawn = build_flow_graph(result, graph.collapse.rules())
    write_graph(drawn, graph.file)
    if not quiet:
        err = err_console()
        err.print(
            f"graph: {drawn.nodes.height:,} nodes, {drawn.edges.height:,} edges → {graph.file}"
        )
        for line in drawn.collapse_text():
            err.print(f"  collapsed: {line}", highlight=False)
