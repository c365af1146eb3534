"""The store never deletes a user's file, never follows a manifest out of the workspace, and
commits durably (issue 12, points 1, 6 and 7)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import SAMPLE_DATA, SAMPLE_LABELS
from tracer.cli import cli
from tracer.core.atomic import batch_dir
from tracer.core.errors import WorkspaceError
from tracer.sources.labels import read_labels
from tracer.store import generation
from tracer.store.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tracer.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def user_files(root: Path) -> dict[str, bytes]:
    """A user's folder with every kind of file the old cleanup deleted."""
    files = {
        "graphs/plot.png": b"png",
        "gdrive_exports/x.json": b"[]",
        "g1/notes.txt": b"a folder named like a generation",
        "labels/mine.csv": b"address,name,category\n",
        "entities/people.parquet": b"not parquet",
        ".x.tmp": b"editor swap",
        ".manifest.json.abcd1234.tmp": b"looks like an old tracer temp",
        "tmpnotours/batch-1.json": b"{}",
        "notes.md": b"# case",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def assert_intact(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        assert (root / rel).read_bytes() == data, rel


def test_non_empty_folder_that_is_not_a_workspace_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("mine")
    with pytest.raises(WorkspaceError, match=r"not a tracer workspace.*--init"):
        Workspace.open(tmp_path, create=True)
    res = run("ingest", "-q", "-w", str(tmp_path), str(SAMPLE_DATA[0]))
    assert res.returncode == 3 and "--init" in res.stderr and "Traceback" not in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.md"]  # nothing written
    with pytest.raises(WorkspaceError, match="not a tracer workspace"):
        Workspace.open(tmp_path)  # a read command names the problem too


def test_init_workspace_keeps_every_user_file_through_all_writes(tmp_path: Path) -> None:
    files = user_files(tmp_path)
    ws = Workspace.open(tmp_path, create=True, init=True)
    ws.ingest([SAMPLE_DATA[0]])
    ws.ingest([SAMPLE_DATA[1]])  # second generation: the first is deleted, the user's g1/ not
    ws.add_labels([read_labels(SAMPLE_LABELS)])
    ws.add_labels([read_labels(tmp_path / "labels" / "mine.csv", category="scam")])
    ws.save_entities(*_entities(ws))
    ws.ingest([SAMPLE_DATA[0]])  # a no-op re-ingest runs cleanup too
    assert_intact(tmp_path, files)
    assert Workspace.open(tmp_path).info()["transfers"] == 24
    # tracer's own superseded generations are gone; the user's g1/ kept only its own file
    assert sorted(p.name for p in (tmp_path / "g1").iterdir()) == ["notes.txt"]


def _entities(ws: Workspace) -> tuple:
    import polars as pl

    e = pl.DataFrame({"address": ["a"], "entity_id": [1]})
    return e, pl.DataFrame({"a": ["a"], "b": ["b"]}), {"rule": "test"}


def test_labels_add_never_deletes_the_file_it_was_given(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run("ingest", "-q", "-w", str(ws), str(SAMPLE_DATA[0])).returncode == 0
    (ws / "labels").mkdir(exist_ok=True)
    mine = ws / "labels" / "mine.csv"
    shutil.copy(SAMPLE_LABELS, mine)
    res = run("labels", "add", "-w", str(ws), str(mine))
    assert res.returncode == 0, res.stderr
    assert mine.read_bytes() == SAMPLE_LABELS.read_bytes()
    res = run("labels", "add", "-w", str(ws), str(mine), "--category", "scam")
    assert res.returncode == 0 and mine.exists()


def test_ingest_into_dot_keeps_the_input(tmp_path: Path) -> None:
    case = tmp_path / "case"
    (case / "gdrive").mkdir(parents=True)
    x = case / "gdrive" / "x.json"
    shutil.copy(SAMPLE_DATA[0], x)
    refused = run("ingest", "-q", "-w", ".", "gdrive/x.json", cwd=case)
    assert refused.returncode == 3 and "--init" in refused.stderr
    ok = run("ingest", "-q", "--init", "-w", ".", "gdrive/x.json", cwd=case)
    assert ok.returncode == 0, ok.stderr
    again = run("ingest", "-q", "-w", ".", "gdrive/x.json", str(SAMPLE_DATA[1]), cwd=case)
    assert again.returncode == 0, again.stderr
    assert x.read_bytes() == SAMPLE_DATA[0].read_bytes()
    assert Workspace.open(case).info()["transfers"] == 24


def test_cli_labels_add_init_flag(tmp_path: Path) -> None:
    (tmp_path / "case.md").write_text("mine")
    r = CliRunner().invoke(cli, ["labels", "add", "-w", str(tmp_path), str(SAMPLE_LABELS)])
    assert r.exit_code == 3 and "--init" in r.output
    r = CliRunner().invoke(cli, ["labels", "add", "--init", "-w", str(tmp_path),
                                 str(SAMPLE_LABELS)])  # fmt: skip
    assert r.exit_code == 0 and (tmp_path / "case.md").read_text() == "mine"


def test_crash_leftovers_are_removed_but_only_tracers(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path, create=True)
    ws.ingest([SAMPLE_DATA[0]])
    ws.close()
    # what a killed writer leaves: an unfinished generation, temp files, an RPC batch folder
    orphan = tmp_path / "g7"
    (orphan / "transfers").mkdir(parents=True)
    (orphan / generation.mf.GEN_MARKER).write_text("")
    (orphan / "transfers" / "part-2024-01-000.parquet").write_bytes(b"half")
    (tmp_path / ".manifest.json.ab12cd34.tracer-tmp").write_text("{")
    for d in (".tracer-batch-ab12cd34", "tmpab12cd34"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "batch-123.json").write_text("{}")
        os.utime(tmp_path / d, (1_700_000_000, 1_700_000_000))  # left by a run killed earlier
    (tmp_path / "tmp-keep-mine").mkdir()  # a user's tmp folder: not our exact name
    (tmp_path / "tmp-keep-mine" / "batch-1.json").write_text("{}")
    (tmp_path / "tmpab12cd35").mkdir()  # our name but holding a user's file: kept
    (tmp_path / "tmpab12cd35" / "report.pdf").write_text("x")
    Workspace.open(tmp_path).ingest([SAMPLE_DATA[1]])
    names = {p.name for p in tmp_path.iterdir()}
    assert not {"g7", ".manifest.json.ab12cd34.tracer-tmp", ".tracer-batch-ab12cd34",
                "tmpab12cd34"} & names  # fmt: skip
    assert (tmp_path / "tmp-keep-mine" / "batch-1.json").exists()
    assert (tmp_path / "tmpab12cd35" / "report.pdf").exists()


def test_a_live_batch_folder_survives_another_writers_cleanup(tmp_path: Path) -> None:
    Workspace.open(tmp_path, create=True).ingest([SAMPLE_DATA[0]])
    with batch_dir(tmp_path) as live:
        (live / "batch-7.json").write_text("{}")
        os.utime(live, (1_700_000_000, 1_700_000_000))  # old, but its owner holds the lock
        Workspace.open(tmp_path).ingest([SAMPLE_DATA[1]])  # a writer cleans up meanwhile
        assert (live / "batch-7.json").exists()
    assert not live.exists()  # removed by its owner when done


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m["parts"][0].update(file="../../x.parquet"), r"parts\[0\]\.file"),
        (lambda m: m["parts"][0].update(file="/etc/passwd"), r"parts\[0\]\.file"),
        (lambda m: m["parts"][0].update(rows="many"), r"parts\[0\]\.rows"),
        (lambda m: m.update(parts={"a": 1}), "parts"),
        (lambda m: m.update(labels="../../secrets.parquet"), "labels"),
        (lambda m: m.update(labels=7), "labels"),
        (lambda m: m.update(addresses=["../addresses.parquet"]), r"addresses\[0\]"),
        (lambda m: m.update(generation="2"), "generation"),
        (lambda m: m.update(generation=99), "g99 is missing"),
        (lambda m: m.update(rpc_checkpoints={"ethereum:x": "soon"}), "rpc_checkpoints"),
        (lambda m: m.update(entities={"entities": "/tmp/e.parquet"}), "entities"),
    ],
)
def test_hand_edited_manifest_is_a_clear_damage_error(tmp_path: Path, edit, message: str) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest(SAMPLE_DATA)
    ws.add_labels([read_labels(SAMPLE_LABELS)])
    ws.close()
    outside = tmp_path / "x.parquet"
    shutil.copy(next((tmp_path / "ws").glob("g*/transfers/part-*.parquet")), outside)
    mpath = tmp_path / "ws" / "manifest.json"
    m = json.loads(mpath.read_text())
    edit(m)
    mpath.write_text(json.dumps(m))
    with pytest.raises(WorkspaceError, match=r"workspace damaged: .*" + message):
        Workspace.open(tmp_path / "ws").info()
    with pytest.raises(WorkspaceError, match="workspace damaged"):
        Workspace.open(tmp_path / "ws").ingest([SAMPLE_DATA[0]])
    res = run("info", "-w", str(tmp_path / "ws"))
    assert res.returncode == 3 and "workspace damaged" in res.stderr
    assert "Traceback" not in res.stderr
    assert outside.exists()


@pytest.mark.parametrize("text", ["[1, 2]", '"x"', "null", '{"version": 2}'])
def test_manifest_of_the_wrong_shape_is_damage(tmp_path: Path, text: str) -> None:
    Workspace.open(tmp_path, create=True).ingest([SAMPLE_DATA[0]])
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(WorkspaceError, match=r"workspace damaged|format"):
        Workspace.open(tmp_path).info()


def test_commit_fsyncs_data_then_folders_then_manifest(tmp_path: Path, monkeypatch) -> None:
    ws = Workspace.open(tmp_path, create=True)
    ws.ingest([SAMPLE_DATA[0]])
    events: list[tuple[str, str]] = []
    real_file, real_dir = generation.fsync_tree.__globals__["fsync_file"], generation.fsync_dir
    import tracer.core.atomic as atomic

    def f_file(p: Path) -> None:
        events.append(("file", str(Path(p).relative_to(tmp_path))))
        real_file(p)

    def f_dir(p: Path) -> None:
        events.append(("dir", str(Path(p).resolve().relative_to(tmp_path.resolve()))))
        real_dir(p)

    real_replace = os.replace

    def replace(a, b) -> None:  # type: ignore[no-untyped-def]
        events.append(("rename", Path(b).name))
        real_replace(a, b)

    monkeypatch.setattr(atomic, "fsync_file", f_file)
    monkeypatch.setattr(atomic, "fsync_dir", f_dir)
    monkeypatch.setattr(generation, "fsync_dir", f_dir)
    monkeypatch.setattr(atomic.os, "replace", replace)
    ws.ingest([SAMPLE_DATA[1]])
    commit = events.index(("rename", "manifest.json"))
    before = events[:commit]
    parts = [i for i, e in enumerate(before) if e[0] == "file" and "part-" in e[1]]
    assert parts, "partition files were never fsynced"
    dirs = [i for i, e in enumerate(before) if e == ("dir", "g2/transfers")]
    assert dirs and min(dirs) > max(parts)  # data, then its folder ...
    assert ("dir", ".") in before[max(dirs):]  # ... then the workspace folder, then the manifest
    assert events[commit + 1] == ("dir", ".")  # and the rename itself is made durable
