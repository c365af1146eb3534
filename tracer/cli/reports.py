"""Batch and entity commands: ``exposure``, ``cluster``, ``entity`` (registered on ``cli``).

Kept apart from :mod:`tracer.cli.follow` so each module stays one screenful of concerns; the
shared option bundles come from :mod:`tracer.cli.options`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from tracer.cli.app import cli, err_console, out_console
from tracer.cli.options import (
    DataChoice,
    OutputChoice,
    csv_list,
    data_options,
    output_options,
    selection_options,
)
from tracer.core.errors import UsageError
from tracer.graph.spec import Selection


@contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block, and what the block allocated
    frozen after it (moved to the collector's permanent generation, never traced again).

    Why: a batch report imports numba, Polars and pyarrow (hundreds of thousands of objects,
    all alive until the process ends) and then works in arrays. Collecting while they import
    found nothing to free, and without the freeze the first collection after the block, and
    the one at interpreter exit, trace every one of them: together ~0.5 s of CPU of an
    ``exposure --all`` process (``gc.callbacks``: a 0.27 s generation-0 pass after the
    command, 0.23 s at exit). Reference counting still frees everything not in a cycle; a
    cycle the block left behind is freed with the process.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was:
            gc.enable()


@cli.command()
@click.argument("addresses_file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--all",
    "all_addresses",
    is_flag=True,
    help="Report every address with a transfer in the selection.",
)
@click.option(
    "--output",
    "-o",
    default=None,
    help="Report file: .parquet (provenance in its metadata), .csv (metadata in FILE.meta.json) "
    "or .json. Without -o, a short address list is shown as a table.",
)
@click.option(
    "--direction",
    type=click.Choice(["in", "out", "both"]),
    default="both",
    show_default=True,
    help="in: what the address received; out: what it sent.",
)
@click.option(
    "--model",
    "-m",
    type=click.Choice(["haircut", "poison", "taint-first", "clean-first"]),
    default="haircut",
    show_default=True,
    help="Taint model for indirect exposure.",
)
@click.option(
    "--categories",
    default=None,
    help="Report only these categories (comma-separated; default: all labelled).",
)
@click.option(
    "--risk-config",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="YAML with category weights (default: tracer/data/risk.yaml).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Run locally, or shard over a Ray cluster.",
)
@click.option(
    "--ray-address",
    default=None,
    help="Ray cluster to join (e.g. ray://head:10001 or auto); default: start one.",
)
@click.option("--html", "html_file", default=None,
              help="Also write a self-contained HTML summary (score distribution, top exposed).")
@selection_options
@data_options
@paused_gc()
def exposure(
    addresses_file: str | None,
    all_addresses: bool,
    output: str | None,
    direction: str,
    model: str,
    categories: str | None,
    risk_config: str | None,
    engine: str,
    ray_address: str | None,
    html_file: str | None,
    selection: Selection,
    data: DataChoice,
) -> None:
    """Batch exposure of addresses to label categories, written as Parquet, CSV or JSON.

    ADDRESSES_FILE holds one address per line (# comments allowed) or is a CSV with an
    'address' column. One sweep per direction covers every address at once. Without -o, up
    to 50 addresses are shown as a table.

    \b
    Example:
      tracer exposure --all -o exposure.parquet \\
        --data fixtures/sample_case/trongrid_scam_wallet.json \\
        --data fixtures/sample_case/trongrid_downstream.json \\
        --labels fixtures/sample_case/labels.csv
    """
    from tracer.analysis.exposure import ExposureRequest
    from tracer.analysis.exposure_run import exposure
    from tracer.analysis.risk import load_risk_config
    from tracer.cli.data import open_data
    from tracer.cli.progress import terminal
    from tracer.output.exposure_report import report_format, write_report
    from tracer.output.render import EXPOSURE_TABLE_MAX, exposure_table
    from tracer.sources.labels import read_address_list

    if bool(addresses_file) == all_addresses:
        raise UsageError("give either ADDRESSES_FILE or --all")
    addresses = (
        tuple(read_address_list(addresses_file)) if addresses_file and not all_addresses else None
    )
    if output is not None:
        report_format(output)  # refuse an unknown suffix before any work
    elif not html_file and (addresses is None or len(addresses) > EXPOSURE_TABLE_MAX):
        many = "every address" if addresses is None else f"{len(addresses):,} addresses"
        raise UsageError(
            f"exposure of {many} is a batch report: give -o FILE (.parquet, .csv or .json); "
            f"the terminal table is for lists of up to {EXPOSURE_TABLE_MAX} addresses"
        )
    req = ExposureRequest(
        addresses=addresses, model=model,
        directions=("in", "out") if direction == "both" else (direction,),
        categories=csv_list(categories) or None, selection=selection,
    )  # fmt: skip
    risk = load_risk_config(risk_config)
    ws = open_data(data)
    quiet = data.quiet
    report = exposure(ws, req, risk=risk, engine=engine, ray_address=ray_address,
                      progress=terminal(quiet), ray_logs=not quiet)  # fmt: skip
    argv = ["tracer", *click.get_current_context().meta["tracer.argv"]]
    if html_file:
        from tracer.output.exposure_html import write_exposure_html

        write_exposure_html(report, html_file, argv)
    if output is None and html_file:
        return
    if output is None:
        exposure_table(report, out_console(170))
        return
    write_report(report, output, argv)
    if not quiet:
        m = report.metadata
        err = err_console()
        err.print(
            f"{report.height:,} rows for {m['reported_addresses']:,} addresses "
            f"({', '.join(req.directions)}; {len(m['categories'])} categories: "
            f"{', '.join(m['categories']) or 'none'}) → {output}"
        )
        if m["not_found"]:
            shown = ", ".join(m["not_found"][:5]) + (" ..." if len(m["not_found"]) > 5 else "")
            err.print(
                f"[yellow]{len(m['not_found']):,} requested addresses have no transfers in the "
                f"data (listed in the report metadata 'not_found'): {shown}[/yellow]"
            )


def cluster_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """One option per clustering threshold; defaults come from ``ClusterOptions`` (one source)."""
    from tracer.analysis.cluster_options import ClusterOptions

    d = ClusterOptions()
    table = [
        ("--deposit-max-blocks", click.IntRange(min=0), d.deposit_max_blocks,
         "Deposit rule, EVM: forward within this many blocks."),
        ("--deposit-max-diff", click.FloatRange(min=0), d.deposit_max_diff,
         "Deposit rule, EVM: forwarded at most this much less (token units)."),
        ("--deposit-max-delay", click.FloatRange(min=0), d.deposit_max_delay.total_seconds(),
         "Deposit rule, Tron: forward within this many seconds."),
        ("--deposit-max-rel-diff", click.FloatRange(min=0, max=1), d.deposit_max_rel_diff,
         "Deposit rule, Tron: forwarded at most this share less."),
        ("--gas-max-funded", click.IntRange(min=2), d.gas_max_funded,
         "Gas-funder rule: ignore funders of more wallets than this."),
        ("--airdrop-min-recipients", click.IntRange(min=2), d.airdrop_min_recipients,
         "Airdrop rule: a distribution pays at least this many addresses."),
    ]  # fmt: skip
    for flag, typ, default, text in reversed(table):
        f = click.option(flag, type=typ, default=default, show_default=True, help=text)(f)
    return f


@cli.command("cluster")
@click.option(
    "--heuristics",
    default="all",
    show_default=True,
    help="Comma-separated: deposit, gas-funder, airdrop (or all).",
)
@click.option("--output", "-o", default=None, help="Also write the entities to this Parquet file.")
@cluster_options
@data_options
def cluster_cmd(
    heuristics: str,
    output: str | None,
    deposit_max_blocks: int,
    deposit_max_diff: float,
    deposit_max_delay: float,
    deposit_max_rel_diff: float,
    gas_max_funded: int,
    airdrop_min_recipients: int,
    data: DataChoice,
) -> None:
    """Cluster addresses into entities (deposit reuse, common gas funder, airdrops).

    Entities are stored in the workspace for 'follow --entities' and 'entity'; each member
    keeps the evidence (heuristic, transactions) that linked it.

    \b
    Example:
      tracer cluster -o entities.parquet \\
        --data fixtures/sample_case/trongrid_scam_wallet.json \\
        --data fixtures/sample_case/trongrid_downstream.json \\
        --data fixtures/sample_case/trongrid_trx_gas.json \\
        --labels fixtures/sample_case/labels.csv
    """
    from datetime import timedelta

    from tracer.analysis.cluster import cluster, parse_heuristics
    from tracer.analysis.heuristics import ClusterOptions
    from tracer.cli.data import open_data
    from tracer.output.render import write_frame

    opts = ClusterOptions(
        deposit_max_blocks=deposit_max_blocks, deposit_max_diff=deposit_max_diff,
        deposit_max_delay=timedelta(seconds=deposit_max_delay),
        deposit_max_rel_diff=deposit_max_rel_diff, gas_max_funded=gas_max_funded,
        airdrop_min_recipients=airdrop_min_recipients,
    )  # fmt: skip
    ws = open_data(data)
    res = cluster(ws, parse_heuristics(heuristics), opts)
    stored = ""
    if ws.path is not None and not data.label_files:
        ws.save_entities(res.entities, res.links, res.stats)
        stored = f"; stored in {ws.path}"
    if output:
        write_frame(res.entities.drop("id"), "parquet", output)
    if not data.quiet:
        st = res.stats
        links = ", ".join(f"{h} {n:,}" for h, n in st["links"].items())
        err_console().print(
            f"links: {links}; {st['entities']:,} entities of 2+ addresses "
            f"({st['clustered_addresses']:,} addresses, largest {st['largest_entity']:,})"
            + (f" → {output}" if output else "")
            + stored
        )


@cli.command()
@click.argument("address")
@output_options
@data_options
def entity(address: str, out: OutputChoice, data: DataChoice) -> None:
    """Show the entity ADDRESS belongs to: its members and why they are linked.

    \b
    Example:
      tracer entity TGz7SeJv1XLUULqFFRd6e213A8ZeDFD6PM \\
        --data fixtures/sample_case/trongrid_downstream.json \\
        --data fixtures/sample_case/trongrid_trx_gas.json \\
        --labels fixtures/sample_case/labels.csv
    """
    import json

    from rich.table import Table

    from tracer.analysis.cluster import explain
    from tracer.cli.data import open_data

    members, links = explain(open_data(data), address)
    if out.resolved() != "table":
        doc = {
            "address": address,
            "entity_address": members["entity_address"][0] if members.height else None,
            "members": members.select("address", "chain", "heuristics").to_dicts(),
            "links": links.to_dicts(),
        }
        from tracer.output.render import write_text

        write_text(json.dumps(doc, indent=2), out.output)
        return
    c = out_console()
    if members.height == 0:
        c.print(f"{address} is not linked to any other address by the clustering rules.")
        return
    c.print(f"Entity {members['entity_address'][0]}: {members.height} addresses")
    t = Table("address", "linked by")
    for r in members.iter_rows(named=True):
        t.add_row(r["address"], ", ".join(r["heuristics"] or []))
    c.print(t)
    lt = Table("address", "linked to", "heuristic", "why", "transactions", title="Evidence",
               title_justify="left")  # fmt: skip
    for r in links.iter_rows(named=True):
        lt.add_row(r["a"], r["b"], r["heuristic"], r["detail"], "\n".join(r["tx_hashes"]))
    c.print(lt)
