"""Normalising and validating addresses.

Internal forms (what the workspace stores and kernels' ids map to):

* EVM chains: lower-case ``0x`` + 40 hex. EIP-55 checksum case is for display only
  (:func:`display`), because exports disagree on case and string equality must mean identity.
* Tron: base58check ``T...`` (34 characters), the form investigators, TronScan and court filings
  use. Hex forms (``41`` + 40 hex, as TronGrid's raw API and Tron's Ethereum-compatible JSON-RPC
  return them, or ``0x`` + 40 hex from log topics) are converted; a base58 address whose checksum
  does not verify is rejected, since a single mistyped character otherwise silently creates a
  different wallet.

Vectorised entry point: :func:`normalize_series` (Polars expressions for EVM; a per-unique-value
pass for Tron, whose checksum needs SHA-256).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import TYPE_CHECKING

import base58
import polars as pl

if TYPE_CHECKING:
    import pyarrow as pa

TRON = "tron"
EVM_CHAINS = frozenset(
    {"ethereum", "bsc", "polygon", "arbitrum", "optimism", "base", "avalanche", "fantom", "gnosis"}
)
CHAIN_ALIASES = {
    "eth": "ethereum",
    "mainnet": "ethereum",
    "trx": "tron",
    "bnb": "bsc",
    "binance-smart-chain": "bsc",
    "matic": "polygon",
    "arb": "arbitrum",
    "avax": "avalanche",
}
_TRON_PREFIX = b"\x41"


def normalize_chain(chain: str) -> str:
    """Canonical chain name (lower-case, aliases resolved). Unknown names are kept lower-case."""
    c = chain.strip().lower()
    return CHAIN_ALIASES.get(c, c)


def is_evm(chain: str) -> bool:
    """Whether ``chain`` uses 20-byte hex addresses (every chain tracer knows except Tron)."""
    return chain != TRON


def _tron_checksum(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def tron_hex_to_base58(hex_address: str) -> str:
    """``41``+40 hex (or ``0x``+40 hex, or 40 hex) → base58check ``T...``."""
    h = hex_address.lower()
    if h.startswith("0x"):
        h = h[2:]
    if len(h) == 40:
        h = "41" + h
    if len(h) != 42 or not h.startswith("41"):
        raise ValueError(f"not a Tron hex address: {hex_address!r}")
    payload = bytes.fromhex(h)
    return base58.b58encode(payload + _tron_checksum(payload)).decode("ascii")


def tron_base58_to_hex(address: str) -> str:
    """Base58check ``T...`` → ``41`` + 40 hex, verifying the checksum."""
    try:
        raw = base58.b58decode(address)
    except ValueError as exc:  # also UnicodeEncodeError: non-ASCII text
        raise ValueError(f"not base58: {address!r}") from exc
    if len(raw) != 25 or raw[:1] != _TRON_PREFIX:
        raise ValueError(f"not a Tron address (wrong length or prefix): {address!r}")
    payload, checksum = raw[:21], raw[21:]
    if _tron_checksum(payload) != checksum:
        raise ValueError(f"Tron address checksum does not match: {address!r}")
    return payload.hex()


_HEX = re.compile(r"[0-9a-fA-F]+")


def _is_hex(s: str) -> bool:
    """Hex digits only. Not ``int(s, 16)``: that accepts ``-1234``, ``0x…`` (so ``0x0x…`` passed
    as an address), ``+``, ``_`` separators and surrounding spaces."""
    return _HEX.fullmatch(s) is not None


@lru_cache(maxsize=1 << 16)
def normalize_tron(address: str) -> str:
    """Any accepted Tron form → base58check; raises ``ValueError`` with the reason."""
    a = address.strip()
    if a.startswith("T") and len(a) == 34:
        tron_base58_to_hex(a)  # verifies checksum
        return a
    h = a[2:] if a.lower().startswith("0x") else a
    if len(h) in (40, 42) and _is_hex(h):
        return tron_hex_to_base58(h)
    raise ValueError(f"not a Tron address: {address!r}")


def normalize_evm(address: str) -> str:
    """Any-case ``0x``+40 hex → lower case; raises ``ValueError``."""
    a = address.strip().lower()
    if a.startswith("\\x"):  # Dune renders bytea as \x...
        a = "0x" + a[2:]
    if len(a) == 42 and a.startswith("0x") and _is_hex(a[2:]):
        return a
    raise ValueError(f"not an EVM address: {address!r}")


def normalize(chain: str, address: str) -> str:
    """Normalise one address for ``chain``; raises ``ValueError`` with the reason."""
    return normalize_tron(address) if chain == TRON else normalize_evm(address)


#: From this many addresses on, :func:`display_many` checksums in one compiled pass
#: (:func:`display_arrow`); fewer go through pycryptodome, without loading the kernel.
COMPILED_FROM = 2_000


def display_many(chains: list[str], addresses: list[str]) -> list[str]:
    """:func:`display` for many addresses (reports of millions): keccak from pycryptodome,
    web3's own hashing backend, directly (about 1.5x faster than per-call eth_utils), or for
    long lists the compiled pass of :func:`display_arrow`. Tron addresses show as stored, so
    an all-Tron list needs no keccak (nor its ~50 ms import)."""
    if all(c == TRON for c in chains):
        return list(addresses)
    if len(addresses) >= COMPILED_FROM:
        import pyarrow as pa  # here: cold commands showing a few addresses need neither

        shown = display_arrow(pa.array(chains, pa.string()), pa.array(addresses, pa.string()))
        return shown.to_pylist()  # type: ignore[no-any-return]
    try:
        from Crypto.Hash import keccak
    except ImportError:  # pragma: no cover - web3 installs pycryptodome
        return [display(c, a) for c, a in zip(chains, addresses, strict=True)]
    out = []
    for c, a in zip(chains, addresses, strict=True):
        if c == TRON or len(a) != 42:
            out.append(a if c == TRON else display(c, a))
            continue
        body = a[2:]
        h = keccak.new(digest_bits=256, data=body.encode()).hexdigest()
        out.append("0x" + "".join(ch.upper() if ch > "9" and h[i] > "7" else ch
                                  for i, ch in enumerate(body)))  # fmt: skip
    return out


def display_arrow(chains: pa.Array, addresses: pa.Array) -> pa.Array:
    """:func:`display` of a whole column (no nulls): stored EVM addresses (``0x`` + 40
    lower-case hex) get their EIP-55 case from one compiled Keccak pass over the Arrow buffer
    (:mod:`tracer.kernels.checksum`: ~1 µs an address instead of ~40); Tron addresses show as
    stored; anything else goes through :func:`display` one by one."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from tracer.kernels.checksum import checksum_case

    arr = addresses.cast(pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    chains = chains.cast(pa.string())
    tron = pc.fill_null(pc.equal(chains, TRON), False)
    ok = pc.and_(pc.invert(tron), pc.match_substring_regex(arr, "^0x[0-9a-f]{40}$"))
    bufs = arr.buffers()
    n = len(arr)
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    out = checksum_case(offsets, data, np.asarray(ok.to_numpy(zero_copy_only=False), bool))
    base = int(offsets[0]) if n else 0
    shown = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer((offsets - base).astype(np.int64)), pa.py_buffer(out[base:])
    )
    other = np.flatnonzero(~np.asarray(pc.or_(ok, tron).to_numpy(zero_copy_only=False), bool))
    if other.shape[0]:  # not a stored EVM form: one by one
        fixed = [display(chains[i].as_py(), arr[i].as_py()) for i in other.tolist()]
        values = shown.to_pylist()
        for i, v in zip(other.tolist(), fixed, strict=True):
            values[i] = v
        shown = pa.array(values, pa.large_string())
    return shown.cast(pa.string())


def display(chain: str, address: str) -> str:
    """The form to show a person: EIP-55 checksum case on EVM chains, base58 on Tron."""
    if chain == TRON:
        return address
    from eth_utils import to_checksum_address  # here: ~0.2 s to import, and Tron needs none

    try:
        return to_checksum_address(address)
    except ValueError:
        return address


_EVM_RE = r"^0x[0-9a-f]{40}$"


def evm_exprs(name: str) -> tuple[pl.Expr, pl.Expr]:
    """``(normalised, error)`` expressions for an EVM address column (null where invalid).

    Expressions rather than Series operations so that a caller can evaluate several columns in
    one parallel ``with_columns`` (this is most of the ingest time on a 1M-row export).
    """
    raw = pl.col(name)
    s = raw.str.strip_chars().str.to_lowercase()
    s = pl.when(s.str.starts_with("\\x")).then(pl.lit("0x") + s.str.slice(2)).otherwise(s)
    ok = s.str.contains(_EVM_RE).fill_null(False)
    norm = pl.when(ok).then(s).otherwise(None)
    err = (
        pl.when(raw.is_null())
        .then(pl.lit("missing address"))
        .when(~ok)
        .then(pl.lit("not an EVM address (0x + 40 hex)"))
        .otherwise(None)
    )
    return norm, err


def normalize_series(chain: str, values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Normalise a column of addresses for one chain.

    Returns ``(normalised, error)``: ``normalised`` is null where the input is invalid and
    ``error`` holds the reason there (null elsewhere). Null inputs give null output and the
    reason ``"missing address"``.
    """
    if chain != TRON:
        norm_e, err_e = evm_exprs("a")
        out = pl.DataFrame({"a": values}).select(norm_e.alias("n"), err_e.alias("e"))
        return out["n"].alias(values.name), out["e"].alias("error")
    uniques = values.drop_nulls().unique()
    good: dict[str, str | None] = {}
    bad: dict[str, str] = {}
    for v in uniques.to_list():
        try:
            good[v] = normalize_tron(v)
        except ValueError as exc:
            good[v] = None
            bad[v] = str(exc)
    norm = values.replace_strict(good, default=None, return_dtype=pl.String)
    err = values.replace_strict(bad, default=None, return_dtype=pl.String)
    err = pl.select(
        pl.when(values.is_null()).then(pl.lit("missing address")).otherwise(err)
    ).to_series()
    return norm.alias(values.name), err.alias("error")
