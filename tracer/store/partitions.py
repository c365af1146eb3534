"""Time-partitioned Parquet storage for the transfer table, read back whole, by row or in chunks.

A generation's transfers live in ``transfers/part-YYYY-MM-KKK.parquet``: one or more files per
calendar month (UTC) of ``ts``, at most ``part_rows`` rows each, row groups of ``row_group``
rows, all in chain order. Concatenating the files in name order gives the table; row ``i`` of
that concatenation is edge ``i``. Each file carries the canonical columns plus the kernels'
integer columns (``src_id``, ``dst_id``, ``token_id``), so a sweep reads five fixed-width
columns (24 bytes a transfer before compression) one row group at a time and never
materialises the whole edge list: memory stays O(addresses) however long the chain.

Why months: a chain grows at its end, so new data lands in the newest partitions; an append
rewrites only the months that receive rows (:mod:`tracer.store.append`) and hard-links the rest. The
file names say which time range a file holds, and tools such as DuckDB or Polars can prune by
name. The manifest's part list, not name order, is the row order (indices may pass 999).
"""

from __future__ import annotations

import functools
import itertools
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from tracer.core import schema as _schema
from tracer.core.lazy_import import lazy_module

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
else:  # imported when first used (~0.1 s a follow in memory never needs)
    pa = lazy_module("pyarrow")
    pc = lazy_module("pyarrow.compute")
    pq = lazy_module("pyarrow.parquet")

T = TypeVar("T")

PART_ROWS = 1 << 23
ROW_GROUP = 1 << 20
if TYPE_CHECKING:  # built on first use (``__getattr__``: no pyarrow for an in-memory follow)
    ID_FIELDS: list[pa.Field]
    #: What a partition file holds: the canonical columns plus the kernels' integer ids.
    STORED_SCHEMA: pa.Schema


@functools.cache
def _arrow_layout() -> tuple[list[pa.Field], pa.Schema]:
    """:data:`ID_FIELDS` and :data:`STORED_SCHEMA`."""
    ids = [pa.field("src_id", pa.int32()), pa.field("dst_id", pa.int32()),
           pa.field("token_id", pa.int32())]  # fmt: skip
    canonical = _schema.TRANSFER_SCHEMA
    return ids, pa.schema([*canonical, *ids], metadata=canonical.metadata)


def __getattr__(name: str) -> Any:
    if name in ("ID_FIELDS", "STORED_SCHEMA"):
        ids, stored = _arrow_layout()
        return stored if name == "STORED_SCHEMA" else ids
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


EDGE_COLUMNS = ["src_id", "dst_id", "ts", "amount", "token_id"]
#: What a sweep of every token reads: no ``token_id`` (nothing to choose by; 4 MB a row group
#: to decompress, ~0.8 s of CPU per 200M transfers).
SWEEP_COLUMNS = ["src_id", "dst_id", "ts", "amount"]
#: Parquet (encoding, compression) of the columns a sweep reads (see PartWriter._options).
EDGE_LAYOUT = {
    "src_id": ("PLAIN", "lz4"),
    "dst_id": ("PLAIN", "lz4"),
    "token_id": ("PLAIN", "lz4"),
    "ts": ("DELTA_BINARY_PACKED", "none"),
    "amount": ("BYTE_STREAM_SPLIT", "zstd"),
}


#: Columns written without a dictionary: ``block`` rises with the rows, so plain + zstd is
#: smaller (0.1 MB against 2 MB per 2M rows) and 3x cheaper to write than a dictionary.
PLAIN_COLUMNS = frozenset({"block"})
#: Text columns whose min/max statistics prune nothing (hashes, addresses, amounts are spread
#: over their whole range in every row group) and cost 15-20 % of their write time.
UNSORTED_TEXT = frozenset({"tx_hash", "src", "dst", "value"})


def _month(ts_us: int) -> str:
    return str(np.datetime64(int(ts_us), "us").astype("datetime64[M]"))


class PartWriter:
    """Write rows in chain order into month partitions (one writer open at a time)."""

    def __init__(
        self,
        directory: Path,
        schema: pa.Schema,
        *,
        part_rows: int | None = None,
        row_group: int | None = None,
        compression: str = "zstd",
        first_index: dict[str, int] | None = None,
    ) -> None:
        self.directory = directory
        self.schema = schema
        # defaults read at call time, so tests can shrink them module-wide
        self.part_rows = part_rows or PART_ROWS
        self.row_group = row_group or ROW_GROUP
        self.compression = compression
        self.parts: list[dict[str, Any]] = []
        self._writer: pq.ParquetWriter | None = None
        self._month: str | None = None
        # an append continues a month's numbering after the files it keeps
        self._counter: dict[str, int] = dict(first_index or {})
        self._physical_schema: pa.Schema | None = None
        directory.mkdir(parents=True, exist_ok=True)

    def write(self, table: pa.Table, ts_us: np.ndarray) -> None:
        """Append ``table`` (rows after everything written so far); ``ts_us`` is its ``ts``.
        Text columns may come as string views or dictionaries (:meth:`_physical`)."""
        n = table.num_rows
        if n == 0:
            return
        physical = self._physical(table)
        if physical is not None:
            table = pa.Table.from_arrays(table.select(physical.names).columns, schema=physical)
        self._physical_schema = physical
        months = ts_us.astype("datetime64[us]").astype("datetime64[M]")
        cuts = [0, *(np.flatnonzero(months[1:] != months[:-1]) + 1).tolist(), n]
        for a, b in itertools.pairwise(cuts):
            month = str(months[a])
            pos = a
            while pos < b:
                if self._writer is None or self._month != month or self._room() == 0:
                    self._open(month, int(ts_us[pos]))
                take = min(b - pos, self._room())
                piece = table.slice(pos, take)
                assert self._writer is not None
                if not piece.schema.equals(self._writer.schema):  # another form, same file
                    piece = piece.cast(self._writer.schema)
                self._writer.write_table(piece, row_group_size=self.row_group)
                part = self.parts[-1]
                part["rows"] += take
                part["last_ts"] = int(ts_us[pos + take - 1])
                pos += take

    def _options(self) -> dict[str, Any]:
        """Per-column encodings: the columns a sweep reads are laid out to decode fast (ids
        plain + lz4, timestamps delta-packed, amounts byte-stream-split + zstd: 46M rows/s
        against 22M/s with dictionary + zstd, for 20 % more bytes, measured on 10M synthetic
        transfers); the rest (hashes, addresses, values) dictionary + zstd, for size, but
        :data:`PLAIN_COLUMNS` plain, and no statistics for :data:`UNSORTED_TEXT`."""
        names = self.schema.names
        fast = [n for n in names if n in EDGE_LAYOUT]
        return {
            "compression": {n: EDGE_LAYOUT[n][1] if n in fast else self.compression for n in names},
            "use_dictionary": [n for n in names if n not in fast and n not in PLAIN_COLUMNS],
            "column_encoding": {n: EDGE_LAYOUT[n][0] for n in fast},
            "write_statistics": [n for n in names if n not in UNSORTED_TEXT],
        }

    def _physical(self, table: pa.Table) -> pa.Schema | None:
        """The schema a table that spells text columns as views or dictionaries (what
        :func:`arrow_rows` hands over without copying the bytes) is written with; None when
        ``table`` has :attr:`schema`'s very types. Only the in-memory form differs: the file
        holds the same Parquet columns and, as its Arrow schema, :attr:`schema` itself."""
        if table.schema.equals(self.schema):
            return None
        fields = []
        for f in self.schema:
            t = table.schema.field(f.name).type
            text = pa.types.is_string(f.type) and (
                pa.types.is_string_view(t)
                or (pa.types.is_dictionary(t) and pa.types.is_string(t.value_type)))
            if not (text or t.equals(f.type)):
                raise TypeError(f"column {f.name}: {t} is not a form of {f.type}")
            fields.append(pa.field(f.name, t, nullable=f.nullable))
        return pa.schema(fields)

    def _room(self) -> int:
        return self.part_rows - self.parts[-1]["rows"]

    def _open(self, month: str, first_ts: int) -> None:
        self._close_writer()
        k = self._counter.get(month, 0)
        self._counter[month] = k + 1
        name = f"part-{month}-{k:03d}.parquet"
        physical = self._physical_schema
        if physical is None:
            self._writer = pq.ParquetWriter(self.directory / name, self.schema, **self._options())
        else:  # the canonical Arrow schema is stored, not the in-memory spelling
            self._writer = pq.ParquetWriter(self.directory / name, physical, store_schema=False,
                                            **self._options())  # fmt: skip
            self._writer.add_key_value_metadata(arrow_schema_metadata(self.schema))
        self._month = month
        self.parts.append({"file": name, "rows": 0, "first_ts": first_ts, "last_ts": first_ts})

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self) -> list[dict[str, Any]]:
        """Finish the last file; returns the parts (file, rows, first/last ts in µs)."""
        self._close_writer()
        return self.parts


def arrow_schema_metadata(schema: pa.Schema) -> dict[str, str]:
    """The key-value metadata pyarrow stores for ``schema`` (``ARROW:schema``: the IPC
    schema, base64; plus the schema's own metadata), byte for byte what ``store_schema``
    writes, so readers see ``schema`` whatever form the columns had in memory."""
    import base64

    meta = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
    return {**meta, "ARROW:schema": base64.b64encode(schema.serialize().to_pybytes()).decode()}


def arrow_rows(frame: Any, schema: pa.Schema) -> pa.Table:
    """A Polars frame of ``schema``'s columns as Arrow without copying text: string views as
    Polars holds them (``to_arrow`` of plain strings copies every byte), and a text column of
    one non-null value as a dictionary of that value (nothing per row but a zero index; the
    Parquet writer then writes the dictionary as it is instead of hashing every row).
    :class:`PartWriter` writes either form as the plain columns of ``schema``."""
    import polars as pl

    table = frame.select(schema.names).to_arrow(compat_level=pl.CompatLevel.newest())
    n = table.num_rows
    zeros: pa.Array | None = None
    cols = []
    for f in schema:
        col = table.column(f.name)
        if pa.types.is_string(f.type) and n and col.null_count == 0:
            s = frame[f.name]
            first = s[0]
            probe = s.gather(np.linspace(0, n - 1, min(n, 16)).astype(np.int64))
            if bool((probe == first).all()) and bool((s == first).all()):
                if zeros is None:
                    zeros = pa.array(np.zeros(n, dtype=np.int32))
                col = pa.DictionaryArray.from_arrays(zeros, pa.array([first], pa.string()))
        elif not (pa.types.is_string(f.type) and pa.types.is_string_view(col.type)):
            col = col.cast(f.type)
        cols.append(col)
    return pa.Table.from_arrays(cols, names=schema.names)


@dataclass(frozen=True)
class RowGroup:
    path: Path
    index: int
    rows: int


class PartReader:
    """Row groups of a generation's partitions, in chain order, with global row numbers."""

    def __init__(self, directory: Path, parts: list[dict[str, Any]]) -> None:
        self.directory = directory
        self.parts = parts
        self._files: dict[Path, pq.ParquetFile] = {}
        groups: list[RowGroup] = []
        for part in parts:
            path = directory / part["file"]
            meta = self._file(path).metadata
            groups.extend(RowGroup(path, i, meta.row_group(i).num_rows)
                          for i in range(meta.num_row_groups))  # fmt: skip
        self.groups = groups
        self.starts = np.zeros(len(groups) + 1, dtype=np.int64)
        np.cumsum([g.rows for g in groups], out=self.starts[1:])

    def clone(self) -> PartReader:
        """The same row groups with file handles of its own (metadata not read again).

        Why: a read-ahead thread decodes with this copy while the caller may read the
        original (``take`` for the rows a result shows): two threads on one
        ``pq.ParquetFile`` hung and crashed the test suite (h-sweep round)."""
        twin = object.__new__(PartReader)
        twin.directory, twin.parts, twin.groups, twin.starts = (
            self.directory, self.parts, self.groups, self.starts)  # fmt: skip
        twin._files = {}
        return twin

    @property
    def num_rows(self) -> int:
        return int(self.starts[-1])

    def _file(self, path: Path) -> pq.ParquetFile:
        if path not in self._files:
            self._files[path] = pq.ParquetFile(path)
        return self._files[path]

    def read_group(self, k: int, columns: list[str]) -> pa.Table:
        g = self.groups[k]
        return self._file(g.path).read_row_group(g.index, columns=columns)

    def read_all(self, columns: list[str]) -> pa.Table:
        tables = [pq.read_table(self.directory / p["file"], columns=columns) for p in self.parts]
        return pa.concat_tables(tables) if tables else None  # type: ignore[return-value]

    def take(self, rows: np.ndarray, columns: list[str]) -> pa.Table:
        """Rows by global number, in the order given; only the row groups holding them are read
        (showing a few paths from a billion-row table decodes a few row groups), one at a
        time: each group's rows are taken before the next is decoded, so memory is one row
        group plus the result. (Reading every group first, then taking, held all of them:
        the paths of a 200M-transfer follow decoded ~60 groups of hashes at once, 3.8 GB.)"""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size * 2 >= self.num_rows:  # most rows wanted: read the columns whole
            return self.read_all(columns).take(pa.array(rows))
        groups = np.searchsorted(self.starts, rows, side="right") - 1
        order = np.argsort(groups, kind="stable")
        bounds = np.flatnonzero(np.diff(groups[order])) + 1
        pieces = []
        for at in np.split(order, bounds) if rows.size else []:
            k = int(groups[at[0]])
            local = rows[at] - self.starts[k]
            pieces.append(self.read_group(k, columns).take(pa.array(local)))
        if not pieces:  # no rows asked: the columns' types, nothing decoded
            schema = (self._file(self.groups[0].path).schema_arrow if self.groups
                      else _arrow_layout()[1])  # fmt: skip
            return schema.empty_table().select(columns)
        table = pa.concat_tables(pieces)
        back = np.empty(rows.size, dtype=np.int64)
        back[order] = np.arange(rows.size)  # row i of the request is row back[i] of table
        return table.take(pa.array(back))

    def chunks(
        self, columns: list[str], *, reverse: bool = False, prefetch: bool = True
    ) -> Iterator[tuple[int, pa.Table]]:
        """``(first row number, table)`` per row group, oldest first (``reverse``: newest
        first, rows still in chain order inside each table). With ``prefetch`` the next groups
        are decoded on a read-ahead thread (:func:`read_ahead`, its own file handles) while the
        caller works on this one (Parquet decoding releases the GIL, and so do the kernels),
        which overlaps I/O and decoding with the sweep on a second core."""
        order = self.row_groups(reverse)
        if not prefetch:
            for k in order:
                yield int(self.starts[k]), self.read_group(k, columns)
            return
        yield from read_ahead(self, order, columns, lambda start, table: (start, table))

    def row_groups(self, reverse: bool = False) -> list[int]:
        """Row-group numbers in sweep order (``reverse``: newest first)."""
        n = len(self.groups)
        return list(range(n - 1, -1, -1)) if reverse else list(range(n))


#: Row groups decoded ahead of the consumer: two smooth out a group that decodes slowly
#: (I/O) at the cost of two more groups in memory (about 30 MB each for the sweep's columns).
AHEAD = 2


def read_ahead(
    reader: PartReader,
    order: list[int],
    columns: list[str],
    prepare: Callable[[int, pa.Table], T],
    ahead: int = AHEAD,
) -> Iterator[T]:
    """``prepare(first row number, table)`` of each row group in ``order``, computed on one
    read-ahead thread up to ``ahead`` groups before the consumer takes them, in that order.

    The thread reads through its own :meth:`PartReader.clone` (its own file handles) and is
    the only one using it; ``prepare`` runs there too, so whatever a chunk needs that does not
    depend on the consumer's state (id gathers, masks) is off the consumer's core. Leaving
    the loop early cancels what was not started and waits for what was."""
    if not order:
        return
    twin = reader.clone()

    def job(k: int) -> T:
        return prepare(int(twin.starts[k]), twin.read_group(k, columns))

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracer-read-ahead")
    try:
        pending: deque[Future[T]] = deque(pool.submit(job, k) for k in order[: ahead + 1])
        nxt = len(pending)
        while pending:
            result = pending.popleft().result()
            if nxt < len(order):
                pending.append(pool.submit(job, order[nxt]))
                nxt += 1
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def with_ids(
    canonical: pa.Table, src: np.ndarray, dst: np.ndarray, token_id: np.ndarray
) -> pa.Table:
    """A canonical table plus the kernels' id columns: a row of :data:`STORED_SCHEMA`."""
    for f, arr in zip(_arrow_layout()[0], (src, dst, token_id), strict=True):
        canonical = canonical.append_column(f, pa.array(np.asarray(arr, dtype=np.int32)))
    return canonical


def edge_arrays(table: pa.Table) -> dict[str, np.ndarray]:
    """Kernel arrays (``src, dst, ts, amount, token_id``) from a table of :data:`EDGE_COLUMNS`
    (zero-copy where Arrow allows); a column the table lacks is left out (:data:`SWEEP_COLUMNS`
    have no ``token_id``; a path's rows need no ids)."""
    names = set(table.column_names)

    def col(name: str) -> pa.Array:
        c = table.column(name)
        return c.combine_chunks() if c.num_chunks != 1 else c.chunk(0)

    out: dict[str, np.ndarray] = {}
    for key, name in (("src", "src_id"), ("dst", "dst_id")):
        if name in names:
            out[key] = col(name).to_numpy(zero_copy_only=False)
    if "ts" in names:
        out["ts"] = col("ts").cast(pa.int64()).to_numpy(zero_copy_only=False)
    if "amount" in names:
        amount = col("amount")
        if amount.null_count:
            amount = pc.fill_null(amount, float("nan"))
        out["amount"] = amount.to_numpy(zero_copy_only=False)
    if "token_id" in names:
        out["token_id"] = col("token_id").to_numpy(zero_copy_only=False)
    return out
