"""``TransferGraph``: integer ids, time-sorted edge arrays and CSR per direction.

Edge ``i`` is row ``i`` of the canonical transfer table sorted in chain order
(:data:`tracer.core.schema.TRANSFER_ORDER`), so any kernel output indexed by edge maps straight
back to a transaction hash. Address ids are dense int32 assigned in order of first appearance in
chain order (source before destination): deterministic for a given set of transfers, and it puts
addresses active at the same time next to each other in memory, which is what a time-ordered sweep
touches (random access to per-address state is the bound, see ARCHITECTURE.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from tracer.core.schema import TRANSFER_ORDER
from tracer.kernels.csr import build_csr, merge_levels

ARRAYS = (
    "src",
    "dst",
    "ts",
    "amount",
    "token_id",
    "out_offsets",
    "out_edges",
    "in_offsets",
    "in_edges",
)


class _Frame:
    """A dataclass field holding a frame that may be given as a loader (a callable without
    arguments): it is called on first read and its frame kept (the address dictionary of a
    whole chain is read only by what needs all of it)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj: Any, objtype: type | None = None) -> pl.DataFrame:
        if obj is None:
            raise AttributeError  # no class-level default: the field is required
        value = obj.__dict__[self.slot]
        if not isinstance(value, pl.DataFrame):
            value = obj.__dict__[self.slot] = value()
        return value  # type: ignore[no-any-return]

    def __set__(self, obj: Any, value: pl.DataFrame | Callable[[], pl.DataFrame]) -> None:
        obj.__dict__[self.slot] = value


@dataclass(kw_only=True)
class NodeIndex:
    """The dictionaries that map kernel ids back to strings, without any edge array.

    ``addresses``: ``id, chain, address`` (row ``id``). ``tokens``: ``token_id, chain, token,
    asset, decimals``. Streamed sweeps need only this (O(addresses)); :class:`TransferGraph`
    adds the edge arrays.

    ``addresses`` may be given as a loader (read on first use) with ``n_addresses`` and
    ``rows_of`` (``id, chain, address`` of some ids, e.g. from the case index's stored texts):
    then :attr:`n_nodes` and :meth:`address_rows` never read the whole dictionary.
    """

    addresses: pl.DataFrame = _Frame()  # type: ignore[assignment]
    tokens: pl.DataFrame
    _index: dict[tuple[str, str], int] | None = field(default=None, repr=False)
    n_addresses: int | None = field(default=None, repr=False)
    rows_of: Callable[[np.ndarray], pl.DataFrame] | None = field(default=None, repr=False)

    @property
    def n_nodes(self) -> int:
        if self.n_addresses is not None and not self.loaded:
            return self.n_addresses
        return int(self.addresses.height)

    @property
    def loaded(self) -> bool:
        """Whether the whole address frame is in memory."""
        return isinstance(self.__dict__.get("_addresses"), pl.DataFrame)

    def address_rows(self, ids: np.ndarray | list[int]) -> pl.DataFrame:
        """``id, chain, address`` of ``ids`` in that order: O(ids) when ``rows_of`` is set
        (the case index's texts, kept per session), even when the frame was read anyway,
        where a Polars gather through a Python list costs 0.1-0.35 ms a call on a 169k-row
        dictionary against the index's 0.06 ms."""
        if self.rows_of is not None:
            return self.rows_of(np.asarray(ids, dtype=np.int64))
        ids = ids.tolist() if isinstance(ids, np.ndarray) else ids
        return self.addresses[ids] if len(ids) else self.addresses.clear()

    def ids_of(self, address: str) -> list[int]:
        """Node ids of ``address`` (normalised) on every chain where it occurs."""
        hits = self.addresses.filter(pl.col("address") == address)
        return hits["id"].to_list()

    def id_of(self, chain: str, address: str) -> int | None:
        if self._index is None:
            self._index = {
                (c, a): i for i, c, a in self.addresses.select("id", "chain", "address").iter_rows()
            }
        return self._index.get((chain, address))


class Sparse(NamedTuple):
    """A sparse CSR over some edges: ``nodes`` (int32, sorted, unique), ``offsets`` (int64,
    ``len(nodes) + 1``) and ``edges`` (int64 global edge ids, time order inside a node)."""

    nodes: np.ndarray
    offsets: np.ndarray
    edges: np.ndarray


def empty_sparse(like: np.ndarray | None = None) -> Sparse:
    """A delta with no edges; read-only when ``like`` is (so a kernel sees one array type for
    the base and the delta: numba compiles per type, and a read-only memory map's is its own)."""
    s = Sparse(np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros(0, np.int64))
    if like is not None and not like.flags.writeable:
        for a in s:
            a.flags.writeable = False
    return s


@dataclass(frozen=True)
class CsrLevels:
    """The CSR of one direction pair as the edge log stores it (:mod:`.edge_log`): a dense
    base over edges ``0..B`` (``*_offsets`` over the first nodes only: a node first seen in
    the delta has an empty base slice) and a sparse delta over edges ``B..E`` (empty without
    an append). A node's edges are its base slice then its delta slice: every delta edge id is
    above every base one, so that is edge-id (time) order. Why keep two levels: merging them
    is O(E) per session (0.7 s at 10M edges), and the local engine reads only the slices of
    the nodes it reaches."""

    out_offsets: np.ndarray
    out_edges: np.ndarray
    in_offsets: np.ndarray
    in_edges: np.ndarray
    out_delta: Sparse
    in_delta: Sparse

    @property
    def has_delta(self) -> bool:
        return bool(self.out_delta.edges.shape[0] or self.in_delta.edges.shape[0])


class _Csr:
    """A :class:`TransferGraph` CSR array: given at construction, or merged from the graph's
    :class:`CsrLevels` on first read (once, under a lock) and kept: every consumer that reads
    the whole CSR (the full sweep, reach, bundles, cluster) gets the one CSR it always had,
    and a session that reads only the levels (the local engine) never pays the merge."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj: Any, objtype: type | None = None) -> np.ndarray:
        if obj is None:
            return None  # type: ignore[return-value]  # the dataclass default: optional
        value = obj.__dict__.get(self.slot)
        if value is None:
            obj._merge()
            value = obj.__dict__[self.slot]
        return value  # type: ignore[no-any-return]

    def __set__(self, obj: Any, value: np.ndarray | None) -> None:
        if isinstance(value, _Csr):  # the dataclass default (this descriptor): not given
            value = None
        obj.__dict__[self.slot] = value


_MERGE_LOCK = threading.Lock()


@dataclass(kw_only=True)
class TransferGraph(NodeIndex):
    """Plain arrays for kernels, plus the dictionaries that map them back to strings.

    ``amount`` is NaN where the token's decimals are unknown. Offsets and CSR edge ids are
    int64; node ids int32 (up to 2**31-1 addresses).

    The CSR is given either as the four arrays (``out_offsets`` ...) or as ``levels`` (base
    plus delta, :class:`CsrLevels`, as the edge log stores it): then the four arrays are
    merged on first read (:attr:`merged` says whether that happened) and :meth:`csr_levels`
    gives the levels without merging. Without a delta the base arrays are the CSR.
    """

    src: np.ndarray
    dst: np.ndarray
    ts: np.ndarray
    amount: np.ndarray
    token_id: np.ndarray
    out_offsets: np.ndarray = field(default=_Csr(), repr=False, compare=False)  # type: ignore[arg-type]
    out_edges: np.ndarray = field(default=_Csr(), repr=False, compare=False)  # type: ignore[arg-type]
    in_offsets: np.ndarray = field(default=_Csr(), repr=False, compare=False)  # type: ignore[arg-type]
    in_edges: np.ndarray = field(default=_Csr(), repr=False, compare=False)  # type: ignore[arg-type]
    levels: CsrLevels | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        given = [self.__dict__.get("_" + n) is not None for n in ARRAYS[5:]]
        if self.levels is None and not all(given):
            raise TypeError("TransferGraph needs the four CSR arrays or levels")
        if self.levels is not None and not self.levels.has_delta and not any(given):
            lv = self.levels  # no delta: the base is the CSR (nothing to merge, ever)
            self.__dict__.update(_out_offsets=lv.out_offsets, _out_edges=lv.out_edges,
                                 _in_offsets=lv.in_offsets, _in_edges=lv.in_edges)  # fmt: skip

    @property
    def n_edges(self) -> int:
        return int(self.src.shape[0])

    @property
    def merged(self) -> bool:
        """Whether the one-level CSR is in memory (given, no delta, or merged on a read)."""
        return self.__dict__.get("_out_offsets") is not None

    def csr_levels(self) -> CsrLevels:
        """The CSR as levels, never merging: the stored levels, or the one CSR as a base with
        an empty delta."""
        if self.levels is not None:
            return self.levels
        oe = self.out_edges
        # kept: the same objects every call (caches key on the arrays' identity)
        self.levels = CsrLevels(self.out_offsets, oe, self.in_offsets, self.in_edges,
                                empty_sparse(oe), empty_sparse(oe))  # fmt: skip
        return self.levels

    def _merge(self) -> None:
        with _MERGE_LOCK:
            if self.merged:
                return
            lv = self.levels
            assert lv is not None
            n = self.n_nodes
            parts = {}
            for side, off, edges, d in (("out", lv.out_offsets, lv.out_edges, lv.out_delta),
                                        ("in", lv.in_offsets, lv.in_edges, lv.in_delta)):
                parts[f"_{side}_offsets"], parts[f"_{side}_edges"] = merge_levels(
                    off, edges, d.nodes, d.offsets, d.edges, n)
            # the offsets last: ``merged`` reads them
            self.__dict__.update({k: parts[k] for k in ("_out_edges", "_in_offsets", "_in_edges")})
            self.__dict__["_out_offsets"] = parts["_out_offsets"]

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ARRAYS}


def sort_transfers(frame: pl.DataFrame) -> pl.DataFrame:
    """Chain order: the row order every stored table and every kernel uses."""
    return frame.sort(TRANSFER_ORDER, nulls_last=True, maintain_order=True)


def build_graph(sorted_transfers: pl.DataFrame) -> TransferGraph:
    """Build the graph from transfers already in chain order (see :func:`sort_transfers`)."""
    t = sorted_transfers.select("chain", "src", "dst", "token", "asset", "decimals", "ts", "amount")
    n = t.height
    ends = pl.concat(
        [
            t.select(
                (pl.int_range(n, dtype=pl.Int64) * 2).alias("pos"),
                "chain",
                pl.col("src").alias("a"),
            ),
            t.select(
                (pl.int_range(n, dtype=pl.Int64) * 2 + 1).alias("pos"),
                "chain",
                pl.col("dst").alias("a"),
            ),
        ]
    ).sort("pos")
    addresses = ends.unique(["chain", "a"], keep="first", maintain_order=True).select(
        pl.int_range(pl.len(), dtype=pl.Int32).alias("id"),
        "chain",
        pl.col("a").alias("address"),
    )
    if addresses.height >= 2**31 - 1:
        raise OverflowError("more than 2**31-1 addresses: int32 ids exhausted")
    key = addresses.select("chain", pl.col("address").alias("a"), "id")
    src = t.select("chain", pl.col("src").alias("a")).join(
        key, on=["chain", "a"], how="left", maintain_order="left"
    )["id"]
    dst = t.select("chain", pl.col("dst").alias("a")).join(
        key, on=["chain", "a"], how="left", maintain_order="left"
    )["id"]
    tokens = (
        t.select("chain", "token", "asset", "decimals")
        .unique(["chain", "token", "asset", "decimals"], maintain_order=True)
        .sort(["chain", "asset", "token"], nulls_last=True)
        .with_row_index("token_id")
        .with_columns(pl.col("token_id").cast(pl.Int32))
    )
    token_id = t.join(
        tokens,
        on=["chain", "token", "asset", "decimals"],
        how="left",
        maintain_order="left",
        nulls_equal=True,
    )["token_id"]
    return graph_from_arrays(
        src=src.to_numpy().astype(np.int32),
        dst=dst.to_numpy().astype(np.int32),
        ts=t["ts"].dt.epoch("us").to_numpy().astype(np.int64),
        amount=t["amount"].fill_null(float("nan")).to_numpy().astype(np.float64),
        token_id=token_id.to_numpy().astype(np.int32),
        addresses=addresses,
        tokens=tokens,
    )


def graph_from_arrays(
    *,
    src: np.ndarray,
    dst: np.ndarray,
    ts: np.ndarray,
    amount: np.ndarray,
    token_id: np.ndarray,
    addresses: pl.DataFrame,
    tokens: pl.DataFrame,
) -> TransferGraph:
    """Add the CSR per direction to edge arrays already in chain order."""
    n_nodes = addresses.height
    out_offsets, out_edges = build_csr(src, n_nodes)
    in_offsets, in_edges = build_csr(dst, n_nodes)
    return TransferGraph(
        src=src, dst=dst, ts=ts, amount=amount, token_id=token_id,
        out_offsets=out_offsets, out_edges=out_edges, in_offsets=in_offsets, in_edges=in_edges,
        addresses=addresses, tokens=tokens,
    )  # fmt: skip
