"""One step of "ingest, then the first follow" in a fresh process: wall, CPU, peak RSS.

``python -m benchmarks.precompute_ab MODE WS [ARG] [--json]``:

* ``graph WS``: build the graph cache of a generation that has none (what ``tracer synth``
  now adds before its precompute);
* ``precompute WS [THREADS]``: :func:`tracer.analysis.precompute.precompute_case` (what
  ``tracer ingest``/``synth``/``ingest-rpc`` now run after the commit; default 2 threads);
* ``follow WS ADDRESS`` / ``source WS ADDRESS``: the first question of a new session, default
  options (the local engine; prints its ``engine_reason``): with nothing stored it runs the
  balance pass itself, after a precompute it reads it;
* ``merge WS``: only the first ``Workspace.graph()`` of a session (after an append: the base
  CSR and its delta level merged in memory);
* ``ingest WS FILE``: ``Workspace.ingest`` of FILE (an append of new blocks), nothing after it.

Printed: wall and CPU seconds (user + system, all threads) of the step alone (imports and
numba's kernel loads before it are not counted: the same for both ways), the process's peak
RSS (``VmHWM``) and the load average. ``follow``/``source`` import only what the tree at
``PYTHONPATH`` has, so the same script measures an older tree: run it by its path
(``PYTHONPATH=<tree> python benchmarks/precompute_ab.py ...``), as
``benchmarks/test_bench_precompute.py`` does.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from benchmarks.ingest_ab import peak_rss_mib  # the tree at PYTHONPATH has it too


def measure(mode: str, ws_dir: Path, arg: str | None) -> dict[str, object]:
    from tracer.store.workspace import Workspace

    ws = Workspace.open(ws_dir)
    extra: dict[str, object] = {}
    if mode in ("follow", "source"):
        from tracer.analysis.follow import follow

        assert arg is not None
        c0, t0 = os.times(), time.perf_counter()
        r = follow(ws, [arg], direction="backward" if mode == "source" else "forward")
        wall = time.perf_counter() - t0
        extra = {"engine": r.options.get("engine"), "engine_reason": r.options.get("engine_reason")}
    elif mode == "precompute":
        from tracer.analysis.precompute import precompute_case

        c0, t0 = os.times(), time.perf_counter()
        done = precompute_case(ws, build_graph=True, threads=int(arg or 2))
        wall = time.perf_counter() - t0
        extra = {"selections": done.selections}
    elif mode == "ingest":
        assert arg is not None
        c0, t0 = os.times(), time.perf_counter()
        ws.ingest([arg])
        wall = time.perf_counter() - t0
    elif mode in ("graph", "merge"):
        c0, t0 = os.times(), time.perf_counter()
        ws.graph()
        wall = time.perf_counter() - t0
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    c1 = os.times()
    return {"mode": mode, "wall": wall, "cpu": (c1.user - c0.user) + (c1.system - c0.system),
            "rss": peak_rss_mib(), "load": os.getloadavg()[0], **extra}  # fmt: skip


def main(argv: list[str]) -> None:
    as_json = "--json" in argv
    args = [a for a in argv if a != "--json"]
    got = measure(args[0], Path(args[1]), args[2] if len(args) > 2 else None)
    if as_json:
        print(json.dumps(got))
    else:
        print(", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in got.items()))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
