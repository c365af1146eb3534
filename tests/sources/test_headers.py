"""Header auto-mapping: the synonyms real exports use map onto canonical names."""

from __future__ import annotations

import pytest

from tracer.sources.headers import auto_map, infer_chain, normalise


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("DateTime (UTC)", "datetime"),
        (" From-Address ", "from_address"),
        ("block.time", "block_time"),
        ('"tx_id"', "tx_id"),
    ],
)
def test_normalise(raw: str, norm: str) -> None:
    assert normalise(raw) == norm


def test_tronscan_api_fields() -> None:
    m = auto_map(["transaction_id", "block_ts", "from_address", "to_address", "quant",
                  "token_id", "token_decimal", "contract_ret"])
    assert m is not None
    assert m.columns == {
        "tx_hash": "transaction_id", "src": "from_address", "dst": "to_address",
        "value": "quant", "ts": "block_ts", "token": "token_id", "decimals": "token_decimal",
    }
    assert not m.missing_hash


def test_dune_prefers_exact_value_and_reports_ignored_amount() -> None:
    m = auto_map(["block_time", "from", "to", "value", "amount", "hash", "contract_address",
                  "symbol"])
    assert m is not None
    assert m.columns["value"] == "value" and "amount" not in m.columns
    assert m.ignored == {"amount": "scaled amount ignored: the exact integer column is used"}
    assert m.columns["token"] == "contract_address" and m.columns["asset"] == "symbol"


def test_dune_without_hash_is_flagged() -> None:
    m = auto_map(["block_time", "from", "to", "amount"])
    assert m is not None and m.missing_hash and m.columns["amount"] == "amount"


def test_user_map_wins_and_its_columns_are_not_reused() -> None:
    m = auto_map(["sender", "from", "to", "value", "time"], {"src": "sender"})
    assert m is not None
    assert m.columns["src"] == "sender"
    assert "from" not in m.columns.values()


def test_not_a_transfer_header() -> None:
    assert auto_map(["name", "address", "category"]) is None
    assert auto_map(["from", "to", "value"]) is None  # no time


def test_view_column_distinct_from_sender() -> None:
    m = auto_map(["wallet", "hash", "from", "to", "value", "timestamp"])
    assert m is not None and m.columns["view"] == "wallet"


def test_infer_chain() -> None:
    tron = ["TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx", "TTqBGPuxz5Q4rXb3UpaGaDi6QbtDRbKTYk"]
    assert infer_chain(tron) == "tron"
    assert infer_chain([*tron, None, ""]) == "tron"
    assert infer_chain(["0x" + "ab" * 20]) is None  # EVM: Ethereum, BSC, ... cannot be told
    assert infer_chain([tron[0], "0x" + "ab" * 20]) is None  # a mix infers nothing
    assert infer_chain([]) is None
