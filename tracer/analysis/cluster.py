"""``cluster`` and ``entity``: addresses of one operator as one entity, with the evidence.

The heuristics (:mod:`tracer.analysis.heuristics`) produce links; the union-find kernel
(:mod:`kernels.unionfind`) turns links into entities (entity id = the smallest node id in it,
so ids are deterministic for a workspace generation). Every entity can be explained: each
member keeps the links that joined it, with their heuristic, transactions and a sentence.

Entities are stored in the workspace (``tracer cluster``) next to the generation they were
computed from; ``follow --entities`` uses them while they are current and otherwise clusters
on the fly with the default rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from tracer.analysis.heuristics import (
    HEURISTICS,
    ClusterOptions,
    airdrop,
    deposit_reuse,
    empty_links,
    gas_funder,
)
from tracer.core.addresses import display_many
from tracer.core.errors import UsageError
from tracer.graph.selection import node_labels, resolve_nodes
from tracer.kernels.unionfind import component_sizes, union_find
from tracer.store.workspace import Workspace

EVIDENCE = pl.Struct(
    {"heuristic": pl.String, "linked_to": pl.String, "tx_hashes": pl.List(pl.String),
     "detail": pl.String}
)  # fmt: skip
ENTITY_SCHEMA = {
    "address": pl.String,
    "chain": pl.String,
    "entity_id": pl.Int64,
    "entity_address": pl.String,
    "entity_size": pl.Int64,
    "heuristics": pl.List(pl.String),
    "evidence": pl.List(EVIDENCE),
    "id": pl.Int32,
}


@dataclass
class ClusterResult:
    """Entities (members of entities of two or more addresses) and the links behind them."""

    entities: pl.DataFrame  # ENTITY_SCHEMA
    links: pl.DataFrame  # a, b (display addresses), heuristic, tx_hashes, detail
    labels: np.ndarray  # int32[n_nodes]: entity id (smallest member id) of every node
    stats: dict[str, Any] = field(default_factory=dict)


def transfer_frame(ws: Workspace) -> pl.DataFrame:
    """What the heuristics read: the transfer table in chain order with node ids."""
    g = ws.graph()
    t = ws.transfers().select("chain", "token", "asset", "tx_hash", "block", "ts", "amount")
    return t.with_columns(
        pl.Series("s", g.src, pl.Int32),
        pl.Series("d", g.dst, pl.Int32),
        pl.Series("row", np.arange(g.n_edges, dtype=np.int64)),
    )


def parse_heuristics(text: str | None) -> tuple[str, ...]:
    if text is None or text.strip().lower() == "all":
        return HEURISTICS
    chosen = tuple(h.strip() for h in text.split(",") if h.strip())
    bad = [h for h in chosen if h not in HEURISTICS]
    if bad or not chosen:
        raise UsageError(f"--heuristics: choose from {', '.join(HEURISTICS)} (got {text!r})")
    return chosen


def cluster(
    ws: Workspace,
    heuristics: tuple[str, ...] = HEURISTICS,
    opts: ClusterOptions | None = None,
) -> ClusterResult:
    """Run the chosen heuristics and build entities."""
    opts = opts or ClusterOptions()
    graph = ws.graph()
    labelled = node_labels(graph, ws.labels())
    t = transfer_frame(ws)
    parts = []
    deposits = 0
    if "deposit" in heuristics:
        links, dep = deposit_reuse(t, labelled, opts)
        parts.append(links)
        deposits = dep.height
    if "gas-funder" in heuristics:
        parts.append(gas_funder(t, labelled, opts))
    if "airdrop" in heuristics:
        parts.append(airdrop(t, labelled, opts))
    links = pl.concat(parts) if parts else empty_links()
    n = graph.n_nodes
    labels = union_find(n, links["a"].to_numpy(), links["b"].to_numpy())
    sizes = component_sizes(labels) if n else np.zeros(0, dtype=np.int64)
    members = np.flatnonzero(sizes >= 2).astype(np.int32)
    shown = _display_map(graph, np.union1d(members, links["via"].drop_nulls().to_numpy()))
    links_shown = links.with_columns(
        pl.col("a").replace_strict(shown, return_dtype=pl.String).alias("a_addr"),
        pl.col("b").replace_strict(shown, return_dtype=pl.String).alias("b_addr"),
        pl.col("detail").str.replace(
            "{via}", pl.col("via").replace_strict(shown, default="?", return_dtype=pl.String),
            literal=True,
        ),
    )  # fmt: skip
    both = pl.concat(
        [
            links_shown.select(pl.col("a").alias("id"), pl.col("b_addr").alias("linked_to"),
                               "heuristic", "tx_hashes", "detail"),
            links_shown.select(pl.col("b").alias("id"), pl.col("a_addr").alias("linked_to"),
                               "heuristic", "tx_hashes", "detail"),
        ]
    )  # fmt: skip
    per_node = both.group_by("id").agg(
        pl.col("heuristic").unique().sort().alias("heuristics"),
        pl.struct("heuristic", "linked_to", "tx_hashes", "detail").alias("evidence"),
    )
    nodes = graph.addresses.filter(pl.col("id").is_in(members.tolist()))
    entities = (
        nodes.with_columns(
            pl.col("id").replace_strict(shown, return_dtype=pl.String).alias("address"),
            pl.Series("entity_id", labels[nodes["id"].to_numpy()].astype(np.int64)),
            pl.Series("entity_size", sizes[nodes["id"].to_numpy()].astype(np.int64)),
        )
        .with_columns(
            pl.col("entity_id")
            .cast(pl.Int32)
            .replace_strict(shown, return_dtype=pl.String)
            .alias("entity_address")
        )
        .join(per_node, on="id", how="left")
        .select(list(ENTITY_SCHEMA))
        .sort("entity_id", "id")
        .cast(ENTITY_SCHEMA)  # type: ignore[arg-type]
    )
    out_links = links_shown.select(
        pl.col("a_addr").alias("a"), pl.col("b_addr").alias("b"), "heuristic", "tx_hashes",
        "detail",
    )  # fmt: skip
    stats = {
        "links": {h: int((links["heuristic"] == h).sum()) for h in heuristics},
        "deposit_addresses": deposits,
        "entities": int(entities["entity_id"].n_unique()) if entities.height else 0,
        "clustered_addresses": entities.height,
        "largest_entity": int(sizes.max()) if n else 0,
        "heuristics": list(heuristics),
        "options": opts.as_dict(),
    }
    return ClusterResult(entities=entities, links=out_links, labels=labels, stats=stats)


def _display_map(graph: Any, ids: np.ndarray) -> dict[int, str]:
    rows = graph.addresses.filter(pl.col("id").is_in(ids.astype(np.int32).tolist()))
    shown = display_many(rows["chain"].to_list(), rows["address"].to_list())
    return dict(zip(rows["id"].to_list(), shown, strict=True))


def current(ws: Workspace) -> tuple[np.ndarray, pl.DataFrame, pl.DataFrame]:
    """Entity id per node, entity table and links: the stored clustering while it is current,
    otherwise one computed now with the default rules."""
    stored = ws.entities()
    if stored is None:
        res = cluster(ws)
        return res.labels, res.entities, res.links
    entities, links, _meta = stored
    labels = np.arange(ws.graph().n_nodes, dtype=np.int32)
    labels[entities["id"].to_numpy()] = entities["entity_id"].to_numpy().astype(np.int32)
    return labels, entities, links


def entity_labels(ws: Workspace) -> tuple[np.ndarray, pl.DataFrame]:
    """Entity id per node and the entity table (see :func:`current`)."""
    labels, entities, _links = current(ws)
    return labels, entities


def explain(ws: Workspace, address: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Members of ``address``'s entity and the links among them (stored or computed)."""
    graph = ws.graph()
    ids, _missing = resolve_nodes(graph, [address])
    if ids.size == 0:
        raise UsageError(f"{address} does not occur in the data")
    _labels, entities, links = current(ws)
    mine = entities.filter(pl.col("id").is_in(ids.tolist()))
    if mine.height == 0:
        return entities.clear(), links.clear()
    eid = mine["entity_id"].unique().to_list()
    members = entities.filter(pl.col("entity_id").is_in(eid))
    addrs = members["address"].implode()
    among = links.filter(pl.col("a").is_in(addrs) | pl.col("b").is_in(addrs))
    return members, among
