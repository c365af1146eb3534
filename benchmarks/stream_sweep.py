"""One taint sweep over a whole workspace in a fresh process: throughput and peak RSS.

``python -m benchmarks.stream_sweep WORKSPACE [--model haircut] [--mode stream|memory]``

* ``stream``: edges read one Parquet row group at a time (``analysis.follow.trace_edges`` with
  ``stream=True``, the path ``tracer follow --stream`` takes): memory O(addresses);
* ``memory``: the five edge columns loaded first (not timed), then one kernel call over all.

Seeds: 100 wallets drawn (seeded) among those that send; labelled services are sinks. Compile
time is excluded (a warm-up sweep on a tiny graph first). Prints one JSON line: transfers,
seconds, transfers_per_s, cpu_seconds (user + sys, every thread), transfers_per_cpu_s, load
(1-minute average), peak_rss_mib (the process's maximum resident set), state_mib, and the
timed part's user/sys seconds, minor faults and MiB read from storage.

Before/after in the same run: this script against another checkout's code, in turns with this
one (``cd /work/main && PYTHONPATH=/work/main python /path/to/this/benchmarks/stream_sweep.py
DIR``; it runs on the tree before h-prep too), or that checkout's own copy of the script.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np
import polars as pl
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
    """Compile (or load from numba's cache) the kernels for the very array types the run will
    pass (Arrow hands out read-only arrays, a distinct numba type), on a few rows."""
    a = edge_arrays(reader.read_group(0, EDGE_COLUMNS).slice(0, 64))
    s = SweepState(role, model=model)
    out = sweep_chunk(s, a["src"], a["dst"], a["amount"], a["ts"], role[a["src"]] == SOURCE)
    keeper = PathEdges(role, TOP_PATHS)
    if hasattr(keeper, "add_chunk"):  # this script also runs on the tree before (A/B)
        keeper.add_chunk(a["src"], a["dst"], out.edge_taint, out.edge_hop, 0, clear=True)
    keeper.add(a["src"][:1], a["dst"][:1], out.edge_taint[:1], np.zeros(1, np.int64))


def labelled(ws: Workspace, nodes) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    """The labelled nodes as ``tracer follow`` finds them: through the case index (a binary
    search per label address, the texts of those ids only) when the workspace has one, so the
    address dictionary (about 1 GB at 200M) is never read; else the join over it."""
    labels = ws.labels()
    idx = ws.case_index() if nodes.rows_of is not None and not nodes.loaded else None
    if idx is None or not labels.height:
        return node_labels(nodes, labels)
    cand = idx.label_candidates(labels["address"].unique().to_list())
    return node_labels(nodes, labels, nodes=nodes.address_rows(cand))


def run(path: str, model: str, mode: str, n_seeds: int = 100) -> dict:
    ws = Workspace.open(path)
    nodes = ws.nodes()
    reader = ws.parts()
    assert reader is not None
    rng = np.random.default_rng(1)
    first = reader.read_group(0, ["src_id"]).column("src_id").to_numpy()
    seeds = rng.choice(np.unique(first), n_seeds, replace=False).astype(np.int32)
    role = roles(nodes, seeds, labelled(ws, nodes), DEFAULT_THROUGH)
    tokens = asset_tokens(nodes, None)
    warm_up(reader, role, model)
    if mode == "stream":
        t0, c0, u0 = time.perf_counter(), cpu_seconds(), usage()
        state, tainted, _ = trace_edges(ws, tokens, role, Selection(stream=True), model=model,
                                        top_paths=TOP_PATHS)  # fmt: skip
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    else:
        a = edge_arrays(reader.read_all(EDGE_COLUMNS))
        state = SweepState(role, model=model)
        seed = role[a["src"]] == SOURCE
        t0, c0, u0 = time.perf_counter(), cpu_seconds(), usage()
        out = sweep_chunk(state, a["src"], a["dst"], a["amount"], a["ts"], seed, check=False)
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        hit = np.flatnonzero(out.edge_taint > 0)  # what trace_edges keeps for the paths
        keeper = PathEdges(role, TOP_PATHS)
        keeper.add(a["src"][hit], a["dst"][hit], out.edge_taint[hit], hit)
        tainted = keeper.result()
    n = reader.num_rows
    u1 = usage()
    return {
        "mode": mode,
        "model": model,
        "transfers": n,
        "addresses": nodes.n_nodes,
        "seconds": seconds,
        "transfers_per_s": n / seconds,
        "cpu_seconds": cpu,
        "transfers_per_cpu_s": n / cpu,
        "user_seconds": u1[0] - u0[0],
        "sys_seconds": u1[1] - u0[1],
        "minor_faults": u1[2] - u0[2],
        "read_mib": u1[3] - u0[3],
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


def usage() -> tuple[float, float, int, float]:
    """user s, sys s, minor page faults, MiB read from storage (``/proc/self/io``
    ``read_bytes``: what the page cache did not hold) of this process so far. On the
    benchmark VM a fault on fresh memory costs ~2.5 s of sys per GB (page reporting)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    read = 0.0
    try:
        with open("/proc/self/io") as fh:
            for line in fh:
                if line.startswith("read_bytes:"):
                    read = int(line.split()[1]) / 2**20
    except OSError:
        pass
    return r.ru_utime, r.ru_stime, r.ru_minflt, read


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
