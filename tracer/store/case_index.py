"""The case index: what a case-sized question reads, stored per file so it costs O(what it shows).

A follow from one wallet touches a few thousand transfers, but showing its paths needs each
step's ``tx_hash`` and exact ``value``, and finding the wallet needs its id. Read from Parquet,
the first decodes whole 1M-row row groups (~0.4 s) and the second joins every address (~0.05 s
on 2M, seconds on 40M). The case index keeps, beside each generation's files, in ``case/``:

* per partition file ``part-….parquet``: ``<stem>.hash.npy`` (uint8[rows, 32]: each transaction
  hash as bytes), ``<stem>.value.npy`` (uint64[rows, 2]: each exact value as two base-10**19
  limbs) and ``<stem>.kind.npy`` (uint8[rows]: the :mod:`kernels.fixed_width` flags: hash form,
  rows whose text has no exact fixed-width form and are read from Parquet instead, null
  amounts). Edge ``i`` is row ``i`` of the partitions in manifest order, so the row of an edge
  is found from the parts' row counts;
* per address dictionary chunk ``addresses-….parquet``: ``<stem>.hash.npy`` (uint64, sorted:
  the stable FNV-1a hash of each address text) and ``<stem>.ids.npy`` (int32, the ids in the
  same order): an address lookup is a binary search per chunk, O(log N).

Why per file: an append-only ingest keeps unchanged partition files and dictionary chunks
(hard links, :mod:`tracer.store.append`), so their index files are hard-linked too and only the
new or rewritten files are indexed, O(new rows). ``kind`` is written last: it marks a part's
index complete. Everything here is optional: a missing file (an older workspace, a crash
before it was written) means that part's rows are read from Parquet as before, with the same
result.
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from tracer.core.atomic import atomic_path
from tracer.core.lazy_import import lazy_module
from tracer.core.schema import TRANSFER_PL
from tracer.kernels.fixed_width import (
    AMOUNT_NULL,
    HASH_RAW,
    VALUE_RAW,
    hash_text,
    hashes_into,
    value_text,
    values_into,
)

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
else:  # imported when first used: an in-memory follow never reads an index
    pa = lazy_module("pyarrow")
    pc = lazy_module("pyarrow.compute")
    pq = lazy_module("pyarrow.parquet")
from tracer.kernels.hashing import fnv1a64
from tracer.store.generation import CASE_DIR

#: Transfer columns :meth:`CaseIndex.rows` serves (the rest are read from Parquet).
SERVED = frozenset({"tx_hash", "value", "amount", "ts", "decimals", "chain", "asset", "token"})
PART_FILES = ("hash", "value", "kind")
#: how many decoded address texts a session keeps (:meth:`CaseIndex.address_texts`)
TEXT_CACHE = 1 << 20
ADDRESS_FILES = ("hash", "ids")
#: per dictionary chunk, the address texts by id (``text`` written last: complete)
TEXT_FILES = ("chains", "chain", "offsets", "text")


def _stem(name: str) -> str:
    return name.removesuffix(".parquet")


def _strings(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Arrow string layout ``(offsets, data)`` of a string column (zero-copy where it can)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.large_string())
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=width)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    return offsets, data


def _save(path: Path, arr: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(arr))


#: ``(dtype, trailing shape)`` of each partition index array.
PART_LAYOUT: dict[str, tuple[type[np.generic], tuple[int, ...]]] = {
    "hash": (np.uint8, (32,)), "value": (np.uint64, (2,)), "kind": (np.uint8, ())}  # fmt: skip


def encode_part(
    table: pa.Table, out: Mapping[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """The index arrays of one partition's rows (``table``: tx_hash, value, amount); ``out``:
    zero-filled arrays of :data:`PART_LAYOUT` to fill (e.g. maps of the files to write)."""
    n = table.num_rows
    if out is None:
        out = {k: np.zeros((n, *shape), dtype=dt) for k, (dt, shape) in PART_LAYOUT.items()}
    raw, limbs, kind = out["hash"], out["value"], out["kind"]
    out = dict(out)
    for name, arr, into in (("tx_hash", raw, hashes_into), ("value", limbs, values_into)):
        at = 0  # chunk by chunk into slices: no copy of the column into one buffer
        for chunk in table.column(name).chunks:
            m = len(chunk)
            into(*_strings(chunk), arr[at : at + m], kind[at : at + m])
            at += m
    null = pc.is_null(table.column("amount")).to_numpy(zero_copy_only=False)
    kind |= np.where(null, AMOUNT_NULL, 0).astype(np.uint8)
    return out


def address_hashes(addresses: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Stable 64-bit hashes of address texts (what the lookup searches)."""
    return fnv1a64(*_strings(addresses))


def fnv1a_text(text: str) -> int:
    """:func:`address_hashes` of one text in plain Python: a lookup hashes a few bytes, and
    loading the numba kernel costs more than the whole search in a new process."""
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def encode_addresses(table: pa.Table) -> dict[str, np.ndarray]:
    """The sorted lookup arrays of one dictionary chunk (``table``: id, address)."""
    h = address_hashes(table.column("address"))
    order = np.argsort(h, kind="stable")
    ids = table.column("id").to_numpy().astype(np.int32)
    return {"hash": h[order], "ids": ids[order]}


def encode_texts(table: pa.Table) -> dict[str, np.ndarray] | None:
    """The id-ordered text arrays of one dictionary chunk (``table``: id, chain, address):
    the address bytes and their offsets, a chain code per id and the chain names. None when
    the chunk's ids are not consecutive in row order (then id -> row needs the frame)."""
    ids = table.column("id").to_numpy()
    if ids.size and not np.array_equal(ids, np.arange(ids[0], ids[0] + ids.size)):
        return None
    offsets, data = _strings(table.column("address"))
    chain = table.column("chain").combine_chunks().dictionary_encode()
    names = np.array(chain.dictionary.to_pylist(), dtype=np.str_)
    codes = chain.indices.to_numpy(zero_copy_only=False).astype(np.uint8)
    if names.size > 255:
        return None
    return {"chains": names, "chain": codes, "offsets": (offsets - offsets[0]).astype(np.int64),
            "text": data[offsets[0] : offsets[-1]]}  # fmt: skip


def _files(folder: Path, stem: str, names: tuple[str, ...]) -> list[Path]:
    return [folder / f"{stem}.{n}.npy" for n in names]


def _index_file(
    gdir: Path, source: Path, names: tuple[str, ...], base: Path | None,
    build: Callable[[], dict[str, np.ndarray] | None],
) -> None:
    """Write one file's index in ``gdir/case`` unless present: hard-linked from ``base`` (the
    previous generation's folder) when ``source`` is the very file that index was built from
    (same inode), else built. The last name is written last: it marks the index complete."""
    folder = gdir / CASE_DIR
    stem = _stem(source.name)
    targets = _files(folder, stem, names)
    if targets[-1].exists():
        return
    if base is not None:
        old_source = base / source.relative_to(gdir)
        olds = _files(base / CASE_DIR, stem, names)
        if olds[-1].exists() and old_source.exists() and os.path.samefile(old_source, source):
            for old, new in zip(olds, targets, strict=True):
                new.unlink(missing_ok=True)
                os.link(old, new)
            return
    arrays = build()
    if arrays is None:
        return
    for name, target in zip(names, targets, strict=True):
        _save(target, arrays[name])


def write_case_index(
    gdir: Path, parts: Iterable[dict[str, Any]], address_files: Iterable[str],
    base: Path | None = None,
) -> None:
    """Index every partition and dictionary chunk of generation folder ``gdir`` that has no
    index yet (linking ``base``'s for unchanged files). Idempotent; O(rows of new files)."""
    (gdir / CASE_DIR).mkdir(exist_ok=True)
    for p in parts:
        src = gdir / "transfers" / p["file"]
        _index_file(gdir, src, PART_FILES, base, partial(_read_part, src))
    for a in address_files:
        src = gdir / a
        _index_file(gdir, src, ADDRESS_FILES, base, partial(_read_addresses, src))
        _index_file(gdir, src, TEXT_FILES, base, partial(_read_texts, src))


def _read_part(src: Path) -> dict[str, np.ndarray]:
    return encode_part(pq.read_table(src, columns=["tx_hash", "value", "amount"]))


def _read_addresses(src: Path) -> dict[str, np.ndarray]:
    return encode_addresses(pq.read_table(src, columns=["id", "address"]))


def _read_texts(src: Path) -> dict[str, np.ndarray] | None:
    return encode_texts(pq.read_table(src, columns=["id", "chain", "address"]))


def index_parts(gdir: Path, written: list[dict[str, Any]], rows: pa.Table | None) -> None:
    """Index the partition files just written from ``rows`` (the Arrow table written into
    them, in order), without reading them back: one encoding pass over data in memory."""
    folder = gdir / CASE_DIR
    folder.mkdir(exist_ok=True)
    at = 0
    for p in written:
        assert rows is not None
        part = rows.slice(at, p["rows"]).select(["tx_hash", "value", "amount"])
        at += p["rows"]
        _encode_into_files(part, _files(folder, _stem(p["file"]), PART_FILES))


def _encode_into_files(part: pa.Table, targets: list[Path]) -> None:
    """:func:`encode_part` straight into the ``.npy`` files (``np.save``'s very bytes): each
    array is a map of its temp file (:func:`~tracer.core.atomic.atomic_path`), so the 480 MB
    of a 10M-row index are written once, not built in memory and then copied to the file.
    ``kind`` (the last target) is renamed into place last: it marks the index complete."""
    from contextlib import ExitStack

    from numpy.lib.format import open_memmap

    n = part.num_rows
    if n == 0:  # nothing to map (mmap refuses an empty range)
        arrays = encode_part(part)
        for name, target in zip(PART_FILES, targets, strict=True):
            _save(target, arrays[name])
        return
    with ExitStack() as stack:
        # entered last-first: ExitStack renames in reverse, so ``kind`` goes last
        tmps = {name: stack.enter_context(atomic_path(target))
                for name, target in reversed(list(zip(PART_FILES, targets, strict=True)))}
        maps = {name: open_memmap(tmps[name], mode="w+", dtype=PART_LAYOUT[name][0],
                                  shape=(n, *PART_LAYOUT[name][1]))
                for name in PART_FILES}  # fmt: skip
        encode_part(part, maps)
        for arr in maps.values():
            arr.flush()
        del maps


#: Names of derived arrays (:func:`save_derived`): a kind and 16 hex digits of its key.
DERIVED_RE = re.compile(r"prior-[0-9a-f]{16}")
_DONE = "done"


def save_derived(gdir: Path, name: str, arrays: dict[str, np.ndarray]) -> None:
    """Store ``arrays`` as ``case/<name>.<field>.npy``; a ``done`` file, written last, marks
    the set complete (a crash midway leaves it absent: recomputed, never half read)."""
    if not DERIVED_RE.fullmatch(name) or _DONE in arrays:
        raise ValueError(f"not a derived array name: {name!r}")
    folder = gdir / CASE_DIR
    folder.mkdir(exist_ok=True)
    for field_name, arr in arrays.items():
        _save(folder / f"{name}.{field_name}.npy", arr)
    _save(folder / f"{name}.{_DONE}.npy", np.array(sorted(arrays), dtype=np.str_))


def load_derived(gdir: Path, name: str) -> dict[str, np.ndarray] | None:
    """The arrays :func:`save_derived` stored under ``name`` (memory-mapped), or None."""
    folder = gdir / CASE_DIR
    done = folder / f"{name}.{_DONE}.npy"
    if not DERIVED_RE.fullmatch(name) or not done.exists():
        return None
    out = {}
    for field_name in np.load(done).tolist():
        arr = _load(folder / f"{name}.{field_name}.npy")
        if arr is None:
            return None
        out[field_name] = arr
    return out


def _load(path: Path, mode: Literal["r", "c"] = "r") -> np.ndarray | None:
    return np.asarray(np.load(path, mmap_mode=mode)) if path.exists() else None


def minus_ones(gdir: Path, n: int) -> np.ndarray:
    """``n`` int64 ``-1`` as a private (copy-on-write) map of a file of ``-1``s stored once per
    generation and size (``case/prior-<hash>.fill.npy``): memory reads it lazily, so a state
    array that must start at -1 for 40M addresses costs the pages a question writes, not
    320 MB written per process (``np.full``)."""
    import hashlib

    name = "prior-" + hashlib.blake2b(f"minus-ones/{n}".encode(), digest_size=8).hexdigest()
    if load_derived(gdir, name) is None:
        save_derived(gdir, name, {"fill": np.full(n, -1, dtype=np.int64)})
    arr = _load(gdir / CASE_DIR / f"{name}.fill.npy", mode="c")
    assert arr is not None and arr.shape == (n,)
    return arr


@dataclass
class CaseIndex:
    """A generation's case index, memory-mapped (``None`` where a file has none)."""

    starts: np.ndarray  # first edge id of each part (and the total at the end)
    hashes: list[np.ndarray | None]
    values: list[np.ndarray | None]
    kinds: list[np.ndarray | None]
    addresses: list[tuple[np.ndarray, np.ndarray] | None]
    #: per dictionary chunk: (chain names, chain code per id, text offsets, text bytes)
    texts: list[tuple[list[str], np.ndarray, np.ndarray, np.ndarray] | None] = field(
        default_factory=list)
    #: first id of each chunk (and the total at the end), when every chunk has its texts
    id_starts: np.ndarray | None = None
    #: address texts decoded this session, by id (:meth:`address_texts`)
    _seen: dict[int, tuple[str, str]] = field(default_factory=dict, repr=False)
    #: the last token table :meth:`rows` read (:meth:`_token_rows`)
    _tokens: tuple[weakref.ref[pl.DataFrame], np.ndarray, dict[str, list[Any]]] | None = field(
        default=None, repr=False)

    @classmethod
    def open(cls, gdir: Path, m: dict[str, Any]) -> CaseIndex:
        folder = gdir / CASE_DIR
        starts = np.zeros(len(m["parts"]) + 1, dtype=np.int64)
        np.cumsum([p["rows"] for p in m["parts"]], out=starts[1:])
        parts = []
        for p in m["parts"]:
            kind_file = folder / f"{_stem(p['file'])}.kind.npy"
            if kind_file.exists():  # written last: the part's index is complete
                parts.append([_load(f) for f in _files(folder, _stem(p["file"]), PART_FILES)])
            else:
                parts.append([None, None, None])
        addresses: list[tuple[np.ndarray, np.ndarray] | None] = []
        for a in m["addresses"]:
            h, ids = (_load(f) for f in _files(folder, _stem(a), ADDRESS_FILES))
            addresses.append(None if h is None or ids is None else (h, ids))
        texts: list[tuple[list[str], np.ndarray, np.ndarray, np.ndarray] | None] = []
        for a in m["addresses"]:
            files = _files(folder, _stem(a), TEXT_FILES)
            if not files[-1].exists():
                texts.append(None)
                continue
            names = np.load(files[0]).tolist()
            codes, offsets, data = (_load(f) for f in files[1:])
            assert codes is not None and offsets is not None and data is not None
            texts.append((names, codes, offsets, data))
        id_starts = None
        if texts and all(t is not None for t in texts):
            id_starts = np.zeros(len(texts) + 1, dtype=np.int64)
            np.cumsum([t[1].shape[0] for t in texts if t is not None], out=id_starts[1:])
        return cls(starts, [p[0] for p in parts], [p[1] for p in parts], [p[2] for p in parts],
                   addresses, texts, id_starts)  # fmt: skip

    @property
    def n_addresses(self) -> int | None:
        """How many addresses the dictionary holds (None: not every chunk has its texts)."""
        return None if self.id_starts is None else int(self.id_starts[-1])

    def address_rows(self, ids: np.ndarray) -> pl.DataFrame:
        """``id, chain, address`` of ``ids`` (in that order), from the stored texts: a few
        page reads, not the whole dictionary. Requires :attr:`n_addresses`."""
        chains, addrs = self.address_texts(ids)
        return pl.DataFrame({"id": pl.Series(np.asarray(ids, dtype=np.int64), dtype=pl.Int32),
                             "chain": pl.Series(chains, dtype=pl.String),
                             "address": pl.Series(addrs, dtype=pl.String)})  # fmt: skip

    def address_texts(self, ids: np.ndarray) -> tuple[list[str], list[str]]:
        """The chain and address text of each of ``ids`` (in that order). The texts decoded
        for a session are kept (up to :data:`TEXT_CACHE` ids): the questions of a case show
        the same few addresses again and again. Requires :attr:`n_addresses`."""
        assert self.id_starts is not None
        ids = np.asarray(ids, dtype=np.int64)
        seen = self._seen
        want = [i for i in dict.fromkeys(ids.tolist()) if i not in seen]
        if want:
            if len(seen) + len(want) > TEXT_CACHE:
                seen.clear()
            w = np.array(want, dtype=np.int64)
            chunk = np.searchsorted(self.id_starts, w, side="right") - 1
            for i, c in zip(want, chunk.tolist(), strict=True):
                entry = self.texts[c]
                assert entry is not None
                names, codes, offsets, data = entry
                j = i - int(self.id_starts[c])
                seen[i] = (names[int(codes[j])],
                           bytes(data[int(offsets[j]) : int(offsets[j + 1])]).decode("utf-8"))
        got = [seen[i] for i in ids.tolist()]
        return [c for c, _ in got], [a for _, a in got]

    def label_candidates(self, addresses: list[str]) -> np.ndarray:
        """Sorted ids whose address text hashes like one of ``addresses`` (a superset of the
        ids carrying them: the caller joins on the text)."""
        found = [self.candidates(a) for a in addresses]
        return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int32)

    @property
    def has_addresses(self) -> bool:
        return bool(self.addresses) and all(a is not None for a in self.addresses)

    def candidates(self, address: str) -> np.ndarray:
        """Ids whose address text hashes like ``address`` (every chain; a hash match only:
        the caller compares the text). Requires :attr:`has_addresses`."""
        want = np.uint64(fnv1a_text(address))
        hits = []
        for entry in self.addresses:
            assert entry is not None
            h, ids = entry
            lo, hi = np.searchsorted(h, want, side="left"), np.searchsorted(h, want, side="right")
            hits.append(np.asarray(ids[lo:hi]))
        return np.concatenate(hits) if hits else np.zeros(0, dtype=np.int32)

    def rows(
        self,
        edges: np.ndarray,
        columns: list[str],
        *,
        ts: np.ndarray,
        amount: np.ndarray,
        token_id: np.ndarray,
        tokens: pl.DataFrame,
        parquet: Callable[[np.ndarray, list[str]], pl.DataFrame],
    ) -> pl.DataFrame | None:
        """Rows ``edges`` of ``columns`` (all in :data:`SERVED`), from the index and the graph's
        edge arrays; rows whose text the index does not hold exactly come from ``parquet``.
        ``None`` when a part holding one of the edges has no index (the caller reads Parquet)."""
        part = np.searchsorted(self.starts, edges, side="right") - 1
        n = edges.shape[0]
        want_hash, want_value = "tx_hash" in columns, "value" in columns
        hashes: list[str | None] = [None] * n
        values: list[str | None] = [None] * n
        kind = np.zeros(n, dtype=np.uint8)
        for p in np.unique(part).tolist():
            raw, limbs, kinds = self.hashes[p], self.values[p], self.kinds[p]
            if raw is None or limbs is None or kinds is None:
                return None
            at = np.flatnonzero(part == p)
            local = edges[at] - self.starts[p]
            k = np.asarray(kinds[local])
            kind[at] = k
            for i, j, kj in zip(at.tolist(), local.tolist(), k.tolist(), strict=True):
                if want_hash and not kj & HASH_RAW:
                    hashes[i] = hash_text(raw[j], kj)
                if want_value and not kj & VALUE_RAW:
                    values[i] = value_text(limbs[j])
        text = [c for c in columns if c in ("tx_hash", "value")]
        raw_rows = np.flatnonzero(kind & (HASH_RAW | VALUE_RAW))
        if raw_rows.size and text:  # texts without an exact fixed-width form: from Parquet
            fill = parquet(edges[raw_rows], text)
            for c, out in (("tx_hash", hashes), ("value", values)):
                if c in text:
                    for i, v in zip(raw_rows.tolist(), fill[c].to_list(), strict=True):
                        out[i] = v
        row_of, tok = self._token_rows(tokens)
        tid = row_of[np.asarray(token_id[edges])].tolist()
        null = np.flatnonzero(kind & AMOUNT_NULL)
        amounts = pl.Series("amount", np.asarray(amount[edges], dtype=np.float64), pl.Float64)
        cols: dict[str, Callable[[], pl.Series]] = {
            "tx_hash": lambda: pl.Series("tx_hash", hashes, pl.String),
            "value": lambda: pl.Series("value", values, pl.String),
            "amount": lambda: amounts.scatter(null, None) if null.size else amounts,
            "ts": lambda: pl.Series("ts", np.asarray(ts[edges]), pl.Int64).cast(TRANSFER_PL["ts"]),
        }  # fmt: skip
        for c in ("decimals", "chain", "asset", "token"):
            cols[c] = partial(lambda c: pl.Series(c, [tok[c][t] for t in tid], TRANSFER_PL[c]), c)
        return pl.DataFrame([cols[c]() for c in columns])

    def _token_rows(self, tokens: pl.DataFrame) -> tuple[np.ndarray, dict[str, list[Any]]]:
        """Per token id its row in ``tokens`` sorted by id, and those rows' columns as lists;
        kept for the last token table (a session's)."""
        hit = self._tokens
        if hit is not None and hit[0]() is tokens:
            return hit[1], hit[2]
        tok = tokens.sort("token_id")
        ids = tok["token_id"].to_numpy().astype(np.int64)
        row_of = np.zeros(int(ids.max()) + 1 if ids.size else 1, np.int64)
        row_of[ids] = np.arange(ids.size)
        lists = {c: tok[c].to_list() for c in ("decimals", "chain", "asset", "token")}
        self._tokens = (weakref.ref(tokens), row_of, lists)
        return row_of, lists
