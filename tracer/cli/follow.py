"""``follow`` and ``source``: trace funds forward from, or back to, a set of addresses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from tracer.cli.app import (
    _err,
    _out,
    _out_format,
    _workspace,
    cli,
    data_options,
    output_options,
)
from tracer.cli.options import selection_options
from tracer.cli.progress import terminal
from tracer.core.errors import UsageError
from tracer.graph.spec import Selection
from tracer.sources.labels import read_address_list


def follow_options(f: Callable[..., Any]) -> Callable[..., Any]:
    from tracer.analysis.follow import MODEL_NAMES

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
    ]  # fmt: skip
    for o in reversed(opts):
        f = o(f)
    return output_options(data_options(selection_options(f)))


def _run_follow(
    direction: str, addresses: tuple[str, ...], selection: Selection, kw: dict[str, Any]
) -> None:
    from tracer.analysis.follow import follow
    from tracer.output.render import follow_table, write_follow, write_ledger

    addrs = list(addresses)
    if kw.get("sources_file"):
        addrs += read_address_list(kw["sources_file"])
    if not addrs:
        raise UsageError("give an ADDRESS or --sources FILE")
    ws = _workspace(kw)
    entity_of = None
    if kw.get("use_entities"):
        from tracer.analysis.cluster import entity_labels

        entity_of, _ = entity_labels(ws)
    result = follow(
        ws, addrs, selection, model=kw["model"], top_paths=kw.get("top_paths", 3),
        ledger=bool(kw.get("ledger_file")), direction=direction, entities=entity_of,
        by_source=True if kw.get("by_source") else None,
        progress=terminal(bool(kw.get("quiet"))), cross_asset=kw.get("cross_asset", True),
        infer_otc=bool(kw.get("infer_otc")),
    )  # fmt: skip
    if kw.get("ledger_file") and result.ledger is not None:
        argv = ["tracer", *click.get_current_context().meta.get("tracer.argv", [])]
        write_ledger(result, kw["ledger_file"], ws, argv)
        if not kw.get("quiet"):
            _err().print(
                f"ledger: {result.ledger.height:,} tainted transfers → {kw['ledger_file']}"
            )
    fmt = _out_format(kw.get("out_format"), kw.get("output"))
    if fmt == "table":
        follow_table(result, _out(), by_source=bool(kw.get("by_source")))
    else:
        write_follow(result, fmt, kw.get("output"))
        if not kw.get("quiet"):  # the JSON carries them too ("warnings"); say them aloud
            for w in result.warnings:
                _err().print(f"[yellow]Warning: {w['message']}[/yellow]")


@cli.command()
@follow_options
def follow(addresses: tuple[str, ...], selection: Selection, **kw: Any) -> None:
    """Follow the money out of ADDRESS(es): services reached, paths, what is still held.

    \b
    Example:
      tracer follow TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx --model fifo \\
        --data fixtures/sample_case/trongrid_scam_wallet.json \\
        --data fixtures/sample_case/trongrid_downstream.json \\
        --labels fixtures/sample_case/labels.csv --format json
    """
    _run_follow("forward", addresses, selection, kw)


@cli.command()
@follow_options
def source(addresses: tuple[str, ...], selection: Selection, **kw: Any) -> None:
    """Trace backwards: where did the money that reached ADDRESS(es) come from?

    \b
    Example:
      tracer source TTqBGPuxz5Q4rXb3UpaGaDi6QbtDRbKTYk \\
        --data fixtures/sample_case/trongrid_downstream.json \\
        --labels fixtures/sample_case/labels.csv
    """
    _run_follow("backward", addresses, selection, kw)
