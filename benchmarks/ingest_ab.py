"""One canonical Parquet ingest into an empty workspace, in a fresh process: wall, CPU, peak RSS.

``python -m benchmarks.ingest_ab index|noindex|copy FILE [--json]``:

* ``index``: ``Workspace.ingest`` of FILE into a new, empty workspace (everything an ingest
  writes, the case index included);
* ``noindex``: the same without the case index (``tracer/store/case_index.py``), to measure
  what it costs at ingest;
* ``copy``: the least any ingest does, pyarrow reading FILE and writing it back as zstd
  Parquet (no checks, no numbering, no ids): the baseline.

Printed: wall and CPU seconds (user + system, all threads; the system part apart) and minor
page faults (``getrusage``: a first touch of a fresh page, most of the system time) of the
ingest call alone, rows/s, the process's peak RSS (``VmHWM``) and the load average;
``--json`` prints them as one JSON line (what ``benchmarks/test_bench_ingest.py`` reads).
Why a fresh process: the old in-process benchmark (timed right after generating the 10M-row
fixture and the baseline copy in the same process, without a numba warm-up) reported 16.9 s
where a fresh process took 10.5 s; the ingest's CPU is the same either way (measured), the
rest came from around it (see the h-ingest4 note).
The script imports ``tracer`` from ``PYTHONPATH``, so the same file measures an older tree
(``PYTHONPATH=<tree> python benchmarks/ingest_ab.py ...``).
Make FILE with ``benchmarks.workspace_case.canonical_parquet(10_000_000, FILE, seed=7)``.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mib() -> float:
    """This process's high-water resident set (``VmHWM``), MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(mode: str, src: Path) -> dict[str, float]:
    """Run one ``mode`` on ``src`` in this process; returns its figures."""
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(src).metadata.num_rows
    root = Path(tempfile.mkdtemp())
    try:
        if mode == "copy":
            import pyarrow as pa

            # the Arrow allocator tracer uses (tracer/sources/base.py: mimalloc's page faults
            # cost the copy 2-3x the CPU), so the floor measures the codec, not the allocator
            if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
                pa.set_memory_pool(pa.system_memory_pool())
            r0, c0, t0 = _faults(), os.times(), time.perf_counter()
            pq.write_table(pq.read_table(src), root / "copy.parquet", compression="zstd")
        else:
            import tracer.store.append as ap
            from tracer.store.workspace import Workspace

            if mode == "noindex":
                ap.index_parts = lambda *a, **k: None  # type: ignore[assignment]
                ap.write_case_index = lambda *a, **k: None  # type: ignore[assignment]
            elif mode != "index":
                raise SystemExit(f"unknown mode {mode!r}: index, noindex or copy")
            ws = Workspace.open(root / "ws", create=True)
            r0, c0, t0 = _faults(), os.times(), time.perf_counter()
            summary = ws.ingest([src])
            if summary.total("loaded") != rows:
                raise SystemExit(f"loaded {summary.total('loaded')} of {rows} rows")
        c1, wall, r1 = os.times(), time.perf_counter() - t0, _faults()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    cpu = c1.user - c0.user + c1.system - c0.system
    return {"rows": rows, "wall": wall, "cpu": cpu, "sys": c1.system - c0.system,
            "minflt": r1 - r0, "rss": peak_rss_mib(), "load": os.getloadavg()[0]}  # fmt: skip


def _faults() -> int:
    """Minor page faults of this process so far (all threads)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def main(argv: list[str]) -> None:
    mode, src = argv[0], Path(argv[1])
    fig = measure(mode, src)
    if "--json" in argv[2:]:
        print(json.dumps(fig))
    else:
        print(f"{mode}: wall {fig['wall']:.1f} s, CPU {fig['cpu']:.1f} s (sys {fig['sys']:.1f}), "
              f"{fig['minflt'] / 1e6:.2f}M minor faults, {fig['rows'] / fig['wall'] / 1e6:.2f}M "
              f"rows/s, peak {fig['rss']:.0f} MiB, load {fig['load']:.1f}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
