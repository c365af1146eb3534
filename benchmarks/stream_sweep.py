"""One taint sweep over a whole workspace in a fresh process: throughput and peak RSS.

``python -m benchmarks.stream_sweep WORKSPACE [--model haircut] [--mode stream|memory]``

* ``stream``: edges read one Parquet row group at a time (``analysis.follow.trace_edges`` with
  ``stream=True``, the path ``tracer follow --stream`` takes): memory O(addresses);
* ``memory``: the five edge columns loaded first (not timed), then one kernel call over all.

Seeds: 100 wallets drawn (seeded) among those that send; labelled services are sinks. Compile
time is excluded (a warm-up sweep on a tiny graph first). Prints one JSON line: transfers,
seconds, transfers_per_s, cpu_seconds (user + sys, every thread), transfers_per_cpu_s, load
(1-minute average), peak_rss_mib (the process's maximum resident set), state_mib.

Before/after in the same run: the same command from another checkout (``cd /work/main &&
python -m benchmarks.stream_sweep DIR``), in turns with this one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np
from tracer.kernels.taint import SOURCE, SweepState, sweep_chunk

from tracer.analysis.follow import trace_edges
from tracer.analysis.path_keep import PathEdges
from tracer.graph.selection import DEFAULT_THROUGH, asset_tokens, node_labels, roles
from tracer.graph.spec import Selection
from tracer.store.partitions import EDGE_COLUMNS, edge_arrays
from tracer.store.workspace import Workspace

#: paths per sink, as ``tracer follow`` by default (what the sweep keeps of the tainted edges)
TOP_PATHS = 3


def warm_up(reader, role: np.ndarray, model: str) -> None:  # type: ignore[no-untyped-def]
    """Compile (or load from numba's cache) the kernel for the very array types the run will
    pass (Arrow hands out read-only arrays, a distinct numba type), on a few rows."""
    a = edge_arrays(reader.read_group(0, EDGE_COLUMNS).slice(0, 64))
    s = SweepState(role, model=model)
    sweep_chunk(s, a["src"], a["dst"], a["amount"], a["ts"], role[a["src"]] == SOURCE)


def run(path: str, model: str, mode: str, n_seeds: int = 100) -> dict:
    ws = Workspace.open(path)
    nodes = ws.nodes()
    reader = ws.parts()
    assert reader is not None
    rng = np.random.default_rng(1)
    first = reader.read_group(0, ["src_id"]).column("src_id").to_numpy()
    seeds = rng.choice(np.unique(first), n_seeds, replace=False).astype(np.int32)
    role = roles(nodes, seeds, node_labels(nodes, ws.labels()), DEFAULT_THROUGH)
    tokens = asset_tokens(nodes, None)
    warm_up(reader, role, model)
    if mode == "stream":
        t0, c0 = time.perf_counter(), cpu_seconds()
        state, tainted, _ = trace_edges(ws, tokens, role, Selection(stream=True), model=model,
                                        top_paths=TOP_PATHS)  # fmt: skip
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    else:
        a = edge_arrays(reader.read_all(EDGE_COLUMNS))
        state = SweepState(role, model=model)
        seed = role[a["src"]] == SOURCE
        t0, c0 = time.perf_counter(), cpu_seconds()
        out = sweep_chunk(state, a["src"], a["dst"], a["amount"], a["ts"], seed, check=False)
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        hit = np.flatnonzero(out.edge_taint > 0)  # what trace_edges keeps for the paths
        keeper = PathEdges(role, TOP_PATHS)
        keeper.add(a["src"][hit], a["dst"][hit], out.edge_taint[hit], hit)
        tainted = keeper.result()
    n = reader.num_rows
    return {
        "mode": mode,
        "model": model,
        "transfers": n,
        "addresses": nodes.n_nodes,
        "seconds": seconds,
        "transfers_per_s": n / seconds,
        "cpu_seconds": cpu,
        "transfers_per_cpu_s": n / cpu,
        "load": os.getloadavg()[0],
        "traced": state.traced,
        "kept_for_paths": int(tainted["taint"].shape[0]),
        "state_mib": state.nbytes() / 2**20,
        "peak_rss_mib": peak_rss_mib(),
    }


def cpu_seconds() -> float:
    """This process's CPU time, user + system, every thread (the decoding thread included):
    on a shared machine wall time also counts the time other processes held the cores."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mib() -> float:
    """This process's peak resident set (``VmHWM``). Not ``ru_maxrss``: Linux carries that over
    from the parent across fork + exec, so a child of a big test process would report the
    parent's peak."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workspace")
    p.add_argument("--model", default="haircut")
    p.add_argument("--mode", choices=["stream", "memory"], default="stream")
    args = p.parse_args()
    print(json.dumps(run(args.workspace, args.model, args.mode)))


if __name__ == "__main__":
    main()
