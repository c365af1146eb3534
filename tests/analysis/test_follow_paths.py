"""``strongest_paths`` (the walk by binary search and argmax, one hop row per step) gives the
paths of the walk it replaced: the per-step candidate lexsort, written out here as the
reference (main 3d7dba2), on random sweeps with many ties."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels.taint import SINK, SOURCE, propagate

from tests.kernels.test_taint_paths import RowsStub, sweeps
from tracer.analysis.follow_rows import address_rows, strongest_paths
from tracer.core.addresses import display
from tracer.core.decimal_text import decimal_text, exact_text
from tracer.store.graph_cache import NodeIndex
from tracer.store.workspace import Workspace


def reference_paths(sink_ids: list[int], tainted: dict[str, np.ndarray], role: np.ndarray,
                    workspace: Workspace, nodes: pl.DataFrame | NodeIndex, k: int,
                    backward: bool = False) -> dict[int, list[dict[str, Any]]]:  # fmt: skip
    """main 3d7dba2's ``strongest_paths``, verbatim below the signature."""
    if k <= 0 or not sink_ids or tainted["taint"].size == 0:
        return {}
    src, dst = tainted["src"], tainted["dst"]
    edge_taint, edge_index = tainted["taint"], tainted["index"]
    positions = np.arange(src.shape[0])  # processing order: earlier position = earlier edge
    order = np.lexsort((positions, dst))
    by_dst = positions[order]
    dsts = dst[by_dst]

    def into(node: int) -> np.ndarray:
        """The tainted edges into ``node``, in processing order (O(log tainted edges): no
        per-address table, which would cost O(addresses) on every follow)."""
        return by_dst[np.searchsorted(dsts, node, "left") : np.searchsorted(dsts, node, "right")]

    found: list[tuple[int, list[int], bool]] = []
    for sink in sink_ids:
        inflows = into(sink)
        top = inflows[np.lexsort((inflows, -edge_taint[inflows]))][:k]
        for e in top:
            steps = [int(e)]
            node = int(src[e])
            cur = int(e)
            while role[node] != SOURCE:
                cand = into(node)
                cand = cand[cand < cur]
                if cand.size == 0:
                    break
                best = int(cand[np.lexsort((cand, -edge_taint[cand]))][0])
                steps.append(best)
                cur = best
                node = int(src[best])
            if not backward:
                steps.reverse()  # source first (backward: already origin → deposit, money order)
            found.append((sink, steps, bool(role[node] == SOURCE)))
    all_steps = np.unique(np.array([s for _, st, _ in found for s in st], dtype=np.int64))
    ends = np.unique(np.concatenate([src[all_steps], dst[all_steps]]))
    shown = address_rows(nodes, ends)  # only the addresses the paths show
    chains = dict(zip(ends.tolist(), shown["chain"].to_list(), strict=True))  # in ``ends`` order
    addrs = dict(zip(ends.tolist(), shown["address"].to_list(), strict=True))
    # the path's transfers as stored (hash, amount, time): a few rows, read by row group
    rows = workspace.rows(edge_index[all_steps], ["tx_hash", "amount", "ts", "value", "decimals"])
    stored = dict(zip(all_steps.tolist(), rows.iter_rows(), strict=True))
    out: dict[int, list[dict[str, Any]]] = {}
    for sink, steps, complete in found:
        hops = [
            {
                "tx_hash": stored[s][0],
                "from": display(chains[int(a)], addrs[int(a)]),
                "to": display(chains[int(b)], addrs[int(b)]),
                "amount": float(stored[s][1]),
                "amount_exact": exact_text(stored[s][3], stored[s][4]),
                "tainted": float(edge_taint[s]),
                "tainted_decimal": decimal_text(float(edge_taint[s]), stored[s][4]),
                "ts": stored[s][2].isoformat().replace("+00:00", "Z"),
            }
            for s in steps
            for a, b in [(dst[s], src[s]) if backward else (src[s], dst[s])]
        ]
        weakest = min(steps, key=lambda s: (edge_taint[s], s))
        out.setdefault(sink, []).append(
            {
                "strength": float(edge_taint[weakest]),
                "strength_decimal": decimal_text(float(edge_taint[weakest]), stored[weakest][4]),
                "complete": complete,
                "hops": hops,
            }
        )
    for paths in out.values():  # strongest first; ties: fewer hops, then as found
        paths.sort(key=lambda p: (-p["strength"], len(p["hops"])))
    return out


@settings(deadline=None, max_examples=200)
@given(g=sweeps())
def test_strongest_paths_are_the_reference_walk(g: dict) -> None:
    role = g["role"]
    swept = propagate(g["src"], g["dst"], g["amount"], np.arange(g["src"].shape[0]),
                      role[g["src"]] == SOURCE, role, model=g["model"])  # fmt: skip
    hit = np.flatnonzero(swept.edge_taint > 0)
    tainted = {"taint": swept.edge_taint[hit], "index": hit.astype(np.int64),
               **{k: g[k][hit] for k in ("src", "dst")}}  # fmt: skip
    n = role.shape[0]
    nodes = pl.DataFrame({"id": pl.Series(np.arange(n), dtype=pl.Int32), "chain": ["ethereum"] * n,
                          "address": [f"0x{i:040x}" for i in range(n)]})  # fmt: skip
    sinks = np.flatnonzero((role == SINK) & (swept.inflow > 0)).tolist()
    args = (role, RowsStub(), nodes, g["k"], g["backward"])
    assert strongest_paths(sinks, tainted, *args) == reference_paths(sinks, tainted, *args)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(-62_135_596_800_000_000, 253_402_300_799_999_999),
                          st.integers(0, 2**33).map(lambda s: s * 1_000_000)), max_size=20))
def test_iso_times_are_isoformat(us: list[int]) -> None:
    """The paths' ``ts`` texts from integer microseconds == each row's datetime ``isoformat``
    with ``Z`` (no fraction on whole seconds, six digits otherwise), years 1-9999."""
    from tracer.analysis.follow_rows import iso_times

    series = pl.Series("ts", us, pl.Int64).cast(pl.Datetime("us", "UTC"))
    want = [d.isoformat().replace("+00:00", "Z") for d in series.to_list()]
    assert iso_times(series) == want
