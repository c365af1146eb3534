"""Per-source breakdown of a multi-source follow (issue 13.6), computed in the same sweep."""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

import tracer.analysis.follow as follow_mod
from tests.conftest import SAMPLE_DATA, SAMPLE_LABELS
from tracer.analysis.follow import follow
from tracer.cli import cli
from tracer.graph.spec import Selection
from tracer.sources.labels import read_labels
from tracer.store.workspace import Workspace

ARGS = [a for f in SAMPLE_DATA for a in ("--data", str(f))] + ["--labels", str(SAMPLE_LABELS)]


@pytest.fixture(scope="module")
def sample_ws() -> Workspace:
    ws, _ = Workspace.in_memory(SAMPLE_DATA, [read_labels(SAMPLE_LABELS)])
    return ws


@pytest.fixture(scope="module")
def two(sample_addresses: dict) -> list[str]:
    return [sample_addresses["scam"], sample_addresses["otc-customer"]]


@pytest.mark.parametrize("model", ["haircut", "taint-first", "clean-first", "poison"])
def test_sources_sum_to_each_service(sample_ws, two, model: str) -> None:  # type: ignore[no-untyped-def]
    r = follow(sample_ws, two, model=model, by_source=True)
    plain = follow(sample_ws, two, model=model, by_source=False)
    assert r.reached.drop("paths").equals(plain.reached.drop("paths"))  # totals untouched
    assert r.by_source is not None and r.by_source.height >= 2
    assert set(r.by_source["source"]) <= set(r.sources)
    per = r.by_source.group_by("name").agg(pl.col("amount").sum(), pl.col("amount").max()
                                           .alias("top"))  # fmt: skip
    want = dict(zip(r.services()["name"], r.services()["amount"], strict=True))
    for name, total, top in per.iter_rows():
        if model == "poison":  # overlapping upper bounds: none exceeds the total
            assert top <= want[name] + 1e-9
        else:
            assert total == pytest.approx(want[name], rel=1e-12)
    if model != "poison":
        assert set(per["name"]) == set(want)


def test_haircut_colour_equals_that_source_traced_alone(sample_ws, sample_addresses) -> None:  # type: ignore[no-untyped-def]
    """Two sources that never pay each other: each colour is that source's own trace."""
    a, b = sample_addresses["peel-1"], sample_addresses["otc-customer"]
    r = follow(sample_ws, [a, b], Selection(through=()), by_source=True)
    for s in (a, b):
        alone = follow(sample_ws, [s], Selection(through=()))
        got = r.by_source.filter(pl.col("source") == s)
        want = alone.services()
        assert dict(zip(got["name"], got["amount"], strict=True)) == pytest.approx(
            dict(zip(want["name"], want["amount"], strict=True)), rel=1e-12)  # fmt: skip


def test_one_sweep_not_one_run_per_source(sample_ws, two, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = []
    real = follow_mod.trace_edges
    monkeypatch.setattr(follow_mod, "trace_edges", lambda *a, **k: calls.append(1) or real(*a, **k))
    r = follow(sample_ws, two, by_source=True)
    assert len(calls) == len(r.accounts) == 1


def test_cli_json_always_and_table_on_request(two) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(CliRunner().invoke(cli, ["follow", *two, *ARGS, "--format", "json"]).stdout)
    assert doc["options"]["by_source"] is True
    rows = doc["by_source"]
    assert {"source", "name", "category", "asset", "amount", "amount_decimal", "share"} <= set(
        rows[0])  # fmt: skip
    plain = CliRunner().invoke(cli, ["follow", *two, *ARGS, "--format", "table"]).stdout
    assert "Reached, by source" not in plain
    table = CliRunner().invoke(cli, ["follow", *two, *ARGS, "--format", "table", "--by-source"])
    assert table.exit_code == 0 and "Reached, by source" in table.stdout
    assert two[0] in table.stdout  # the full source address, never cut


def test_lot_models_refuse_by_source_clearly(two) -> None:  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(cli, ["follow", *two, *ARGS, "--model", "fifo", "--by-source"])
    assert res.exit_code == 2 and "--by-source works with" in res.output
    doc = json.loads(CliRunner().invoke(cli, ["follow", *two, *ARGS, "--model", "fifo",
                                              "--format", "json"]).stdout)  # fmt: skip
    assert "by_source" not in doc and doc["options"]["by_source"] is False
    assert [w["code"] for w in doc["warnings"]] == ["by_source_unavailable"]
