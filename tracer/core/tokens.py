"""Known token metadata (symbol, decimals, stablecoin flag), extensible by the user.

Raw exports (ethereum-etl, ``eth_getLogs``) carry only the contract address, and Etherscan's CSV
carries amounts already scaled by ``decimals``. Both need this table: the first to compute
``amount``, the second to recover the exact on-chain integer. The bundled table
(``tracer/data/tokens.csv``) lists the major stablecoins per chain; ``--tokens FILE`` adds or
overrides rows (same columns: ``chain,token,symbol,decimals[,stablecoin]``; ethereum-etl's
``tokens.csv`` with ``address,symbol,decimals`` is accepted too).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import polars as pl

from tracer.core.addresses import normalize, normalize_chain
from tracer.core.errors import InputError

#: Native coins: symbol and decimals per chain (token column is null for these rows).
NATIVE = {
    "ethereum": ("ETH", 18),
    "bsc": ("BNB", 18),
    "polygon": ("POL", 18),
    "arbitrum": ("ETH", 18),
    "optimism": ("ETH", 18),
    "base": ("ETH", 18),
    "avalanche": ("AVAX", 18),
    "tron": ("TRX", 6),
}

#: Symbols treated as USD stablecoins when no table row says otherwise (``--asset stablecoins``).
STABLE_SYMBOLS = frozenset(
    {"USDT", "USDC", "DAI", "BUSD", "TUSD", "USDD", "USDP", "FDUSD", "PYUSD", "USDE", "USD1"}
)


@dataclass(frozen=True)
class Token:
    """Metadata of one token contract on one chain."""

    chain: str
    token: str
    symbol: str
    decimals: int
    stablecoin: bool


@dataclass
class TokenTable:
    """Lookup ``(chain, contract) → Token``; later additions override earlier ones."""

    by_key: dict[tuple[str, str], Token] = field(default_factory=dict)

    def get(self, chain: str, token: str | None) -> Token | None:
        if token is None:
            return None
        return self.by_key.get((chain, token))

    def add(self, tokens: Iterable[Token]) -> None:
        for t in tokens:
            self.by_key[(t.chain, t.token)] = t

    def frame(self) -> pl.DataFrame:
        """The table as a frame (``chain, token, symbol, decimals, stablecoin``) for joins."""
        rows = list(self.by_key.values())
        return pl.DataFrame(
            {
                "chain": [t.chain for t in rows],
                "token": [t.token for t in rows],
                "symbol": [t.symbol for t in rows],
                "decimals": [t.decimals for t in rows],
                "stablecoin": [t.stablecoin for t in rows],
            },
            schema={
                "chain": pl.String,
                "token": pl.String,
                "symbol": pl.String,
                "decimals": pl.Int16,
                "stablecoin": pl.Boolean,
            },
        )

    def stable_symbols(self) -> set[str]:
        """Symbols flagged as stablecoins in the table, plus the built-in list."""
        return set(STABLE_SYMBOLS) | {t.symbol for t in self.by_key.values() if t.stablecoin}


def read_token_file(path: str | Path, *, default_chain: str = "ethereum") -> list[Token]:
    """Parse a token CSV; bad rows raise :class:`InputError` naming row and field."""
    from tracer.core.csv_text import read_csv_strings

    name = str(path)
    frame = read_csv_strings(Path(path))
    cols = set(frame.columns)
    token_col = "token" if "token" in cols else "address" if "address" in cols else None
    if token_col is None or "symbol" not in cols or "decimals" not in cols:
        raise InputError(
            name, None, None, "token file needs columns token (or address), symbol, decimals"
        )
    out: list[Token] = []
    for i, row in enumerate(frame.iter_rows(named=True), start=1):
        chain = normalize_chain(row.get("chain") or default_chain)
        if not chain:
            raise InputError(name, i, "chain", "missing chain name")
        try:
            token = normalize(chain, row[token_col] or "")
        except ValueError as exc:
            raise InputError(name, i, token_col, str(exc)) from None
        text = (row["decimals"] or "").strip()
        if not (text.isascii() and text.isdigit() and 0 <= int(text) <= 77):
            raise InputError(name, i, "decimals", f"not an integer 0..77: {row['decimals']!r}")
        decimals = int(text)
        symbol = (row["symbol"] or "").strip()
        if not symbol:
            raise InputError(name, i, "symbol", "missing symbol")
        stable_raw = (row.get("stablecoin") or "").strip().lower()
        stable = stable_raw in ("1", "true", "yes") if stable_raw else symbol in STABLE_SYMBOLS
        out.append(Token(chain, token, symbol, decimals, stable))
    return out


@cache
def bundled_tokens() -> tuple[Token, ...]:
    """The bundled table's rows, read once per process (a package file; a follow asks 3 times)."""
    bundled = resources.files("tracer") / "data" / "tokens.csv"
    with resources.as_file(bundled) as p:
        return tuple(read_token_file(p))


def load_tokens(extra: Iterable[str | Path] = ()) -> TokenTable:
    """The bundled table plus the user's files, in order (later rows override)."""
    table = TokenTable()
    table.add(bundled_tokens())
    for path in extra:
        table.add(read_token_file(path))
    return table
