"""The workspace's ``conversions`` tables: swaps/wraps and bridge events decoded at ingest.

Why at ingest: the workspace stores transfers, not logs, so the ``Swap``/``Deposit``/bridge
events are seen only while the export is read. Every ingest of a logs export (``eth_getLogs``
JSON, ethereum-etl ``logs``, RPC sync batches) decodes them, with the native-coin legs taken
from the workspace's transfers of the same transactions (transactions and traces exports
ingested before or with the logs), and appends what is new.

Layout and semantics (append-only, like the transfer partitions)::

    conversions/conversions-<hash>.parquet   conversion rows (tracer.sources.conversions)
    conversions/skips-<hash>.parquet         (chain, tx_hash, reason): conversion events that
                                             could not be resolved, one row per transaction
    conversions/bridge-<hash>.parquet        bridge events (tracer.sources.bridge_events)

The manifest's ``conversions`` list names each batch (``{"files": {table: name}, "rows":
{table: n}}``); files are content-addressed and never rewritten, and every later manifest names
all earlier files, so a reader pinned to an old manifest reads exactly what it listed and
cleanup may remove only unnamed files (uncommitted leftovers). Re-ingesting an export adds no
batch: keys already stored — ``(chain, tx_hash)`` for conversions, ``(chain, tx_hash, reason)``
for skips, ``(chain, tx_hash, log_index)`` for bridge events — are dropped before writing.
A transaction skipped once (say for want of traces) and resolved by a later ingest keeps both
rows; :func:`summary` counts it as a conversion, so counts add up: transactions with events =
conversions + skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from tracer.core.addresses import normalize_chain
from tracer.core.atomic import atomic_path
from tracer.core.errors import InputError
from tracer.core.lazy_import import lazy_module
from tracer.sources.base import ReadOptions
from tracer.sources.bridge_events import BRIDGE_EVENT_SCHEMA, decode_bridge_events, load_registry
from tracer.sources.conversions import (
    CONVERSION_SCHEMA,
    LOG_FORMATS,
    Decoded,
    decode_conversions,
    event_tx_hashes,
    file_format,
)
from tracer.store.generation import owned_dir

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
else:  # imported when first used (~0.1 s a follow in memory never needs)
    pa = lazy_module("pyarrow")
    pc = lazy_module("pyarrow.compute")
    ds = lazy_module("pyarrow.dataset")

KEY = "conversions"
SKIP_SCHEMA: dict[str, pl.DataType] = {
    "chain": pl.String(),
    "tx_hash": pl.String(),
    "reason": pl.String(),
}
#: Table name → (schema, de-duplication key).
TABLES: dict[str, tuple[dict[str, pl.DataType], list[str]]] = {
    "conversions": (CONVERSION_SCHEMA, ["chain", "tx_hash"]),
    "skips": (SKIP_SCHEMA, ["chain", "tx_hash", "reason"]),
    "bridge": (BRIDGE_EVENT_SCHEMA, ["chain", "tx_hash", "log_index"]),
}


class _Workspace(Protocol):
    """What the read side needs of a workspace (a Protocol: the store must not import its own
    workspace module from here, which imports this one)."""

    path: Path | None
    sources: list[str]

    def manifest(self) -> dict[str, Any]: ...

    def transfers(self) -> pl.DataFrame: ...


def empty(name: str) -> pl.DataFrame:
    return pl.DataFrame(schema=TABLES[name][0])


# -- read side ---------------------------------------------------------------------------------
def stored(root: Path, m: dict[str, Any], name: str) -> pl.DataFrame:
    """Every stored row of table ``name`` named by manifest ``m`` (in ingest order)."""
    schema = TABLES[name][0]
    files = [e["files"][name] for e in m.get(KEY, []) if name in e["files"]]
    if not files:
        return empty(name)
    frames = [pl.read_parquet(root / KEY / f) for f in files]
    return pl.concat(frames, how="vertical_relaxed").cast(schema)  # type: ignore[arg-type]


def stores_any(ws: _Workspace, names: tuple[str, ...]) -> bool:
    """Whether ``ws`` may hold rows of a table in ``names``: False only when its manifest names
    no file of theirs, or, in memory, none of its files is a logs file (only those are decoded,
    :func:`_decode_sources`). Cheaper than reading: an empty frame of these schemas costs
    ~0.3 ms to build, the decode of an in-memory workspace's tables several ms."""
    if ws.path is None:
        return any(_is_logs(f, None) for f in ws.sources)
    return any(n in e["files"] for e in ws.manifest().get(KEY, []) for n in names)


def read_table(ws: _Workspace, name: str) -> pl.DataFrame:
    """Table ``name`` of a workspace; for an in-memory one (``--data``), decoded from its logs
    files now (with the native legs of its own transfers)."""
    if ws.path is None:
        return _decode_sources(ws)[name]
    return stored(ws.path, ws.manifest(), name)


def read_conversions(ws: _Workspace) -> pl.DataFrame:
    """The workspace's conversions, one row per transaction (first decode wins)."""
    conv = read_table(ws, "conversions")
    return conv.unique(["chain", "tx_hash"], keep="first", maintain_order=True)


def summary(ws: _Workspace) -> dict[str, int]:
    """Counts that add up: transactions with conversion events = conversions + skipped, the
    skipped split by their latest reason (a transaction resolved later counts as converted)."""
    conv = read_conversions(ws)
    skips = read_table(ws, "skips").join(conv.select("chain", "tx_hash"),
                                         on=["chain", "tx_hash"], how="anti")  # fmt: skip
    skips = skips.unique(["chain", "tx_hash"], keep="last", maintain_order=True)
    out = {"transactions with conversion events": conv.height + skips.height,
           "conversions": conv.height}  # fmt: skip
    for reason, n in sorted(skips.group_by("reason").len().iter_rows()):
        out[f"skipped: {reason}"] = n
    unknown = conv.filter(pl.col("decimals_in").is_null() | pl.col("decimals_out").is_null())
    out["rows with unknown decimals"] = unknown.height
    return out


def _decode_sources(ws: _Workspace) -> dict[str, pl.DataFrame]:
    logs_files = [f for f in ws.sources if _is_logs(f, None)]
    transfers = ws.transfers()
    native = transfers.filter(pl.col("token").is_null())
    # the chain the files were read as (--chain): the transfers' one chain, if one
    chains = transfers["chain"].unique().to_list() if transfers.height else []
    chain = chains[0] if len(chains) == 1 else None
    return decode_logs(logs_files, ReadOptions(chain=chain), lambda txs, ts_range=None: native)


# -- write side --------------------------------------------------------------------------------
def _is_logs(path: str | Path, fmt: str | None) -> bool:
    try:
        return file_format(path, fmt) in LOG_FORMATS
    except Exception:  # not a format the readers know: the transfer ingest reports it
        return False


def _event_topics(registry: list[Any]) -> list[bytes]:
    """topic0s (hex, lower case, no 0x) of every event a decode looks for."""
    from tracer.sources.conversions import EVENTS

    return sorted({t[2:].encode() for t in EVENTS} | {e.topic0[2:].encode() for e in registry})


#: Bytes searched at a time by :func:`has_events` (bounded memory on multi-GB exports).
SCAN_CHUNK = 64 << 20


def has_events(path: str | Path, topics: list[bytes]) -> bool:
    """Whether the file's text holds any of ``topics`` (hex in either case): Aho-Corasick
    passes (Polars ``contains_any``) over chunks of :data:`SCAN_CHUNK` bytes, overlapping by a
    topic's length; about half the cost of parsing, so ingesting Transfer-only logs (every
    ``ingest-rpc`` token flush) skips the second parse."""
    patterns = [t.decode() for t in topics]
    overlap = max((len(t) for t in topics), default=0)
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(SCAN_CHUNK):
            text = (tail + chunk).decode("utf-8", errors="replace")
            if pl.Series([text]).str.contains_any(patterns, ascii_case_insensitive=True)[0]:
                return True
            tail = chunk[-overlap:] if overlap else b""
    return False


def decode_logs(
    files: Iterable[str | Path],
    options: ReadOptions | None,
    native_of: Any,
    fmt: str | None = None,
    *,
    skip_bad: bool = False,
    warnings: list[tuple[str, str]] | None = None,
) -> dict[str, pl.DataFrame]:
    """Decode every table from the logs files among ``files`` that hold a known event topic;
    ``native_of(tx_hashes)`` gives the canonical native-coin transfers of those transactions.

    A file whose logs do not read raises (its file, row and field), unless ``skip_bad``: then
    its events are not decoded and ``(file, message)`` goes to ``warnings`` (the transfer ingest
    has sent its bad rows to the rejects file; the conversions say what they lack).
    """
    from tracer.sources.raw_logs import read_logs

    out = {name: empty(name) for name in TABLES}
    candidates = [f for f in files if _is_logs(f, fmt)]
    if not candidates:  # no logs file: no event topics to hash (eth_utils stays unloaded)
        return out
    registry = load_registry()
    topics = _event_topics(registry)
    logs_files = [f for f in candidates if has_events(f, topics)]
    frames = []
    for f in logs_files:
        try:
            frames.append(read_logs(f).logs)
        except InputError as exc:
            if not skip_bad:
                raise
            if warnings is not None:
                warnings.append((str(f), f"conversions and bridge events not decoded: {exc}"))
    if not frames:
        return out
    opts = options or ReadOptions()
    chain = normalize_chain(opts.chain) if opts.chain else "ethereum"
    logs = pl.concat(frames)
    logs = logs.unique(["tx_hash", "log_index"], keep="first", maintain_order=True)
    txs = event_tx_hashes(logs, chain)
    if txs:
        ts = logs["ts"].drop_nulls()
        whole = ts.len() == logs.height and ts.len() > 0  # every log has its time: prune
        native = native_of(txs, (int(ts.min()), int(ts.max())) if whole else None)  # type: ignore[arg-type]
        decoded = decode_conversions(logs, chain=chain, native=native, tokens=opts.tokens)
        out["conversions"] = decoded.conversions
        out["skips"] = _skips(decoded, chain)
    out["bridge"] = decode_bridge_events(logs, chain, registry)
    return out


def _skips(decoded: Decoded, chain: str) -> pl.DataFrame:
    rows = {"chain": [chain] * len(decoded.skips),
            "tx_hash": [t for t, _ in decoded.skips],
            "reason": [r for _, r in decoded.skips]}  # fmt: skip
    return pl.DataFrame(rows, schema=SKIP_SCHEMA)


def _part_files(parts_dir: Path, parts: list[dict[str, Any]],
                ts_range: tuple[int, int] | None) -> list[str]:  # fmt: skip
    """Partition files, only those whose time range meets ``ts_range`` (µs) when given: the
    manifest records each file's first and last time, so a case's few days read a few files."""
    keep = [p for p in parts if ts_range is None
            or (p["last_ts"] >= ts_range[0] and p["first_ts"] <= ts_range[1])]  # fmt: skip
    return [str(parts_dir / "transfers" / p["file"]) for p in keep]


def scan_parts(
    parts_dir: Path,
    parts: list[dict[str, Any]],
    *,
    chain: str | None = None,
    tx_hashes: list[str] | None = None,
    addresses: list[str] | None = None,
    native_only: bool = False,
    ts_range: tuple[int, int] | None = None,
    columns: list[str] | None = None,
) -> pl.DataFrame:
    """The transfer rows of a generation that match, read with a pushed-down filter: only the
    filter's columns are scanned in full, only matching rows are materialised."""
    from tracer.core.schema import TRANSFER_PL

    cols = columns or list(TRANSFER_PL.names())
    files = _part_files(parts_dir, parts, ts_range)
    if not files or tx_hashes == [] or addresses == []:
        return pl.DataFrame(schema={c: TRANSFER_PL[c] for c in cols})
    filt = pc.scalar(True)
    if chain is not None:
        filt = filt & (pc.field("chain") == chain)
    if native_only:
        filt = filt & pc.field("token").is_null()
    if tx_hashes is not None:
        filt = filt & pc.field("tx_hash").isin(pa.array(tx_hashes, pa.string()))
    if addresses is not None:
        a = pa.array(addresses, pa.string())
        filt = filt & (pc.field("src").isin(a) | pc.field("dst").isin(a))
    table = ds.dataset(files, format="parquet").to_table(filter=filt, columns=cols)
    frame = pl.DataFrame(pl.from_arrow(table))
    return frame.cast({c: TRANSFER_PL[c] for c in cols})


def transfers_where(ws: _Workspace, **where: Any) -> pl.DataFrame:
    """:func:`scan_parts` over a workspace's pinned generation (in memory: a Polars filter)."""
    if ws.path is None or ws.manifest()["generation"] == 0:
        t = ws.transfers()
        if where.get("chain") is not None:
            t = t.filter(pl.col("chain") == where["chain"])
        if where.get("native_only"):
            t = t.filter(pl.col("token").is_null())
        if where.get("tx_hashes") is not None:
            t = t.filter(pl.col("tx_hash").is_in(where["tx_hashes"]))
        if where.get("addresses") is not None:
            a = where["addresses"]
            t = t.filter(pl.col("src").is_in(a) | pl.col("dst").is_in(a))
        return t.select(where["columns"]) if where.get("columns") else t
    m = ws.manifest()
    return scan_parts(ws.path / f"g{m['generation']}", m["parts"], **where)


def native_reader(parts_dir: Path, parts: list[dict[str, Any]], chain: str) -> Any:
    """``native_of(tx_hashes, ts_range)`` over a generation's partitions (the native-coin
    transfers of those transactions; only the partitions of the logs' time range)."""

    def native_of(txs: list[str], ts_range: tuple[int, int] | None = None) -> pl.DataFrame:
        cols = ["chain", "tx_hash", "seq", "src", "dst", "value", "token"]
        return scan_parts(parts_dir, parts, chain=chain, tx_hashes=txs, native_only=True,
                          ts_range=ts_range, columns=cols)  # fmt: skip

    return native_of


def ingest(
    root: Path,
    base: dict[str, Any],
    parts_dir: Path,
    parts: list[dict[str, Any]],
    files: Iterable[str | Path],
    *,
    options: ReadOptions | None = None,
    fmt: str | None = None,
    skip_bad: bool = False,
    warnings: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Manifest updates (``{"conversions": [...]}``) adding what ``files``' logs hold and the
    workspace does not; ``{}`` when nothing is new (re-ingest). ``parts_dir``/``parts``: the
    generation being committed (its transfers give the native legs); ``skip_bad`` and
    ``warnings`` as in :func:`decode_logs`."""
    opts = options or ReadOptions()
    chain = normalize_chain(opts.chain) if opts.chain else "ethereum"
    new = decode_logs(files, opts, native_reader(parts_dir, parts, chain), fmt,
                      skip_bad=skip_bad, warnings=warnings)  # fmt: skip
    entry: dict[str, Any] = {"files": {}, "rows": {}}
    for name, frame in new.items():
        key = TABLES[name][1]
        fresh = frame.unique(key, keep="first", maintain_order=True).join(
            stored(root, base, name).select(key), on=key, how="anti", nulls_equal=True
        )
        if fresh.height == 0:
            continue
        digest = hashlib.sha256(repr(fresh.rows()).encode()).hexdigest()[:16]  # content name
        fname = f"{name}-{digest}.parquet"
        with atomic_path(owned_dir(root, KEY) / fname) as tmp:
            fresh.write_parquet(tmp)
        entry["files"][name] = fname
        entry["rows"][name] = fresh.height
    if not entry["files"]:
        return {}
    return {KEY: [*base.get(KEY, []), entry]}
