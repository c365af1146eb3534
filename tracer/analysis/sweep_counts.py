"""What a follow sweep saw, counted on the way: the sweep (:mod:`tracer.analysis.follow`) fills
it and the diagnostics (:mod:`tracer.analysis.diagnostics`) read it, so it sits below both."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SweepCounts:
    """What a sweep saw, counted on the way (O(1) per chunk): enough to say why a trace is
    empty (no selected transfers, no outflows of the sources, none inside the window)."""

    selected: int = 0  # transfers of the selected assets with known decimals
    excluded_unknown: int = 0  # selected-asset transfers left out for unknown decimals
    source_edges: int = 0  # the sources' outflows (backward: inflows) in the selection, any time
    seeds: int = 0  # of those, inside the window: the traced transfers
    first_ts: int = -1  # time range of ``source_edges`` (µs; -1: none)
    last_ts: int = -1

    def merge(self, other: SweepCounts) -> None:
        """Add another asset group's counts (counts of transfers: addable)."""
        self.selected += other.selected
        self.excluded_unknown += other.excluded_unknown
        self.source_edges += other.source_edges
        self.seeds += other.seeds
        if other.first_ts >= 0:
            lo = other.first_ts
            self.first_ts = lo if self.first_ts < 0 else min(self.first_ts, lo)
            self.last_ts = max(self.last_ts, other.last_ts)

    def add(self, ts: np.ndarray, from_source: np.ndarray) -> None:
        self.selected += int(ts.shape[0])
        hit = ts[from_source]
        if hit.size:
            self.source_edges += int(hit.size)
            lo, hi = int(hit.min()), int(hit.max())
            self.first_ts = lo if self.first_ts < 0 else min(self.first_ts, lo)
            self.last_ts = max(self.last_ts, hi)
