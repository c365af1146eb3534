"""Reading every log of an export, decoding files together, and ``tracer conversions``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import FIXTURES, ROOT
from tracer.core.errors import InputError, UsageError
from tracer.sources import conversions as cv
from tracer.sources.raw_logs import read_logs

ETL = FIXTURES / "ethereum_etl"
STREAM = ETL / "blocks_17173049_17173050"
TX = "0x" + "11" * 32


def test_read_logs_reads_all_three_shapes_alike() -> None:
    stream = read_logs(STREAM / "expected_logs.json")
    assert stream.read == stream.logs.height == 681 and not stream.skipped
    assert stream.logs["ts"].null_count() == 0
    assert stream.logs.filter(pl.col("topic0") == cv.TRANSFER).height == 291
    csv_logs = read_logs(ETL / "logs" / "logs.csv").logs
    assert csv_logs.height == 3 and set(csv_logs["n_topics"].to_list()) <= {1, 3}
    rpc = read_logs(ETL / "block_with_transfers" / "web3_response.eth_getFilterLogs_0x0.json").logs
    assert rpc["block"].to_list() == [483920, 483920] and rpc["log_index"].to_list() == [0, 1]


def test_read_logs_counts_removed_and_other_records(tmp_path: Path) -> None:
    log = {"address": "0x" + "aa" * 20, "topics": [cv.TRANSFER], "data": "0x",
           "transactionHash": TX, "logIndex": "0x1", "blockNumber": "0x10"}  # fmt: skip
    path = tmp_path / "logs.json"
    path.write_text(json.dumps({"jsonrpc": "2.0", "result": [log, {**log, "removed": True}]}))
    got = read_logs(path)
    assert got.read == 2 and got.logs.height == 1
    assert got.skipped == {"removed by a chain reorganisation": 1}
    mixed = tmp_path / "stream.json"
    lines = [line for line in (STREAM / "expected_logs.json").read_text().splitlines()[:3]]
    lines.append(json.dumps({"type": "block", "number": 1}))
    mixed.write_text("\n".join(lines) + "\n")
    got = read_logs(mixed)
    assert got.logs.height == 3 and got.skipped == {"not a log record (type=block)": 1}


def test_read_logs_bad_log_index_names_the_field(tmp_path: Path) -> None:
    log = {"address": "0x" + "aa" * 20, "topics": [], "data": "0x",
           "transactionHash": TX, "logIndex": "0xzz", "blockNumber": "0x10"}  # fmt: skip
    path = tmp_path / "logs.json"
    path.write_text(json.dumps([log]))
    with pytest.raises(InputError) as exc:
        read_logs(path)
    assert "row 1" in str(exc.value) and "logIndex" in str(exc.value)


def _swap_to_eth(tmp_path: Path) -> tuple[Path, Path, str, str]:
    """A real-shaped token → ETH swap: logs as eth_getLogs, the router's payout as trace_block."""
    tx = "0x" + "ab" * 32
    trader, router = "0x" + "c1" * 20, "0x" + "c2" * 20
    pool, token = "0x" + "b1" * 20, "0x" + "a1" * 20
    v2 = next(t for t, k in cv.EVENTS.items() if k[0] == "v2")
    wd = next(t for t, k in cv.EVENTS.items() if k[0] == "withdrawal")

    def word(a: str | int) -> str:
        return "0x" + (a[2:] if isinstance(a, str) else format(a, "x")).rjust(64, "0")

    def log(i: int, address: str, topics: list[str], data: str) -> dict:
        return {"address": address, "topics": topics, "data": data, "transactionHash": tx,
                "logIndex": hex(i), "blockNumber": "0x10",
                "blockTimestamp": "0x6553f100"}  # fmt: skip

    weth = cv.WRAPPED_NATIVE["ethereum"].copy().pop()
    swap_data = "0x" + "".join(format(x, "064x") for x in (5000, 0, 0, 77))
    logs = [
        log(0, token, [cv.TRANSFER, word(trader), word(pool)], word(5000)),
        log(1, weth, [cv.TRANSFER, word(pool), word(router)], word(77)),
        log(2, pool, [v2, word(router), word(router)], swap_data),
        log(3, weth, [wd, word(router)], word(77)),
    ]
    logs_path = tmp_path / "logs.json"
    logs_path.write_text(json.dumps({"jsonrpc": "2.0", "id": 1, "result": logs}))

    def trace(addr: list[int], src: str, dst: str, value: int) -> dict:
        return {"action": {"callType": "call", "from": src, "to": dst, "value": hex(value),
                           "gas": "0x0", "input": "0x"}, "blockNumber": 16, "subtraces": 0,
                "traceAddress": addr, "transactionHash": tx, "transactionPosition": 0,
                "type": "call", "result": {"gasUsed": "0x0", "output": "0x"}}  # fmt: skip

    traces = [trace([], trader, router, 0), trace([2], weth, router, 77),
              trace([3], router, trader, 77)]  # fmt: skip
    traces_path = tmp_path / "trace_block.json"
    traces_path.write_text(json.dumps({"jsonrpc": "2.0", "id": 1, "result": traces}))
    return logs_path, traces_path, trader, tx


def test_traces_make_the_native_leg_exact(tmp_path: Path) -> None:
    logs_path, traces_path, trader, _ = _swap_to_eth(tmp_path)
    alone, reads = cv.decode_files([str(logs_path)])
    assert alone.conversions.row(0, named=True)["rule"].endswith("+unwrap-forward")
    both, reads = cv.decode_files([str(logs_path), str(traces_path)])
    c = both.conversions.row(0, named=True)
    assert (c["trader"], c["value_in"], c["token_out"], c["value_out"]) == (trader, "5000", None,
                                                                            "77")  # fmt: skip
    assert c["rule"] == "net-flow" and c["confidence"] == 1.0
    assert [r.kind for r in reads] == ["logs", "native"]
    assert reads[1].skipped == {"zero-value call (no native coin moved)": 1}  # times from logs


def test_decode_files_refuses_files_it_cannot_use() -> None:
    with pytest.raises(UsageError, match="neither logs nor native"):
        cv.decode_files([str(STREAM / "expected_token_transfers.json")])
    with pytest.raises(UsageError, match="at least one logs file"):
        cv.decode_files([str(STREAM / "expected_transactions.json")])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tracer.cli", "conversions", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )  # fmt: skip


def test_cli_conversions_json_and_counts(tmp_path: Path) -> None:
    out = tmp_path / "conv.json"
    r = _cli("--data", str(STREAM / "expected_logs.json"), "--data",
             str(STREAM / "expected_transactions.json"), "-o", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert len(doc["conversions"]) == 61
    assert doc["summary"]["transactions with conversion events"] == 71
    assert doc["summary"][f"skipped: {cv.SKIP_NEEDS_TRACES}"] == 10
    assert "conversions: 61" in r.stderr and "decimals unknown" in r.stderr
    csv_out = tmp_path / "conv.csv"
    r = _cli("--data", str(STREAM / "expected_logs.json"), "-o", str(csv_out), "-q")
    assert r.returncode == 0 and r.stderr == ""
    frame = pl.read_csv(csv_out, infer_schema=False)
    assert frame.height == 35 and frame["value_in"].str.contains(r"^\d+$").all()


def test_cli_conversions_bad_file_is_exit_2_without_traceback(tmp_path: Path) -> None:
    r = _cli("--data", str(STREAM / "expected_token_transfers.json"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "neither logs nor native" in r.stderr
