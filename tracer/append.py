"""Append-only ingest: new rows join the store in O(new rows + the months they land in).

A generation is the previous one plus new rows. Given the new rows (de-duplicated, in chain
order) the :class:`~tracer.generation.Writer`'s new generation gets:

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
month is fixed by its block time, so a re-exported transfer lands in the same month).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from tracer import partitions
from tracer.generation import Writer, link_or_copy
from tracer.graph import graph_from_arrays
from tracer.partitions import EDGE_COLUMNS, STORED_SCHEMA, PartWriter, edge_arrays, with_ids
from tracer.schema import TRANSFER_KEY, TRANSFER_PL, to_arrow_transfers

#: A month's last file smaller than this share of ``PART_ROWS`` is merged into, not followed.
COMPACT_FRACTION = 8
#: Up to this many rows in the new generation, its graph cache is written at ingest (cheap, and
#: a first ``follow`` then starts at once); above, it is built on first use.
EAGER_GRAPH_ROWS = 2_000_000
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


def month_of(frame: pl.DataFrame) -> pl.Series:
    """``YYYY-MM`` (UTC) of each row's ``ts``, as partition names spell it."""
    return frame["ts"].dt.strftime("%Y-%m")


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


@dataclass
class Dedup:
    """Drops rows already stored or already taken earlier in this ingest."""

    stored: Stored
    taken: dict[str, pl.DataFrame] = field(default_factory=dict)

    def fresh(self, rows: pl.DataFrame) -> pl.DataFrame:
        rows = rows.unique(TRANSFER_KEY, keep="first", maintain_order=True)
        if rows.height == 0:
            return rows
        months = month_of(rows)
        out = []
        for month in months.unique(maintain_order=True).to_list():
            sub = rows.filter(months == month)
            seen = [self.stored.keys(month)]
            if month in self.taken:
                seen.append(self.taken[month])
            for s in seen:
                if s.height:
                    sub = sub.join(s, on=TRANSFER_KEY, how="anti", nulls_equal=True,
                                   maintain_order="left")  # fmt: skip
            if sub.height:
                keys = sub.select(TRANSFER_KEY)
                self.taken[month] = (
                    pl.concat([self.taken[month], keys]) if month in self.taken else keys
                )
                out.append(sub)
        # keep the input's order (months were split only to bound the key reads)
        return pl.concat(out) if out else rows.clear()


def _assign_addresses(
    w: Writer, stored: Stored, new: pl.DataFrame
) -> tuple[pl.DataFrame, str | None]:
    """(chain, address, id) for every endpoint of ``new``; writes the chunk of new ids."""
    n = new.height
    ends = pl.concat([
        new.select((pl.int_range(n, dtype=pl.Int64) * 2).alias("pos"), "chain",
                   pl.col("src").alias("address")),
        new.select((pl.int_range(n, dtype=pl.Int64) * 2 + 1).alias("pos"), "chain",
                   pl.col("dst").alias("address")),
    ]).sort("pos")  # fmt: skip
    ends = ends.unique(["chain", "address"], keep="first", maintain_order=True).drop("pos")
    files = stored.address_files()
    next_id = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    if files:
        known = (
            pl.scan_parquet(files)
            .join(ends.lazy(), on=["chain", "address"], how="semi")
            .select("id", "chain", "address")
            .collect()
        )
        fresh = ends.join(known, on=["chain", "address"], how="anti", maintain_order="left")
    else:
        known, fresh = pl.DataFrame(schema={"id": pl.Int32, "chain": pl.String,
                                            "address": pl.String}), ends  # fmt: skip
    if next_id + fresh.height >= 2**31 - 1:
        raise OverflowError("more than 2**31-1 addresses: int32 ids exhausted")
    chunk = fresh.select(
        (pl.int_range(fresh.height, dtype=pl.Int64) + next_id).cast(pl.Int32).alias("id"),
        "chain", "address",
    )  # fmt: skip
    name = None
    if chunk.height:
        assert w.dir is not None and w.gen is not None
        name = f"addresses-{w.gen:06d}.parquet"
        chunk.write_parquet(w.dir / name)
    return pl.concat([known.cast({"id": pl.Int32}), chunk]), name


def _assign_tokens(w: Writer, stored: Stored, new: pl.DataFrame) -> pl.DataFrame:
    """The token dictionary with ``new``'s tokens appended (sorted among themselves, as an
    at-once ingest sorts them); written whole (it is small)."""
    cols = ["chain", "token", "asset", "decimals"]
    old = stored.tokens()
    seen = new.select(cols).unique(maintain_order=True)
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


def append(w: Writer, new: pl.DataFrame) -> dict[str, Any]:
    """Write ``w``'s new generation: the stored one plus ``new`` (fresh rows, chain order).

    Returns the manifest fields to commit (``parts``, ``addresses``).
    """
    from tracer.graph import sort_transfers

    stored = Stored(w.root, w.base)
    gdir = w.start_generation()
    new = sort_transfers(new)
    addr, chunk = _assign_addresses(w, stored, new)
    tokens = _assign_tokens(w, stored, new)
    new = _with_id_columns(new, addr, tokens)
    del addr
    for a in w.base.get("addresses", []):
        link_or_copy(stored.dir / a, gdir / a)
    months = month_of(new)
    new_months = set(months.unique().to_list())
    parts: list[dict[str, Any]] = []
    compact_below = max(1, partitions.PART_ROWS // COMPACT_FRACTION)
    for month in sorted(set(stored.by_month) | new_months):
        old = stored.by_month.get(month, [])
        if month not in new_months:
            for p in old:
                link_or_copy(stored.path(p), gdir / "transfers" / p["file"])
            parts.extend(old)
            continue
        rows = new.filter(months == month)
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
        del rows
    total = sum(p["rows"] for p in parts)
    names = [*w.base.get("addresses", []), *([chunk] if chunk else [])]
    if total <= EAGER_GRAPH_ROWS:
        write_graph_cache(gdir, parts, names)
    return {"parts": parts, "addresses": names}


def write_graph_cache(
    gdir: Path, parts: list[dict[str, Any]], address_files: Iterable[str]
) -> None:
    """Edge arrays + CSR of a generation, from its partitions' id columns."""
    from tracer.atomic import atomic_path

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
