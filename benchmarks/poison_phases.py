"""Per-phase wall time of the local poison engine on the 1M synth spread queries (issue 17).

``PYTHONPATH=. python -m benchmarks.poison_phases``: every synth scam wallet reaching more than
1,000 transfers, ``trace_local`` (poison, 6 hops) ten times each after a warm-up, and the
kernels' phases timed by wrappers. Run it on two checkouts in turn for an A/B.
"""

import json
import time

import tracer.kernels.local_poison as K

from benchmarks.conftest import synth_workspace
from benchmarks.peers import case_query
from tracer.analysis.local_follow import trace_local
from tracer.graph.selection import asset_groups, asset_tokens
from tracer.store.workspace import Workspace

root = synth_workspace(1_000_000)
ws = Workspace.open(root)
graph = ws.graph()
ws.build_case_index()
tokens = asset_groups(graph.tokens, asset_tokens(graph, None))[0].token_ids
scams = [p["scam"] for p in json.loads((root / "ground_truth.json").read_text())["patterns"]]
spent = {}


def wrap(name):
    inner = getattr(K, name)

    def t(*a, **k):
        t0 = time.perf_counter()
        r = inner(*a, **k)
        spent[name] = spent.get(name, 0) + time.perf_counter() - t0
        return r

    setattr(K, name, t)


for n in ["_frontier", "_in_order", "_poison_sums", "_finish"]:
    wrap(n)
qs = [case_query(ws, s, 6) for s in scams]
qs = [q for q in qs if q.expected.height > 1000]


def one(q):
    return trace_local(
        graph,
        tokens,
        q.role,
        q.selection,
        model="poison",
        backward=False,
        entities=None,
        ledger=False,
        budget=False,
    )


for q in qs:
    one(q)
spent.clear()
R = 10
t0 = time.perf_counter()
for _ in range(R):
    for q in qs:
        one(q)
tot = (time.perf_counter() - t0) / R / len(qs) * 1e3
print(f"trace_local {tot:.2f} ms per query")
for k, v in spent.items():
    print(f"  {k} {v / R / len(qs) * 1e3:.3f}")
