"""kernels/_jit.py ``defer_shared_modules`` and ``initialize_runtime``: a cached kernel of ours
loads without parsing its bitcode, numba's symbol table gets exactly the names the bitcode
defines (kept beside the cache files the first time), a compile that links the cached library
parses it then, and works; NRT's library is compiled once and then loaded from the cache folder.

Each step runs in a fresh interpreter sharing one fresh ``NUMBA_CACHE_DIR``: the first compiles
and saves, the second loads the full way and keeps the names, the third loads the short way.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from tracer.kernels._jit import (
    read_symbols,
    runtime_state_ok,
    short_load_supported,
    write_symbols,
)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    not short_load_supported(), reason="the short load is verified only for numba 0.68"
)

#: ``outer`` calls ``inner`` on an int64 whatever its array's dtype, so once ``inner`` is loaded
#: (called from Python), a new signature of ``outer`` compiles and links the cached ``inner``:
#: the bitcode is needed then.
PROBE_MODULE = """
import numpy as np
from numba import njit


@njit(cache=True)
def inner(n):
    return n * (n + 1) // 2


@njit(cache=True)
def outer(a):
    out = np.empty(a.shape[0], dtype=np.float64)
    for i in range(a.shape[0]):
        out[i] = a[i] + inner(a.shape[0])
    return out
"""

RUN = """
import json, sys
import numpy as np
from tracer.kernels import _jit
import llvmlite.binding as ll
_jit.KERNEL_MODULES = (*_jit.KERNEL_MODULES, "symbols_probe")
parsed = []
full_parse = ll.parse_bitcode
def counting_parse(data):
    parsed.append(len(data))
    return full_parse(data)
ll.parse_bitcode = counting_parse
from numba.core.runtime import nrtdynmod
built = []
full_build = nrtdynmod.create_nrt_module
def counting_build(ctx):
    built.append(1)
    return full_build(ctx)
nrtdynmod.create_nrt_module = counting_build
import symbols_probe as p
state = {"inner": p.inner(3), "outer": p.outer(np.arange(3, dtype=np.int64)).tolist()}
state["hits"] = sum(sum(f.stats.cache_hits.values()) for f in (p.inner, p.outer))
state["parsed_on_load"] = len(parsed)
engine = p.outer.targetctx.codegen()._engine
libs = [cres.library for f in (p.inner, p.outer) for cres in f.overloads.values()]
exact = []
for lib in libs:
    bitcode = getattr(lib, "_tracer_bitcode", None)
    module = full_parse(bitcode) if bitcode is not None else lib._shared_module
    exact.append(sorted(_jit.defined_symbols(module) - engine._defined_symbols))
state["missing_names"] = exact
state["nrt_compiled"] = len(built)
state["new_signature"] = p.outer(np.arange(3, dtype=sys.argv[1])).tolist()  # links inner
state["parsed_for_linking"] = len(parsed) - state["parsed_on_load"]
print(json.dumps(state))
"""


def run(tmp_path: Path, new_dtype: str) -> dict:
    """One fresh interpreter; ``new_dtype`` gives ``outer`` a signature not cached yet."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
           "NUMBA_CACHE_DIR": str(tmp_path / "cache")}  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", RUN, new_dtype], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def symbol_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").rglob("tracer-symbols-*.json"))


def runtime_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").glob("tracer-nrt-*.pkl"))


def test_cached_kernels_load_without_parsing_their_bitcode(tmp_path: Path) -> None:
    (tmp_path / "symbols_probe.py").write_text(PROBE_MODULE)
    expected = [6.0, 7.0, 8.0]  # a[i] + inner(3)
    first = run(tmp_path, "float32")  # compiles and saves (NRT's library too)
    assert first["hits"] == 0 and first["outer"] == expected and symbol_files(tmp_path) == []
    assert first["nrt_compiled"] == 1 and len(runtime_files(tmp_path)) == 1
    second = run(tmp_path, "int32")  # loads the full way (parses), keeps the names
    assert second["hits"] == 2 and second["parsed_on_load"] == 3  # inner, outer, NRT
    assert second["nrt_compiled"] == 0  # loaded from its file
    assert len(symbol_files(tmp_path)) == 3
    third = run(tmp_path, "uint16")  # the short way
    assert third["hits"] == 2 and third["parsed_on_load"] == 0
    assert third["missing_names"] == [[], []]  # numba's table has every name it would have
    assert third["nrt_compiled"] == 0
    assert third["inner"] == 6 and third["outer"] == expected
    assert third["new_signature"] == expected
    assert third["parsed_for_linking"] >= 2  # the compile linked the cached inner and NRT
    # Damaged files: numba's own load and NRT compiled again, and the files written again.
    for f in [*symbol_files(tmp_path), *runtime_files(tmp_path)]:
        f.write_text("{not json, not a pickle")
    fourth = run(tmp_path, "int16")
    assert fourth["parsed_on_load"] == 2 and fourth["missing_names"] == [[], []]
    assert fourth["nrt_compiled"] == 1 and fourth["outer"] == expected
    kernels = [f for f in symbol_files(tmp_path) if f.parent != tmp_path / "cache"]
    assert len(kernels) == 2 and all(read_symbols(str(f)) is not None for f in kernels)
    state = pickle.loads(runtime_files(tmp_path)[0].read_bytes())
    assert runtime_state_ok(state)


def test_names_files_round_trip_and_reject_what_is_not_a_list_of_names(tmp_path: Path) -> None:
    path = str(tmp_path / "tracer-symbols-x.json")
    assert read_symbols(path) is None  # absent
    write_symbols(path, {"b", "a"})
    assert read_symbols(path) == {"a", "b"}
    assert json.loads(Path(path).read_text()) == ["a", "b"]
    Path(path).write_text('{"a": 1}')
    assert read_symbols(path) is None
    Path(path).write_text("[1, 2]")
    assert read_symbols(path) is None
    write_symbols(str(tmp_path / "no-such-folder" / "x.json"), {"a"})  # refused: left alone
    assert list(tmp_path.iterdir()) == [tmp_path / "tracer-symbols-x.json"]


def test_only_numbas_serialised_runtime_shape_is_loaded() -> None:
    good = ("nrt", "object", (b"machine code", b"bitcode"))
    assert runtime_state_ok(good)
    for bad in (None, ("nrt", "bitcode", b""), ("kernel", *good[1:]), ("nrt", "object", (b"",)),
                ("nrt", "object", ("text", b""))):  # fmt: skip
        assert not runtime_state_ok(bad)
