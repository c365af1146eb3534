"""Options shared by several commands, each family read back as one typed value.

A command does not take the seven selection options one by one (they were written three times):
:func:`selection_options` adds them and hands the command one
:class:`~tracer.graph.selection.Selection`, built here, once. :func:`bundle` is the mechanism:
a family of Click options whose values are collected into one object by a builder function, so
command signatures stay short and typed (no ``**kw``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from tracer.core.errors import UsageError
from tracer.graph.spec import DEFAULT_THROUGH, Selection

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def bundle(name: str, options: list[Decorator], build: Callable[..., Any]) -> Decorator:
    """A decorator adding ``options`` to a command that receives ``name=build(**their values)``.

    ``build`` takes the options' parameter names as keywords; it runs when the command is
    invoked, so its errors (a :class:`~tracer.core.errors.TracerError`) reach the group's
    handler like any other (exit 2, one line).
    """

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def command(*args: Any, **kwargs: Any) -> Any:
            mine = {n: kwargs.pop(n) for n in names}
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

    from tracer.sources.base import timestamp_us

    us = pl.select(timestamp_us(pl.lit(text))).item()
    if us is None:
        raise UsageError(f"{flag}: cannot read {text!r} as a date/time (e.g. 2024-03-01 or "
                         "2024-03-01T12:00:00Z)")  # fmt: skip
    if len(text.strip()) == 10 and flag == "--until":
        us += 86_400_000_000 - 1  # a bare date as --until means the end of that day
    return datetime.fromtimestamp(us / 1e6, tz=UTC)


def _selection(
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
], _selection)  # fmt: skip
