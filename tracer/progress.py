"""Progress on a terminal, silence when piped or ``--quiet`` (rich, on stderr)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")


def enabled(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def track(items: Iterable[T], *, total: int, description: str, quiet: bool) -> Iterator[T]:
    """Yield ``items``, drawing a bar on stderr only when it is a terminal and not quiet."""
    if not enabled(quiet):
        yield from items
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
