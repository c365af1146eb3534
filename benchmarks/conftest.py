"""Benchmark fixtures and the throughput table printed after a run.

Run: ``python -m pytest -m bench benchmarks/`` (sizes via ``TRACER_BENCH_EDGES``, default 10M).
Each benchmark stores ``transfers_per_s`` (or ``rows_per_s``) in ``extra_info`` and names the
baseline it is compared to in the same run; the table below prints both and their ratio.
"""

from __future__ import annotations

import os
import resource

import pytest

RESULTS: dict[str, dict] = {}


def bench_edges() -> int:
    return int(os.environ.get("TRACER_BENCH_EDGES", 10_000_000))


def record(name: str, *, items: int, seconds: float, unit: str = "transfers/s", **extra) -> float:
    rate = items / seconds
    RESULTS[name] = {"rate": rate, "unit": unit, "items": items, "seconds": seconds, **extra}
    return rate


@pytest.fixture(scope="session")
def edges() -> dict:
    from benchmarks.synthetic import transfer_arrays

    return transfer_arrays(bench_edges())


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("tracer throughput")
    tr.write_line(f"{'benchmark':44} {'items':>12} {'rate':>16}  {'vs baseline':>12}")
    for name, r in RESULTS.items():
        base = r.get("baseline")
        ratio = ""
        if base and base in RESULTS:
            ratio = f"{r['rate'] / RESULTS[base]['rate']:,.1f}x {base}"
        tr.write_line(f"{name:44} {r['items']:>12,} {r['rate']:>14,.0f} {r['unit']:<12} {ratio}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tr.write_line(f"peak RSS of the benchmark process: {peak:,.0f} MiB")
