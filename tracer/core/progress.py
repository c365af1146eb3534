"""How a long use case reports progress without drawing anything itself.

A use case (follow, exposure, synth) takes a :class:`Progress` factory and opens one bar per
phase: ``with progress("sweep", total) as advance: advance(n)``. The command line passes one that
draws on a terminal (:mod:`tracer.cli.progress`); a Python caller passes nothing and gets
:func:`no_progress`. So the library never imports a terminal toolkit, and "quiet when piped" is
decided in one place, by the caller that owns the terminal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Protocol


class Advance(Protocol):
    """Moves a bar on by ``n`` units (edges swept, rows written); ``text`` relabels it (e.g.
    with a rate)."""

    def __call__(self, n: int, text: str | None = None, /) -> None: ...


class Progress(Protocol):
    """Opens a bar of ``total`` units called ``label`` for the length of a ``with`` block."""

    def __call__(self, label: str, total: int, /) -> AbstractContextManager[Advance]: ...


def _ignore(n: int, text: str | None = None, /) -> None:
    """The :class:`Advance` of a bar nobody sees."""


@contextlib.contextmanager
def no_progress(label: str, total: int, /) -> Iterator[Advance]:
    """The default :class:`Progress`: nothing is shown (library callers, tests, pipes)."""
    yield _ignore
