"""The embedded store: canonical transfers (Parquet), address dictionary, graph cache, labels.

Layout of a workspace folder (default ``./.tracer``, or ``--workspace`` / ``TRACER_WORKSPACE``)::

    manifest.json                 the commit point: names the generation and its partitions
    g<N>/transfers/part-*.parquet transfers, de-duplicated, in chain order, one or more files per
                                  month (:mod:`tracer.partitions`), with integer id columns
    g<N>/addresses.parquet        id ⇄ (chain, address)
    g<N>/tokens.parquet           token_id ⇄ (chain, token, asset, decimals)
    g<N>/graph/*.npy              edge arrays + CSR per direction, memory-mapped on load
                                  (optional: built on first use when absent, e.g. ``tracer synth``
                                  at whole-chain size; streamed sweeps never need it)
    labels/labels-<hash>.parquet  the label table (content-addressed)
    lock                          held (flock) while a writer works

Why generations: an ingest writes a complete new generation beside the old one and then replaces
``manifest.json`` atomically. A crash (kill -9) at any instant leaves the manifest naming the old,
intact generation; leftovers of an unfinished one are removed by the next writer. Why rewrite the
sorted table instead of appending parts: edge ``i`` must be row ``i`` so every kernel result maps
back to a transaction, and ids must not depend on ingest order (two halves = at once). The cost is
O(total rows) per ingest, a few seconds per 10M rows.

A workspace can also live only in memory (:meth:`Workspace.in_memory`), built from ``--data``
files: the same object, so every analysis runs the same code with or without set-up.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tracer.atomic import atomic_path, write_text_atomic
from tracer.errors import WorkspaceError
from tracer.graph import (
    ARRAYS,
    NodeIndex,
    TransferGraph,
    build_graph,
    graph_from_arrays,
    sort_transfers,
)
from tracer.labels import LabelLoad
from tracer.labels import merge as merge_labels
from tracer.partitions import (
    EDGE_COLUMNS,
    STORED_SCHEMA,
    PartReader,
    PartWriter,
    edge_arrays,
    with_ids,
)
from tracer.schema import (
    LABEL_PL,
    REJECT_PL,
    TRANSFER_KEY,
    TRANSFER_PL,
    to_arrow_transfers,
)
from tracer.sources import Loaded, ReadOptions, read_file

FORMAT_VERSION = 2
DEFAULT_DIR = ".tracer"


def default_path() -> Path:
    return Path(os.environ.get("TRACER_WORKSPACE") or DEFAULT_DIR)


@dataclass
class FileSummary:
    """How every row of one input file was accounted for: read = loaded + duplicate + rejected
    + skipped (skipped rows are not transfers: approvals, failed or zero-value transactions)."""

    file: str
    format: str
    read: int
    loaded: int
    duplicate: int
    rejected: int
    skipped: dict[str, int]
    unknown_decimals: int

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class IngestSummary:
    files: list[FileSummary] = field(default_factory=list)
    rejects: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REJECT_PL))
    changed: bool = False

    def total(self, name: str) -> int:
        if name == "skipped":
            return sum(sum(f.skipped.values()) for f in self.files)
        return sum(getattr(f, name) for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": [f.as_dict() for f in self.files],
            "read": self.total("read"),
            "loaded": self.total("loaded"),
            "duplicate": self.total("duplicate"),
            "rejected": self.total("rejected"),
            "skipped": self.total("skipped"),
            "unknown_decimals": self.total("unknown_decimals"),
            "changed": self.changed,
        }


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
            )
        )
    merged = pl.concat([existing, *new_parts]) if new_parts else existing
    return merged, summaries, pl.concat(rejects)


class Workspace:
    """Transfers, graph and labels, on disk (``path``) or in memory (``path is None``)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._transfers: pl.DataFrame | None = None
        self._graph: TransferGraph | None = None
        self._labels: pl.DataFrame | None = None
        self.sources: list[str] = []  # export files behind an in-memory workspace (provenance)
        self._labels_extra = False  # session-only labels added (stored entities are then stale)
        self._nodes: NodeIndex | None = None
        self._reader: PartReader | None = None
        self._reader_gen = -1

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path | None = None, *, create: bool = False) -> Workspace:
        p = Path(path) if path is not None else default_path()
        if not (p / "manifest.json").exists():
            if not create:
                raise WorkspaceError(
                    f"no workspace at {p}: run 'tracer ingest FILE' first, pass --workspace, "
                    "or trace files directly with --data FILE --labels FILE"
                )
            p.mkdir(parents=True, exist_ok=True)
        ws = cls(p)
        if (p / "manifest.json").exists():
            m = ws.manifest()
            if m.get("version") != FORMAT_VERSION:
                raise WorkspaceError(
                    f"{p}: workspace format {m.get('version')} is not {FORMAT_VERSION}; "
                    "re-ingest into a new workspace"
                )
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
        assert self.path is not None
        mpath = self.path / "manifest.json"
        if not mpath.exists():
            return {"version": FORMAT_VERSION, "generation": 0, "labels": None, "ingests": []}
        try:
            return json.loads(mpath.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise WorkspaceError(f"{mpath}: corrupt manifest ({exc.msg})") from None

    def _gen_dir(self, gen: int) -> Path:
        assert self.path is not None
        return self.path / f"g{gen}"

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        assert self.path is not None
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / "lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise WorkspaceError(f"{self.path} is in use by another tracer process") from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _cleanup(self, manifest: dict[str, Any]) -> None:
        """Remove generations and label files the manifest does not name (crash leftovers)."""
        assert self.path is not None
        keep_gen = f"g{manifest.get('generation', 0)}"
        for child in self.path.iterdir():
            if child.is_dir() and child.name.startswith("g") and child.name != keep_gen:
                shutil.rmtree(child, ignore_errors=True)
            elif child.name.startswith(".") and child.name.endswith(".tmp"):
                child.unlink(missing_ok=True)
        labels_dir = self.path / "labels"
        if labels_dir.exists():
            for f in labels_dir.iterdir():
                if f.name != manifest.get("labels"):
                    f.unlink(missing_ok=True)
        ent = manifest.get("entities") or {}
        ent_dir = self.path / "entities"
        if ent_dir.exists():
            for f in ent_dir.iterdir():
                if f.name not in (ent.get("entities"), ent.get("links")):
                    f.unlink(missing_ok=True)

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
        """The current generation's partitions (None in memory or before the first ingest)."""
        if self.path is None:
            return None
        m = self.manifest()
        if m["generation"] == 0:
            return None
        if self._reader is None or self._reader_gen != m["generation"]:
            self._reader = PartReader(self._gen_dir(m["generation"]) / "transfers", m["parts"])
            self._reader_gen = m["generation"]
        return self._reader

    def rows(self, edges: np.ndarray, columns: list[str] | None = None) -> pl.DataFrame:
        """Rows ``edges`` (edge ids = row numbers, in the order given) of the transfer table.

        On disk only the Parquet row groups holding those rows are decoded, so showing a few
        paths from a 10M-transfer workspace does not read 10M transaction hashes.
        """
        edges = np.asarray(edges, dtype=np.int64)
        cols = columns or list(TRANSFER_PL.names())
        reader = self.parts()
        if reader is None or self._transfers is not None:
            return self.transfers().select(cols)[edges.tolist()]
        if edges.size == 0:
            return pl.DataFrame(schema={c: TRANSFER_PL[c] for c in cols})
        return pl.from_arrow(reader.take(edges, cols)).cast(  # type: ignore[union-attr]
            {c: TRANSFER_PL[c] for c in cols}
        )

    def nodes(self) -> NodeIndex:
        """Address and token dictionaries only (what a streamed sweep needs: O(addresses))."""
        if self._graph is not None:
            return self._graph
        if self.path is None or self.manifest()["generation"] == 0:
            return self.graph()
        if self._nodes is None:
            gdir = self._gen_dir(self.manifest()["generation"])
            self._nodes = NodeIndex(
                addresses=pl.read_parquet(gdir / "addresses.parquet"),
                tokens=pl.read_parquet(gdir / "tokens.parquet"),
            )
        return self._nodes

    def has_graph_cache(self) -> bool:
        if self.path is None or self.manifest()["generation"] == 0:
            return True
        return (self._gen_dir(self.manifest()["generation"]) / "graph" / "in_edges.npy").exists()

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
        # np.asarray: a plain ndarray view of the memory map (numba does not type np.memmap)
        arrays = {
            n: np.asarray(np.load(gdir / "graph" / f"{n}.npy", mmap_mode="r")) for n in ARRAYS
        }
        nodes = self.nodes()
        self._graph = TransferGraph(**arrays, addresses=nodes.addresses, tokens=nodes.tokens)
        return self._graph

    def _write_graph_cache(self, gdir: Path) -> None:
        reader = self.parts()
        assert reader is not None
        table = reader.read_all(EDGE_COLUMNS)
        nodes = self.nodes()
        graph = graph_from_arrays(
            **edge_arrays(table), addresses=nodes.addresses, tokens=nodes.tokens
        )
        del table
        self._save_graph_arrays(gdir, graph)

    @staticmethod
    def _save_graph_arrays(gdir: Path, graph: TransferGraph) -> None:
        (gdir / "graph").mkdir(parents=True, exist_ok=True)
        for name, arr in graph.arrays().items():
            with atomic_path(gdir / "graph" / f"{name}.npy") as tmp, open(tmp, "wb") as fh:
                np.save(fh, np.ascontiguousarray(arr))

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

    # -- writing --------------------------------------------------------------------------------
    def ingest(
        self,
        files: Iterable[str | Path],
        *,
        options: ReadOptions | None = None,
        fmt: str | None = None,
        skip_bad: bool = False,
    ) -> IngestSummary:
        """Add files' transfers; idempotent; all-or-nothing (a crash leaves the old state)."""
        if self.path is None:
            raise WorkspaceError("in-memory workspaces cannot ingest; use Workspace.in_memory")
        loads = [read_file(f, fmt=fmt, options=options, skip_bad=skip_bad) for f in files]
        with self._lock():
            m = self.manifest()
            self._cleanup(m)
            existing = self.transfers()
            merged, summaries, rejects = merge_new(existing, loads)
            summary = IngestSummary(summaries, rejects)
            if merged.height == existing.height:
                return summary
            gen = m["generation"] + 1
            m["parts"] = self._write_generation(gen, sort_transfers(merged))
            m["generation"] = gen
            m["ingests"] = [*m.get("ingests", []), {"files": [s.as_dict() for s in summaries]}]
            write_text_atomic(self.path / "manifest.json", json.dumps(m, indent=2))
            self._cleanup(m)
            summary.changed = True
        self._transfers = self._graph = self._nodes = None
        return summary

    def _write_generation(self, gen: int, transfers: pl.DataFrame) -> list[dict[str, Any]]:
        """Write partitions, dictionaries and graph cache of a new generation; returns its
        partition list (recorded in the manifest at commit)."""
        gdir = self._gen_dir(gen)
        if gdir.exists():
            shutil.rmtree(gdir)
        gdir.mkdir(parents=True)
        graph = build_graph(transfers)
        table = with_ids(to_arrow_transfers(transfers), graph.src, graph.dst, graph.token_id)
        writer = PartWriter(gdir / "transfers", STORED_SCHEMA)
        writer.write(table, graph.ts)
        parts = writer.close()
        self._save_graph_arrays(gdir, graph)
        with atomic_path(gdir / "addresses.parquet") as tmp:
            graph.addresses.write_parquet(tmp)
        with atomic_path(gdir / "tokens.parquet") as tmp:
            graph.tokens.write_parquet(tmp)
        return parts

    def add_labels(self, loads: Iterable[LabelLoad]) -> int:
        """Merge label files into the workspace's label table; returns labels added."""
        if self.path is None:
            raise WorkspaceError("in-memory workspaces keep labels in memory only")
        loads = list(loads)
        with self._lock():
            m = self.manifest()
            before = self.labels()
            merged = merge_labels([LabelLoad("workspace", before, before.height), *loads])
            added = merged.height - before.height
            if added == 0:
                return 0
            data = merged.sort(["category", "name", "address"], nulls_last=True)
            digest = hashlib.sha256(
                data.write_csv().encode("utf-8")  # content hash: same labels, same file
            ).hexdigest()[:16]
            name = f"labels-{digest}.parquet"
            with atomic_path(self.path / "labels" / name) as tmp:
                data.write_parquet(tmp)
            m["labels"] = name
            write_text_atomic(self.path / "manifest.json", json.dumps(m, indent=2))
            self._cleanup(m)
        self._labels = None
        return added

    def save_entities(
        self, entities: pl.DataFrame, links: pl.DataFrame, meta: dict[str, Any]
    ) -> None:
        """Store a clustering for the current generation and label set (atomic, like labels)."""
        if self.path is None:
            raise WorkspaceError("in-memory workspaces keep entities in memory only")
        with self._lock():
            m = self.manifest()
            digest = hashlib.sha256(
                entities.select("address", "entity_id").write_csv().encode()
                + json.dumps(meta, sort_keys=True, default=str).encode()
            ).hexdigest()[:16]
            names = {"entities": f"entities-{digest}.parquet", "links": f"links-{digest}.parquet"}
            for key, frame in (("entities", entities), ("links", links)):
                with atomic_path(self.path / "entities" / names[key]) as tmp:
                    frame.write_parquet(tmp)
            m["entities"] = {
                **names, "generation": m["generation"], "labels": m.get("labels"), "meta": meta,
            }  # fmt: skip
            write_text_atomic(self.path / "manifest.json", json.dumps(m, indent=2, default=str))
            self._cleanup(m)

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
        from tracer.chains import iso_us

        def _epoch_us(t: pl.DataFrame, how: str) -> int | None:
            if t.height == 0:
                return None
            us = t.select(getattr(pl.col("ts").dt.epoch("us"), how)()).item()
            return None if us is None else int(us)

        t = self.transfers()
        per_asset = (
            t.group_by(["chain", "asset"], maintain_order=False)
            .agg(pl.len().alias("transfers"), pl.col("amount").sum().alias("amount"))
            .sort(["chain", "asset"], nulls_last=True)
        )
        labels = self.labels()
        n_addr = (
            pl.concat(
                [
                    t.select("chain", pl.col("src").alias("a")),
                    t.select("chain", pl.col("dst").alias("a")),
                ]
            )
            .unique()
            .height
            if t.height
            else 0
        )
        return {
            "workspace": str(self.path) if self.path is not None else "(in memory)",
            "transfers": t.height,
            "addresses": n_addr,
            "unknown_decimals": int(t["decimals"].null_count()),
            # via integers: a stored time outside Python's datetime range (an old workspace,
            # a hand-edited part) must print, not panic (`DateTime + TimeDelta overflowed`)
            "first_ts": iso_us(_epoch_us(t, "min")),
            "last_ts": iso_us(_epoch_us(t, "max")),
            "per_asset": per_asset.to_dicts(),
            "labels": labels.height,
            "labels_per_category": dict(sorted(Counter(labels["category"].to_list()).items())),
        }
