"""The arrows of the house, checked on every run (README "Architecture").

* the stages import one way, ``cli > output > analysis > graph > store > sources > core``: the
  import-linter contract in pyproject.toml (``lint-imports``), whose report names the broken
  contract and the offending import chain;
* no import cycle anywhere inside ``tracer/`` (function-level and ``TYPE_CHECKING`` imports
  count: a cycle hidden in a function is still a knot a newcomer has to untie);
* ``kernels/`` imports numpy, numba and the standard library only, never ``tracer`` (an AST
  check: the folder is installed as ``tracer.kernels`` but lives outside ``tracer/``, where
  import-linter's graph does not see it).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx
import pytest

from tests.conftest import ROOT

KERNEL_IMPORTS = {"numpy", "numba"}


def _lint_imports(config: Path) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\nfrom importlinter.cli import lint_imports\n"
        f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True))\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=_env())  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_stages_import_one_way() -> None:
    done = _lint_imports(ROOT / "pyproject.toml")
    assert done.returncode == 0, f"import contract broken:\n{done.stdout}\n{done.stderr}"
    assert "KEPT" in done.stdout and "BROKEN" not in done.stdout, done.stdout


def test_contract_check_sees_the_imports(tmp_path: Path) -> None:
    """The same check with the layers upside down must fail, naming the contract: the contract
    above passes because the imports run one way, not because nothing was looked at."""
    config = tmp_path / "upside_down.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["tracer"]\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "upside down"\ntype = "layers"\n'
        'layers = ["tracer.core", "tracer.sources", "tracer.store", "tracer.cli"]\n'
    )
    done = _lint_imports(config)
    assert done.returncode != 0
    assert "upside down BROKEN" in done.stdout, done.stdout


def _import_graph() -> nx.DiGraph:
    graph = grimp.build_graph("tracer", cache_dir=None)
    edges = nx.DiGraph()
    for module in graph.modules:
        edges.add_node(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module:  # `from tracer import kernels` in tracer/__init__ (mapped)
                edges.add_edge(module, imported)
    return edges


def test_no_import_cycle_inside_tracer() -> None:
    edges = _import_graph()
    assert edges.number_of_edges() > 100  # the graph was really read
    cycles = [" -> ".join([*c, c[0]]) for c in nx.simple_cycles(edges, length_bound=8)]
    assert not cycles, "import cycles:\n" + "\n".join(cycles[:20])


def test_cycle_check_can_fail() -> None:
    edges = _import_graph()
    edges.add_edge("tracer.core.schema", "tracer.store.workspace")  # a reversed import
    assert any(True for _ in nx.simple_cycles(edges, length_bound=8))


def _top_level_imports(path: Path) -> set[str]:
    """Absolute modules a file imports (relative imports stay inside kernels/)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "kernels").glob("*.py")), ids=lambda p: p.name)
def test_kernels_import_numpy_numba_only(path: Path) -> None:
    imported = _top_level_imports(path)
    stray = sorted(m for m in imported - KERNEL_IMPORTS if m not in sys.stdlib_module_names)
    assert not stray, f"{path.name} imports {stray}: kernels import numpy, numba, stdlib only"
    assert "tracer" not in imported


def test_kernel_import_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy as np\nfrom tracer.core import schema\nimport polars\n")
    assert _top_level_imports(bad) - KERNEL_IMPORTS - {"__future__"} == {"tracer", "polars"}
