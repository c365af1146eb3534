"""Internal value transfers: native coin that moves inside contract calls, read from traces.

A swap paid out in ETH, a contract wallet's payout or a selfdestruct's refund appear in no
``Transfer`` log and in no transaction's ``value``: only the execution trace shows them. These
formats turn traces into canonical native-coin transfers (``token`` null):

``ethereum-etl-traces`` : ethereum-etl ``traces.csv`` (``trace_address`` comma-joined) and the
    ``ethereumetl stream`` newline-JSON ``trace`` records (BigQuery ``crypto_ethereum.traces`` has
    the same columns).
``parity-traces`` : ``trace_block`` (Parity/OpenEthereum/Erigon/Nethermind) JSON-RPC responses,
    a batch of them, or a bare array of trace objects.
``geth-traces`` : ``debug_traceBlockByNumber`` with ``{"tracer": "callTracer"}`` responses (the
    nested call tree per transaction, with ``txHash`` since geth 1.11), and ethereum-etl's
    ``geth_traces.json`` (``{"block_number", "transaction_traces"}`` per block).
``trongrid-internal`` : TronGrid internal transactions: records of
    ``/v1/accounts/{addr}/transactions?only_internal=true`` (``tx_id, internal_tx_id,
    from_address, to_address, data{call_value, rejected}``), the ``internal_transactions`` of
    ``/v1/accounts/{addr}/transactions`` records, and ``/wallet/gettransactioninfobyid``
    responses (``internal_transactions[]{hash, caller_address, transferTo_address,
    callValueInfo[{callValue, tokenId}], rejected}``).

What is loaded and what is skipped (every skip is counted with its reason):

* a call, create or selfdestruct that moved a non-zero value, and whose own call and every
  ancestor call succeeded, is one transfer ``from → to`` (create: to the new contract;
  selfdestruct: the destroyed contract's balance to the refund address);
* failed calls (an ``error``, ethereum-etl ``status`` 0, TronGrid ``rejected``) and every call
  beneath them (reverted with their parent) are skipped;
* zero-value calls; ``delegatecall`` and ``staticcall`` (never move value); ``callcode`` (runs
  the callee's code in the caller's account: the value stays where it was); block and uncle
  rewards (minted, no sender); TRC-10 token values inside Tron internal transactions.

``seq`` (stable, never a log index — see :func:`trace_seq`): the top-level call gets ``0``, the
same ``seq`` as the ethereum-etl ``transactions`` reader gives the transaction's own value, so
ingesting both a transactions and a traces export counts that value once; internal calls get a
value ``>= 2**61`` derived from the trace address only, so the same trace from any export (a
filtered BigQuery query or a full ``trace_block``) gets the same ``seq``, and a block's internal
transfers sort after its logs and, for addresses up to 6 levels deep with indices below 1023, in
execution (pre-)order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

import polars as pl

from tracer.core import jsonsafe
from tracer.core.errors import InputError
from tracer.sources.base import RawBatch, ReadOptions, raw_schema
from tracer.sources.sample import Sample, json_error_reason, read_csv_strings
from tracer.sources.timestamps import timestamp_us

FORMATS = ("ethereum-etl-traces", "parity-traces", "geth-traces", "trongrid-internal")
ETL_TRACE_COLUMNS = {"trace_address", "trace_type", "from_address", "to_address", "value"}

PACKED_BASE = 1 << 61
HASHED_BASE = 1 << 62
_LEVELS, _BITS = 6, 10

SKIP_FAILED = "failed call (trace error)"
SKIP_REVERTED = "reverted: inside a failed call"
SKIP_ZERO = "zero-value call (no native coin moved)"
SKIP_DELEGATE = "delegatecall (moves no value)"
SKIP_STATIC = "staticcall (moves no value)"
SKIP_CALLCODE = "callcode (value stays with the caller)"
SKIP_REWARD = "block or uncle reward (minted, no sender)"
SKIP_TRC10 = "TRC-10 token value in an internal transaction (not a native coin)"
SKIP_NO_VALUE = "selfdestruct without a value (this geth omits it; use trace_block)"


def trace_seq(trace_address: list[int] | None, key: str | None = None) -> int:
    """The stable ``seq`` of a trace inside its transaction (see the module docstring).

    ``[]`` → 0 (the transaction's own value); up to 6 levels with indices < 1023 →
    ``2**61 + Σ (i_k + 1) << 10·(5-k)`` (order-preserving, injective); otherwise
    ``2**62 +`` a 62-bit BLAKE2b of the address (or of ``key``, e.g. a TronGrid internal id,
    when there is no trace address). Both ranges lie far above any log index (< 2**32).
    """
    if trace_address is not None:
        if not trace_address:
            return 0
        if len(trace_address) <= _LEVELS and all(0 <= i < (1 << _BITS) - 1 for i in trace_address):
            packed = 0
            for k, i in enumerate(trace_address):
                packed |= (i + 1) << (_BITS * (_LEVELS - 1 - k))
            return PACKED_BASE + packed
        key = ",".join(str(i) for i in trace_address)
    digest = hashlib.blake2b(f"trace:{key}".encode(), digest_size=8).digest()
    return HASHED_BASE + (int.from_bytes(digest, "big") >> 2)


# -- one trace, whatever the format ------------------------------------------------------------


def _int(v: Any) -> int | None:
    """An integer from JSON/CSV text: decimal, ``0x`` hex, or ``None`` when empty."""
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        raise ValueError(f"not an integer: {v!r}")
    if isinstance(v, int):
        return v
    t = str(v).strip()
    if t == "":
        return None
    return int(t, 16) if t.lower().startswith("0x") else int(t)


def _address(v: Any) -> list[int]:
    if v is None or v == "":
        return []
    if isinstance(v, list):
        return [int(i) for i in v]
    return [int(i) for i in str(v).strip().strip("[]").split(",") if i.strip() != ""]


def _trace(
    *,
    tx_hash: Any,
    block: Any,
    ts: Any,
    trace_address: list[int] | None,
    kind: str,
    src: Any,
    dst: Any,
    value: Any,
    failed: bool,
    chain: str | None = None,
    key: str | None = None,
    skip: str | None = None,
) -> dict[str, Any]:
    """A trace reduced to what decides whether and what it transferred (not yet skipped)."""
    return {
        "tx_hash": tx_hash,
        "block": block,
        "ts": ts,
        "addr": trace_address,
        "kind": kind,
        "src": src,
        "dst": dst,
        "value": value,
        "failed": failed,
        "chain": chain,
        "key": key,
        "skip": skip,
    }


def _kind_skip(kind: str) -> str | None:
    return {
        "delegatecall": SKIP_DELEGATE,
        "staticcall": SKIP_STATIC,
        "callcode": SKIP_CALLCODE,
        "reward": SKIP_REWARD,
    }.get(kind)


def _reverted(traces: list[dict[str, Any]]) -> list[bool]:
    """Whether an ancestor call in the same transaction failed (its effects are undone)."""
    failed_prefixes: dict[Any, list[tuple[int, ...]]] = {}
    for t in traces:
        if t["failed"] and t["addr"] is not None:
            failed_prefixes.setdefault(t["tx_hash"], []).append(tuple(t["addr"]))
    out = []
    for t in traces:
        prefixes = failed_prefixes.get(t["tx_hash"], ())
        a = tuple(t["addr"] or ())
        out.append(any(len(p) < len(a) and a[: len(p)] == p for p in prefixes))
    return out


# -- formats -----------------------------------------------------------------------------------


def _etl_rows(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for r in records:
        kind = (r.get("trace_type") or "").lower()
        call_type = (r.get("call_type") or "").lower()
        status = r.get("status")
        own_error = bool(r.get("error"))
        yield _trace(
            tx_hash=r.get("transaction_hash"),
            block=r.get("block_number"),
            ts=r.get("block_timestamp"),
            trace_address=_address(r.get("trace_address")),
            kind=call_type if kind == "call" and call_type else kind,
            src=r.get("from_address"),
            dst=r.get("to_address"),
            value=r.get("value"),
            # status 0 without an error of its own: an ancestor failed (ethereum-etl propagates)
            failed=own_error,
            skip=SKIP_REVERTED if not own_error and str(status) == "0" else None,
        )


def _parity_rows(traces: list[Any], path: str) -> Iterator[dict[str, Any]]:
    for i, t in enumerate(traces, start=1):
        if not isinstance(t, dict):
            raise InputError(path, i, None, "trace is not a JSON object")
        a = t.get("action") or {}
        kind = (t.get("type") or "").lower()
        src, dst, value = a.get("from"), a.get("to"), a.get("value")
        if kind == "call":
            kind = (a.get("callType") or "call").lower()
        elif kind == "create":
            dst = (t.get("result") or {}).get("address")
        elif kind == "suicide":
            src, dst, value = a.get("address"), a.get("refundAddress"), a.get("balance")
        yield _trace(
            tx_hash=t.get("transactionHash"),
            block=t.get("blockNumber"),
            ts=t.get("blockTimestamp"),
            trace_address=list(t.get("traceAddress") or []),
            kind=kind,
            src=src,
            dst=dst,
            value=value,
            failed=bool(t.get("error")),
        )


_GETH_KIND = {"create2": "create", "selfdestruct": "suicide"}


def _geth_tree(
    node: dict[str, Any], address: list[int], tx_hash: Any, block: Any
) -> Iterator[dict[str, Any]]:
    kind = str(node.get("type") or "").lower()
    kind = _GETH_KIND.get(kind, kind)
    skip = SKIP_NO_VALUE if kind == "suicide" and node.get("value") is None else None
    yield _trace(
        tx_hash=tx_hash,
        block=block,
        ts=None,
        trace_address=address,
        kind=kind,
        src=node.get("from"),
        dst=node.get("to"),
        value=node.get("value"),
        failed=bool(node.get("error")),
        skip=skip,
    )
    for j, child in enumerate(node.get("calls") or []):
        if isinstance(child, dict):
            yield from _geth_tree(child, [*address, j], tx_hash, block)


def geth_rows(doc: Any) -> Iterator[dict[str, Any]]:
    """Flatten geth ``callTracer`` trees (every accepted wrapper) into per-call traces.

    Each trace gets the ``trace_address`` Parity would give it (child index path), which is what
    makes both tracers produce the same ``seq`` and lets them de-duplicate.
    """
    for block, tx_index, entry in _geth_entries(doc):
        tree = entry.get("result", entry) if isinstance(entry, dict) else None
        if not isinstance(tree, dict):
            continue
        tx_hash = entry.get("txHash") if isinstance(entry, dict) else None
        for t in _geth_tree(tree, [], tx_hash, block):
            t["tx_index"] = tx_index
            yield t


def _geth_entries(doc: Any) -> Iterator[tuple[Any, int, Any]]:
    if isinstance(doc, list):
        wrapped = all(
            isinstance(x, dict) and ("jsonrpc" in x or "transaction_traces" in x) for x in doc
        )
        if wrapped:  # a batch of responses or ethereum-etl's per-block records
            for x in doc:
                yield from _geth_entries(x)
            return
        for i, entry in enumerate(doc):  # a bare list of per-transaction entries
            yield None, i, entry
        return
    if isinstance(doc, dict) and "transaction_traces" in doc:
        for i, tree in enumerate(doc.get("transaction_traces") or []):
            yield doc.get("block_number"), i, tree
    elif isinstance(doc, dict) and isinstance(doc.get("result"), list):
        for i, entry in enumerate(doc["result"]):
            yield doc.get("blockNumber"), i, entry


def _tron_value(v: Any) -> tuple[int | None, bool]:
    """TronGrid ``call_value``: a number, or ``{"_": sun, "<token id>": amount}``.

    Returns (TRX in sun or None, whether a TRC-10 token value is present).
    """
    if isinstance(v, dict):
        trc10 = any(k != "_" and _int(x) for k, x in v.items())
        return _int(v.get("_")), trc10
    return _int(v), False


def _tron_rows(records: list[Any], path: str) -> Iterator[dict[str, Any]]:
    for i, r in enumerate(records, start=1):
        if not isinstance(r, dict):
            raise InputError(path, i, None, "record is not a JSON object")
        parent = r.get("txID") or r.get("id")
        ts = r.get("block_timestamp") or r.get("blockTimeStamp")
        block = r.get("blockNumber")
        # an only_internal record is itself one internal transaction; a plain transaction
        # record (raw_data) without the key has none
        if "internal_transactions" in r or "raw_data" in r:
            inner = r.get("internal_transactions") or []
        else:
            inner = [r]
        for j, it in enumerate(inner):
            if not isinstance(it, dict):
                raise InputError(path, i, "internal_transactions", "entry is not a JSON object")
            data: dict[str, Any] = it["data"] if isinstance(it.get("data"), dict) else {}
            trc10 = False
            value: int | None
            if "callValueInfo" in it:
                value = 0
                for cv in it.get("callValueInfo") or []:
                    if cv.get("tokenId"):
                        trc10 = trc10 or bool(_int(cv.get("callValue")))
                    else:
                        value += _int(cv.get("callValue")) or 0
            else:
                value, trc10 = _tron_value(data.get("call_value", it.get("call_value")))
            rejected = data.get("rejected", it.get("rejected"))
            key = it.get("internal_tx_id") or it.get("hash") or f"{parent}#{j}"
            yield _trace(
                tx_hash=it.get("tx_id") or parent,
                block=it.get("blockNumber", block),
                ts=it.get("block_timestamp", ts),
                trace_address=None,
                kind="call",
                src=it.get("from_address") or it.get("caller_address"),
                dst=it.get("to_address") or it.get("transferTo_address"),
                value=value,
                failed=rejected in (True, "true"),
                chain="tron",
                key=str(key),
                skip=SKIP_TRC10 if trc10 and not value else None,
            )


def _tron_records(doc: Any) -> list[Any] | None:
    if isinstance(doc, dict):
        if isinstance(doc.get("data"), list):
            return doc["data"]
        if "internal_transactions" in doc:
            return [doc]
    if isinstance(doc, list) and doc and all(isinstance(x, dict) for x in doc):
        if all(isinstance(x.get("data"), list) for x in doc):
            return [r for x in doc for r in x["data"]]
        return doc
    return None


def _parity_traces(doc: Any) -> list[Any] | None:
    def is_trace(x: Any) -> bool:
        return isinstance(x, dict) and "action" in x and "traceAddress" in x

    if isinstance(doc, dict) and isinstance(doc.get("result"), list):
        res = doc["result"]
        return res if not res or is_trace(res[0]) else None
    if isinstance(doc, list) and doc:
        if all(isinstance(x, dict) and isinstance(x.get("result"), list) for x in doc):
            flat = [t for x in doc for t in x["result"]]
            return flat if not flat or is_trace(flat[0]) else None
        if is_trace(doc[0]):
            return doc
    return None


def _is_geth(doc: Any) -> bool:
    if isinstance(doc, dict) and "transaction_traces" in doc:
        return True
    entries = doc.get("result") if isinstance(doc, dict) else doc
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        e = entries[0]
        if "transaction_traces" in e or "jsonrpc" in e:
            inner = e.get("transaction_traces") or e.get("result") or [{}]
            e = inner[0] if isinstance(inner, list) and inner else {}
        tree = e.get("result", e) if isinstance(e, dict) else None
        return isinstance(tree, dict) and "type" in tree and ("calls" in tree or "gas" in tree)
    return False


def _is_tron(doc: Any) -> bool:
    recs = _tron_records(doc)
    if not recs or not isinstance(recs[0], dict):
        return False
    r = recs[0]
    return "internal_tx_id" in r or ("internal_transactions" in r and "raw_data" not in r)


def sniff(s: Sample) -> str | None:
    if s.kind == "csv":
        return "ethereum-etl-traces" if set(s.header) >= ETL_TRACE_COLUMNS else None
    if s.kind == "ndjson" and s.first is not None and s.document is None:
        if s.first.get("type") == "trace" or set(s.first) >= ETL_TRACE_COLUMNS:
            return "ethereum-etl-traces"
        if "transaction_traces" in s.first:
            return "geth-traces"
        return None
    doc = s.document if s.document is not None else s.first
    if doc is None:
        return None
    if isinstance(doc, dict) and (doc.get("type") == "trace" or set(doc) >= ETL_TRACE_COLUMNS):
        return "ethereum-etl-traces"
    if _parity_traces(doc) is not None and doc not in ({"result": []}, []):
        return "parity-traces"
    if _is_geth(doc):
        return "geth-traces"
    if _is_tron(doc):
        return "trongrid-internal"
    return None


def _ndjson(s: Sample) -> list[dict[str, Any]]:
    out = []
    with s.path.open("rb") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = jsonsafe.parse(line)
            except json.JSONDecodeError as exc:
                raise InputError(str(s.path), i, None, f"invalid JSON: {exc.msg}") from None
            except (ValueError, RecursionError) as exc:  # not UTF-8; nested too deeply
                raise InputError(str(s.path), i, None, json_error_reason(exc)) from None
            if not isinstance(obj, dict):
                raise InputError(str(s.path), i, None, "line is not a JSON object")
            out.append(obj)
    return out


def raw_traces(s: Sample, fmt: str) -> list[dict[str, Any]]:
    """The traces of a file in one shape (before deciding what is a transfer), for any format."""
    path = str(s.path)
    if fmt == "ethereum-etl-traces":
        if s.kind == "csv":
            recs: list[dict[str, Any]] = read_csv_strings(s.path).to_dicts()
        else:
            recs = _ndjson(s)
        out: list[dict[str, Any]] = []
        for r in recs:
            kind = r.get("type")
            if kind in (None, "trace"):
                out.extend(_etl_rows([r]))
            else:  # a mixed stream: other records are counted, not dropped
                out.append(_trace(tx_hash=None, block=None, ts=None, trace_address=None,
                                  kind=str(kind), src=None, dst=None, value=None, failed=False,
                                  skip=f"not a trace record (type={kind})"))  # fmt: skip
        return out
    if fmt == "geth-traces":
        doc = s.document if s.document is not None else _ndjson(s)
        return list(geth_rows(doc))
    doc = s.document if s.document is not None else s.first
    if fmt == "parity-traces":
        traces = _parity_traces(doc)
        if traces is None:
            raise InputError(path, None, None, "not a trace_block response (no traceAddress)")
        return list(_parity_rows(traces, path))
    recs_t = _tron_records(doc)
    if recs_t is None:
        raise InputError(path, None, None, "not a TronGrid internal-transactions document")
    return list(_tron_rows(recs_t, path))


def transfers_from_traces(traces: list[dict[str, Any]], fmt: str) -> pl.DataFrame:
    """Decide per trace: a transfer (with its ``seq``) or a skip reason; bad fields are errors."""
    reverted = _reverted(traces)
    rows = []
    for i, (t, under_failure) in enumerate(zip(traces, reverted, strict=True), start=1):
        err = field = None
        value = seq = block = ts = None
        skip = t["skip"]
        names = _FIELDS[fmt]
        for name in ("value", "block", "ts"):
            try:
                parsed = _int(t[name])
            except (ValueError, TypeError):
                err = err or f"not an integer: {t[name]!r}"
                field = field or names.get(name, name)
                continue
            if name == "value":
                value = parsed
            elif name == "block":
                block = parsed
            else:
                ts = parsed
        seq = trace_seq(t["addr"], t["key"])
        if skip is None:
            if t["failed"]:
                skip = SKIP_FAILED
            elif under_failure:
                skip = SKIP_REVERTED
            else:
                skip = _kind_skip(t["kind"])
        if skip is None and err is None and not value:
            skip = SKIP_ZERO
        if skip is None and err is None and not t["tx_hash"] and fmt == "geth-traces":
            err, field = (
                "geth callTracer entry without txHash (geth before 1.11 omits it; use a newer "
                "geth, trace_block, or ethereum-etl's export that joins transaction hashes)",
                "txHash",
            )
        if skip is None and err is None and block is None and ts is None and fmt == "geth-traces":
            err, field = (
                "geth debug_traceBlockByNumber results carry no block number or time: save them "
                'as {"block_number": N, "transaction_traces": [...]} (ethereum-etl geth_traces)',
                "block_number",
            )
        if skip is None and t["kind"] == "create" and not t["dst"] and err is None:
            err, field = "create without the created contract's address", "result.address"
        rows.append(
            {
                "_row": i,
                "chain": t["chain"],
                "tx_hash": t["tx_hash"],
                "seq": seq,
                "block": block,
                "ts": ts,
                "src": t["src"],
                "dst": t["dst"],
                "value": None if value is None else str(value),
                "_skip": skip,
                "_error": err,
                "_error_field": field,
            }
        )
    schema = raw_schema(
        "chain", "tx_hash", "seq", "block", "ts", "src", "dst", "value", "_skip", "_error",
        "_error_field",
    )
    frame = pl.DataFrame(rows, schema=schema)
    return frame.with_columns(timestamp_us(pl.col("ts")).alias("ts"))


_FIELDS = {
    "ethereum-etl-traces": {
        "tx_hash": "transaction_hash",
        "block": "block_number",
        "ts": "block_timestamp",
        "src": "from_address",
        "dst": "to_address",
        "value": "value",
        "seq": "trace_address",
    },
    "parity-traces": {
        "tx_hash": "transactionHash",
        "block": "blockNumber",
        "src": "action.from",
        "dst": "action.to",
        "value": "action.value",
        "seq": "traceAddress",
    },
    "geth-traces": {"tx_hash": "txHash", "src": "from", "dst": "to", "value": "value"},
    "trongrid-internal": {
        "tx_hash": "tx_id",
        "src": "from_address",
        "dst": "to_address",
        "value": "data.call_value",
        "ts": "block_timestamp",
    },
}


def read(s: Sample, fmt: str, opts: ReadOptions) -> RawBatch:
    traces = raw_traces(s, fmt)
    # every value a trace moves is the chain's native coin: said per row, as the canonicaliser
    # asks of any row without a token contract
    frame = transfers_from_traces(traces, fmt).with_columns(pl.lit(True).alias("_native"))
    original = pl.DataFrame(
        {
            "_row": range(1, len(traces) + 1),
            "trace": [
                json.dumps({k: v for k, v in t.items() if k not in ("failed", "skip")}, default=str)
                for t in traces
            ],
        },
        schema={"_row": pl.Int64, "trace": pl.String},
    )
    return RawBatch(frame, original, _FIELDS[fmt], fmt)
