"""Benchmark fixtures and the throughput table printed after a run.

Run: ``python -m pytest -m bench benchmarks/`` (sizes via ``TRACER_BENCH_EDGES``, default 10M).
Each benchmark stores ``transfers_per_s`` (or ``rows_per_s``) in ``extra_info`` and names the
baseline it is compared to in the same run; the table below prints both and their ratio.
"""

from __future__ import annotations

import os
import resource
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

RESULTS: dict[str, dict] = {}


#: The suffixes :func:`parse_size` reads (either case).
SIZE_SUFFIXES = {"K": 1_000, "M": 1_000_000, "B": 1_000_000_000}


def parse_size(text: str) -> int:
    """A benchmark size: a whole number, or one with a K, M or B suffix (either case):
    ``200M``, ``2.5M``, ``500k``, ``1B``, ``1_000_000``.

    Why: the benchmarks read sizes from the environment and their command lines, and each once
    parsed them its own way (a table of 1M/10M/100M here, ``rstrip("M")`` in the scripts), so
    ``200M`` or ``2.5M`` worked in one place and failed (or meant something else) in another.
    Decimals are exact (``decimal``, not float) and must name a whole count.
    """
    from decimal import Decimal, InvalidOperation

    raw = text.strip().replace("_", "")
    scale = SIZE_SUFFIXES.get(raw[-1:].upper(), 1)
    digits = raw[:-1] if scale != 1 else raw
    try:
        value = Decimal(digits) * scale if digits[:1].isdigit() else None
    except InvalidOperation:
        value = None
    if value is None or value != value.to_integral_value() or value < 1:
        raise ValueError(f"size {text!r}: a positive whole number, optionally with a K, M or B "
                         "suffix (200M, 2.5M, 500k, 1_000_000)")  # fmt: skip
    return int(value)


def bench_edges() -> int:
    """Benchmark size: ``TRACER_BENCH_EDGES`` (default 10M; :func:`parse_size`)."""
    return parse_size(os.environ.get("TRACER_BENCH_EDGES", "10M"))


def bench_logs() -> int:
    """Event logs decoded by the conversion benchmarks: ``TRACER_BENCH_LOGS`` (default 1M)."""
    return parse_size(os.environ.get("TRACER_BENCH_LOGS", "1M"))


def record(name: str, *, items: int, seconds: float, unit: str = "transfers/s", **extra) -> float:
    rate = items / seconds
    RESULTS[name] = {"rate": rate, "unit": unit, "items": items, "seconds": seconds, **extra}
    return rate


def in_turns(new: Callable[[], Any], old: Callable[[], Any],
             rounds: int) -> tuple[float, float, Any, Any]:  # fmt: skip
    """Best time of each over ``rounds`` alternating runs after one warm-up (compile) each:
    turn about, so both sides see the same machine state. Returns (new s, old s, new's
    result, old's result)."""
    import time

    got_new, got_old = new(), old()
    best_new = best_old = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        old()
        t1 = time.perf_counter()
        new()
        t2 = time.perf_counter()
        best_old, best_new = min(best_old, t1 - t0), min(best_new, t2 - t1)
    return best_new, best_old, got_new, got_old


def medians(runs: dict[str, list[dict]], fields: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per method, the median of each field over its rounds (a field a round lacks: NaN)."""
    import statistics

    return {k: {f: statistics.median(r.get(f, float("nan")) for r in v) for f in fields}
            for k, v in runs.items()}  # fmt: skip


def pair_ratios(a: list[dict], b: list[dict], fields: tuple[str, ...]) -> dict[str, float]:
    """Median over rounds of ``a / b`` per field, round ``i`` of one against round ``i`` of the
    other (runs made turn about: each pair saw the same load)."""
    import statistics

    pairs = list(zip(a, b, strict=True))
    return {f: statistics.median(x[f] / y[f] for x, y in pairs) for f in fields}


def synth_workspace(n_edges: int, seed: int = 1) -> Path:
    """A ``tracer synth`` workspace of ``n_edges`` transfers, generated once and cached in
    ``TRACER_BENCH_CACHE`` (default ``~/.cache/tracer-bench``): same size and seed, same data."""
    from tracer.store.synth import SynthSpec, synth

    cache = Path(os.environ.get("TRACER_BENCH_CACHE", Path.home() / ".cache" / "tracer-bench"))
    root = cache / f"synth-{n_edges}-s{seed}"
    if not (root / "ground_truth.json").exists():
        shutil.rmtree(root, ignore_errors=True)
        synth(SynthSpec(transfers=n_edges, addresses=max(n_edges // 5, 10_000), seed=seed), root)
    return root


@pytest.fixture(scope="session")
def synth_case() -> dict:
    """The synthetic workspace's edge arrays (read once), its labelled services as ``stop``
    wallets (sinks; OTC desks pass through, as in ``follow``), and its path."""
    from tracer.graph.selection import DEFAULT_THROUGH, node_labels
    from tracer.store.partitions import EDGE_COLUMNS, edge_arrays
    from tracer.store.workspace import Workspace

    root = synth_workspace(bench_edges())
    ws = Workspace.open(root)
    arrays = edge_arrays(ws.parts().read_all(EDGE_COLUMNS))  # type: ignore[union-attr]
    nodes = ws.nodes()
    lab = node_labels(nodes, ws.labels())
    sinks = lab.filter(~pl.col("category").is_in(list(DEFAULT_THROUGH)))["id"].to_numpy()
    stop = np.zeros(nodes.n_nodes, dtype=bool)
    stop[sinks] = True
    return {**arrays, "n_nodes": nodes.n_nodes, "stop": stop, "path": root}


@pytest.fixture(scope="session")
def edges() -> dict:
    from benchmarks.synthetic import transfer_arrays

    return transfer_arrays(bench_edges())


def machine() -> str:
    """One line naming the machine the figures come from (for the README table)."""
    import platform

    import numba

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB; Python {platform.python_version()}, "
            f"numba {numba.__version__}, polars {pl.__version__}")  # fmt: skip


def table() -> list[str]:
    """The results as Markdown rows: benchmark, items, rate, baseline ratio, peak RSS."""
    rows = ["| benchmark | items | rate | vs baseline | peak RSS |", "|---|---:|---:|---|---:|"]
    for name, r in RESULTS.items():
        base = r.get("baseline")
        ratio = ""
        if base and base in RESULTS:
            ratio = f"{r['rate'] / RESULTS[base]['rate']:,.1f}× {base}"
        rss = f"{r['peak_rss_mib']:,.0f} MiB" if "peak_rss_mib" in r else ""
        rows.append(f"| {name} | {r['items']:,} | {r['rate']:,.0f} {r['unit']} | {ratio} | {rss} |")
    return rows


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("tracer throughput")
    tr.write_line(f"machine: {machine()}")
    for line in table():
        tr.write_line(line)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tr.write_line(f"peak RSS of the benchmark process: {peak:,.0f} MiB")
    target = os.environ.get("TRACER_BENCH_TABLE")
    if target:  # `tracer bench -o FILE`: the same table as Markdown
        Path(target).write_text(
            f"Machine: {machine()}. Size: {bench_edges():,} transfers.\n\n"
            + "\n".join(table())
            + f"\n\nPeak RSS of the benchmark process: {peak:,.0f} MiB\n",
            encoding="utf-8",
        )
