"""kernels/_lazy_kernel.py: a kernel's numba dispatcher is made on its first use, not at import;
it then answers as numba's would (results, attributes, pickling by reference), and a kernel
compiled from scratch calls and inlines other lazy kernels (typed through the dispatcher).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
from numba.core.dispatcher import Dispatcher
from tracer.kernels import _jit
from tracer.kernels._lazy_kernel import LazyKernel, lazy_njit

ROOT = Path(__file__).resolve().parents[2]


def test_the_dispatcher_is_made_on_first_use_and_answers_as_numbas() -> None:
    @lazy_njit(cache=False)
    def add_one(a):  # type: ignore[no-untyped-def]
        return a + 1

    assert isinstance(add_one, LazyKernel) and add_one._dispatcher is None
    assert add_one.py_func(1) == 2  # the Python function, no dispatcher needed
    assert add_one.__name__ == "add_one" and add_one._dispatcher is None
    assert callable(add_one) and add_one(np.int64(41)) == 42
    assert add_one(a=np.int64(1)) == 2  # keywords, as numba takes them
    assert isinstance(add_one._dispatcher, Dispatcher)
    assert add_one.signatures == add_one._dispatcher.signatures and len(add_one.signatures) == 1
    assert add_one.dispatcher is add_one._dispatcher  # made once


def test_numbas_own_njit_for_an_explicit_signature_and_the_bare_decorator() -> None:
    eager = lazy_njit("f8(f8)")(lambda x: x * 2.0)
    assert isinstance(eager, Dispatcher) and eager(2.0) == 4.0
    bare = lazy_njit(lambda x: x - 1)
    assert isinstance(bare, LazyKernel) and bare(3) == 2


def test_package_kernels_are_lazy_and_pickle_by_reference() -> None:
    from tracer.kernels import text

    assert _jit.njit is lazy_njit
    lazies = [v for v in vars(text).values() if isinstance(v, LazyKernel)]
    assert lazies, "the text kernels are LazyKernels"
    for k in lazies:
        assert pickle.loads(pickle.dumps(k)) is k


#: ``outer`` calls a plain kernel and an ``inline="always"`` one, all lazy, compiled from
#: scratch in a fresh cache: numba types the callees through their dispatchers.
PROBE_MODULE = """
import numpy as np
from tracer.kernels._jit import njit


@njit(cache=True)
def triangle(n):
    return n * (n + 1) // 2


@njit(cache=True, inline="always")
def twice(x):
    return 2.0 * x


@njit(cache=True)
def outer(a):
    out = np.empty(a.shape[0], dtype=np.float64)
    for i in range(a.shape[0]):
        out[i] = twice(a[i]) + triangle(a.shape[0])
    return out
"""

RUN = """
import json, sys
import numpy as np
import lazy_probe as p
made_at_import = [k._dispatcher is not None for k in (p.triangle, p.twice, p.outer)]
out = p.outer(np.arange(3, dtype=np.float64)).tolist()
print(json.dumps({"made_at_import": made_at_import, "out": out,
                  "hits": sum(p.outer.stats.cache_hits.values())}))
"""


def run(tmp_path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
           "NUMBA_CACHE_DIR": str(tmp_path / "cache")}  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", RUN], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_a_kernel_compiled_from_scratch_calls_and_inlines_lazy_kernels(tmp_path: Path) -> None:
    (tmp_path / "lazy_probe.py").write_text(PROBE_MODULE)
    first, second = run(tmp_path), run(tmp_path)  # compiles; then loads from the cache
    for state in (first, second):
        assert state["made_at_import"] == [False, False, False]
        assert state["out"] == [6.0, 8.0, 10.0]  # 2 * a[i] + triangle(3)
    assert first["hits"] == 0 and second["hits"] == 1
