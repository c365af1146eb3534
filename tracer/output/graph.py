"""The flow graph of a trace: aggregated tainted flows between addresses, laid out by Graphviz.

Why a graph module of its own: investigators and the people they report to read a picture
before a table, and the picture must say the same numbers as the JSON. So the graph is built
from the follow's audit ledger (one row per tainted transfer) and nothing else: an edge is the
sum of the ledger's ``tainted`` over the transfers from one address to another in one asset
account, with the raw amount, the first and last time and the transfer count beside it. The
layout is Graphviz's ``dot`` (left to right in the direction money moved: the traced sources on
the left, the services where it arrived on the right); nothing here places a node by hand.

Large traces stay readable by *collapsing*, never by dropping silently (:class:`CollapseRules`):
a sender's flows below ``min_amount``, beyond its ``top_k`` largest, or beyond the ``max_edges``
largest of the whole trace are merged into one edge per sender to a "N more addresses" node
that carries their summed amount, and :attr:`FlowGraph.collapsed` says how many edges,
transfers and how much per asset were merged, and what lies downstream of them (not drawn).

Inferred hops (clustering, OTC matching, bridges matched by amount) are drawn dashed with their
confidence when the ledger carries an ``inferred`` / ``confidence`` column (the cross-asset
follow adds them); a ledger without them is on-chain fact throughout and every edge is solid.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tracer.analysis.follow_result import FollowResult
from tracer.core.atomic import atomic_path, write_text_atomic
from tracer.core.decimal_text import table_text
from tracer.core.errors import UsageError

#: Output suffixes ``--graph`` writes (``.dot`` needs no Graphviz; the others run ``dot``).
GRAPH_FORMATS = (".svg", ".dot", ".png", ".pdf")

#: Fill colours by label category (colour-blind-safe Okabe-Ito hues, light tints).
CATEGORY_COLOURS = {
    "exchange": "#9ecae1",
    "otc_desk": "#fdd49e",
    "swap": "#c7e9c0",
    "bridge": "#d9d9f3",
    "mixer": "#f4a582",
    "sanctioned": "#e7298a",
    "scam": "#fb6a4a",
    "gambling": "#dadaeb",
    "guarantee_marketplace": "#fee391",
    "darknet_market": "#d6604d",
    "ransomware": "#b2182b",
    "payment_processor": "#a6dba0",
    "defi": "#c2e699",
}
SOURCE_COLOUR = "#fcbba1"
WALLET_COLOUR = "#ffffff"
HELD_COLOUR = "#fff7bc"
OTHER_COLOUR = "#f0f0f0"
HOP_COLOUR = "#d9f0d3"  # a conversion or bridge node (green: value changes form, not hands)
FONT = "Helvetica,Arial,sans-serif"


@dataclass(frozen=True)
class CollapseRules:
    """What is drawn as its own edge (README "Flow graphs"): a sender's flow of at least
    ``min_amount`` (token units of its asset), among that sender's ``top_k`` largest, and among
    the ``max_edges`` largest of the trace. Everything else a drawn sender sent is merged into
    one "N more addresses" edge, so every drawn sender's outflow still sums to the ledger's."""

    min_amount: float = 0.0
    top_k: int | None = 8
    max_edges: int | None = 250

    def describe(self) -> str:
        parts = []
        if self.min_amount > 0:
            parts.append(f"flows under {self.min_amount:g} token units")
        if self.top_k is not None:
            parts.append(f"beyond each sender's {self.top_k} largest")
        if self.max_edges is not None:
            parts.append(f"beyond the {self.max_edges} largest flows of the trace")
        if not parts:
            return "nothing is collapsed"
        return "merged into one edge per sender: " + "; ".join(parts)


@dataclass
class FlowGraph:
    """Nodes and aggregated edges of one trace, after the collapse rules.

    ``edges``: src, dst (node keys ``chain:address``), asset, tainted, amount, transfers,
    first_ts, last_ts, inferred, confidence, collapsed (True for a "N more" edge).
    ``nodes``: key, chain, address, role (source, service, through, held, wallet, more),
    name, category, hop, held, more (addresses merged in a "more" node)."""

    nodes: pl.DataFrame
    edges: pl.DataFrame
    rules: CollapseRules
    direction: str
    decimals: dict[str, int] = field(default_factory=dict)
    #: per asset: what was merged and what lies beyond it (see :meth:`collapse_text`)
    collapsed: dict[str, dict[str, Any]] = field(default_factory=dict)
    zero_taint_transfers: int = 0

    def collapse_text(self) -> list[str]:
        """One sentence per asset saying what was collapsed and how much."""
        out = []
        for asset, c in sorted(self.collapsed.items()):
            if not c["merged_edges"] and not c["hidden_edges"]:
                continue
            dec = self.decimals.get(asset, 6)
            text = (
                f"{asset}: {c['merged_edges']:,} flows ({c['merged_transfers']:,} transfers, "
                f"{table_text(c['merged_amount'], dec)} {asset}) merged into 'more' edges "
                f"({self.rules.describe()})"
            )
            if c["hidden_edges"]:
                text += (
                    f"; {c['hidden_edges']:,} onward flows of merged addresses "
                    f"({table_text(c['hidden_amount'], dec)} {asset}) are not drawn"
                )
            out.append(text)
        return out


_EDGE_SCHEMA: dict[str, Any] = {
    "src": pl.String, "dst": pl.String, "asset": pl.String, "tainted": pl.Float64,
    "amount": pl.Float64, "transfers": pl.UInt32, "first_ts": pl.Datetime("us", "UTC"),
    "last_ts": pl.Datetime("us", "UTC"), "inferred": pl.Boolean, "confidence": pl.Float64,
    "source_asset": pl.String, "tainted_source": pl.Float64,
}  # fmt: skip


def node_key(chain: pl.Expr, address: pl.Expr) -> pl.Expr:
    """A node's key, ``chain:address``. EVM addresses compare lower-case: the ledger keeps the
    stored form and result rows the checksummed display form (Tron's base58 is kept as is)."""
    lowered = pl.when(address.str.starts_with("0x")).then(address.str.to_lowercase())
    return pl.concat_str([chain, pl.lit(":"), lowered.otherwise(address)])


def _sum_or_null(name: str) -> pl.Expr:
    """A sum that stays null when every value is (no figure is not a figure of 0)."""
    return pl.when(pl.col(name).count() > 0).then(pl.col(name).sum()).alias(name)


def _end_key(cols: list[str], end: str) -> pl.Expr:
    """A ledger row's ``src``/``dst`` node key: ``chain:address``, or the precomputed
    ``src_key``/``dst_key`` of :func:`graph_ledger` (a hop node, or a bridge's other chain)."""
    if f"{end}_key" in cols:
        return pl.col(f"{end}_key")
    return node_key(pl.col("chain"), pl.col(end))


def transfer_rows(ledger: pl.DataFrame) -> pl.DataFrame:
    """The ledger's transfers: a cross-asset ledger also holds one ``row_kind = "hop"`` row
    per crossed hop (a conversion, not a transfer)."""
    if "row_kind" not in ledger.columns:
        return ledger
    return ledger.filter(pl.col("row_kind").is_null() | (pl.col("row_kind") != "hop"))


def graph_ledger(result: FollowResult) -> pl.DataFrame:
    """The ledger as the graph draws it. Without hops: unchanged. With a cross-asset follow's
    hops, each crossed hop becomes a node of its own (``hop:<hop_id>``): the input legs that
    went into it end there (not at the pool, which the taint did not reach), and one edge
    leaves it to the receiver of the output, in the output asset, marked inferred when the
    hop is."""
    assert result.ledger is not None
    ledger = result.ledger
    if "row_kind" not in ledger.columns:
        return ledger
    group_of = {m: a.asset for a in result.accounts for m in a.members}
    legs = transfer_rows(ledger).with_columns(
        node_key(pl.col("chain"), pl.col("src")).alias("src_key"),
        pl.when(pl.col("into_hop").is_not_null())
        .then(pl.concat_str([pl.lit("hop:"), pl.col("into_hop")]))
        .otherwise(node_key(pl.col("chain"), pl.col("dst"))).alias("dst_key"),
    )
    hops = ledger.filter(pl.col("row_kind") == "hop")
    if hops.height == 0:
        return legs
    name = pl.concat_str([
        pl.col("hop_kind"), pl.lit(" "), pl.col("asset_in").fill_null("?"), pl.lit("→"),
        pl.col("asset").fill_null("?"), pl.lit("\n"), pl.col("protocol").fill_null(""),
        pl.lit(" · tx "), pl.col("tx_in").str.slice(0, 8), pl.lit("…"),
    ])  # fmt: skip
    out = hops.with_columns(
        pl.concat_str([pl.lit("hop:"), pl.col("hop_id")]).alias("src_key"),
        node_key(pl.col("chain"), pl.col("dst")).alias("dst_key"),
        pl.col("asset").replace_strict(group_of, default=pl.col("asset")).alias("asset_group"),
        (pl.col("value").cast(pl.Float64) / 10.0 ** pl.col("decimals").cast(pl.Float64))
        .alias("amount"),
        name.alias("src_name"), pl.lit("hop").alias("src_category"),
    )  # fmt: skip
    return pl.concat([legs, out.select(legs.columns)], how="vertical_relaxed")


def aggregate_edges(ledger: pl.DataFrame) -> pl.DataFrame:
    """The ledger's tainted transfers summed per (sender, receiver, asset account)."""
    cols = ledger.columns
    inferred = pl.col("inferred") if "inferred" in cols else pl.lit(False)
    confidence = pl.col("confidence") if "confidence" in cols else pl.lit(1.0)
    asset = pl.col("asset_group") if "asset_group" in cols else pl.col("asset")
    # a cross-asset follow's ledger says, per row, the traced amount in the source's asset
    converted = "source_asset" in cols and "tainted_source" in cols
    src_asset = pl.col("source_asset") if converted else pl.lit(None, pl.String)
    src_taint = pl.col("tainted_source") if converted else pl.lit(None, pl.Float64)
    if ledger.height == 0:
        return pl.DataFrame(schema=_EDGE_SCHEMA)
    return (
        ledger.filter(pl.col("tainted") > 0)
        .select(
            _end_key(cols, "src").alias("src"),
            _end_key(cols, "dst").alias("dst"),
            asset.alias("asset"), "tainted", "amount", "ts",
            inferred.fill_null(False).alias("inferred"),
            confidence.cast(pl.Float64).fill_null(1.0).alias("confidence"),
            src_asset.alias("source_asset"), src_taint.cast(pl.Float64).alias("tainted_source"),
        )
        .group_by(["src", "dst", "asset", "source_asset"])
        .agg(
            pl.col("tainted").sum(),
            pl.col("amount").sum(),
            pl.len().cast(pl.UInt32).alias("transfers"),
            pl.col("ts").min().alias("first_ts"),
            pl.col("ts").max().alias("last_ts"),
            pl.col("inferred").any(),
            pl.col("confidence").min(),
            _sum_or_null("tainted_source"),
        )
        .select(list(_EDGE_SCHEMA))
        .sort(["asset", "tainted", "src", "dst", "source_asset"],
              descending=[False, True, False, False, False], nulls_last=True)
    )


def _source_keys(ledger: pl.DataFrame, backward: bool) -> set[str]:
    seeds = ledger.filter(pl.col("is_seed"))
    col = "dst" if backward else "src"
    return set(seeds.select(node_key(pl.col("chain"), pl.col(col))).to_series().to_list())


def _keep_flags(edges: pl.DataFrame, rules: CollapseRules, backward: bool) -> pl.DataFrame:
    """Mark the edges drawn on their own (``keep``) by the rules, ranked per sender (per
    receiver when tracing back: there the traced addresses are at the end of the money)."""
    sender = "dst" if backward else "src"
    keep = pl.col("tainted") >= rules.min_amount
    if rules.top_k is not None:
        rank = pl.col("tainted").rank("ordinal", descending=True).over([sender, "asset"])
        keep = keep & (rank <= rules.top_k)
    if rules.max_edges is not None:
        keep = keep & (pl.col("tainted").rank("ordinal", descending=True) <= rules.max_edges)
    return edges.with_columns(keep.alias("keep"))


def _reachable(edges: pl.DataFrame, start: set[str], backward: bool) -> set[str]:
    """Nodes reached from ``start`` over kept edges (against the money when tracing back)."""
    a, b = ("dst", "src") if backward else ("src", "dst")
    adj: dict[str, list[str]] = {}
    for u, v in edges.filter(pl.col("keep")).select(a, b).iter_rows():
        adj.setdefault(u, []).append(v)
    seen = set(start)
    todo = list(start)
    while todo:
        for v in adj.get(todo.pop(), ()):
            if v not in seen:
                seen.add(v)
                todo.append(v)
    return seen


def build_flow_graph(result: FollowResult, rules: CollapseRules | None = None) -> FlowGraph:
    """The flow graph of ``result`` (which must carry its ledger: ``follow(..., ledger=True)``)."""
    rules = rules or CollapseRules()
    if result.ledger is None:
        raise ValueError("the flow graph is built from the ledger: run follow with ledger=True")
    backward = result.direction == "backward"
    ledger = graph_ledger(result)
    edges = _keep_flags(aggregate_edges(ledger), rules, backward)
    sources = _source_keys(ledger, backward)
    seen = _reachable(edges, sources, backward)
    sender, other = ("dst", "src") if backward else ("src", "dst")
    edges = edges.with_columns(pl.col(sender).is_in(list(seen)).alias("_drawn_sender"))
    kept = edges.filter(pl.col("keep") & pl.col("_drawn_sender"))
    merged = edges.filter(~pl.col("keep") & pl.col("_drawn_sender"))
    hidden = edges.filter(~pl.col("_drawn_sender"))
    more = (
        merged.group_by([sender, "asset", "source_asset"])
        .agg(
            pl.col(other).n_unique().alias("_n"),
            pl.col("tainted").sum(), pl.col("amount").sum(),
            pl.col("transfers").sum().cast(pl.UInt32),
            pl.col("first_ts").min(), pl.col("last_ts").max(),
            pl.col("inferred").any(), pl.col("confidence").min(),
            _sum_or_null("tainted_source"),
        )
        .with_columns(
            pl.concat_str([pl.lit("more:"), pl.col("asset"), pl.lit(":"),
                           pl.col("source_asset").fill_null(""), pl.lit(":"), pl.col(sender)])
            .alias(other)
        )
    )
    edge_cols = list(_EDGE_SCHEMA)
    all_edges = pl.concat(
        [
            kept.select(edge_cols).with_columns(pl.lit(False).alias("collapsed")),
            more.select(edge_cols).with_columns(pl.lit(True).alias("collapsed")),
        ]
    ).sort(["asset", "collapsed", "tainted", "src", "dst", "source_asset"],
           descending=[False, False, True, False, False, False], nulls_last=True)  # fmt: skip
    nodes = _nodes(result, kept, more.select(other, "_n", "asset"), sources, ledger, backward)
    collapsed = {}
    for acc in result.accounts:
        m = merged.filter(pl.col("asset") == acc.asset)
        h = hidden.filter(pl.col("asset") == acc.asset)
        collapsed[acc.asset] = {
            "merged_edges": m.height,
            "merged_transfers": int(m["transfers"].sum()),
            "merged_amount": float(m["tainted"].sum()),
            "hidden_edges": h.height,
            "hidden_transfers": int(h["transfers"].sum()),
            "hidden_amount": float(h["tainted"].sum()),
        }
    return FlowGraph(
        nodes=nodes, edges=all_edges, rules=rules, direction=result.direction,
        decimals={a.asset: a.decimals for a in result.accounts}, collapsed=collapsed,
        zero_taint_transfers=int(ledger.filter(pl.col("tainted") <= 0).height),
    )  # fmt: skip


def _held_text(result: FollowResult) -> pl.DataFrame:
    """Per node, what it still holds, one figure per asset (never added across assets)."""
    texts: dict[str, list[str]] = {}
    for r in result.held.iter_rows(named=True):
        if r["amount"] > 0:
            dec = result.decimals_of(r["asset"])
            address = r["address"].lower() if r["address"].startswith("0x") else r["address"]
            texts.setdefault(f"{r['chain']}:{address}", []).append(
                f"{table_text(r['amount'], dec)} {r['asset']}"
            )
    return pl.DataFrame(
        {"key": list(texts), "held": [", ".join(v) for v in texts.values()]},
        schema={"key": pl.String, "held": pl.String},
    )


def _nodes(
    result: FollowResult,
    kept: pl.DataFrame,
    more: pl.DataFrame,
    sources: set[str],
    ledger: pl.DataFrame,
    backward: bool,
) -> pl.DataFrame:
    """One row per drawn node: its role, label, hop (rank from the sources) and held amount."""
    keys = sorted(set(kept["src"].to_list()) | set(kept["dst"].to_list()) | sources)
    key_of = node_key(pl.col("chain"), pl.col("address"))
    reached = result.reached.select(
        key_of.alias("key"), "name", "category", pl.lit("service").alias("role")
    )
    through = result.through.select(
        key_of.alias("key"), "name", "category", pl.lit("through").alias("role")
    )
    held = _held_text(result)
    recv = "src" if backward else "dst"
    hops = ledger.group_by(_end_key(ledger.columns, recv).alias("key")).agg(pl.col("hop").min())
    labels = pl.concat([reached, through]).unique("key", keep="first", maintain_order=True)
    frame = (
        pl.DataFrame({"key": keys}, schema={"key": pl.String})
        .join(labels, on="key", how="left")
        .join(held, on="key", how="left")
        .join(hops, on="key", how="left")
        .with_columns(
            pl.col("key").str.split_exact(":", 1).struct.rename_fields(["chain", "address"])
            .alias("_s"),
        )
        .unnest("_s")
        .with_columns(
            pl.when(pl.col("key").is_in(list(sources))).then(pl.lit("source"))
            .when(pl.col("key").str.starts_with("hop:")).then(pl.lit("hop"))
            .when(pl.col("role").is_not_null()).then(pl.col("role"))
            .when(pl.col("held").is_not_null()).then(pl.lit("held"))
            .otherwise(pl.lit("wallet")).alias("role"),
            pl.when(pl.col("key").is_in(list(sources))).then(0)
            .otherwise(pl.col("hop")).cast(pl.Int32).alias("hop"),
            pl.lit(None, pl.UInt32).alias("more"),
        )
    )
    ends = [  # the ledger's own labels of both ends (a labelled source keeps its name)
        ledger.select(_end_key(ledger.columns, e).alias("key"),
                      pl.col(f"{e}_name").alias("_name"), pl.col(f"{e}_category").alias("_cat"))
        for e in ("src", "dst")
    ]  # fmt: skip
    end_labels = (
        pl.concat(ends).filter(pl.col("_name").is_not_null())
        .unique("key", keep="first", maintain_order=True)
    )  # fmt: skip
    frame = (
        frame.join(end_labels, on="key", how="left")
        .with_columns(
            pl.col("name").fill_null(pl.col("_name")),
            pl.col("category").fill_null(pl.col("_cat")),
        )
        .drop("_name", "_cat")
    )
    other = "src" if backward else "dst"
    more_rows = more.select(
        pl.col(other).alias("key"),
        pl.lit(None, pl.String).alias("name"),
        pl.lit(None, pl.String).alias("category"),
        pl.lit(None, pl.String).alias("held"),
        pl.lit(None, pl.Int32).alias("hop"),
        pl.lit(None, pl.String).alias("chain"),
        pl.lit(None, pl.String).alias("address"),
        pl.lit("more").alias("role"),
        pl.col("_n").cast(pl.UInt32).alias("more"),
    )
    return pl.concat([frame.select(more_rows.columns), more_rows]).sort("key")


# -- drawing ---------------------------------------------------------------------------------
def short_address(address: str) -> str:
    """``TWcPbV…hsEYmXx``: enough to recognise, short enough for a node."""
    return address if len(address) <= 14 else f"{address[:6]}…{address[-6:]}"


def _ts(v: Any) -> str:
    return "" if v is None else v.strftime("%Y-%m-%d %H:%M")


def _node_attrs(r: dict[str, Any]) -> dict[str, str]:
    role = r["role"]
    if role == "more":
        return {"label": f"{r['more']:,} more addresses\n(collapsed)", "shape": "note",
                "fillcolor": OTHER_COLOUR, "style": "filled,dashed"}  # fmt: skip
    if role == "hop":  # a swap, wrap, bridge or OTC pass-through the taint crossed
        return {"label": r["name"] or "hop", "shape": "cds", "fillcolor": HOP_COLOUR,
                "style": "filled", "tooltip": r["address"] or "", "class": "node-hop"}  # fmt: skip
    lines = []
    if r["name"]:
        lines.append(r["name"])
        if r["category"]:
            lines.append(f"[{r['category']}]")
    lines.append(f"{short_address(r['address'])} ({r['chain']})")
    if r["held"]:
        lines.append(f"holds {r['held']}")
    colour = {
        "source": SOURCE_COLOUR, "held": HELD_COLOUR, "wallet": WALLET_COLOUR,
    }.get(role) or CATEGORY_COLOURS.get(r["category"] or "", "#e0e0e0")  # fmt: skip
    attrs = {"label": "\n".join(lines), "fillcolor": colour, "style": "filled",
             "shape": "box" if role in ("service", "through") else "ellipse",
             "tooltip": r["address"], "class": f"node-{role}"}  # fmt: skip
    if role == "through":
        attrs["style"] = "filled,dashed"
    if role == "source":
        attrs["penwidth"] = "2"
    return attrs


def _edge_label(r: dict[str, Any], dec: int) -> str:
    lines = [f"{table_text(r['tainted'], dec)} {r['asset']}"]
    if r["source_asset"] and r["source_asset"] != r["asset"] and r["tainted_source"] is not None:
        lines[0] += f" (= {table_text(r['tainted_source'], 18)} {r['source_asset']})"
    span = _ts(r["first_ts"])
    if r["last_ts"] != r["first_ts"]:
        span += f" → {_ts(r['last_ts'])}"
    lines.append(span)
    lines.append(f"{r['transfers']:,} tx" if r["transfers"] != 1 else "1 tx")
    if r["inferred"]:
        lines.append(f"inferred, confidence {r['confidence']:.2f}")
    return "\n".join(lines)


def to_dot(g: FlowGraph, title: str | None = None) -> Any:
    """The graph as a :class:`graphviz.Digraph` (deterministic: nodes and edges sorted)."""
    import graphviz

    dot = graphviz.Digraph("trace", graph_attr={
        "rankdir": "LR", "fontname": FONT, "fontsize": "12", "nodesep": "0.25",
        "ranksep": "0.9", "bgcolor": "white", "label": title or "", "labelloc": "t",
    }, node_attr={"fontname": FONT, "fontsize": "10"},
       edge_attr={"fontname": FONT, "fontsize": "9", "color": "#555555"})  # fmt: skip
    ids = {k: f"n{i}" for i, k in enumerate(g.nodes["key"].to_list())}
    ranks: dict[str, list[str]] = {"source": [], "service": []}
    for r in g.nodes.iter_rows(named=True):
        dot.node(ids[r["key"]], **_node_attrs(r))
        if r["role"] in ranks:
            ranks[r["role"]].append(ids[r["key"]])
    first, last = ("service", "source") if g.direction == "backward" else ("source", "service")
    for role, rank in ((first, "min"), (last, "max")):
        if ranks[role]:  # where money starts on the left, where it ends on the right
            with dot.subgraph() as s:
                s.attr(rank=rank)
                for n in ranks[role]:
                    s.node(n)
    peak = max(g.edges["tainted"].max() or 0.0, 1e-300) if g.edges.height else 1.0
    for r in g.edges.iter_rows(named=True):
        attrs = {"label": _edge_label(r, g.decimals.get(r["asset"], 6)),
                 "penwidth": f"{1 + 4 * (r['tainted'] / peak):.2f}",
                 "class": "edge-inferred" if r["inferred"] else "edge-fact"}  # fmt: skip
        if r["inferred"] or r["collapsed"]:
            attrs["style"] = "dashed"
        dot.edge(ids[r["src"]], ids[r["dst"]], **attrs)
    return dot


def _dot_binary() -> str:
    exe = shutil.which("dot")
    if exe is None:
        raise UsageError(
            "--graph: Graphviz's 'dot' program is not installed (Debian/Ubuntu: apt-get install "
            "graphviz); write FILE.dot instead to lay it out elsewhere"
        )
    return exe


def render(g: FlowGraph, fmt: str, title: str | None = None) -> bytes:
    """The graph as ``fmt`` bytes (``dot``, ``svg``, ``png``, ``pdf``)."""
    src = to_dot(g, title)
    if fmt == "dot":
        return str(src.source).encode()
    _dot_binary()
    return bytes(src.pipe(format=fmt))


def inline_svg(g: FlowGraph, title: str | None = None) -> str:
    """SVG for embedding in HTML: no XML prolog, no DOCTYPE or namespace URLs (an inline
    ``<svg>`` in HTML5 needs none, and a report must name no external address)."""
    text = render(g, "svg", title).decode()
    start = text.index("<svg")
    text = text[start:]
    for attr in (' xmlns="http://www.w3.org/2000/svg"',
                 ' xmlns:xlink="http://www.w3.org/1999/xlink"'):  # fmt: skip
        text = text.replace(attr, "", 1)
    return text.replace("xlink:title=", "data-title=")


def write_graph(g: FlowGraph, path: str | Path, title: str | None = None) -> None:
    """Write the graph to ``path``; the suffix picks the format (:data:`GRAPH_FORMATS`)."""
    suffix = Path(path).suffix.lower()
    if suffix not in GRAPH_FORMATS:
        raise UsageError(
            f"--graph {path}: unknown suffix {suffix or '(none)'}; use one of "
            f"{', '.join(GRAPH_FORMATS)}"
        )
    data = render(g, suffix.lstrip("."), title)
    if suffix in (".dot", ".svg"):
        write_text_atomic(path, data.decode())
        return
    with atomic_path(Path(path)) as tmp:
        Path(tmp).write_bytes(data)
