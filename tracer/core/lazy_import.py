"""A module imported on first use: for heavy optional parts of a library (``pyarrow.compute``,
``pyarrow.parquet``, ``pyarrow.dataset``) that a module needs in some functions only.

Why: a cold ``tracer follow`` on an in-memory case never reads Parquet or builds an Arrow
filter, yet importing those three at module level cost about 0.1 s of CPU per process (they
build wrappers for every compute function and register the S3/GCS filesystems). Written as::

    if TYPE_CHECKING:
        import pyarrow.compute as pc
    else:
        pc = lazy_module("pyarrow.compute")

so type checkers see the real module, and the code reads as before.

Not :class:`importlib.util.LazyLoader`: that puts a half-made module in ``sys.modules`` and, in
Python 3.11, is not thread-safe (the workspace reads partitions from a thread pool); here the
real import goes through ``importlib.import_module`` (module locks) and nothing global changes.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """Stands for module ``name``: every attribute read is the real module's (imported on the
    first; after that a ``sys.modules`` look-up), so a patch of the real module shows here."""

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attr)


def lazy_module(name: str) -> ModuleType:
    """A stand-in for module ``name`` that imports it when first used."""
    return LazyModule(name)
