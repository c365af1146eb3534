"""The ingest's index encoders: GIL released, and numba loaded without its scipy probe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tracer.kernels.fixed_width import _hashes, _values

ROOT = Path(__file__).resolve().parents[2]


def test_index_encoders_release_the_gil() -> None:
    # they run on the partition-writer threads beside the main thread's numbering
    assert _hashes.targetoptions.get("nogil") is True
    assert _values.targetoptions.get("nogil") is True


def test_importing_the_append_path_does_not_import_scipy() -> None:
    code = "import sys, tracer.store.append; print('scipy' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert out == "False"
