"""The embedded store: canonical transfers (Parquet), address dictionary, graph cache, labels.

Layout of a workspace folder (default ``./.tracer``, or ``--workspace`` / ``TRACER_WORKSPACE``)::

    .tracer-workspace             marker: tracer made this folder a workspace (see store.manifest)
    manifest.json                 the commit point: generation, partitions, dictionaries, labels,
                                  entities, RPC checkpoints (validated on every read)
    g<N>/.tracer-generation       marker of a generation tracer wrote; readers' lease file
    g<N>/transfers/part-*.parquet transfers, de-duplicated, in chain order, one or more files per
                                  month (:mod:`tracer.store.partitions`), with integer id columns
    g<N>/addresses-*.parquet      id ⇄ (chain, address), one chunk per generation that added any
    g<N>/tokens.parquet           token_id ⇄ (chain, token, asset, decimals)
    g<N>/graph/                   edge log + CSR levels, memory-mapped on load, written at
                                  ingest and extended by appends in O(new rows)
                                  (:mod:`tracer.store.edge_log`; an older layout, one .npy per
                                  array, is still read; streamed sweeps never need it)
    g<N>/case/*.npy               the case index, per partition file and dictionary chunk:
                                  tx hashes and exact values fixed-width, sorted address
                                  hashes (:mod:`tracer.store.case_index`; written at ingest)
    labels/labels-<hash>.parquet  the label table (content-addressed)
    lock                          held (flock) while a writer works

Why generations: a write builds generation ``N+1`` beside ``N`` (unchanged partitions and
dictionary chunks hard-linked, only the months that receive rows rewritten, see
:mod:`tracer.store.append`), makes it durable, then replaces ``manifest.json`` atomically
(:mod:`tracer.store.generation`, the one writer). A crash (kill -9, power loss) at any instant
leaves the manifest naming the old, intact generation; the next writer removes the unfinished one.
Readers hold a lease on the generation they read, so a write never pulls files from under them.
Edge ``i`` is row ``i`` of the partitions in manifest order, so kernel results map back to a
transaction. tracer deletes only files it provably wrote (see :mod:`tracer.store.generation`).

A workspace can also live only in memory (:meth:`Workspace.in_memory`), built from ``--data``
files: the same object, so every analysis runs the same code with or without set-up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tracer.core import jsonsafe
from tracer.core.atomic import atomic_path
from tracer.core.errors import WorkspaceError
from tracer.core.schema import (
    LABEL_PL,
    REJECT_PL,
    TRANSFER_KEY,
    TRANSFER_PL,
    to_arrow_transfers,
)
from tracer.sources import Loaded, ReadOptions, read_file
from tracer.sources.labels import LabelLoad
from tracer.sources.labels import merge as merge_labels
from tracer.store import conversions_table, edge_log
from tracer.store import manifest as mf
from tracer.store.case_index import (
    SERVED,
    CaseIndex,
    load_derived,
    minus_ones,
    save_derived,
    write_case_index,
)
from tracer.store.generation import Lease, Writer, lease, owned_dir
from tracer.store.graph_cache import (
    ARRAYS,
    NodeIndex,
    TransferGraph,
    build_graph,
    sort_transfers,
)
from tracer.store.ingest_summary import FileSummary, IngestSummary
from tracer.store.partitions import EDGE_COLUMNS, PartReader, edge_arrays

FORMAT_VERSION = mf.FORMAT_VERSION
DEFAULT_DIR = ".tracer"


def default_path() -> Path:
    return Path(os.environ.get("TRACER_WORKSPACE") or DEFAULT_DIR)


def merge_new(
    existing: pl.DataFrame, loads: Iterable[Loaded]
) -> tuple[pl.DataFrame, list[FileSummary], pl.DataFrame]:
    """Add loaded files to ``existing``, counting duplicates per file (within and across)."""
    seen = existing.select(TRANSFER_KEY)
    new_parts = []
    summaries = []
    rejects = [pl.DataFrame(schema=REJECT_PL)]
    for load in loads:
        uniq = load.transfers.unique(TRANSFER_KEY, keep="first", maintain_order=True)
        fresh = uniq.join(seen, on=TRANSFER_KEY, how="anti", nulls_equal=True)
        seen = pl.concat([seen, fresh.select(TRANSFER_KEY)])
        new_parts.append(fresh)
        rejects.append(load.rejects)
        summaries.append(
            FileSummary(
                file=load.file,
                format=load.format,
                read=load.read,
                loaded=fresh.height,
                duplicate=load.transfers.height - fresh.height,
                rejected=load.rejects.height,
                skipped=dict(load.skipped),
                unknown_decimals=int(fresh["decimals"].null_count()),
                warnings=list(load.warnings),
                notes=list(load.notes),
            )
        )
    merged = pl.concat([existing, *new_parts]) if new_parts else existing
    return merged, summaries, pl.concat(rejects)


#: Up to this many rows :meth:`Workspace.rows` reads the case index (a few µs a row, built in
#: Python); past it, decoding the Parquet column chunks is cheaper (about 2.5 s for every row
#: group of a 10M workspace, measured). TIHO reads the hashes of a whole selection.
INDEX_ROWS = 500_000


class _Column:
    """One fixed-width column of some rows, indexed by their edge ids (``col[edges]``), as
    :meth:`CaseIndex.rows` indexes the graph's whole arrays."""

    def __init__(self, edges: np.ndarray, values: np.ndarray) -> None:
        self.edges, self.values = edges, values

    def __getitem__(self, edges: np.ndarray) -> np.ndarray:
        return self.values[np.searchsorted(self.edges, edges)]


class _EdgeColumns:
    """``ts``, ``amount``, ``token_id`` of a streamed workspace's rows ``edges`` (read from
    Parquet: three fixed-width columns of the row groups holding them), for the case index
    to serve the text columns without the graph cache's arrays."""

    def __init__(self, edges: np.ndarray, table: Any) -> None:  # a pyarrow Table
        order = np.argsort(edges, kind="stable")
        e = edges[order]
        a = edge_arrays(table)
        self.ts, self.amount, self.token_id = (_Column(e, np.asarray(a[c])[order])
                                                for c in ("ts", "amount", "token_id"))


class Workspace:
    """Transfers, graph and labels, on disk (``path``) or in memory (``path is None``).

    On disk, the first read pins one committed generation (and takes a reader lease on it): every
    later read through this object sees that generation, whatever writers do meanwhile, until
    this object writes itself or :meth:`refresh` is called.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._transfers: pl.DataFrame | None = None
        self._graph: TransferGraph | None = None
        self._labels: pl.DataFrame | None = None
        self.sources: list[str] = []  # export files behind an in-memory workspace (provenance)
        self._labels_extra = False  # session-only labels added (stored entities are then stale)
        self._nodes: NodeIndex | None = None
        self._reader: PartReader | None = None
        self._pinned: dict[str, Any] | None = None
        self._lease: Lease | None = None
        self._case: CaseIndex | None = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def open(
        cls, path: str | Path | None = None, *, create: bool = False, init: bool = False
    ) -> Workspace:
        """Open a workspace; with ``create``, make one in a missing or empty folder; with
        ``init`` also in a non-empty folder that is not one (tracer then adds its files beside
        the user's and only ever deletes its own)."""
        p = Path(path) if path is not None else default_path()
        if not mf.is_workspace(p):
            if not create:
                if p.is_dir() and any(p.iterdir()):
                    raise WorkspaceError(f"{p} is not a tracer workspace (it has no "
                                         f"{mf.MARKER} or {mf.MANIFEST})")  # fmt: skip
                raise WorkspaceError(
                    f"no workspace at {p}: run 'tracer ingest FILE' first, pass --workspace, "
                    "or trace files directly with --data FILE --labels FILE"
                )
            if p.exists() and not p.is_dir():
                raise WorkspaceError(f"{p} is a file, not a workspace folder")
            entries = sorted(c.name for c in p.iterdir()) if p.is_dir() else []
            if entries and entries != [mf.LOCK] and not init:
                shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
                raise WorkspaceError(
                    f"{p} is not empty and is not a tracer workspace (it holds {shown}); "
                    "choose a new or empty folder, or pass --init to make this one a "
                    "workspace (tracer adds its own files beside yours and never deletes yours)"
                )
            p.mkdir(parents=True, exist_ok=True)
            mf.write_marker(p)
        ws = cls(p)
        ws.manifest()  # validates (format version, names) before any command runs
        return ws

    @classmethod
    def in_memory(
        cls,
        data: Iterable[str | Path],
        labels: Iterable[LabelLoad] = (),
        *,
        options: ReadOptions | None = None,
        fmt: str | None = None,
        skip_bad: bool = False,
    ) -> tuple[Workspace, IngestSummary]:
        """A workspace built from files, held in memory only (``--data``/``--labels``)."""
        ws = cls(None)
        ws.sources = [str(f) for f in data]
        loads = [read_file(f, fmt=fmt, options=options, skip_bad=skip_bad) for f in data]
        merged, summaries, rejects = merge_new(pl.DataFrame(schema=TRANSFER_PL), loads)
        ws._transfers = sort_transfers(merged)
        ws._labels = merge_labels(list(labels))
        return ws, IngestSummary(summaries, rejects, changed=True)

    # -- manifest -------------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        """The pinned generation's manifest (validated; leased while this object lives)."""
        assert self.path is not None
        if self._pinned is None:
            self._pinned, self._lease = lease(self.path)
        return self._pinned

    def refresh(self) -> None:
        """Forget the pinned generation: the next read sees the latest commit."""
        if self._lease is not None:
            self._lease.release()
        self._pinned = self._lease = None
        self._transfers = self._graph = self._nodes = self._reader = None
        self._case = None
        self._labels = None if not self._labels_extra else self._labels

    def close(self) -> None:
        """Release the reader lease (also released when the object is garbage-collected)."""
        self.refresh()

    def _gen_dir(self, gen: int) -> Path:
        assert self.path is not None
        return self.path / f"g{gen}"

    def _writer(self) -> Writer:
        if self.path is None:
            raise WorkspaceError("in-memory workspaces cannot be written")
        # drop our own reader lease first: the writer may delete the generation we pinned
        labels_extra, labels = self._labels_extra, self._labels
        self.refresh()
        self._labels_extra, self._labels = labels_extra, labels if labels_extra else None
        return Writer(self.path)

    def _committed(self, m: dict[str, Any]) -> None:
        """After this object's own commit: read the new generation from now on."""
        labels_extra, labels = self._labels_extra, self._labels
        self.refresh()
        self._labels_extra, self._labels = labels_extra, labels if labels_extra else None
        del m

    def checkpoints(self) -> dict[str, int]:
        """RPC sync checkpoints (``chain:token`` → last block ingested), from the manifest
        (and the separate file older versions wrote)."""
        if self.path is None:
            return {}
        cps: dict[str, int] = {}
        legacy = self.path / mf.LEGACY_CHECKPOINTS
        if legacy.is_file():
            try:
                raw = jsonsafe.parse(legacy.read_text(encoding="utf-8"))
                cps.update({k: int(v) for k, v in raw.items()})
            except (ValueError, TypeError, AttributeError):
                raise mf.damaged(self.path, f"{legacy.name} is not a checkpoint table") from None
        cps.update(mf.read(self.path)["rpc_checkpoints"])  # latest commit, not the pinned one
        return cps

    def set_checkpoint(self, key: str, block: int) -> None:
        """Move one RPC checkpoint (a manifest commit without a new generation)."""
        with self._writer() as w:
            if w.base["rpc_checkpoints"].get(key) == block:
                return
            cps = {**w.base["rpc_checkpoints"], key: block}
            self._committed(w.commit({"rpc_checkpoints": cps}))

    # -- reading --------------------------------------------------------------------------------
    def transfers(self) -> pl.DataFrame:
        """All transfers in chain order (row ``i`` = edge ``i`` of :meth:`graph`)."""
        if self._transfers is None:
            reader = self.parts()
            self._transfers = (
                pl.DataFrame(schema=TRANSFER_PL)
                if reader is None or reader.num_rows == 0
                else pl.from_arrow(reader.read_all(list(TRANSFER_PL.names())))  # type: ignore[assignment]
            )
        return self._transfers  # type: ignore[return-value]

    def parts(self) -> PartReader | None:
        """The pinned generation's partitions (None in memory or before the first ingest)."""
        if self.path is None:
            return None
        m = self.manifest()
        if m["generation"] == 0:
            return None
        if self._reader is None:
            self._reader = PartReader(self._gen_dir(m["generation"]) / "transfers", m["parts"])
        return self._reader

    def rows(self, edges: np.ndarray, columns: list[str] | None = None) -> pl.DataFrame:
        """Rows ``edges`` (edge ids = row numbers, in the order given) of the transfer table.

        On disk only the Parquet row groups holding those rows are decoded, so showing a few
        paths from a 10M-transfer workspace does not read 10M transaction hashes; with the graph
        loaded and a case index (:mod:`tracer.store.case_index`), the columns a path row shows
        are read from memory-mapped fixed-width arrays instead, O(rows asked).
        """
        edges = np.asarray(edges, dtype=np.int64)
        cols = columns or list(TRANSFER_PL.names())
        reader = self.parts()
        if reader is None or self._transfers is not None:
            return self.transfers().select(cols)[edges.tolist()]
        if edges.size == 0:
            return pl.DataFrame(schema={c: TRANSFER_PL[c] for c in cols})
        g = self._graph
        # the index serves path rows (a text built per row); a bulk read (TIHO's hashes of a
        # whole selection) is faster as decoded Parquet column chunks
        small = edges.size <= INDEX_ROWS
        case = self.case_index() if small and SERVED.issuperset(cols) else None
        if case is not None and g is not None:
            got = case.rows(edges, cols, ts=g.ts, amount=g.amount, token_id=g.token_id,
                            tokens=g.tokens, parquet=self._parquet_rows)  # fmt: skip
            if got is not None:
                return got
        elif case is not None:  # streamed (no graph): the fixed-width columns of these rows
            fixed = _EdgeColumns(edges, reader.take(edges, ["ts", "amount", "token_id"]))
            got = case.rows(edges, cols, ts=fixed.ts, amount=fixed.amount,  # type: ignore[arg-type]
                            token_id=fixed.token_id, tokens=self.nodes().tokens,  # type: ignore[arg-type]
                            parquet=self._parquet_rows)  # fmt: skip
            if got is not None:
                return got
        return self._parquet_rows(edges, cols)

    def _parquet_rows(self, edges: np.ndarray, cols: list[str]) -> pl.DataFrame:
        reader = self.parts()
        assert reader is not None
        taken = pl.DataFrame(reader.take(edges, cols))
        return taken.select(pl.col(c).cast(TRANSFER_PL[c]) for c in cols)

    def case_index(self) -> CaseIndex | None:
        """The pinned generation's case index (memory-mapped; parts without one read Parquet);
        None in memory or before the first ingest."""
        if self.path is None or self.manifest()["generation"] == 0:
            return None
        if self._case is None:
            m = self.manifest()
            self._case = CaseIndex.open(self._gen_dir(m["generation"]), m)
        return self._case

    def derived(self, name: str) -> dict[str, np.ndarray] | None:
        """Arrays a use case derived from the pinned generation and stored with it
        (:meth:`save_derived`), memory-mapped; None when absent or in memory."""
        if self.path is None or self.manifest()["generation"] == 0:
            return None
        return load_derived(self._gen_dir(self.manifest()["generation"]), name)

    def save_derived(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        """Keep arrays derived from every transfer of this generation (e.g. the follow's
        unknown-prior-funds shortfalls) beside it, so the next session reads them instead of
        recomputing: they are a function of the generation's rows alone, written atomically
        like the graph cache built on first use. A no-op in memory."""
        if self.path is None or self.manifest()["generation"] == 0:
            return
        gdir = self._gen_dir(self.manifest()["generation"])
        with contextlib.suppress(OSError):  # a read-only workspace: recomputed next session
            # a set carried from the previous generation is replaced: its ``done`` marker
            # goes first, so a crash midway leaves no complete-looking mix of old and new
            (gdir / "case" / f"{name}.done.npy").unlink(missing_ok=True)
            save_derived(gdir, name, arrays)

    def minus_ones(self, n: int) -> np.ndarray | None:
        """``n`` int64 ``-1``, writable, paged in lazily from a file stored with the generation
        (:func:`~tracer.store.case_index.minus_ones`); None in memory or when it cannot be
        stored (the caller fills its own)."""
        if self.path is None or self.manifest()["generation"] == 0:
            return None
        try:
            return minus_ones(self._gen_dir(self.manifest()["generation"]), n)
        except OSError:
            return None

    def build_case_index(self) -> None:
        """Index the pinned generation's files that have no case index yet (an older
        workspace, a generation written before the index existed). Idempotent."""
        if self.path is None or self.manifest()["generation"] == 0:
            return
        m = self.manifest()
        write_case_index(self._gen_dir(m["generation"]), m["parts"], m["addresses"])
        self._case = None

    def nodes(self) -> NodeIndex:
        """Address and token dictionaries only (what a streamed sweep needs: O(addresses))."""
        if self._graph is not None:
            return self._graph
        if self.path is None or self.manifest()["generation"] == 0:
            return self.graph()
        if self._nodes is None:
            m = self.manifest()
            gdir = self._gen_dir(m["generation"])

            def read_all() -> pl.DataFrame:
                chunks = [pl.read_parquet(gdir / a) for a in m["addresses"]]  # in id order
                return pl.concat(chunks) if chunks else pl.DataFrame(
                    schema={"id": pl.Int32, "chain": pl.String, "address": pl.String})

            tokens = pl.read_parquet(gdir / "tokens.parquet")
            idx = self.case_index()
            if idx is not None and idx.n_addresses is not None:
                # the case index holds the texts by id: read rows, not the dictionary
                self._nodes = NodeIndex(addresses=read_all, tokens=tokens,  # type: ignore[arg-type]
                                        n_addresses=idx.n_addresses, rows_of=idx.address_rows)
            else:
                self._nodes = NodeIndex(addresses=read_all(), tokens=tokens)
        return self._nodes

    def has_graph_cache(self) -> bool:
        if self.path is None or self.manifest()["generation"] == 0:
            return True
        graph = self._gen_dir(self.manifest()["generation"]) / "graph"
        return (graph / edge_log.LEVELS).exists() or (graph / "in_edges.npy").exists()

    def graph(self) -> TransferGraph:
        """The graph, memory-mapped from the cache (built in memory for in-memory workspaces).

        A generation written without a cache (``tracer synth`` at whole-chain size) gets one
        built from the partitions' id columns on first use, O(transfers) memory once.
        """
        if self._graph is not None:
            return self._graph
        if self.path is None or self.manifest()["generation"] == 0:
            self._graph = build_graph(self.transfers())
            return self._graph
        gdir = self._gen_dir(self.manifest()["generation"])
        if not self.has_graph_cache():
            self._write_graph_cache(gdir)
        levels = edge_log.read_levels(gdir)
        arrays: dict[str, Any]
        if levels is not None:
            # base + delta as stored: merged only if a consumer reads the one-level CSR
            log, csr = edge_log.open_levels(gdir, levels)
            arrays = {**log, "levels": csr}
        else:  # the older layout; np.asarray: a plain ndarray view (numba types no np.memmap)
            arrays = {n: np.asarray(np.load(gdir / "graph" / f"{n}.npy", mmap_mode="r"))
                      for n in ARRAYS}  # fmt: skip
        nodes = self.nodes()
        # the nodes' frame, read when first needed (by either object: one copy)
        self._graph = TransferGraph(
            **arrays,
            addresses=(lambda: nodes.addresses) if not nodes.loaded else nodes.addresses,  # type: ignore[arg-type]
            tokens=nodes.tokens, n_addresses=nodes.n_addresses, rows_of=nodes.rows_of,
        )  # fmt: skip
        return self._graph

    def _write_graph_cache(self, gdir: Path) -> None:
        reader = self.parts()
        assert reader is not None
        table = reader.read_all(EDGE_COLUMNS)
        nodes = self.nodes()
        edge_log.write_fresh(gdir, [edge_arrays(table)], nodes.n_nodes, how="first use")
        del table
        m = self.manifest()  # first use of an older or whole-chain generation: index it too
        write_case_index(gdir, m["parts"], m["addresses"])
        self._case = None  # opened before (by nodes()): see the new files

    def labels(self) -> pl.DataFrame:
        if self._labels is None:
            name = self.manifest().get("labels") if self.path is not None else None
            self._labels = (
                pl.read_parquet(self.path / "labels" / name)
                if name and self.path is not None
                else pl.DataFrame(schema=LABEL_PL)
            )
        return self._labels

    def use_labels(self, labels: pl.DataFrame) -> None:
        """Replace this session's label table (distributed workers get the driver's labels)."""
        self._labels = labels

    def add_labels_in_memory(self, loads: Iterable[LabelLoad]) -> None:
        """Extra labels for this session only (``--labels`` on a workspace command)."""
        self._labels_extra = True
        self._labels = merge_labels(
            [LabelLoad("workspace", self.labels(), self.labels().height), *loads]
        )

    # -- writing (all through the one writer, tracer.store.generation.Writer) -----------------
    def ingest(
        self,
        files: Iterable[str | Path],
        *,
        options: ReadOptions | None = None,
        fmt: str | None = None,
        skip_bad: bool = False,
        checkpoint: tuple[str, int] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> IngestSummary:
        """Add files' transfers; idempotent; all-or-nothing (a crash leaves the old state).

        Appends: only the months that receive rows are rewritten (:mod:`tracer.store.append`). Big
        CSV exports are read in batches (:mod:`tracer.sources.batched`) and spooled, so memory
        is bounded by a batch and a month, not the file. ``progress(rows)`` is called after
        each batch read (the CLI draws it; the library never prints). ``checkpoint``
        (``key, block``) is committed in the same manifest as the rows, so an RPC sync's
        progress and its data can never disagree.
        """
        from tracer.store.streamed import StreamDeclined

        if self.path is None:
            raise WorkspaceError("in-memory workspaces cannot ingest; use Workspace.in_memory")
        files = list(files)
        try:
            return self._ingest(files, options, fmt, skip_bad, checkpoint, progress, stream=True)
        except StreamDeclined:  # the file broke a claim of its statistics: the general way
            return self._ingest(files, options, fmt, skip_bad, checkpoint, progress, stream=False)

    def _ingest(
        self,
        files: list[str | Path],
        options: ReadOptions | None,
        fmt: str | None,
        skip_bad: bool,
        checkpoint: tuple[str, int] | None,
        progress: Callable[[int], None] | None,
        *,
        stream: bool,
    ) -> IngestSummary:
        """:meth:`ingest`; with ``stream``, a big canonical Parquet into a workspace without
        rows is streamed month by month (:mod:`tracer.store.streamed`)."""
        from tracer.sources.batched import read_batches
        from tracer.store.append import Spool, Stored, append
        from tracer.store.streamed import MonthStream, stream_plan

        assert self.path is not None
        with self._writer() as w:
            stored = Stored(self.path, w.base)
            w.start_generation()
            assert w.dir is not None
            summaries: list[FileSummary] = []
            rejects = [pl.DataFrame(schema=REJECT_PL)]
            plan = stream_plan(files, fmt, stored) if stream else None
            if plan is not None:
                fs = FileSummary.start(str(files[0]))
                source = MonthStream(files[0], plan, fs, options=options, skip_bad=skip_bad,
                                     progress=progress)  # fmt: skip
                updates, counts = append(w, stored, source)
                fs.duplicate = source.candidates  # minus what turns out new, below
                summaries.append(fs)
                rejects.extend(source.rejects)
            else:
                spool = Spool(w.dir)
                for i, f in enumerate(files):
                    fs = FileSummary.start(str(f))
                    candidates = 0
                    for load in read_batches(f, fmt=fmt, options=options, skip_bad=skip_bad,
                                             tmp_dir=self.path):  # fmt: skip
                        fs.tally(load)
                        candidates += load.transfers.height
                        spool.add(load.transfers, i)
                        rejects.append(load.rejects)
                        if progress is not None:
                            progress(load.read)
                    fs.duplicate = candidates  # minus what turns out new, below
                    summaries.append(fs)
                updates, counts = append(w, stored, spool)
                spool.remove()
            levels = edge_log.read_levels(w.dir) if updates is not None and w.dir else None
            for i, fs in enumerate(summaries):
                fs.loaded, fs.unknown_decimals = counts.get(i, (0, 0))
                fs.duplicate -= fs.loaded
                if levels is not None and levels["how"] == "rebuilt" and fs.loaded:
                    fs.notes.append(  # O(total), not O(new): said
                        f"rows landed before stored ones (from transfer {levels['from_edge']:,} "
                        f"on), so the graph cache was rebuilt rather than extended")
            summary = IngestSummary(summaries, pl.concat(rejects))
            if updates is None:
                w.abandon()
                updates = {}
            else:
                updates["ingests"] = [*w.base.get("ingests", []),
                                      {"files": [s.as_dict() for s in summaries]}]  # fmt: skip
                summary.changed = True
            lacking: list[tuple[str, str]] = []
            conv = conversions_table.ingest(  # swaps, wraps, bridge events in the logs
                self.path, w.base, w.dir or w.base_dir(), updates.get("parts", w.base["parts"]),
                files, options=options, fmt=fmt, skip_bad=skip_bad, warnings=lacking)  # fmt: skip
            by_file = {s.file: s for s in summaries}
            for file, msg in lacking:  # said with the file, like the reader's own warnings
                by_file.get(file, summaries[0]).warnings.append(msg)
            updates.update(conv)
            summary.changed = summary.changed or bool(conv)
            cps = w.base["rpc_checkpoints"]
            if checkpoint is not None and cps.get(checkpoint[0]) != checkpoint[1]:
                updates["rpc_checkpoints"] = {**cps, checkpoint[0]: checkpoint[1]}
            if updates:
                self._committed(w.commit(updates))
        return summary


    def add_labels(self, loads: Iterable[LabelLoad]) -> int:
        """Merge label files into the workspace's label table; returns labels added."""
        if self.path is None:
            raise WorkspaceError("in-memory workspaces keep labels in memory only")
        loads = list(loads)
        with self._writer() as w:
            name = w.base.get("labels")
            before = (pl.read_parquet(self.path / "labels" / name) if name
                      else pl.DataFrame(schema=LABEL_PL))  # fmt: skip
            merged = merge_labels([LabelLoad("workspace", before, before.height), *loads])
            added = merged.height - before.height
            if added == 0:
                return 0
            data = merged.sort(["category", "name", "address"], nulls_last=True)
            digest = hashlib.sha256(
                data.write_csv().encode("utf-8")  # content hash: same labels, same file
            ).hexdigest()[:16]
            name = f"labels-{digest}.parquet"
            with atomic_path(owned_dir(self.path, "labels") / name) as tmp:
                data.write_parquet(tmp)
            self._committed(w.commit({"labels": name}))
        self._labels = None
        return added

    def save_entities(
        self, entities: pl.DataFrame, links: pl.DataFrame, meta: dict[str, Any]
    ) -> None:
        """Store a clustering for the current generation and label set (atomic, like labels)."""
        if self.path is None:
            raise WorkspaceError("in-memory workspaces keep entities in memory only")
        with self._writer() as w:
            m = w.base
            digest = hashlib.sha256(
                entities.select("address", "entity_id").write_csv().encode()
                + json.dumps(meta, sort_keys=True, default=str).encode()
            ).hexdigest()[:16]
            names = {"entities": f"entities-{digest}.parquet", "links": f"links-{digest}.parquet"}
            folder = owned_dir(self.path, "entities")
            for key, frame in (("entities", entities), ("links", links)):
                with atomic_path(folder / names[key]) as tmp:
                    frame.write_parquet(tmp)
            ent = {**names, "generation": m["generation"], "labels": m.get("labels"), "meta": meta}
            labels = self._labels
            self._committed(w.commit({"entities": ent}))
            self._labels = labels


    def entities(self) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]] | None:
        """The stored clustering, or None when there is none or it is stale (data or labels
        changed since ``tracer cluster``; session-only ``--labels`` also make it stale)."""
        if self.path is None:
            return None
        m = self.manifest()
        ent = m.get("entities")
        if not ent or ent.get("generation") != m["generation"]:
            return None
        if ent.get("labels") != m.get("labels") or self._labels_extra:
            return None
        d = self.path / "entities"
        return pl.read_parquet(d / ent["entities"]), pl.read_parquet(d / ent["links"]), ent["meta"]

    def export(self, target: str | Path) -> int:
        """Write the canonical table (chain order) to Parquet atomically; returns rows."""
        import pyarrow.parquet as pq

        table = to_arrow_transfers(self.transfers())
        with atomic_path(target) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        return table.num_rows

    # -- summary --------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """Counts per chain/asset, addresses, time range, labels per category."""
        from tracer.store.summary import workspace_info

        return workspace_info(self.path, self.transfers(), self.labels())
