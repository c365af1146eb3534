"""numba kernels over plain numpy arrays.

This package never imports ``tracer``: kernels see only contiguous arrays (ids, timestamps,
float64 amounts, CSR offsets) so they can be tested, benchmarked and reused on their own.
Every public function validates its inputs and allocates outputs, then calls a private
``@njit(cache=True)`` kernel (the shape stumpy uses).

Compiled kernels are cached in ``$NUMBA_CACHE_DIR``, by default ``~/.cache/tracer-numba``, never
beside these sources (an installed package may be read-only or shared between users). numba
reads the variable when it is imported and each ``@njit(cache=True)`` function picks its cache
folder when it is decorated, so the default is set here, before any kernel module imports numba.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

#: The cache folder used when ``$NUMBA_CACHE_DIR`` is not set (under the user's home).
DEFAULT_CACHE_SUBDIR = (".cache", "tracer-numba")


def default_cache_dir() -> Path:
    """``~/.cache/tracer-numba/<import name>``; a per-user temporary folder without a home.

    Why the import name (``tracer.kernels``): numba keys a cached kernel by its source file's path
    and modification time, not by the module's name, and a cached kernel re-imports its module by
    name when it loads. A checkout whose kernels were imported under another name (``kernels``,
    before they were installed as ``tracer.kernels``) would otherwise load stale entries and fail
    with ``No module named 'kernels'``.
    """
    try:
        base = Path.home().joinpath(*DEFAULT_CACHE_SUBDIR)
    except (RuntimeError, KeyError):  # no $HOME and no passwd entry (some containers)
        uid = os.getuid() if hasattr(os, "getuid") else "user"
        base = Path(tempfile.gettempdir()) / f"tracer-numba-{uid}"
    return base / __name__


def configure_cache() -> str:
    """Point numba's cache at ``$NUMBA_CACHE_DIR`` (set to the default when unset); idempotent.

    If numba was imported before this package (a notebook, another library), its configuration
    is re-read so that the kernels decorated afterwards still cache in the right place.
    """
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    if not cache_dir:
        cache_dir = str(default_cache_dir())
        os.environ["NUMBA_CACHE_DIR"] = cache_dir
    config = sys.modules.get("numba.core.config")
    if config is not None and getattr(config, "CACHE_DIR", None) != cache_dir:
        config.reload_config()
    return cache_dir


configure_cache()
