"""``njit`` for this package's kernels: the numba dispatcher is made when a kernel is first used.

Why: numba makes a dispatcher for every decorated function when its module is imported
(``inspect.signature``, the type-dispatch tables, the cache locator that stats the source and
checks its cache folder is writable): 0.2-0.4 ms each, and a cold sample follow imports 46
kernels to call 9 of them (10-15 ms of a process of under 1 s). A :class:`LazyKernel` holds
the Python function and numba's options, and makes the dispatcher (``numba.njit(**options)``,
exactly what the decorator would have made) on its first call or attribute read; after that
every call and attribute goes to that dispatcher. numba sees the dispatcher wherever it looks
at a kernel: as a global inside another kernel being compiled it is typed through
:func:`typeof_lazy_kernel` (the dispatcher's own type), and the inliner reads its
``targetoptions``/``py_func`` (forwarded). Kernels pickle by reference, as functions do.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

#: One lock for every kernel's first use: the proofs call kernels from two threads at once.
_MAKE = threading.Lock()


class LazyKernel:
    """A kernel whose numba dispatcher is made on first use (see the module docstring)."""

    def __init__(self, py_func: Callable[..., Any], options: dict[str, Any]) -> None:
        functools.update_wrapper(self, py_func)
        self.py_func = py_func
        self._options = options
        self._dispatcher: Any = None

    @property
    def dispatcher(self) -> Any:
        """numba's dispatcher for this kernel, made once."""
        d = self._dispatcher
        if d is None:
            with _MAKE:
                if self._dispatcher is None:
                    import numba

                    self._dispatcher = numba.njit(**self._options)(self.py_func)
                d = self._dispatcher
        return d

    @property
    def __call__(self) -> Callable[..., Any]:
        """The dispatcher itself: Python calls what this returns with the call's arguments, so
        a call costs one attribute read more than numba's own (~0.4 us), not a repacking."""
        d = self._dispatcher
        return d if d is not None else self.dispatcher

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_dispatcher", "_options", "py_func"):
            raise AttributeError(name)  # not set yet (copy, pickle): never the dispatcher's
        return getattr(self.dispatcher, name)

    def __reduce__(self) -> str:
        return self.__qualname__  # by reference, like the function it wraps

    def __repr__(self) -> str:
        return f"<kernel {self.__module__}.{self.__qualname__}>"


def lazy_njit(*args: Any, **options: Any) -> Any:
    """``numba.njit`` with the dispatcher made on first use: ``@njit`` or ``@njit(**options)``.

    An explicit signature (``njit("f8(f8)")``) compiles at decoration in numba: that stays
    numba's own ``njit``.
    """
    if len(args) == 1 and callable(args[0]) and not options:
        return LazyKernel(args[0], {})
    if args:
        import numba

        return numba.njit(*args, **options)
    return lambda py_func: LazyKernel(py_func, options)


def typeof_lazy_kernel(val: LazyKernel, c: Any) -> Any:
    """numba's type of a kernel: its dispatcher's (for a kernel called inside another)."""
    from numba.core.typing.typeof import typeof_impl

    return typeof_impl(val.dispatcher, c)


def register_typeof() -> None:
    """Teach numba's ``typeof`` the kernels; idempotent (run by ``_jit`` after numba loads)."""
    from numba.core.typing.typeof import typeof_impl

    if LazyKernel not in typeof_impl.registry:
        typeof_impl.register(LazyKernel)(typeof_lazy_kernel)
