"""``--by-source``: which source's money reached which service, in the same sweep.

A multi-source follow traces the sources together (their funds mix in shared wallets, and
tracing them one at a time would count a wallet's balance against each of them as if the others
were not there). To say how much of a service's amount came from each source, every source is
its own taint *colour* (:class:`kernels.taint.ColourState`, like the exposure kernel's category
vector): the sweep decides each transfer's tainted total exactly as without colours (the totals
are bit-identical), then splits it over the sender's colours in proportion to its tainted funds.
So the colours of a service sum to its amount (every model but poison, whose per-source figures
are overlapping upper bounds: each equals a poison trace of that source alone). Under haircut
each colour is exactly a separate trace of its source (haircut is linear); under taint-first
and clean-first the split of what leaves the tainted part is pro rata.

Memory: 8 bytes per (address, source) for the wallets' colour mix, so the number of sources
is bounded by :data:`MAX_COLOUR_BYTES`. Lot models (FIFO/LIFO) and TIHO would need a colour
per lot or per transaction group: refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from tracer.core.addresses import display
from tracer.core.errors import UsageError
from tracer.kernels.taint import SINK, SOURCE, TRACED, ColourState, SweepState

COLOUR_MODELS = ("haircut", "poison", "taint-first", "clean-first")
#: Largest colour state (addresses × sources × 8 bytes) a by-source follow may allocate.
MAX_COLOUR_BYTES = 2 << 30


@dataclass
class SourceColours:
    """Which node is which colour, and which nodes' receipts are kept by colour (the sinks)."""

    colour_of: np.ndarray  # int32 per node: colour of a source, -1 elsewhere
    row_of: np.ndarray  # int32 per node: row of a sink, -1 elsewhere
    rows: np.ndarray  # int32 node id per row
    sources: np.ndarray  # int32 node id per colour

    def state(self) -> ColourState:
        """Fresh colour state for one sweep (one per asset group)."""
        return ColourState(self.colour_of, self.sources.shape[0], self.row_of)


def check_by_source(model: str, n_sources: int, n_nodes: int) -> None:
    """Refuse what by-source cannot do, before any work."""
    if model not in COLOUR_MODELS:
        raise UsageError(
            f"--by-source works with {', '.join(COLOUR_MODELS)}; --model {model} keeps taint "
            "in lots or transaction groups, which would need a colour each"
        )
    need = n_nodes * max(n_sources, 1) * 8
    if need > MAX_COLOUR_BYTES:
        raise UsageError(
            f"--by-source with {n_sources:,} sources over {n_nodes:,} addresses needs "
            f"{need / 2**30:.1f} GiB of colour state (limit {MAX_COLOUR_BYTES / 2**30:.0f} GiB): "
            "split the sources into smaller groups"
        )


def source_colours(role: np.ndarray, src_ids: np.ndarray) -> SourceColours:
    """One colour per source node (in ``src_ids`` order); rows for every sink."""
    n = role.shape[0]
    colour_of = np.full(n, -1, dtype=np.int32)
    colour_of[src_ids] = np.arange(src_ids.shape[0], dtype=np.int32)
    sinks = np.flatnonzero(role == SINK).astype(np.int32)
    row_of = np.full(n, -1, dtype=np.int32)
    row_of[sinks] = np.arange(sinks.shape[0], dtype=np.int32)
    return SourceColours(colour_of, row_of, sinks, np.asarray(src_ids, dtype=np.int32))


def by_source_frame(
    res: SweepState,
    colours: SourceColours,
    role: np.ndarray,
    lab: pl.DataFrame,
    nodes: pl.DataFrame,
    src_ids: np.ndarray,
    asset: str,
    backward: bool,
) -> pl.DataFrame:
    """Source × service amounts of one asset group: ``source, name, category, asset, amount,
    share`` (share: of what that source traced in this asset), largest first per source."""
    col = res.colours
    assert col is not None and (role[colours.sources] == SOURCE).all()
    rr, cc = np.nonzero(col.cin > 0.0)
    traced = col.stats[:, TRACED]
    shown = [display(c, a) for c, a in
             nodes[src_ids.tolist()].select("chain", "address").iter_rows()]  # fmt: skip
    frame = pl.DataFrame(
        {
            "source": [shown[c] for c in cc.tolist()],
            "id": colours.rows[rr],
            "amount": col.cin[rr, cc],
            "traced": traced[cc],
        },
        schema={"source": pl.String, "id": pl.Int32, "amount": pl.Float64,
                "traced": pl.Float64},
    )  # fmt: skip
    return (
        frame.join(lab.select("id", "name", "category"), on="id", how="left")
        .group_by("source", "name", "category")
        .agg(pl.col("amount").sum(), pl.col("traced").first())
        .with_columns(
            pl.lit(asset, pl.String).alias("asset"),
            pl.when(pl.col("traced") > 0).then(pl.col("amount") / pl.col("traced")).alias("share"),
        )
        .with_columns(
            pl.col("source")
            .replace_strict({s: i for i, s in enumerate(shown)}, return_dtype=pl.Int32)
            .alias("_o")
        )
        .sort(["_o", "amount", "name"], descending=[False, True, False])
        .select("source", "name", "category", "asset", "amount", "share")
    )
