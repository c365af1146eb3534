"""Bridge events decoded from logs, driven by a registry of bridge contracts (a data file).

Why a registry rather than code per bridge: bridges are many, redeploy often and differ only in
which contract emits which event with which fields. A row of ``tracer/data/bridges.csv`` (or of
a user's file in the same shape, :func:`load_registry`) names::

    chain, contract, protocol, role, link, domain, event, fields

* ``role``: ``source`` (value leaves this chain: a burn or lock) or ``destination`` (a mint or
  release);
* ``link``: how a destination leg finds its source leg — ``domain-nonce`` (an id the protocol
  assigns on the source chain and repeats on the destination, Circle CCTP V1: the source domain
  and the message nonce), ``source-tx`` (the destination event names the source transaction) or
  ``amount-window`` (nothing on chain links them: candidates by amount, asset and time, inferred);
* ``domain``: the protocol's own id of this chain (CCTP domain), what the other side names;
* ``event``: the Solidity signature *with* parameter names and ``indexed`` markers, from which
  topic0 (Keccak of the canonical signature) and the decoding follow;
* ``fields``: ``role=parameter`` pairs (``;``-separated) saying which parameter holds which
  part of a leg: ``nonce``, ``token``, ``amount``, ``fee``, ``max_fee``, ``sender``, ``recipient``,
  ``source_domain``, ``dest_domain``, ``source_tx``, ``dest_chain``.

Each decoded log is one row of :data:`BRIDGE_EVENT_SCHEMA`; the matcher
(:mod:`tracer.analysis.bridges`) assembles rows of one transaction into legs. A log of a
registered contract and topic that does not decode is kept as a row with ``problem`` set, so
the matcher counts it (nothing is dropped silently). A malformed registry row is an
:class:`~tracer.core.errors.InputError` naming the file, row and field.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from tracer.core.addresses import TRON, normalize, normalize_chain, tron_hex_to_base58
from tracer.core.errors import InputError

#: Extra registry files (``os.pathsep``-separated), read after the shipped one at every ingest.
ENV = "TRACER_BRIDGES"
ROLES = ("source", "destination")
LINKS = ("domain-nonce", "source-tx", "amount-window")
FIELDS = ("nonce", "token", "amount", "fee", "max_fee", "sender", "recipient", "source_domain",
          "dest_domain", "source_tx", "dest_chain")  # fmt: skip
_ADDRESS_FIELDS = {"token", "sender", "recipient"}
_INT_FIELDS = {"source_domain", "dest_domain"}
COLUMNS = ("chain", "contract", "protocol", "role", "link", "domain", "event", "fields")

BRIDGE_EVENT_SCHEMA: dict[str, pl.DataType] = {
    "chain": pl.String(),
    "tx_hash": pl.String(),
    "log_index": pl.Int64(),
    "block": pl.Int64(),
    "ts": pl.Datetime("us", "UTC"),
    "contract": pl.String(),
    "protocol": pl.String(),
    "role": pl.String(),
    "link": pl.String(),
    "domain": pl.Int64(),
    "event": pl.String(),
    **{f: (pl.Int64() if f in _INT_FIELDS else pl.String()) for f in FIELDS},
    "problem": pl.String(),  # set when the log could not be decoded (the row is still counted)
}


@dataclass(frozen=True)
class Param:
    type: str
    name: str
    indexed: bool


@dataclass(frozen=True)
class Entry:
    """One registry row: one event of one contract on one chain."""

    chain: str
    contract: str
    protocol: str
    role: str
    link: str
    domain: int | None
    name: str
    params: tuple[Param, ...]
    fields: tuple[tuple[str, str], ...]  # (leg field, parameter name)

    @property
    def topic0(self) -> str:
        from eth_utils import keccak  # here: ~0.2 s to import; a follow decodes no logs

        sig = f"{self.name}({','.join(p.type for p in self.params)})"
        return "0x" + keccak(text=sig).hex()


_SIG_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$")
_INT_BITS = "|".join(str(8 * k) for k in range(1, 33))
_BYTES_N = "[1-9]|[12][0-9]|3[0-2]"
_TYPE_RE = re.compile(rf"^(address|bool|string|bytes({_BYTES_N})?|u?int({_INT_BITS})?)$")


def parse_event(text: str) -> tuple[str, tuple[Param, ...]]:
    """``Name(type [indexed] name, ...)`` → name and parameters; ValueError says what is wrong."""
    m = _SIG_RE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not an event signature like Name(uint256 indexed a,...)")
    params = []
    for i, part in enumerate(p for p in m.group(2).split(",") if p.strip()):
        words = part.split()
        indexed = "indexed" in words
        words = [w for w in words if w != "indexed"]
        if len(words) != 2:
            raise ValueError(f"parameter {i + 1} ({part.strip()!r}) needs a type and a name")
        typ, name = words
        typ = {"uint": "uint256", "int": "int256"}.get(typ, typ)
        if not _TYPE_RE.match(typ):
            raise ValueError(f"parameter {name!r}: type {typ!r} is not one this decoder reads")
        params.append(Param(typ, name, indexed))
    if sum(p.indexed for p in params) > 3:
        raise ValueError("an event has at most 3 indexed parameters")
    return m.group(1), tuple(params)


def _entry(row: dict[str, str], file: str, line: int) -> Entry:
    def bad(field: str, reason: str) -> InputError:
        return InputError(file, line, field, reason)

    for col in COLUMNS:
        if col not in row or row[col] is None:
            raise bad(col, "missing column (the header is " + ",".join(COLUMNS) + ")")
    chain = normalize_chain(row["chain"])
    if not chain:
        raise bad("chain", "empty")
    try:
        contract = normalize(chain, row["contract"])
    except ValueError as exc:
        raise bad("contract", str(exc)) from None
    role, link = row["role"].strip(), row["link"].strip()
    if role not in ROLES:
        raise bad("role", f"{role!r} is not one of {', '.join(ROLES)}")
    if link not in LINKS:
        raise bad("link", f"{link!r} is not one of {', '.join(LINKS)}")
    dom = row["domain"].strip()
    if dom and not dom.isdigit():
        raise bad("domain", f"{dom!r} is not a non-negative integer")
    try:
        name, params = parse_event(row["event"])
    except ValueError as exc:
        raise bad("event", str(exc)) from None
    by_name = {p.name: p for p in params}
    fields = []
    for pair in (p for p in row["fields"].split(";") if p.strip()):
        key, _, param = (s.strip() for s in pair.partition("="))
        if key not in FIELDS:
            raise bad("fields", f"{key!r} is not a leg field ({', '.join(FIELDS)})")
        if param not in by_name:
            raise bad("fields", f"{key}={param}: the event has no parameter {param!r}")
        p = by_name[param]
        if p.indexed and p.type in ("string", "bytes"):
            raise bad("fields", f"{key}={param}: an indexed {p.type} is only a hash in the log")
        fields.append((key, param))
    if not fields:
        raise bad("fields", "names no leg field (e.g. amount=amount;token=burnToken)")
    return Entry(chain, contract, row["protocol"].strip(), role, link,
                 int(dom) if dom else None, name, params, tuple(fields))  # fmt: skip


def read_registry(path: str | Path) -> list[Entry]:
    """Registry rows of one CSV file (header :data:`COLUMNS`); InputError on a bad row."""
    text = Path(path).read_text(encoding="utf-8")
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or set(COLUMNS) - set(reader.fieldnames):
        missing = sorted(set(COLUMNS) - set(reader.fieldnames or []))
        raise InputError(str(path), None, None, f"bridge registry without column(s) {missing}; "
                         f"the header is {','.join(COLUMNS)}")  # fmt: skip
    return [_entry(row, str(path), i) for i, row in enumerate(reader, start=1)]


def load_registry(extra: tuple[str | Path, ...] | list[str | Path] = ()) -> list[Entry]:
    """The shipped registry, then the files in :data:`ENV`, then ``extra`` (later rows of the
    same chain, contract and event replace earlier ones)."""
    shipped = resources.files("tracer") / "data" / "bridges.csv"
    with resources.as_file(shipped) as p:
        entries = read_registry(p)
    env = [p for p in os.environ.get(ENV, "").split(os.pathsep) if p]
    for path in [*env, *extra]:
        entries += read_registry(path)
    latest = {(e.chain, e.contract, e.topic0): e for e in entries}
    return list(latest.values())


def _emitter(chain: str, address: str) -> str:
    h = address[-40:].lower()
    return tron_hex_to_base58("41" + h) if chain == TRON else "0x" + h


def _value(chain: str, field: str, typ: str, value: Any) -> Any:
    if isinstance(value, bytes):
        if field in _ADDRESS_FIELDS:
            return _emitter(chain, value.hex())
        return "0x" + value.hex()
    if field in _ADDRESS_FIELDS:
        return _emitter(chain, str(value))
    if field in _INT_FIELDS:
        return int(value)
    return str(value)


def _decode_log(e: Entry, topics: list[str | None], data: str) -> dict[str, Any]:
    from eth_abi import decode as abi_decode  # here: ~0.3 s to import; a follow decodes no logs

    indexed = [p for p in e.params if p.indexed]
    plain = [p for p in e.params if not p.indexed]
    given = [t for t in topics if t is not None]
    if len(given) != len(indexed):
        raise ValueError(f"{len(given)} indexed topics, the event has {len(indexed)}")
    values: dict[str, Any] = {}
    for p, t in zip(indexed, given, strict=True):
        values[p.name] = abi_decode([p.type], bytes.fromhex(t[2:].rjust(64, "0")))[0]
    body = bytes.fromhex(data[2:] if data.startswith("0x") else data)
    for p, v in zip(plain, abi_decode([p.type for p in plain], body), strict=True):
        values[p.name] = v
    return {field: _value(e.chain, field, by.type, values[param])
            for field, param in e.fields for by in e.params if by.name == param}  # fmt: skip


def decode_bridge_events(logs: pl.DataFrame, chain: str, registry: list[Entry]) -> pl.DataFrame:
    """Rows of :data:`BRIDGE_EVENT_SCHEMA` for the logs (``LOG_SCHEMA``) of registered bridge
    contracts of ``chain``; logs that do not decode keep a row with ``problem`` set."""
    mine = {(e.contract, e.topic0): e for e in registry if e.chain == chain}
    if not mine or logs.height == 0:
        return pl.DataFrame(schema=BRIDGE_EVENT_SCHEMA)
    topics = sorted({t for _, t in mine})
    cand = logs.filter(pl.col("topic0").is_in(topics))
    rows = []
    cols = ("tx_hash", "log_index", "block", "ts", "address", "topic0", "topic1", "topic2",
            "topic3", "data")  # fmt: skip
    for tx, li, block, ts, address, t0, t1, t2, t3, data in cand.select(cols).iter_rows():
        e = mine.get((_emitter(chain, address or ""), t0))
        if e is None:
            continue  # the same event from a contract that is not registered
        row: dict[str, Any] = {"chain": chain, "tx_hash": tx, "log_index": li, "block": block,
                               "ts": ts, "contract": e.contract, "protocol": e.protocol,
                               "role": e.role, "link": e.link, "domain": e.domain,
                               "event": e.name, "problem": None}  # fmt: skip
        try:
            row.update(_decode_log(e, [t1, t2, t3], data or "0x"))
        except Exception as exc:  # eth_abi raises several types for short or odd data
            row["problem"] = f"{chain} tx {tx} log {li}: {e.name} does not decode ({exc})"
        rows.append(row)
    build = {**BRIDGE_EVENT_SCHEMA, "ts": pl.Int64()}
    frame = pl.DataFrame([{k: r.get(k) for k in build} for r in rows], schema=build)
    frame = frame.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    if chain == TRON:
        frame = frame.with_columns(pl.col("tx_hash").str.strip_prefix("0x"))
    return frame.cast(BRIDGE_EVENT_SCHEMA)  # type: ignore[arg-type]


def event_filters(registry: list[Entry], chain: str) -> list[tuple[str, list[list[str]]]]:
    """``(contract, topics)`` per registered contract of ``chain``: the ``eth_getLogs`` filter
    (topic0 any of its events) an RPC sync fetches bridge events with."""
    by_contract: dict[str, set[str]] = {}
    for e in registry:
        if e.chain == chain:
            by_contract.setdefault(e.contract, set()).add(e.topic0)
    return [(c, [sorted(t)]) for c, t in sorted(by_contract.items())]
