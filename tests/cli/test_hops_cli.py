"""``tracer hops``: every hop with its chains, rule and fact/inferred mark, and the counts."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.analysis import bridge_logs as bl
from tests.conftest import FIXTURES
from tracer.cli import cli
from tracer.sources.base import ReadOptions
from tracer.store.workspace import Workspace

STREAM = FIXTURES / "ethereum_etl" / "blocks_17173049_17173050"
USDC_ETH = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
USDC_BASE = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"
BOB = "0x" + "22" * 20


def _workspace(tmp: Path) -> Path:
    ws = Workspace.open(tmp / "ws", create=True)
    ws.ingest([STREAM / "expected_transactions.json", STREAM / "expected_logs.json"])
    burns = [bl.burn("ethereum", "0x" + "a1" * 32, 5, 1_700_000_000, nonce=1, token=USDC_ETH,
                     amount=5, sender=BOB, recipient=BOB, dest_domain=6),
             bl.burn("ethereum", "0x" + "a2" * 32, 5, 1_700_000_100, nonce=2, token=USDC_ETH,
                     amount=6, sender=BOB, recipient=BOB, dest_domain=6)]  # fmt: skip
    mint = bl.mint("base", "0x" + "b1" * 32, 3, 1_700_000_900, nonce=1, source_domain=0,
                   token=USDC_BASE, amount=5, recipient=BOB)  # fmt: skip
    ws.ingest([bl.rpc_file(tmp / "eth.json", burns)], options=ReadOptions(chain="ethereum"))
    ws.ingest([bl.rpc_file(tmp / "base.json", mint)], options=ReadOptions(chain="base"))
    return tmp / "ws"


def test_hops_json_lists_every_kind_with_counts_that_add_up(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    r = CliRunner().invoke(cli, ["hops", "-w", str(ws), "--format", "json", "-q"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    kinds = {h["kind"] for h in doc["hops"]}
    assert kinds == {"swap", "wrap", "bridge"}
    bridges = doc["counts"]["bridges"]
    assert bridges["hops"] == 1 and bridges["unmatched legs"] == 1  # nonce 2 was never minted
    assert bridges["legs"] == 2 * bridges["hops"] + bridges["unmatched legs"]
    assert sum(doc["inferred_share"].values()) == len(doc["hops"])
    (b,) = [h for h in doc["hops"] if h["kind"] == "bridge"]
    assert (b["chain_in"], b["chain_out"], b["inferred"]) == ("ethereum", "base", False)


def test_hops_kind_filter_csv_and_bad_kind(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    out = tmp_path / "bridges.csv"
    r = CliRunner().invoke(cli, ["hops", "-w", str(ws), "--kind", "bridge", "--format", "csv",
                                 "-o", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    lines = out.read_text().splitlines()
    assert len(lines) == 2 and ",bridge," in lines[1]
    assert "bridges: unmatched: counterpart not in the workspace" in r.output
    bad = CliRunner().invoke(cli, ["hops", "-w", str(ws), "--kind", "teleport"])
    assert bad.exit_code == 2


def test_a_malformed_user_registry_stops_ingest_naming_file_row_and_field(tmp_path: Path
                                                                          ) -> None:  # fmt: skip
    bad = tmp_path / "bridges.csv"
    bad.write_text("chain,contract,protocol,role,link,domain,event,fields\n"
                   'base,0x12345,toy,source,source-tx,,"E(uint256 a)",amount=a\n')  # fmt: skip
    r = CliRunner().invoke(cli, ["ingest", "-w", str(tmp_path / "ws"),
                                 str(STREAM / "expected_logs.json")],
                           env={"TRACER_BRIDGES": str(bad)})  # fmt: skip
    assert r.exit_code == 2, r.output
    assert str(bad) in r.output and "row 1" in r.output and "contract" in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "ws" / "conversions").exists()  # nothing half-written


def test_hops_from_data_files_in_memory_equal_the_workspace(tmp_path: Path) -> None:
    files = [str(STREAM / "expected_logs.json"), str(STREAM / "expected_transactions.json")]
    mem = CliRunner().invoke(cli, ["hops", "--data", files[0], "--data", files[1],
                                   "--format", "json", "-q"])  # fmt: skip
    assert mem.exit_code == 0, mem.output
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest(files)
    disk = CliRunner().invoke(cli, ["hops", "-w", str(tmp_path / "ws"), "--format", "json", "-q"])
    assert disk.exit_code == 0, disk.output
    assert json.loads(mem.output)["hops"] == json.loads(disk.output)["hops"]
    assert len(json.loads(mem.output)["hops"]) == 61
