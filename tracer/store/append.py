"""Append-only ingest: new rows join the store in O(new rows + the months they land in).

A generation is the previous one plus new rows. An ingest first spools its candidate rows into
the new generation folder, batch by batch and month by month (:class:`Spool`: reading a big
export holds one batch); then, one month at a time, the month's candidates are de-duplicated
(first arrival wins, against the stored month's keys and each other) and merged. The
:class:`~tracer.store.generation.Writer`'s new generation gets:

* **partitions**: every month that receives no row keeps its files, hard-linked (same inode, no
  byte rewritten). In a month that does, files whose rows all come before the first new row are
  kept too; only the files from the first new row on are read, merged with the new rows and
  rewritten. New data at the chain's end (the usual case) therefore writes only new files; a
  backfill into an old month rewrites that month's tail only. A small last file (under
  :data:`COMPACT_FRACTION` of a full one) is merged rather than followed by another, so many small
  appends (``ingest-rpc`` flushes) do not leave thousands of tiny files; the merge stays within
  :data:`MERGE_FACTOR` - 1 stored rows per new row, so no flush rewrites a growing file.
* **dictionaries**: known addresses keep their ids; new ones get the next ids in order of first
  appearance in the new rows (source before destination), written as one more
  ``addresses-<generation>.parquet`` chunk (the earlier chunks hard-linked). Tokens likewise.

Why ids may depend on ingest order now: rewriting every id when an address appears earlier
than all known ones would make an append O(total). Ids are only names: every result tracer
reports (addresses, amounts, paths, hashes) is mapped back through the dictionaries, so results
are identical however the data arrived (tests compare appended and at-once workspaces through
the dictionaries). Edge ``i`` is still row ``i`` in chain order, because rows are merged into
their month in chain order.

De-duplication reads only the key columns of the months the new rows fall in (a transfer's
month is fixed by its block time, so a re-exported transfer lands in the same month). Memory:
one batch while reading, then one month (its candidates plus the stored files it rewrites).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import polars as pl
import pyarrow as pa

from tracer.core.lazy_import import lazy_module
from tracer.core.schema import TRANSFER_KEY, TRANSFER_ORDER, TRANSFER_PL, TRANSFER_SCHEMA
from tracer.kernels.first_seen import interleaved_first_appearance
from tracer.store import edge_log, partitions
from tracer.store.case_index import index_parts, write_case_index
from tracer.store.generation import Writer, link_or_copy
from tracer.store.partitions import (
    EDGE_COLUMNS,
    STORED_SCHEMA,
    PartWriter,
    arrow_rows,
    edge_arrays,
    with_ids,
)

if TYPE_CHECKING:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
else:  # imported when first used (~0.1 s a follow in memory never needs)
    pc = lazy_module("pyarrow.compute")
    pq = lazy_module("pyarrow.parquet")

#: A month's last file smaller than this share of ``PART_ROWS`` is merged into, not followed.
COMPACT_FRACTION = 8
#: How far apart two exports may place the same transfer in time and still be recognised as
#: duplicates: a day covers minute-precision text and a wrong time zone. (The month must agree
#: in any case: de-duplication runs per month.)
DEDUP_MARGIN_US = 86_400_000_000
#: An append rewrites at most ``MERGE_FACTOR - 1`` stored rows per new row to compact small
#: last files (so the work of an append stays proportional to what it adds).
MERGE_FACTOR = 4
#: The graph cache is written at ingest (:mod:`tracer.store.edge_log`: fresh, or the previous
#: generation's edge log extended); only when the previous generation has none (an older
#: workspace) and the new one holds more than this many rows, it is built on first use.
EAGER_GRAPH_ROWS = 2_000_000
#: Candidate rows an ingest keeps in memory before spooling them to disk (about 125 MB).
SPOOL_MEMORY_ROWS = 500_000
#: Months written at the same time (a month's write is the slowest step of an ingest; two
#: overlap the write of a run's months with each other and with numbering the next run).
WRITERS = 2
#: New rows numbered and written together (bounds memory; one dictionary join per run).
RUN_ROWS = 1_000_000
#: Columns that hold one value in a typical export (the chain, the token, one input file):
#: the spool proves it once per batch, so no later step compares every row again.
CONSTANT_CANDIDATES = ("chain", "token", "asset", "decimals", "seq", "_file")
ID_PL: dict[str, pl.DataType] = {"src_id": pl.Int32(), "dst_id": pl.Int32(), "token_id": pl.Int32()}
#: What a partition file holds, as Polars types.
STORED_PL: dict[str, pl.DataType] = {**dict(TRANSFER_PL.items()), **ID_PL}
_PART = re.compile(r"part-([0-9]{4}-[0-9]{2})-([0-9]+)\.parquet")


def part_month(name: str) -> str:
    m = _PART.fullmatch(name)
    assert m is not None  # names are validated with the manifest
    return m.group(1)


def part_index(name: str) -> int:
    m = _PART.fullmatch(name)
    assert m is not None
    return int(m.group(2))


def month_groups(frame: pl.DataFrame) -> list[tuple[str, pl.DataFrame]]:
    """``frame`` split by month (``YYYY-MM``, in order), each part keeping the row order.

    Integer month keys, not formatted strings, for the split: 10x cheaper per row. Rows already
    in time order (an export, a chain-ordered Parquet) split into zero-copy slices; otherwise
    one stable sort by month, then slices (one pass, not one filter per month)."""
    ts = frame["ts"]
    if frame.height == 0:
        return []
    if ts.null_count() == 0 and ts.is_sorted():
        # in time order: the month starts between the first and last time cut the rows (a
        # binary search per month, no per-row calendar arithmetic)
        us = ts.dt.epoch("us").to_numpy()
        lo, hi = np.array([us[0], us[-1]]).astype("datetime64[us]").astype("datetime64[M]")
        starts = np.arange(lo + 1, hi + 1, dtype="datetime64[M]")
        cuts = [0, *np.searchsorted(us, starts.astype("datetime64[us]").astype(np.int64),
                                    side="left").tolist(), len(us)]  # fmt: skip
        months = [str(m) for m in np.arange(lo, hi + 1, dtype="datetime64[M]")]
        return [(m, frame.slice(a, b - a))
                for m, (a, b) in zip(months, itertools.pairwise(cuts), strict=True) if b > a]
    key = (ts.dt.year().cast(pl.Int32) * 100 + ts.dt.month().cast(pl.Int32)).alias("_m")
    if not key.is_sorted():
        frame = frame.with_columns(key).sort("_m", maintain_order=True)  # stable
        key = frame["_m"]
        frame = frame.drop("_m")
    k = key.to_numpy()
    cuts = [0, *(np.flatnonzero(k[1:] != k[:-1]) + 1).tolist(), len(k)]
    return [(f"{k[a] // 100:04d}-{k[a] % 100:02d}", frame.slice(a, b - a))
            for a, b in itertools.pairwise(cuts)]  # fmt: skip


class Stored:
    """The committed generation, read month by month (never whole)."""

    def __init__(self, root: Path, m: dict[str, Any]) -> None:
        self.root = root
        self.m = m
        self.dir = root / f"g{m['generation']}"
        self.by_month: dict[str, list[dict[str, Any]]] = {}
        for p in m.get("parts", []):
            self.by_month.setdefault(part_month(p["file"]), []).append(p)
        self._keys: dict[tuple[str, tuple[str, ...]], pl.DataFrame] = {}

    def path(self, part: dict[str, Any]) -> Path:
        return self.dir / "transfers" / part["file"]

    def keys(self, month: str, lo: int | None = None, hi: int | None = None) -> pl.DataFrame:
        """The de-duplication keys of one month's stored rows, only from the files whose time
        range meets ``lo..hi`` (µs) when given: a transfer's time is fixed by its block, so a
        re-exported row can only match a stored row of (nearly: :data:`DEDUP_MARGIN_US`) the
        same time. An append at the chain's end then reads the keys of its last files only,
        not of the whole month."""
        parts = [p for p in self.by_month.get(month, [])
                 if lo is None or hi is None or (p["last_ts"] >= lo and p["first_ts"] <= hi)]
        names = tuple(p["file"] for p in parts)
        if (month, names) not in self._keys:
            self._keys[(month, names)] = (
                pl.concat([pl.read_parquet(self.path(p), columns=TRANSFER_KEY) for p in parts])
                if parts
                else pl.DataFrame(schema={k: TRANSFER_PL[k] for k in TRANSFER_KEY})
            )
        return self._keys[(month, names)]

    def read(self, parts: list[dict[str, Any]]) -> pl.DataFrame:
        """Whole rows (canonical + id columns) of some partitions, in chain order."""
        frames = [pl.DataFrame(pq.read_table(self.path(p))) for p in parts]
        if not frames:
            return pl.DataFrame(schema=STORED_PL)
        return pl.concat(frames).cast(STORED_PL)  # type: ignore[arg-type]

    def address_files(self) -> list[Path]:
        return [self.dir / a for a in self.m.get("addresses", [])]

    def tokens(self) -> pl.DataFrame:
        f = self.dir / "tokens.parquet"
        if self.m["generation"] and f.exists():
            return pl.read_parquet(f)
        return pl.DataFrame(schema={"token_id": pl.Int32, "chain": pl.String, "token": pl.String,
                                    "asset": pl.String, "decimals": pl.Int16})  # fmt: skip


class Candidates(Protocol):
    """What :func:`append` takes: a :class:`Spool`, or the months of a streamed file
    (:class:`tracer.store.streamed.MonthStream`)."""

    constant: dict[str, Any]

    def tokens(self) -> pl.DataFrame: ...

    def endpoints(self) -> pl.DataFrame: ...

    def ordered(self, stored_months: Collection[str]
                ) -> Iterator[tuple[str, pl.DataFrame | None]]: ...  # fmt: skip


class Spool:
    """An ingest's candidate rows, each tagged with its input file and arrival order, grouped
    by month. Up to :data:`SPOOL_MEMORY_ROWS` rows stay in memory (a small ingest never touches
    the disk twice); beyond, everything goes to ``spool/`` in the new generation folder, so a big
    export holds one batch in memory, and each month is later de-duplicated and merged alone."""

    def __init__(self, gdir: Path) -> None:
        self.dir = gdir / "spool"
        self.dir.mkdir()
        self.files: dict[str, list[Path]] = {}
        self.memory: dict[str, list[pl.DataFrame]] = {}
        self.rows = 0
        self._in_memory = 0
        self._k = 0
        #: Columns of :data:`CONSTANT_CANDIDATES` with one non-null value on EVERY spooled row
        #: (so on any subset of them too), and that value.
        self.constant: dict[str, Any] = {}
        self._first: pl.DataFrame | None = None

    @property
    def months(self) -> set[str]:
        return set(self.files) | set(self.memory)

    def add(self, rows: pl.DataFrame, file_index: int) -> None:
        if rows.height == 0:
            return
        # what is held goes to disk before the next batch joins it: the last batch (the only
        # one, for a Parquet or small file, already in memory) is never written twice
        if self._in_memory + rows.height > SPOOL_MEMORY_ROWS and self._in_memory:
            self._flush()
        rows = rows.with_columns(pl.lit(file_index, pl.Int32).alias("_file"))
        self._note_constants(rows)
        self.rows += rows.height
        self._in_memory += rows.height
        for month, part in month_groups(rows):
            self.memory.setdefault(month, []).append(part)

    def _note_constants(self, rows: pl.DataFrame) -> None:
        """Keep in :attr:`constant` the columns still one value over all rows added so far."""
        if self._first is None:
            self._first = rows.head(1)
            self.constant = {c: rows[c][0] for c in CONSTANT_CANDIDATES
                             if c in rows.columns and _constant(rows[c])}  # fmt: skip
            return
        self.constant = {c: v for c, v in self.constant.items()
                         if rows[c][0] == v and _constant(rows[c])}  # fmt: skip

    def _flush(self) -> None:
        for month, frames in self.memory.items():
            f = self.dir / f"spool-{self._k}-{month}.parquet"
            pl.concat(frames).write_parquet(f, compression="lz4", statistics=False)
            self.files.setdefault(month, []).append(f)
        self.memory.clear()
        self._in_memory = 0
        self._k += 1

    def month(self, month: str) -> pl.DataFrame:
        """One month's candidate rows in arrival order (pieces are kept in that order: files
        flushed earlier hold earlier rows than what is still in memory)."""
        frames = [pl.read_parquet(f) for f in self.files.get(month, [])]
        frames += self.memory.get(month, [])
        return frames[0] if len(frames) == 1 else pl.concat(frames)

    def ordered(self, stored_months: Collection[str]) -> Iterator[tuple[str, pl.DataFrame | None]]:
        """``(month, its candidate rows or None)`` for every month stored or spooled, in order
        (:class:`tracer.store.streamed.MonthStream` hands months on the same way, as they
        complete)."""
        for month in sorted(set(stored_months) | self.months):
            yield month, self.month(month) if month in self.months else None

    def _frames(self) -> list[pl.LazyFrame]:
        disk = [f for fs in self.files.values() for f in fs]
        mem = [f.lazy() for fs in self.memory.values() for f in fs]
        return ([pl.scan_parquet(disk)] if disk else []) + mem

    def endpoints(self) -> pl.DataFrame:
        """Every (chain, address) the candidate rows touch (to look up known ids once)."""
        parts = [p.select("chain", pl.col(c).alias("address"))
                 for p in self._frames() for c in ("src", "dst")]  # fmt: skip
        if not parts:
            return pl.DataFrame(schema={"chain": pl.String, "address": pl.String})
        return pl.concat(parts).unique().collect()

    def tokens(self) -> pl.DataFrame:
        cols = ["chain", "token", "asset", "decimals"]
        if self._first is not None and all(c in self.constant for c in cols):
            return self._first.select(cols)  # one token on every row
        parts = [p.select(cols) for p in self._frames()]
        if not parts:
            return pl.DataFrame(schema={c: TRANSFER_PL[c] for c in cols})
        return pl.concat(parts).unique().collect()

    def remove(self) -> None:
        for fs in self.files.values():
            for f in fs:
                f.unlink(missing_ok=True)
        self.memory.clear()
        self.dir.rmdir()


def _known_addresses(stored: Stored, spool: Candidates) -> pl.DataFrame:
    """(id, chain, address) of the stored addresses the spooled rows touch (one scan)."""
    files = stored.address_files()
    if not files:
        return pl.DataFrame(schema={"id": pl.Int32, "chain": pl.String, "address": pl.String})
    ends = spool.endpoints()
    return (
        pl.scan_parquet(files)
        .join(ends.lazy(), on=["chain", "address"], how="semi")
        .select(pl.col("id").cast(pl.Int32), "chain", "address")
        .collect()
    )


def _endpoint_codes(
    rows: pl.DataFrame, constant: Collection[str] = ()
) -> tuple[np.ndarray, pl.DataFrame]:
    """Every endpoint of ``rows`` as a code into its distinct (chain, address) pairs, numbered
    in order of first appearance, source before destination (row 0's src, row 0's dst, row
    1's src, ...), as :func:`tracer.store.graph_cache.build_graph` numbers them.

    One hash pass (Arrow's ``dictionary_encode``, whose dictionary is in first-appearance
    order) over the sources then the destinations replaces a sort, a ``unique`` and two joins;
    the codes are then renumbered in interleaved order on integers, in one pass
    (:func:`~tracer.kernels.first_seen.interleaved_first_appearance`; gathering the 2n
    strings into interleaved order first cost as much as the hashing).
    Returns ``codes`` (length ``2 * rows.height``, src at even, dst at odd positions) and the
    pairs (``chain``, ``address``) in code order. ``constant``: columns known to hold one
    non-null value on every row (:attr:`Spool.constant`), not compared again."""
    n = rows.height
    if n == 0:
        return np.zeros(0, dtype=np.int64), pl.DataFrame(schema={"chain": pl.String,
                                                                 "address": pl.String})
    src, dst = rows["src"], rows["dst"]
    one_chain = "chain" in constant or _constant(rows["chain"])
    chains = rows["chain"].head(1) if one_chain else rows["chain"]
    if not one_chain:  # the chain is part of the key: encode "chain<US>address"
        src = rows.select(pl.concat_str("chain", pl.lit("\x1f"), "src")).to_series()
        dst = rows.select(pl.concat_str("chain", pl.lit("\x1f"), "dst")).to_series()
    new = pl.CompatLevel.newest()
    enc = pc.dictionary_encode(pa.chunked_array([src.to_arrow(compat_level=new),
                                                 dst.to_arrow(compat_level=new)]))  # fmt: skip
    if any(len(c.dictionary) != len(enc.chunks[-1].dictionary) for c in enc.chunks):
        enc = enc.unify_dictionaries()  # (Arrow gives every chunk the final dictionary)
    dictionary = enc.chunks[-1].dictionary
    # codes number the pairs in order of first appearance in src-then-dst order; renumber
    # them by first appearance in the interleaved order (src0, dst0, src1, ...): integers
    # only, the 2n strings are never gathered
    concat = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in enc.chunks])
    codes, order = interleaved_first_appearance(concat[:n], concat[n:], len(dictionary))
    values = pl.Series("address", dictionary, dtype=pl.String).gather(order)
    if one_chain:
        pairs = pl.DataFrame({"chain": pl.repeat(chains[0], len(values), eager=True,
                                                 dtype=pl.String), "address": values})  # fmt: skip
    else:
        split = values.str.splitn("\x1f", 2)
        pairs = pl.DataFrame({"chain": split.struct.field("field_0"),
                              "address": split.struct.field("field_1")})  # fmt: skip
    return codes, pairs


def _number(
    rows: pl.DataFrame, lookup: pl.DataFrame, next_id: int, constant: Collection[str] = ()
) -> tuple[np.ndarray, np.ndarray, pl.DataFrame]:
    """``(src_id, dst_id, new dictionary chunk)`` for ``rows``: known addresses (``lookup``:
    id, chain, address) keep their ids; the others get ``next_id...`` in order of first
    appearance. Ids are looked up once per distinct address, then gathered per row."""
    codes, pairs = _endpoint_codes(rows, constant)
    ids = np.full(pairs.height, -1, dtype=np.int64)
    if lookup.height:
        known = pairs.with_row_index("_k").join(lookup, on=["chain", "address"], how="inner")
        ids[known["_k"].to_numpy()] = known["id"].to_numpy()
    fresh = ids < 0
    n_fresh = int(fresh.sum())
    if next_id + n_fresh >= 2**31 - 1:
        raise OverflowError("more than 2**31-1 addresses: int32 ids exhausted")
    ids[fresh] = np.arange(next_id, next_id + n_fresh, dtype=np.int64)
    chunk = pairs.filter(pl.Series(fresh)).select(
        pl.Series("id", ids[fresh], dtype=pl.Int32), "chain", "address"
    )
    per_end = ids[codes].astype(np.int32)
    return per_end[0::2], per_end[1::2], chunk


def _token_ids(
    rows: pl.DataFrame, tokens: pl.DataFrame, constant: Collection[str] = ()
) -> np.ndarray:
    """``token_id`` per row: a constant when the rows hold one token (the usual run), else a
    join on the token's four columns. ``constant``: as for :func:`_endpoint_codes`."""
    cols = ["chain", "token", "asset", "decimals"]
    first = rows.head(1).select(cols)
    if rows.height and all(c in constant or _constant(rows[c]) or rows[c].is_null().all()
                           for c in cols):  # fmt: skip
        hit = first.join(tokens, on=cols, how="inner", nulls_equal=True)
        return np.full(rows.height, hit["token_id"][0], dtype=np.int32)
    out = rows.select(cols).join(tokens, on=cols, how="left", maintain_order="left",
                                 nulls_equal=True)  # fmt: skip
    return out["token_id"].to_numpy().astype(np.int32)


def _first_arrivals(rows: pl.DataFrame, constant: Collection[str] = ()) -> pl.DataFrame:
    """``rows.unique(TRANSFER_KEY, keep="first", maintain_order=True)``, but a 64-bit hash of
    the key first: when no two hashes are equal (the usual case: an export holds each transfer
    once) no row can repeat and the exact, much slower ``unique`` is skipped. ``constant``:
    as for :func:`_endpoint_codes`."""
    # equal on every row: no help
    varying = [c for c in TRANSFER_KEY if c not in constant and not _constant(rows[c])]
    if rows.height < 2:
        return rows
    if varying:
        h = pl.col(varying[0]).hash(seed=1)
        for i, c in enumerate(varying[1:]):
            h = h ^ pl.col(c).hash(seed=i + 2)
        if not _any_repeated(rows.select(h).to_series().to_numpy()):
            return rows
    return rows.unique(TRANSFER_KEY, keep="first", maintain_order=True)


def _any_repeated(hashes: np.ndarray) -> bool:
    """Whether two of ``hashes`` are equal: one sort and a neighbour comparison (a quarter of
    the CPU of Polars' hash-table ``is_duplicated`` on 10M 64-bit values, measured)."""
    s = np.sort(hashes)
    return bool((s[1:] == s[:-1]).any())


def _constant(s: pl.Series) -> bool:
    """Whether every value of ``s`` is the same non-null value (one comparison pass). A few
    evenly spread rows are compared first: a varying column (hashes, addresses) is told
    apart without the pass over every row."""
    if not s.len():
        return True
    if s.null_count():
        return False
    probe = s.gather(np.linspace(0, s.len() - 1, min(s.len(), 16)).astype(np.int64))
    if not bool((probe == s[0]).all()):
        return False
    return bool((s == s[0]).all())


def _ordered(cols: list[str]) -> tuple[pl.Expr, pl.Expr]:
    """``(before, tie)`` per row against the next row over ``cols`` in order, nulls last:
    ``before`` the row sorts strictly before the next, ``tie`` all of ``cols`` are equal."""
    before, tie = pl.lit(False), pl.lit(True)
    for c in reversed(cols):
        x, y = pl.col(c), pl.col(c).shift(-1)
        xn, yn = x.is_null(), y.is_null()
        lt = (~xn & yn) | (~xn & ~yn & (x < y)).fill_null(False)
        eq = (xn & yn) | (~xn & ~yn & (x == y)).fill_null(False)
        before, tie = lt | (eq & before), eq & tie
    return before, tie


def _in_chain_order(rows: pl.DataFrame) -> bool:
    """Whether ``rows`` already are in :data:`~tracer.core.schema.TRANSFER_ORDER` (nulls last):
    one vectorised comparison of each row with the next instead of a six-key sort. The
    numeric keys (time, block, seq) decide almost every pair; the text keys are compared
    only for the pairs those leave tied."""
    if rows.height < 2:
        return True
    numeric, text = TRANSFER_ORDER[:3], TRANSFER_ORDER[3:]
    assert numeric == ["ts", "block", "seq"]
    before, tie = _ordered(numeric)
    pairs = rows.select(before.alias("b"), tie.alias("t")).slice(0, rows.height - 1)
    if not (pairs["b"] | pairs["t"]).all():
        return False
    tied = pairs["t"].arg_true()
    if tied.len() == 0:
        return True
    both = pl.concat([tied, tied + 1]).unique().sort()
    sub = rows.select(text).with_row_index("_i").filter(pl.col("_i").is_in(both.implode()))
    # compare each tied row with its successor (present in ``sub``: ``both`` holds both)
    before, tie = _ordered(text)
    nxt = pl.col("_i").shift(-1) == pl.col("_i") + 1
    check = sub.select(((before | tie) | ~nxt.fill_null(False)).alias("ok"),
                       pl.col("_i"))  # fmt: skip
    return bool(check.filter(pl.col("_i").is_in(tied.implode()))["ok"].all())


def _chain_order(rows: pl.DataFrame) -> pl.DataFrame:
    from tracer.store.graph_cache import sort_transfers

    return rows if _in_chain_order(rows) else sort_transfers(rows)


def _assign_tokens(w: Writer, stored: Stored, candidates: pl.DataFrame) -> pl.DataFrame:
    """The token dictionary with the new tokens appended (sorted among themselves, as an
    at-once ingest sorts them); written whole (it is small)."""
    cols = ["chain", "token", "asset", "decimals"]
    old = stored.tokens()
    seen = candidates.select(cols).unique(maintain_order=True)
    if old.height:
        seen = seen.join(old.select(cols), on=cols, how="anti", nulls_equal=True)
    seen = seen.sort(["chain", "asset", "token"], nulls_last=True)
    added = seen.select(
        (pl.int_range(seen.height, dtype=pl.Int64) + old.height).cast(pl.Int32).alias("token_id"),
        *cols,
    )
    tokens = pl.concat([old.select("token_id", *cols), added.cast(old.schema)])
    assert w.dir is not None
    tokens.write_parquet(w.dir / "tokens.parquet")
    return tokens


def _write_rows(writer: PartWriter, rows: pl.DataFrame) -> pa.Table | None:
    if rows.height == 0:
        return None
    table = with_ids(arrow_rows(rows, TRANSFER_SCHEMA), rows["src_id"].to_numpy(),
                     rows["dst_id"].to_numpy(), rows["token_id"].to_numpy())  # fmt: skip
    writer.write(table, rows["ts"].dt.epoch("us").to_numpy())
    return table


def append(
    w: Writer, stored: Stored, spool: Candidates
) -> tuple[dict[str, Any] | None, dict[int, tuple[int, int]]]:
    """Write ``w``'s new generation: the stored one plus the spooled rows that are new.

    De-duplication (against the stored month and earlier rows of this ingest, first arrival
    wins) runs one month at a time; consecutive months that receive rows are then numbered
    together, up to :data:`RUN_ROWS` rows (one dictionary join per run, not per month), and
    each month merged and written. Returns the manifest fields to commit (None when nothing
    was new) and, per input file, (rows loaded, of which unknown decimals).
    """
    assert w.dir is not None and w.gen is not None
    gdir = w.dir
    tokens = _assign_tokens(w, stored, spool.tokens())
    lookup = _known_addresses(stored, spool)
    next_id = sum(pq.ParquetFile(f).metadata.num_rows for f in stored.address_files())
    added: list[pl.DataFrame] = []
    counts: dict[int, tuple[int, int]] = {}
    parts: list[dict[str, Any]] = []
    compact_below = max(1, partitions.PART_ROWS // COMPACT_FRACTION)
    run: list[tuple[str, pl.DataFrame]] = []
    fresh: dict[str, dict[str, np.ndarray]] = {}  # edge arrays of the files written, by name

    # Partition files are written on WRITERS background threads while this one de-duplicates
    # and numbers the next month (Parquet encoding releases the GIL); at most WRITERS months
    # are in flight, so memory stays that many months ahead. ``pieces`` keeps the manifest
    # order (each month writes its own files: no two writes touch the same file).
    pool = ThreadPoolExecutor(max_workers=WRITERS)
    pieces: list[list[dict[str, Any]] | Future[list[dict[str, Any]]]] = []

    def write_month(month: str, rows: pl.DataFrame) -> None:
        pending = [p for p in pieces if isinstance(p, Future)]
        for earlier in pending[: max(0, len(pending) - WRITERS + 1)]:
            earlier.result()  # WRITERS writes in flight at most (and their errors surface here)
        pieces.append(pool.submit(_write_month, month, rows))

    def _write_month(month: str, rows: pl.DataFrame) -> list[dict[str, Any]]:
        old = stored.by_month.get(month, [])
        first_ts = int(rows["ts"].dt.epoch("us")[0])
        cut = 0
        while cut < len(old) and old[cut]["last_ts"] < first_ts:
            cut += 1
        if cut == len(old):
            # merge small last files rather than start another, within a rewrite budget
            # proportional to the new rows: many small appends (ingest-rpc flushes) neither
            # leave thousands of tiny files nor rewrite a growing file on every flush
            budget, merged = (MERGE_FACTOR - 1) * rows.height, 0
            while cut and old[cut - 1]["rows"] < compact_below and (
                merged + old[cut - 1]["rows"] <= budget
            ):
                cut -= 1
                merged += old[cut]["rows"]
        keep, redo = old[:cut], old[cut:]
        for p in keep:
            link_or_copy(stored.path(p), gdir / "transfers" / p["file"])
        if redo:
            rows = _chain_order(pl.concat([stored.read(redo), rows]))
        start = part_index(keep[-1]["file"]) + 1 if keep else 0
        writer = PartWriter(gdir / "transfers", STORED_SCHEMA, first_index={month: start})
        table = _write_rows(writer, rows)
        written = writer.close()
        index_parts(gdir, written, table)  # the case index, from the rows still in memory
        if table is not None:  # the graph cache's edges, likewise (edge_log.write_generation)
            edge_log.note_written(fresh, written, edge_arrays(table.select(EDGE_COLUMNS)))
        return [*keep, *written]

    def flush_run() -> None:
        nonlocal lookup, next_id
        if not run:
            return
        rows = run[0][1] if len(run) == 1 else pl.concat([r for _, r in run])  # chain order
        src_id, dst_id, chunk = _number(rows, lookup, next_id, spool.constant)
        if chunk.height:
            next_id += chunk.height
            added.append(chunk)
            lookup = pl.concat([lookup, chunk])
        rows = rows.select(TRANSFER_PL.names()).with_columns(
            pl.Series("src_id", src_id), pl.Series("dst_id", dst_id),
            pl.Series("token_id", _token_ids(rows, tokens, spool.constant)),
        )  # fmt: skip
        at = 0
        for month, r in run:
            write_month(month, rows.slice(at, r.height))
            at += r.height
        run.clear()

    try:
        for month, candidates in spool.ordered(stored.by_month):
            rows = None
            if candidates is not None:
                rows = _first_arrivals(candidates, spool.constant)
                del candidates
                us = rows["ts"].dt.epoch("us")
                first, last = int(us.min()), int(us.max())  # type: ignore[arg-type]
                lo, hi = first - DEDUP_MARGIN_US, last + DEDUP_MARGIN_US
                keys = stored.keys(month, lo, hi)
                if keys.height:
                    rows = rows.join(keys, on=TRANSFER_KEY, how="anti", nulls_equal=True,
                                     maintain_order="left")  # fmt: skip
                if rows.height and ("_file" in spool.constant or _constant(rows["_file"])):
                    # one input file: no group_by
                    per_file = [(rows["_file"][0], rows.height, rows["decimals"].null_count())]
                else:
                    per_file = list(rows.group_by("_file").agg(
                        pl.len(), pl.col("decimals").null_count()).iter_rows())  # fmt: skip
                for f, n, unknown in per_file:
                    a, b = counts.get(f, (0, 0))
                    counts[f] = (a + n, b + unknown)
            if rows is None or rows.height == 0:
                flush_run()  # parts stay in month order
                for p in stored.by_month.get(month, []):
                    link_or_copy(stored.path(p), gdir / "transfers" / p["file"])
                pieces.append(stored.by_month.get(month, []))
                continue
            run.append((month, _chain_order(rows.drop("_file"))))
            del rows
            if sum(r.height for _, r in run) >= RUN_ROWS:
                flush_run()
        flush_run()
        for piece in pieces:
            parts.extend(piece.result() if isinstance(piece, Future) else piece)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # never leave a write running
    if sum(n for n, _ in counts.values()) == 0:
        return None, counts
    names = list(w.base.get("addresses", []))
    for a in names:
        link_or_copy(stored.dir / a, gdir / a)
    if added:
        name = f"addresses-{w.gen:06d}.parquet"
        pl.concat(added).write_parquet(gdir / name)
        names.append(name)
    edge_log.write_generation(gdir, stored.dir if stored.m["generation"] else None,
                              stored.m.get("parts", []), parts, next_id, fresh,
                              lambda p: _part_edges(stored, p), EAGER_GRAPH_ROWS)  # fmt: skip
    write_case_index(gdir, parts, names, base=stored.dir)  # O(new files): the rest is linked
    return {"parts": parts, "addresses": names}, counts


def _part_edges(stored: Stored, part: dict[str, Any]) -> dict[str, np.ndarray]:
    """A stored part's edge arrays, from its id columns (a generation without an edge log)."""
    return edge_arrays(pq.read_table(stored.path(part), columns=EDGE_COLUMNS))
