"""kernels/_jit.py: numba imported without its optional scipy/cffi/yaml probes, nothing left
masked afterwards, and a user's ``.numba_config.yaml`` still read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tracer.kernels._jit import absent, optional_probes

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from tracer.kernels import text  # the first kernel module: numba is imported through _jit
import numba.core.config as config, numba.core.typing.cffi_utils as cffi_utils
from numba.core.registry import cpu_target
cpu_target.target_context.refresh()  # numba's registries, loaded as a compile loads them
import numba.np.arraymath as arraymath
state = {"loaded": sorted(m for m in ("scipy", "cffi", "yaml") if sys.modules.get(m)),
         "masked_left": sorted(k for k, v in sys.modules.items() if v is None),
         "blas": arraymath._HAVE_BLAS, "cffi": cffi_utils.SUPPORTED, "yaml": config._HAVE_YAML}
import scipy.linalg, cffi, yaml  # still importable for everyone else
print(json.dumps(state))
"""


def probe(cwd: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_numba_loads_without_its_optional_probes(tmp_path: Path) -> None:
    state = probe(tmp_path)
    assert state["loaded"] == [] and state["masked_left"] == []
    assert (state["blas"], state["cffi"], state["yaml"]) == (False, False, False)


def test_a_numba_config_file_is_still_read(tmp_path: Path) -> None:
    (tmp_path / ".numba_config.yaml").write_text("DEBUG_CACHE: 0\n")
    state = probe(tmp_path)
    assert state["yaml"] is True and "yaml" in state["loaded"]
    assert "scipy" not in state["loaded"] and state["masked_left"] == []


def test_absent_masks_only_inside_and_leaves_imported_modules_alone() -> None:
    name = "tracer_no_such_module_for_this_test"
    with absent([name, "json"]) as masked:
        assert masked == [name] and sys.modules[name] is None
        try:
            __import__(name)
        except ImportError:
            pass
        else:  # pragma: no cover - the mask is the point
            raise AssertionError("import of a masked module succeeded")
    assert name not in sys.modules and sys.modules["json"] is not None


def test_yaml_is_masked_only_without_a_config_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    assert "yaml" in optional_probes()
    (tmp_path / ".numba_config.yaml").write_text("")
    assert "yaml" not in optional_probes()
