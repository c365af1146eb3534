"""numba's decorators, with numba's array support loaded without its scipy BLAS probe.

Every kernel module takes ``njit`` (and ``prange``) from here, so whichever kernel a command
imports first prepares numba the same way.

Why: when numba first loads or compiles a function it imports its array implementations, and
``numba.np.arraymath`` asks at import whether scipy's BLAS is there (``_HAVE_BLAS``, for
``np.dot`` and ``np.linalg``). The answer imports ``scipy.linalg``: about 0.2 s of CPU, a fifth of
a cold ``tracer follow`` on the sample case, for functions no kernel here uses (scipy is not
even a tracer dependency; it is installed with the test tools). So the probe is answered "no"
while that one module is imported, and scipy stays importable afterwards for everyone else.
A kernel that needs ``np.dot`` would fail to compile with numba's "scipy is required" error;
tests/kernels/test_jit.py says so before anyone ships one.
"""

from __future__ import annotations

import sys

#: The module numba's BLAS probe imports; masked (``None`` in ``sys.modules`` makes the import
#: raise ImportError without importing its parent packages) only around the probe.
BLAS_PROBE = "scipy.linalg.cython_blas"


def load_array_support() -> None:
    """Import ``numba.np.arraymath`` with the BLAS probe answered "no"; idempotent.

    Nothing is masked if the module is already imported (numba then keeps the answer it got) or
    if scipy's BLAS is already loaded (then the probe costs nothing).
    """
    if "numba.np.arraymath" in sys.modules:
        return
    mask = BLAS_PROBE not in sys.modules
    if mask:
        sys.modules[BLAS_PROBE] = None  # type: ignore[assignment]
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        if mask and sys.modules.get(BLAS_PROBE, 0) is None:
            del sys.modules[BLAS_PROBE]


load_array_support()

from numba import njit, prange  # noqa: E402

__all__ = ["load_array_support", "njit", "prange"]
