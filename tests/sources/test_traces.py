"""Internal value transfers from traces, checked against ethereum-etl's own expected outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES
from tracer.core.errors import InputError
from tracer.sources import ReadOptions, detect, read_file
from tracer.sources import traces as tr
from tracer.sources.sample import sample

TRACES = FIXTURES / "ethereum_etl" / "traces"
BLOCKS = ["block_with_create", "block_with_error", "block_with_subtraces", "block_with_suicide"]
TS = 1_446_000_000_000_000  # µs; trace exports carry block numbers only


def blocks_for(*numbers: int) -> ReadOptions:
    frame = pl.DataFrame(
        {"chain": [None] * len(numbers), "block": list(numbers), "ts": [TS] * len(numbers)},
        schema={"chain": pl.String, "block": pl.Int64, "ts": pl.Int64},
    )
    return ReadOptions(blocks=frame)


def parity_file(block: str) -> Path:
    return next((TRACES / "parity" / block).glob("web3_response.trace_block_*.json"))


def geth_file(block: str) -> Path:
    return next((TRACES / "geth" / block).glob("web3_response.debug_traceBlockByNumber_*.json"))


def expected_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text().splitlines()))


def expected_transfers(rows: list[dict[str, str]]) -> list[tuple[str, str, str, str]]:
    """What must load, by ethereum-etl's own columns: succeeded value-moving call/create/suicide."""
    keep = []
    for r in rows:
        moves = r["trace_type"] in ("call", "create", "suicide") and r["call_type"] in (
            "",
            "call",
        )
        if moves and r["status"] == "1" and int(r["value"] or 0) > 0:
            keep.append((r["transaction_hash"], r["from_address"], r["to_address"], r["value"]))
    return sorted(keep)


def got(frame: pl.DataFrame) -> list[tuple[str, str, str, str]]:
    return sorted(frame.select("tx_hash", "src", "dst", "value").iter_rows())


def block_number(block: str) -> int:
    return int(expected_csv(TRACES / "parity" / block / "expected_traces.csv")[0]["block_number"])


@pytest.mark.parametrize("block", BLOCKS)
def test_parity_trace_block_loads_what_ethereum_etl_says_moved(block: str) -> None:
    rows = expected_csv(TRACES / "parity" / block / "expected_traces.csv")
    loaded = read_file(parity_file(block), options=blocks_for(block_number(block)))
    assert loaded.format == "parity-traces"
    assert got(loaded.transfers) == expected_transfers(rows)
    assert loaded.transfers["token"].null_count() == loaded.transfers.height  # native coin
    assert set(loaded.transfers["asset"].to_list()) <= {"ETH"}
    # every trace is either loaded or skipped with a reason
    assert loaded.read == loaded.transfers.height + sum(loaded.skipped.values())
    # and the CSV ethereum-etl wrote from the same response loads identically
    from_csv = read_file(TRACES / "parity" / block / "expected_traces.csv", options=blocks_for(
        block_number(block)))  # fmt: skip
    assert from_csv.format == "ethereum-etl-traces"
    assert from_csv.transfers.equals(loaded.transfers)
    assert from_csv.skipped == loaded.skipped


@pytest.mark.parametrize("block", BLOCKS)
def test_parity_decode_matches_every_expected_trace(block: str) -> None:
    """Every trace (loaded or not) decodes to ethereum-etl's from/to/value/trace_address."""
    rows = expected_csv(TRACES / "parity" / block / "expected_traces.csv")
    s = sample(parity_file(block))
    raw = tr.raw_traces(s, "parity-traces")
    assert len(raw) == len(rows)
    for t, r in zip(raw, rows, strict=True):
        if r["trace_type"] == "reward":
            continue  # ethereum-etl puts the author in to_address; tracer skips rewards
        assert (t["src"] or "", t["dst"] or "") == (r["from_address"], r["to_address"])
        assert str(tr._int(t["value"])) == r["value"]
        assert ",".join(map(str, t["addr"])) == r["trace_address"]


def test_skip_reasons_on_real_blocks() -> None:
    error = read_file(parity_file("block_with_error"), options=blocks_for(1000895))
    assert error.skipped[tr.SKIP_FAILED] == 1  # the "Out of gas" call moved nothing
    assert error.skipped[tr.SKIP_REWARD] == 1
    sub = read_file(parity_file("block_with_subtraces"), options=blocks_for(1000000))
    assert sub.skipped[tr.SKIP_CALLCODE] == 1
    top = sub.transfers.filter(pl.col("value") == "100000000000000000000")
    assert top["seq"].to_list() == [0]  # the transaction's own value: seq 0
    create = read_file(parity_file("block_with_create"), options=blocks_for(1000690))
    assert create.skipped[tr.SKIP_ZERO] == 1  # the zero-value contract creation


@pytest.mark.parametrize("block", BLOCKS)
def test_geth_call_tracer_decodes_like_ethereum_etl(block: str) -> None:
    rows = expected_csv(TRACES / "geth" / block / "expected_traces.csv")
    for path in (geth_file(block), TRACES / "geth" / block / "geth_traces.json"):
        s = sample(path)
        assert detect(s) == "geth-traces"
        raw = list(tr.geth_rows(s.document if s.document is not None else s.first))
        assert len(raw) == len(rows)
        for t, r in zip(raw, rows, strict=True):
            assert (t["src"] or "", t["dst"] or "") == (r["from_address"], r["to_address"])
            value = tr._int(t["value"])
            assert ("" if value is None else str(value)) == r["value"]
            assert ",".join(map(str, t["addr"])) == r["trace_address"]
            assert str(t["tx_index"]) == r["transaction_index"]


def with_tx_hashes(block: str, out: Path) -> Path:
    """ethereum-etl's geth_traces.json with a txHash per transaction (as geth >= 1.11 gives),
    the hashes taken from the same block's trace_block response."""
    doc = json.loads((TRACES / "geth" / block / "geth_traces.json").read_text())
    hashes = {}
    for t in json.loads(parity_file(block).read_text())["result"]:
        if t.get("transactionPosition") is not None:
            hashes[t["transactionPosition"]] = t["transactionHash"]
    doc["transaction_traces"] = [
        {"txHash": hashes[i], "result": tree} for i, tree in enumerate(doc["transaction_traces"])
    ]
    out.write_text(json.dumps(doc))
    return out


@pytest.mark.parametrize("block", ["block_with_create", "block_with_error", "block_with_subtraces"])
def test_geth_and_parity_give_the_same_canonical_rows(block: str, tmp_path: Path) -> None:
    path = with_tx_hashes(block, tmp_path / "geth.json")
    opts = blocks_for(block_number(block))
    g = read_file(path, options=opts)
    p = read_file(parity_file(block), options=opts)
    assert g.format == "geth-traces"
    assert g.transfers.height > 0 and g.transfers.equals(p.transfers)  # same seq: they dedupe


def test_geth_without_tx_hash_or_block_is_a_clear_error_not_a_silent_drop(
    tmp_path: Path,
) -> None:
    path = TRACES / "geth" / "block_with_subtraces" / "geth_traces.json"
    with pytest.raises(InputError) as exc:
        read_file(path, options=blocks_for(1000000))
    assert str(path) in str(exc.value) and "transaction hash" in str(exc.value)
    loaded = read_file(path, options=blocks_for(1000000), skip_bad=True)
    assert loaded.transfers.height == 0 and loaded.rejects.height == 2
    assert loaded.read == loaded.rejects.height + sum(loaded.skipped.values())
    # the raw RPC response, even with txHash, has no block number: said so, naming the fix
    doc = json.loads(geth_file("block_with_subtraces").read_text())
    for i, entry in enumerate(doc["result"]):
        entry["txHash"] = "0x" + f"{i + 1:064x}"
    raw = tmp_path / "debug_traceBlockByNumber.json"
    raw.write_text(json.dumps(doc))
    with pytest.raises(InputError) as exc:
        read_file(raw, options=blocks_for(1000000))
    assert "block_number" in str(exc.value) and "transaction_traces" in str(exc.value)


def test_geth_selfdestruct_without_value_is_counted() -> None:
    loaded = read_file(geth_file("block_with_suicide"), options=blocks_for(1011973))
    assert loaded.skipped[tr.SKIP_NO_VALUE] == 1 and loaded.transfers.height == 0


def test_stream_traces_match_the_trace_block_they_came_from() -> None:
    stream = read_file(TRACES / "stream" / "expected_traces.json")
    assert stream.format == "ethereum-etl-traces"
    header_file = TRACES / "stream" / "web3_response.eth_getBlockByNumber_0x7c0ce_false.json"
    header = json.loads(header_file.read_text())["result"]
    opts = ReadOptions(blocks=pl.DataFrame(
        {"chain": [None], "block": [int(header["number"], 16)],
         "ts": [int(header["timestamp"], 16) * 1_000_000]},
        schema={"chain": pl.String, "block": pl.Int64, "ts": pl.Int64}))  # fmt: skip
    parity = read_file(TRACES / "stream" / "web3_response.trace_block_0x7c0ce.json", options=opts)
    assert stream.transfers.equals(parity.transfers)
    assert got(stream.transfers) == [(
        "0x435f5f71090a14a7eca2d7c14103f9dbaa962777bc959794e5c6d17ed771406e",
        "0xfecab546498f74591d4f6d448a4a63552850f122",
        "0x32be343b94f860124dc4fee278fdcbd38c102d88", "4949989500000000000")]  # fmt: skip
    assert stream.skipped == {tr.SKIP_ZERO: 1, tr.SKIP_REWARD: 2}


# -- synthetic traces: nesting, failure propagation, call types --------------------------------

A, B, C, D = (f"0x{c * 40}" for c in "abcd")
TX = "0x" + "11" * 32


def parity_trace(addr: list[int], value: int, *, call_type: str = "call", error: bool = False,
                 src: str = A, dst: str = B) -> dict[str, Any]:  # fmt: skip
    t: dict[str, Any] = {
        "action": {"callType": call_type, "from": src, "to": dst, "value": hex(value)},
        "blockNumber": 5, "subtraces": 0, "traceAddress": addr,
        "transactionHash": TX, "transactionPosition": 0, "type": "call",
    }  # fmt: skip
    if error:
        t["error"] = "Reverted"
    return t


def test_failed_calls_revert_their_subtraces_and_call_types_are_told_apart(
    tmp_path: Path,
) -> None:
    traces = [
        parity_trace([], 0),
        parity_trace([0], 5, error=True),
        parity_trace([0, 0], 7, src=B, dst=C),  # inside the failed call: reverted
        parity_trace([0, 0, 3], 9, src=C, dst=D),  # deeper: reverted too
        parity_trace([1], 11, src=B, dst=D),  # a sibling of the failure: real
        parity_trace([2], 13, call_type="delegatecall"),
        parity_trace([3], 0, call_type="staticcall"),
        parity_trace([4], 17, call_type="callcode"),
        parity_trace([5], 0),
    ]
    path = tmp_path / "trace_block.json"
    path.write_text(json.dumps({"jsonrpc": "2.0", "id": 1, "result": traces}))
    loaded = read_file(path, options=blocks_for(5))
    assert got(loaded.transfers) == [(TX, B, D, "11")]
    assert loaded.transfers["seq"].to_list() == [tr.trace_seq([1])]
    assert dict(loaded.skipped) == {
        tr.SKIP_ZERO: 2, tr.SKIP_FAILED: 1, tr.SKIP_REVERTED: 2, tr.SKIP_DELEGATE: 1,
        tr.SKIP_STATIC: 1, tr.SKIP_CALLCODE: 1,
    }  # fmt: skip


def test_etl_status_zero_without_own_error_is_reverted(tmp_path: Path) -> None:
    path = tmp_path / "traces.csv"
    path.write_text(
        "block_number,transaction_hash,from_address,to_address,value,trace_type,call_type,"
        "trace_address,error,status\n"
        f"5,{TX},{A},{B},10,call,call,,,1\n"
        f"5,{TX},{B},{C},4,call,call,0,,0\n"
        f'5,{TX},{B},{D},3,call,call,"1,2",,1\n'
    )
    loaded = read_file(path, options=blocks_for(5))
    assert got(loaded.transfers) == [(TX, A, B, "10"), (TX, B, D, "3")]
    assert loaded.transfers.sort("seq")["seq"].to_list() == [0, tr.trace_seq([1, 2])]
    assert loaded.skipped == {tr.SKIP_REVERTED: 1}


def test_bad_value_names_file_row_and_field(tmp_path: Path) -> None:
    t = parity_trace([0], 1)
    t["action"]["value"] = "0xnothex"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"jsonrpc": "2.0", "result": [parity_trace([], 2), t]}))
    with pytest.raises(InputError) as exc:
        read_file(path, options=blocks_for(5))
    msg = str(exc.value)
    assert str(path) in msg and "row 2" in msg and "action.value" in msg
    loaded = read_file(path, options=blocks_for(5), skip_bad=True)
    assert loaded.transfers.height == 1 and loaded.rejects["row"].to_list() == [2]


def test_top_level_trace_deduplicates_with_the_transactions_export(tmp_path: Path) -> None:
    txs = tmp_path / "transactions.csv"
    txs.write_text(
        "hash,nonce,from_address,to_address,value,gas,block_number,block_timestamp\n"
        f"{TX},0,{A},{B},10,21000,5,1446000000\n"
    )
    traces = tmp_path / "trace_block.json"
    traces.write_text(json.dumps({"result": [parity_trace([], 10), parity_trace([0], 3)]}))
    t = read_file(txs).transfers
    r = read_file(traces, options=blocks_for(5)).transfers
    key = ["chain", "tx_hash", "seq", "token", "src", "dst", "value"]
    both = pl.concat([t.select(key), r.select(key)]).unique(["chain", "tx_hash", "seq", "token"])
    assert both.height == 2  # the transaction's value once, the internal call once


# -- seq ------------------------------------------------------------------------------------------

addresses = st.lists(st.integers(0, 1021), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(addresses, min_size=2, max_size=20, unique_by=tuple))
def test_packed_seq_is_injective_and_keeps_execution_order(addrs: list[list[int]]) -> None:
    seqs = [tr.trace_seq(a) for a in addrs]
    assert len(set(seqs)) == len(seqs)
    assert sorted(addrs) == [a for _, a in sorted(zip(seqs, addrs, strict=True))]
    assert all(tr.PACKED_BASE <= s < tr.HASHED_BASE for s in seqs)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 5000), min_size=7, max_size=40))
def test_deep_or_wide_addresses_hash_into_their_own_range(addr: list[int]) -> None:
    s = tr.trace_seq(addr)
    assert tr.HASHED_BASE <= s < 1 << 63 and s == tr.trace_seq(list(addr))
    assert tr.trace_seq([]) == 0


# -- Tron -----------------------------------------------------------------------------------------

T1, T2, T3 = (
    "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre",
    "TFdTr9C3BqQrzKBXqSxJfAZFTh8UwBAfSg",
    "TMStbg5fgb4uTV7fK1gEYF9hKAzP3siPsG",
)
TRON_TX = "ab" * 32


def test_trongrid_only_internal_records(tmp_path: Path) -> None:
    def rec(i: int, value: Any, rejected: bool = False) -> dict[str, Any]:
        return {
            "internal_tx_id": f"{i:064x}", "tx_id": TRON_TX, "block_timestamp": 1700000000000,
            "from_address": T1, "to_address": T2,
            "data": {"note": "63616c6c", "rejected": rejected, "call_value": value},
        }  # fmt: skip

    page = {"data": [rec(1, {"_": 5_000_000}), rec(2, {"_": 7}, rejected=True),
                     rec(3, {"1002000": 9}), rec(4, 0), rec(5, 12)],
            "success": True, "meta": {}}  # fmt: skip
    path = tmp_path / "internal.json"
    path.write_text(json.dumps(page))
    loaded = read_file(path)
    assert loaded.format == "trongrid-internal"
    assert sorted(loaded.transfers["value"].to_list()) == ["12", "5000000"]
    assert set(loaded.transfers["chain"].to_list()) == {"tron"}
    assert set(loaded.transfers["asset"].to_list()) == {"TRX"}
    assert loaded.skipped == {tr.SKIP_FAILED: 1, tr.SKIP_TRC10: 1, tr.SKIP_ZERO: 1}
    assert loaded.transfers["seq"].n_unique() == 2  # distinct internal ids → distinct seq


def test_gettransactioninfobyid_internal_transactions(tmp_path: Path) -> None:
    info = {
        "id": TRON_TX, "blockNumber": 50, "blockTimeStamp": 1700000000000,
        "internal_transactions": [
            {"hash": "01" * 32, "caller_address": T1, "transferTo_address": T3,
             "callValueInfo": [{"callValue": 250}], "note": "63616c6c"},
            {"hash": "02" * 32, "caller_address": T3, "transferTo_address": T2,
             "callValueInfo": [{}], "note": "63616c6c"},
            {"hash": "03" * 32, "caller_address": T3, "transferTo_address": T2,
             "callValueInfo": [{"callValue": 9}], "note": "63616c6c", "rejected": True},
        ],
    }  # fmt: skip
    path = tmp_path / "info.json"
    path.write_text(json.dumps(info))
    loaded = read_file(path)
    assert loaded.format == "trongrid-internal"
    assert got(loaded.transfers) == [(TRON_TX, T1, T3, "250")]
    assert loaded.skipped == {tr.SKIP_ZERO: 1, tr.SKIP_FAILED: 1}


def test_mixed_stream_counts_the_other_records(tmp_path: Path) -> None:
    lines = (TRACES / "stream" / "expected_traces.json").read_text().splitlines()
    path = tmp_path / "stream.json"
    path.write_text("\n".join([lines[0], json.dumps({"type": "block", "number": 1}), *lines[1:]]))
    loaded = read_file(path)
    assert loaded.format == "ethereum-etl-traces"
    assert loaded.skipped["not a trace record (type=block)"] == 1
    assert loaded.read == len(lines) + 1 == loaded.transfers.height + sum(loaded.skipped.values())


def test_ingest_of_two_trace_formats_of_one_block_stores_each_transfer_once(
    tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    blocks = tmp_path / "blocks.csv"
    blocks.write_text("number,timestamp\n1000000,1455404053\n")
    ws = tmp_path / "ws"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    block = TRACES / "parity" / "block_with_subtraces"
    for f in (parity_file("block_with_subtraces"), block / "expected_traces.csv"):
        r = subprocess.run(
            [sys.executable, "-m", "tracer.cli", "ingest", str(f), "-w", str(ws), "--blocks",
             str(blocks)], capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
    out = tmp_path / "all.parquet"
    export = [sys.executable, "-m", "tracer.cli", "export", "-w", str(ws), "-o", str(out)]
    r = subprocess.run(export, capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    stored = pl.read_parquet(out)
    assert stored.height == 2 and stored["token"].null_count() == 2
    assert sorted(stored["value"].to_list()) == ["100000000000000000000", "437194980000000000"]


def test_trongrid_transaction_records_yield_their_internal_transactions(tmp_path: Path) -> None:
    record = {
        "txID": TRON_TX, "blockNumber": 50, "block_timestamp": 1700000000000,
        "raw_data": {"contract": [{"type": "TriggerSmartContract"}]},
        "ret": [{"contractRet": "SUCCESS"}],
        "internal_transactions": [
            {"internal_tx_id": "0a" * 32, "from_address": T1, "to_address": T2,
             "data": {"note": "63616c6c", "call_value": {"_": 77}}},
        ],
    }  # fmt: skip
    plain = {**record, "txID": "cd" * 32}
    del plain["internal_transactions"]
    path = tmp_path / "transactions.json"
    path.write_text(json.dumps({"data": [record, plain], "success": True}))
    assert read_file(path).format == "trongrid-trx"  # detection keeps the TRX reader
    loaded = read_file(path, fmt="trongrid-internal")
    assert got(loaded.transfers) == [(TRON_TX, T1, T2, "77")]
    assert loaded.read == 1  # the record without internal transactions contributes none
