"""Progress on a terminal, silence when piped or ``--quiet`` (rich, on stderr)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")


def enabled(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


@contextlib.contextmanager
def counter(total: int, description: str, quiet: bool) -> Iterator[Callable[..., None]]:
    """A bar advanced by hand (``advance(n)``, e.g. edges swept, or ``advance(n, text)`` to
    also change the label, e.g. a rate); a no-op when not shown."""
    if not enabled(quiet):
        yield lambda n, text=None: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n, text=None: bar.update(task, advance=n, description=text or description)


def track(items: Iterable[T], *, total: int, description: str, quiet: bool) -> Iterator[T]:
    """Yield ``items``, drawing a bar on stderr only when it is a terminal and not quiet."""
    with counter(total, description, quiet) as advance:
        for item in items:
            yield item
            advance(1)
