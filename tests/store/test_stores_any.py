"""tracer.store.conversions_table.stores_any on an in-memory workspace: True exactly when one
of its files is a logs file (the only files decoded into conversions and bridge events), so a
follow over plain transfer exports skips the hop producers without changing any answer."""

from __future__ import annotations

from tests.conftest import FIXTURES
from tracer.store import conversions_table as ct
from tracer.store.workspace import Workspace

STREAM = FIXTURES / "ethereum_etl" / "blocks_17173049_17173050"
SAMPLE = FIXTURES / "sample_case"
NAMES = ("conversions", "bridge")


def test_plain_transfer_files_hold_no_conversions_and_say_so() -> None:
    ws, _ = Workspace.in_memory(
        [SAMPLE / "trongrid_scam_wallet.json", SAMPLE / "trongrid_downstream.json"]
    )
    assert ct.stores_any(ws, NAMES) is False
    assert all(ct.read_table(ws, n).height == 0 for n in ct.TABLES)


def test_a_logs_file_may_hold_them() -> None:
    ws, _ = Workspace.in_memory(
        [STREAM / "expected_logs.json", STREAM / "expected_transactions.json"]
    )
    assert ct.stores_any(ws, NAMES) is True
    assert ct.read_conversions(ws).height > 0
