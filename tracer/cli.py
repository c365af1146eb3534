"""The ``tracer`` command line: parse options, call one library function, render.

Errors a user can fix arrive as :class:`tracer.errors.TracerError` and are turned into a one-line
message and an exit code here, in one place; nothing else in the package prints or exits.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from polars.exceptions import PanicException
from rich.console import Console

from tracer import __version__
from tracer.errors import TracerError, UsageError
from tracer.labels import CategoryNeeded, LabelLoad, read_address_list, read_labels

OUT_FORMATS = ("table", "json", "jsonl", "csv", "parquet")
#: Exit code of an unexpected exception (sysexits EX_SOFTWARE): distinct from bad input (2).
INTERNAL_ERROR_EXIT = 70


class TracerGroup(click.Group):
    """Maps library errors to clean messages and exit codes (no tracebacks: case data is
    sensitive, and a traceback is not an instruction)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        argv = list(args)  # kept for provenance (reports record the command line)
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        ctx.meta["tracer.argv"] = argv
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TracerError as exc:
            err = click.ClickException(str(exc))
            err.exit_code = exc.exit_code
            raise err from None
        except OSError as exc:  # never an empty message (was "Error: : None")
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(where + (exc.strerror or str(exc) or repr(exc))) from None
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except (Exception, PanicException) as exc:
            # Not the user's input (that arrives as TracerError, exit 2): a bug. Say so, with a
            # distinct code, instead of a traceback or a false "bad input".
            if os.environ.get("TRACER_DEBUG"):
                raise
            err = click.ClickException(
                f"internal error (a bug in tracer, not a problem with your files): "
                f"{type(exc).__name__}: {exc}. Run again with TRACER_DEBUG=1 to see the "
                "traceback, and please report it."
            )
            err.exit_code = INTERNAL_ERROR_EXIT
            raise err from None


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _out() -> Console:
    return Console(highlight=False, soft_wrap=False, width=max(120, Console().width))


# -- shared options ---------------------------------------------------------------------------
def workspace_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--workspace",
        "-w",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Workspace folder (default: $TRACER_WORKSPACE or ./.tracer).",
    )(f)


def read_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options that say how to read export files (ingest and --data)."""
    opts = [
        click.option("--input-format", "fmt", default=None,
                     help="Force the export format instead of detecting it (see README)."),
        click.option("--chain", default=None,
                     help="Chain of EVM exports: ethereum (default), bsc, polygon, ..."),
        click.option("--map", "column_map", default=None,
                     help="Generic CSV column mapping, e.g. from=sender,to=receiver,hash=tx."),
        click.option("--tokens", "token_files", multiple=True,
                     type=click.Path(exists=True, dir_okay=False),
                     help="Extra token table(s): chain,token,symbol,decimals."),
        click.option("--blocks", "blocks_file", default=None,
                     type=click.Path(exists=True, dir_okay=False),
                     help="Block timestamps (ethereum-etl blocks export) for block-only exports."),
        click.option("--skip-bad", is_flag=True,
                     help="Write bad rows to the rejects file instead of stopping at the first."),
        click.option("--rejects", "rejects_file", default="tracer-rejects.parquet",
                     show_default=True, help="Where --skip-bad writes rejected rows (Parquet)."),
        click.option("--quiet", "-q", is_flag=True, help="No progress or summary on stderr."),
    ]  # fmt: skip
    for o in reversed(opts):
        f = o(f)
    return f


def data_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--data/--labels: analyse files directly, in memory, with no workspace."""
    opts = [
        click.option("--data", "data_files", multiple=True,
                     type=click.Path(exists=True, dir_okay=False),
                     help="Export file(s) to analyse in memory instead of a workspace."),
        click.option("--labels", "label_files", multiple=True,
                     type=click.Path(exists=True, dir_okay=False),
                     help="Label file(s): CSV, TagPack YAML, or address list (with "
                          "--label-category)."),
        click.option("--label-category", default=None,
                     help="Category for --labels files that carry none (address lists, "
                          "Etherscan CSVs); files with their own categories keep them."),
    ]  # fmt: skip
    for o in reversed(opts):
        f = o(f)
    return read_options(workspace_option(f))


def output_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--output", "-o", default=None, help="Output file (default: stdout).")(f)
    return click.option(
        "--format",
        "out_format",
        type=click.Choice(OUT_FORMATS),
        default=None,
        help="Output format (default: table on a terminal, json when piped or -o FILE.json).",
    )(f)


def _read_options(kw: dict[str, Any]) -> Any:
    from tracer.sources import ReadOptions
    from tracer.sources.blocks import read_blocks
    from tracer.sources.generic import parse_map
    from tracer.tokens import load_tokens

    return ReadOptions(
        chain=kw.get("chain"),
        column_map=parse_map(kw.get("column_map")),
        tokens=load_tokens(kw.get("token_files") or ()),
        blocks=read_blocks(kw["blocks_file"], chain=None) if kw.get("blocks_file") else None,
    )


def _label_loads(
    files: tuple[str, ...],
    category: str | None,
    flag: str = "--label-category",
    name: str | None = None,
    quiet: bool = False,
) -> list[LabelLoad]:
    """Read label files; ``category`` fills in only files that carry none (said on stderr)."""
    loads = []
    for f in files:
        try:
            loads.append(read_labels(f, category=category, name=name))
        except CategoryNeeded as exc:
            raise exc.for_flag(flag) from None
        if category and loads[-1].own_categories and not quiet:
            _err().print(f"{f}: keeps its own categories ({flag} {category} not applied)")
    return loads


def _summary_line(summary: Any) -> str:
    d = summary.as_dict()
    text = (
        f"read {d['read']:,} rows: loaded {d['loaded']:,}, duplicate {d['duplicate']:,}, "
        f"rejected {d['rejected']:,}, skipped {d['skipped']:,} (not transfers)"
    )
    if d["unknown_decimals"]:
        text += f"; {d['unknown_decimals']:,} loaded rows have unknown token decimals"
    return text


def _print_file_messages(f: Any) -> None:
    """How a file was read (notes, dim) and what could mislead (warnings), under its line."""
    for note in f.notes:
        _err().print(f"  [dim]{note}[/dim]", highlight=False)
    for warning in f.warnings:
        _err().print(f"  [yellow]warning:[/yellow] {warning}", highlight=False)


def _write_rejects(summary: Any, path: str, quiet: bool) -> None:
    from tracer.render import write_frame

    if summary.rejects.height == 0:
        return
    write_frame(summary.rejects, "parquet", path)
    if not quiet:
        _err().print(f"{summary.rejects.height:,} rejected rows written to {path}")


def _workspace(kw: dict[str, Any]) -> Any:
    """The workspace to analyse: in memory from --data, else the on-disk one."""
    from tracer.workspace import Workspace

    loads = _label_loads(kw.get("label_files") or (), kw.get("label_category"),
                         quiet=kw.get("quiet", False))  # fmt: skip
    if kw.get("data_files"):
        ws, summary = Workspace.in_memory(
            kw["data_files"], loads, options=_read_options(kw), fmt=kw.get("fmt"),
            skip_bad=kw.get("skip_bad", False),
        )  # fmt: skip
        _write_rejects(summary, kw["rejects_file"], kw.get("quiet", False))
        if not kw.get("quiet"):
            for f in summary.files:
                if f.warnings:  # said when piped too: a figure may rest on them
                    _err().print(f"{f.file}:", highlight=False)
                    _print_file_messages(f)
            if _err().is_terminal:
                _err().print(f"[dim]{_summary_line(summary)}[/dim]")
        return ws
    ws = Workspace.open(kw.get("workspace"))
    if loads:
        ws.add_labels_in_memory(loads)
    return ws


def _out_format(fmt: str | None, output: str | None) -> str:
    if fmt:
        return fmt
    if output and output != "-":
        suffix = Path(output).suffix.lower().lstrip(".")
        if suffix in OUT_FORMATS:
            return suffix
        return "json"
    return "table" if sys.stdout.isatty() else "json"


def _csv_list(text: str | None) -> tuple[str, ...]:
    """``"a, b,,c"`` → ``("a", "b", "c")``."""
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


def _through(text: str | None) -> tuple[str, ...]:
    """``--through``: categories that pass taint on; ``none`` for none."""
    return () if (text or "").strip().lower() == "none" else _csv_list(text)


def _parse_when(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    import polars as pl

    from tracer.sources.base import timestamp_us

    us = pl.select(timestamp_us(pl.lit(text))).item()
    if us is None:
        raise UsageError(f"{flag}: cannot read {text!r} as a date/time (e.g. 2024-03-01 or "
                         "2024-03-01T12:00:00Z)")  # fmt: skip
    if len(text.strip()) == 10 and flag == "--until":
        us += 86_400_000_000 - 1  # a bare date as --until means the end of that day
    return datetime.fromtimestamp(us / 1e6, tz=UTC)


# -- the group -------------------------------------------------------------------------------
@click.group(cls=TracerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracer")
def cli() -> None:
    """Follow laundered crypto funds through on-chain transfer exports.

    \b
    Example:
      tracer follow TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx \\
        --data fixtures/sample_case/trongrid_scam_wallet.json \\
        --data fixtures/sample_case/trongrid_downstream.json \\
        --labels fixtures/sample_case/labels.csv
    """


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

    from tracer.progress import counter
    from tracer.workspace import Workspace

    ws = Workspace.open(kw.get("workspace"), create=True, init=kw.get("init", False))
    opts = _read_options(kw)
    quiet = kw.get("quiet", False)
    done = [0]
    # rows read so far, drawn only on a terminal (big CSVs arrive in batches)
    with counter(None, "reading", quiet) as advance:  # type: ignore[arg-type]

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
    from tracer.workspace import Workspace

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

    from tracer.workspace import Workspace

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
    from tracer.workspace import Workspace

    n = Workspace.open(kw.get("workspace")).export(output)
    _err().print(f"{n:,} transfers written to {output}")


def follow_options(f: Callable[..., Any]) -> Callable[..., Any]:
    from tracer.follow import MODEL_NAMES

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
    ]  # fmt: skip
    for o in reversed(opts):
        f = o(f)
    return output_options(data_options(selection_options(f)))


def selection_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """What is traced, shared by follow/source and exposure: assets, window, pass-through
    categories, hop limit and dust (read back with :func:`_selection`)."""
    opts = [
        click.option("--asset", default=None,
                     help="stablecoins (default), all, or symbols/contracts (USDT,USDC)."),
        click.option("--since", default=None,
                     help="Only traced flows at or after this time (UTC)."),
        click.option("--until", default=None,
                     help="Only traced flows at or before this time (UTC)."),
        click.option("--through", default="otc_desk,swap,bridge", show_default=True,
                     help="Label categories that pass taint on instead of absorbing it "
                          "('none' for none)."),
        click.option("--max-hops", type=click.IntRange(min=1), default=None,
                     help="Taint stops after this many hops."),
        click.option("--min-amount", type=click.FloatRange(min=0), default=0.0,
                     help="Dust threshold in token units: smaller taint is not followed."),
        click.option("--stream/--no-stream", default=None,
                     help="Read transfers chunk by chunk from the Parquet partitions (memory "
                          "O(addresses)) instead of the graph cache. Default: stream when the "
                          "workspace has no graph cache."),
    ]  # fmt: skip
    for o in reversed(opts):
        f = o(f)
    return f


def _selection(kw: dict[str, Any]) -> dict[str, Any]:
    """The parsed :func:`selection_options` values, as keyword arguments of the use cases."""
    return {
        "assets": kw.get("asset"),
        "since": _parse_when(kw.get("since"), "--since"),
        "until": _parse_when(kw.get("until"), "--until"),
        "through": _through(kw.get("through")),
        "max_hops": kw.get("max_hops"),
        "min_amount": kw.get("min_amount") or 0.0,
        "stream": kw.get("stream"),
    }


def _run_follow(direction: str, addresses: tuple[str, ...], kw: dict[str, Any]) -> None:
    from tracer.follow import follow
    from tracer.render import follow_table, write_follow, write_ledger

    addrs = list(addresses)
    if kw.get("sources_file"):
        addrs += read_address_list(kw["sources_file"])
    if not addrs:
        raise UsageError("give an ADDRESS or --sources FILE")
    ws = _workspace(kw)
    entity_of = None
    if kw.get("use_entities"):
        from tracer.cluster import entity_labels

        entity_of, _ = entity_labels(ws)
    result = follow(
        ws, addrs, model=kw["model"], **_selection(kw), top_paths=kw.get("top_paths", 3),
        ledger=bool(kw.get("ledger_file")), direction=direction, entities=entity_of,
        by_source=True if kw.get("by_source") else None, quiet=bool(kw.get("quiet")),
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
def follow(addresses: tuple[str, ...], **kw: Any) -> None:
    """Follow the money out of ADDRESS(es): services reached, paths, what is still held.

    \b
    Example:
      tracer follow TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx --model fifo \\
        --data fixtures/sample_case/trongrid_scam_wallet.json \\
        --data fixtures/sample_case/trongrid_downstream.json \\
        --labels fixtures/sample_case/labels.csv --format json
    """
    _run_follow("forward", addresses, kw)


@cli.command()
@follow_options
def source(addresses: tuple[str, ...], **kw: Any) -> None:
    """Trace backwards: where did the money that reached ADDRESS(es) come from?

    \b
    Example:
      tracer source TTqBGPuxz5Q4rXb3UpaGaDi6QbtDRbKTYk \\
        --data fixtures/sample_case/trongrid_downstream.json \\
        --labels fixtures/sample_case/labels.csv
    """
    _run_follow("backward", addresses, kw)


@cli.command("ingest-rpc")
@click.option("--url", required=True, help="JSON-RPC endpoint (http://... or https://...).")
@click.option(
    "--token", "tokens", multiple=True, help="ERC-20 contract address (repeat for several)."
)
@click.option("--from-block", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--to-block", default="latest", show_default=True, help="Block number or latest.")
@click.option(
    "--chain",
    default="ethereum",
    show_default=True,
    help="Chain the node serves (tron: addresses converted to base58).",
)
@click.option("--symbol", default=None, help="Override the token symbol (non-standard tokens).")
@click.option(
    "--decimals",
    type=click.IntRange(0, 77),
    default=None,
    help="Override the token decimals (non-standard tokens).",
)
@click.option(
    "--native",
    is_flag=True,
    help="Also ingest native-coin transfers from the blocks (for the gas-funder rule).",
)
@click.option(
    "--follow-head",
    "margin",
    type=click.IntRange(min=0),
    default=None,
    help="Keep syncing, staying N blocks behind the head (reorg margin); Ctrl-C stops.",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0),
    default=15.0,
    show_default=True,
    help="Seconds between polls with --follow-head.",
)
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=2_000,
    show_default=True,
    help="First block-range size; it shrinks on provider limits and grows when sparse.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="Retries (exponential backoff) on connection errors and timeouts.",
)
@workspace_option
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary on stderr.")
@click.option("--init", is_flag=True,
              help="Make the workspace folder a workspace even if it already holds other files "
                   "(tracer adds its own beside them and never deletes them).")  # fmt: skip
def ingest_rpc(tokens: tuple[str, ...], **kw: Any) -> None:
    """Fetch ERC-20 Transfer logs (and native transfers) from a node into the workspace.

    A checkpoint per (chain, token) records the last block ingested: run the same command
    again after a crash or Ctrl-C and it continues there, with no gaps or duplicates.

    \b
    Example:
      tracer ingest-rpc --url http://127.0.0.1:8545 \\
        --token 0xdAC17F958D2ee523a2206206994597C13D831ec7 --from-block 19000000 --to-block 19001000
    """
    from tracer.addresses import normalize_chain, normalize_evm
    from tracer.rpc import (
        ChunkPolicy,
        follow_head,
        native_calls,
        reachable,
        token_metadata,
        web3_calls,
    )  # fmt: skip
    from tracer.workspace import Workspace

    url, quiet = kw["url"], kw.get("quiet", False)
    if not tokens and not kw["native"]:
        raise UsageError("give at least one --token, or --native")
    chain = normalize_chain(kw["chain"])
    policy = ChunkPolicy(initial=kw["chunk"], retries=kw["retries"])
    w3, get_logs, block_ts, head = web3_calls(url)
    latest = reachable(url, head, policy)
    to_text = str(kw["to_block"]).strip().lower()
    if to_text == "latest":
        end = latest
    elif to_text.isdigit():
        end = int(to_text)
    else:
        raise UsageError(f"--to-block: a block number or latest, not {kw['to_block']!r}")
    ws = Workspace.open(kw.get("workspace"), create=True, init=kw.get("init", False))
    plan = []
    for raw in tokens:
        try:
            token = normalize_evm(raw)
        except ValueError as exc:
            raise UsageError(f"--token: {exc}") from None
        symbol, decimals = token_metadata(w3, token)
        symbol = kw.get("symbol") or symbol
        decimals = kw["decimals"] if kw.get("decimals") is not None else decimals
        if symbol is None or decimals is None:
            raise UsageError(f"{token}: the contract has no symbol()/decimals(); pass --symbol "
                             "and --decimals")  # fmt: skip
        plan.append((token, symbol, decimals))
    calls = {"get_logs": get_logs, "block_ts": block_ts,
             "native": native_calls(w3) if kw["native"] else None}  # fmt: skip

    def one_round(last: int) -> None:
        _rpc_round(ws, chain, plan, calls, kw["from_block"], last, policy, quiet)

    try:
        if kw["margin"] is None:
            one_round(end)
        else:
            follow_head(one_round, head, kw["margin"], interval=kw["poll"])
    except KeyboardInterrupt:
        _err().print("stopped; run the same command again to resume after the last checkpoint")
        raise SystemExit(130) from None


def _rpc_round(ws: Any, chain: str, plan: list[tuple[str, str, int]], calls: dict[str, Any],
               start: int, end: int, policy: Any, quiet: bool) -> None:  # fmt: skip
    """Sync every token (and native transfers) over ``start..end``, with progress."""
    from tracer.progress import counter
    from tracer.rpc import sync_native, sync_token

    total = max(0, end - start + 1)
    results = []
    for token, symbol, decimals in plan:
        with counter(total, f"{symbol} blocks", quiet) as advance:
            seen = {"logs": 0, "t0": time.perf_counter()}

            def step(blocks: int, logs: int, advance: Any = advance, seen: Any = seen,
                     symbol: str = symbol) -> None:  # fmt: skip
                seen["logs"] += logs
                rate = seen["logs"] / max(time.perf_counter() - seen["t0"], 1e-9)
                advance(blocks, f"{symbol} blocks ({seen['logs']:,} logs, {rate:,.0f} logs/s)")

            results.append((symbol, sync_token(
                ws, get_logs=calls["get_logs"], block_ts=calls["block_ts"], token=token,
                chain=chain, symbol=symbol, decimals=decimals, start=start, end=end,
                policy=policy, on_chunk=step,
            )))  # fmt: skip
    if calls["native"] is not None:
        get_block, get_receipts = calls["native"]
        with counter(total, "native blocks", quiet) as advance:
            results.append(("native", sync_native(
                ws, get_block=get_block, get_receipts=get_receipts, chain=chain, start=start,
                end=end, on_block=advance,
            )))  # fmt: skip
    if quiet:
        return
    for name, s in results:
        rate = s.logs / s.seconds if s.seconds > 0 else 0.0
        resumed = f" (resumed at block {s.resumed_from:,})" if s.resumed_from else ""
        _err().print(
            f"{name} {s.token}: blocks {s.start:,}–{s.end:,}{resumed}: {s.logs:,} records in "
            f"{s.chunks:,} requests ({rate:,.0f}/s), loaded {s.loaded:,}, duplicate "
            f"{s.duplicate:,}"
        )


# the batch and entity commands live in their own module (registered on import)
from tracer import cli_conversions, cli_reports  # noqa: E402, F401


def main() -> None:
    """Console entry point."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "tracer-numba"))
    cli(prog_name="tracer")


if __name__ == "__main__":  # python -m tracer.cli: run the package's copy (commands from
    from tracer.cli import main as package_main  # cli_reports register on that one)

    package_main()
