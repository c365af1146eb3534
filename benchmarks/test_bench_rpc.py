"""JSON-RPC ingest throughput over loopback (logs/s): anvil + the test ERC-20 spraying logs.

``spray`` emits 500 Transfer events per transaction; 100 blocks of it give 50,000 logs, then
``sync_token`` fetches them (adaptive chunks, block timestamps) and ingests them into a fresh
workspace. The baseline in the same run is the raw ``eth_getLogs`` fetch alone (no decoding or
workspace write), so the ratio shows what the canonical path costs.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmarks.conftest import record
from tracer.store.rpc import ChunkPolicy, fetch_ranges, sync_token, web3_calls
from tracer.store.workspace import Workspace

anvil_mod = pytest.importorskip("tests.store.test_rpc_anvil")
BLOCKS, PER_TX = 100, 500


@pytest.fixture(scope="module")
def sprayed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if anvil_mod.ANVIL is None or anvil_mod.SOLCJS is None:
        pytest.skip("anvil/solcjs not installed")
    gen = anvil_mod.chain.__wrapped__(tmp_path_factory)  # the sample chain, then more blocks
    c = next(gen)
    w3 = c["w3"]
    token = w3.eth.contract(address=c["token"], abi=c["abi"])
    me = w3.eth.accounts[0]
    to = [w3.to_checksum_address(f"0x{i + 1:040x}") for i in range(PER_TX)]
    ts = w3.eth.get_block("latest")["timestamp"]
    for k in range(BLOCKS):
        token.functions.spray(to, 1).transact({"from": me, "gas": 30_000_000})
        w3.provider.make_request("evm_setNextBlockTimestamp", [ts + 12 * (k + 1)])
        w3.provider.make_request("evm_mine", [])
    c["head"] = w3.eth.block_number
    yield c
    next(gen, None)


@pytest.mark.bench
def test_rpc_ingest_logs_per_second(sprayed: dict, tmp_path: Path) -> None:
    _w3, get_logs, block_ts, _h = web3_calls(sprayed["url"])
    policy = ChunkPolicy(initial=50, sparse=1_000)
    t0 = time.perf_counter()
    raw = sum(
        len(x[2]) for x in fetch_ranges(get_logs, sprayed["token"], 0, sprayed["head"], policy)
    )
    record("rpc: raw eth_getLogs fetch (loopback)", items=raw, seconds=time.perf_counter() - t0,
           unit="logs/s")  # fmt: skip
    ws = Workspace.open(tmp_path / "ws", create=True)
    s = sync_token(ws, get_logs=get_logs, block_ts=block_ts, token=sprayed["token"],
                   chain="ethereum", symbol="USDT", decimals=6, start=0, end=sprayed["head"],
                   policy=policy)  # fmt: skip
    assert s.loaded == s.logs == raw >= BLOCKS * PER_TX
    record("rpc: ingest-rpc into a workspace (loopback)", items=s.logs, seconds=s.seconds,
           unit="logs/s", baseline="rpc: raw eth_getLogs fetch (loopback)")  # fmt: skip
