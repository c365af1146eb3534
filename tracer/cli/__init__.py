"""The ``tracer`` command line: the Click group (:mod:`tracer.cli.app`) and one module per
command family, each registered on the group when it is imported: when its command is first
named (or a help screen lists them all), so a command imports only its own family.

``tracer.cli:main`` is the console script; ``python -m tracer.cli`` runs :mod:`tracer.cli.__main__`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from tracer.cli.app import INTERNAL_ERROR_EXIT, TracerGroup, cli, load_commands, main

#: The command modules: imported when a command is named (``tracer.cli.app.COMMAND_MODULES``),
#: or when read here, so ``tracer follow`` does not import the others.
_COMMAND_MODULES = ("conversions", "follow", "ingest", "report", "reports", "rpc", "synth")


def __getattr__(name: str) -> ModuleType:
    if name in _COMMAND_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "INTERNAL_ERROR_EXIT",
    "TracerGroup",
    "cli",
    "conversions",
    "follow",
    "ingest",
    "load_commands",
    "main",
    "report",
    "reports",
    "rpc",
    "synth",
]
