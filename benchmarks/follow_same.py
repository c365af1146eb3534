"""Whether two trees give the same ``follow`` output, byte for byte, on the synth scam wallets.

Why: the rows after the engine (row ids, address frames, strongest paths, the state reset) are
rebuilt for speed, and their contract is the JSON document and the table an investigator
reads. This runs ``follow`` on every scam wallet of the synth workspace under several
requests (poison and the default haircut with a hop limit, haircut without one, FIFO lots,
the ledger, the backward direction, entities), one wallet after the other in one process as a
session asks them (so each question starts on the buffers the previous one left), and writes
per question the JSON document as ``follow --format json`` prints it, the table as the
terminal shows it, every row frame as CSV (the columns the JSON leaves out too: ids, sizes,
labels) and the ledger's CSV. ``compare`` runs that in a baseline tree and in this one (each
its own process and numba cache) and reports the questions whose output differs. Each tree
runs on its own fresh copy of the cached workspace (``TRACER_BENCH_CACHE`` pointed at it): a
follow stores derived passes in its workspace (the unknown-prior-funds pass of a new
direction or entity lift), which would change the second tree's ``engine_reason`` and would
write into the shared bench cache.

Run::

    python -m benchmarks.follow_same compare /tmp/base-tree [--edges 1M] [--lock /tmp/big.lock]
    python -m benchmarks.follow_same dump OUT.jsonl [--edges 1M]   # one tree (PYTHONPATH)
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent  # this tree

#: (name, follow keyword arguments, max_hops): the requests each wallet is followed under
REQUESTS: list[tuple[str, dict[str, Any], int | None]] = [
    ("poison-h6", {"model": "poison"}, 6),
    ("poison-h6-ledger", {"model": "poison", "ledger": True}, 6),
    ("haircut-h6", {}, 6),
    ("haircut", {}, None),
    ("haircut-h6-ledger", {"ledger": True}, 6),
    ("fifo-h6", {"model": "fifo"}, 6),
    ("poison-h6-backward", {"model": "poison", "direction": "backward"}, 6),
    ("poison-h6-entities", {"model": "poison", "entities": True}, 6),
]


def _frames_csv(result: Any) -> str:
    """Every row frame of ``result`` as CSV (object columns as their JSON)."""
    import polars as pl

    from tracer.output.render import _json_default

    out = []
    for name in ("reached", "through", "held", "frontier", "by_source"):
        frame = getattr(result, name, None)
        if frame is None:
            continue
        obj = [c for c, t in frame.schema.items() if t == pl.Object]
        flat = frame.with_columns(
            pl.Series(c, [json.dumps(v, default=_json_default) for v in frame[c].to_list()],
                      pl.String) for c in obj
        ) if obj else frame  # fmt: skip
        out.append(f"## {name} {frame.schema}\n{flat.write_csv()}")
    return "\n".join(out)


def _table(result: Any) -> str:
    """The terminal table as a fixed-width console prints it."""
    from rich.console import Console

    from tracer.output.render import follow_table

    console = Console(file=io.StringIO(), width=160, record=True, color_system=None)
    follow_table(result, console)
    return console.export_text()


def dump(out: Path, edges: int) -> None:
    """Every question's output texts, one JSON line per question (this process's tree)."""
    from benchmarks.conftest import synth_workspace
    from tracer.analysis.follow import follow
    from tracer.graph.spec import Selection
    from tracer.output.follow_json import follow_json
    from tracer.output.render import _json_default
    from tracer.store.workspace import Workspace

    root = synth_workspace(edges)
    ws = Workspace.open(root)
    ws.graph()
    ws.build_case_index()
    scams = [p["scam"] for p in json.loads((root / "ground_truth.json").read_text())["patterns"]]
    t0 = time.perf_counter()
    with out.open("w") as fh:
        for name, kwargs, hops in REQUESTS:
            sel = Selection(max_hops=hops, stream=False)
            for s in scams:
                r = follow(ws, [s], sel, **kwargs)
                texts = {
                    "json": json.dumps(follow_json(r), indent=2, default=_json_default) + "\n",
                    "table": _table(r),
                    "frames": _frames_csv(r),
                    "ledger": "" if r.ledger is None else r.ledger.write_csv(),
                }
                fh.write(json.dumps({"request": name, "wallet": s, **texts}) + "\n")
    print(json.dumps({"questions": len(REQUESTS) * len(scams),
                      "seconds": round(time.perf_counter() - t0, 1)}))  # fmt: skip


def _fresh_cache(edges: int, where: Path) -> Path:
    """A bench cache folder holding a fresh copy of the cached synth workspace."""
    from benchmarks.conftest import synth_workspace

    shared = synth_workspace(edges)
    shutil.rmtree(where, ignore_errors=True)
    shutil.copytree(shared, where / shared.name)
    return where


def _run_dump(tree: Path, out: Path, edges: str, cache: Path, lock: str | None) -> None:
    from benchmarks.tree_ab import held

    env = {**os.environ, "PYTHONPATH": str(tree), "TRACER_BENCH_CACHE": str(cache),
           "NUMBA_CACHE_DIR": f"/tmp/numba-same-{tree.name}"}  # fmt: skip
    with held(lock):
        subprocess.run([sys.executable, str(HERE / "benchmarks" / "follow_same.py"), "dump",
                        str(out), "--edges", edges], cwd=tree, env=env, check=True)  # fmt: skip


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def compare(baseline: Path, edges: str, work: Path, lock: str | None = None) -> int:
    """Dump in both trees, then the questions whose texts differ (0: none)."""
    work.mkdir(parents=True, exist_ok=True)
    base_out, this_out = work / "baseline.jsonl", work / "this.jsonl"
    n = _edges(edges)
    _run_dump(baseline.resolve(), base_out, edges, _fresh_cache(n, work / "cache-baseline"),
              lock)
    _run_dump(HERE, this_out, edges, _fresh_cache(n, work / "cache-this"), lock)
    base = [json.loads(x) for x in base_out.read_text().splitlines()]
    this = [json.loads(x) for x in this_out.read_text().splitlines()]
    assert len(base) == len(this), (len(base), len(this))
    differ = 0
    sizes = {k: 0 for k in ("json", "table", "frames", "ledger")}
    for b, t in zip(base, this, strict=True):
        assert (b["request"], b["wallet"]) == (t["request"], t["wallet"])
        for k in sizes:
            sizes[k] += len(t[k])
            if b[k] != t[k]:
                differ += 1
                print(f"DIFFERS {b['request']} {b['wallet']} {k}: {_digest(b[k])} != "
                      f"{_digest(t[k])}")  # fmt: skip
    print(json.dumps({"questions": len(this), "differing_texts": differ,
                      "bytes_compared": sizes}))  # fmt: skip
    return 1 if differ else 0


def _edges(e: str) -> int:
    return int(float(e.rstrip("M")) * 1_000_000) if e.endswith("M") else int(e)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("dump", "compare"))
    ap.add_argument("where", help="dump: the output file; compare: the baseline tree")
    ap.add_argument("--edges", default="1M")
    ap.add_argument("--work", default="/tmp/follow-same", help="compare: where the dumps go")
    ap.add_argument("--lock", default=None, help="compare: flock this file around each dump")
    args = ap.parse_args()
    if args.what == "dump":
        dump(Path(args.where), _edges(args.edges))
    else:
        sys.exit(compare(Path(args.where), args.edges, Path(args.work), args.lock))


if __name__ == "__main__":
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    main()
