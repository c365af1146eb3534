"""A trace that finds nothing says why (issue 13.4): table, JSON ``warnings``, exit code 0."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from click.testing import CliRunner

from tests.conftest import SAMPLE, SAMPLE_DATA, SAMPLE_LABELS
from tracer.analysis.follow import follow
from tracer.cli import cli
from tracer.graph.spec import Selection
from tracer.sources.labels import read_labels
from tracer.store.workspace import Workspace

TRX_ONLY = SAMPLE / "trongrid_trx_gas.json"  # real-shaped TronGrid export of TRX transfers only


def codes(r) -> list[str]:  # type: ignore[no-untyped-def]
    return [w["code"] for w in r.warnings]


@pytest.fixture(scope="module")
def sample_ws() -> Workspace:
    ws, _ = Workspace.in_memory(SAMPLE_DATA, [read_labels(SAMPLE_LABELS)])
    return ws


def test_default_stablecoin_selection_on_a_trx_only_workspace_names_what_is_there(
    sample_addresses: dict[str, str],
) -> None:
    ws, _ = Workspace.in_memory([TRX_ONLY], [])
    r = follow(ws, [sample_addresses["exchange-c-hot"]])
    assert r.traced_total == 0 and codes(r) == ["no_transfers_in_selection"]
    msg = r.warnings[0]["message"]
    assert msg == ("no stablecoin transfers; this workspace holds TRX (6 transfers): "
                   "use --asset TRX")  # fmt: skip
    assert r.to_dict()["warnings"] == r.warnings
    # and the suggestion works
    trx = follow(ws, [sample_addresses["exchange-c-hot"]], Selection(assets="TRX"))
    assert trx.traced_total > 0


def test_cli_empty_trace_exits_0_with_the_warning_in_json_and_table(
    sample_addresses: dict[str, str],
) -> None:
    args = ["follow", sample_addresses["exchange-c-hot"], "--data", str(TRX_ONLY)]
    res = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [w["code"] for w in doc["warnings"]] == ["no_transfers_in_selection"]
    assert "use --asset TRX" in res.stderr  # said aloud too: a piped JSON is not read by eye
    table = CliRunner().invoke(cli, [*args, "--format", "table"])
    assert table.exit_code == 0
    assert "Warning: no stablecoin transfers; this workspace holds TRX" in table.stdout


def test_window_without_source_outflows_gives_their_range(
    sample_ws: Workspace, sample_addresses: dict[str, str]
) -> None:
    r = follow(sample_ws, [sample_addresses["scam"]],
               Selection(since=datetime.fromisoformat("2025-01-01T00:00:00+00:00")))  # fmt: skip
    assert r.traced_total == 0 and codes(r) == ["window_empty"]
    msg = r.warnings[0]["message"]
    assert "no outgoing stablecoin transfers of the sources in the window (from 2025-01-01" in msg
    assert "theirs run from 2024-03-0" in msg


def test_a_wallet_that_only_receives_is_pointed_to_source(
    sample_ws: Workspace, sample_addresses: dict[str, str]
) -> None:
    victim = sample_addresses["exchange-a-deposit-1"]
    r = follow(sample_ws, [victim])
    out_of_it = sample_ws.transfers().filter(src=victim).height
    if out_of_it:
        pytest.skip("the sample deposit address sends too")
    assert codes(r) == ["no_source_transfers"]
    assert "incoming" in r.warnings[0]["message"]
    assert "trace back with tracer source" in r.warnings[0]["message"]
    back = follow(sample_ws, [victim], direction="backward")
    assert back.traced_total > 0 and back.warnings == []


def test_partly_missing_sources_and_no_labels_are_warned(
    sample_addresses: dict[str, str],
) -> None:
    ws, _ = Workspace.in_memory(SAMPLE_DATA, [])
    r = follow(ws, [sample_addresses["scam"], "0x" + "9" * 40])
    assert r.traced_total > 0
    assert codes(r) == ["sources_not_found", "no_labels"]
    assert "0x" + "9" * 40 in r.warnings[0]["message"]


def test_a_normal_trace_has_no_warnings(
    sample_ws: Workspace, sample_addresses: dict[str, str]
) -> None:
    assert follow(sample_ws, [sample_addresses["scam"]]).warnings == []


def test_streamed_empty_selection_counts_the_partitions(
    tmp_path, sample_addresses: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([TRX_ONLY])
    r = follow(
        Workspace.open(tmp_path / "ws"), [sample_addresses["exchange-c-hot"]],
        Selection(stream=True),
    )  # fmt: skip
    assert "this workspace holds TRX (6 transfers)" in r.warnings[0]["message"]


def test_absent_sources_stop_with_what_the_data_holds(sample_ws: Workspace) -> None:
    from tracer.core.errors import UsageError

    with pytest.raises(UsageError, match=r"none of the addresses.*the data holds \d+ addresses "
                                         r"on tron"):  # fmt: skip
        follow(sample_ws, ["0x" + "9" * 40])
