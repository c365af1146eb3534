"""Flagged services and attribution: label files in, one canonical label table out.

Accepted files (auto-detected by extension, then content):

* **Label CSV**: ``address,name,category`` plus optional ``chain,source,confidence``.
* **Etherscan label-cloud CSV** (``,Address,Name Tag,Balance,Txn Count``): names, no categories.
* **GraphSense TagPack YAML**: header keys are inherited by every tag unless the tag sets them
  (the TagPack rule). Read with PyYAML's safe loader, bounded (see :mod:`tracer.core.bounded_yaml`).
* **Plain lists**: one address per line (``.txt``, e.g. OFAC's per-asset files; ``#`` starts a
  comment) or a JSON array of strings (``.json``).

Categories: a file that carries its own (a TagPack, a CSV with a ``category`` column) always keeps
them. ``category=`` (the CLI's ``--category`` / ``--label-category``) applies only to files that
have none (plain lists, CSVs without a ``category`` column such as Etherscan's); such a file
without it is refused with :class:`CategoryNeeded`, which names the flag to add.

Chain of a label, from the address itself (lists mix chains: OFAC's USDT list holds Ethereum,
Tron and Omni addresses): ``0x``+40 hex is EVM — chain ``null`` (valid on every EVM chain) unless
the TagPack ``currency``/``network`` or the CSV ``chain`` names one chain (BEP20 → bsc, ...); a
valid base58check ``T...`` is Tron (and ``0x``/``41`` hex under chain ``tron`` is converted to
it); anything else (Bitcoin, Monero, ...) is counted as ``unsupported chain`` and not loaded —
tracer follows account-based chains only.

Category of a TagPack tag (documented mapping): ``abuse`` first (sanction → sanctioned; scam,
phishing, ponzi/pyramid scheme, investment fraud, ransomware, sextortion → scam; service_hack →
hack), then ``category`` (mixing_service → mixer, black_list → blocked, defi_dex → swap,
exchange, gambling, market, bridge as is). Packs whose title or label says "sanction"
(OFAC/INTERPOL scrapes tag sanctioned wallets as ``user``) → sanctioned.

Bad input: every malformed file raises :class:`~tracer.core.errors.InputError` naming the file, the
row (CSV: data row after the header; list: line; TagPack: the n-th entry of ``tags:``) and the
field — never a traceback. Non-UTF-8 bytes, ragged CSV rows, wrong YAML types, garbage lines in
a list, invalid EVM/Tron addresses (in CSVs and lists: a typo there would silently drop a label)
are refused; files are bounded in size, nesting and YAML alias expansion.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tracer.core import jsonsafe
from tracer.core.addresses import TRON, normalize_chain, normalize_evm, normalize_tron
from tracer.core.errors import InputError, UnknownFormatError, UsageError
from tracer.core.schema import LABEL_PL

#: Largest label CSV or list read (bytes): the biggest public label sets are tens of MB; 1M
#: labels (64 MB of CSV) read in about 6 s and 0.7 GB.
MAX_LABEL_BYTES = 256 * 2**20
#: Largest TagPack read (bytes): the biggest GraphSense pack (BTC, bitmex) is about 16 MB.
MAX_TAGPACK_BYTES = 64 * 2**20

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


class CategoryNeeded(UsageError):
    """A label file carries no categories and none was given.

    The library does not know which flag the caller exposes; :meth:`for_flag` words the message
    for it (``--category`` for ``tracer labels add``, ``--label-category`` with ``--labels``).
    """

    def __init__(self, file: str, kind: str, example: str, flag: str = "--category") -> None:
        self.file, self.kind, self.example, self.flag = file, kind, example, flag
        super().__init__(
            f"{file}: {kind} has no categories; say which with {flag} (e.g. {flag} {example})"
        )

    def for_flag(self, flag: str) -> CategoryNeeded:
        """The same error, naming ``flag``."""
        return CategoryNeeded(self.file, self.kind, self.example, flag)


@dataclass
class LabelLoad:
    """Labels read from one file, with the accounting of what was not loaded and why.

    ``own_categories`` says the file carried its categories (a TagPack, a CSV with a category
    column), so a category given by the caller was not applied to it.
    """

    file: str
    labels: pl.DataFrame
    read: int
    skipped: Counter[str] = field(default_factory=Counter)
    own_categories: bool = False


def classify_address(address: str, chain_hint: str | None) -> tuple[str | None, str] | str:
    """``(chain, normalised)`` for a supported address, else the reason it is not loaded.

    Reasons starting with ``invalid`` mean the address claims a supported chain but is wrong
    (a typo, a bad checksum, a chain that contradicts it); the rest are other chains.
    """
    a = address.strip()
    if chain_hint == TRON and (a.lower().startswith("0x") or (len(a) == 42 and a[:2] == "41")):
        try:
            return TRON, normalize_tron(a)
        except ValueError:
            return "invalid Tron hex address"
    if a.lower().startswith("0x"):
        try:
            return chain_hint, normalize_evm(a)
        except ValueError:
            return "invalid EVM address"
    if a.startswith("T") and len(a) == 34:
        if chain_hint not in (None, TRON):
            return f"invalid: a Tron address under chain {chain_hint!r}"
        try:
            return TRON, normalize_tron(a)
        except ValueError:
            return "invalid Tron address (checksum)"
    return "unsupported chain (not an EVM or Tron address)"


def _norm_category(text: str) -> str:
    """``"Mixing Service"`` → ``mixer``: lower snake case, then the documented synonyms."""
    c = text.strip().lower().replace(" ", "_")
    return CATEGORY_MAP.get(c, c)


def _category(tag: dict[str, Any]) -> str:
    abuse = str(tag.get("abuse") or "").strip().lower()
    if abuse in ABUSE_MAP:
        return ABUSE_MAP[abuse]
    cat = str(tag.get("category") or "").strip().lower()
    text = f"{tag.get('title') or ''} {tag.get('label') or ''}".lower()
    if "sanction" in text:
        return "sanctioned"
    if cat:
        return _norm_category(cat)
    return abuse or "other"


def _check_text(value: str, file: str, row: int | None, name: str) -> str:
    """``value`` if it can be stored: UTF-8 encodable (YAML/JSON escapes can make lone
    surrogates) and free of control characters other than tab."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(file, row, name, "text is not valid Unicode (a lone surrogate)") from None
    if _CONTROL.search(value):
        raise InputError(file, row, name, f"control character in {value[:60]!r}")
    return value


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass
class _Rows:
    """Label rows of one file being built (column lists: a million labels take a third of the
    memory of row dicts), with the skipped-row accounting.

    ``names`` maps a canonical field to its name in the user's file, for error messages.
    """

    file: str
    names: dict[str, str] = field(default_factory=dict)
    columns: dict[str, list[str | None]] = field(
        default_factory=lambda: {c: [] for c in LABEL_PL.names()}
    )
    skipped: Counter[str] = field(default_factory=Counter)
    checked: set[str] = field(default_factory=set)

    def add(self, row: int | None, *, address: str, chain_hint: str | None, name: str,
            category: str, source: str | None, confidence: str | None,
            strict: bool) -> None:  # fmt: skip
        """Append one label; ``strict`` turns an invalid EVM/Tron address into an error
        (CSVs and lists) instead of a skipped row (third-party TagPacks: counted)."""
        got = classify_address(address, chain_hint)
        if isinstance(got, str):
            if strict and got.startswith("invalid"):
                raise InputError(self.file, row, self._name("address"), f"{got}: {address[:80]!r}")
            self.skipped[got] += 1
            return
        category = _norm_category(category)
        if not category:
            raise InputError(self.file, row, self._name("category"), "empty category")
        cols, checked = self.columns, self.checked
        for key, value in (("name", name), ("category", category), ("source", source),
                           ("confidence", confidence)):  # fmt: skip
            if value is not None and value not in checked:  # names repeat: check each once
                checked.add(_check_text(value, self.file, row, self._name(key)))
            cols[key].append(value)
        cols["chain"].append(got[0])
        cols["address"].append(got[1])

    def _name(self, key: str) -> str:
        return self.names.get(key, key)

    def load(self, read: int, *, own_categories: bool) -> LabelLoad:
        frame = pl.DataFrame(self.columns, schema=LABEL_PL)
        return LabelLoad(self.file, frame, read, self.skipped, own_categories)


def _read_bytes(path: Path, limit: int) -> bytes:
    size = path.stat().st_size
    if size > limit:
        raise InputError(
            str(path), None, None,
            f"{size / 2**20:,.0f} MB is more than the {limit / 2**20:,.0f} MB a label file may "
            "hold; split it into several files",
        )  # fmt: skip
    return path.read_bytes()


def _decode(path: Path, raw: bytes) -> str:
    """UTF-8 text (a BOM is dropped), or an error naming the line of the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(
            str(path), None, None,
            f"line {line}: byte 0x{raw[exc.start]:02X} is not UTF-8 text; save the file as "
            "UTF-8 (it may be Latin-1 or Windows-1252)",
        ) from None  # fmt: skip


def read_text(path: str | Path, *, limit: int = MAX_LABEL_BYTES) -> str:
    """The UTF-8 text of a user's list file (labels, ``--sources``, exposure address lists).

    Bounded to ``limit`` bytes; non-UTF-8 bytes raise an :class:`InputError` naming the line
    (``Path.read_text`` would raise a bare ``UnicodeDecodeError``: a traceback on the CLI).
    """
    p = Path(path)
    return _decode(p, _read_bytes(p, limit))


def read_address_list(path: str | Path) -> list[str]:
    """Addresses a user asks about (``follow --sources``, an exposure screen list): a text file,
    one per line (``#`` comments), or a CSV with an ``address`` column. The one reader of such
    lists, so both commands accept the same files.

    Every address is checked here (EVM ``0x`` + 40 hex, or Tron base58check), so a typo stops the
    run naming the file, line and field instead of surfacing later as "not found".
    """
    file = str(path)
    lines = [x.strip() for x in read_text(path).splitlines()]
    header = [h.strip().lower() for h in lines[0].split(",")] if lines else []
    is_csv = ("address" in header and len(header) > 1) or header == ["address"]
    col = header.index("address") if is_csv else 0
    out = []
    for i, line in enumerate(lines, start=1):
        if not line or line.startswith("#") or (is_csv and i == 1):
            continue
        cells = next(csv.reader([line])) if is_csv else [line]
        value = cells[col].strip() if col < len(cells) else ""
        if not value:
            raise InputError(file, i, "address", "missing address")
        if not _is_address(value):
            raise InputError(
                file, i, "address",
                f"not an EVM (0x + 40 hex) or Tron (T..., base58check) address: {value!r}",
            )  # fmt: skip
        out.append(value)
    return out


def _is_address(value: str) -> bool:
    for normalise in (normalize_evm, normalize_tron):
        try:
            normalise(value)
        except ValueError:
            continue
        return True
    return False


#: TagPack keys read as text (header or tag); a list or mapping there is an error.
TAGPACK_TEXT_KEYS = (
    "address", "label", "actor", "source", "currency", "network", "category", "abuse",
    "confidence", "title",
)  # fmt: skip


def _scalar_text(value: Any, file: str, row: int | None, key: str) -> str | None:
    """A TagPack value as text: strings, and explicitly tagged numbers/booleans (``!!int 5``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    kinds: dict[type, str] = {list: "a list", dict: "a mapping", bytes: "binary data"}
    kind = kinds.get(type(value), type(value).__name__)
    raise InputError(file, row, key, f"expected text, got {kind}")


def read_tagpack(path: Path) -> LabelLoad:
    """Load a GraphSense TagPack; header fields are inherited by each tag.

    The TagPack's own categories always apply (see the module docstring for the mapping).
    """
    import yaml  # here: a CSV or JSON label file (the sample case's) needs no YAML

    from tracer.core import bounded_yaml

    file = str(path)
    text = read_text(path, limit=MAX_TAGPACK_BYTES)
    try:
        doc = bounded_yaml.load(text)
    except bounded_yaml.YamlRejected as exc:
        raise InputError(file, None, None, f"refused YAML: {exc}") from None
    except yaml.YAMLError as exc:
        raise InputError(file, None, None, f"invalid YAML: {_one_line(exc)}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tags"), list):
        raise InputError(file, None, "tags", "a TagPack is a YAML mapping with a 'tags:' list")
    header = {k: v for k, v in doc.items() if k != "tags"}
    for key in TAGPACK_TEXT_KEYS:
        if key in header:
            header[key] = _scalar_text(header[key], file, None, key)
    out = _Rows(file)
    for i, tag in enumerate(doc["tags"], start=1):
        if not isinstance(tag, dict):
            raise InputError(file, i, None, "each entry of 'tags:' must be a mapping")
        tag = {k: _scalar_text(v, file, i, k) if k in TAGPACK_TEXT_KEYS else v
               for k, v in tag.items()}  # fmt: skip
        merged = {**header, **tag}
        address = merged.get("address")
        if not address or not address.strip():
            raise InputError(file, i, "address", "each tag needs an 'address'")
        currency = str(merged.get("network") or merged.get("currency") or "").upper()
        out.add(
            i,
            address=address,
            chain_hint=CURRENCY_CHAIN.get(currency),
            name=merged.get("label") or merged.get("actor") or path.stem,
            category=_category(merged),
            source=merged.get("source") or header.get("title") or path.name,
            confidence=merged.get("confidence"),
            strict=False,
        )
    return out.load(len(doc["tags"]), own_categories=True)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


#: A line of a plain list that can be an address of some chain (tracer loads EVM and Tron;
#: Bitcoin, Monero, XRP, ``bitcoincash:q...`` are counted as unsupported, not refused).
_ADDRESS_LIKE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{19,129}")


def read_list(path: Path, *, category: str | None, name: str | None = None) -> LabelLoad:
    """A list of addresses, all with one category: text lines, a JSON array of strings, or an
    Etherscan label JSON ``{address: name tag}`` (names, but no categories either)."""
    file = str(path)
    if not category and path.suffix.lower() != ".json":
        raise CategoryNeeded(file, "a plain address list", "sanctioned")
    text = read_text(path)
    items: list[tuple[int, str, str | None]]  # (row, address, name in the file)
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        items, kind = _json_items(file, text)
        if not category:
            raise CategoryNeeded(file, kind, "sanctioned" if kind.startswith("a JSON") else
                                 "exchange")  # fmt: skip
    else:
        lines = ((n, line.split("#", 1)[0].strip()) for n, line in enumerate(text.splitlines(), 1))
        items = [(n, item, None) for n, item in lines if item]
    out = _Rows(file)
    for n, item, item_name in items:
        if not _ADDRESS_LIKE.fullmatch(item):
            hint = " (a CSV? save it as .csv with a header)" if "," in item else ""
            raise InputError(file, n, None, f"not an address: {item[:80]!r}{hint}")
        out.add(n, address=item, chain_hint=None, name=item_name or name or path.stem,
                category=category or "", source=path.name, confidence=None,
                strict=True)  # fmt: skip
    return out.load(len(items), own_categories=False)


def _json_items(file: str, text: str) -> tuple[list[tuple[int, str, str | None]], str]:
    """``(item number, address, name)`` of a JSON array of strings or an ``{address: name}``
    object, and what kind of file it is (for :class:`CategoryNeeded`)."""
    try:
        doc = jsonsafe.parse(text)
    except json.JSONDecodeError as exc:
        raise InputError(file, None, None, f"line {exc.lineno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise InputError(file, None, None, "invalid JSON: nested too deeply") from None
    if isinstance(doc, list):
        out: list[tuple[int, str, str | None]] = []
        for i, item in enumerate(doc, start=1):
            if not isinstance(item, str):
                raise InputError(file, i, None, f"expected an address string, got {item!r:.60}")
            if item.strip():
                out.append((i, item.strip(), None))
        return out, "a JSON address list"
    if isinstance(doc, dict):
        out = []
        for i, (address, tag) in enumerate(doc.items(), start=1):
            if not isinstance(tag, str):
                raise InputError(
                    file, i, address[:60],
                    "expected {address: name} with a text name (per-address objects such as "
                    "Etherscan's combinedAllLabels.json carry project tags, not categories)",
                )  # fmt: skip
            out.append((i, address.strip(), tag.strip() or None))
        return out, "an Etherscan label JSON ({address: name})"
    raise InputError(file, None, None, "a JSON label list is an array of address strings or an "
                     "{address: name} object")  # fmt: skip


def _csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of each non-blank CSV record, fields checked to be UTF-8."""
    file = str(path)
    text = _read_bytes(path, MAX_LABEL_BYTES).decode("utf-8-sig", errors="surrogateescape")
    bad = _NOT_UTF8.search(text) is not None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    record = 0
    header: list[str] = []
    while True:
        line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            where = record if record else None
            raise InputError(file, where, None, f"line {line}: malformed CSV: {exc}") from None
        if not fields or all(not f.strip() for f in fields):
            continue
        if bad:
            for j, f in enumerate(fields):
                if _NOT_UTF8.search(f):
                    column = header[j].strip() if j < len(header) else f"column {j + 1}"
                    raise InputError(
                        file, record or None, None if record == 0 else column,
                        f"line {line}: not UTF-8 text; save the file as UTF-8 (it may be "
                        "Latin-1 or Windows-1252)",
                    )  # fmt: skip
        if record == 0:
            header = fields
        yield line, fields
        record += 1


_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def read_label_csv(
    path: Path, *, category: str | None = None, name: str | None = None
) -> LabelLoad:
    """Label CSV (``address,name,category[,chain,source,confidence]``) or Etherscan cloud CSV.

    ``category`` and ``name`` apply only when the file has no such column.
    """
    file = str(path)
    records = _csv_records(path)
    first = next(records, None)
    if first is None:
        raise InputError(file, None, None, "empty file: a label CSV needs a header line "
                         "(address,name,category)")  # fmt: skip
    header = [h.strip() for h in first[1]]
    cols: dict[str, int] = {}
    for j, h in enumerate(header):
        key = h.lower()
        if key in cols and key in _CSV_COLUMNS:
            raise InputError(file, None, h, "the column appears twice in the header")
        cols.setdefault(key, j)
    if "address" not in cols:
        hint = ""
        if header and isinstance(classify_address(header[0], None), tuple):
            hint = " (the first line is an address: a plain list? save it as .txt)"
        raise InputError(file, None, None, f"label CSV needs an 'address' column{hint}")
    etherscan = "name tag" in cols
    own = "category" in cols
    if not own and not category:
        kind = ("an Etherscan label CSV (Address, Name Tag)" if etherscan
                else "a label CSV without a 'category' column")  # fmt: skip
        raise CategoryNeeded(file, kind, "exchange")
    name_key = "name tag" if etherscan else "name"
    width = len(header)
    out = _Rows(file, names={k: header[j] for k, j in cols.items() if k in _CSV_COLUMNS})
    if etherscan:
        out.names["name"] = header[cols["name tag"]]
    read = 0
    for row, (line, fields) in enumerate(records, start=1):
        read += 1
        if len(fields) != width:
            if len(fields) > width and not any(f.strip() for f in fields[width:]):
                fields = fields[:width]  # trailing empty fields (a spreadsheet's extra commas)
            else:
                raise InputError(
                    file, row, None,
                    f"line {line}: {len(fields)} fields, but the header has {width}; a ragged "
                    "row is never realigned (quote fields that contain commas)",
                )  # fmt: skip

        def get(key: str, fields: list[str] = fields) -> str | None:
            j = cols.get(key)
            v = fields[j].strip() if j is not None else ""
            return v or None

        address = get("address")
        if address is None:
            raise InputError(file, row, header[cols["address"]], "empty address")
        cat = get("category") if own else category
        if not cat:
            raise InputError(file, row, header[cols["category"]], "empty category")
        chain = get("chain")
        out.add(
            row,
            address=address,
            chain_hint=normalize_chain(chain) if chain else None,
            name=get(name_key) or name or path.stem,
            category=cat,
            source=get("source") or path.name,
            confidence=get("confidence"),
            strict=True,
        )
    return out.load(read, own_categories=own)


#: Columns a label CSV may have (a duplicate of one of these is ambiguous).
_CSV_COLUMNS = ("address", "name", "name tag", "category", "chain", "source", "confidence")


def read_labels(
    path: str | Path, *, category: str | None = None, name: str | None = None
) -> LabelLoad:
    """Read any supported label file (detected by extension and content).

    ``category`` (and ``name``) fill in what a file does not say; a file's own categories are
    never overridden (see :attr:`LabelLoad.own_categories`).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(str(p), None, None, "no such file" if not p.exists() else "not a file")
    suffix = p.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return read_tagpack(p)
    if suffix == ".csv":
        return read_label_csv(p, category=category, name=name)
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
