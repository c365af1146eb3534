"""Flagged services and attribution: label files in, one canonical label table out.

Accepted files (auto-detected):

* **Label CSV**: ``address,name,category`` plus optional ``chain,source,confidence``.
* **Etherscan label-cloud CSV** (``,Address,Name Tag,Balance,Txn Count``), with ``--category``.
* **GraphSense TagPack YAML** (loaded with ``yaml.safe_load``): header keys are inherited by every
  tag unless the tag sets them (the TagPack rule).
* **Plain lists**: one address per line (``.txt``, e.g. OFAC's per-asset files) or a JSON array of
  strings, with ``--category`` (and optionally ``--name``).

Chain of a label, from the address itself (lists mix chains: OFAC's USDT list holds Ethereum,
Tron and Omni addresses): ``0x``+40 hex is EVM — chain ``null`` (valid on every EVM chain) unless
the TagPack ``currency``/``network`` names one chain (BEP20 → bsc, ...); a valid base58check
``T...`` is Tron; anything else (Bitcoin, Monero, ...) is counted as ``unsupported chain`` and not
loaded — tracer follows account-based chains only.

Category of a TagPack tag (documented mapping, ``--category`` overrides):
``abuse`` first (sanction → sanctioned; scam, phishing, ponzi/pyramid scheme, investment fraud,
ransomware, sextortion → scam; service_hack → hack), then ``category`` (mixing_service → mixer,
black_list → blocked, defi_dex → swap, exchange, gambling, market, bridge as is). Packs whose
title or label says "sanction" (OFAC/INTERPOL scrapes tag sanctioned wallets as ``user``) →
sanctioned.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from tracer.addresses import TRON, normalize_chain, normalize_evm, normalize_tron
from tracer.errors import InputError, UnknownFormatError, UsageError
from tracer.schema import LABEL_PL

ABUSE_MAP = {
    "sanction": "sanctioned",
    "scam": "scam",
    "phishing": "scam",
    "ponzi_scheme": "scam",
    "pyramid_scheme": "scam",
    "investment_fraud": "scam",
    "ransomware": "scam",
    "sextortion": "scam",
    "service_hack": "hack",
}
CATEGORY_MAP = {
    "mixing_service": "mixer",
    "mixer": "mixer",
    "black_list": "blocked",
    "defi_dex": "swap",
    "dex": "swap",
    "otc": "otc_desk",
    "guarantee": "guarantee_marketplace",
}
CURRENCY_CHAIN = {
    "ETH": None,
    "ERC20": None,
    "USDT": None,
    "USDC": None,
    "TRX": TRON,
    "TRC20": TRON,
    "BEP20": "bsc",
    "BSC": "bsc",
    "BNB": "bsc",
    "MATIC": "polygon",
    "POLYGON": "polygon",
    "AVAX": "avalanche",
    "ARB": "arbitrum",
}


@dataclass
class LabelLoad:
    """Labels read from one file, with the accounting of what was not loaded and why."""

    file: str
    labels: pl.DataFrame
    read: int
    skipped: Counter[str] = field(default_factory=Counter)


def classify_address(address: str, chain_hint: str | None) -> tuple[str | None, str] | str:
    """``(chain, normalised)`` for a supported address, else the reason it is not loaded."""
    a = address.strip()
    if a.lower().startswith("0x"):
        try:
            return chain_hint if chain_hint != TRON else None, normalize_evm(a)
        except ValueError:
            return "invalid EVM address"
    if a.startswith("T") and len(a) == 34:
        try:
            return TRON, normalize_tron(a)
        except ValueError:
            return "invalid Tron address (checksum)"
    return "unsupported chain (not an EVM or Tron address)"


def _category(tag: dict[str, Any]) -> str:
    abuse = str(tag.get("abuse") or "").strip().lower()
    if abuse in ABUSE_MAP:
        return ABUSE_MAP[abuse]
    cat = str(tag.get("category") or "").strip().lower()
    text = f"{tag.get('title') or ''} {tag.get('label') or ''}".lower()
    if "sanction" in text:
        return "sanctioned"
    if cat:
        return CATEGORY_MAP.get(cat, cat)
    return abuse or "other"


def _rows_to_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=LABEL_PL) if rows else pl.DataFrame(schema=LABEL_PL)


def _add(
    rows: list[dict[str, Any]],
    skipped: Counter[str],
    *,
    address: Any,
    chain_hint: str | None,
    name: str,
    category: str,
    source: str | None,
    confidence: str | None,
) -> None:
    got = classify_address(str(address or ""), chain_hint)
    if isinstance(got, str):
        skipped[got] += 1
        return
    chain, addr = got
    rows.append(
        {
            "chain": chain,
            "address": addr,
            "name": name,
            "category": category.strip().lower().replace(" ", "_"),
            "source": source,
            "confidence": confidence,
        }
    )


def read_tagpack(path: Path, *, category: str | None = None) -> LabelLoad:
    """Load a GraphSense TagPack; header fields are inherited by each tag."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(str(path), None, None, f"invalid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tags"), list):
        raise InputError(str(path), None, "tags", "a TagPack needs a 'tags:' list")
    header = {k: v for k, v in doc.items() if k != "tags"}
    rows: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    for i, tag in enumerate(doc["tags"], start=1):
        if not isinstance(tag, dict) or "address" not in tag:
            raise InputError(str(path), i, "address", "each tag needs an 'address'")
        merged = {**header, **tag}
        currency = str(merged.get("network") or merged.get("currency") or "").upper()
        hint = CURRENCY_CHAIN.get(currency)
        _add(
            rows,
            skipped,
            address=merged["address"],
            chain_hint=hint,
            name=str(merged.get("label") or merged.get("actor") or path.stem),
            category=category or _category(merged),
            source=str(merged.get("source") or header.get("title") or path.name),
            confidence=None if merged.get("confidence") is None else str(merged["confidence"]),
        )
    return LabelLoad(str(path), _rows_to_frame(rows), len(doc["tags"]), skipped)


def read_list(path: Path, *, category: str | None, name: str | None = None) -> LabelLoad:
    """A plain list of addresses (text lines or a JSON array), all with one category."""
    if not category:
        raise UsageError(
            f"{path}: a plain address list has no categories; give one with --category "
            "(e.g. --category sanctioned)"
        )
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(str(path), None, None, f"invalid JSON: {exc.msg}") from None
    else:
        items = [line.strip() for line in text.splitlines()]
        items = [x for x in items if x and not x.startswith("#")]
    rows: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    for item in items:
        _add(
            rows,
            skipped,
            address=item,
            chain_hint=None,
            name=name or path.stem,
            category=category,
            source=path.name,
            confidence=None,
        )
    return LabelLoad(str(path), _rows_to_frame(rows), len(items), skipped)


def read_label_csv(path: Path, *, category: str | None = None) -> LabelLoad:
    """Label CSV (``address,name,category[,chain,source,confidence]``) or Etherscan cloud CSV."""
    frame = pl.read_csv(path, infer_schema=False)
    cols = {c.strip().lower(): c for c in frame.columns}
    etherscan = "address" in cols and "name tag" in cols
    if "address" not in cols:
        raise InputError(str(path), None, None, "label CSV needs an 'address' column")
    if not etherscan and "category" not in cols and not category:
        raise InputError(
            str(path), None, "category", "label CSV needs a 'category' column or --category"
        )
    rows: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    name_col = cols.get("name tag") if etherscan else cols.get("name")
    for i, r in enumerate(frame.iter_rows(named=True), start=1):
        cat = category or (r.get(cols["category"]) if "category" in cols else None)
        if not cat:
            raise InputError(str(path), i, "category", "empty category")
        chain = r.get(cols["chain"]) if "chain" in cols else None
        chain_hint = normalize_chain(chain) if chain else None
        addr = r.get(cols["address"])
        got = classify_address(str(addr or ""), chain_hint)
        if isinstance(got, str) and got.startswith("invalid"):
            raise InputError(str(path), i, cols["address"], f"{got}: {addr!r}")
        _add(
            rows,
            skipped,
            address=addr,
            chain_hint=chain_hint,
            name=str((r.get(name_col) if name_col else None) or path.stem),
            category=CATEGORY_MAP.get(str(cat).strip().lower(), str(cat)),
            source=(r.get(cols["source"]) if "source" in cols else None) or path.name,
            confidence=r.get(cols["confidence"]) if "confidence" in cols else None,
        )
    return LabelLoad(str(path), _rows_to_frame(rows), frame.height, skipped)


def read_labels(
    path: str | Path, *, category: str | None = None, name: str | None = None
) -> LabelLoad:
    """Read any supported label file (detected by extension and content)."""
    p = Path(path)
    if not p.exists():
        raise InputError(str(p), None, None, "no such file")
    suffix = p.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return read_tagpack(p, category=category)
    if suffix == ".csv":
        return read_label_csv(p, category=category)
    if suffix in (".txt", ".json", ".list", ""):
        return read_list(p, category=category, name=name)
    raise UnknownFormatError(
        f"{p}: unknown label file type {suffix!r}; use .csv, .yaml (TagPack), .txt or .json lists"
    )


#: When an address has several labels, the one that decides how follow treats it.
CATEGORY_PRIORITY = (
    "sanctioned",
    "mixer",
    "scam",
    "hack",
    "guarantee_marketplace",
    "gambling",
    "exchange",
    "otc_desk",
    "swap",
    "bridge",
    "blocked",
)


_RANK = {c: i for i, c in enumerate(CATEGORY_PRIORITY)}


def category_order(categories: list[str]) -> list[str]:
    """Distinct categories by priority (sanctioned, mixer, scam, ...), unknown ones by name."""
    return sorted(set(categories), key=lambda c: (_RANK.get(c, len(_RANK)), c))


def primary_labels(
    labels: pl.DataFrame, keys: tuple[str, ...] = ("chain", "address")
) -> pl.DataFrame:
    """One label per ``keys`` (an address, or an entity id): the highest-priority category,
    then name order."""
    if labels.height == 0:
        return labels
    return (
        labels.with_columns(
            pl.col("category")
            .replace_strict(_RANK, default=len(_RANK), return_dtype=pl.Int32)
            .alias("_rank")
        )
        .sort([*keys, "_rank", "name"], nulls_last=True)
        .unique(list(keys), keep="first", maintain_order=True)
        .drop("_rank")
    )


def merge(loads: list[LabelLoad]) -> pl.DataFrame:
    """Concatenate label loads, dropping exact duplicate rows."""
    frames = [load.labels for load in loads]
    if not frames:
        return pl.DataFrame(schema=LABEL_PL)
    return pl.concat(frames).unique(maintain_order=True)
