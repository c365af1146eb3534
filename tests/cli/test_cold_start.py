"""Start-up: ``tracer --help`` (and a command's ``--help``) loads no heavy module.

A cold ``tracer --help`` used to import polars, numpy, numba and pyarrow (about a second of CPU)
because the command modules imported the library at the top. Commands now import what they
need when they run; these tests hold that line, in a fresh interpreter, with the real entry
point (``python -m tracer.cli``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tracer.analysis.follow import MODEL_NAMES as KERNEL_MODELS
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
    assert "tracer.cli.follow" in names  # the probe sees the package's own imports
    heavy = sorted(n for n in names if n.split(".")[0] in HEAVY)
    assert heavy == [], f"tracer {' '.join(args)} imported {heavy[:10]}"


def test_a_command_still_loads_what_it_needs() -> None:
    """The probe is not blind: a command that computes imports the data stack."""
    names, proc = imported("info", "-w", str(ROOT / "no-such-workspace"))
    assert {"polars", "tracer.store.workspace"} <= names, proc.stderr[-2000:]


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
