"""Logs shaped like Circle CCTP V1's (encoded with eth_abi from the registry's signatures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
from eth_abi import encode

from tracer.sources.bridge_events import Entry, load_registry
from tracer.sources.raw_logs import LOG_SCHEMA


def entry(chain: str, name: str, protocol: str = "cctp-v1") -> Entry:
    return next(e for e in load_registry() if e.chain == chain and e.name == name
                and e.protocol == protocol)  # fmt: skip


def log(e: Entry, tx: str, li: int, ts_s: int, values: dict[str, Any], block: int = 1
        ) -> dict[str, Any]:  # fmt: skip
    """One raw log of registry entry ``e`` with parameter ``values`` (by parameter name)."""
    topics = [e.topic0]
    for p in e.params:
        if p.indexed:
            topics.append("0x" + encode([p.type], [values[p.name]]).hex())
    plain = [p for p in e.params if not p.indexed]
    data = "0x" + encode([p.type for p in plain], [values[p.name] for p in plain]).hex()
    topics += [None] * (4 - len(topics))
    return {"_row": li, "tx_hash": tx, "log_index": li, "block": block, "ts": ts_s * 1_000_000,
            "address": e.contract, "topic0": topics[0], "topic1": topics[1],
            "topic2": topics[2], "topic3": topics[3],
            "n_topics": sum(t is not None for t in topics), "data": data}  # fmt: skip


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=LOG_SCHEMA)


def b32(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def burn(chain: str, tx: str, li: int, ts: int, *, nonce: int, token: str, amount: int,
         sender: str, recipient: str, dest_domain: int) -> dict[str, Any]:  # fmt: skip
    return log(entry(chain, "DepositForBurn"), tx, li, ts, {
        "nonce": nonce, "burnToken": token, "amount": amount, "depositor": sender,
        "mintRecipient": b32(recipient), "destinationDomain": dest_domain,
        "destinationTokenMessenger": bytes(32), "destinationCaller": bytes(32)})  # fmt: skip


def mint(chain: str, tx: str, li: int, ts: int, *, nonce: int, source_domain: int, token: str,
         amount: int, recipient: str) -> list[dict[str, Any]]:  # fmt: skip
    """MintAndWithdraw then MessageReceived, in the order CCTP emits them."""
    return [
        log(entry(chain, "MintAndWithdraw"), tx, li, ts,
            {"mintRecipient": recipient, "amount": amount, "mintToken": token}),
        log(entry(chain, "MessageReceived"), tx, li + 1, ts,
            {"caller": recipient, "sourceDomain": source_domain, "nonce": nonce,
             "sender": bytes(32), "messageBody": b"\x00" * 8}),
    ]  # fmt: skip


def rpc_file(path: Path, logs: list[dict[str, Any]]) -> Path:
    """Raw logs written as an ``eth_getLogs`` response (with ``blockTimestamp``, as anvil's)."""
    out = []
    for r in logs:
        topics = [t for t in (r["topic0"], r["topic1"], r["topic2"], r["topic3"]) if t]
        out.append({"address": r["address"], "topics": topics, "data": r["data"],
                    "blockNumber": hex(r["block"]), "transactionHash": r["tx_hash"],
                    "logIndex": hex(r["log_index"]), "removed": False,
                    "blockTimestamp": hex(r["ts"] // 1_000_000)})  # fmt: skip
    path.write_text(json.dumps({"jsonrpc": "2.0", "id": 1, "result": out}))
    return path
