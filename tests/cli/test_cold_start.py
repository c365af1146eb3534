"""Start-up: ``tracer --help`` (and a command's ``--help``) loads no heavy module.

A cold ``tracer --help`` used to import polars, numpy, numba and pyarrow (about a second of CPU)
because the command modules imported the library at the top. Commands now import what they
need when they run; these tests hold that line, in a fresh interpreter, with the real entry
point (``python -m tracer.cli``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tracer.kernels._jit import short_load_supported

from tracer.analysis.follow import MODEL_NAMES as KERNEL_MODELS
from tracer.cli.app import COMMAND_MODULES
from tracer.cli.follow import MODEL_NAMES as CLI_MODELS

ROOT = Path(__file__).resolve().parents[2]
#: Modules a help screen must not load: the data stack, the kernels' compiler, the optional
#: engines and the terminal toolkit (rich is loaded when something is drawn).
HEAVY = ("numba", "numpy", "polars", "pyarrow", "web3", "ray", "scipy", "rich", "yaml")


def imported(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Run ``python -X importtime -m tracer.cli ARGS`` and return every module it imported."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tracer.cli", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    names = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", proc.stderr, re.M))
    return names, proc


@pytest.mark.parametrize("args", [["--help"], ["follow", "--help"], ["exposure", "--help"]])
def test_help_loads_no_heavy_module(args: list[str]) -> None:
    names, proc = imported(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Usage:" in proc.stdout
    # the probe sees the package's own imports: the named command's module (every command's
    # for the group's help; commands are imported when named, tracer.cli.app.COMMAND_MODULES)
    assert COMMAND_MODULES.get(args[0], "tracer.cli.follow") in names
    if args[0] == "exposure":
        assert "tracer.cli.follow" not in names  # only the named command's module
    heavy = sorted(n for n in names if n.split(".")[0] in HEAVY)
    assert heavy == [], f"tracer {' '.join(args)} imported {heavy[:10]}"


def test_a_command_still_loads_what_it_needs() -> None:
    """The probe is not blind: a command that computes imports the data stack."""
    names, proc = imported("info", "-w", str(ROOT / "no-such-workspace"))
    assert {"polars", "tracer.store.workspace"} <= names, proc.stderr[-2000:]


#: The README's first command: the bundled sample case, read in memory (Tron, JSON, no logs).
SAMPLE = ROOT / "fixtures" / "sample_case"
SAMPLE_FOLLOW = ("follow", "TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx",
                 "--data", str(SAMPLE / "trongrid_scam_wallet.json"),
                 "--data", str(SAMPLE / "trongrid_downstream.json"),
                 "--labels", str(SAMPLE / "labels.csv"))  # fmt: skip
#: What the sample follow used to import for nothing (about 0.5 s of its 1.4 s CPU): scipy and
#: cffi (numba's optional probes, masked by kernels/_jit.py), yaml (numba's config file, absent
#: here), eth_abi/eth_utils (bridge and swap topics, hashed only when a logs file is read),
#: pycryptodome (EVM checksums; Tron addresses need none), rich (only a terminal shows the
#: summary line), the optional engines, and pyarrow itself (0.03-0.05 s: Polars reads the JSON,
#: the schemas' Arrow forms are built on first use, and small columns' bytes reach the kernels
#: without Arrow, tracer.core.string_buffers).
NOT_ON_FOLLOW = ("scipy", "cffi", "pycparser", "yaml", "eth_abi", "eth_utils", "eth_hash",
                 "Crypto", "web3", "rich", "ray", "pyarrow")  # fmt: skip
#: Parts of pyarrow only Parquet files and Arrow filters need (imported by tracer.core.lazy_import
#: stand-ins on first use): an in-memory case reads JSON.
ARROW_PARTS_NOT_ON_FOLLOW = ("pyarrow.compute", "pyarrow.parquet", "pyarrow.dataset")
#: numba's typing and lowering registries (about 60 modules, a thousand ``@overload``s, 0.15-0.2
#: s of CPU): cached kernels load without them (kernels/_jit.py ``defer_registries``); only a
#: compile loads them; nor ``numba.np.arrayobj`` and ``numba.cpython.unicode`` (30-50 ms), once
#: imported only to be the globals of inlined numpy functions' environments (``rebuild_env``).
REGISTRIES_NOT_ON_FOLLOW = ("numba.np.arraymath", "numba.np.linalg", "numba.np.npyimpl",
                            "numba.cpython.setobj", "numba.cpython.listobj",
                            "numba.typed.typedlist", "numba.np.random", "numba.np.arrayobj",
                            "numba.cpython.unicode",
                            # the typed Dict (9-10 ms): only a compile of the colour kernel
                            # reaches it (kernels/local_colours.py names numba.typed.Dict)
                            "numba.typed.typeddict")  # fmt: skip


#: The hop producers (swaps, wraps, bridges, OTC desks): only a logs file among ``--data`` can
#: hold conversions or bridge events (``conversions_table.stores_any``), and the sample has none.
HOPS_NOT_ON_FOLLOW = ("tracer.analysis.hops", "tracer.analysis.bridges", "tracer.analysis.otc",
                      "tracer.analysis.conversions", "tracer.sources.raw_logs",
                      # nor the other commands' modules (tracer.cli.app.COMMAND_MODULES)
                      "tracer.cli.conversions", "tracer.cli.ingest", "tracer.cli.report",
                      "tracer.cli.reports", "tracer.cli.rpc", "tracer.cli.synth")  # fmt: skip

#: Runs ``python -m tracer.cli ARGS`` and writes what it had done at exit (JSON) to a file: the
#: modules loaded (``-X importtime`` also lists imports that failed, a masked optional package,
#: so it cannot tell loaded from attempted); the garbage collections run after ``main`` started;
#: how many of the loaded kernels got a numba dispatcher; LLVM bitcode parses and NRT builds.
LOADED_PROBE = """
import atexit, gc, json, runpy, sys
out = sys.argv.pop(1)
sys.argv[0] = "tracer"
from tracer.kernels import _jit  # first, as the CLI does: numba is imported through it
import llvmlite.binding as ll
from numba.core.runtime import nrtdynmod
import tracer.cli.app as app
from tracer.kernels._lazy_kernel import LazyKernel
seen = {"collections": [], "parses": 0, "nrt_builds": 0}
gc.callbacks.append(lambda phase, info: phase == "start" and seen["collections"].append(1))
full_defer = app.defer_first_collection
def defer():
    seen["collections"].clear()  # count from here (tracer.cli's import ran some)
    full_defer()
app.defer_first_collection = defer
full_parse, full_build = ll.parse_bitcode, nrtdynmod.create_nrt_module
def parse(data):
    seen["parses"] += 1
    return full_parse(data)
def build(ctx):
    seen["nrt_builds"] += 1
    return full_build(ctx)
ll.parse_bitcode, nrtdynmod.create_nrt_module = parse, build

@atexit.register  # the CLI ends with os._exit after the atexit handlers (tracer.cli.app)
def dump():
    kernels = [v for k, m in list(sys.modules.items()) if k.startswith("tracer.kernels.") and m
               for v in vars(m).values() if isinstance(v, LazyKernel)]
    with open(out, "w") as fh:
        json.dump({"modules": sorted(k for k, v in sys.modules.items() if v is not None),
                   "collections": len(seen["collections"]), "parses": seen["parses"],
                   "nrt_builds": seen["nrt_builds"], "kernels": len(set(map(id, kernels))),
                   "dispatchers": len({id(k) for k in kernels if k._dispatcher is not None})},
                  fh)

runpy.run_module("tracer.cli", run_name="__main__", alter_sys=True)
"""


def probed(tmp_path: Path, *args: str) -> tuple[dict, subprocess.CompletedProcess[str]]:
    """Run ``tracer ARGS`` in a fresh interpreter; what :data:`LOADED_PROBE` saw at its exit."""
    out = tmp_path / "modules.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", LOADED_PROBE, str(out), *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    return (json.loads(out.read_text()) if out.exists() else {}), proc


def loaded(tmp_path: Path, *args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Run ``tracer ARGS`` in a fresh interpreter; the modules it had loaded when it exited."""
    seen, proc = probed(tmp_path, *args)
    return set(seen.get("modules", [])), proc


def test_sample_follow_imports_only_what_it_uses(tmp_path: Path) -> None:
    """The README's first command, piped (JSON), in a fresh interpreter: it loads the data
    stack and the kernels, and none of :data:`NOT_ON_FOLLOW`.

    Run twice: the first run fills numba's cache when it lacks a signature (a fresh clone, a
    fresh ``NUMBA_CACHE_DIR``; a compile loads numba's registries by design), the second is the
    installed user's cold start, which must load its kernels from the cache alone."""
    warm_follow()
    names, proc = loaded(tmp_path, *SAMPLE_FOLLOW)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"model": "haircut"' in proc.stdout  # it really followed
    assert {"numba", "polars", "tracer.kernels.taint", "tracer.analysis.follow"} <= names
    extra = sorted(n for n in names if n.split(".")[0] in NOT_ON_FOLLOW
                   or n in ARROW_PARTS_NOT_ON_FOLLOW or n in HOPS_NOT_ON_FOLLOW
                   or (n in REGISTRIES_NOT_ON_FOLLOW and short_load_supported()))  # fmt: skip
    assert extra == [], f"tracer follow (sample case) imported {extra[:10]}"


def warm_follow() -> None:
    """The sample follow once, so numba's cache (and the names and NRT kept beside it) is full."""
    for _ in range(2):  # the first may compile; the second keeps the names of what it loaded
        warm = subprocess.run([sys.executable, "-m", "tracer.cli", *SAMPLE_FOLLOW], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert warm.returncode == 0, warm.stderr[-2000:]


def test_sample_follow_does_at_start_up_only_what_it_needs(tmp_path: Path) -> None:
    """The cold sample follow, cache warm: no garbage collection once ``main`` runs (its
    start-up allocates only what lives to the end: :func:`tracer.cli.app.defer_first_collection`),
    a numba dispatcher only for the kernels it calls (``kernels/_lazy_kernel.py``), no LLVM
    bitcode parsed and NRT not compiled (``kernels/_jit.py``: names and NRT from the cache)."""
    warm_follow()
    seen, proc = probed(tmp_path, *SAMPLE_FOLLOW)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"model": "haircut"' in proc.stdout
    assert seen["collections"] == 0
    assert 0 < seen["dispatchers"] < seen["kernels"] / 2, seen  # 9 of 35 today
    if short_load_supported():
        assert seen["parses"] == 0 and seen["nrt_builds"] == 0, seen


def test_cli_model_names_are_the_kernels() -> None:
    """``--model`` choices are written out in the CLI (no kernel import for --help): the same
    names, in the same order, as the kernels'."""
    assert CLI_MODELS == KERNEL_MODELS


def test_graph_option_defaults_match_the_collapse_rules() -> None:
    """The CLI writes the collapse defaults out (so --help loads no Polars): they must be the
    library's."""
    from tracer.cli.graph_options import GRAPH_SUFFIXES, MAX_EDGES, MIN_AMOUNT, TOP_K
    from tracer.output.graph import GRAPH_FORMATS, CollapseRules

    d = CollapseRules()
    assert (d.min_amount, d.top_k, d.max_edges) == (MIN_AMOUNT, TOP_K, MAX_EDGES)
    assert GRAPH_SUFFIXES == GRAPH_FORMATS
