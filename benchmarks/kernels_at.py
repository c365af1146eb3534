"""The kernels as they were at another git revision, importable beside today's (a baseline).

A kernel refactor must not lose speed; the fair comparison runs the old and the new kernels on
the same arrays in the same process, taking turns. ``kernels_at(rev)`` extracts the top-level
``kernels/`` folder at ``rev`` (``git archive``) into the benchmark cache and imports it under a
name of its own (``kernels_<rev>``), so both versions live side by side; numba caches the old
one's machine code there too, so only the first run compiles it.
"""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent


def kernels_at(rev: str) -> ModuleType:
    """The ``kernels`` package at git revision ``rev`` (a commit or ref), as its own package."""
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", rev], check=True,
                         capture_output=True, text=True).stdout.strip()  # fmt: skip
    name = f"kernels_{sha}"
    if name in sys.modules:
        return sys.modules[name]
    cache = Path(os.environ.get("TRACER_BENCH_CACHE", Path.home() / ".cache" / "tracer-bench"))
    root = cache / "kernels-at"
    if not (root / name / "__init__.py").exists():
        blob = subprocess.run(["git", "-C", str(REPO), "archive", sha, "kernels"], check=True,
                              capture_output=True).stdout  # fmt: skip
        tmp = root / f".{name}.tmp"
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(tmp, filter="data")
        (tmp / "kernels").rename(root / name)
        tmp.rmdir()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(name)
