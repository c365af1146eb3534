"""The package owns only its own import name: the built wheel installs ``tracer`` (with the
kernels as ``tracer.kernels``) and nothing else, and works from a fresh venv.

The venv sees the system site-packages (so no dependency is downloaded) and gets the wheel with
``--no-deps``; everything runs outside the checkout, so nothing is imported from the source tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PROBE = """
import importlib.metadata as md, json, sys
from pathlib import Path
import tracer, tracer.kernels, tracer.kernels.taint, tracer.cli
dist = md.distribution("tracer")
site = Path(tracer.__file__).resolve().parent.parent
print(json.dumps({
    "tracer": tracer.__file__,
    "kernels": tracer.kernels.__file__,
    "top_level": (dist.read_text("top_level.txt") or "").split(),
    "tops": sorted({Path(str(f)).parts[0] for f in dist.files or []} - {".."}),  # - bin/tracer
    "site_kernels": (site / "kernels").exists(),
    "site": str(site),
    "prefix": sys.prefix,
}))
"""


def _run(cmd: list[str], cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    env["NUMBA_CACHE_DIR"] = str(cwd / "numba-cache")
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
    return done


def test_wheel_installs_tracer_only(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
         tmp_path)  # fmt: skip
    (wheel,) = dist.glob("tracer-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp_path)
    py = venv / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], tmp_path)

    info = json.loads(_run([str(py), "-c", PROBE], tmp_path).stdout)
    assert Path(info["tracer"]).is_relative_to(venv), info  # the wheel's copy, not the checkout
    assert Path(info["kernels"]).is_relative_to(Path(info["site"]) / "tracer" / "kernels"), info
    assert info["top_level"] == ["tracer"], info
    assert [t for t in info["tops"] if not t.endswith(".dist-info")] == ["tracer"], info
    assert not info["site_kernels"], info  # no top-level `kernels` package installed

    help_text = _run([str(venv / "bin" / "tracer"), "--help"], tmp_path).stdout
    assert "follow" in help_text and "ingest" in help_text
