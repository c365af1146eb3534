"""The canonical Parquet fast path proves a column canonical on the Arrow buffers and then
skips normalising it; whatever is not provably canonical still takes the full path."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tracer.core.errors import InputError
from tracer.sources import read_file
from tracer.sources.proofs import proven_canonical

USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"


def canonical(n: int = 4, **over: list) -> pl.DataFrame:
    cols = {
        "chain": ["ethereum"] * n,
        "asset": ["USDT"] * n,
        "token": [USDT] * n,
        "tx_hash": [f"0x{i + 1:064x}" for i in range(n)],
        "seq": list(range(n)),
        "block": [17_000_000 + i for i in range(n)],
        "ts": pl.Series([1_683_000_000_000_000 + i for i in range(n)]).cast(
            pl.Datetime("us", "UTC")
        ),
        "src": [f"0x{i + 1:040x}" for i in range(n)],
        "dst": [f"0x{i + 100:040x}" for i in range(n)],
        "value": [str(10**i) for i in range(n)],
        "decimals": pl.Series([6] * n, dtype=pl.Int16),
    }
    cols.update(over)
    return pl.DataFrame(cols)


def test_a_clean_export_is_proven_and_loads_unchanged(tmp_path: Path) -> None:
    f = tmp_path / "c.parquet"
    frame = canonical()
    frame.write_parquet(f)
    assert proven_canonical(frame.to_arrow()) == {"tx_hash", "src", "dst", "token", "value"}
    t = read_file(f).transfers
    assert t["src"].to_list() == frame["src"].to_list()
    assert t["value"].to_list() == frame["value"].to_list()
    assert t["amount"].to_list() == [1e-6, 1e-5, 1e-4, 1e-3]


def test_what_is_not_canonical_is_normalised_or_rejected(tmp_path: Path) -> None:
    """Upper-case and ``\\x`` addresses, leading zeros: not proven, so normalised; a bad row
    still names its file, row and field."""
    f = tmp_path / "c.parquet"
    src = [f"0x{1:040X}", "\\x" + f"{2:040x}", f"0x{3:040x}", f"0x{4:040x}"]
    canonical(src=src, value=["007", "1", "2", "3"]).write_parquet(f)
    proof = proven_canonical(pl.read_parquet(f).to_arrow())
    assert "src" not in proof and "value" not in proof and "dst" in proof
    t = read_file(f).transfers
    assert t["src"].to_list() == [f"0x{i:040x}" for i in range(1, 5)]
    assert t["value"].to_list() == ["7", "1", "2", "3"]
    canonical(src=[*src[:3], "0x1234"]).write_parquet(f)
    with pytest.raises(InputError) as exc:
        read_file(f)
    assert (exc.value.row, exc.value.field) == (4, "src")


def test_no_proof_for_tron_or_several_chains(tmp_path: Path) -> None:
    """Tron's canonical hash has no 0x: a 0x hash there must be normalised, not trusted."""
    f = tmp_path / "c.parquet"
    frame = canonical(chain=["ethereum", "ethereum", "bsc", "ethereum"])
    frame.write_parquet(f)
    t = read_file(f).transfers
    assert sorted(t["chain"].unique().to_list()) == ["bsc", "ethereum"]
    tron = canonical(n=1, chain=["tron"], token=[None], asset=["TRX"],
                     src=["TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"],
                     dst=["TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx"])  # fmt: skip
    tron.write_parquet(f)
    t = read_file(f, options=None).transfers
    assert t["tx_hash"].to_list() == [f"{1:064x}"]  # the 0x went: Tron's form


@pytest.mark.parametrize("tokens", [[USDT] * 4, [USDT, "0x" + "9" * 40, USDT, None]])
def test_token_metadata_fills_asset_and_decimals_one_or_many_tokens(
    tmp_path: Path, tokens: list
) -> None:
    """One token (constant lookup) or several (per-row lookup): the same table values."""
    f = tmp_path / "c.parquet"
    native = [t is None for t in tokens]
    canonical(token=tokens, asset=[("ETH" if n else None) for n in native],
              decimals=pl.Series([None] * 4, dtype=pl.Int16)).write_parquet(f)  # fmt: skip
    t = read_file(f).transfers
    for tok, asset, dec in zip(tokens, t["asset"], t["decimals"], strict=True):
        if tok == USDT:
            assert (asset, dec) == ("USDT", 6)
        elif tok is None:
            assert (asset, dec) == ("ETH", 18)
        else:  # unknown token: no symbol, decimals unknown (counted, never guessed)
            assert (asset, dec) == (None, None)
