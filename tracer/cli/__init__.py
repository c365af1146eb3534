"""The ``tracer`` command line: the Click group (:mod:`tracer.cli.app`) and one module per
command family, each registered on the group when imported here.

``tracer.cli:main`` is the console script; ``python -m tracer.cli`` runs :mod:`tracer.cli.__main__`.
"""

from __future__ import annotations

from tracer.cli import conversions, follow, ingest, report, reports, rpc, synth
from tracer.cli.app import INTERNAL_ERROR_EXIT, TracerGroup, cli, main

__all__ = [
    "INTERNAL_ERROR_EXIT",
    "TracerGroup",
    "cli",
    "conversions",
    "follow",
    "ingest",
    "main",
    "report",
    "reports",
    "rpc",
    "synth",
]
