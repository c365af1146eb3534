"""A follow's address rows (reached, through, held, frontier) built column by column.

A case follow shows a few rows per frame (two services reached, a dozen holders). Built as
polars frames step by step — the address rows, five ``with_columns`` series, a label join, a
sort, the display form — each step costs 25-200 µs whatever the row count, about 2.5 ms per
question on 10M transfers, more than the local engine itself. Here each frame is one
constructor call from columns computed in numpy and plain Python (the order, the labels by a
binary search into the sorted label ids, the first arrival as integer microseconds), with the
same rows, columns, dtypes and values as the step-by-step form (:func:`polars_rows`, kept as
the reference the tests compare with and as the path for a label frame with repeated ids).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from tracer.analysis.follow_rows import shown_addresses

#: below this many microseconds ``datetime.fromtimestamp(v / 1e6)`` is exact (the double's
#: rounding error stays under half a microsecond up to 2**33 s, the year 2242)
_EXACT_US = 2**33 * 1_000_000
_DT = pl.Datetime("us", "UTC")

#: ``(chains, addresses)`` of some ids, in their order
Texts = Callable[[np.ndarray], tuple[list[str], list[str]]]


def _datetime_us(v: int) -> datetime | None:
    return None if v < 0 else datetime.fromtimestamp(v / 1_000_000, tz=UTC)


def first_ts_series(us: np.ndarray) -> pl.Series:
    """``first_ts`` (UTC, µs; null where the figure is -1) as the per-value
    ``datetime.fromtimestamp(v / 1e6)`` gives it, without building Python datetimes."""
    us = np.asarray(us, dtype=np.int64)
    if us.size and int(us.max()) >= _EXACT_US:  # not a chain time: as the datetimes give it
        return pl.Series("first_ts", [_datetime_us(int(v)) for v in us], _DT)
    neg = us < 0
    s = pl.Series("first_ts", np.where(neg, 0, us), pl.Int64).cast(_DT)
    return s.scatter(np.flatnonzero(neg), None) if neg.any() else s


@dataclass(frozen=True)
class LabelLookup:
    """The label frame's columns by sorted id (each id once), for a binary search."""

    ids: np.ndarray  # int64, sorted
    columns: dict[str, list[Any]]  # name, category, label_inferred in ``ids`` order
    dtypes: dict[str, pl.DataType]

    def take(self, ids: np.ndarray) -> dict[str, list[Any]]:
        """Each label column at ``ids`` (None where an id has no label)."""
        if self.ids.size == 0 or ids.size == 0:
            return {c: [None] * ids.size for c in self.columns}
        pos = np.minimum(np.searchsorted(self.ids, ids), self.ids.size - 1)
        hit = (self.ids[pos] == ids).tolist()
        return {c: [v[p] if h else None for p, h in zip(pos.tolist(), hit, strict=True)]
                for c, v in self.columns.items()}  # fmt: skip


LAB_COLUMNS = ("name", "category", "label_inferred")
_LOOKUPS: dict[int, tuple[weakref.ref[pl.DataFrame], LabelLookup | None]] = {}


def label_lookup(lab: pl.DataFrame) -> LabelLookup | None:
    """:class:`LabelLookup` of ``lab`` (``id, name, category, label_inferred``), kept while the
    frame lives (one per session's label frame); None when an id repeats or the columns are
    not those (the caller then joins as polars would)."""
    hit = _LOOKUPS.get(id(lab))
    if hit is not None and hit[0]() is lab:
        return hit[1]
    look: LabelLookup | None = None
    if lab.columns == ["id", *LAB_COLUMNS] and lab.schema["id"] == pl.Int32:
        ids = lab["id"].to_numpy().astype(np.int64)
        order = np.argsort(ids, kind="stable")
        if ids.size == np.unique(ids).size:
            sorted_lab = lab[order.tolist()] if ids.size else lab
            look = LabelLookup(ids[order], {c: sorted_lab[c].to_list() for c in LAB_COLUMNS},
                               {c: lab.schema[c] for c in LAB_COLUMNS})  # fmt: skip
    for k in [k for k, (r, _) in _LOOKUPS.items() if r() is None]:
        del _LOOKUPS[k]
    _LOOKUPS[id(lab)] = (weakref.ref(lab), look)
    return look


@dataclass
class RowKit:
    """What every frame of one asset group's rows takes: the per-address figures and where the
    texts and labels come from."""

    asset: str
    hops: np.ndarray  # per address (the sweep's state)
    first_ts: np.ndarray
    sizes: np.ndarray
    lab: pl.DataFrame
    texts: Texts

    def __post_init__(self) -> None:
        self.lookup = label_lookup(self.lab)


def ordered(ids: np.ndarray, amounts: np.ndarray,
            texts: tuple[list[str], list[str]]) -> np.ndarray:  # fmt: skip
    """The positions of ``ids`` by :func:`~tracer.analysis.follow_rows.by_amount`: largest
    amount first, ties by chain and address (Python compares str by code point, polars by
    UTF-8 byte: the same order). Amounts are positive here (no NaN)."""
    chains, addrs = texts
    amt = amounts.tolist()
    return np.array(sorted(range(len(amt)), key=lambda i: (-amt[i], chains[i], addrs[i])),
                    dtype=np.int64)  # fmt: skip


Paths = Callable[[list[int]], dict[int, list[dict[str, Any]]]]


@dataclass
class FrameSpec:
    """One frame :func:`address_frames` builds: ``ids`` with ``amounts``; ``head``: keep the
    first rows; ``share_of``: a ``share`` column (amount / it; 0 when it is not positive);
    ``paths(ids in row order)``: a ``paths`` column (each id's list, ``[]`` when absent);
    ``fill_inferred``: ``label_inferred`` False where null; ``drop_id``: no ``id`` column;
    ``hops``/``first_ts``: each id's, when they are not to be read from the kit's per-address
    arrays (a local run's state, reset as its rows were picked)."""

    ids: np.ndarray
    amounts: np.ndarray
    head: int | None = None
    share_of: float | None = None
    paths: Paths | None = None
    fill_inferred: bool = False
    drop_id: bool = False
    hops: np.ndarray | None = None
    first_ts: np.ndarray | None = None

    def figures(self, kit: RowKit) -> tuple[np.ndarray, np.ndarray]:
        """Each id's hops and first arrival: the spec's own, else the kit's arrays at them."""
        ids = np.asarray(self.ids, dtype=np.int64)
        hops = kit.hops[ids] if self.hops is None else self.hops
        return hops, kit.first_ts[ids] if self.first_ts is None else self.first_ts


def address_frame(kit: RowKit, ids: np.ndarray, amounts: np.ndarray, **spec: Any) -> pl.DataFrame:
    """One frame (:func:`address_frames` with one :class:`FrameSpec`)."""
    return address_frames(kit, [FrameSpec(ids, amounts, **spec)])[0]


def address_frames(kit: RowKit, specs: list[FrameSpec]) -> list[pl.DataFrame]:
    """``id, chain, address, asset, amount, min_hops, first_ts, entity_size`` and the labels
    of each spec's ``ids`` (with its ``amounts``), largest first, addresses in display form:
    what ``address_rows(...).with_columns(...)`` then ``.join(lab, how="left")``,
    :func:`~tracer.analysis.follow_rows.by_amount`, ``head`` and
    :func:`~tracer.analysis.follow_rows.display_rows` give (:func:`polars_rows`). The frames'
    common columns are built as one frame and sliced (one constructor, not one per frame);
    every column is made from an array or list already of its dtype (no cast, no
    ``with_columns``: each polars step costs 10-50 µs whatever the rows, the whole of a case
    follow's few rows)."""
    if kit.lookup is None:
        return [polars_rows(kit, sp.ids, sp.amounts, head=sp.head, share_of=sp.share_of,
                            paths=sp.paths, fill_inferred=sp.fill_inferred, drop_id=sp.drop_id,
                            figures=sp.figures(kit))
                for sp in specs]  # fmt: skip
    every = [np.asarray(sp.ids, dtype=np.int64) for sp in specs]
    chains_all, addrs_all = kit.texts(np.concatenate(every) if every else np.zeros(0, np.int64))
    order_all: list[np.ndarray] = []
    chains: list[str] = []
    addrs: list[str] = []
    sizes: list[int] = []
    at = 0
    for sp, ids in zip(specs, every, strict=True):
        c, a = chains_all[at : at + ids.size], addrs_all[at : at + ids.size]
        order = ordered(ids, np.asarray(sp.amounts, dtype=np.float64), (c, a))
        if sp.head is not None:
            order = order[: sp.head]
        pos = order.tolist()
        chains += [c[i] for i in pos]
        addrs += [a[i] for i in pos]
        order_all.append(order + at)
        sizes.append(len(pos))
        at += ids.size
    take = np.concatenate(order_all) if order_all else np.zeros(0, np.int64)
    ids = (np.concatenate(every) if every else np.zeros(0, np.int64))[take]
    amounts = (np.concatenate([np.asarray(sp.amounts, dtype=np.float64) for sp in specs])
               if specs else np.zeros(0))[take]  # fmt: skip
    figures = [sp.figures(kit) for sp in specs]
    hops = (np.concatenate([h.astype(np.int32, copy=False) for h, _ in figures])
            if specs else np.zeros(0, np.int32))[take]  # fmt: skip
    first = (np.concatenate([f.astype(np.int64, copy=False) for _, f in figures])
             if specs else np.zeros(0, np.int64))[take]  # fmt: skip
    labels = kit.lookup.take(ids)
    inferred = labels["label_inferred"]
    at = 0
    for sp, n in zip(specs, sizes, strict=True):
        if sp.fill_inferred:
            inferred[at : at + n] = [v is not None and bool(v) for v in inferred[at : at + n]]
        at += n
    base = pl.DataFrame([
        pl.Series("id", ids.astype(np.int32)),
        pl.Series("chain", chains, pl.String),
        pl.Series("address", shown_addresses(chains, addrs), pl.String),
        pl.Series("asset", [kit.asset] * ids.size, pl.String),
        pl.Series("amount", amounts),
        pl.Series("min_hops", hops),
        first_ts_series(first),
        pl.Series("entity_size", kit.sizes[ids].astype(np.int64, copy=False)),
        *(pl.Series(c, labels[c], kit.lookup.dtypes[c]) for c in LAB_COLUMNS),
    ])  # fmt: skip
    out = []
    at = 0
    for sp, n in zip(specs, sizes, strict=True):
        frame = base.slice(at, n)
        extra = []
        if sp.share_of is not None:
            extra.append(pl.Series("share", share_column(amounts[at : at + n], sp.share_of)))
        if sp.paths is not None:
            row_ids = ids[at : at + n].tolist()
            got = sp.paths(row_ids)
            extra.append(pl.Series("paths", [got.get(i, []) for i in row_ids], dtype=pl.Object))
        at += n
        if sp.drop_id:
            frame.drop_in_place("id")  # a slice of its own: the base keeps its column
        out.append(frame.hstack(extra) if extra else frame)
    return out


def _share_rule() -> tuple[bool, bool]:
    """How polars evaluates ``pl.col("amount") / x`` here (probed once, on values where the
    quotient and the product by the reciprocal differ in the last bit): whether a one-row
    column and a longer one are divided exactly (else multiplied by ``1 / x``)."""
    probe, x = np.array([1e-9, 1e-9]), 10.0
    assert probe[0] / x != probe[0] * (1.0 / x)
    rows = [pl.DataFrame({"a": probe[:n]}).select(pl.col("a") / x)["a"].to_numpy()
            for n in (1, 2)]  # fmt: skip
    return bool(rows[0][0] == probe[0] / x), bool(rows[1][1] == probe[1] / x)


_SHARE: list[tuple[bool, bool]] = []


def share_column(amounts: np.ndarray, share_of: float) -> np.ndarray:
    """``amount / share_of`` (0 when ``share_of`` is not positive) as the polars expression
    gives it bit for bit (:func:`_share_rule`), in numpy (``with_columns`` costs ~40 µs)."""
    if not share_of > 0:
        return np.zeros(amounts.shape[0], dtype=np.float64)
    if not _SHARE:
        _SHARE.append(_share_rule())
    one, many = _SHARE[0]
    exact = one if amounts.shape[0] == 1 else many
    return amounts / share_of if exact else amounts * (1.0 / share_of)


def polars_rows(
    kit: RowKit,
    ids: np.ndarray,
    amounts: np.ndarray,
    *,
    head: int | None = None,
    share_of: float | None = None,
    paths: Callable[[list[int]], dict[int, list[dict[str, Any]]]] | None = None,
    fill_inferred: bool = False,
    drop_id: bool = False,
    figures: tuple[np.ndarray, np.ndarray] | None = None,
) -> pl.DataFrame:
    """:func:`address_frame` step by step in polars (the form it replaces); ``figures``: the
    ids' hops and first arrivals (else the kit's arrays at them)."""
    from tracer.analysis.follow_rows import by_amount, display_rows

    ids = np.asarray(ids, dtype=np.int32)
    hops, first = (kit.hops[ids], kit.first_ts[ids]) if figures is None else figures
    chains, addrs = kit.texts(ids)
    base = pl.DataFrame({"id": pl.Series(ids, dtype=pl.Int32),
                         "chain": pl.Series(chains, dtype=pl.String),
                         "address": pl.Series(addrs, dtype=pl.String)})  # fmt: skip
    frame = base.with_columns(
        pl.lit(kit.asset, pl.String).alias("asset"),
        pl.Series("amount", amounts, pl.Float64),
        pl.Series("min_hops", hops, pl.Int32),
        pl.Series("first_ts", [_datetime_us(int(v)) for v in first], _DT),
        pl.Series("entity_size", kit.sizes[ids], pl.Int64),
    )
    if head is not None:
        frame = by_amount(frame).head(head).join(kit.lab, on="id", how="left")
    else:
        frame = frame.join(kit.lab, on="id", how="left")
        if share_of is not None:
            frame = frame.with_columns(
                (pl.col("amount") / share_of if share_of > 0 else pl.lit(0.0)).alias("share"))
        frame = by_amount(frame)
    if paths is not None:
        got = paths(frame["id"].to_list())
        frame = frame.with_columns(pl.Series("paths", [got.get(i, []) for i in
                                                       frame["id"].to_list()], dtype=pl.Object))
    frame = display_rows(frame)
    if fill_inferred:
        frame = frame.with_columns(pl.col("label_inferred").fill_null(False))
    return frame.drop("id") if drop_id else frame
