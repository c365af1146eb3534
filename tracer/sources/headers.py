"""Header synonyms: map the column names real CSV exports use onto tracer's canonical names.

Why a table instead of asking for ``--map``: investigators receive CSVs from TronScan's API, Dune
queries, Etherscan, BigQuery and in-house tools, whose headers say the same thing in a dozen ways
(``transaction_id``/``tx_id``/``hash``, ``from_address``/``from``/``sender``, ``quant``/``value``,
``block_ts``/``block_time``/``timestamp``). Requiring a hand-written mapping for each is how a user
ends up pre-processing files by hand, which is where silent mistakes come from. The mapping that
was used is always reported back, so a guess is never silent, and ``--map`` overrides any part.

Rules (documented in the README):

* names are compared after :func:`normalise` (case, spaces, dashes, dots, a trailing ``(UTC)``);
* for each canonical name the first synonym in :data:`SYNONYMS` order that the header has wins;
  a column serves one canonical name only;
* an exact integer column (``value``/``quant``/``raw_amount``…) is preferred to a human-scaled one
  (``amount``/``token_value``…): with both present the scaled one is ignored (and reported);
* the mapping is accepted only when it finds a sender, a receiver, an amount and a time (the hash
  may be absent: see :data:`NO_HASH_RULE`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: canonical name → header synonyms (normalised), most specific first.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "tx_hash": (
        "tx_hash", "hash", "transaction_hash", "transaction_id", "tx_id", "txid", "txhash",
        "txn_hash", "trx_id", "transactionhash", "evt_tx_hash", "tx",
    ),
    "src": (
        "src", "from", "from_address", "transfer_from_address", "sender", "sender_address",
        "fromaddress", "owner_address", "payer",
    ),
    "dst": (
        "dst", "to", "to_address", "transfer_to_address", "receiver", "recipient",
        "receiver_address", "toaddress", "payee",
    ),
    "value": ("value", "quant", "raw_amount", "amount_raw", "value_raw", "raw_value", "wei"),
    "amount": (
        "amount", "token_value", "tokenvalue", "amount_decimal", "value_decimal", "quantity",
        "amount_str",
    ),
    "ts": (
        "ts", "block_time", "block_timestamp", "block_ts", "timestamp", "time", "datetime",
        "date_time", "unixtimestamp", "evt_block_time", "date",
    ),
    "token": (
        "token", "token_address", "contract_address", "contractaddress", "token_id",
        "contract", "tokenaddress", "token_contract",
    ),
    "asset": ("asset", "symbol", "token_symbol", "tokensymbol", "token_abbr", "tokenabbr"),
    "decimals": ("decimals", "token_decimal", "token_decimals", "tokendecimal", "tokendecimals"),
    "block": (
        "block", "block_number", "blocknumber", "blockno", "block_num", "block_height",
        "evt_block_number",
    ),
    "seq": ("seq", "log_index", "evt_index", "logindex", "event_index"),
    "chain": ("chain", "blockchain", "network"),
    "view": ("wallet", "account", "account_address", "related_address", "relatedaddress",
             "queried_address", "address"),
}  # fmt: skip

#: What tracer does with an export that has no transaction hash (some Dune queries).
NO_HASH_RULE = (
    "no transaction hash column: each row gets a synthetic id 'nohash:<block or time>:<row>' "
    "(stable for the same file); paths will carry no on-chain hash"
)

_SUFFIX = re.compile(r"\s*\((utc|gmt|z)\)\s*$", re.IGNORECASE)
_SEP = re.compile(r"[\s\-.]+")


def normalise(name: str) -> str:
    """A header name in comparable form: ``"DateTime (UTC)"`` → ``"datetime"``."""
    n = _SUFFIX.sub("", name.strip().strip('"').strip("'"))
    return _SEP.sub("_", n.lower()).strip("_")


@dataclass
class HeaderMap:
    """The mapping found for one header: canonical name → the user's column."""

    columns: dict[str, str]
    ignored: dict[str, str] = field(default_factory=dict)  # user column → why it is not used
    missing_hash: bool = False

    def describe(self) -> str:
        """One line for the user: ``from=from_address, to=to_address, …``."""
        shown = {"src": "from", "dst": "to", "tx_hash": "hash", "ts": "time"}
        parts = [f"{shown.get(k, k)}={v}" for k, v in self.columns.items()]
        return ", ".join(parts)


def auto_map(header: list[str], given: dict[str, str] | None = None) -> HeaderMap | None:
    """Map ``header`` onto canonical names, starting from the user's ``given`` mapping.

    Returns None when the header lacks a recognisable sender, receiver, amount or time column
    (then the file is not a transfer CSV tracer can read without ``--map``; :func:`missing`
    names what is lacking).
    """
    columns = _match(header, given or {})
    if missing(columns):
        return None
    ignored: dict[str, str] = {}
    if "value" in columns and "amount" in columns and "amount" not in (given or {}):
        ignored[columns.pop("amount")] = "scaled amount ignored: the exact integer column is used"
    if "view" in columns and columns["view"] in (columns["src"], columns["dst"]):
        del columns["view"]
    return HeaderMap(columns, ignored, missing_hash="tx_hash" not in columns)


def missing(columns: dict[str, str]) -> list[str]:
    """The required names a mapping lacks, in the user's words (``from``, ``value (or amount)``)."""
    out = [w for n, w in (("src", "from"), ("dst", "to"), ("ts", "time")) if n not in columns]
    if "value" not in columns and "amount" not in columns:
        out.append("value (or amount)")
    return out


def match(header: list[str], given: dict[str, str] | None = None) -> dict[str, str]:
    """Every canonical name the header (plus ``given``) provides, complete or not."""
    return _match(header, given or {})


def _match(header: list[str], given: dict[str, str]) -> dict[str, str]:
    by_norm: dict[str, str] = {}
    for col in header:
        by_norm.setdefault(normalise(col), col)
    used = set(given.values())
    columns: dict[str, str] = {}
    for name, synonyms in SYNONYMS.items():
        if name in given:
            columns[name] = given[name]
            continue
        for syn in synonyms:
            hit = by_norm.get(syn)
            if hit is not None and hit not in used:
                columns[name] = hit
                used.add(hit)
                break
    return columns


_TRON_RE = re.compile(r"^T[1-9A-HJ-NP-Za-km-z]{33}$")
_TRON_HEX_RE = re.compile(r"^(0x)?41[0-9a-fA-F]{40}$")
_EVM_RE = re.compile(r"^(0x|\\x)[0-9a-fA-F]{40}$")


def infer_chain(addresses: list[str | None]) -> str | None:
    """``"tron"`` when every non-empty address is a base58 ``T…`` (or ``41…`` hex) Tron address.

    EVM addresses do not tell Ethereum from BSC or Polygon, so they infer nothing (the default
    chain, or ``--chain``, applies); a mix of shapes infers nothing either, and the reader's
    own validation then names the odd row.
    """
    seen = [a.strip() for a in addresses if a and a.strip()]
    if not seen:
        return None
    if all(_TRON_RE.match(a) or _TRON_HEX_RE.match(a) for a in seen) and any(
        _TRON_RE.match(a) for a in seen
    ):
        return "tron"
    return None


def looks_evm(address: str) -> bool:
    return bool(_EVM_RE.match(address.strip()))
