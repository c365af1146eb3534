"""Options shared by several commands, each family read back as one typed value.

A command does not take the seven selection options one by one (they were written three times):
:func:`selection_options` adds them and hands the command one
:class:`~tracer.graph.selection.Selection`, built here, once. :func:`bundle` is the mechanism:
a family of Click options whose values are collected into one object by a builder function, so
command signatures stay short and typed (no ``**kw``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from tracer.core.errors import UsageError
from tracer.graph.spec import DEFAULT_THROUGH, Selection

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def bundle(
    name: str, options: list[Decorator], build: Callable[..., Any], takes: tuple[str, ...] = ()
) -> Decorator:
    """A decorator adding ``options`` to a command that receives ``name=build(**their values)``.

    ``build`` takes the options' parameter names as keywords (and ``takes``: values that outer
    decorators add, e.g. another bundle's result); it runs when the command is invoked, so its
    errors (a :class:`~tracer.core.errors.TracerError`) reach the group's handler like any other
    (exit 2, one line).
    """

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def command(*args: Any, **kwargs: Any) -> Any:
            mine = {n: kwargs.pop(n) for n in (*names, *takes)}
            return f(*args, **kwargs, **{name: build(**mine)})

        before = list(getattr(f, "__click_params__", []))
        command.__click_params__ = list(before)  # type: ignore[attr-defined]
        for o in reversed(options):
            o(command)
        names = [p.name for p in command.__click_params__[len(before):]]  # type: ignore[attr-defined]
        return command

    return decorate


def csv_list(text: str | None) -> tuple[str, ...]:
    """``"a, b,,c"`` → ``("a", "b", "c")``."""
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


def parse_through(text: str | None) -> tuple[str, ...]:
    """``--through``: categories that pass taint on; ``none`` for none."""
    return () if (text or "").strip().lower() == "none" else csv_list(text)


def parse_when(text: str | None, flag: str) -> datetime | None:
    """``--since``/``--until`` as a UTC time; a bare date as ``--until`` is the end of its day."""
    if text is None:
        return None
    import polars as pl

    from tracer.sources.timestamps import timestamp_us

    bare_date = re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()) is not None
    # a bare date is its midnight (the export timestamp parser wants a time of day)
    us = pl.select(timestamp_us(pl.lit(f"{text.strip()} 00:00:00" if bare_date else text))).item()
    if us is None:
        raise UsageError(f"{flag}: cannot read {text!r} as a date/time (e.g. 2024-03-01 or "
                         "2024-03-01T12:00:00Z)")  # fmt: skip
    if bare_date and flag == "--until":
        us += 86_400_000_000 - 1  # a bare date as --until means the end of that day
    return datetime.fromtimestamp(us / 1e6, tz=UTC)


def build_selection(
    asset: str | None,
    since: str | None,
    until: str | None,
    through: str | None,
    max_hops: int | None,
    min_amount: float | None,
    stream: bool | None,
) -> Selection:
    """The :func:`selection_options` values parsed into a :class:`Selection`."""
    return Selection(
        assets=asset,
        since=parse_when(since, "--since"),
        until=parse_when(until, "--until"),
        through=parse_through(through),
        max_hops=max_hops,
        min_amount=min_amount or 0.0,
        stream=stream,
    )


#: What is traced, shared by follow/source and exposure: the command receives ``selection``.
selection_options = bundle("selection", [
    click.option("--asset", default=None,
                 help="stablecoins (default), all, or symbols/contracts (USDT,USDC)."),
    click.option("--since", default=None, help="Only traced flows at or after this time (UTC)."),
    click.option("--until", default=None, help="Only traced flows at or before this time (UTC)."),
    click.option("--through", default=",".join(DEFAULT_THROUGH), show_default=True,
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
], build_selection)  # fmt: skip


def workspace_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--workspace/-w``: the command receives ``workspace: Path | None``."""
    return click.option(
        "--workspace", "-w", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Workspace folder (default: $TRACER_WORKSPACE or ./.tracer).",
    )(f)  # fmt: skip


def init_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--init``: the command receives ``init: bool``."""
    return click.option(
        "--init", is_flag=True,
        help="Make the workspace folder a workspace even if it already holds other files "
             "(tracer adds its own beside them and never deletes them).",
    )(f)  # fmt: skip


@dataclass(frozen=True)
class ReadChoice:
    """How to read export files (``ingest`` and ``--data``): :func:`read_options`."""

    fmt: str | None = None  # --input-format: forced instead of detected
    chain: str | None = None
    column_map: str | None = None  # --map, the generic CSV mapping as typed
    token_files: tuple[str, ...] = ()
    blocks_file: str | None = None
    skip_bad: bool = False
    rejects_file: str = "tracer-rejects.parquet"
    quiet: bool = False


#: How to read export files (ingest and --data): the command receives ``read: ReadChoice``.
read_options = bundle("read", [
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
], ReadChoice)  # fmt: skip


@dataclass(frozen=True)
class DataChoice:
    """Where the transfers and labels come from: a workspace, or ``--data`` files in memory
    (:func:`data_options`; opened by :func:`tracer.cli.data.open_data`)."""

    workspace: Path | None = None
    data_files: tuple[str, ...] = ()
    label_files: tuple[str, ...] = ()
    label_category: str | None = None
    read: ReadChoice = ReadChoice()

    @property
    def quiet(self) -> bool:
        return self.read.quiet


def _data_choice(
    workspace: Path | None,
    data_files: tuple[str, ...],
    label_files: tuple[str, ...],
    label_category: str | None,
    read: ReadChoice,
) -> DataChoice:
    return DataChoice(workspace, data_files, label_files, label_category, read)


_data_bundle = bundle("data", [
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
], _data_choice, takes=("workspace", "read"))  # fmt: skip


def data_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--data/--labels (analyse files directly, in memory, with no workspace), the read options
    and --workspace: the command receives ``data: DataChoice``."""
    return read_options(workspace_option(_data_bundle(f)))


@dataclass(frozen=True)
class OutputChoice:
    """``--format`` and ``-o`` (:func:`output_options`)."""

    out_format: str | None = None
    output: str | None = None

    def resolved(self) -> str:
        """The format to write: ``--format``, else the ``-o`` suffix, else table on a terminal
        and json when piped."""
        return out_format(self.out_format, self.output)


#: Formats a command's result can be printed or written as.
OUT_FORMATS = ("table", "json", "jsonl", "csv", "parquet")


def out_format(fmt: str | None, output: str | None) -> str:
    """See :meth:`OutputChoice.resolved`."""
    import sys

    if fmt:
        return fmt
    if output and output != "-":
        suffix = Path(output).suffix.lower().lstrip(".")
        if suffix in OUT_FORMATS:
            return suffix
        return "json"
    return "table" if sys.stdout.isatty() else "json"


#: ``--output/-o`` and ``--format``: the command receives ``out: OutputChoice``.
output_options = bundle("out", [
    click.option("--format", "out_format", type=click.Choice(OUT_FORMATS), default=None,
                 help="Output format (default: table on a terminal, json when piped or -o "
                      "FILE.json)."),
    click.option("--output", "-o", default=None, help="Output file (default: stdout)."),
], OutputChoice)  # fmt: skip
