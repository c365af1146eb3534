"""Per-phase wall time of the local poison engine on the synth spread queries (issue 17).

``python -m benchmarks.poison_phases [--reps 10] [--edges 1M] [--queries N]``: every synth
scam wallet (the first ``N``) reaching more than 1,000 transfers, ``trace_local`` (poison,
6 hops, the local engine forced) ``--reps`` times each after a warm-up (then the whole
``follow``, poison, default options, as many times), the kernels' phases timed by wrappers
(looked up by name: a phase the code
does not have is left out). The last line is the figures as one JSON object, with a
fingerprint of the answers (every query's tainted transfers, hashed).

``python -m benchmarks.poison_phases --baseline TREE [--rounds 3] [--lock /tmp/big.lock]``:
the same script on ``TREE``'s code and on this tree's, turn about in fresh processes
(:mod:`benchmarks.tree_ab`), then each round's pair and their ratio, and whether both sides
gave the same answers: the engine's A/B in one command, base and new in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any


def measure(reps: int, edges: int = 1_000_000, queries: int = 0) -> dict[str, Any]:
    """The figures of this process's code (see the module docstring)."""
    import numpy as np
    import tracer.kernels.local_poison as K

    from benchmarks.conftest import synth_workspace
    from benchmarks.peers import case_query
    from tracer.analysis.local_follow import trace_local
    from tracer.graph.selection import asset_groups, asset_tokens
    from tracer.store.workspace import Workspace

    root = synth_workspace(edges)
    ws = Workspace.open(root)
    graph = ws.graph()
    ws.build_case_index()
    tokens = asset_groups(graph.tokens, asset_tokens(graph, None))[0].token_ids
    scams = [p["scam"] for p in json.loads((root / "ground_truth.json").read_text())["patterns"]]
    scams = scams[:queries] if queries else scams
    spent: dict[str, float] = {}

    def wrap(name: str) -> None:
        inner = getattr(K, name)

        def timed(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            r = inner(*a, **k)
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0
            return r

        setattr(K, name, timed)

    for name in ("_frontier", "_in_order", "_poison_sums", "_finish"):
        if hasattr(K, name):
            wrap(name)
    qs = [q for q in (case_query(ws, s, 6) for s in scams) if q.expected.height > 1000]

    def one(q: Any) -> Any:
        return trace_local(graph, tokens, q.role, q.selection, model="poison", backward=False,
                           entities=None, ledger=False, budget=False)  # fmt: skip

    digest = hashlib.sha256()
    for q in qs:  # warm-up, and the answers' fingerprint
        _, tainted, _ = one(q)
        digest.update(np.sort(np.asarray(tainted["index"], dtype=np.int64)).tobytes())
    spent.clear()
    t0 = time.perf_counter()
    c0 = time.process_time()
    for _ in range(reps):
        for q in qs:
            one(q)
    per = reps * len(qs)
    wall, cpu = (time.perf_counter() - t0) / per * 1e3, (time.process_time() - c0) / per * 1e3
    phases = {k: v / per * 1e3 for k, v in spent.items()}  # before the follows add to them
    from tracer.analysis.follow import follow

    for q in qs:  # warm-up
        follow(ws, [q.scam], q.selection, model="poison")
    f0 = time.perf_counter()
    for _ in range(reps):
        for q in qs:
            follow(ws, [q.scam], q.selection, model="poison")
    return {
        "queries": len(qs),
        "ms_per_query": wall,
        "cpu_ms_per_query": cpu,
        "follow_ms_per_query": (time.perf_counter() - f0) / per * 1e3,
        "phases_ms": phases,
        "answers": digest.hexdigest()[:16],
    }


def _size(text: str) -> int:
    from benchmarks.conftest import parse_size

    return parse_size(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--baseline", default=None, help="checkout of the code to compare with")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--lock", default=None, help="flock this file around each run")
    p.add_argument("--edges", default="1M", help="synth workspace size (1M, 10M, a number)")
    p.add_argument("--queries", type=int, default=0,
                   help="the first N scam wallets only (0: all; 10M: 4 give 2 spread ones)")
    args = p.parse_args()
    # the runs of an A/B get the size as digits: they import the benchmarks of the tree they
    # measure, and a baseline's may not have parse_size
    edges = int(args.edges) if args.edges.isdigit() else _size(args.edges)
    if args.baseline is None:
        r = measure(args.reps, edges, args.queries)
        print(f"trace_local {r['ms_per_query']:.2f} ms per query ({r['queries']} queries); "
              f"the whole follow {r['follow_ms_per_query']:.2f} ms")  # fmt: skip
        for k, v in r["phases_ms"].items():
            print(f"  {k} {v:.3f}")
        print(json.dumps(r))
        return
    from benchmarks.tree_ab import alternate

    sizes = ["--edges", str(edges), "--queries", str(args.queries)]
    runs = alternate(Path(args.baseline), "poison_phases.py", ["--reps", str(args.reps), *sizes],
                     args.rounds, args.lock, "poison-ab")  # fmt: skip
    pairs = list(zip(runs["baseline"], runs["this"], strict=True))
    def col(field: str, side: int) -> list[float]:
        return [round(pair[side][field], 2) for pair in pairs]

    def ratio(field: str) -> list[float]:
        return [round(a[field] / b[field], 2) for a, b in pairs]

    summary = {
        "baseline_ms": col("ms_per_query", 0), "this_ms": col("ms_per_query", 1),
        "ratio": ratio("ms_per_query"),
        "baseline_follow_ms": col("follow_ms_per_query", 0),
        "this_follow_ms": col("follow_ms_per_query", 1),
        "follow_ratio": ratio("follow_ms_per_query"),
        "same_answers": all(a["answers"] == b["answers"] for a, b in pairs),
    }  # fmt: skip
    print(json.dumps({"summary": summary}))


if __name__ == "__main__":
    main()
