"""tracer: follow laundered crypto funds through on-chain transfer exports.

Python API (the CLI is a thin layer over these)::

    from tracer import Workspace, follow
    ws, summary = Workspace.in_memory(["transfers.json"], [read_labels("labels.csv")])
    result = follow(ws, ["T..."], model="haircut")
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from tracer.core.version import __version__


def _map_kernels() -> None:
    """Make the top-level ``kernels/`` folder importable as ``tracer.kernels`` in a source tree.

    An installed wheel holds it at ``tracer/kernels`` (``package-dir`` in pyproject.toml), so the
    package owns no import name but ``tracer``. Run from a checkout (``python -m pytest``, or
    ``pip install -e .``, whose finder may serve another checkout), the folder beside this
    package is loaded under that name, the same mapping setuptools applies.
    """
    if "tracer.kernels" in sys.modules or (Path(__file__).parent / "kernels").is_dir():
        return
    folder = Path(__file__).resolve().parent.parent / "kernels"
    if not (folder / "__init__.py").is_file():
        return  # let the import system find it (an editable install's finder)
    spec = importlib.util.spec_from_file_location(
        "tracer.kernels", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tracer.kernels"] = module
    spec.loader.exec_module(module)
    globals()["kernels"] = module  # what the import system does for a submodule


_map_kernels()

# First, before anything imports numba: compiled kernels cache in $NUMBA_CACHE_DIR (default
# ~/.cache/tracer-numba), never inside the installed package (see kernels/__init__.py).
from tracer import kernels as _kernels  # noqa: E402

_kernels.configure_cache()

__all__ = ["Workspace", "__version__", "follow", "read_labels"]


def __getattr__(name: str):  # lazy: keep `tracer --help` fast (no numba import at start-up)
    if name == "Workspace":
        from tracer.store.workspace import Workspace

        return Workspace
    if name == "follow":
        from tracer.analysis.follow import follow

        return follow
    if name == "read_labels":
        from tracer.sources.labels import read_labels

        return read_labels
    raise AttributeError(name)
