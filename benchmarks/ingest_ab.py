"""One canonical Parquet ingest into an empty workspace, in a fresh process: wall and CPU.

``python -m benchmarks.ingest_ab index|noindex FILE``; ``noindex`` skips writing the case
index (``tracer/store/case_index.py``) to measure what it costs at ingest. Make FILE with
``benchmarks.workspace_case.canonical_parquet(10_000_000, FILE, seed=7)``. Run the two modes in
turns (and the same script from an older tree) to compare them in the same window.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(mode: str, src: Path) -> None:
    import tracer.store.append as ap
    from tracer.store.workspace import Workspace

    if mode == "noindex":
        ap.index_parts = lambda *a, **k: None  # type: ignore[assignment]
        ap.write_case_index = lambda *a, **k: None  # type: ignore[assignment]
    root = Path(tempfile.mkdtemp())
    try:
        ws = Workspace.open(root / "ws", create=True)
        c0, t0 = os.times(), time.perf_counter()
        ws.ingest([src])
        c1, wall = os.times(), time.perf_counter() - t0
        cpu = c1.user - c0.user + c1.system - c0.system
        print(f"{mode}: wall {wall:.1f} s, CPU {cpu:.1f} s, load {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
