"""The ``tracer`` command line: parse options, call one library function, render.

Errors a user can fix arrive as :class:`tracer.core.errors.TracerError` and are turned into a
one-line message and an exit code here, in one place; nothing else in the package prints or exits.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from polars.exceptions import PanicException
from rich.console import Console

from tracer.cli.options import csv_list as _csv_list  # noqa: F401  (used by command modules)
from tracer.cli.options import selection_options  # noqa: F401
from tracer.core.errors import TracerError
from tracer.core.version import __version__
from tracer.sources.labels import CategoryNeeded, LabelLoad, read_labels

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
    from tracer.core.tokens import load_tokens
    from tracer.sources import ReadOptions
    from tracer.sources.blocks import read_blocks
    from tracer.sources.generic import parse_map

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
    from tracer.output.render import write_frame

    if summary.rejects.height == 0:
        return
    write_frame(summary.rejects, "parquet", path)
    if not quiet:
        _err().print(f"{summary.rejects.height:,} rejected rows written to {path}")


def _workspace(kw: dict[str, Any]) -> Any:
    """The workspace to analyse: in memory from --data, else the on-disk one."""
    from tracer.store.workspace import Workspace

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


def main() -> None:
    """Console entry point."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "tracer-numba"))
    cli(prog_name="tracer")
