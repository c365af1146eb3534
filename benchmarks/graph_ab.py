"""What writing the graph cache at ingest costs (tracer.store.edge_log), in fresh processes.

``python -m benchmarks.graph_ab empty FILE [--nograph]``: ingest FILE into an empty workspace,
with the graph cache written at ingest (default) or without (``--nograph``: the edge log and
CSR left to first use, as before for workspaces above 2M rows).

``python -m benchmarks.graph_ab append WS TAIL [--nograph]``: append TAIL to a copy of the
workspace WS (hard links, the edge log copied before the timing: WS is never written).

``python -m benchmarks.graph_ab rounds FILE WS TAIL [--rounds N]``: the four above in turn,
N rounds, alternating with and without, each a fresh process; prints each figure (wall, CPU
= user + system of the ingest call, peak RSS, load) and the medians. Make FILE with
``benchmarks.workspace_case.canonical_parquet(10_000_000, FILE, seed=7)``; WS with
``empty``'s ingest kept (``--keep WS``), TAIL with :func:`tail_file`.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.ingest_ab import peak_rss_mib

REPO = Path(__file__).resolve().parents[1]


def _ingest(ws_dir: Path, src: Path, nograph: bool) -> dict[str, float]:
    from tracer.store import append as ap
    from tracer.store.workspace import Workspace

    if nograph:
        ap.edge_log.write_generation = lambda *a, **k: None  # type: ignore[assignment]
    ws = Workspace.open(ws_dir, create=True)
    c0, t0 = os.times(), time.perf_counter()
    s = ws.ingest([src])
    c1, wall = os.times(), time.perf_counter() - t0
    return {"rows": s.total("loaded"), "wall": wall,
            "cpu": c1.user - c0.user + c1.system - c0.system,
            "rss": peak_rss_mib(), "load": os.getloadavg()[0]}  # fmt: skip


def tail_file(big: Path, tail: Path, rows: int = 1_000_000) -> None:
    """``rows`` rows of ``big`` moved 400 days later with new hashes: new blocks after it."""
    import polars as pl

    t = pl.read_parquet(big, n_rows=rows)
    t.with_columns((pl.col("ts") + pl.duration(days=400)).alias("ts"),
                   pl.format("0xa{}", pl.col("tx_hash").str.slice(3)).alias("tx_hash"),
                   ).write_parquet(tail)  # fmt: skip


def _child(args: list[str]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "benchmarks.graph_ab", *args, "--json"],
                         cwd=REPO, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str]) -> None:
    nograph = "--nograph" in argv
    as_json = "--json" in argv
    args = [a for a in argv if not a.startswith("--")]
    keep = argv[argv.index("--keep") + 1] if "--keep" in argv else None
    if keep:
        args.remove(keep)
    mode = args[0]
    if mode == "empty":
        root = Path(tempfile.mkdtemp())
        ws = Path(keep) if keep else root / "ws"
        try:
            r = _ingest(ws, Path(args[1]), nograph)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    elif mode == "append":
        root = Path(tempfile.mkdtemp())
        try:
            shutil.copytree(args[1], root / "ws", copy_function=os.link)
            for log in (root / "ws").glob("g*/graph/log.*.bin"):
                # its own copy of the edge log, made before the timing: an append extends a
                # log linked from outside its workspace by copying it first (edge_log)
                log.unlink()
                shutil.copyfile(Path(args[1]) / log.relative_to(root / "ws"), log)
            r = _ingest(root / "ws", Path(args[2]), nograph)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    elif mode == "rounds":
        n = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 2
        file, ws, tail = args[1], args[2], args[3]
        runs: dict[str, list[dict[str, float]]] = {}
        for _ in range(n):
            for name, a in (("empty 10M, graph", ["empty", file]),
                            ("empty 10M, no graph", ["empty", file, "--nograph"]),
                            ("append 1M, graph", ["append", ws, tail]),
                            ("append 1M, no graph", ["append", ws, tail, "--nograph"]),
                            ("1M into empty, graph", ["empty", tail]),
                            ("1M into empty, no graph", ["empty", tail, "--nograph"])):
                r = _child(a)
                runs.setdefault(name, []).append(r)
                print(f"{name:26s} wall {r['wall']:6.2f} s  cpu {r['cpu']:6.2f} s  "
                      f"rss {r['rss']:7.0f} MiB  load {r['load']:.1f}", flush=True)
        print("medians:")
        for name, rs in runs.items():
            w = statistics.median(r["wall"] for r in rs)
            c = statistics.median(r["cpu"] for r in rs)
            print(f"  {name:26s} wall {w:6.2f} s  cpu {c:6.2f} s  "
                  f"({rs[0]['rows'] / w / 1e6:.2f}M rows/s wall)")
        return
    else:
        raise SystemExit(f"unknown mode {mode!r}: empty, append or rounds")
    if as_json:
        print(json.dumps(r))
    else:
        print(f"{mode}{' (no graph)' if nograph else ''}: {r['rows']:,.0f} rows, "
              f"{r['wall']:.2f} s wall, {r['cpu']:.2f} s CPU, peak {r['rss']:,.0f} MiB, "
              f"load {r['load']:.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
