"""``TransferGraph``: integer ids, time-sorted edge arrays and CSR per direction.

Edge ``i`` is row ``i`` of the canonical transfer table sorted in chain order
(:data:`tracer.core.schema.TRANSFER_ORDER`), so any kernel output indexed by edge maps straight
back to a transaction hash. Address ids are dense int32 assigned in order of first appearance in
chain order (source before destination): deterministic for a given set of transfers, and it puts
addresses active at the same time next to each other in memory, which is what a time-ordered sweep
touches (random access to per-address state is the bound, see ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from tracer.core.schema import TRANSFER_ORDER
from tracer.kernels.csr import build_csr

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


@dataclass(kw_only=True)
class TransferGraph(NodeIndex):
    """Plain arrays for kernels, plus the dictionaries that map them back to strings.

    ``amount`` is NaN where the token's decimals are unknown. Offsets and CSR edge ids are
    int64; node ids int32 (up to 2**31-1 addresses).
    """

    src: np.ndarray
    dst: np.ndarray
    ts: np.ndarray
    amount: np.ndarray
    token_id: np.ndarray
    out_offsets: np.ndarray
    out_edges: np.ndarray
    in_offsets: np.ndarray
    in_edges: np.ndarray

    @property
    def n_edges(self) -> int:
        return int(self.src.shape[0])

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
