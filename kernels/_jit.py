"""numba's decorators, with numba imported without its optional probes of scipy, cffi and yaml.

Every kernel module takes ``njit`` (and ``prange``) from here, so whichever kernel a command
imports first prepares numba the same way.

Why: a cold ``tracer follow`` on the sample case spends most of its time importing, and numba
imports three optional packages for features no kernel here uses, about 0.25 s of CPU of a
1.4 s process (measured with ``python -X importtime``; see tests/kernels/test_jit.py):

- ``scipy``: numba checks its version when imported, and ``numba.np.arraymath`` asks whether
  scipy's BLAS is there (``_HAVE_BLAS``, for ``np.dot``/``np.linalg``), which imports
  ``scipy.linalg``. No kernel calls them, and scipy is not a tracer dependency (it comes with
  the test tools), so a user without it already runs numba this way.
- ``cffi``: ``numba.core.typing.cffi_utils`` builds a ``cffi.FFI()`` (its C parser) when numba
  first types an argument of no registered type, to recognise cffi functions.
- ``yaml``: numba reads ``.numba_config.yaml`` from the current folder; yaml is masked only when
  no such file is there, so a user's config file is still read.

A masked module is ``None`` in ``sys.modules`` (its import raises ImportError at once, without
importing its parent packages) only while numba's own modules import, and is removed after, so
scipy, cffi and yaml stay importable for everyone else in the process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: numba's own file of settings (``numba.core.config._config_fname``), read from the cwd.
NUMBA_CONFIG_FILE = ".numba_config.yaml"


@contextmanager
def absent(names: list[str]) -> Iterator[list[str]]:
    """Make ``names`` (those not imported yet) unimportable inside the block; yields them."""
    masked = [n for n in names if n not in sys.modules]
    for n in masked:
        sys.modules[n] = None  # type: ignore[assignment]
    try:
        yield masked
    finally:
        for n in masked:
            if n in sys.modules and sys.modules[n] is None:
                del sys.modules[n]


def optional_probes() -> list[str]:
    """The optional packages numba would import for nothing here (see the module docstring)."""
    names = ["scipy", "cffi"]
    if not os.path.isfile(NUMBA_CONFIG_FILE):
        names.append("yaml")
    return names


def load_numba() -> None:
    """Import numba, its array support and its cffi typing with the probes masked; idempotent.

    Nothing changes if numba's array support is already imported (numba keeps what it found).
    """
    if "numba.np.arraymath" in sys.modules:
        return
    with absent(optional_probes()):
        import numba.core.typing.cffi_utils
        import numba.np.arraymath  # noqa: F401


load_numba()

from numba import njit, prange  # noqa: E402

__all__ = ["absent", "load_numba", "njit", "optional_probes", "prange"]
