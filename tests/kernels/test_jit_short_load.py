"""kernels/_jit.py: a cached kernel of ours loads without numba's typing and lowering registries,
runs right (allocation, typed dict, string hashing, a parallel loop), and everything else keeps
numba's own load: a new signature compiles, with the registries, and another package's cached
function loads the full way.

Each case runs in fresh interpreters sharing a fresh ``NUMBA_CACHE_DIR``: the first compiles and
saves, the second loads from the cache (what a cold ``tracer follow`` does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tracer.kernels._jit import short_load_supported

ROOT = Path(__file__).resolve().parents[2]
#: the short load replaces numba internals read at one release: elsewhere numba's own load runs
pytestmark = pytest.mark.skipif(not short_load_supported(),
                                reason="the short load is verified only for numba 0.68")

#: Kernels touching every part of numba's runtime a cached kernel can need: NRT (an array
#: allocated inside), the typed dict's C helpers, the hash secret (``hash`` of a string), the
#: threading layer (``prange``, re-launched by the cached kernel's ``reload_init``) and an
#: exception raised with a runtime value (boxed through its environment's constants).
PROBE_MODULE = '''
import numpy as np
from numba import njit, prange, types
from numba.typed import Dict


@njit(cache=True)
def cumulative(a):
    out = np.empty(a.shape[0], dtype=np.float64)
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
        out[i] = s
    return out


@njit(cache=True)
def distinct(a):
    seen = Dict.empty(key_type=types.int64, value_type=types.int64)
    for x in a:
        seen[x] = seen.get(x, 0) + 1
    return len(seen)


@njit(cache=True)
def same_hash(s):
    return hash(s) == hash(s + "")


@njit(cache=True)
def checked(a):
    if a[0] < 0:
        raise ValueError("negative first amount", a[0])
    return np.zeros(a.shape[0]).sum()


@njit(cache=True, parallel=True)
def doubled(a):
    out = np.empty_like(a)
    for i in prange(a.shape[0]):
        out[i] = 2 * a[i]
    return out
'''

RUN = """
import json, sys
import numpy as np
from tracer.kernels import _jit  # first: numba is imported through it
from numba.core import entrypoints
if sys.argv[1] == "ours":
    _jit.KERNEL_MODULES = (*_jit.KERNEL_MODULES, "shortload_probe")
import shortload_probe as p
a = np.arange(1, 6, dtype=np.int64)
state = {"cumulative": p.cumulative(a.astype(np.float64)).tolist(),
         "distinct": p.distinct(np.array([3, 1, 3, 2, 1], dtype=np.int64)),
         "same_hash": bool(p.same_hash("tron")),
         "doubled": p.doubled(a).tolist(),
         "checked": p.checked(np.ones(3))}
try:
    p.checked(-np.ones(3))
except ValueError as exc:  # raised from machine code, its argument boxed through the constants
    state["raised"] = list(exc.args)
state.update({
         "hits": sum(sum(f.stats.cache_hits.values())
                     for f in (p.cumulative, p.distinct, p.same_hash, p.doubled, p.checked)),
         "registries": "numba.cpython.setobj" in sys.modules,
         "extensions": entrypoints._already_initialized,
         "arrayobj": "numba.np.arrayobj" in sys.modules})
state["new_signature"] = p.cumulative(np.arange(3, dtype=sys.argv[2])).tolist()  # compiles
state["registries_after_compile"] = "numba.cpython.setobj" in sys.modules
state["extensions_after_compile"] = entrypoints._already_initialized
state["scipy"] = "scipy" in sys.modules
print(json.dumps(state))
"""

EXPECTED = {"cumulative": [1.0, 3.0, 6.0, 10.0, 15.0], "distinct": 3, "same_hash": True,
            "doubled": [2, 4, 6, 8, 10], "checked": 0.0, "raised": ["negative first amount", -1.0],
            "new_signature": [0.0, 1.0, 3.0],
            "registries_after_compile": True, "extensions_after_compile": True,
            "scipy": False}  # fmt: skip


def run(tmp_path: Path, mode: str, new_dtype: str) -> dict:
    """One fresh interpreter; ``new_dtype`` gives ``cumulative`` a signature not cached yet."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
           "NUMBA_CACHE_DIR": str(tmp_path / "cache")}  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", RUN, mode, new_dtype], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_cached_kernels_of_ours_load_without_the_registries(tmp_path: Path) -> None:
    (tmp_path / "shortload_probe.py").write_text(PROBE_MODULE)
    first = run(tmp_path, "ours", "float32")  # compiles and saves
    assert first["hits"] == 0 and first["registries"] is True
    second = run(tmp_path, "ours", "int32")  # loads from the cache, the short way
    assert second["hits"] == 5
    assert second["registries"] is False  # no typing/lowering registry was loaded to run them
    assert second["extensions"] is False  # nor numba's entry-point scan
    assert second["arrayobj"] is False  # nor numba's modules for inlined functions' globals
    assert {k: second[k] for k in EXPECTED} == EXPECTED
    assert {k: first[k] for k in EXPECTED} == EXPECTED


def test_other_cached_functions_keep_numbas_full_load(tmp_path: Path) -> None:
    (tmp_path / "shortload_probe.py").write_text(PROBE_MODULE)
    run(tmp_path, "theirs", "float32")
    second = run(tmp_path, "theirs", "int32")
    assert second["hits"] == 5 and second["registries"] is True and second["extensions"] is True
    assert {k: second[k] for k in EXPECTED} == EXPECTED


def test_the_short_load_is_installed_once() -> None:
    from numba.core import caching, cpu, dispatcher
    from tracer.kernels import _jit

    load, registries = caching.Cache.load_overload, cpu.CPUContext.load_additional_registries
    hook = dispatcher.Dispatcher._compilation_chain_init_hook
    _jit.defer_registries()
    assert getattr(load, "_tracer_short", False) is True
    assert caching.Cache.load_overload is load
    assert cpu.CPUContext.load_additional_registries is registries
    assert dispatcher.Dispatcher._compilation_chain_init_hook is hook


def test_another_numba_keeps_its_own_load() -> None:
    """A numba release the short load was not read against: nothing of numba is replaced."""
    code = (
        "import numba; numba.__version__ = '0.99.0'\n"
        "from numba.core import caching\n"
        "before = caching.Cache.load_overload\n"
        "from tracer.kernels import _jit\n"
        "_jit.defer_registries()\n"
        "assert caching.Cache.load_overload is before\n"
        "assert not getattr(caching.Cache.load_overload, '_tracer_short', False)\n"
        "print('kept')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "kept"
