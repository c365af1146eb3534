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
from typing import Any, Protocol

import polars as pl
import pyarrow.compute as pc
import pyarrow.dataset as ds

from tracer.core.addresses import normalize_chain
from tracer.core.atomic import atomic_path
from tracer.sources.base import ReadOptions
from tracer.sources.conversions import (
    CONVERSION_SCHEMA,
    LOG_FORMATS,
    Decoded,
    decode_conversions,
    event_tx_hashes,
    file_format,
)
from tracer.store.generation import owned_dir

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
}


class _Workspace(Protocol):
    """What the read side needs of a workspace (a Protocol: the store must not import its own
    workspace module from here, which imports this one)."""

    path: Path | None
    sources: list[str]

    def manifest(self) -> dict[str, Any]: ...

    def transfers(self) -> pl.DataFrame: ...


def register(name: str, schema: dict[str, pl.DataType], key: list[str]) -> None:
    """Add a table kept beside the conversions (the bridge events); name must match
    :data:`tracer.store.manifest.CONVERSIONS_RE`."""
    TABLES[name] = (schema, key)


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
    native = ws.transfers().filter(pl.col("token").is_null())
    chains = native["chain"].unique().to_list() if native.height else []
    chain = chains[0] if len(chains) == 1 else None
    return decode_logs(logs_files, ReadOptions(chain=chain), lambda txs: native)


# -- write side --------------------------------------------------------------------------------
def _is_logs(path: str | Path, fmt: str | None) -> bool:
    try:
        return file_format(path, fmt) in LOG_FORMATS
    except Exception:  # not a format the readers know: the transfer ingest reports it
        return False


def decode_logs(
    files: Iterable[str | Path],
    options: ReadOptions | None,
    native_of: Any,
    fmt: str | None = None,
) -> dict[str, pl.DataFrame]:
    """Decode every table from the logs files among ``files``; ``native_of(tx_hashes)`` gives
    the canonical native-coin transfers of those transactions."""
    from tracer.sources.raw_logs import read_logs

    out = {name: empty(name) for name in TABLES}
    logs_files = [f for f in files if _is_logs(f, fmt)]
    if not logs_files:
        return out
    opts = options or ReadOptions()
    chain = normalize_chain(opts.chain) if opts.chain else "ethereum"
    logs = pl.concat([read_logs(f).logs for f in logs_files])
    logs = logs.unique(["tx_hash", "log_index"], keep="first", maintain_order=True)
    txs = event_tx_hashes(logs, chain)
    if txs:
        native = native_of(txs)
        decoded = decode_conversions(logs, chain=chain, native=native, tokens=opts.tokens)
        out["conversions"] = decoded.conversions
        out["skips"] = _skips(decoded, chain)
    for name, decode in _DECODERS.items():
        out[name] = decode(logs, chain, opts)
    return out


#: Further decoders of stored tables (name → ``(logs, chain, options) -> frame``): the bridge
#: events register here.
_DECODERS: dict[str, Any] = {}


def _skips(decoded: Decoded, chain: str) -> pl.DataFrame:
    rows = {"chain": [chain] * len(decoded.skips),
            "tx_hash": [t for t, _ in decoded.skips],
            "reason": [r for _, r in decoded.skips]}  # fmt: skip
    return pl.DataFrame(rows, schema=SKIP_SCHEMA)


def native_reader(parts_dir: Path, parts: list[dict[str, Any]], chain: str) -> Any:
    """``native_of(tx_hashes)`` over a generation's partitions: only the rows of those
    transactions are materialised (the scan reads the ``tx_hash`` and ``token`` columns)."""

    def native_of(txs: list[str]) -> pl.DataFrame:
        files = [str(parts_dir / "transfers" / p["file"]) for p in parts]
        if not files:
            return pl.DataFrame()
        filt = (pc.field("chain") == chain) & pc.field("token").is_null() & pc.field(
            "tx_hash").isin(txs)  # fmt: skip
        table = ds.dataset(files, format="parquet").to_table(
            filter=filt, columns=["chain", "tx_hash", "seq", "src", "dst", "value", "token"]
        )
        return pl.from_arrow(table)  # type: ignore[return-value]

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
) -> dict[str, Any]:
    """Manifest updates (``{"conversions": [...]}``) adding what ``files``' logs hold and the
    workspace does not; ``{}`` when nothing is new (re-ingest). ``parts_dir``/``parts``: the
    generation being committed (its transfers give the native legs)."""
    opts = options or ReadOptions()
    chain = normalize_chain(opts.chain) if opts.chain else "ethereum"
    new = decode_logs(files, opts, native_reader(parts_dir, parts, chain), fmt)
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
