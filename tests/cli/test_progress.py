"""Progress: use cases report through a callback; the command line draws it on a terminal only.

The library side (follow, exposure, synth) is checked with a recording factory: every phase
opens one bar and its advances add up to its total, so a drawn bar ends full. The drawing side
(:mod:`tracer.cli.progress`) draws on stderr when it is a terminal and stays silent when piped
or under ``--quiet``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import SAMPLE_DATA, SAMPLE_LABELS
from tracer.analysis.exposure import ExposureRequest
from tracer.analysis.exposure_run import exposure
from tracer.analysis.follow import follow
from tracer.cli import cli
from tracer.cli import progress as cli_progress
from tracer.core.progress import Advance
from tracer.graph.spec import Selection
from tracer.sources.labels import read_labels
from tracer.store.synth import SynthSpec, synth
from tracer.store.workspace import Workspace


class Recorder:
    """A :class:`~tracer.core.progress.Progress` that writes down what it is told."""

    def __init__(self) -> None:
        self.bars: list[dict] = []

    @contextmanager
    def __call__(self, label: str, total: int, /) -> Iterator[Advance]:
        bar = {"label": label, "total": total, "done": 0}
        self.bars.append(bar)

        def advance(n: int, text: str | None = None, /) -> None:
            bar["done"] += n

        yield advance


@pytest.fixture(scope="module")
def disk_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("progress") / "ws"
    ws = Workspace.open(root, create=True)
    ws.ingest(SAMPLE_DATA)
    ws.add_labels([read_labels(SAMPLE_LABELS)])
    return Workspace.open(root)


def test_streamed_follow_reports_every_row_once(disk_ws: Workspace, sample_addresses) -> None:
    rec = Recorder()
    r = follow(disk_ws, [sample_addresses["scam"]], Selection(stream=True), progress=rec)
    assert r.traced_total > 0
    rows = disk_ws.parts().num_rows
    assert rec.bars == [{"label": "sweep", "total": rows, "done": rows}]


def test_in_memory_follow_opens_no_bar(disk_ws: Workspace, sample_addresses) -> None:
    rec = Recorder()
    follow(disk_ws, [sample_addresses["scam"]], Selection(stream=False), progress=rec)
    assert rec.bars == []  # over in a moment: nothing to draw


def test_exposure_reports_both_directions(disk_ws: Workspace) -> None:
    rec = Recorder()
    rep = exposure(disk_ws, ExposureRequest(addresses=None), progress=rec)
    assert rep.frame.height > 0
    [bar] = rec.bars
    n = rep.metadata["transfers_swept"]
    assert bar == {"label": "exposure sweep", "total": 2 * n, "done": 2 * n} and n > 0


def test_synth_reports_every_transfer(tmp_path: Path) -> None:
    rec = Recorder()
    spec = SynthSpec(transfers=5_000, addresses=2_000, seed=3, days=5, patterns=2, chunk=2_000)
    summary = synth(spec, tmp_path / "ws", progress=rec)
    assert rec.bars == [{"label": "synth", "total": 5_000, "done": 5_000}]
    assert summary["transfers"] == 5_000


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_on_a_terminal_stderr_only(monkeypatch: pytest.MonkeyPatch) -> None:
    err, out = Tty(), Tty()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setattr("sys.stdout", out)
    with cli_progress.terminal(quiet=False)("sweep", 10) as advance:
        advance(10)
    assert "sweep" in err.getvalue() and out.getvalue() == ""


@pytest.mark.parametrize("quiet", [False, True])
def test_no_bar_when_piped_or_quiet(monkeypatch: pytest.MonkeyPatch, quiet: bool) -> None:
    err = Tty() if quiet else io.StringIO()  # quiet: silent even on a terminal
    monkeypatch.setattr("sys.stderr", err)
    with cli_progress.terminal(quiet=quiet)("sweep", 10) as advance:
        advance(10)
    assert err.getvalue() == ""
    assert cli_progress.enabled(quiet) is False


def test_piped_cli_output_is_clean_json(tmp_path: Path, sample_addresses) -> None:
    """Through the command line, piped: stdout holds the JSON document and nothing else."""
    import json

    args = ["follow", sample_addresses["scam"], "--format", "json", "--stream"]
    ws = tmp_path / "ws"
    ingested = CliRunner().invoke(cli, ["ingest", "-q", "-w", str(ws), *map(str, SAMPLE_DATA)])
    assert ingested.exit_code == 0, ingested.output
    res = CliRunner().invoke(cli, [*args, "-w", str(ws)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["traced_total"] > 0
