"""``python -m tracer.cli``: the same entry point as the ``tracer`` console script."""

from __future__ import annotations

from tracer.cli import main

main()
