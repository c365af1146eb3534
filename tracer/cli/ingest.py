"""Commands that fill a workspace and look at it: ``ingest``, ``labels add``, ``info``,
``export``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tracer.cli.app import cli, err_console, out_console
from tracer.cli.options import ReadChoice, init_option, read_options, workspace_option

if TYPE_CHECKING:
    from tracer.analysis.precompute import Precomputed
    from tracer.store.workspace import Workspace

#: ``--no-precompute`` (ingest, synth): leave the local follow's stored balance passes to the
#: first question, as before they were computed at ingest.
no_precompute_option = click.option(
    "--no-precompute", "no_precompute", is_flag=True,
    help="Do not compute the local follow's stored balance passes now (the first follow "
         "then computes them).",
)  # fmt: skip


def precompute_after(ws: Workspace, quiet: bool, *, build_graph: bool = False) -> Precomputed:
    """After an ingest committed: the stored balance passes a default follow reads
    (:func:`tracer.analysis.precompute.precompute_case`), said on stderr unless ``quiet``."""
    from tracer.analysis.precompute import Precomputed, precompute_case
    from tracer.store.workspace import Workspace

    # opened anew: pinned to the generation just committed (``ws`` may hold an older one's
    # graph, e.g. after an earlier ``ingest-rpc`` round)
    fresh = ws if ws.path is None else Workspace.open(ws.path)
    try:
        done = precompute_case(fresh, build_graph=build_graph)
    except Exception as exc:  # the ingest is committed: a question recomputes what is missing
        err_console().print(f"warning: the ingest is committed, but computing the stored "
                            f"balance passes failed ({type(exc).__name__}: {exc}); the first "
                            f"follow computes them")  # fmt: skip
        return Precomputed(skipped=f"failed: {type(exc).__name__}: {exc}")
    if not quiet:
        err_console().print(done.line())
    return done


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@workspace_option
@read_options
@click.option("--json", "as_json", is_flag=True, help="Print the ingest summary as JSON.")
@init_option
@no_precompute_option
def ingest(
    files: tuple[str, ...], workspace: Path | None, read: ReadChoice, as_json: bool, init: bool,
    no_precompute: bool,
) -> None:
    """Load export files into the workspace (idempotent; atomic).

    Formats are detected from the header or shape: ethereum-etl (CSV/JSON), BigQuery,
    Etherscan CSV, TronGrid/TronScan, eth_getLogs responses, generic CSV (--map), Parquet.

    Then, unless --no-precompute, the local follow's balance passes (default asset groups,
    both directions) are computed, or continued over an append's new transfers, and stored,
    so the first follow reads them.

    \b
    Example:
      tracer ingest fixtures/sample_case/trongrid_*.json
    """
    import json

    from tracer.cli.data import print_file_messages, read_options, summary_line, write_rejects
    from tracer.cli.progress import counter
    from tracer.store.workspace import Workspace

    ws = Workspace.open(workspace, create=True, init=init)
    opts = read_options(read)
    quiet = read.quiet
    done = [0]
    # rows read so far, drawn only on a terminal (big CSVs arrive in batches)
    with counter(None, "reading", quiet) as advance:

        def progress(rows: int) -> None:
            done[0] += rows
            advance(rows, f"reading: {done[0]:,} rows")

        summary = ws.ingest(
            list(files), options=opts, fmt=read.fmt, skip_bad=read.skip_bad, progress=progress,
        )  # fmt: skip
    write_rejects(summary, read.rejects_file, quiet)
    pre: dict[str, Any] = {}
    if not no_precompute:  # the generation is committed: a crash here loses nothing
        pre["precompute"] = precompute_after(ws, quiet or as_json).as_dict()
    if as_json:
        click.echo(json.dumps(summary.as_dict() | pre, indent=2))
    elif not quiet:
        for f in summary.files:
            skipped = ", ".join(f"{n} {r}" for r, n in f.skipped.items()) or "none"
            err_console().print(
                f"{f.file} [{f.format}]: read {f.read:,} = loaded {f.loaded:,} + duplicate "
                f"{f.duplicate:,} + rejected {f.rejected:,} + skipped {sum(f.skipped.values()):,}"
                f" ({skipped})"
            )
            print_file_messages(f)
        err_console().print(
            summary_line(summary) + ("" if summary.changed else "; workspace unchanged")
        )


@cli.group()
def labels() -> None:
    """Manage flagged-service labels in the workspace."""


@labels.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@workspace_option
@click.option("--category", default=None,
              help="Category for files that carry none (address lists, Etherscan CSVs); "
                   "TagPacks and CSVs with a category column keep theirs.")  # fmt: skip
@click.option("--name", default=None, help="Name for plain address lists (default: file name).")
@init_option
def labels_add(
    files: tuple[str, ...],
    workspace: Path | None,
    category: str | None,
    name: str | None,
    init: bool,
) -> None:
    """Add label files: CSV, GraphSense TagPack YAML, or address lists.

    \b
    Example:
      tracer labels add fixtures/sample_case/labels.csv
      tracer labels add fixtures/ofac/sanctioned_addresses_TRX.txt --category sanctioned
    """
    from tracer.cli.data import label_loads
    from tracer.store.workspace import Workspace

    ws = Workspace.open(workspace, create=True, init=init)
    loads = label_loads(files, category, "--category", name=name)
    added = ws.add_labels(loads)
    for load in loads:
        skipped = ", ".join(f"{n} {r}" for r, n in load.skipped.items()) or "none"
        err_console().print(
            f"{load.file}: read {load.read:,}, usable {load.labels.height:,}, skipped "
            f"{sum(load.skipped.values()):,} ({skipped})"
        )
    err_console().print(f"{added:,} new labels in the workspace")


@cli.command()
@workspace_option
@click.option("--format", "out_format", type=click.Choice(["table", "json"]), default="table")
def info(workspace: Path | None, out_format: str) -> None:
    """Show what the workspace holds: transfers per chain/asset, addresses, time range, labels.

    \b
    Example:
      tracer info --format json
    """
    import json

    from rich.table import Table

    from tracer.store.workspace import Workspace

    d = Workspace.open(workspace).info()
    if out_format == "json":
        click.echo(json.dumps(d, indent=2, default=str))
        return
    c = out_console()
    c.print(f"Workspace {d['workspace']}: {d['transfers']:,} transfers, "
            f"{d['addresses']:,} addresses, {d['first_ts']} → {d['last_ts']}")  # fmt: skip
    t = Table("chain", "asset", "transfers", "amount")
    for r in d["per_asset"]:
        t.add_row(r["chain"], r["asset"] or "(unknown)", f"{r['transfers']:,}",
                  "" if r["amount"] is None else f"{r['amount']:,.2f}")  # fmt: skip
    c.print(t)
    c.print("Labels: " + ", ".join(f"{k} {v:,}" for k, v in d["labels_per_category"].items()))


@cli.command()
@workspace_option
@click.option("--output", "-o", required=True, help="Parquet file to write.")
def export(workspace: Path | None, output: str) -> None:
    """Write the canonical transfer table (chain order) to Parquet.

    \b
    Example:
      tracer export -o transfers.parquet
    """
    from tracer.store.workspace import Workspace

    n = Workspace.open(workspace).export(output)
    err_console().print(f"{n:,} transfers written to {output}")
