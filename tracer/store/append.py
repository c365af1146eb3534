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
  appends (``ingest-rpc`` flushes) do not leave thousands of tiny files.
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

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from tracer.core.schema import TRANSFER_KEY, TRANSFER_PL, to_arrow_transfers
from tracer.store import partitions
from tracer.store.generation import Writer, link_or_copy
from tracer.store.graph_cache import graph_from_arrays
from tracer.store.partitions import EDGE_COLUMNS, STORED_SCHEMA, PartWriter, edge_arrays, with_ids

#: A month's last file smaller than this share of ``PART_ROWS`` is merged into, not followed.
COMPACT_FRACTION = 8
#: Up to this many rows in the new generation, its graph cache is written at ingest (cheap, and
#: a first ``follow`` then starts at once); above, it is built on first use.
EAGER_GRAPH_ROWS = 2_000_000
#: Candidate rows an ingest keeps in memory before spooling them to disk (about 125 MB).
SPOOL_MEMORY_ROWS = 500_000
#: New rows numbered and written together (bounds memory; one dictionary join per run).
RUN_ROWS = 1_000_000
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

    Integer month keys, not formatted strings, for the split: 10x cheaper per row."""
    ts = frame["ts"]
    key = (ts.dt.year().cast(pl.Int32) * 100 + ts.dt.month().cast(pl.Int32)).alias("_m")
    keys = key.unique().sort().to_list()
    if len(keys) == 1:
        return [(f"{keys[0] // 100:04d}-{keys[0] % 100:02d}", frame)]
    return [(f"{k // 100:04d}-{k % 100:02d}", frame.filter(key == k)) for k in keys]


class Stored:
    """The committed generation, read month by month (never whole)."""

    def __init__(self, root: Path, m: dict[str, Any]) -> None:
        self.root = root
        self.m = m
        self.dir = root / f"g{m['generation']}"
        self.by_month: dict[str, list[dict[str, Any]]] = {}
        for p in m.get("parts", []):
            self.by_month.setdefault(part_month(p["file"]), []).append(p)
        self._keys: dict[str, pl.DataFrame] = {}

    def path(self, part: dict[str, Any]) -> Path:
        return self.dir / "transfers" / part["file"]

    def keys(self, month: str) -> pl.DataFrame:
        """The de-duplication keys of one month's stored rows."""
        if month not in self._keys:
            files = [self.path(p) for p in self.by_month.get(month, [])]
            self._keys[month] = (
                pl.concat([pl.read_parquet(f, columns=TRANSFER_KEY) for f in files])
                if files
                else pl.DataFrame(schema={k: TRANSFER_PL[k] for k in TRANSFER_KEY})
            )
        return self._keys[month]

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

    @property
    def months(self) -> set[str]:
        return set(self.files) | set(self.memory)

    def add(self, rows: pl.DataFrame, file_index: int) -> None:
        if rows.height == 0:
            return
        rows = rows.with_columns(
            pl.lit(file_index, pl.Int32).alias("_file"),
            (pl.int_range(pl.len(), dtype=pl.Int64) + self.rows).alias("_ord"),
        )
        self.rows += rows.height
        self._in_memory += rows.height
        for month, part in month_groups(rows):
            self.memory.setdefault(month, []).append(part)
        if self._in_memory > SPOOL_MEMORY_ROWS:
            self._flush()

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
        return pl.concat([*frames, *self.memory.get(month, [])])

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


def _known_addresses(stored: Stored, spool: Spool) -> pl.DataFrame:
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


def _new_addresses(rows: pl.DataFrame, lookup: pl.DataFrame, next_id: int) -> pl.DataFrame:
    """Ids for the addresses of ``rows`` (chain order) not in ``lookup``: first appearance,
    source before destination, as :func:`tracer.store.graph_cache.build_graph` numbers them."""
    n = rows.height
    ends = pl.concat([
        rows.select((pl.int_range(n, dtype=pl.Int64) * 2).alias("pos"), "chain",
                    pl.col("src").alias("address")),
        rows.select((pl.int_range(n, dtype=pl.Int64) * 2 + 1).alias("pos"), "chain",
                    pl.col("dst").alias("address")),
    ]).sort("pos")  # fmt: skip
    ends = ends.unique(["chain", "address"], keep="first", maintain_order=True).drop("pos")
    fresh = ends.join(lookup, on=["chain", "address"], how="anti", maintain_order="left")
    if next_id + fresh.height >= 2**31 - 1:
        raise OverflowError("more than 2**31-1 addresses: int32 ids exhausted")
    return fresh.select(
        (pl.int_range(fresh.height, dtype=pl.Int64) + next_id).cast(pl.Int32).alias("id"),
        "chain", "address",
    )  # fmt: skip


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


def _with_id_columns(new: pl.DataFrame, addr: pl.DataFrame, tokens: pl.DataFrame) -> pl.DataFrame:
    a = addr.rename({"address": "_a", "id": "_id"})
    out = new.join(a.rename({"_id": "src_id"}), left_on=["chain", "src"], right_on=["chain", "_a"],
                   how="left", maintain_order="left")  # fmt: skip
    out = out.join(a.rename({"_id": "dst_id"}), left_on=["chain", "dst"], right_on=["chain", "_a"],
                   how="left", maintain_order="left")  # fmt: skip
    out = out.join(tokens, on=["chain", "token", "asset", "decimals"], how="left",
                   maintain_order="left", nulls_equal=True)  # fmt: skip
    return out.select(*TRANSFER_PL.names(), *ID_PL).cast(ID_PL)  # type: ignore[arg-type]


def _write_rows(writer: PartWriter, rows: pl.DataFrame) -> None:
    if rows.height == 0:
        return
    table = with_ids(to_arrow_transfers(rows), rows["src_id"].to_numpy(),
                     rows["dst_id"].to_numpy(), rows["token_id"].to_numpy())  # fmt: skip
    writer.write(table, rows["ts"].dt.epoch("us").to_numpy())


def append(
    w: Writer, stored: Stored, spool: Spool
) -> tuple[dict[str, Any] | None, dict[int, tuple[int, int]]]:
    """Write ``w``'s new generation: the stored one plus the spooled rows that are new.

    De-duplication (against the stored month and earlier rows of this ingest, first arrival
    wins) runs one month at a time; consecutive months that receive rows are then numbered
    together, up to :data:`RUN_ROWS` rows (one dictionary join per run, not per month), and
    each month merged and written. Returns the manifest fields to commit (None when nothing
    was new) and, per input file, (rows loaded, of which unknown decimals).
    """
    from tracer.store.graph_cache import sort_transfers

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

    def write_month(month: str, rows: pl.DataFrame) -> None:
        old = stored.by_month.get(month, [])
        first_ts = int(rows["ts"].dt.epoch("us")[0])
        cut = 0
        while cut < len(old) and old[cut]["last_ts"] < first_ts:
            cut += 1
        if cut == len(old) and cut and old[-1]["rows"] < compact_below:
            cut -= 1  # merge into a small last file instead of starting another
        keep, redo = old[:cut], old[cut:]
        for p in keep:
            link_or_copy(stored.path(p), gdir / "transfers" / p["file"])
        if redo:
            rows = sort_transfers(pl.concat([stored.read(redo), rows]))
        start = part_index(keep[-1]["file"]) + 1 if keep else 0
        writer = PartWriter(gdir / "transfers", STORED_SCHEMA, first_index={month: start})
        _write_rows(writer, rows)
        parts.extend(keep)
        parts.extend(writer.close())

    def flush_run() -> None:
        nonlocal lookup, next_id
        if not run:
            return
        rows = pl.concat([r for _, r in run])  # months ascending, each in chain order
        chunk = _new_addresses(rows, lookup.select("chain", "address"), next_id)
        if chunk.height:
            next_id += chunk.height
            added.append(chunk)
            lookup = pl.concat([lookup, chunk])
        rows = _with_id_columns(rows, lookup, tokens)
        at = 0
        for month, r in run:
            write_month(month, rows.slice(at, r.height))
            at += r.height
        run.clear()

    for month in sorted(set(stored.by_month) | spool.months):
        rows = None
        if month in spool.months:
            rows = spool.month(month).unique(TRANSFER_KEY, keep="first", maintain_order=True)
            keys = stored.keys(month)
            if keys.height:
                rows = rows.join(keys, on=TRANSFER_KEY, how="anti", nulls_equal=True,
                                 maintain_order="left")  # fmt: skip
            per_file = rows.group_by("_file").agg(pl.len(), pl.col("decimals").null_count())
            for f, n, unknown in per_file.iter_rows():
                a, b = counts.get(f, (0, 0))
                counts[f] = (a + n, b + unknown)
        if rows is None or rows.height == 0:
            flush_run()  # parts stay in month order
            for p in stored.by_month.get(month, []):
                link_or_copy(stored.path(p), gdir / "transfers" / p["file"])
            parts.extend(stored.by_month.get(month, []))
            continue
        run.append((month, sort_transfers(rows.drop("_file", "_ord"))))
        del rows
        if sum(r.height for _, r in run) >= RUN_ROWS:
            flush_run()
    flush_run()
    if sum(n for n, _ in counts.values()) == 0:
        return None, counts
    names = list(w.base.get("addresses", []))
    for a in names:
        link_or_copy(stored.dir / a, gdir / a)
    if added:
        name = f"addresses-{w.gen:06d}.parquet"
        pl.concat(added).write_parquet(gdir / name)
        names.append(name)
    if sum(p["rows"] for p in parts) <= EAGER_GRAPH_ROWS:
        write_graph_cache(gdir, parts, names)
    return {"parts": parts, "addresses": names}, counts


def write_graph_cache(
    gdir: Path, parts: list[dict[str, Any]], address_files: Iterable[str]
) -> None:
    """Edge arrays + CSR of a generation, from its partitions' id columns."""
    from tracer.core.atomic import atomic_path

    tables = [pq.read_table(gdir / "transfers" / p["file"], columns=EDGE_COLUMNS) for p in parts]
    if tables:
        table = pa.concat_tables(tables)
    else:
        table = pa.table({c: pa.array([], type=STORED_SCHEMA.field(c).type) for c in EDGE_COLUMNS})
    files = [gdir / a for a in address_files]
    n_nodes = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    nodes = pl.DataFrame({"id": np.arange(n_nodes, dtype=np.int32)})
    graph = graph_from_arrays(**edge_arrays(table), addresses=nodes, tokens=pl.DataFrame())
    (gdir / "graph").mkdir(exist_ok=True)
    for name, arr in graph.arrays().items():
        with atomic_path(gdir / "graph" / f"{name}.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(arr))
