"""Outputs an investigator reads (issue 13.6): paths strongest first, drawn in the direction
the money moved, amounts rounded to the token's decimals with exact strings in JSON."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.analysis.test_follow import write_case
from tests.conftest import SAMPLE_DATA, SAMPLE_LABELS
from tracer.analysis.follow import follow
from tracer.cli import cli
from tracer.core.decimal_text import decimal_text, exact_text, table_text
from tracer.graph.spec import Selection
from tracer.output.render import path_text
from tracer.sources.labels import read_labels
from tracer.store.workspace import Workspace

S, A, B, X = ("0x" + c * 40 for c in "1a2b")
DATA_ARGS = [a for f in SAMPLE_DATA for a in ("--data", str(f))]


def test_paths_are_listed_strongest_first(tmp_path: Path) -> None:
    # B's inflow into X is the larger transfer (8) but it was fed by two 4s: bottleneck 4;
    # A's path has a smaller last transfer (5) and bottleneck 5: it must come first
    data, labels = write_case(tmp_path, [
        (S, A, 5, 1_700_000_000), (S, B, 4, 1_700_000_010), (S, B, 4, 1_700_000_020),
        (A, "0x" + "4" * 40, 5, 1_700_000_030), (B, "0x" + "4" * 40, 8, 1_700_000_040),
    ])  # fmt: skip
    ws, _ = Workspace.in_memory([data], [read_labels(labels)])
    r = follow(ws, [S], top_paths=2)
    paths = r.reached["paths"][0]
    assert [p["strength"] for p in paths] == [5.0, 4.0]
    assert [len(p["hops"]) for p in paths] == [2, 2]


def test_source_paths_run_from_the_origin_to_the_deposit(sample_addresses: dict) -> None:
    ws, _ = Workspace.in_memory(SAMPLE_DATA, [read_labels(SAMPLE_LABELS)])
    deposit = sample_addresses["exchange-a-deposit-1"]
    r = follow(ws, [deposit], direction="backward")
    p = r.reached["paths"][0][0]
    text = path_text(p)
    assert text.startswith(sample_addresses["scam"][:8]) and text.endswith(deposit[:8] + "…")
    res = CliRunner().invoke(cli, ["source", deposit, *DATA_ARGS, "--labels",
                                   str(SAMPLE_LABELS), "--format", "table"])  # fmt: skip
    assert res.exit_code == 0, res.output
    line = next(x for x in res.stdout.splitlines() if x.startswith("Strongest path"))
    assert line.startswith("Strongest path from Pig-butchering wallet")
    assert f"{sample_addresses['scam'][:8]}… → {sample_addresses['peel-1'][:8]}… → " \
           f"{deposit[:8]}…" in line  # fmt: skip


@pytest.mark.parametrize(("v", "decimals", "want"), [
    (115000.00000000001, 6, "115000"), (19565.217391304348, 6, "19565.217391"),
    (0.30000000000000004, 18, "0.3"), (0.0, 6, "0"), (1234567.5, 2, "1234567.5"),
    (2.5e-7, 6, "0"), (1e-12, 18, "0.000000000001"),
])  # fmt: skip
def test_decimal_text_rounds_to_the_token_without_float_noise(v, decimals, want) -> None:  # type: ignore[no-untyped-def]
    assert decimal_text(v, decimals) == want
    assert table_text(v, decimals).replace(",", "") == want


def test_exact_text_is_the_on_chain_integer_scaled() -> None:
    assert exact_text("1500000", 6) == "1.5"
    assert exact_text("123456789012345678901234567890", 18) == "123456789012.34567890123456789"
    assert exact_text("0", 18) == "0"


def test_json_carries_decimal_strings_and_the_table_has_no_float_noise(
    sample_addresses: dict,
) -> None:
    args = ["follow", sample_addresses["scam"], *DATA_ARGS, "--labels", str(SAMPLE_LABELS)]
    doc = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).stdout)
    assert doc["traced_total_decimal"] == "115000"
    hot = next(r for r in doc["reached"] if r["name"] == "Exchange C (hot wallet)")
    assert hot["amount_decimal"] == "19565.217391"  # 150000 · 30/230 at USDT's 6 decimals
    assert Decimal(hot["amount_decimal"]) == round(Decimal(hot["amount"]), 6)
    for s in doc["services"]:
        assert Decimal(s["amount_decimal"]) == round(Decimal(s["amount"]), 6)
    hop = hot["paths"][0]["hops"][-1]
    assert hop["amount_exact"] == "150000" and hop["tainted_decimal"] == "19565.217391"
    assert doc["accounting"]["held_decimal"] == "35434.782609"
    table = CliRunner().invoke(cli, [*args, "--format", "table"]).stdout
    assert "19,565.217391" in table and "115,000 " in table
    assert "19565.2173913" not in table and ".00000000" not in table


def test_max_hops_one_lists_the_direct_receivers_that_passed_it_on(sample_addresses) -> None:  # type: ignore[no-untyped-def]
    ws, _ = Workspace.in_memory(SAMPLE_DATA, [read_labels(SAMPLE_LABELS)])
    r = follow(ws, [sample_addresses["scam"]], Selection(max_hops=1))
    front = dict(zip(r.frontier["address"], r.frontier["amount"], strict=True))
    # peel-1 received 70k at hop 1 and passed all of it on: it was counted, then stopped
    assert front[sample_addresses["peel-1"]] == pytest.approx(70_000.0)
    assert sum(front.values()) == pytest.approx(r.beyond_max_hops)
    assert r.unaccounted == pytest.approx(0.0, abs=1e-6)
    doc = r.to_dict()
    assert doc["hop_limit_frontier"][0]["address"] == sample_addresses["peel-1"]
    assert follow(ws, [sample_addresses["scam"]]).to_dict()["hop_limit_frontier"] == []
