"""Opening what a command analyses: a workspace on disk, or ``--data`` files read in memory.

The command line's side of :class:`~tracer.cli.options.DataChoice`: it reads label files, says on
stderr how files were read (warnings always, the summary on a terminal), and writes rejected rows
where ``--rejects`` says. Everything heavy is imported when a command runs, not at start-up.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from tracer.cli.app import err_console, may_be_terminal
from tracer.cli.options import DataChoice, ReadChoice

if TYPE_CHECKING:
    from tracer.sources import ReadOptions
    from tracer.sources.labels import LabelLoad
    from tracer.store.workspace import Workspace


def read_options(read: ReadChoice) -> ReadOptions:
    """The reader options ``--chain/--map/--tokens/--blocks`` ask for."""
    from tracer.core.tokens import load_tokens
    from tracer.sources import ReadOptions
    from tracer.sources.blocks import read_blocks
    from tracer.sources.generic import parse_map

    return ReadOptions(
        chain=read.chain,
        column_map=parse_map(read.column_map),
        tokens=load_tokens(read.token_files),
        blocks=read_blocks(read.blocks_file, chain=None) if read.blocks_file else None,
    )


def label_loads(
    files: tuple[str, ...],
    category: str | None,
    flag: str = "--label-category",
    name: str | None = None,
    quiet: bool = False,
) -> list[LabelLoad]:
    """Read label files; ``category`` fills in only files that carry none (said on stderr)."""
    from tracer.sources.labels import CategoryNeeded, read_labels

    loads = []
    for f in files:
        try:
            loads.append(read_labels(f, category=category, name=name))
        except CategoryNeeded as exc:
            raise exc.for_flag(flag) from None
        if category and loads[-1].own_categories and not quiet:
            err_console().print(f"{f}: keeps its own categories ({flag} {category} not applied)")
    return loads


def summary_line(summary: Any) -> str:
    """One line of what an ingest read: loaded, duplicate, rejected, skipped."""
    d = summary.as_dict()
    text = (
        f"read {d['read']:,} rows: loaded {d['loaded']:,}, duplicate {d['duplicate']:,}, "
        f"rejected {d['rejected']:,}, skipped {d['skipped']:,} (not transfers)"
    )
    if d["unknown_decimals"]:
        text += f"; {d['unknown_decimals']:,} loaded rows have unknown token decimals"
    return text


def print_file_messages(f: Any) -> None:
    """How a file was read (notes, dim) and what could mislead (warnings), under its line."""
    for note in f.notes:
        err_console().print(f"  [dim]{note}[/dim]", highlight=False)
    for warning in f.warnings:
        err_console().print(f"  [yellow]warning:[/yellow] {warning}", highlight=False)


def write_rejects(summary: Any, path: str, quiet: bool) -> None:
    """Rejected rows to ``--rejects`` (Parquet), said on stderr."""
    from tracer.output.render import write_frame

    if summary.rejects.height == 0:
        return
    write_frame(summary.rejects, "parquet", path)
    if not quiet:
        err_console().print(f"{summary.rejects.height:,} rejected rows written to {path}")


def open_data(data: DataChoice) -> Workspace:
    """The workspace to analyse: in memory from --data, else the on-disk one."""
    from tracer.store.workspace import Workspace

    loads = label_loads(data.label_files, data.label_category, quiet=data.quiet)
    if data.data_files:
        ws, summary = Workspace.in_memory(
            data.data_files, loads, options=read_options(data.read), fmt=data.read.fmt,
            skip_bad=data.read.skip_bad,
        )  # fmt: skip
        write_rejects(summary, data.read.rejects_file, data.quiet)
        if not data.quiet:
            for f in summary.files:
                if f.warnings:  # said when piped too: a figure may rest on them
                    err_console().print(f"{f.file}:", highlight=False)
                    print_file_messages(f)
            if may_be_terminal(sys.stderr) and (err := err_console()).is_terminal:
                err.print(f"[dim]{summary_line(summary)}[/dim]")
        return ws
    ws = Workspace.open(data.workspace)
    if loads:
        ws.add_labels_in_memory(loads)
    return ws
