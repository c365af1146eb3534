"""Build a synthetic canonical workspace of N transfers (USDT on Ethereum) for benchmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.synthetic import transfer_arrays

USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"


def canonical_parquet(n_edges: int, target: Path, seed: int = 7) -> dict:
    """Write a canonical-schema Parquet of ``n_edges`` synthetic transfers; returns the arrays."""
    e = transfer_arrays(n_edges, seed=seed)
    ids = np.arange(e["n_nodes"], dtype=np.uint64) * np.uint64(2654435761) + np.uint64(1)
    addr = pl.select(pl.format("0x{}", pl.lit(pl.Series(ids)).cast(pl.String).str.zfill(40)))
    addr = addr.to_series()
    value = (e["amount"] * 1e6).astype(np.int64)
    frame = pl.DataFrame(
        {
            "chain": pl.repeat("ethereum", n_edges, eager=True),
            "asset": pl.repeat("USDT", n_edges, eager=True),
            "token": pl.repeat(USDT, n_edges, eager=True),
            "tx_hash": pl.select(
                pl.format("0x{}", pl.int_range(n_edges).cast(pl.String).str.zfill(64))
            ).to_series(),
            "seq": np.zeros(n_edges, dtype=np.int64),
            "block": (e["ts"] // 12_000_000).astype(np.int64),
            "ts": pl.Series(e["ts"]).cast(pl.Datetime("us", "UTC")),
            "src": addr.gather(e["src"]),
            "dst": addr.gather(e["dst"]),
            "value": pl.Series(value).cast(pl.String),
            "decimals": pl.repeat(6, n_edges, eager=True, dtype=pl.Int16),
            "amount": value / 1e6,
        }
    )
    frame.write_parquet(target)
    e["addresses"] = addr
    return e
