"""The exposure report's rows, built from the sweeps' per-row arrays with numpy and Arrow.

An ``--all`` report on a 10M-transfer workspace has millions of rows (one per address,
direction and category with exposure, plus one ``unattributed`` per address and direction), so
nothing here is O(rows) Python: rows are laid out in their final order by index arithmetic
(no sort of address strings), per-row columns are ``take``s of per-address arrays, and the
exact sums (``flow_value``, ``direct_value``) are Int128 group sums formatted with vectorised
string expressions (:func:`unit_sums`). The first version did a string sort, two window/joins
and a Python ``Decimal`` loop per group: 50 CPU seconds of a 72-second run (issue 17).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa

from tracer.analysis.risk import UNATTRIBUTED, RiskConfig
from tracer.core.addresses import display_arrow
from tracer.core.amounts import exact_unit_sums
from tracer.graph.selection import node_labels
from tracer.kernels.exposure_exact import format_units, pair_sums
from tracer.store.exact_values import ExactValues, exact_values

if TYPE_CHECKING:
    from tracer.analysis.exposure import DirectionResult, ExposurePlan, ExposureRequest
    from tracer.store.workspace import Workspace

#: Int128 sums stay exact while every value has at most this many digits (as exact_unit_sums).
_INT128_DIGITS = 30


def unit_sums(key: np.ndarray, values: pl.DataFrame) -> tuple[np.ndarray, pl.Series]:
    """Exact token-unit sums of ``values`` (``value`` digits, ``decimals``) per int64 ``key``.

    Returns the distinct keys (sorted) and their sums as strings, exactly as
    :func:`tracer.core.amounts.exact_unit_sums` writes them (``"12.5"``, ``"0"``; null when a
    row has unknown decimals). Keys whose rows all share one ``decimals`` (every single-token
    report) are summed in Int128 and formatted by string expressions; keys mixing decimals, and
    values too long for Int128, go through ``exact_unit_sums`` (exact decimals), rows of those
    keys only. ``value`` may come already as Int128 (:func:`as_int128`: cast once, summed by
    several keys).
    """
    frame = values.select("value", "decimals").with_columns(pl.Series("key", key, pl.Int64))
    if frame.height == 0:
        return np.zeros(0, np.int64), pl.Series("exact", [], pl.String)
    frame = as_int128(frame)
    if frame["value"].dtype != pl.Int128:  # too long for Int128
        slow = exact_unit_sums(frame, ["key"]).sort("key")
        return slow["key"].to_numpy(), slow["exact"]
    parts = frame.group_by("key", "decimals").agg(pl.col("value").sum())
    one = parts.group_by("key").agg(
        pl.len().alias("n"), pl.col("decimals").first(), pl.col("value").first()
    )
    simple = one.filter((pl.col("n") == 1) & pl.col("decimals").is_not_null())
    d = pl.col("decimals").cast(pl.Int64)
    digits = pl.col("value").cast(pl.String).str.zfill(d + 1)
    whole = digits.str.slice(0, digits.str.len_chars() - d)
    frac = digits.str.slice(digits.str.len_chars() - d).str.strip_chars_end("0")
    fast = simple.select(
        "key",
        pl.when(frac.str.len_chars() > 0)
        .then(pl.concat_str(whole, pl.lit("."), frac))
        .otherwise(whole)
        .alias("exact"),
    )
    rest = one.filter(~((pl.col("n") == 1) & pl.col("decimals").is_not_null()))["key"]
    if rest.len():
        mixed = frame.filter(pl.col("key").is_in(rest.implode()))
        slow = exact_unit_sums(mixed.with_columns(pl.col("value").cast(pl.String)), ["key"])
        fast = pl.concat([fast, slow.select("key", "exact")])
    fast = fast.sort("key")
    return fast["key"].to_numpy(), fast["exact"]


def as_int128(values: pl.DataFrame) -> pl.DataFrame:
    """``values`` with its ``value`` digits as Int128 when every one fits (at most 30 digits:
    sums of up to 10^8 of them cannot overflow); ``values`` itself otherwise."""
    if values.height == 0 or values["value"].dtype == pl.Int128:
        return values
    if int(values["value"].str.len_bytes().max() or 0) > _INT128_DIGITS:  # type: ignore[arg-type]
        return values
    return values.with_columns(pl.col("value").cast(pl.Int128))


def _lookup(keys: np.ndarray, sums: pl.Series, want: np.ndarray) -> pa.Array:
    """``sums`` at ``want`` (keys of the report rows), null where a key has no sum."""
    pos = np.searchsorted(keys, want)
    pos = np.minimum(pos, max(keys.shape[0] - 1, 0))
    hit = keys[pos] == want if keys.shape[0] else np.zeros(want.shape[0], dtype=bool)
    idx = pa.array(pos, mask=~hit) if keys.shape[0] else pa.nulls(want.shape[0], pa.int64())
    arr = sums.to_arrow().cast(pa.string()) if sums.len() else pa.array([""], pa.string())
    return arr.take(idx)


def window_edges(
    plan: ExposurePlan, directions: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(edge id, src, dst) of the edges inside the window that touch a reported address in
    one of ``directions`` (chunk by chunk when streamed)."""
    from tracer.analysis.exposure import edge_chunks

    parts: list[tuple[np.ndarray, ...]] = []
    every = bool((plan.target_row >= 0).all())  # --all: every edge touches a reported address
    whole = every and plan.lo is None and plan.hi is None
    if whole and plan.source is None:
        # in memory, every edge: the plan's own arrays (concatenating its chunks again was
        # 160 MB of fresh memory at 10M edges, ~0.5 s CPU beside the sweeps)
        assert plan.index is not None and plan.src is not None and plan.dst is not None
        return plan.index, plan.src, plan.dst
    for sel in edge_chunks(plan):
        if whole:
            parts.append((sel.index, sel.src, sel.dst))
            continue
        inside = np.ones(sel.src.shape[0], dtype=bool)
        if plan.lo is not None:
            inside &= sel.ts >= plan.lo
        if plan.hi is not None:
            inside &= sel.ts <= plan.hi
        if not every:
            keep = np.zeros(sel.src.shape[0], dtype=bool)
            for d in directions:
                keep |= plan.target_row[sel.dst if d == "in" else sel.src] >= 0
            inside &= keep
        k = np.flatnonzero(inside)
        parts.append((sel.index[k], sel.src[k], sel.dst[k]))
    if len(parts) == 1:
        return parts[0][0], parts[0][1], parts[0][2]
    index = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    src = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int32)
    dst = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int32)
    return index, src, dst


def exact_columns(
    ws: Workspace, plan: ExposurePlan, directions: list[str]
) -> dict[str, tuple[np.ndarray, pl.Series, np.ndarray, pl.Series]]:
    """Per direction: exact ``flow_value`` per report row and ``direct_value`` per (row, cat).

    Keys: the report row for flows, ``row * (K + 1) + cat`` for direct values (K reported
    categories). ``direct_value`` is the exact sum of the transfers exchanged directly with
    addresses of the category (before dust): equal to ``direct_amount`` for absorbing
    categories; for pass-through categories it is the gross volume, of which the model
    attributes a part.

    Values come as fixed-width integers from the case index when the workspace has one
    (:func:`tracer.store.exact_values.exact_values`, summed by :func:`fixed_sums`: one compiled
    pass per key set), else as text (:func:`text_columns`); the sums are the same.
    """
    index, src, dst = window_edges(plan, directions)
    fixed = exact_values(ws, index) if plan.source is None else None
    if fixed is None:
        return text_columns(ws, plan, directions, index, src, dst)
    width = len(plan.categories) + 1
    n_rows = plan.target_ids.shape[0]
    # both directions' sums in one pass over the edges' values
    sums = pair_sums(src, dst, plan.target_row, plan.cat, width, fixed.pieces, fixed.decimals,
                     n_rows, tuple(directions))  # fmt: skip
    out = {}
    for d in directions:
        me, other = (dst, src) if d == "in" else (src, dst)
        flows, direct = sums[d]

        def row_key(me: np.ndarray = me) -> np.ndarray:
            return plan.target_row[me].astype(np.int64)

        def direct_key(me: np.ndarray = me, other: np.ndarray = other) -> np.ndarray:
            row, cat = plan.target_row[me].astype(np.int64), plan.cat[other]
            return np.where((row >= 0) & (cat >= 0), row * width + cat, -1)

        fk, fs = fixed_sums(ws, index, fixed, flows, row_key)
        dk, ds = fixed_sums(ws, index, fixed, direct, direct_key)
        out[d] = (fk, fs, dk, ds)
    return out


def fixed_sums(
    ws: Workspace,
    edges: np.ndarray,
    fixed: ExactValues,
    sums: tuple[np.ndarray, ...],
    key_of: Callable[[], np.ndarray],
) -> tuple[np.ndarray, pl.Series]:
    """:func:`unit_sums` of the rows ``edges`` by key, from their fixed-width ``sums``
    (``hi, lo, dec, count`` per key: :func:`tracer.kernels.exposure_exact.pair_sums`).
    Keys with a row the index holds no exact form of, or whose rows have unknown or differing
    decimals, or whose sum would pass the limbs, are summed from the values' text instead
    (those keys' rows only, keys from ``key_of()``): the same result, exactly."""
    hi, lo, dec, count = sums
    bad = (count > 0) & (dec < 0)
    key: np.ndarray | None = None
    if fixed.raw.any():
        key = key_of()
        bad[key[fixed.raw & (key >= 0)]] = True
    good = np.flatnonzero((count > 0) & ~bad)
    offsets, data = format_units(hi[good], lo[good], dec[good])
    text = pa.LargeStringArray.from_buffers(
        good.shape[0], pa.py_buffer(offsets), pa.py_buffer(data)
    ).cast(pa.string())
    if not bad.any():
        return good, pl.Series("exact", text, pl.String)
    key = key_of() if key is None else key
    rows = np.flatnonzero((key >= 0) & bad[np.maximum(key, 0)])
    sk, ss = unit_sums(key[rows], ws.rows(edges[rows], ["value", "decimals"]))
    keys = np.concatenate([good, sk])
    order = np.argsort(keys, kind="stable")
    both = pa.concat_arrays([text, ss.to_arrow().cast(pa.string())]).take(pa.array(order))
    return keys[order], pl.Series("exact", both, pl.String)


def text_columns(
    ws: Workspace,
    plan: ExposurePlan,
    directions: list[str],
    index: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
) -> dict[str, tuple[np.ndarray, pl.Series, np.ndarray, pl.Series]]:
    """:func:`exact_columns` from the values' text (a workspace without a case index, an
    in-memory or streamed one): read once for both directions, Int128 group sums."""
    values = as_int128(ws.rows(index, ["value", "decimals"]))  # once for both directions
    width = len(plan.categories) + 1
    out = {}
    for d in directions:
        me, other = (dst, src) if d == "in" else (src, dst)
        row = plan.target_row[me].astype(np.int64)
        keep = row >= 0
        vals = values.filter(pl.Series(keep))
        row = row[keep]
        cat = plan.cat[other[keep]]
        direct = cat >= 0
        fk, fs = unit_sums(row, vals)
        dk, ds = unit_sums(row[direct] * width + cat[direct], vals.filter(pl.Series(direct)))
        out[d] = (fk, fs, dk, ds)
    return out


@dataclass
class RowsPrep:
    """What the report rows need that does not depend on the sweeps' results: each report
    row's node (``nodes``: id, chain, address), display address, rank in display order, and
    the exact sums per direction. :func:`prepare` computes it; the local engine does so on a
    thread while the sweeps run (:func:`tracer.analysis.exposure_run.exposure`)."""

    directions: list[str]
    nodes: pl.DataFrame
    shown: pl.Series
    order: np.ndarray
    exact: dict[str, tuple[np.ndarray, pl.Series, np.ndarray, pl.Series]]
    #: per report row, dictionary-encoded once (indices, values): chain, the address's own
    #: label name and category; the report's rows then only gather indices
    encoded: dict[str, tuple[pa.Array, pa.Array]]
    #: per direction, each report row's exact ``flow_value`` (null: no flow)
    flow_values: dict[str, pa.Array]


def prepare(ws: Workspace, plan: ExposurePlan, directions: list[str]) -> RowsPrep:
    """The sweep-independent part of :func:`assemble` for ``directions`` (see
    :class:`RowsPrep`); mostly compiled or Arrow work that releases the GIL."""
    dirs = sorted(directions)
    nodes = pl.DataFrame({"id": plan.target_ids}, schema={"id": pl.Int32}).join(
        ws.nodes().addresses, on="id", how="left", maintain_order="left"
    )  # one per report row, in row order
    shown = pl.Series(
        "address", display_arrow(nodes["chain"].to_arrow(), nodes["address"].to_arrow()), pl.String
    )
    # report rows in display order: (address, chain); the rows' entries then follow by
    # direction and category, laid out by index arithmetic in assemble
    by_shown = pl.DataFrame({"a": shown, "c": nodes["chain"]}).with_row_index("i")
    order = by_shown.sort(["a", "c"], maintain_order=True)["i"].to_numpy()
    labelled = node_labels(ws.nodes(), ws.labels()).select("id", "name", "category")
    lab = nodes.select("id").join(labelled, on="id", how="left", maintain_order="left")
    encoded = {"chain": _encode(nodes["chain"]), "address_name": _encode(lab["name"]),
               "address_category": _encode(lab["category"])}  # fmt: skip
    exact = exact_columns(ws, plan, dirs)
    every_row = np.arange(plan.target_ids.shape[0], dtype=np.int64)
    flow_values = {d: _lookup(fk, fs, every_row) for d, (fk, fs, _, _) in exact.items()}
    return RowsPrep(dirs, nodes, shown, order, exact, encoded, flow_values)


def _encode(per_row: pl.Series) -> tuple[pa.Array, pa.Array]:
    """A per-report-row string column as (int32 indices, distinct values)."""
    enc = per_row.to_arrow().cast(pa.string()).dictionary_encode()
    return enc.indices.cast(pa.int32()), enc.dictionary


def assemble_table(*args: Any, **kwargs: Any) -> pa.Table:
    """The report rows (:class:`RowParts`, same arguments) as one Arrow table: one row per
    address, direction, category, each carrying ``asset`` (its asset group's name), sorted by
    address, chain, direction, category (the category axis order, ``unattributed`` last).

    Built from numpy without a Polars frame: the string columns with few values (``chain``,
    ``asset``, ``direction``, ``category``, ``address_name``, ``address_category``) are
    dictionary arrays whose indices come from the index arithmetic (the Parquet writer writes
    them as they are, without hashing 1.6M strings each), and ``address`` is a dictionary over
    the display addresses of the table's (or part's) own report rows, in display order, so
    the writer keeps it as each row group's Parquet dictionary (a part's rows hold about
    a tenth as many addresses as rows). :func:`~tracer.analysis.exposure.report_frame` turns
    it into the plain-string frame (tests compare that with the first version's assembly)."""
    return RowParts(*args, **kwargs).table()


#: Report rows per part (:class:`RowParts`): the Parquet writer encodes one part (a row group)
#: while the next is assembled.
PART_ROWS = 1 << 18


class RowParts:
    """The report rows of one asset group (:func:`assemble_table`'s table), assembled on
    demand in consecutive parts of whole addresses, in report order. ``prepared``: the
    sweep-independent part, computed beforehand (:func:`prepare`) or here.

    Why parts: on an ``--all`` report the assembly (~0.5 s) and the Parquet encode (~0.7 s)
    each keep one core busy; iterated part by part, the writer encodes part ``i`` on a thread
    while part ``i + 1`` is assembled (:func:`tracer.output.exposure_report.write_parquet`).
    Every part is the same arithmetic on a range of report rows in display order, so the
    parts, concatenated, are the one-part table exactly (tested)."""

    def __init__(
        self,
        ws: Workspace,
        req: ExposureRequest,
        plan: ExposurePlan,
        results: dict[str, DirectionResult],
        risk: RiskConfig,
        asset: str | None = None,
        prepared: RowsPrep | None = None,
    ) -> None:
        self.req, self.plan, self.results, self.asset = req, plan, results, asset
        self.cats = [*plan.categories, UNATTRIBUTED]
        self.k = k = len(plan.categories)
        n_rows = plan.target_ids.shape[0]
        # the report lists "in" before "out", whatever the request order
        self.dirs = dirs = sorted(results)
        prep = prepared if prepared is not None else prepare(ws, plan, dirs)
        if prep.directions != dirs:
            raise ValueError(f"prepared for {prep.directions}, swept {dirs}")
        self.prep = prep
        self.masks: list[np.ndarray] = []
        self.unatt: list[np.ndarray] = []
        self.counts = np.zeros((n_rows, len(dirs)), dtype=np.int64)
        poison = req.model == "poison"
        for j, d in enumerate(dirs):
            r = results[d]
            total = r.direct + r.indirect
            mask = np.ones((n_rows, k + 1), dtype=bool)  # unattributed: always a row
            mask[:, :k] = total > 0.0
            self.masks.append(mask)
            self.counts[:, j] = mask.sum(axis=1)
            # poison's shares are overlapping upper bounds: there, untouched flow is
            # unattributed
            unatt = r.flow - (r.touched if poison else total.sum(axis=1))
            self.unatt.append(np.where(unatt > 1e-9 * np.maximum(r.flow, 1.0), unatt, 0.0))
        self.num_rows = int(self.counts.sum())
        self.weight = np.array([risk.weight(c) for c in self.cats], dtype=np.float64)
        self.score_expr = risk.weighted_score_expr()
        self.shown = prep.shown.to_arrow().cast(pa.string())
        self.dir_values = pa.array(dirs, pa.string())
        self.cat_values = pa.array(self.cats, pa.string())

    def addresses(self) -> pa.Array:
        """The report rows' display addresses (the ``address`` column's dictionary)."""
        return self.shown

    def table(self) -> pa.Table:
        """Every row as one table (one part)."""
        return self._rows(self.prep.order)

    def __iter__(self) -> Iterator[pa.Table]:
        return self.parts()

    def parts(self, part_rows: int | None = None) -> Iterator[pa.Table]:
        """The rows in consecutive tables of whole addresses, each at most ``part_rows`` rows
        (default :data:`PART_ROWS`) or one address; at least one table (empty when there are
        no rows)."""
        part_rows = PART_ROWS if part_rows is None else part_rows
        order = self.prep.order
        cum = np.cumsum(self.counts[order].sum(axis=1))
        start, n = 0, order.shape[0]
        while True:
            before = int(cum[start - 1]) if start else 0
            end = max(int(np.searchsorted(cum, before + part_rows, side="right")), start + 1)
            yield self._rows(order[start:end])
            start = end
            if start >= n:
                return

    def _rows(self, rows: np.ndarray) -> pa.Table:
        """The report rows of report rows ``rows`` (consecutive in display order)."""
        from tracer.analysis.exposure import REPORT_SCHEMA

        k, dirs, prep = self.k, self.dirs, self.prep
        m = rows.shape[0]
        counts = self.counts[rows]
        # block start of each (row, direction) in this part, rows in display order
        flat = np.cumsum(counts.reshape(-1))
        starts = np.concatenate([[0], flat[:-1]]).reshape(m, len(dirs)) if m else counts
        total_n = int(flat[-1]) if flat.shape[0] else 0
        col_row = np.empty(total_n, dtype=np.int32)
        col_local = np.empty(total_n, dtype=np.int32)  # the row's rank in this part
        col_dir = np.empty(total_n, dtype=np.int32)
        col_cat = np.empty(total_n, dtype=np.int32)
        f64 = {n: np.empty(total_n) for n in ("direct", "indirect", "total", "flow")}
        hops = np.empty(total_n, dtype=np.int32)
        flow_v = [pa.nulls(0, pa.string())] * len(dirs)
        direct_v = [pa.nulls(0, pa.string())] * len(dirs)
        pos_by_dir = []
        for j, d in enumerate(dirs):
            r = self.results[d]
            # row-major: by row (display order), then category (unattributed last)
            local, cc = np.nonzero(self.masks[j][rows])
            rr = rows[local]  # report row
            first = np.concatenate([[0], np.cumsum(counts[:, j])[:-1]])
            pos = starts[local, j] + (np.arange(rr.shape[0]) - first[local])
            pos_by_dir.append(pos)
            is_u = cc == k
            ci = np.minimum(cc, max(k - 1, 0))
            unatt = self.unatt[j]
            col_row[pos], col_local[pos], col_dir[pos], col_cat[pos] = rr, local, j, cc
            if k:
                direct, indirect = r.direct[rr, ci], r.indirect[rr, ci]
                f64["direct"][pos] = np.where(is_u, 0.0, direct)
                f64["indirect"][pos] = np.where(is_u, 0.0, indirect)
                f64["total"][pos] = np.where(is_u, unatt[rr], direct + indirect)
                hops[pos] = np.where(is_u, -1, r.min_hops[rr, ci])
            else:
                f64["direct"][pos] = f64["indirect"][pos] = 0.0
                f64["total"][pos] = unatt[rr]
                hops[pos] = -1
            f64["flow"][pos] = r.flow[rr]
            _, _, dk, ds = prep.exact[d]
            flow_v[j] = prep.flow_values[d].take(pa.array(rr))
            direct_v[j] = _lookup(dk, ds, rr.astype(np.int64) * (k + 1) + cc)
        flow_value = _scatter([*zip(pos_by_dir, flow_v, strict=True)], total_n)
        direct_value = _scatter([*zip(pos_by_dir, direct_v, strict=True)], total_n)
        take = pa.array(col_row)
        flow = f64["flow"]
        no_flow = ~(flow > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = {name: pa.array(f64[p] / flow, mask=no_flow)
                     for p, name in (("total", "share"), ("direct", "direct_share"),
                                     ("indirect", "indirect_share"))}  # fmt: skip
        scored = pl.from_arrow(
            pa.table({"weight": self.weight[col_cat], "direct_share": share["direct_share"],
                      "indirect_share": share["indirect_share"]})
        )  # fmt: skip
        assert isinstance(scored, pl.DataFrame)
        score = scored.select(self.score_expr)[:, 0].to_numpy()
        # address_risk_score: the highest risk_score of each (row, direction) block,
        # contiguous in the output and never empty (its unattributed row)
        block = np.concatenate([[0], flat[:-1]]) if total_n else np.zeros(0, np.int64)
        peak = np.maximum.reduceat(score, block) if total_n else score
        address_score = np.repeat(peak, np.diff(np.append(block, total_n)))
        columns = {
            # a dictionary of this part's addresses only: the Parquet writer keeps it as the
            # row group's dictionary (its indices run-length encoded) instead of writing and
            # compressing 1.6M address strings
            "address": _dictionary(pa.array(col_local), self.shown.take(pa.array(rows))),
            "chain": _taken(prep.encoded["chain"], take),
            "asset": _constant(self.asset, total_n),
            "direction": _dictionary(pa.array(col_dir), self.dir_values),
            "category": _dictionary(pa.array(col_cat), self.cat_values),
            "direct_amount": f64["direct"],
            "indirect_amount": f64["indirect"],
            "total_amount": f64["total"],
            **share,
            "min_hops": pa.array(hops, mask=hops < 0),
            "risk_score": score,
            "address_risk_score": address_score,
            "flow_amount": flow,
            "flow_value": flow_value,
            "direct_value": direct_value,
            "address_name": _taken(prep.encoded["address_name"], take),
            "address_category": _taken(prep.encoded["address_category"], take),
        }
        return pa.table([columns[f.name] for f in REPORT_SCHEMA], names=REPORT_SCHEMA.names)


def _dictionary(indices: pa.Array, values: pa.Array) -> pa.DictionaryArray:
    """A string dictionary array (the report's dictionary columns share one type)."""
    return pa.DictionaryArray.from_arrays(indices, values.cast(pa.string()))


def _constant(value: str | None, n: int) -> pa.DictionaryArray:
    """``value`` on every one of ``n`` rows (null when None), as a one-entry dictionary."""
    if value is None:
        return _dictionary(pa.nulls(n, pa.int32()), pa.array([], pa.string()))
    return _dictionary(pa.array(np.zeros(n, np.int32)), pa.array([value]))


def _taken(encoded: tuple[pa.Array, pa.Array], take: pa.Array) -> pa.DictionaryArray:
    """A column encoded per report row (:func:`_encode`) at the output rows ``take``."""
    indices, values = encoded
    return _dictionary(indices.take(take), values)


def _scatter(pieces: list[tuple[np.ndarray, pa.Array]], n: int) -> pa.Array:
    """One string column of ``n`` rows from (positions, values) pieces that cover it."""
    if n == 0:
        return pa.nulls(0, pa.string())
    pos = np.concatenate([p for p, _ in pieces])
    vals = pa.concat_arrays([v for _, v in pieces])
    inverse = np.empty(n, dtype=np.int64)
    inverse[pos] = np.arange(pos.shape[0])
    return vals.take(pa.array(inverse))
