"""A cold ``tracer follow`` after an append, this tree beside a baseline tree, turn about.

``python -m benchmarks.append_cold --edges 200M --baseline TREE [--runs 4] [--lock F]``

Why: after an append the graph cache holds a base CSR and a delta level. The local engine
reads the two levels as stored; code that merged them per session paid O(E) in every new
process (seconds at 200M edges). This measures what an investigator sees the morning after a
daily append: fresh ``tracer follow`` processes on the appended workspace.

The workspace: a hard-linked copy of the ``tracer synth`` benchmark workspace of that size
(``<cache>/synth-<N>-s1-appended``, made once), its graph cache built, then the last
partition's last 1% of rows appended again with later times and new transaction hashes (a
delta level). The scam wallet: the first of the ground truth's that the local engine answers
(haircut, default options; the others spread past 5% and run the full sweep, as said in
their results). Its first follow stores the balance passes a new session reads.

Each round runs the baseline's process then this tree's (``PYTHONPATH``, own numba cache),
after one warm-up each (compile, page cache). Prints each run's wall, CPU and peak RSS, the
medians, and whether both sides wrote the same JSON document (engine options aside).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.tree_ab import HERE, held


def appended_copy(n_edges: int) -> tuple[Path, str]:
    """The appended workspace (made once) and the scam wallet to follow."""
    from benchmarks.appended import append_new_blocks, first_local_scam
    from benchmarks.conftest import synth_workspace
    from tracer.analysis.follow import follow
    from tracer.store.workspace import Workspace

    src = synth_workspace(n_edges)
    dst = src.parent / f"{src.name}-appended"
    done = dst / "append-benchmark.json"
    if done.exists():
        return dst, json.loads(done.read_text())["scam"]
    if dst.exists():  # an interrupted earlier make: ours (named for this script), remade
        shutil.rmtree(dst)
    shutil.copytree(src, dst, copy_function=os.link)
    ws = Workspace.open(dst)
    ws.graph()  # the graph cache (edge log + base level)
    ws.build_case_index()
    del ws
    append_new_blocks(dst)
    ws = Workspace.open(dst)
    ws.build_case_index()
    scam = first_local_scam(ws)
    if scam is None:
        raise SystemExit("every synth scam wallet spreads past the local engine's budget")
    follow(ws, [scam])  # stores the balance passes a new session reads
    done.write_text(json.dumps({"scam": scam}))
    return dst, scam


def cold(tree: Path, ws: Path, scam: str, out: Path) -> dict[str, float]:
    """One fresh ``tracer follow`` process with ``tree``'s code: wall, CPU, peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(tree),
           "NUMBA_CACHE_DIR": f"/tmp/numba-append-cold-{tree.name}"}  # fmt: skip
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tracer.cli", "follow", scam, "--workspace",
                             str(ws), "--format", "json", "-o", str(out)], cwd=tree, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own usage (not all children's)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"tracer follow failed with {tree}'s code (exit {proc.returncode})")
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": usage.ru_maxrss / 1024}


def _document(path: Path) -> dict[str, Any]:
    d = json.loads(path.read_text())
    d["options"] = {k: v for k, v in d["options"].items() if not k.startswith("engine")}
    return dict(d)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--edges", default="10M", help="synth size: 1M, 10M, 200M ...")
    p.add_argument("--baseline", help="checkout of the code to compare with")
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--lock", default=None, help="flock this file around each process")
    p.add_argument("--make", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.make:  # the child that makes the workspace (see below), its answer on stdout
        from benchmarks.conftest import parse_size  # here: the parent stays small (see below)

        ws, scam = appended_copy(parse_size(args.edges))
        print(json.dumps({"workspace": str(ws), "scam": scam}))
        return
    if not args.baseline:
        p.error("--baseline is required")
    # the workspace is made by a child process: a process forked from a parent holding the
    # workspace would start with the parent's peak RSS as its own (Linux keeps the larger)
    with held(args.lock):
        made = subprocess.run([sys.executable, "-m", "benchmarks.append_cold", "--make",
                               "--edges", args.edges], cwd=HERE, check=True,
                              capture_output=True, text=True)  # fmt: skip
    info = json.loads(made.stdout.strip().splitlines()[-1])
    ws, scam = Path(info["workspace"]), info["scam"]
    sides = {"baseline": Path(args.baseline).resolve(), "this": HERE}
    outs = {k: Path(f"/tmp/append-cold-{k}.json") for k in sides}
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in sides}
    for i in range(args.runs + 1):  # round 0: warm-up (compile, page cache), not counted
        for side, tree in sides.items():
            with held(args.lock):
                r = cold(tree, ws, scam, outs[side])
            if i:
                runs[side].append(r)
            print(json.dumps({"round": i, "side": side, **r}), flush=True)
    summary: dict[str, Any] = {
        side: {"median_wall_s": round(statistics.median(r["wall_s"] for r in rs), 3),
               "median_cpu_s": round(statistics.median(r["cpu_s"] for r in rs), 3),
               "walls": [round(r["wall_s"], 3) for r in rs],
               "peak_rss_mib": round(max(r["peak_rss_mib"] for r in rs))}
        for side, rs in runs.items()
    }  # fmt: skip
    summary["same_document"] = _document(outs["baseline"]) == _document(outs["this"])
    summary["workspace"] = str(ws)
    print(json.dumps({"summary": summary, "scam": scam, "load": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
