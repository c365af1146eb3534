"""``lazy_module``: nothing imported until an attribute is read, then the real module's names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tracer.core.lazy_import import lazy_module

ROOT = Path(__file__).resolve().parents[2]


def test_reads_are_the_real_modules() -> None:
    import json

    lazy = lazy_module("json")
    assert lazy.dumps is json.dumps and lazy.JSONDecodeError is json.JSONDecodeError


def test_imports_on_first_read_only() -> None:
    """In a fresh interpreter: made, not imported; read, imported (the module a follow of an
    in-memory case must not pay for)."""
    code = ("import sys\n"
            "from tracer.core.lazy_import import lazy_module\n"
            "pc = lazy_module('pyarrow.compute')\n"
            "print('pyarrow.compute' in sys.modules)\n"
            "pc.field\n"
            "print('pyarrow.compute' in sys.modules)\n")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, check=True).stdout  # fmt: skip
    assert out.split() == ["False", "True"]


def test_a_patch_of_the_real_module_shows(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import json

    lazy = lazy_module("json")
    assert lazy.dumps is json.dumps
    monkeypatch.setattr(json, "dumps", len)
    assert lazy.dumps is len
