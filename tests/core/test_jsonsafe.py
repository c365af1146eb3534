"""Deeply nested JSON is an error, never a crash, even after web3 raised the recursion limit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_deep_json_everywhere_is_an_error_after_web3_is_imported(tmp_path: Path) -> None:
    """In a fresh process (web3 imported first, as the CLI does): every JSON reader refuses
    ``[`` x 100,000 with an error; before the cap the process died of a segmentation fault."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "manifest.json").write_text("[" * 100_000)
    code = textwrap.dedent(f"""
        import sys, web3  # noqa: F401  (raises the recursion limit to 100000)
        assert sys.getrecursionlimit() >= 100000
        from pathlib import Path
        from tracer.core import jsonsafe
        from tracer.core.errors import TracerError
        from tracer.sources import read_file
        from tracer.sources.labels import read_labels
        from tracer.store.manifest import is_workspace
        try:
            jsonsafe.parse(Path({str(deep)!r}).read_text())
        except RecursionError:
            print("parse: RecursionError")
        for name, call in (("read_file", lambda: read_file(Path({str(deep)!r}))),
                           ("read_labels", lambda: read_labels({str(deep)!r}))):
            try:
                call()
            except TracerError as exc:
                print(name + ": " + type(exc).__name__)
        print("is_workspace:", is_workspace(Path({str(ws)!r})))
        print("limit restored:", sys.getrecursionlimit() >= 100000)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "parse: RecursionError"
    assert lines[1].startswith("read_file: ") and lines[2].startswith("read_labels: ")
    assert lines[3:] == ["is_workspace: False", "limit restored: True"]
