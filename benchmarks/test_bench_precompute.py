"""Ingest, then the first follow (issue 17.1): the balance passes computed at ingest, or by
the first question as before.

Each figure is a fresh process (``benchmarks/precompute_ab.py``), turn about, on copies of the
same synth workspace with its graph cache (what an ingest leaves; ``TRACER_BENCH_EDGES``,
default 10M; the wallet: the first synth scam wallet, ``follow``; the last hop of its peel
chain, ``source``; default options, the local engine):

* **before** (the tree at ``TRACER_PRECOMPUTE_BASE``, default ``5b45c82``): nothing stored at
  ingest, so the first follow runs the forward balance pass and the first source the backward
  one;
* **now** (this tree): ``precompute_case`` after the ingest (both directions, two threads),
  then the same first follow and source, which read the stored passes.

Then an append (the last 1% of the transfers again as new blocks, on a copy that owns its edge
log and holds both stored passes): **before**, the append and a first follow/source that
continue the passes over the new transfers; **now**, the append, the precompute that
continues them, and a first follow/source that read them. Printed: medians of wall and CPU
(user + sys, all threads) per step, the load, and each way's ``engine_reason``.

Run: ``TRACER_BENCH_EDGES=10M python -m pytest -m bench benchmarks/test_bench_precompute.py
-s -p no:cacheprovider`` (rounds: ``TRACER_PRECOMPUTE_ROUNDS``, default 3).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from benchmarks.conftest import bench_edges, medians, record, synth_workspace
from benchmarks.test_bench_cold import REPO, bench_cache, tree_at
from tracer.store.workspace import Workspace

SCRIPT = Path(__file__).resolve().parent / "precompute_ab.py"


def _child(root: Path, *args: str) -> dict:
    """One step in a fresh process importing ``tracer`` from ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root),
           "PYTHONPYCACHEPREFIX": str(bench_cache() / "pyc")}  # fmt: skip
    env.setdefault("NUMBA_CACHE_DIR", str(bench_cache() / "numba"))
    out = subprocess.run([sys.executable, str(SCRIPT), *args, "--json"], cwd=root, env=env,
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _copy(src: Path, dst: Path, *, own_log: bool) -> Path:
    """A hard-linked copy of ``src`` (never written: every write replaces a file); with
    ``own_log`` the edge log is copied, since an append extends it in place."""
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, copy_function=os.link)
    if own_log:
        for log in dst.glob("g*/graph/log.*.bin"):
            log.unlink()
            shutil.copyfile(src / log.relative_to(dst), log)
    return dst


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The synth workspace as a copy with its own graph cache and nothing stored for the
    balance passes; the wallets; the file of new blocks an append ingests."""
    src = synth_workspace(bench_edges())
    d = tmp_path_factory.mktemp("precompute")
    root = d / "base"
    shutil.copytree(src, root, copy_function=os.link)
    gen = Workspace.open(root).manifest()["generation"]
    for f in [*(root / f"g{gen}" / "graph").glob("*"), *(root / f"g{gen}" / "case").glob(
            "prior-*")]:  # fmt: skip
        f.unlink()  # this copy's links only
    ws = Workspace.open(root)
    ws.graph()  # the edge log and base level, as an ingest writes them
    truth = json.loads((root / "ground_truth.json").read_text())
    steps = pl.read_parquet(root / "ground_truth.parquet").filter(pl.col("pattern") == 0)
    t = ws.transfers().tail(max(ws.graph().n_edges // 100, 1000))
    last = t["ts"].max()
    tail = t.with_columns(
        (pl.lit(last) + pl.duration(seconds=pl.int_range(1, t.height + 1))).alias("ts"),
        pl.concat_str(pl.lit("feed"), pl.col("tx_hash").str.slice(4)).alias("tx_hash"),
    ).drop([c for c in t.columns if c.endswith("_id")])
    tail.write_parquet(d / "tail.parquet")
    return {"root": root, "dir": d, "tail": d / "tail.parquet", "n": ws.graph().n_edges,
            "new": tail.height, "scam": truth["patterns"][0]["scam"],
            "hop": steps.filter(pl.col("role") == "deposit")["src"][0]}  # fmt: skip


@pytest.mark.bench
def test_first_follow_after_ingest_and_after_an_append(base: dict, capsys) -> None:  # type: ignore[no-untyped-def]
    rounds = int(os.environ.get("TRACER_PRECOMPUTE_ROUNDS", "3"))
    trees = {"before": tree_at(os.environ.get("TRACER_PRECOMPUTE_BASE", "5b45c82")),
             "now": REPO}  # fmt: skip
    d, root = base["dir"], base["root"]
    stored = _copy(root, d / "stored", own_log=False)  # both passes stored (the append's start)
    _child(REPO, "precompute", str(stored))
    for way, tree in trees.items():  # warm-up: numba's and the bytecode cache of each tree
        w = str(_copy(stored, d / "warm", own_log=True))
        _child(tree, "ingest", w, str(base["tail"]))  # the CSR merge's kernels too
        if way == "now":
            _child(tree, "precompute", w)
        for mode, who in (("follow", base["scam"]), ("source", base["hop"])):
            _child(tree, mode, w, who)
    runs: dict[str, list[dict]] = {}
    reasons: dict[str, str] = {}

    def step(name: str, tree: Path, *args: str) -> None:
        got = _child(tree, *args)
        runs.setdefault(name, []).append(got)
        if "engine_reason" in got:
            reasons[name] = f"{got['engine']}: {got['engine_reason']}"

    for _ in range(rounds):
        for way, tree in trees.items():
            w = str(_copy(root, d / "w", own_log=False))
            if way == "now":
                step("fresh: precompute", tree, "precompute", w)
            step(f"fresh {way}: first follow", tree, "follow", w, base["scam"])
            step(f"fresh {way}: first source", tree, "source", w, base["hop"])
        for way, tree in trees.items():
            w = str(_copy(stored, d / "a", own_log=True))
            step(f"append {way}: ingest", tree, "ingest", w, str(base["tail"]))
            if way == "now":
                step("append: precompute (continue)", tree, "precompute", w)
            step(f"append {way}: first follow", tree, "follow", w, base["scam"])
            step(f"append {way}: first source", tree, "source", w, base["hop"])
    med = medians(runs, ("wall", "cpu", "rss"))
    loads = [r["load"] for v in runs.values() for r in v]
    with capsys.disabled():
        print(f"\ningest, then the first question: {base['n']:,} transfers (append: "
              f"{base['new']:,} new), {rounds} rounds, load {min(loads):.1f}-{max(loads):.1f}")
        for name, m in med.items():
            print(f"  {name:34s} {m['wall']:7.2f} s wall {m['cpu']:7.2f} s CPU "
                  f"{m['rss']:6.0f} MiB")  # fmt: skip
        for name, r in reasons.items():
            print(f"  {name}: {r}")
    for way in trees:
        for kind in ("fresh", "append"):
            assert reasons[f"{kind} {way}: first follow"].startswith("local")
    assert "read as stored" in reasons["fresh now: first follow"]
    assert "read as stored" in reasons["append now: first source"]
    assert "ran now" in reasons["fresh before: first follow"]
    assert "continued over" in reasons["append before: first follow"]
    record("first follow after ingest (passes stored at ingest)", items=base["n"],
           seconds=med["fresh now: first follow"]["wall"], unit="transfers/s",
           baseline="first follow after ingest (pass run by the question)",
           base_wall=med["fresh before: first follow"]["wall"],
           precompute_wall=med["fresh: precompute"]["wall"],
           precompute_cpu=med["fresh: precompute"]["cpu"])  # fmt: skip
