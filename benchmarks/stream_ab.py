"""The streamed sweep of this tree beside a baseline tree's, alternating, in one command.

``python -m benchmarks.stream_ab WORKSPACE --baseline /work/main [--rounds 2]``
``[--lock /tmp/big.lock]``

Each round runs :mod:`benchmarks.stream_sweep` (this tree's script, which also runs on the tree
before h-prep) in a fresh process, first with the baseline's code (``PYTHONPATH``), then with
this tree's, so both see the same machine state in turns; each run holds ``--lock`` (an
``flock``: whole-chain runs are heavy on disk and memory). Prints one JSON line per run and a
summary line: CPU seconds and transfers per CPU second of each side, and their ratios. On a
shared machine CPU seconds are the comparable figure; wall time counts the other processes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.tree_ab import alternate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workspace")
    p.add_argument("--baseline", required=True, help="checkout of the code to compare with")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--model", default="haircut")
    p.add_argument("--lock", default=None, help="flock this file around each run")
    args = p.parse_args()
    runs = alternate(Path(args.baseline), "stream_sweep.py",
                     [args.workspace, "--mode", "stream", "--model", args.model], args.rounds,
                     args.lock, "stream-ab")  # fmt: skip
    summary: dict[str, Any] = {}
    for side, rs in runs.items():
        summary[side] = {"cpu_seconds": [round(r["cpu_seconds"], 2) for r in rs],
                         "transfers_per_cpu_s": [round(r["transfers_per_cpu_s"]) for r in rs],
                         "peak_rss_mib": [round(r["peak_rss_mib"]) for r in rs]}  # fmt: skip
    pairs = list(zip(runs["baseline"], runs["this"], strict=True))
    summary["cpu_ratio"] = [round(b["cpu_seconds"] / a["cpu_seconds"], 3) for a, b in pairs]
    summary["same_result"] = all(a["traced"] == b["traced"]
                                 and a["kept_for_paths"] == b["kept_for_paths"]
                                 for a, b in pairs)  # fmt: skip
    print(json.dumps({"summary": summary}))


if __name__ == "__main__":
    main()
