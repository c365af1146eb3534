"""Where a case follow's time goes: per-stage CPU of ``follow --model poison --max-hops 6``.

The peer benchmark (:mod:`benchmarks.test_bench_peers`) gives each query's whole follow, the
engine alone and the bare reach kernel; this splits the follow further, by wrapping its stages
(the local poison kernel's passes, the strongest paths and their parts, the address frames,
the reset) with thread-CPU timers (inclusive: a stage's figure contains the stages it calls).
The list names a baseline tree's stages and this tree's; a stage a tree lacks is not shown.
The last line is the figures as one JSON object (:mod:`benchmarks.stages_ab`). The synth
scam wallets are followed in turn, as the benchmark does, so each stage runs with the caches
the previous question left.

Run (the 1M synth workspace of the peer benchmark; the spread wallets by default)::

    python -m benchmarks.peer_stages [--edges 1M] [--all | --contained] [--reps 8]
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from benchmarks.conftest import parse_size, synth_workspace
from tracer.graph.spec import Selection
from tracer.store.workspace import Workspace

#: (module, function, label): the stages timed, where the follow looks them up
STAGES = [
    ("tracer.analysis.follow", "prepare", "prepare (nodes, labels, roles)"),
    ("tracer.analysis.follow", "local_first", "engine (local_first)"),
    ("tracer.analysis.local_poison", "poison_kernel", "  poison kernel"),
    ("tracer.kernels.local_poison", "_frontier", "    frontier"),
    ("tracer.kernels.local_poison", "_in_order", "    chain-order sort"),
    ("tracer.kernels.local_poison", "_poison_sums", "    in-order sums"),
    ("tracer.kernels.local_poison", "_finish", "    first arrivals"),
    ("tracer.analysis.follow", "touched_receivers", "receiver dedupe"),
    ("tracer.analysis.follow", "group_frames", "group frames"),
    ("tracer.analysis.follow_group", "pick_rows", "  row ids"),
    ("tracer.analysis.follow_group", "pick_written", "  row ids and reset (written)"),
    ("tracer.analysis.follow", "released", "  slot release"),
    ("tracer.analysis.follow_group", "address_frames", "  address frames"),
    ("tracer.analysis.follow_group", "strongest_paths", "    strongest paths"),
    ("tracer.analysis.follow_rows", "path_steps", "      walk pass"),
    ("tracer.analysis.follow_rows", "path_walks", "      walks"),
    ("tracer.analysis.follow_rows", "address_texts", "      address texts"),
    ("tracer.analysis.follow_rows", "shown_addresses", "      display forms"),
    ("tracer.analysis.follow_rows", "path_rows", "      stored rows (kept)"),
    ("tracer.analysis.follow_rows", "iso_times", "        step times"),
    ("tracer.analysis.follow_rows", "taint_texts", "      step texts (kept)"),
    ("tracer.analysis.follow_rows", "decimal_text", "      decimal texts"),
    ("tracer.analysis.follow_rows", "exact_text", "        exact texts"),
    ("tracer.analysis.follow", "give_back", "state reset"),
    ("tracer.analysis.follow", "build_result", "result"),
    ("tracer.analysis.follow", "run_warnings", "warnings"),
]


def _wrap(spent: dict[str, float], module: str, name: str, label: str) -> bool:
    """Time ``module.name`` under ``label`` (nothing when the tree has no such function: a
    baseline run by :mod:`benchmarks.tree_ab` may lack the newer stages)."""
    mod = importlib.import_module(module)
    inner: Callable[..., Any] | None = getattr(mod, name, None)
    if inner is None:
        return False

    @functools.wraps(inner)
    def timed(*args: Any, **kwargs: Any) -> Any:
        t = time.thread_time()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[label] += time.thread_time() - t

    setattr(mod, name, timed)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", default="1M")
    ap.add_argument("--all", action="store_true", help="every scam wallet, not the spread ones")
    ap.add_argument("--contained", action="store_true",
                    help="the contained scam wallets (at most 0.1%% of the transfers)")
    ap.add_argument("--reps", type=int, default=8)
    args = ap.parse_args()
    from tracer.analysis import follow as f

    edges = parse_size(args.edges)
    root = synth_workspace(edges)
    ws = Workspace.open(root)
    ws.graph()
    ws.build_case_index()
    scams = [p["scam"] for p in json.loads((root / "ground_truth.json").read_text())["patterns"]]
    sel = Selection(max_hops=6, stream=False)
    first = {s: f.follow(ws, [s], sel, model="poison", ledger=True) for s in scams}
    if not args.all:  # spread: more than 0.1% of the transfers (benchmarks.test_bench_peers)
        spread = {s for s in scams if first[s].ledger.height > 0.001 * ws.graph().n_edges}
        scams = [s for s in scams if (s in spread) != args.contained]
    spent: dict[str, float] = defaultdict(float)
    timed = {stage[2] for stage in STAGES if _wrap(spent, *stage)}
    for s in scams:  # warm: numba's cached code loaded, buffers allocated
        f.follow(ws, [s], sel, model="poison")
    spent.clear()
    c0, w0 = time.thread_time(), time.perf_counter()
    for _ in range(args.reps):
        for s in scams:
            f.follow(ws, [s], sel, model="poison")
    n = args.reps * len(scams)
    wall, cpu = (time.perf_counter() - w0) / n * 1e3, (time.thread_time() - c0) / n * 1e3
    print(f"{len(scams)} wallets x {args.reps}: per follow {wall:.2f} ms wall, {cpu:.2f} ms CPU "
          f"(load {os.getloadavg()[0]:.1f}); stages, CPU ms per follow (inclusive):")  # fmt: skip
    for _, _, label in STAGES:
        if label in timed:
            print(f"  {label:36s} {spent[label] / n * 1e3:7.3f}")
    # the last line: one JSON object (benchmarks.tree_ab reads it)
    print(json.dumps({"wall_ms": round(wall, 3), "cpu_ms": round(cpu, 3),
                      "load": round(os.getloadavg()[0], 2),
                      **{label.strip(): round(spent[label] / n * 1e3, 3)
                         for _, _, label in STAGES if label in timed}}))  # fmt: skip


if __name__ == "__main__":
    main()
