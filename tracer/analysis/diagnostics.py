"""Why a trace found nothing, and what the workspace holds instead.

An empty result with no explanation reads as "the money went nowhere": the worst kind of wrong
number. :func:`follow_warnings` turns the counts a sweep gathered on its way
(:class:`tracer.analysis.follow.SweepCounts`) into warnings that name the cause and what *is* there:

* ``no_transfers_in_selection`` — the asset selection holds no transfers (e.g. the default
  stablecoin selection on an ETH-only workspace): lists the assets present, suggests ``--asset``;
* ``unknown_decimals`` — the selection's transfers all lack token decimals;
* ``no_source_transfers`` — the sources have no outflows (``source``: inflows) in the selection:
  lists their transfers by asset and side;
* ``window_empty`` — they have some, but none inside ``--since/--until``: gives their range;
* ``sources_not_found`` — some of the given addresses are not in the data (when none is, the
  run stops with a usage error, exit 2, that says which chains the data covers);
* ``no_labels`` — taint was traced but no label is loaded, so no service can be "reached";
* ``by_source_unavailable`` — several sources, but the model (or memory) allows no per-source
  breakdown (added by :func:`tracer.analysis.follow.follow`).

Each is ``{"code", "message"}``: the code is stable for scripts, the message is for people. The
extra counting (the whole workspace by asset, the sources' own transfers) runs only when a
warning needs it, so a normal trace pays nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from tracer.store.graph_cache import NodeIndex
from tracer.store.workspace import Workspace

if TYPE_CHECKING:
    from tracer.analysis.sweep_counts import SweepCounts
    from tracer.graph.selection import Selection


def _token_names(tokens: pl.DataFrame) -> dict[int, str]:
    """token_id → shown name: the symbol, with the chain when a symbol is on several chains."""
    rows = tokens.select("token_id", "chain", "asset", "token").to_dicts()
    chains: dict[str, set[str]] = {}
    for r in rows:
        chains.setdefault(r["asset"] or "?", set()).add(r["chain"])
    out = {}
    for r in rows:
        sym = r["asset"] or f"unknown token {r['token']}"
        several = len(chains[r["asset"] or "?"]) > 1
        out[int(r["token_id"])] = f"{sym} on {r['chain']}" if several else sym
    return out


def _count_by_token(ws: Workspace, stream: bool, n_tokens: int) -> np.ndarray:
    """Transfers per token id in the whole workspace (one pass over ``token_id`` if streamed)."""
    counts = np.zeros(max(n_tokens, 1), dtype=np.int64)
    reader = ws.parts() if stream else None
    if reader is None:
        tid = ws.graph().token_id
        return np.bincount(tid, minlength=counts.shape[0]) if tid.size else counts
    for _, table in reader.chunks(["token_id"]):
        tid = table.column("token_id").to_numpy()
        counts += np.bincount(tid, minlength=counts.shape[0])
    return counts


def _source_sides(
    ws: Workspace, nodes: np.ndarray, stream: bool, n_tokens: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per token id: the sources' outgoing and incoming transfers (all assets, any time)."""
    out = np.zeros(max(n_tokens, 1), dtype=np.int64)
    inc = np.zeros_like(out)
    reader = ws.parts() if stream else None
    chunks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]
    if reader is None:
        g = ws.graph()
        chunks = [(g.src, g.dst, g.token_id)]
    else:
        chunks = (
            (t.column("src_id").to_numpy(), t.column("dst_id").to_numpy(),
             t.column("token_id").to_numpy())
            for _, t in reader.chunks(["src_id", "dst_id", "token_id"])
        )  # fmt: skip
    mark = np.zeros(ws.nodes().n_nodes, dtype=np.bool_)
    mark[nodes] = True
    for s, d, tid in chunks:
        out += np.bincount(tid[mark[s]], minlength=out.shape[0])
        inc += np.bincount(tid[mark[d]], minlength=out.shape[0])
    return out, inc


def _listing(counts: np.ndarray, names: dict[int, str], side: str = "") -> list[tuple[str, int]]:
    by: dict[str, int] = {}
    for tid in np.flatnonzero(counts):
        key = names.get(int(tid), "?") + side
        by[key] = by.get(key, 0) + int(counts[tid])
    return sorted(by.items(), key=lambda kv: (-kv[1], kv[0]))


def _shown(items: list[tuple[str, int]], limit: int = 6) -> str:
    text = ", ".join(f"{k} ({n:,} transfers)" for k, n in items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _when(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def data_summary(graph: NodeIndex) -> str:
    """What the data holds, in one clause: addresses per chain (for "sources not found")."""
    if graph.n_nodes == 0:
        return "the data holds no transfers"
    per = graph.addresses.group_by("chain").len().sort("chain").rows()
    return "the data holds " + ", ".join(f"{n:,} addresses on {c}" for c, n in per)


def selection_name(assets: str | None) -> str:
    """How the ``--asset`` choice reads in a sentence ("stablecoin", "USDT", "")."""
    choice = (assets or "stablecoins").strip()
    if choice.lower() in ("stablecoins", "stable"):
        return "stablecoin"
    return "" if choice.lower() == "all" else choice


def _suggest(items: list[tuple[str, int]]) -> str:
    syms = [k.split(" on ")[0].split(" ")[0] for k, _ in items if not k.startswith("unknown")]
    uniq = list(dict.fromkeys(syms))
    return f": use --asset {','.join(uniq[:3])}" if uniq else ""


def follow_warnings(
    ws: Workspace,
    graph: NodeIndex,
    *,
    counts: SweepCounts,
    source_nodes: np.ndarray,
    selection: Selection,
    backward: bool,
    stream: bool,
    traced: float,
    missing: list[str],
    n_labels: int,
    n_loaded: int = 0,
) -> list[dict[str, str]]:
    """The warnings of a follow/source run (see the module docstring); ``stream`` is the
    resolved choice (how the sweep read its edges), not ``selection.stream``."""
    warnings: list[dict[str, str]] = []
    since, until = selection.since, selection.until
    what = selection_name(selection.assets)
    what_sp = f"{what} " if what else ""
    n_tokens = graph.tokens.height
    if missing:
        warnings.append({
            "code": "sources_not_found",
            "message": f"not in the data (not traced): {', '.join(missing)}",
        })  # fmt: skip
    if traced <= 0:
        names = _token_names(graph.tokens)
        if counts.selected == 0 and counts.excluded_unknown:
            warnings.append({
                "code": "unknown_decimals",
                "message": f"all {counts.excluded_unknown:,} {what_sp}transfers have unknown "
                "token decimals and were left out: add the token with --tokens FILE "
                "(chain,token,symbol,decimals)",
            })  # fmt: skip
        elif counts.selected == 0:
            have = _listing(_count_by_token(ws, stream, n_tokens), names)
            if not have:
                message = "the workspace holds no transfers: ingest an export first"
            else:
                message = (f"no {what_sp}transfers; this workspace holds {_shown(have)}"
                           + _suggest(have))  # fmt: skip
            warnings.append({"code": "no_transfers_in_selection", "message": message})
        elif counts.source_edges == 0:
            out, inc = _source_sides(ws, source_nodes, stream, n_tokens)
            if backward:
                out, inc = inc, out
            way, other = ("incoming", "outgoing") if backward else ("outgoing", "incoming")
            theirs = _listing(out, names, f" {way}") + _listing(inc, names, f" {other}")
            hint = _suggest(_listing(out, names))
            if not hint:
                hint = (": they only send, so trace forward with tracer follow" if backward
                        else ": they only receive, so trace back with tracer source")  # fmt: skip
            warnings.append({
                "code": "no_source_transfers",
                "message": f"the sources have no {way} {what_sp}transfers; their transfers: "
                f"{_shown(theirs) or 'none'}{hint}",
            })  # fmt: skip
        elif counts.seeds == 0:
            window = (f"{'from ' + since.isoformat() if since else ''}"
                      f"{' ' if since and until else ''}"
                      f"{'until ' + until.isoformat() if until else ''}")  # fmt: skip
            way = "incoming" if backward else "outgoing"
            warnings.append({
                "code": "window_empty",
                "message": f"no {way} {what_sp}transfers of the sources in the window "
                f"({window}); theirs run from {_when(counts.first_ts)} to "
                f"{_when(counts.last_ts)} ({counts.source_edges:,} transfers)",
            })  # fmt: skip
    elif n_labels == 0:
        why = (f"none of the {n_loaded:,} labels names an address in the data" if n_loaded
               else "no labels are loaded")  # fmt: skip
        warnings.append({
            "code": "no_labels",
            "message": f"{why}, so no service can be reached: everything traced is listed as "
            "held; add --labels FILE (or tracer labels add FILE)",
        })  # fmt: skip
    return warnings
