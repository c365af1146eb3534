"""Exposure outputs (issue 13.6): CSV is CSV, unknown suffixes are refused, a short list gets a
table, and the accounting with --max-hops 1 keeps direct exposure complete."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tests.conftest import SAMPLE_DATA, SAMPLE_LABELS
from tracer.analysis.exposure import ExposureRequest
from tracer.analysis.exposure_run import exposure
from tracer.cli import cli
from tracer.graph.spec import Selection
from tracer.sources.labels import read_labels
from tracer.store.workspace import Workspace

ARGS = [a for f in SAMPLE_DATA for a in ("--data", str(f))] + ["--labels", str(SAMPLE_LABELS)]


def test_csv_output_is_csv_with_metadata_beside_it(tmp_path: Path) -> None:
    out = tmp_path / "exposure.csv"
    res = CliRunner().invoke(cli, ["exposure", "--all", "-o", str(out), *ARGS])
    assert res.exit_code == 0, res.output
    assert not out.read_bytes().startswith(b"PAR1")  # never Parquet under a .csv name
    f = pl.read_csv(out)
    assert f.columns[:4] == ["address", "chain", "asset", "direction"] and f.height > 20
    meta = json.loads((tmp_path / "exposure.csv.meta.json").read_text())
    assert meta["model"] == "haircut" and meta["command_line"][:2] == ["tracer", "exposure"]


def test_json_output_and_refused_suffix(tmp_path: Path) -> None:
    out = tmp_path / "exposure.json"
    assert CliRunner().invoke(cli, ["exposure", "--all", "-o", str(out), *ARGS]).exit_code == 0
    doc = json.loads(out.read_text())
    assert {"metadata", "rows"} == set(doc) and doc["rows"][0]["asset"] == "USDT"
    bad = tmp_path / "exposure.xlsx"
    res = CliRunner().invoke(cli, ["exposure", "--all", "-o", str(bad), *ARGS])
    assert res.exit_code == 2 and ".parquet" in res.output and ".csv" in res.output
    assert not bad.exists()


def test_short_list_prints_a_table_and_all_needs_a_file(
    tmp_path: Path, sample_addresses: dict
) -> None:
    lst = tmp_path / "screen.txt"
    lst.write_text(f"{sample_addresses['exchange-c-hot']}\n")
    res = CliRunner().invoke(cli, ["exposure", str(lst), "--direction", "in", *ARGS])
    assert res.exit_code == 0, res.output
    row = next(x for x in res.stdout.splitlines() if "│ scam" in x)
    assert sample_addresses["exchange-c-hot"] in row and "19,565.217391" in row
    assert "13.0%" in row
    res = CliRunner().invoke(cli, ["exposure", "--all", *ARGS])
    assert res.exit_code == 2 and "give -o FILE" in res.output


@pytest.mark.parametrize("model", ["haircut", "taint-first", "clean-first"])
@pytest.mark.parametrize("max_hops", [None, 1, 2])
def test_accounting_closes_and_hop_one_is_complete(model: str, max_hops: int | None) -> None:
    ws, _ = Workspace.in_memory(SAMPLE_DATA, [read_labels(SAMPLE_LABELS)])
    req = ExposureRequest(addresses=None, model=model, selection=Selection(max_hops=max_hops))
    rep = exposure(ws, req)
    direct_rows = rep.frame.filter(pl.col("direction") == "in").group_by("category").agg(
        pl.col("direct_amount").sum())  # fmt: skip
    for direction, acc in rep.metadata["accounting"].items():
        if direction != "in":
            continue
        for cat, a in acc["per_category"].items():
            assert a["seeded"] == pytest.approx(
                a["held"] + a["absorbed_by_labelled"] + a["dust"] + a["beyond_max_hops"],
                abs=1e-6,
            ), cat
            # direct exposure is complete whatever the hop limit: all seeded arrived at hop 1
            assert a["direct"] == pytest.approx(a["seeded"] - a["dust"], abs=1e-6), cat
            got = direct_rows.filter(pl.col("category") == cat)["direct_amount"]
            assert (got.sum() if got.len() else 0.0) == pytest.approx(a["direct"], abs=1e-6)
    scam = rep.metadata["accounting"]["in"]["per_category"]["scam"]
    assert scam["direct"] == pytest.approx(115_000.0)
    if max_hops == 1:
        assert scam["indirect"] == 0.0 and scam["beyond_max_hops"] > 0
