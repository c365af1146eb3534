"""tracer: follow laundered crypto funds through on-chain transfer exports.

Python API (the CLI is a thin layer over these)::

    from tracer import Workspace, follow
    ws, summary = Workspace.in_memory(["transfers.json"], [read_labels("labels.csv")])
    result = follow(ws, ["T..."], model="haircut")
"""

from __future__ import annotations

# First, before anything imports numba: compiled kernels cache in $NUMBA_CACHE_DIR (default
# ~/.cache/tracer-numba), never inside the installed package (see kernels/__init__.py).
import kernels as _kernels

_kernels.configure_cache()

__version__ = "0.1.0"

__all__ = ["Workspace", "__version__", "follow", "read_labels"]


def __getattr__(name: str):  # lazy: keep `tracer --help` fast (no numba import at start-up)
    if name == "Workspace":
        from tracer.workspace import Workspace

        return Workspace
    if name == "follow":
        from tracer.follow import follow

        return follow
    if name == "read_labels":
        from tracer.labels import read_labels

        return read_labels
    raise AttributeError(name)
