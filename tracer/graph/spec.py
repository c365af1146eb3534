"""The one :class:`Selection`: what a trace or an exposure report is about.

Shared by ``follow``, ``source``, ``exposure`` and the command line's shared options
(:data:`tracer.cli.options.selection_options`, which build it). Standard library only, so the
command line can build one without loading numpy, polars or the kernels; turning it into kernel
inputs is :mod:`tracer.graph.selection`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

DEFAULT_THROUGH = ("otc_desk", "swap", "bridge")


@dataclass(frozen=True)
class Selection:
    """What is traced, the same for ``follow``, ``source`` and ``exposure`` (and the CLI's
    shared options, :data:`tracer.cli.options.selection_options`, which build it).

    Frozen and hashable: a request holding it is shipped to Ray workers and used as a cache key.
    The direction is not here: follow goes forward/backward from its sources, exposure reports
    ``in``/``out`` per address, two different questions.
    """

    #: ``stablecoins`` (None, the default), ``all``, or symbols/contracts (``USDT,USDC``).
    assets: str | None = None
    #: Only traced flows at or after / at or before these times (UTC).
    since: datetime | None = None
    until: datetime | None = None
    #: Label categories that pass taint on instead of absorbing it.
    through: tuple[str, ...] = DEFAULT_THROUGH
    #: Taint stops after this many hops (None: no limit).
    max_hops: int | None = None
    #: Dust threshold in token units: smaller taint is not followed.
    min_amount: float = 0.0
    #: Read edges chunk by chunk from the partitions (None: when there is no graph cache).
    #: How, not what: results are the same either way.
    stream: bool | None = None

    def window_us(self) -> tuple[int | None, int | None]:
        """``(since, until)`` in UTC microseconds, the unit of the ``ts`` column."""
        return to_us(self.since), to_us(self.until)

    def as_json(self) -> dict[str, Any]:
        """The selection as the JSON outputs record it (times in ISO 8601, lists for tuples)."""
        return {
            "assets": self.assets,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "through": list(self.through),
            "max_hops": self.max_hops,
            "min_amount": self.min_amount,
            "stream": self.stream,
        }


def to_us(when: datetime | None) -> int | None:
    """A time as UTC microseconds (None stays None: no bound)."""
    if when is None:
        return None
    return int(when.timestamp() * 1_000_000)
