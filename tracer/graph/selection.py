"""Turning what a user asks for (addresses, assets, time window, labels) into kernel inputs.

Shared by ``follow``, ``source`` and ``exposure`` so that every use case reads options the same
way: one :class:`Selection` says what is traced, and one place decides which edges are in play
and which nodes are sources, sinks or pass-through services.
"""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from tracer.core.addresses import TRON, is_evm, normalize_evm, normalize_tron
from tracer.core.errors import UsageError
from tracer.core.sparse_zeros import sparse_zeros
from tracer.core.tokens import STABLE_SYMBOLS

# the Selection is defined in spec (stdlib only: the CLI builds it without numpy); named here too
from tracer.graph.spec import DEFAULT_THROUGH, Selection, to_us  # noqa: F401
from tracer.kernels.taint import NORMAL, SINK, SOURCE, THROUGH
from tracer.sources.labels import primary_labels
from tracer.store.graph_cache import NodeIndex, TransferGraph


def parse_address(text: str) -> list[tuple[str | None, str]]:
    """``(chain or None for any EVM chain, normalised address)`` candidates for user input."""
    a = text.strip()
    out: list[tuple[str | None, str]] = []
    with contextlib.suppress(ValueError):
        out.append((None, normalize_evm(a)))
    with contextlib.suppress(ValueError):
        out.append((TRON, normalize_tron(a)))
    if not out:
        raise UsageError(f"not an EVM (0x + 40 hex) or Tron (T..., base58check) address: {text!r}")
    return out


def resolve_nodes(graph: NodeIndex, addresses: list[str]) -> tuple[np.ndarray, list[str]]:
    """Node ids for the given addresses (all chains they occur on) and those not found."""
    wanted: list[tuple[int, str | None, str]] = []
    for i, text in enumerate(addresses):
        wanted.extend((i, chain, addr) for chain, addr in parse_address(text))
    query = pl.DataFrame(
        wanted, schema={"i": pl.Int64, "want_chain": pl.String, "address": pl.String}, orient="row"
    )
    hits = query.join(graph.addresses, on="address", how="inner").filter(
        pl.col("want_chain").is_null() | (pl.col("want_chain") == pl.col("chain"))
    )
    found = set(hits["i"].to_list())
    missing = [a for i, a in enumerate(addresses) if i not in found]
    return np.unique(hits["id"].to_numpy().astype(np.int32)), missing


def node_labels(
    graph: NodeIndex, labels: pl.DataFrame, nodes: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``id, name, category, source, confidence`` for every labelled node of the graph.

    A label with a chain applies on that chain; one without (EVM address lists) on every EVM
    chain. An address with several labels takes the highest-priority category
    (:data:`tracer.sources.labels.CATEGORY_PRIORITY`). ``nodes``: the rows to join instead of
    every address (in id order; any superset of the labelled ones gives the same frame).
    """
    if labels.height == 0 or graph.n_nodes == 0:
        return pl.DataFrame(
            schema={"id": pl.Int32, "name": pl.String, "category": pl.String,
                    "source": pl.String, "confidence": pl.String}
        )  # fmt: skip
    with_chain = labels.filter(pl.col("chain").is_not_null())
    any_evm = labels.filter(pl.col("chain").is_null()).drop("chain")
    # First the few nodes whose address carries any label (a semi join: the hash table holds
    # the labels' addresses). Filtering or joining the whole dictionary instead copied it:
    # 2.6x its size at peak (175 MiB over a 67 MiB dictionary of 1.7M addresses; the 200M
    # workspace's is about 1 GB), for a result of a few thousand rows.
    wanted = pl.concat([with_chain.select("address"), any_evm.select("address")]).unique()
    nodes = (graph.addresses if nodes is None else nodes).lazy().join(
        wanted.lazy(), on="address", how="semi").collect()  # fmt: skip
    evm_chains = [c for c in nodes["chain"].unique().to_list() if is_evm(c)]
    joined = pl.concat(
        [
            nodes.join(with_chain, on=["chain", "address"], how="inner"),
            nodes.filter(pl.col("chain").is_in(evm_chains))
            .join(any_evm, on="address", how="inner")
            .select([*nodes.columns, "name", "category", "source", "confidence"]),
        ]
    )
    return primary_labels(joined).select("id", "name", "category", "source", "confidence")


#: the answers of :func:`asset_tokens` and :func:`asset_groups` per token table (by identity,
#: checked alive) and request: the same for every question of a session
_BY_TOKENS: dict[int, tuple[weakref.ref[pl.DataFrame], dict[Any, Any]]] = {}


def _memo(tokens: pl.DataFrame) -> dict[Any, Any]:
    """This token table's answers so far (a new table: none)."""
    hit = _BY_TOKENS.get(id(tokens))
    if hit is not None and hit[0]() is tokens:
        return hit[1]
    for k in [k for k, (r, _) in _BY_TOKENS.items() if r() is None]:
        del _BY_TOKENS[k]
    table: dict[Any, Any] = {}
    _BY_TOKENS[id(tokens)] = (weakref.ref(tokens), table)
    return table


def asset_tokens(graph: NodeIndex, assets: str | None) -> np.ndarray:
    """Token ids selected by ``--asset``: ``stablecoins`` (default), ``all``, or symbols
    (kept per token table: a session asks the same again and again)."""
    memo = _memo(graph.tokens)
    key = ("tokens", assets)
    if key not in memo:
        memo[key] = _asset_tokens(graph.tokens, assets)
    return memo[key].copy()  # type: ignore[no-any-return]


def _asset_tokens(tokens: pl.DataFrame, assets: str | None) -> np.ndarray:
    choice = (assets or "stablecoins").strip()
    if choice.lower() == "all":
        sel = tokens  # tokens without decimals too: their rows are counted as excluded
    elif choice.lower() in ("stablecoins", "stable"):
        sel = tokens.filter(pl.col("asset").str.to_uppercase().is_in(list(STABLE_SYMBOLS)))
    else:
        wanted = [s.strip() for s in choice.split(",") if s.strip()]
        # a contract is 0x… or a 34-character Tron address; anything else is a symbol (TRX!)
        is_tron = [w.startswith("T") and len(w) == 34 for w in wanted]
        contracts = [w.lower() for w in wanted if w.lower().startswith("0x")] + [
            w for w, t in zip(wanted, is_tron, strict=True) if t
        ]
        sym = [w.upper() for w, t in zip(wanted, is_tron, strict=True)
               if not t and not w.lower().startswith("0x")]  # fmt: skip
        sel = tokens.filter(
            pl.col("asset").str.to_uppercase().is_in(sym) | pl.col("token").is_in(contracts)
        )
        if sel.height == 0:
            have = sorted({a for a in tokens["asset"].to_list() if a})
            raise UsageError(
                f"--asset {choice}: no such asset in the data (have: {', '.join(have)})"
            )
    return sel["token_id"].to_numpy().astype(np.int32)


@dataclass(frozen=True)
class AssetGroup:
    """Tokens whose amounts may be added: one accounting unit of a trace.

    USD-pegged stablecoins form one pool (the documented exception: their units are dollars);
    every other token is its own group, so ETH and TRX, or two tokens that share a symbol, are
    never summed. ``name`` is what outputs print in their ``asset`` column.
    """

    name: str
    token_ids: np.ndarray
    members: tuple[str, ...]  # symbols in the group (several only for the USD pool)
    decimals: int  # largest decimals of its tokens: the precision amounts are shown at


def asset_groups(tokens: pl.DataFrame, token_ids: np.ndarray) -> list[AssetGroup]:
    """Split the selected tokens into :class:`AssetGroup` s (USD pool first, then by name);
    kept per token table and selection (each call gets its own arrays)."""
    memo = _memo(tokens)
    key = ("groups", np.asarray(token_ids).astype(np.int64).tobytes())
    if key not in memo:
        memo[key] = tuple(_asset_groups(tokens, token_ids))
    return [replace(g, token_ids=g.token_ids.copy()) for g in memo[key]]


def _asset_groups(tokens: pl.DataFrame, token_ids: np.ndarray) -> list[AssetGroup]:
    chosen = tokens.filter(pl.col("token_id").is_in(np.asarray(token_ids).tolist()))
    # tokens of unknown decimals cannot be swept; they ride with the first group, whose sweep
    # keeps their rows out and counts them (so the run's excluded count is complete, once)
    unknown = chosen.filter(pl.col("decimals").is_null())["token_id"].to_numpy()
    sel = chosen.filter(pl.col("decimals").is_not_null())
    if sel.height == 0:
        names = tuple(sorted({a for a in chosen["asset"].to_list() if a}))
        return [AssetGroup("/".join(names) or "-", unknown.astype(np.int32), names, 0)]
    sym = sel["asset"].fill_null("?").str.to_uppercase()
    sel = sel.with_columns(sym.alias("_sym"), sym.is_in(list(STABLE_SYMBOLS)).alias("_usd"))
    groups: list[AssetGroup] = []
    usd = sel.filter(pl.col("_usd"))
    if usd.height:
        members = tuple(sorted(set(usd["asset"].fill_null("?").to_list())))
        groups.append(AssetGroup(
            members[0] if len(members) == 1 else "USD",
            usd["token_id"].to_numpy().astype(np.int32), members,
            int(usd["decimals"].max() or 0),  # type: ignore[arg-type]
        ))  # fmt: skip
    other = sel.filter(~pl.col("_usd")).sort(["asset", "chain", "token"], nulls_last=True)
    rows = other.select("token_id", "chain", "token", "asset", "decimals").to_dicts()
    by_sym: dict[str, int] = {}
    for r in rows:
        by_sym[r["asset"] or "?"] = by_sym.get(r["asset"] or "?", 0) + 1
    for r in rows:
        name = r["asset"] or "?"
        if by_sym[name] > 1:  # same symbol, different tokens: say which one
            name = f"{name} ({r['chain']}{'' if r['token'] is None else ' ' + r['token']})"
        groups.append(AssetGroup(name, np.array([r["token_id"]], dtype=np.int32),
                                 (r["asset"] or "?",), int(r["decimals"] or 0)))  # fmt: skip
    if unknown.size:
        first = groups[0]
        groups[0] = AssetGroup(first.name, np.concatenate([first.token_ids, unknown]).astype(
            np.int32), first.members, first.decimals)  # fmt: skip
    return groups


@dataclass
class EdgeSelection:
    """The edges in play, compacted (kernels see contiguous arrays), and their map back."""

    index: np.ndarray  # int64[E'] full edge id of each selected edge (chain order kept)
    src: np.ndarray
    dst: np.ndarray
    amount: np.ndarray
    ts: np.ndarray
    excluded_unknown: int  # selected-asset rows without decimals (kept out, counted)

    def part(self, a: int, b: int) -> EdgeSelection:
        """Edges ``a:b`` (views); the exclusion count stays with the first part only."""
        return EdgeSelection(
            index=self.index[a:b], src=self.src[a:b], dst=self.dst[a:b],
            amount=self.amount[a:b], ts=self.ts[a:b],
            excluded_unknown=self.excluded_unknown if a == 0 else 0,
        )  # fmt: skip

    def time_reversed(self) -> EdgeSelection:
        """The time-reversed graph (``source``, exposure ``out``): edges reversed and walked
        newest first, so a wallet's inflows become its outflows. Views, no copy."""
        return EdgeSelection(
            index=self.index[::-1], src=self.dst[::-1], dst=self.src[::-1],
            amount=self.amount[::-1], ts=self.ts[::-1], excluded_unknown=self.excluded_unknown,
        )  # fmt: skip


def every_token(graph: NodeIndex, token_ids: np.ndarray) -> bool:
    """Whether ``token_ids`` hold every token of the graph."""
    return bool(np.isin(graph.tokens["token_id"].to_numpy(), token_ids).all())


def selects_every_edge(graph: TransferGraph, token_ids: np.ndarray) -> bool:
    """Whether :func:`select_edges` would select every edge (every token, no amount of unknown
    decimals): then its arrays are the graph's own and its ``index`` the identity, which a
    caller that can do without need not build (an 80 MB ``arange`` at 10M edges, ~1 ms of
    system time a MB of fresh memory on this VM)."""
    return every_token(graph, token_ids) and not np.isnan(graph.amount).any()


def select_edges(graph: TransferGraph, token_ids: np.ndarray) -> EdgeSelection:
    """Edges of the selected tokens with known decimals; no copy when that is every edge."""
    nan = np.isnan(graph.amount)
    all_tokens = every_token(graph, token_ids)
    # every token chosen: every edge is, without reading (paging in) the token column
    chosen = np.ones(0, dtype=bool) if all_tokens else np.isin(graph.token_id, token_ids)
    # selected rows only (others are not asked)
    unknown = int(np.count_nonzero(nan if all_tokens else nan & chosen))
    if all_tokens and unknown == 0:
        return EdgeSelection(
            index=np.arange(graph.n_edges, dtype=np.int64),
            src=graph.src, dst=graph.dst, amount=graph.amount, ts=graph.ts,
            excluded_unknown=0,
        )  # fmt: skip
    mask = ~nan if all_tokens else chosen & ~nan
    index = np.flatnonzero(mask)
    return EdgeSelection(
        index=index,
        src=graph.src[index],
        dst=graph.dst[index],
        amount=graph.amount[index],
        ts=graph.ts[index],
        excluded_unknown=unknown,
    )


def roles(
    graph: NodeIndex,
    sources: np.ndarray,
    labelled: pl.DataFrame,
    through: tuple[str, ...],
) -> np.ndarray:
    """int8 role per node: sources first, then labelled sinks / pass-through services."""
    # NORMAL is 0: zeros paged in lazily, 4 KiB at a time (40M addresses: the pages marked)
    role = sparse_zeros(graph.n_nodes, np.int8) if NORMAL == 0 else np.full(
        graph.n_nodes, NORMAL, dtype=np.int8)  # fmt: skip
    if labelled.height:
        ids = labelled["id"].to_numpy()
        cats = labelled["category"].to_numpy()
        is_through = np.isin(cats, list(through))
        role[ids[is_through]] = THROUGH
        role[ids[~is_through]] = SINK
    role[sources] = SOURCE
    return role
