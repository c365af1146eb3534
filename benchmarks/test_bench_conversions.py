"""Decoding conversions from ~1M logs vs the plain Transfer decode of the same file, same run.

The file is an ethereum-etl ``logs.csv`` (with ``block_timestamp``) of synthetic but real-shaped
transactions: 30 % V2-style swaps (trader → pool, pool → trader, ``Sync``, ``Swap``), 5 % WETH
wraps, the rest single ``Transfer`` logs. Baseline: ``read_file`` of the file (``Transfer`` logs →
canonical transfers). Measured: :func:`read_logs` + :func:`decode_conversions` of the same file.
Goal (issue 15): within 2× of the baseline. Size via ``TRACER_BENCH_LOGS`` (default 1M).

Run: ``python -m pytest -m bench benchmarks/test_bench_conversions.py -s``
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from benchmarks.conftest import bench_logs, record
from tracer.sources import read_file
from tracer.sources.conversions import EVENTS, TRANSFER, decode_conversions
from tracer.sources.raw_logs import read_logs

V2 = next(t for t, k in EVENTS.items() if k[0] == "v2")
DEPOSIT = next(t for t, k in EVENTS.items() if k[0] == "deposit")
SYNC = "0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1"
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"


def _word(a: str) -> str:
    return "0x" + a[2:].rjust(64, "0")


def _amount(x: int) -> str:
    return "0x" + format(x, "064x")


def write_logs(path: Path, n_logs: int, seed: int = 7) -> int:
    """Write about ``n_logs`` logs; returns the number of swap transactions."""
    rng = random.Random(seed)
    tokens = [f"0x{0xA0000 + i:040x}" for i in range(200)]
    pools = [f"0x{0xB0000 + i:040x}" for i in range(500)]
    users = [f"0x{0xC0000 + i:040x}" for i in range(100_000)]
    lines = ["log_index,transaction_hash,transaction_index,address,data,topics,block_number,"
             "block_timestamp"]  # fmt: skip
    count = swaps = tx = 0
    block, li = 17_000_000, 0
    while count < n_logs:
        tx += 1
        h = f"0x{tx:064x}"
        if li > 400:
            block, li = block + 1, 0
        ts = 1_680_000_000 + (block - 17_000_000) * 12
        kind = rng.random()
        logs: list[tuple[str, str, str]] = []
        u = rng.choice(users)
        if kind < 0.30:
            p, a, b = rng.choice(pools), rng.choice(tokens), rng.choice(tokens)
            x, y = rng.randrange(1, 10**24), rng.randrange(1, 10**24)
            swap_topics = f"{V2},{_word(u)},{_word(u)}"
            logs = [
                (a, _amount(x), f"{TRANSFER},{_word(u)},{_word(p)}"),
                (b, _amount(y), f"{TRANSFER},{_word(p)},{_word(u)}"),
                (p, _amount(x) + _amount(y)[2:], SYNC),
                (p, "0x" + "".join(format(v, "064x") for v in (x, 0, 0, y)), swap_topics),
            ]
            swaps += 1
        elif kind < 0.35:
            x = rng.randrange(1, 10**20)
            logs = [(WETH, _amount(x), f"{DEPOSIT},{_word(u)}")]
        else:
            t, v = rng.choice(tokens), rng.choice(users)
            logs = [(t, _amount(rng.randrange(1, 10**22)), f"{TRANSFER},{_word(u)},{_word(v)}")]
        for address, data, topics in logs:
            lines.append(f'{li},{h},0,{address},{data},"{topics}",{block},{ts}')
            li += 1
            count += 1
    path.write_text("\n".join(lines) + "\n")
    return swaps


@pytest.mark.bench
def test_conversions_decode_vs_transfer_decode(tmp_path_factory: pytest.TempPathFactory) -> None:
    n = bench_logs()
    path = tmp_path_factory.mktemp("conv") / "logs.csv"
    swaps = write_logs(path, n)

    t0 = time.perf_counter()
    plain = read_file(path)
    base_s = time.perf_counter() - t0
    assert plain.format == "ethereum-etl-logs" and plain.transfers.height > 0
    base = "conversions: plain Transfer decode (logs.csv -> transfers)"
    record(base, items=plain.read, seconds=base_s, unit="logs/s")

    t0 = time.perf_counter()
    raw = read_logs(path)
    read_s = time.perf_counter() - t0
    decoded = decode_conversions(raw.logs)
    conv_s = time.perf_counter() - t0
    assert decoded.conversions.height + sum(decoded.skipped.values()) == decoded.txs
    assert decoded.conversions.filter(decoded.conversions["protocol"] == "uniswap-v2").height > 0
    record("conversions: read_logs + decode_conversions", items=raw.read, seconds=conv_s,
           unit="logs/s", baseline=base)  # fmt: skip
    print(
        f"\n{raw.read:,} logs, {swaps:,} swap txs, {decoded.txs:,} txs with events: plain Transfer "
        f"decode {base_s:.2f} s; conversions {conv_s:.2f} s (read_logs {read_s:.2f} s) = "
        f"{conv_s / base_s:.2f}x the plain decode"
    )
