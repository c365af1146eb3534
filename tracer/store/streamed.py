"""A big canonical Parquet streamed into an empty workspace: each month written once complete.

The general ingest (:class:`tracer.store.append.Spool`) holds every candidate row before the
first month is merged, because any later row may belong to any month. A canonical Parquet in
time order (what ``tracer export``, DuckDB or Polars write from a chain-ordered table) says in
its row-group statistics where each later row group starts in time: once the batches read
(:func:`tracer.sources.batched.parquet_batches`) pass the end of a month, that month is
complete and goes to the writer threads while the next batch is read and checked. Memory is a
batch and the months still open, not the file; reading overlaps with the partition writes.

Nothing is taken on trust: the statistics are a claim of the file's writer, so every batch is
checked against what the stream already decided (no row before the end of a month handed on,
one token on every row, as the first batch showed). A batch that breaks a claim raises
:class:`StreamDeclined`; :meth:`tracer.store.workspace.Workspace.ingest` then drops the
unfinished generation and ingests the file the general way. The result is the same either way:
months are de-duplicated, sorted, numbered and written by the same code in the same order
(:func:`tracer.store.append.append`), only fed earlier.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tracer.core.schema import TRANSFER_PL
from tracer.sources import Loaded, ReadOptions
from tracer.store.ingest_summary import FileSummary

#: Files of fewer rows are read whole (one batch: nothing to overlap).
STREAM_MIN_ROWS = 2_000_000
TOKEN_COLUMNS = ["chain", "token", "asset", "decimals"]


class StreamDeclined(Exception):
    """The file broke a claim of its statistics: ingest it the general way instead."""


def stream_plan(files: list[str | Path], fmt: str | None, stored: Any
                ) -> list[tuple[list[int], int, int | None]] | None:  # fmt: skip
    """The batches to stream (:func:`tracer.sources.batched.parquet_plan`) when the ingest is
    one big canonical Parquet into a workspace without rows; None: the general way."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tracer.core.errors import InputError, UnknownFormatError
    from tracer.sources import detect
    from tracer.sources.batched import parquet_plan
    from tracer.sources.sample import sample

    if len(files) != 1 or stored.by_month or stored.address_files():
        return None
    p = Path(files[0])
    if fmt not in (None, "parquet") or not p.is_file():
        return None
    try:
        s = sample(p)
        if s.kind != "parquet" or detect(s) != "parquet":
            return None
        plan = parquet_plan(p)
        rows = pq.ParquetFile(p).metadata.num_rows
    except (InputError, UnknownFormatError, OSError, pa.ArrowException):
        return None  # the general way reports what is wrong with the file
    if plan is None or len(plan) < 2 or rows < STREAM_MIN_ROWS:
        return None
    return plan


def _month_end_us(month: str) -> int:
    m = np.datetime64(month, "M") + np.timedelta64(1, "M")
    return int(m.astype("datetime64[us]").astype(np.int64))


class MonthStream:
    """The :class:`~tracer.store.append.Spool` interface over a streamed file: months handed
    on in order as they complete (:meth:`ordered`), the file's summary counted batch by batch.

    The first batch with rows is read on construction: its token is the stream's one token
    (the token dictionary is written before any month is numbered)."""

    def __init__(
        self,
        path: str | Path,
        plan: list[tuple[list[int], int, int | None]],
        summary: FileSummary,
        *,
        options: ReadOptions | None = None,
        skip_bad: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        from tracer.sources.batched import parquet_batches

        self.summary = summary
        self.rejects: list[pl.DataFrame] = []
        self.candidates = 0
        self._progress = progress
        self._batches = parquet_batches(path, plan, options=options, skip_bad=skip_bad)
        self._primed: list[tuple[Loaded, int | None]] = []
        self._first: pl.DataFrame | None = None
        for load, later in self._batches:
            self._primed.append((load, later))
            if load.transfers.height:
                self._first = load.transfers.head(1).select(TOKEN_COLUMNS)
                break
        #: Columns one non-null value on every row handed on (checked batch by batch).
        self.constant: dict[str, Any] = {}
        if self._first is not None:
            self.constant = {c: self._first[c][0] for c in TOKEN_COLUMNS}
            self.constant["_file"] = 0
        self._done_before: int | None = None  # µs: every month before this was handed on

    @property
    def months(self) -> set[str]:
        return set()

    def tokens(self) -> pl.DataFrame:
        if self._first is None:
            return pl.DataFrame(schema={c: TRANSFER_PL[c] for c in TOKEN_COLUMNS})
        return self._first

    def endpoints(self) -> pl.DataFrame:  # pragma: no cover (a stream never has stored ids)
        raise StreamDeclined("a stream goes into a workspace without addresses")

    def _check(self, rows: pl.DataFrame) -> None:
        """The claims a batch must keep (see the module docstring)."""
        from tracer.store.append import _constant

        assert self._first is not None
        for c in TOKEN_COLUMNS:
            if not _constant(rows[c]) or rows[c][0] != self.constant[c]:
                raise StreamDeclined(f"more than one token ({c})")
        if self._done_before is not None:
            first = int(rows["ts"].dt.epoch("us").min())  # type: ignore[arg-type]
            if first < self._done_before:
                raise StreamDeclined("a row before a month already written")

    def ordered(self, stored_months: Any) -> Iterator[tuple[str, pl.DataFrame | None]]:
        """``(month, candidate rows in arrival order)``, month by month in time order, each as
        soon as the statistics say no later row group reaches it (all at the end otherwise)."""
        from tracer.store.append import month_groups

        if stored_months:
            raise StreamDeclined("a stream goes into a workspace without rows")
        held: dict[str, list[pl.DataFrame]] = {}

        def loads() -> Iterator[tuple[Loaded, int | None]]:
            yield from self._primed
            self._primed = []
            yield from self._batches

        for load, later in loads():
            self.summary.tally(load)
            self.rejects.append(load.rejects)
            rows = load.transfers
            if self._progress is not None:
                self._progress(load.read)
            del load
            if rows.height:
                self._check(rows)
                self.candidates += rows.height
                rows = rows.with_columns(pl.lit(0, pl.Int32).alias("_file"))
                for month, part in month_groups(rows):
                    held.setdefault(month, []).append(part)
                del rows
            for month in sorted(held):
                end = _month_end_us(month)
                if later is not None and end > later:
                    break
                frames = held.pop(month)
                self._done_before = end
                yield month, frames[0] if len(frames) == 1 else pl.concat(frames)
        for month in sorted(held):
            frames = held.pop(month)
            self._done_before = _month_end_us(month)
            yield month, frames[0] if len(frames) == 1 else pl.concat(frames)

    def remove(self) -> None:
        """Nothing spooled to disk."""
