"""``tracer ingest`` / ``synth`` compute the local follow's stored balance passes after the
commit (issue 17.1), so the first ``follow`` reads them; ``--no-precompute`` leaves them to
that question (and says nothing is stored)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from tests.analysis.test_local_prior_append import _rows
from tests.store.test_store_append import ADDR, rows_csv
from tracer.cli import cli


def _engine_reason(ws: Path, address: str, command: str = "follow") -> str:
    r = CliRunner().invoke(cli, [command, address, "-w", str(ws), "--format", "json",
                                 "--engine-follow", "local"])  # fmt: skip
    assert r.exit_code == 0, r.output
    return str(json.loads(r.stdout)["options"]["engine_reason"])


def _priors(ws: Path) -> list[Path]:
    return sorted(ws.glob("g*/case/prior-*.who.npy"))


def test_ingest_precomputes_and_the_first_follow_reads_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    ws = tmp_path / "ws"
    a = rows_csv(tmp_path / "a.csv", _rows(rng, 1, 60, 0))
    r = CliRunner().invoke(cli, ["ingest", "-w", str(ws), "--json", str(a)])
    assert r.exit_code == 0, r.output
    pre = json.loads(r.stdout)["precompute"]
    assert pre["skipped"] is None
    assert sorted((s["direction"], s["origin"]) for s in pre["selections"]) == [
        ("backward", "computed"), ("forward", "computed")]
    assert len(_priors(ws)) == 2
    assert "read as stored" in _engine_reason(ws, ADDR[0])
    assert "read as stored" in _engine_reason(ws, ADDR[0], "source")
    # an append: continued at ingest, read by the next follow
    b = rows_csv(tmp_path / "b.csv", _rows(rng, 1000, 15, 1))
    r = CliRunner().invoke(cli, ["ingest", "-w", str(ws), "--json", str(b)])
    assert r.exit_code == 0, r.output
    assert {s["origin"] for s in json.loads(r.stdout)["precompute"]["selections"]} == {
        "continued over the 15 transfers appended since"}
    assert "read as stored" in _engine_reason(ws, ADDR[0])


def test_no_precompute_leaves_the_pass_to_the_first_follow(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    a = rows_csv(tmp_path / "a.csv", _rows(np.random.default_rng(5), 1, 60, 0))
    r = CliRunner().invoke(cli, ["ingest", "-w", str(ws), "--json", "--no-precompute", str(a)])
    assert r.exit_code == 0, r.output
    assert "precompute" not in json.loads(r.stdout)
    assert _priors(ws) == []
    assert "ran now" in _engine_reason(ws, ADDR[0])


def test_synth_builds_the_graph_cache_and_the_passes(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    r = CliRunner().invoke(cli, ["synth", "--transfers", "5000", "--addresses", "2000",
                                 "--patterns", "2", "-o", str(ws), "-q"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert list(ws.glob("g*/graph/levels.json")) and len(_priors(ws)) == 2
    scam = json.loads((ws / "ground_truth.json").read_text())["patterns"][0]["scam"]
    assert "read as stored" in _engine_reason(ws, scam)
    bare = tmp_path / "bare"
    r = CliRunner().invoke(cli, ["synth", "--transfers", "5000", "--addresses", "2000",
                                 "--patterns", "2", "-o", str(bare), "-q", "--no-precompute"])
    assert r.exit_code == 0, r.output
    assert not list(bare.glob("g*/graph/levels.json")) and _priors(bare) == []


def test_a_failing_precompute_leaves_the_ingest_committed_and_says_so(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from tracer.analysis import precompute

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(precompute, "precompute_case", boom)
    ws = tmp_path / "ws"
    a = rows_csv(tmp_path / "a.csv", _rows(np.random.default_rng(6), 1, 40, 0))
    r = CliRunner().invoke(cli, ["ingest", "-w", str(ws), str(a)])
    assert r.exit_code == 0, r.output
    assert "computing the stored balance passes failed (RuntimeError: disk on fire)" in r.output
    monkeypatch.undo()
    assert "ran now" in _engine_reason(ws, ADDR[0])
