"""numba kernels over plain numpy arrays.

This package never imports ``tracer``: kernels see only contiguous arrays (ids, timestamps,
float64 amounts, CSR offsets) so they can be tested, benchmarked and reused on their own.
Every public function validates its inputs and allocates outputs, then calls a private
``@njit(cache=True)`` kernel (the shape stumpy uses).

Compiled kernels are cached in ``$NUMBA_CACHE_DIR``, by default
``~/.cache/tracer-numba/tracer.kernels/<sources key>``, never beside these sources (an installed
package may be read-only or shared between users). numba reads the variable when it is imported
and each ``@njit(cache=True)`` function picks its cache folder when it is decorated, so the
default is set here, before any kernel module imports numba.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

#: The cache folder used when ``$NUMBA_CACHE_DIR`` is not set (under the user's home).
DEFAULT_CACHE_SUBDIR = (".cache", "tracer-numba")


def sources_key(folder: str | None = None) -> str:
    """A key of this package's kernel sources as they are now: their names, sizes and
    modification times (16 hex digits of a SHA-1).

    Why: numba checks a cached kernel against its own source file only. A kernel that calls
    another (``rules.py``'s rule inlined into ``taint.py``'s sweep) keeps the callee's machine
    code in its own cache entry, so after an edit, a ``git checkout`` or an upgrade that changed
    only the callee's file, numba loads the caller's stale code: a wrong number with no
    warning. Keyed by every kernel source, the cache folder changes whenever any of them does,
    and numba compiles afresh into the new one. A stat per file (~25 files, microseconds), not a
    hash of their text: numba's own check is by time and size too.
    """
    folder = folder or os.path.dirname(os.path.abspath(__file__))
    parts = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.endswith(".py") and entry.is_file():
                st = entry.stat()
                parts.append(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha1("\n".join(sorted(parts)).encode()).hexdigest()[:16]


def default_cache_dir() -> Path:
    """``~/.cache/tracer-numba/<import name>/<sources key>``; a per-user temporary folder
    without a home. The sources key: :func:`sources_key` (why: stale inlined code).

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
    return base / __name__ / sources_key()


def configure_cache() -> str:
    """Point numba's cache at ``$NUMBA_CACHE_DIR`` (set to the default when unset); idempotent.

    A folder the user names is used as it is (numba's own check then applies: clear it after
    changing a kernel file); the default one is keyed by the sources (:func:`sources_key`).
    Setting the variable passes the keyed folder on to child processes, which run the same
    sources. When the default folder is new (a cache miss), the stale folders of other sources
    beside it are removed (:mod:`.cache_prune`: only what numba and tracer wrote there).

    If numba was imported before this package (a notebook, another library), its configuration
    is re-read so that the kernels decorated afterwards still cache in the right place.
    """
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    if not cache_dir:
        default = default_cache_dir()
        cache_dir = str(default)
        os.environ["NUMBA_CACHE_DIR"] = cache_dir
        if not os.path.isdir(cache_dir):  # a miss: these sources compile now (a warm start: a stat)
            from .cache_prune import prune_stale

            prune_stale(default)  # the folders of sources gone (kernels/cache_prune.py)
    config = sys.modules.get("numba.core.config")
    if config is not None and getattr(config, "CACHE_DIR", None) != cache_dir:
        config.reload_config()
    return cache_dir


configure_cache()
