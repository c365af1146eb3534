"""A case follow's stages (:mod:`benchmarks.peer_stages`) on this tree beside a baseline tree,
turn about (:mod:`benchmarks.tree_ab`), for the spread and the contained scam wallets.

Each round runs the baseline's then this tree's ``peer_stages`` in fresh processes (the lock
held per run), for each wallet set; the figures printed are each side's median over the rounds
(CPU ms per follow, inclusive stages) and the ratio of the medians.

Run::

    python -m benchmarks.stages_ab /tmp/base-tree [--rounds 3] [--reps 8] [--lock /tmp/big.lock]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from benchmarks.tree_ab import alternate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("baseline", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--lock", default="/tmp/big.lock")
    ap.add_argument("--sets", default="spread,contained")
    args = ap.parse_args()
    for which in args.sets.split(","):
        extra = ["--contained"] if which == "contained" else []
        runs = alternate(args.baseline, "peer_stages.py", ["--reps", str(args.reps), *extra],
                         args.rounds, args.lock, "stages")  # fmt: skip
        keys = list(dict.fromkeys(k for side in runs.values() for r in side for k in r))
        print(f"== {which} wallets: median of {args.rounds} rounds, ms per follow")
        print(f"  {'stage':36s} {'baseline':>9s} {'this':>9s} {'ratio':>6s}")
        summary: dict[str, dict[str, float | None]] = {}
        for k in keys:
            med = {side: (statistics.median(r[k] for r in rs) if all(k in r for r in rs) else None)
                   for side, rs in runs.items()}  # fmt: skip
            summary[k] = med
            b, t = med["baseline"], med["this"]
            ratio = f"{t / b:6.2f}" if b and t is not None else "     -"
            fmt = lambda v: f"{v:9.3f}" if v is not None else "        -"  # noqa: E731
            print(f"  {k:36s} {fmt(b)} {fmt(t)} {ratio}")
        print(json.dumps({"set": which, "median": summary}))


if __name__ == "__main__":
    main()
