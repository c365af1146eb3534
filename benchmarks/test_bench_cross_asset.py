"""Cross-asset follow against the plain follow on the same workspace, in the same run (issue 15
performance: within 1.5×).

The workspace: ``TRACER_BENCH_EDGES`` (default 10M) power-law transfers, 90% USDT and 10% WETH
between the same wallets, with 10,000 injected USDT→WETH swaps (the trader's USDT leg into one
of 20 pools, the pool's WETH leg back in the same transaction, at ~2,000 USDT per WETH). The
question: a 6-hop haircut follow from 100 seeds, stablecoins selected. The plain follow
(``cross_asset=False``) stops at the pools; the cross-asset one continues in WETH at each swap's
rate, so it also sweeps the WETH group and splits the USDT sweep at every swap.

Run: ``python -m pytest -m bench benchmarks/test_bench_cross_asset.py -q``.
"""

from __future__ import annotations

import time

import numpy as np
import polars as pl
import pytest

from benchmarks.conftest import bench_edges, record
from benchmarks.synthetic import transfer_arrays
from tracer.analysis.follow import follow
from tracer.core.hops import HOP_SCHEMA
from tracer.graph.spec import Selection
from tracer.store.workspace import Workspace

USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
SWAPS = 10_000
POOLS = 20
HOPS = 6


def _addr(ids: np.ndarray) -> pl.Series:
    h = ids.astype(np.uint64) * np.uint64(2654435761) + np.uint64(1)
    text = pl.lit(pl.Series(h)).cast(pl.String).str.zfill(40)
    return pl.select(pl.format("0x{}", text)).to_series()


def build_case(n_edges: int, root) -> dict:  # type: ignore[no-untyped-def]
    """The workspace (ingested from one canonical Parquet) and its hop frame."""
    rng = np.random.default_rng(11)
    e = transfer_arrays(n_edges, seed=7)
    n_nodes = e["n_nodes"]
    weth = rng.random(n_edges) < 0.10
    usdt_ids = np.flatnonzero(~weth)
    swap_at = np.sort(rng.choice(usdt_ids, SWAPS, replace=False))
    pool = n_nodes + rng.integers(0, POOLS, SWAPS)
    dst = e["dst"].astype(np.int64).copy()
    dst[swap_at] = pool  # the swap's USDT leg: trader -> pool
    amount = np.where(weth, e["amount"] / 2000.0, e["amount"])
    dec = np.where(weth, 18, 6)
    value = np.where(weth, np.round(amount * 1e9).astype(np.int64), np.round(amount * 1e6)
                     .astype(np.int64))  # fmt: skip
    out_value = np.round(e["amount"][swap_at] / 2000.0 * 1e9).astype(np.int64)  # WETH leg
    tx = np.arange(n_edges)
    addr = _addr(np.arange(n_nodes + POOLS))

    def frame(src, dst, ts, token_is_weth, val, dec, tx, seq) -> pl.DataFrame:  # type: ignore[no-untyped-def]
        n = src.shape[0]
        return pl.DataFrame({
            "chain": pl.repeat("ethereum", n, eager=True),
            "asset": np.where(token_is_weth, "WETH", "USDT"),
            "token": np.where(token_is_weth, WETH, USDT),
            "tx_hash": pl.select(pl.format("0x{}", pl.lit(pl.Series(tx)).cast(pl.String)
                                           .str.zfill(64))).to_series(),
            "seq": seq.astype(np.int64), "block": (ts // 12_000_000).astype(np.int64),
            "ts": pl.Series(ts).cast(pl.Datetime("us", "UTC")),
            "src": addr.gather(src), "dst": addr.gather(dst),
            # WETH values carry 9 of their 18 decimals: exact integers either way
            "value": pl.select(pl.when(pl.Series(token_is_weth))
                               .then(pl.Series(val).cast(pl.String) + "000000000")
                               .otherwise(pl.Series(val).cast(pl.String))).to_series(),
            "decimals": pl.Series(dec, dtype=pl.Int16),
            "amount": np.where(token_is_weth, val / 1e9, val / 1e6),
        })  # fmt: skip

    main = frame(e["src"], dst, e["ts"], weth, value, dec, tx, np.zeros(n_edges))
    legs = frame(pool, e["src"][swap_at], e["ts"][swap_at], np.ones(SWAPS, bool), out_value,
                 np.full(SWAPS, 18), swap_at, np.ones(SWAPS))  # fmt: skip
    pl.concat([main, legs]).write_parquet(root / "t.parquet")
    ws = Workspace.open(root / "ws", create=True)
    ws.ingest([root / "t.parquet"])
    ts = pl.Series(e["ts"][swap_at]).cast(pl.Datetime("us", "UTC"))
    trader = addr.gather(e["src"][swap_at])
    txs = main["tx_hash"].gather(swap_at)
    hops = pl.DataFrame({
        "hop_id": "swap:ethereum:" + txs, "kind": "swap", "chain_in": "ethereum", "tx_in": txs,
        "ts_in": ts, "address_in": trader, "asset_in": "USDT", "token_in": USDT,
        "value_in": pl.Series(value[swap_at]).cast(pl.String), "decimals_in": 6,
        "legs_in": [[0]] * SWAPS, "chain_out": "ethereum", "tx_out": txs, "ts_out": ts,
        "address_out": trader, "asset_out": "WETH", "token_out": WETH,
        "value_out": pl.Series(out_value).cast(pl.String) + "000000000",
        "decimals_out": 18, "legs_out": [[1]] * SWAPS, "protocol": "uniswap-v2",
        "rule": "net-flow", "confidence": 1.0, "inferred": False, "evidence": "{}",
    }).cast(HOP_SCHEMA)  # type: ignore[arg-type]  # fmt: skip
    seeds = addr.gather(rng.choice(n_nodes, 100, replace=False)).to_list()
    return {"root": root, "hops": hops, "seeds": seeds}


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("cross")
    t0 = time.perf_counter()
    c = build_case(bench_edges(), root)
    record("cross-asset case: build + ingest", items=bench_edges(),
           seconds=time.perf_counter() - t0, unit="rows/s")  # fmt: skip
    return c


def _follow(ws: Workspace, c: dict, cross: bool):  # type: ignore[no-untyped-def]
    return follow(ws, c["seeds"], Selection(max_hops=HOPS), hops=c["hops"] if cross else None,
                  cross_asset=cross)  # fmt: skip


@pytest.mark.bench
def test_follow_plain_same_workspace(benchmark, case: dict) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace.open(case["root"] / "ws")
    _follow(ws, case, False)  # graph cache built and mapped once
    r = benchmark.pedantic(_follow, args=(ws, case, False), rounds=5, warmup_rounds=1)
    assert r.hops is None and r.accounts[0].traced_total > 0
    case["plain"] = benchmark.stats["mean"]
    record(f"follow {HOPS} hops, 100 seeds, no cross-asset", items=bench_edges(),
           seconds=benchmark.stats["mean"])  # fmt: skip


@pytest.mark.bench
def test_follow_cross_asset(benchmark, case: dict) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace.open(case["root"] / "ws")
    _follow(ws, case, True)
    r = benchmark.pedantic(_follow, args=(ws, case, True), rounds=5, warmup_rounds=1)
    crossed = r.cross_asset["hops_crossed"]  # type: ignore[index]
    assert crossed > 0 and {a.asset for a in r.accounts} >= {"USDT", "WETH"}
    assert all(abs(a.unaccounted) < 1e-6 * max(a.traced_total + a.converted_in, 1.0)
               for a in r.accounts)  # fmt: skip
    mean = benchmark.stats["mean"]
    record(f"cross-asset follow {HOPS} hops ({crossed} swaps crossed)", items=bench_edges(),
           seconds=mean, baseline="the same follow, --no-cross-asset",
           ratio_to_plain=mean / case.get("plain", float("nan")))  # fmt: skip
