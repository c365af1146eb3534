"""Run one benchmark script on two checkouts in turn, alternating, each run a fresh process.

Why alternate: on a shared 2-core VM the machine's state drifts over minutes (other processes,
page cache, thermal), so a baseline run an hour earlier is not a baseline. Running the two
trees turn about, round after round, lets both see the same drift; the figures to compare are
the pairs of one round (CPU seconds above all: wall time counts the other processes).

The script is always *this* tree's file; ``PYTHONPATH`` (and the working folder) pick whose
``tracer`` / ``benchmarks`` code it imports, so one script measures both sides the same way
(a script that wraps kernel functions must look them up by name, tolerating the baseline's
missing ones). Each side gets its own numba cache folder, so neither loads the other's
machine code. The script prints its result as the last line of stdout, one JSON object.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent  # this tree


@contextmanager
def held(lock: str | None) -> Iterator[None]:
    """``flock`` on ``lock`` for the duration of one run (None: no lock)."""
    if lock is None:
        yield
        return
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_in(tree: Path, script: str, args: Sequence[str], lock: str | None,
           tag: str) -> dict[str, Any]:  # fmt: skip
    """One run of this tree's ``benchmarks/<script>`` with ``tree``'s code, in a fresh process;
    its last stdout line, parsed."""
    env = {**os.environ, "PYTHONPATH": str(tree),
           "NUMBA_CACHE_DIR": f"/tmp/numba-{tag}-{tree.name}"}  # fmt: skip
    cmd = [sys.executable, str(HERE / "benchmarks" / script), *args]
    with held(lock):
        out = subprocess.run(cmd, cwd=tree, env=env, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def alternate(baseline: Path, script: str, args: Sequence[str], rounds: int,
              lock: str | None, tag: str) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """``rounds`` rounds of the baseline's run then this tree's; each run printed as a JSON
    line as it ends (``side``: baseline / this)."""
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "this": []}
    for _ in range(rounds):
        for side, tree in (("baseline", baseline.resolve()), ("this", HERE)):
            r = run_in(tree, script, args, lock, tag)
            runs[side].append(r)
            print(json.dumps({"side": side, **r}), flush=True)
    return runs
