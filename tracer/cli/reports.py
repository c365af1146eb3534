"""Batch and entity commands: ``exposure``, ``cluster``, ``entity`` (registered on ``cli``).

Kept apart from :mod:`tracer.cli` so each module stays one screenful of concerns; the shared
option decorators and helpers are imported from there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from tracer.cli.app import (
    _csv_list,
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
@selection_options
@data_options
def exposure(
    addresses_file: str | None,
    all_addresses: bool,
    output: str | None,
    selection: Selection,
    **kw: Any,
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
    from tracer.analysis.exposure import ExposureRequest, report_format, write_report
    from tracer.analysis.exposure_run import exposure
    from tracer.analysis.risk import load_risk_config
    from tracer.output.render import EXPOSURE_TABLE_MAX, exposure_table

    if bool(addresses_file) == all_addresses:
        raise UsageError("give either ADDRESSES_FILE or --all")
    addresses = (
        tuple(read_address_list(addresses_file)) if addresses_file and not all_addresses else None
    )
    if output is not None:
        report_format(output)  # refuse an unknown suffix before any work
    elif addresses is None or len(addresses) > EXPOSURE_TABLE_MAX:
        many = "every address" if addresses is None else f"{len(addresses):,} addresses"
        raise UsageError(
            f"exposure of {many} is a batch report: give -o FILE (.parquet, .csv or .json); "
            f"the terminal table is for lists of up to {EXPOSURE_TABLE_MAX} addresses"
        )
    req = ExposureRequest(
        addresses=addresses, model=kw["model"],
        directions=("in", "out") if kw["direction"] == "both" else (kw["direction"],),
        categories=_csv_list(kw.get("categories")) or None, selection=selection,
    )  # fmt: skip
    risk = load_risk_config(kw.get("risk_config"))
    ws = _workspace(kw)
    quiet = kw.get("quiet", False)
    report = exposure(ws, req, risk=risk, engine=kw["engine"], ray_address=kw.get("ray_address"),
                      progress=terminal(quiet), ray_logs=not quiet)  # fmt: skip
    if output is None:
        from rich.console import Console

        exposure_table(report, Console(highlight=False, width=max(170, _out().width)))
        return
    write_report(report, output, ["tracer", *click.get_current_context().meta["tracer.argv"]])
    if not quiet:
        m = report.metadata
        err = _err()
        err.print(
            f"{report.frame.height:,} rows for {m['reported_addresses']:,} addresses "
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
    from tracer.analysis.heuristics import ClusterOptions

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
def cluster_cmd(heuristics: str, output: str | None, **kw: Any) -> None:
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
    from tracer.output.render import write_frame

    opts = ClusterOptions(
        deposit_max_blocks=kw["deposit_max_blocks"], deposit_max_diff=kw["deposit_max_diff"],
        deposit_max_delay=timedelta(seconds=kw["deposit_max_delay"]),
        deposit_max_rel_diff=kw["deposit_max_rel_diff"], gas_max_funded=kw["gas_max_funded"],
        airdrop_min_recipients=kw["airdrop_min_recipients"],
    )  # fmt: skip
    ws = _workspace(kw)
    res = cluster(ws, parse_heuristics(heuristics), opts)
    stored = ""
    if ws.path is not None and not kw.get("label_files"):
        ws.save_entities(res.entities, res.links, res.stats)
        stored = f"; stored in {ws.path}"
    if output:
        write_frame(res.entities.drop("id"), "parquet", output)
    if not kw.get("quiet"):
        st = res.stats
        links = ", ".join(f"{h} {n:,}" for h, n in st["links"].items())
        _err().print(
            f"links: {links}; {st['entities']:,} entities of 2+ addresses "
            f"({st['clustered_addresses']:,} addresses, largest {st['largest_entity']:,})"
            + (f" → {output}" if output else "")
            + stored
        )


@cli.command()
@click.argument("address")
@output_options
@data_options
def entity(address: str, **kw: Any) -> None:
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

    members, links = explain(_workspace(kw), address)
    fmt = _out_format(kw.get("out_format"), kw.get("output"))
    if fmt != "table":
        doc = {
            "address": address,
            "entity_address": members["entity_address"][0] if members.height else None,
            "members": members.select("address", "chain", "heuristics").to_dicts(),
            "links": links.to_dicts(),
        }
        from tracer.output.render import write_text

        write_text(json.dumps(doc, indent=2), kw.get("output"))
        return
    c = _out()
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
