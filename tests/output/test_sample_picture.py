"""The README's picture: the committed PNG is the sample case's flow graph, and the documented
command (fixtures/sample_case/sample_case_graph.cmd) regenerates it."""

from __future__ import annotations

import shlex
import shutil
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT, SAMPLE
from tracer.cli import cli

PNG = SAMPLE / "sample_case_graph.png"
COMMAND = SAMPLE / "sample_case_graph.cmd"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    return w, h


def test_the_committed_picture_is_a_wide_png() -> None:
    w, h = png_size(PNG.read_bytes())
    assert w > 2 * h > 300  # left to right: sources to services


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_the_documented_command_regenerates_it(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    text = COMMAND.read_text().split("\n", 1)[1].replace("\\\n", " ")
    assert text.rstrip().endswith("> /dev/null")  # stdout: the JSON, not wanted here
    args = shlex.split(text.rstrip().removesuffix("> /dev/null"))
    assert args[0] == "tracer" and "--graph" in args
    out = tmp_path / "picture.png"
    args[args.index("--graph") + 1] = str(out)
    r = CliRunner().invoke(cli, args[1:], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    new, old = png_size(out.read_bytes()), png_size(PNG.read_bytes())
    # same layout (Graphviz builds may differ in a pixel of font metrics, not in the picture)
    assert abs(new[0] - old[0]) <= 0.05 * old[0] and abs(new[1] - old[1]) <= 0.05 * old[1]
