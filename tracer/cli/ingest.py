"""Commands that fill a workspace and look at it: ``ingest``, ``labels add``, ``info``,
``export``."""

from __future__ import annotations

from typing import Any

import click

from tracer.cli.app import (
    _err,
    _label_loads,
    _out,
    _print_file_messages,
    _read_options,
    _summary_line,
    _write_rejects,
    cli,
    read_options,
    workspace_option,
)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@workspace_option
@read_options
@click.option("--json", "as_json", is_flag=True, help="Print the ingest summary as JSON.")
@click.option("--init", is_flag=True,
              help="Make the workspace folder a workspace even if it already holds other files "
                   "(tracer adds its own beside them and never deletes them).")  # fmt: skip
def ingest(files: tuple[str, ...], as_json: bool, **kw: Any) -> None:
    """Load export files into the workspace (idempotent; atomic).

    Formats are detected from the header or shape: ethereum-etl (CSV/JSON), BigQuery,
    Etherscan CSV, TronGrid/TronScan, eth_getLogs responses, generic CSV (--map), Parquet.

    \b
    Example:
      tracer ingest fixtures/sample_case/trongrid_*.json
    """
    import json

    from tracer.cli.progress import counter
    from tracer.store.workspace import Workspace

    ws = Workspace.open(kw.get("workspace"), create=True, init=kw.get("init", False))
    opts = _read_options(kw)
    quiet = kw.get("quiet", False)
    done = [0]
    # rows read so far, drawn only on a terminal (big CSVs arrive in batches)
    with counter(None, "reading", quiet) as advance:

        def progress(rows: int) -> None:
            done[0] += rows
            advance(rows, f"reading: {done[0]:,} rows")

        summary = ws.ingest(
            list(files), options=opts, fmt=kw.get("fmt"), skip_bad=kw.get("skip_bad", False),
            progress=progress,
        )  # fmt: skip
    _write_rejects(summary, kw["rejects_file"], quiet)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2))
    elif not quiet:
        for f in summary.files:
            skipped = ", ".join(f"{n} {r}" for r, n in f.skipped.items()) or "none"
            _err().print(
                f"{f.file} [{f.format}]: read {f.read:,} = loaded {f.loaded:,} + duplicate "
                f"{f.duplicate:,} + rejected {f.rejected:,} + skipped {sum(f.skipped.values()):,}"
                f" ({skipped})"
            )
            _print_file_messages(f)
        _err().print(_summary_line(summary) + ("" if summary.changed else "; workspace unchanged"))


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
@click.option("--init", is_flag=True,
              help="Make the workspace folder a workspace even if it already holds other files "
                   "(tracer adds its own beside them and never deletes them).")  # fmt: skip
def labels_add(files: tuple[str, ...], category: str | None, name: str | None, **kw: Any) -> None:
    """Add label files: CSV, GraphSense TagPack YAML, or address lists.

    \b
    Example:
      tracer labels add fixtures/sample_case/labels.csv
      tracer labels add fixtures/ofac/sanctioned_addresses_TRX.txt --category sanctioned
    """
    from tracer.store.workspace import Workspace

    ws = Workspace.open(kw.get("workspace"), create=True, init=kw.get("init", False))
    loads = _label_loads(files, category, "--category", name=name)
    added = ws.add_labels(loads)
    for load in loads:
        skipped = ", ".join(f"{n} {r}" for r, n in load.skipped.items()) or "none"
        _err().print(
            f"{load.file}: read {load.read:,}, usable {load.labels.height:,}, skipped "
            f"{sum(load.skipped.values()):,} ({skipped})"
        )
    _err().print(f"{added:,} new labels in the workspace")


@cli.command()
@workspace_option
@click.option("--format", "out_format", type=click.Choice(["table", "json"]), default="table")
def info(out_format: str, **kw: Any) -> None:
    """Show what the workspace holds: transfers per chain/asset, addresses, time range, labels.

    \b
    Example:
      tracer info --format json
    """
    import json

    from rich.table import Table

    from tracer.store.workspace import Workspace

    d = Workspace.open(kw.get("workspace")).info()
    if out_format == "json":
        click.echo(json.dumps(d, indent=2, default=str))
        return
    c = _out()
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
def export(output: str, **kw: Any) -> None:
    """Write the canonical transfer table (chain order) to Parquet.

    \b
    Example:
      tracer export -o transfers.parquet
    """
    from tracer.store.workspace import Workspace

    n = Workspace.open(kw.get("workspace")).export(output)
    _err().print(f"{n:,} transfers written to {output}")
