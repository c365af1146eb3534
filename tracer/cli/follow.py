"""``follow`` and ``source``: trace funds forward from, or back to, a set of addresses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from tracer.cli.app import cli, err_console, out_console
from tracer.cli.graph_options import GraphChoice, graph_options, write_follow_graph
from tracer.cli.options import (
    DataChoice,
    OutputChoice,
    data_options,
    output_options,
    selection_options,
)
from tracer.core.errors import UsageError
from tracer.graph.spec import Selection

#: ``--model`` choices: the kernels' models (tests/cli check they agree with
#: :data:`tracer.analysis.follow.MODEL_NAMES`; written out so ``--help`` loads no kernel).
MODEL_NAMES = ("poison", "haircut", "taint-first", "clean-first", "tiho", "fifo", "lifo")


def follow_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """What ``follow`` and ``source`` share beyond the selection, data and output options."""
    opts = [
        click.argument("addresses", nargs=-1),
        click.option("--sources", "sources_file", type=click.Path(exists=True, dir_okay=False),
                     help="File with one address per line to trace together."),
        click.option("--model", "-m", type=click.Choice(MODEL_NAMES), default="haircut",
                     show_default=True, help="Taint model."),
        click.option("--top-paths", type=click.IntRange(min=0), default=3, show_default=True,
                     help="Strongest paths kept per service."),
        click.option("--ledger", "ledger_file", default=None,
                     help="Write the audit ledger (one row per tainted transfer) to Parquet."),
        click.option("--entities", "use_entities", is_flag=True,
                     help="Treat each clustered entity as one node (see 'tracer cluster')."),
        click.option("--by-source", "by_source", is_flag=True,
                     help="Also show, per source, how much of its money reached each service "
                          "(computed in the same sweep; always in JSON for several sources)."),
        click.option("--cross-asset/--no-cross-asset", "cross_asset", default=True,
                     show_default=True,
                     help="Continue through the workspace's swaps, wraps and bridges at each "
                          "hop's own rate (--no-cross-asset: stop at them, as a pool)."),
        click.option("--infer-otc", "infer_otc", is_flag=True,
                     help="Also cross inferred OTC-desk / exchanger pass-throughs (marked "
                          "inferred; the result says how much rests on them)."),
        click.option("--engine-follow", "engine", type=click.Choice(["auto", "local", "sweep"]),
                     default="auto", show_default=True,
                     help="local: only the tainted neighbourhood; sweep: every selected "
                          "transfer; auto: local while the taint stays small (same result)."),
    ]  # fmt: skip
    for o in reversed(opts):
        f = o(f)
    return output_options(data_options(selection_options(graph_options(f))))


def _follow_command(direction: str, doc: str) -> Callable[..., None]:
    """The command body of ``follow`` (forward) or ``source`` (backward): parse, make the one
    library call, render."""

    def command(
        addresses: tuple[str, ...],
        sources_file: str | None,
        model: str,
        top_paths: int,
        ledger_file: str | None,
        use_entities: bool,
        by_source: bool,
        cross_asset: bool,
        infer_otc: bool,
        engine: str,
        selection: Selection,
        graph: GraphChoice,
        data: DataChoice,
        out: OutputChoice,
    ) -> None:
        from tracer.analysis.follow import follow
        from tracer.cli.data import open_data
        from tracer.cli.progress import terminal
        from tracer.output.render import follow_table, write_follow, write_ledger
        from tracer.sources.labels import read_address_list

        addrs = list(addresses) + (read_address_list(sources_file) if sources_file else [])
        if not addrs:
            raise UsageError("give an ADDRESS or --sources FILE")
        ws = open_data(data)
        result = follow(
            ws, addrs, selection, model=model, top_paths=top_paths,
            ledger=bool(ledger_file or graph.file), direction=direction,
            entities=True if use_entities else None,
            by_source=True if by_source else None, progress=terminal(data.quiet),
            cross_asset=cross_asset, infer_otc=infer_otc,
            engine=None if engine == "auto" else engine,
        )  # fmt: skip
        if ledger_file and result.ledger is not None:
            argv = ["tracer", *click.get_current_context().meta.get("tracer.argv", [])]
            write_ledger(result, ledger_file, ws, argv)
            if not data.quiet:
                err_console().print(
                    f"ledger: {result.ledger.height:,} tainted transfers → {ledger_file}"
                )
        write_follow_graph(result, graph, data.quiet)
        fmt = out.resolved()
        if fmt == "table":
            follow_table(result, out_console(), by_source=by_source)
        else:
            write_follow(result, fmt, out.output)
            if not data.quiet:  # the JSON carries them too ("warnings"); say them aloud
                for w in result.warnings:
                    err_console().print(f"[yellow]Warning: {w['message']}[/yellow]")

    command.__doc__ = doc
    return command


follow = cli.command("follow")(follow_options(_follow_command("forward", """\
    Follow the money out of ADDRESS(es): services reached, paths, what is still held.

    \b
    Example:
      tracer follow TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx --model fifo \\
        --data fixtures/sample_case/trongrid_scam_wallet.json \\
        --data fixtures/sample_case/trongrid_downstream.json \\
        --labels fixtures/sample_case/labels.csv --format json
    """)))

source = cli.command("source")(follow_options(_follow_command("backward", """\
    Trace backwards: where did the money that reached ADDRESS(es) come from?

    \b
    Example:
      tracer source TKuHBGr576Gou6txypGUrNFcj4qyuZyZRJ \\
        --data fixtures/sample_case/trongrid_downstream.json \\
        --labels fixtures/sample_case/labels.csv
    """)))
