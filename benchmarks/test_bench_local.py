"""Case follow (issue 17.1): one synth scam wallet, default options, local engine vs full sweep.

The same ``follow`` call on the same ``tracer synth`` workspace (graph cache built once), with
``engine="sweep"`` (every selected transfer, the baseline) and the default engine (local while
the taint stays small). Both in the same run; the table prints the ratio, and so does the test.
Target (issue 17, 10M transfers): warm ≤ 50 ms, ≥ 50× faster than the full sweep.

Run: ``TRACER_BENCH_EDGES=10M python -m pytest -m bench benchmarks/test_bench_local.py -s``
(``TRACER_BENCH_EDGES=200M``: the whole-chain case, :func:`test_case_follow_200m`, only)
(default size 1M here; the synth workspace is generated once in ``TRACER_BENCH_CACHE``). The
fixture builds the graph cache and the case index (:mod:`tracer.store.case_index`) into it
when missing. Each timing prints its CPU seconds beside its wall seconds (the machine is
shared). ``test_case_follow_no_index`` times the same follow with the case index hidden (path
rows from Parquet, sources by the join over every address): what the index saves.
``test_case_follow_local_with_levels`` and ``test_cold_follow_after_an_append`` time the same
follow after a 1% append (``appended_case``: base + delta levels, which the local engine reads
without merging them), warm in-process and as fresh ``tracer follow`` processes.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.appended import append_new_blocks, first_local_scam
from benchmarks.conftest import bench_edges, record, synth_workspace
from tracer.analysis.follow import follow, prepare, trace_edges
from tracer.analysis.local_follow import trace_local
from tracer.graph.selection import asset_groups, asset_tokens
from tracer.graph.spec import Selection
from tracer.output.follow_json import follow_json
from tracer.store.workspace import Workspace

SWEEP = "case follow, one scam wallet: full sweep (warm)"
LOCAL = "case follow, one scam wallet: local engine (warm)"
SWEEP_T = "case trace (engine only), one scam wallet: full sweep"
LOCAL_T = "case trace (engine only), one scam wallet: local engine"
NO_INDEX = "case follow, one scam wallet: local engine, no case index (warm)"
COLD = "case follow, one scam wallet: cold `tracer follow` process"
ROOT = Path(__file__).resolve().parents[1]


def _cpu(fn):  # type: ignore[no-untyped-def]
    """``fn`` that also adds its CPU seconds (user + sys of this process) to ``fn.cpu``."""

    def run(*args, **kwargs):  # type: ignore[no-untyped-def]
        c = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            run.cpu.append(time.process_time() - c)  # type: ignore[attr-defined]

    run.cpu = []  # type: ignore[attr-defined]
    return run


def _say(name: str, wall: float, cpu: list[float]) -> None:
    load = os.getloadavg()[0]
    print(f"\n{name}: wall {wall * 1e3:.1f} ms, CPU {sum(cpu) / max(len(cpu), 1) * 1e3:.1f} ms "
          f"(load {load:.1f})")  # fmt: skip


def _edges() -> int:
    return bench_edges() if os.environ.get("TRACER_BENCH_EDGES") else 1_000_000


def _big() -> bool:
    """``TRACER_BENCH_EDGES=200M``: only :func:`test_case_follow_200m` runs (the others would
    sweep 200M transfers in memory several times)."""
    return os.environ.get("TRACER_BENCH_EDGES", "").upper() == "200M"


@pytest.fixture(scope="module")
def case() -> dict:
    if _big():
        pytest.skip("TRACER_BENCH_EDGES=200M runs test_case_follow_200m only")
    root = synth_workspace(_edges())
    ws = Workspace.open(root)
    ws.graph()  # the graph cache (memory-mapped; built on first use)
    ws.build_case_index()  # a workspace synthesised before the case index existed gets one
    scam = json.loads((root / "ground_truth.json").read_text())["patterns"][0]["scam"]
    return {"ws": ws, "scam": scam, "n": ws.graph().n_edges}


def _same(a: dict, b: dict) -> None:
    for doc in (a, b):
        doc["options"] = {k: v for k, v in doc["options"].items() if not k.startswith("engine")}
    assert json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


@pytest.mark.bench
def test_case_follow_sweep(benchmark, case: dict) -> None:  # type: ignore[no-untyped-def]
    ws, scam = case["ws"], case["scam"]
    run = _cpu(follow)
    r = benchmark.pedantic(run, args=(ws, [scam]), kwargs={"engine": "sweep"}, rounds=3,
                           warmup_rounds=1)  # fmt: skip
    assert r.options["engine"] == "sweep" and r.traced_total > 0
    case["sweep"] = benchmark.stats["mean"]
    case["sweep_cpu"] = sum(run.cpu[1:]) / max(len(run.cpu) - 1, 1)
    _say(SWEEP, benchmark.stats["mean"], run.cpu[1:])
    case["sweep_doc"] = follow_json(r)
    record(SWEEP, items=case["n"], seconds=benchmark.stats["mean"])


@pytest.mark.bench
def test_case_follow_local(benchmark, case: dict) -> None:  # type: ignore[no-untyped-def]
    ws, scam = case["ws"], case["scam"]
    run = _cpu(follow)
    r = benchmark.pedantic(run, args=(ws, [scam]), rounds=20, warmup_rounds=1)
    assert r.options["engine"] == "local", r.options["engine_reason"]
    local = benchmark.stats["mean"]
    _say(LOCAL, local, run.cpu[1:])
    record(LOCAL, items=case["n"], seconds=local, baseline=SWEEP)
    if "sweep" in case:
        cpu = sum(run.cpu[1:]) / max(len(run.cpu) - 1, 1)
        print(f"\ncase follow on {case['n']:,} transfers: local {local * 1e3:.1f} ms wall / "
              f"{cpu * 1e3:.1f} ms CPU, sweep {case['sweep'] * 1e3:.1f} ms wall / "
              f"{case['sweep_cpu'] * 1e3:.1f} ms CPU: {case['sweep'] / local:.1f}x faster by "
              f"wall, {case['sweep_cpu'] / max(cpu, 1e-9):.1f}x by CPU (target: warm <= 50 ms, "
              f">= 50x)")  # fmt: skip
        _same(follow_json(r), case["sweep_doc"])  # the same document


@pytest.fixture(scope="module")
def engine_case(case: dict) -> dict:
    """The follow's setup for the scam wallet (roles, the stablecoin group): what both engines
    take, so the figures below time the engines alone (no labels, rows or frames)."""
    setup = prepare(case["ws"], [case["scam"]], Selection(stream=False), model="haircut",
                    backward=False)  # fmt: skip
    group = asset_groups(setup.graph.tokens, asset_tokens(setup.graph, None))[0]
    return {"setup": setup, "tokens": group.token_ids}


@pytest.mark.bench
def test_case_trace_sweep(benchmark, case: dict, engine_case: dict) -> None:  # type: ignore[no-untyped-def]
    setup = engine_case["setup"]
    _, tainted, _ = benchmark.pedantic(
        trace_edges, args=(case["ws"], engine_case["tokens"], setup.role, setup.selection),
        rounds=3, warmup_rounds=1,
    )  # fmt: skip
    engine_case["sweep"] = (benchmark.stats["mean"], tainted["index"])
    record(SWEEP_T, items=case["n"], seconds=benchmark.stats["mean"])


@pytest.mark.bench
def test_case_trace_local(benchmark, case: dict, engine_case: dict) -> None:  # type: ignore[no-untyped-def]
    setup = engine_case["setup"]
    got = benchmark.pedantic(
        trace_local, args=(setup.workspace.graph(), engine_case["tokens"], setup.role,
                           setup.selection),
        kwargs={"model": "haircut", "backward": False, "entities": None, "ledger": False,
                "budget": True},
        rounds=20, warmup_rounds=1,
    )  # fmt: skip
    assert got is not None
    local = benchmark.stats["mean"]
    record(LOCAL_T, items=case["n"], seconds=local, baseline=SWEEP_T)
    if "sweep" in engine_case:
        sweep, index = engine_case["sweep"]
        assert (got[1]["index"] == index).all()
        print(f"\ncase trace on {case['n']:,} transfers (engine only): local {local * 1e3:.2f} "
              f"ms, sweep {sweep * 1e3:.1f} ms, {sweep / local:.0f}x faster")  # fmt: skip


@pytest.mark.bench
def test_case_follow_no_index(benchmark, case: dict) -> None:  # type: ignore[no-untyped-def]
    """The same follow with the case index hidden: path rows decoded from Parquet row groups,
    the source found by a join over every address (the stored balance pass still read)."""
    ws = Workspace.open(case["ws"].path)
    ws.graph()
    ws.case_index = lambda: None  # type: ignore[method-assign]
    run = _cpu(follow)
    r = benchmark.pedantic(run, args=(ws, [case["scam"]]), rounds=3, warmup_rounds=1)
    assert r.options["engine"] == "local"
    record(NO_INDEX, items=case["n"], seconds=benchmark.stats["mean"], baseline=LOCAL)
    _say(NO_INDEX, benchmark.stats["mean"], run.cpu[1:])


@pytest.mark.bench
def test_case_follow_cold_process(case: dict) -> None:
    """``tracer follow SCAM --format json`` in a new process (OS page cache warm: the
    workspace was just read), three runs; wall and CPU (user + sys of the child)."""
    walls, cpus = _cold([sys.executable, "-m", "tracer.cli", "follow", case["scam"],
                         "--workspace", str(case["ws"].path), "--format", "json", "-o",
                         os.devnull])  # fmt: skip
    record(COLD, items=case["n"], seconds=min(walls))
    print(f"\n{COLD} on {case['n']:,} transfers: wall {min(walls):.2f} s (runs "
          f"{', '.join(f'{w:.2f}' for w in walls)}), CPU {min(cpus):.2f} s "
          f"(load {os.getloadavg()[0]:.1f})")  # fmt: skip


BIG_COLD = "case follow, 200M transfers: cold `tracer follow` process"
BIG_WARM = "case follow, 200M transfers: local engine (warm)"
BIG_SWEEP = "case follow, 200M transfers: full sweep (warm, memory-mapped graph)"


def _cold(cmd: list[str], runs: int = 3) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + sys of the child, ``RUSAGE_CHILDREN``) of ``runs`` new processes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return walls, cpus


@pytest.mark.bench
@pytest.mark.skipif(not _big(), reason="opt-in: TRACER_BENCH_EDGES=200M")
def test_case_follow_200m() -> None:
    """The whole-chain case (issue 17: cold ``tracer follow`` <= 1.5 s, warm <= 0.1 s) on the
    200M-transfer synth workspace (40M addresses; generated into the cache when missing:
    hours). The wallet: the first synth scam wallet whose default follow stays local (most
    spread past 5% through busy wallets at this size and run the full sweep; the count is
    printed). The first question of the generation stores its balance-pass figures; the cold
    process then runs with the OS page cache warm. Baseline: the same follow with the full
    sweep over the memory-mapped graph, in the same run (its document must be equal).
    Run it alone (``flock /tmp/big.lock`` on a shared machine): the sweep maps ~9 GB."""
    root = synth_workspace(200_000_000)
    ws = Workspace.open(root)
    ws.graph()
    ws.build_case_index()
    ws = Workspace.open(root)  # a session that sees the index (lazy address dictionary)
    patterns = json.loads((root / "ground_truth.json").read_text())["patterns"]
    scam = first_local_scam(ws)
    assert scam is not None, "every synth scam wallet spreads past 5% at this size"
    spread = [p["scam"] for p in patterns].index(scam)  # the wallets before it spread
    first = follow(ws, [scam])  # stores the figures a new session reads
    assert first.options["engine"] == "local"
    walls, cpus = _cold([sys.executable, "-m", "tracer.cli", "follow", scam, "--workspace",
                         str(root), "--format", "json", "-o", os.devnull])  # fmt: skip
    load = os.getloadavg()[0]
    run = _cpu(follow)
    t = time.perf_counter()
    for _ in range(10):
        r = run(ws, [scam])
    warm = (time.perf_counter() - t) / 10
    run_s = _cpu(follow)
    t = time.perf_counter()
    s = run_s(ws, [scam], engine="sweep")
    sweep = time.perf_counter() - t
    _same(follow_json(r), follow_json(s))
    n = ws.graph().n_edges
    record(BIG_COLD, items=n, seconds=min(walls))
    record(BIG_SWEEP, items=n, seconds=sweep)
    record(BIG_WARM, items=n, seconds=warm, baseline=BIG_SWEEP)
    print(f"\n200M case follow ({n:,} transfers, {ws.graph().n_nodes:,} addresses; wallet "
          f"{scam}, the first of {len(patterns)} synth scam wallets that stays local: "
          f"{spread} before it spread past 5%)\n"
          f"  cold `tracer follow` process: wall {min(walls):.2f} s (runs "
          f"{', '.join(f'{w:.2f}' for w in walls)}), CPU {min(cpus):.2f} s (load {load:.1f}, "
          f"page cache warm)\n"
          f"  warm follow(): wall {warm * 1e3:.1f} ms, CPU {sum(run.cpu) / 10 * 1e3:.1f} ms\n"
          f"  full sweep, same follow: wall {sweep:.1f} s, CPU {run_s.cpu[0]:.1f} s "
          f"({sweep / warm:.0f}x by wall, {run_s.cpu[0] / (sum(run.cpu) / 10):.0f}x by CPU) "
          f"(load {os.getloadavg()[0]:.1f})")  # fmt: skip


TIHO_SWEEP = "case follow, one scam wallet, --model tiho: full sweep (warm)"
TIHO_LOCAL = "case follow, one scam wallet, --model tiho: local engine (warm)"
TIHO_FIRST = "case follow, one scam wallet, --model tiho: local, first question (tx numbers)"


@pytest.mark.bench
def test_case_follow_tiho_local_vs_sweep(case: dict) -> None:
    """TIHO (issue 17.1, h-tiho): the same scam-wallet follow under ``--model tiho`` on the
    local engine and on the full sweep, alternating in the same run (wall and CPU seconds).
    The first local question of a session also pays :func:`tx_numbers` (one pass over the
    ``tx_hash`` column, kept per graph); the sweep pays it on every run."""
    import time

    from tracer.analysis import local_colours

    ws, scam = case["ws"], case["scam"]
    local_colours._TX.clear()  # the first question of a session
    w0, c0 = time.perf_counter(), time.process_time()
    first = follow(ws, [scam], model="tiho")
    first_wall, first_cpu = time.perf_counter() - w0, time.process_time() - c0
    assert first.options["engine"] == "local", first.options["engine_reason"]
    runs: dict[str, list[tuple[float, float]]] = {"local": [], "sweep": []}
    docs = {}
    for _ in range(3):
        for engine in ("sweep", "local"):
            w0, c0 = time.perf_counter(), time.process_time()
            r = follow(ws, [scam], model="tiho", engine=engine)
            runs[engine].append((time.perf_counter() - w0, time.process_time() - c0))
            assert r.options["engine"] == engine
            docs[engine] = follow_json(r)
    _same(docs["local"], docs["sweep"])  # the same document
    for _ in range(7):  # more warm local rounds (each is short)
        w0, c0 = time.perf_counter(), time.process_time()
        follow(ws, [scam], model="tiho", engine="local")
        runs["local"].append((time.perf_counter() - w0, time.process_time() - c0))
    mean = {k: (sum(w for w, _ in v) / len(v), sum(c for _, c in v) / len(v))
            for k, v in runs.items()}  # fmt: skip
    record(TIHO_SWEEP, items=case["n"], seconds=mean["sweep"][0], cpu=mean["sweep"][1])
    record(TIHO_LOCAL, items=case["n"], seconds=mean["local"][0], cpu=mean["local"][1],
           baseline=TIHO_SWEEP)  # fmt: skip
    record(TIHO_FIRST, items=case["n"], seconds=first_wall, cpu=first_cpu, baseline=TIHO_SWEEP)
    print(f"\ntiho case follow on {case['n']:,} transfers: local {mean['local'][0] * 1e3:.1f} ms "
          f"wall / {mean['local'][1] * 1e3:.1f} ms CPU, sweep {mean['sweep'][0] * 1e3:.0f} ms "
          f"wall / {mean['sweep'][1] * 1e3:.0f} ms CPU, {mean['sweep'][0] / mean['local'][0]:.1f}x "
          f"faster; first local question {first_wall:.2f} s wall / {first_cpu:.2f} s CPU"
          )  # fmt: skip


LEVELS = "case follow, one scam wallet: local engine, edge log + appended delta level (warm)"


@pytest.fixture(scope="module")
def appended_case(case: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same synth workspace as a hard-linked copy (the cached one is never written) whose
    graph cache is the edge log (tracer.store.edge_log, written at first use) plus a delta
    level from an appended file of new blocks (the last 1% of the transfers again, later than
    every stored one, new hashes): what a live workspace's follow reads after an append."""
    import shutil

    import numpy as np

    from tracer.store import edge_log

    src = case["ws"].path
    dst = tmp_path_factory.mktemp("levels") / "ws"
    shutil.copytree(src, dst, copy_function=os.link)
    gen = Workspace.open(dst).manifest()["generation"]
    for f in (dst / f"g{gen}" / "graph").iterdir():
        f.unlink()  # only this copy's links: the cached files keep theirs
    Workspace.open(dst).graph()  # the edge log and base level, from the partitions
    append_new_blocks(dst, least=1000)
    ws = Workspace.open(dst)
    meta = edge_log.read_levels(dst / f"g{ws.manifest()['generation']}")
    assert meta is not None and meta["how"] == "appended" and meta["delta"] is not None, meta
    t0, c0 = time.perf_counter(), time.process_time()
    g = ws.graph()
    print(f"\nfirst graph() after the append (base + delta levels, not merged: {g.n_edges:,} "
          f"edges): {time.perf_counter() - t0:.3f} s wall, {time.process_time() - c0:.3f} s "
          f"CPU")  # fmt: skip
    assert not g.merged
    t0, c0 = time.perf_counter(), time.process_time()
    assert np.all(np.diff(g.out_offsets) >= 0)  # what a consumer of the one CSR pays once
    print(f"merging the levels on first read of the one-level CSR: "
          f"{time.perf_counter() - t0:.2f} s wall, {time.process_time() - c0:.2f} s CPU")
    ws.build_case_index()
    return {"ws": Workspace.open(dst)}  # a session whose graph is not merged


COLD_LEVELS = "case follow, one scam wallet: cold `tracer follow` process after a 1% append"


@pytest.mark.bench
def test_cold_follow_after_an_append(case: dict, appended_case: dict) -> None:
    """Fresh ``tracer follow`` processes on the appended workspace (base + 1% delta) and on the
    single-level one, alternating: the local engine reads the two levels without merging them
    (tracer.store.graph_cache.CsrLevels), so the two should cost the same. Measured on the 10M
    synth (2 cores, load 0.5-0.8): main (levels merged per process) 0.72 s median (1.12 s
    when alternating with other processes) against 0.59 s on one level; h-levels 0.60 s and
    0.59 s (medians of 11, /tmp/levels-bench/ab.sh in the h-levels note)."""
    walls: dict[str, list[float]] = {"delta": [], "one": []}
    for _ in range(5):
        for key, ws in (("delta", appended_case["ws"]), ("one", case["ws"])):
            w, _ = _cold([sys.executable, "-m", "tracer.cli", "follow", case["scam"],
                          "--workspace", str(ws.path), "--format", "json", "-o", os.devnull],
                         runs=1)  # fmt: skip
            walls[key] += w
    med = {k: sorted(v)[len(v) // 2] for k, v in walls.items()}
    record(COLD_LEVELS, items=case["n"], seconds=med["delta"], baseline=COLD)
    print(f"\n{COLD_LEVELS} on {case['n']:,} transfers: median {med['delta']:.2f} s (runs "
          f"{', '.join(f'{w:.2f}' for w in walls['delta'])}); one level {med['one']:.2f} s "
          f"(load {os.getloadavg()[0]:.1f})")  # fmt: skip


@pytest.mark.bench
def test_case_follow_local_with_levels(benchmark, case: dict, appended_case: dict) -> None:  # type: ignore[no-untyped-def]
    """The warm local follow on the edge log + delta (``appended_case``), against the same
    follow on the cached workspace (older one-file-per-array layout) in the same run,
    alternating: the kernels read the same arrays, so the figures should agree."""
    ws_b, ws_a, scam = appended_case["ws"], case["ws"], case["scam"]
    a, b = _cpu(follow), _cpu(follow)
    a(ws_a, [scam]), b(ws_b, [scam])  # warm both (the balance pass, buffers)
    a.cpu.clear(), b.cpu.clear()
    walls: dict[str, list[float]] = {"a": [], "b": []}
    for _ in range(20):
        for key, fn, ws in (("a", a, ws_a), ("b", b, ws_b)):
            t0 = time.perf_counter()
            r = fn(ws, [scam])
            walls[key].append(time.perf_counter() - t0)
            assert r.options["engine"] == "local", r.options["engine_reason"]
    benchmark.pedantic(b, args=(ws_b, [scam]), rounds=5, warmup_rounds=0)
    med = {k: sorted(v)[len(v) // 2] for k, v in walls.items()}
    cpu = {k: sorted(fn.cpu[:20])[10] for k, fn in (("a", a), ("b", b))}
    record(LEVELS, items=case["n"], seconds=med["b"], baseline=LOCAL)
    print(f"\nwarm local follow, median of 20 alternating: one-file layout {med['a'] * 1e3:.2f} ms "
          f"wall / {cpu['a'] * 1e3:.2f} ms CPU; edge log + delta {med['b'] * 1e3:.2f} ms wall / "
          f"{cpu['b'] * 1e3:.2f} ms CPU (load {os.getloadavg()[0]:.1f})")  # fmt: skip
