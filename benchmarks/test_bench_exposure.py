"""Exposure of every address to 8 categories in one sweep vs one follow sweep per category.

Same synthetic power-law graph as the taint benchmarks (default 10M transfers, about 2M
addresses). 8 categories of 250 labelled addresses each. The one-sweep kernel reports every
address; the baseline is what a user would otherwise run: ``follow`` from each category's
addresses in turn (8 haircut sweeps, the other labelled addresses as sinks), which yields the
same per-address amounts (asserted on the whole graph below).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from tracer.kernels.exposure import ExposureState, exposure_sweep
from tracer.kernels.taint import NORMAL, SINK, SOURCE, propagate

from benchmarks.conftest import bench_edges, record

N_CAT = 8
PER_CAT = 250


def labelled(edges: dict, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = edges["n_nodes"]
    kind = np.full(n, NORMAL, dtype=np.int8)
    cat = np.full(n, -1, dtype=np.int32)
    ids = rng.choice(n, N_CAT * PER_CAT, replace=False)
    kind[ids] = SOURCE  # a labelled origin
    cat[ids] = np.repeat(np.arange(N_CAT, dtype=np.int32), PER_CAT)
    return kind, cat


def one_sweep(edges: dict, kind: np.ndarray, cat: np.ndarray) -> ExposureState:
    n = edges["n_nodes"]
    state = ExposureState(n, N_CAT, np.arange(n, dtype=np.int32))
    exposure_sweep(state, edges["src"], edges["dst"], edges["amount"], edges["ts"], kind, cat)
    return state


def follow_per_category(edges: dict, kind: np.ndarray, cat: np.ndarray) -> list[np.ndarray]:
    inflows = []
    for c in range(N_CAT):
        role = np.where(kind == SOURCE, SINK, NORMAL).astype(np.int8)
        role[cat == c] = SOURCE
        seed = role[edges["src"]] == SOURCE
        res = propagate(edges["src"], edges["dst"], edges["amount"], edges["ts"], seed, role)
        inflows.append(res.inflow)
    return inflows


@pytest.mark.bench
def test_exposure_one_sweep_vs_follow_per_category(benchmark, edges: dict) -> None:  # type: ignore[no-untyped-def]
    kind, cat = labelled(edges)
    n_edges = edges["src"].shape[0]
    state = benchmark.pedantic(one_sweep, args=(edges, kind, cat), rounds=2, warmup_rounds=1)
    record("exposure: 1 sweep, 8 categories, all addresses", items=n_edges,
           seconds=benchmark.stats["mean"], baseline="exposure: follow per category (8 sweeps)",
           addresses=edges["n_nodes"], state_mib=state.nbytes / 2**20)  # fmt: skip
    follow_per_category(edges, kind, cat)  # warm-up (compile)
    t0 = time.perf_counter()
    inflows = follow_per_category(edges, kind, cat)
    record("exposure: follow per category (8 sweeps)", items=n_edges,
           seconds=time.perf_counter() - t0)  # fmt: skip
    # same numbers from both: every address, every category
    total = state.direct + state.indirect
    for c in range(N_CAT):
        np.testing.assert_allclose(total[:, c], inflows[c], rtol=1e-6, atol=1e-6)
    assert total.sum() > 0


#: Three extra categories for the 10M synth workspace (its labels have five): the first nine
#: of its exchanges by name, three each, labelled again (primary by priority, as ``--labels``
#: on a workspace does), so the report has 8 categories: sanctioned, mixer, scam, hack,
#: guarantee_marketplace, gambling, exchange, otc_desk.
EXTRA_CATEGORIES = ("mixer", "hack", "gambling")


def eight_category_labels(ws_path, out_csv) -> None:  # type: ignore[no-untyped-def]
    """Write the extra labels (deterministic) as a label CSV for ``--labels``."""
    import polars as pl

    from tracer.store.workspace import Workspace

    ex = Workspace.open(ws_path).labels().filter(pl.col("category") == "exchange").sort("name")
    rows = [
        ex.slice(3 * i, 3).select("chain", "address", (pl.lit(f"{c}-") + pl.col("name")).alias(
            "name"), pl.lit(c).alias("category"))
        for i, c in enumerate(EXTRA_CATEGORIES)
    ]  # fmt: skip
    pl.concat(rows).write_csv(out_csv)


#: The README's exposure workload: the concentrated power-law canonical workspace of
#: :func:`benchmarks.workspace_case.canonical_parquet` (10M transfers, about 146k addresses).
CASE_CATEGORIES = ("sanctioned", "mixer", "scam", "hack", "guarantee_marketplace", "gambling",
                   "exchange", "otc_desk")  # fmt: skip


def case_workspace(n_edges: int = 10_000_000, per_cat: int = PER_CAT):  # type: ignore[no-untyped-def]
    """The canonical power-law workspace of ``n_edges`` transfers, ingested once and cached in
    the benchmark cache (``expo-case-<n>``), with ``labels8.csv`` beside it: ``per_cat``
    addresses for each of the 8 categories, drawn with a fixed seed (deterministic)."""
    import os
    import shutil
    from pathlib import Path

    import polars as pl

    from benchmarks.workspace_case import canonical_parquet
    from tracer.store.workspace import Workspace

    cache = Path(os.environ.get("TRACER_BENCH_CACHE", Path.home() / ".cache" / "tracer-bench"))
    root = cache / f"expo-case-{n_edges}"
    labels = root / "labels8.csv"
    if labels.exists():
        return root / "ws", labels
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    e = canonical_parquet(n_edges, root / "t.parquet")
    ws = Workspace.open(root / "ws", create=True)
    ws.ingest([root / "t.parquet"])
    ws.graph()  # build the graph cache once
    (root / "t.parquet").unlink()
    rng = np.random.default_rng(11)
    ids = rng.choice(e["n_nodes"], len(CASE_CATEGORIES) * per_cat, replace=False)
    cats = np.repeat(np.array(CASE_CATEGORIES), per_cat)
    pl.DataFrame(
        {
            "chain": ["ethereum"] * ids.shape[0],
            "address": e["addresses"].gather(ids),
            "name": [f"{c}-{i}" for i, c in enumerate(cats)],
            "category": cats,
        }
    ).write_csv(root / "labels.tmp")
    (root / "labels.tmp").rename(labels)
    return root / "ws", labels


@pytest.mark.bench
def test_exposure_all_end_to_end(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``exposure --all``, both directions, 8 categories, 10M synth workspace, Parquet written:
    today's path (directions one after the other, the first version's Polars assembly, from
    tests/analysis/exposure_legacy.py) beside the new one, in the same run, CPU and wall.

    One command: ``NUMBA_CACHE_DIR=/tmp/numba-bench flock /tmp/big.lock python -m pytest
    benchmarks/test_bench_exposure.py -k end_to_end -s -p no:cacheprovider``. Warm numba
    cache: the kernel runs once on the bundled sample case first (a cold cache would add the
    compile to whichever path ran first). Peak RSS is about 6 GB (hence the lock).
    """
    import os
    import resource
    from pathlib import Path

    import tracer.analysis.exposure_run as run
    from benchmarks.conftest import synth_workspace
    from tests.analysis.exposure_legacy import assemble as legacy_assemble
    from tracer.analysis.exposure import REPORT_SCHEMA, ExposureRequest
    from tracer.output.exposure_report import write_report
    from tracer.sources.labels import read_labels
    from tracer.store.workspace import Workspace

    root = synth_workspace(10_000_000)
    labels = tmp_path / "labels8.csv"
    eight_category_labels(root, labels)
    req = ExposureRequest(addresses=None)
    new_parts = run.RowParts

    class LegacyParts:
        """The first version's assembly, in the shape ``exposure`` takes rows in."""

        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            kwargs.pop("prepared", None)
            self.rows = legacy_assemble(*args, **kwargs).to_arrow().cast(REPORT_SCHEMA)
            self.num_rows = self.rows.num_rows

        def table(self):  # type: ignore[no-untyped-def]
            return self.rows

        def addresses(self):  # type: ignore[no-untyped-def]
            return self.rows["address"].combine_chunks()

        def __iter__(self):  # type: ignore[no-untyped-def]
            yield self.rows

    def once(legacy: bool) -> tuple[float, float, int]:
        ws = Workspace.open(root)
        ws.add_labels_in_memory([read_labels(labels)])
        run.RowParts = LegacyParts if legacy else new_parts  # type: ignore[assignment,misc]
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            report = run.exposure(ws, req, parallel=not legacy)
            write_report(report, str(tmp_path / "r.parquet"), ["bench"])
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        finally:
            run.RowParts = new_parts  # type: ignore[misc]
        assert len(report.metadata["categories"]) == 8
        return wall, cpu, report.frame.height

    sample = Path(__file__).resolve().parents[1] / "fixtures" / "sample_case"
    warm, _ = Workspace.in_memory([sample / "trongrid_scam_wallet.json"])
    run.exposure(warm, req)  # compile or load the kernel before either timing
    load = os.getloadavg()[0]
    base = once(legacy=True)
    new = once(legacy=False)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\nexposure --all end to end (10M synth, 8 categories, {new[2]:,} rows), "
          f"load {load:.1f}: baseline {base[0]:.1f} s wall / {base[1]:.1f} s CPU; new "
          f"{new[0]:.1f} s wall / {new[1]:.1f} s CPU; peak RSS {rss:.1f} GiB")  # fmt: skip
    record("exposure --all end to end (8 categories, in library, Parquet written)", items=10**7,
           seconds=new[0], baseline="exposure --all end to end: previous path",
           cpu_s=new[1], rows=new[2])  # fmt: skip
    record("exposure --all end to end: previous path", items=10**7, seconds=base[0],
           cpu_s=base[1], rows=base[2])  # fmt: skip
    assert new[2] == base[2] > 0


#: The baseline tree: main before issue 17's exposure work (the README's "9.6 s").
BASELINE_REV = "afef16e"
#: The previous round's tree (main at 2de286d: round 5's base, h-expo3's report table and
#: writer), the A/B of this round's CLI process.
PREVIOUS_REV = "2de286d"

#: Runs ``exposure --all`` in the library (both directions, Parquet written) in a fresh
#: process of whichever tree is first on PYTHONPATH; prints wall, CPU and rows as JSON.
_LIBRARY_RUN = """
import json, sys, time
from pathlib import Path
from tracer.analysis.exposure import ExposureRequest
from tracer.analysis.exposure_run import exposure
from tracer.output.exposure_report import write_report
from tracer.sources.labels import read_labels
from tracer.store.workspace import Workspace
ws_path, labels, out, sample = sys.argv[1:5]
req = ExposureRequest(addresses=None)
warm, _ = Workspace.in_memory([Path(sample) / "trongrid_scam_wallet.json"])
exposure(warm, req)  # load (or compile) the kernels before the timing
ws = Workspace.open(ws_path)
ws.add_labels_in_memory([read_labels(labels)])
t0, c0 = time.perf_counter(), time.process_time()
report = exposure(ws, req)
write_report(report, out, ["bench"])
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                  "rows": report.frame.height, "engine": report.metadata["engine"]}))
"""


def tree_at(rev: str):  # type: ignore[no-untyped-def]
    """``tracer`` and ``kernels`` at git revision ``rev``, extracted once into the benchmark
    cache (``tree-<sha>``): put it first on PYTHONPATH to run that version."""
    import io
    import os
    import subprocess
    import tarfile
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=12", rev], check=True,
                         capture_output=True, text=True).stdout.strip()  # fmt: skip
    cache = Path(os.environ.get("TRACER_BENCH_CACHE", Path.home() / ".cache" / "tracer-bench"))
    root = cache / f"tree-{sha}"
    if not (root / "tracer" / "__init__.py").exists():
        what = ["tracer", "kernels", "pyproject.toml"]
        blob = subprocess.run(["git", "-C", str(repo), "archive", sha, *what], check=True,
                              capture_output=True).stdout  # fmt: skip
        tmp = cache / f".tree-{sha}.tmp"
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(tmp, filter="data")
        tmp.rename(root)
    return root


def _median_run(runs: list[dict]) -> dict:
    """The median of ``_timed`` runs, field by field (wall, user, sys, peak RSS, load)."""
    import statistics

    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def _timed(cmd: list[str], tree, numba_cache: str) -> tuple[dict, str]:  # type: ignore[no-untyped-def]
    """Run ``cmd`` under ``/usr/bin/time`` with ``tree`` first on PYTHONPATH (cwd outside any
    checkout); (its user/sys/wall/peak RSS, its stdout)."""
    import os
    import subprocess
    import tempfile

    env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_CACHE_DIR": numba_cache}
    with tempfile.NamedTemporaryFile("r", suffix=".time") as fh:
        done = subprocess.run(["/usr/bin/time", "-f", "%U %S %e %M", "-o", fh.name, *cmd],
                              env=env, cwd=tempfile.gettempdir(), capture_output=True,
                              text=True, check=True)  # fmt: skip
        user, sys_, wall, rss = fh.read().split()[-4:]
    return {"user": float(user), "sys": float(sys_), "wall": float(wall),
            "rss_gib": int(rss) / 2**20}, done.stdout  # fmt: skip


@pytest.mark.bench
def test_exposure_all_case_end_to_end(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``exposure --all``, both directions, 8 categories, on the README's workload: the
    canonical power-law workspace (10M transfers, ~146k addresses, ~1.6M report rows; built
    once by :func:`case_workspace`). Today's tree beside main at ``BASELINE_REV``, in the same
    run, alternating: the library call writing the Parquet report (a fresh process each, warm
    numba cache, timed inside) and the CLI process under ``/usr/bin/time``; CPU and wall, with
    the load. Also main at ``PREVIOUS_REV`` (the previous round). Passes: the first warms
    numba's caches; of the other ``TRACER_BENCH_PASSES`` (default 2), the CLI runs' median
    wall and median CPU are reported, with every pass's wall (the machine is shared: a median
    of alternating passes, not the luckiest one). Every tree's report must be equal, frame for
    frame.

    One command (the first run builds the workspace, ~7 GB peak, hence the lock):
    ``NUMBA_CACHE_DIR=/tmp/numba-bench flock /tmp/big.lock python -m pytest
    benchmarks/test_bench_exposure.py -k case_end_to_end -m bench -s -p no:cacheprovider``.
    ``TRACER_BENCH_EDGES`` picks another size (e.g. 1000000 for a quick look).
    """
    import json
    import os
    import sys
    from pathlib import Path

    import polars as pl
    from polars.testing import assert_frame_equal

    n = bench_edges()
    ws_path, labels = case_workspace(n)
    repo = Path(__file__).resolve().parent.parent
    sample = repo / "fixtures" / "sample_case"
    trees = {"baseline": tree_at(BASELINE_REV), "previous": tree_at(PREVIOUS_REV), "new": repo}
    revs = {"baseline": BASELINE_REV, "previous": PREVIOUS_REV, "new": "this tree"}
    caches = {"baseline": "/tmp/numba-bench-baseline", "previous": "/tmp/numba-bench-previous",
              "new": os.environ.get("NUMBA_CACHE_DIR", "/tmp/numba-bench")}  # fmt: skip
    lib: dict[str, dict] = {}
    cli: dict[str, list[dict]] = {name: [] for name in trees}
    passes = int(os.environ.get("TRACER_BENCH_PASSES", 2))
    order = [*trees] * (1 + passes)  # alternating; the first pass warms numba caches
    for i, name in enumerate(order):
        out = tmp_path / f"{name}-lib.parquet"
        t, stdout = _timed([sys.executable, "-c", _LIBRARY_RUN, str(ws_path), str(labels),
                            str(out), str(sample)], trees[name], caches[name])  # fmt: skip
        if i >= len(trees):
            lib.setdefault(name, {**json.loads(stdout.strip().splitlines()[-1]),
                                  "rss_gib": t["rss_gib"], "load": os.getloadavg()[0]})  # fmt: skip
        report = tmp_path / f"{name}-cli.parquet"
        run, _ = _timed([sys.executable, "-m", "tracer.cli", "exposure", "--all", "-o",
                         str(report), "--workspace", str(ws_path), "--labels",
                         str(labels), "--quiet"], trees[name], caches[name])  # fmt: skip
        run["load"] = os.getloadavg()[0]
        if i >= len(trees):
            cli[name].append(run)
    frames = {k: pl.read_parquet(tmp_path / f"{k}-cli.parquet") for k in trees}
    assert_frame_equal(frames["new"], frames["baseline"])
    assert_frame_equal(frames["new"], frames["previous"])
    assert_frame_equal(pl.read_parquet(tmp_path / "new-lib.parquet"), frames["new"])
    rows = frames["new"].height
    best = {k: _median_run(v) for k, v in cli.items()}
    for name in trees:
        a, b = lib[name], best[name]
        walls = ", ".join(f"{r['wall']:.2f}" for r in cli[name])
        print(f"\nexposure --all, {n:,} transfers, 8 categories, {rows:,} rows, {name} "
              f"({revs[name]}): library {a['wall']:.2f} s wall / {a['cpu']:.2f} s CPU (load "
              f"{a['load']:.1f}, engine {a['engine']}); CLI process median of {len(cli[name])}: "
              f"{b['wall']:.2f} s wall / {b['user'] + b['sys']:.2f} s CPU ({b['user']:.2f} user "
              f"+ {b['sys']:.2f} sys), {b['rss_gib']:.2f} GiB peak (load {b['load']:.1f}; "
              f"walls {walls})")  # fmt: skip
    new, prev = best["new"], best["previous"]
    print(f"\nCLI process, this tree vs {PREVIOUS_REV} (issue 17 target <= 4 s wall): "
          f"{new['wall']:.2f} s vs {prev['wall']:.2f} s wall, {new['user'] + new['sys']:.2f} "
          f"vs {prev['user'] + prev['sys']:.2f} s CPU, {new['rss_gib']:.2f} vs "
          f"{prev['rss_gib']:.2f} GiB (load {new['load']:.1f} / {prev['load']:.1f})")  # fmt: skip
    record("exposure --all end to end, case workspace (library, Parquet written)", items=n,
           seconds=lib["new"]["wall"], baseline="exposure --all case: baseline library",
           cpu_s=lib["new"]["cpu"], rows=rows)  # fmt: skip
    record("exposure --all case: baseline library", items=n, seconds=lib["baseline"]["wall"],
           cpu_s=lib["baseline"]["cpu"], rows=rows)  # fmt: skip
    record("exposure --all end to end, case workspace (CLI process)", items=n,
           seconds=best["new"]["wall"], baseline="exposure --all case: previous CLI",
           cpu_s=best["new"]["user"] + best["new"]["sys"], rows=rows)  # fmt: skip
    for name in ("baseline", "previous"):
        record(f"exposure --all case: {name} CLI", items=n, seconds=best[name]["wall"],
               cpu_s=best[name]["user"] + best[name]["sys"], rows=rows)  # fmt: skip
    assert rows > 0
