"""tracer.cli.app.one_blas_thread: the CLI starts numpy's OpenBLAS with one thread (tracer calls
no BLAS; its threads only spin while a cold command starts), unless the user chose a number."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_cold_start import SAMPLE_FOLLOW

ROOT = Path(__file__).resolve().parents[2]

#: ``tracer ARGS`` through the real entry point; at exit (atexit: the CLI ends with os._exit):
#: the variable as the process saw it and the threads OpenBLAS says it runs (None: no OpenBLAS
#: library found among the mapped files, or none of its known entry points).
PROBE = """
import atexit, ctypes, json, os, runpy, sys
out = sys.argv.pop(1)
sys.argv[0] = "tracer"

def blas_threads():
    paths = {line.split()[-1] for line in open("/proc/self/maps")
             if "openblas" in line.lower() and line.split()[-1].startswith("/")}
    for path in sorted(paths):
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                     "openblas_get_num_threads"):
            fn = getattr(lib, name, None)
            if fn is not None:
                return fn()
    return None

@atexit.register
def dump():
    with open(out, "w") as fh:
        json.dump({"blas": os.environ.get("OPENBLAS_NUM_THREADS"), "threads": blas_threads()},
                  fh)

runpy.run_module("tracer.cli", run_name="__main__", alter_sys=True)
"""


def run(tmp_path: Path, **env: str) -> dict:
    out = tmp_path / "seen.json"
    full = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    full.update(PYTHONPATH=str(ROOT), **env)
    proc = subprocess.run([sys.executable, "-c", PROBE, str(out), *SAMPLE_FOLLOW], cwd=ROOT,
                          env=full, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"model": "haircut"' in proc.stdout
    return json.loads(out.read_text())


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="finds OpenBLAS in /proc")
def test_one_blas_thread_unless_the_user_chose(tmp_path: Path) -> None:
    ours = run(tmp_path)
    if ours["threads"] is None:
        pytest.skip("numpy's BLAS is not an OpenBLAS this probe can ask")
    assert ours["blas"] == "1" and ours["threads"] == 1
    theirs = run(tmp_path, OPENBLAS_NUM_THREADS="2")
    assert theirs["blas"] == "2" and theirs["threads"] == 2  # the user's choice is kept
