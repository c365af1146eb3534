"""Progress on a terminal, silence when piped or ``--quiet`` (rich, on stderr).

The drawing side of :class:`tracer.core.progress.Progress`: use cases open bars through the
factory the command passes them; only this module knows how a bar looks.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from tracer.core.progress import Advance, Progress, no_progress


def enabled(quiet: bool) -> bool:
    """Bars only on a terminal, and not under ``--quiet`` (piped output stays clean)."""
    return not quiet and sys.stderr.isatty()


@contextlib.contextmanager
def counter(total: int | None, description: str, quiet: bool) -> Iterator[Advance]:
    """A bar advanced by hand (``advance(n)``, e.g. edges swept, or ``advance(n, text)`` to
    also change the label, e.g. a rate); a no-op when not shown. ``total`` None: a count
    with no end (rows of a file being read)."""
    if not enabled(quiet):
        with no_progress(description, total or 0) as advance:
            yield advance
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as Bars

    with Bars(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int, text: str | None = None, /) -> None:
            bar.update(task, advance=n, description=text or description)

        yield advance


def terminal(quiet: bool) -> Progress:
    """The :class:`~tracer.core.progress.Progress` a command hands its use case."""

    def factory(label: str, total: int, /) -> contextlib.AbstractContextManager[Advance]:
        return counter(total, label, quiet)

    return factory
