"""A small loopback JSON-RPC node for benchmarks: ``eth_blockNumber``, ``eth_getLogs`` and
``eth_getBlockByNumber`` answered from pre-generated ERC-20 ``Transfer`` logs.

Why not anvil: filling anvil with 500k logs takes far longer than the sync being measured. This
server speaks the same wire format (hex strings, as ``eth_getLogs`` returns them) over real
HTTP on 127.0.0.1, so ``tracer.store.rpc.sync_rpc`` runs unchanged: web3's HTTP provider, the
adaptive chunking, the block-timestamp calls and the workspace flushes. Anything else
(``eth_call`` for ``symbol()``/``decimals()``, ``eth_chainId``) gets a JSON-RPC error, so the
benchmark passes ``symbol`` and ``decimals`` itself.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import numpy as np

from tracer.store.rpc import TRANSFER_TOPIC

TOKEN = "0x" + "5" * 40
FIRST_TS = 1_700_000_000  # 2023-11-14, a block every 12 s


def topic(address_int: int) -> str:
    return "0x" + f"{address_int:040x}".rjust(64, "0")


def make_logs(n_logs: int, per_block: int, n_addresses: int, seed: int = 5) -> list[list[dict]]:
    """Logs grouped by block (index = block number), ``per_block`` a block, addresses drawn
    from ``n_addresses`` (so each flush brings some new ones, as on a live chain)."""
    rng = np.random.default_rng(seed)
    src = rng.integers(1, n_addresses + 1, n_logs)
    dst = rng.integers(1, n_addresses + 1, n_logs)
    value = rng.integers(1, 10**12, n_logs)
    blocks: ClassVar[list[list[dict]]] = []
    for k in range(n_logs):
        b, i = divmod(k, per_block)
        if i == 0:
            blocks.append([])
        blocks[b].append({
            "address": TOKEN, "topics": ["0x" + TRANSFER_TOPIC, topic(int(src[k])),
                                         topic(int(dst[k]))],
            "data": f"0x{int(value[k]):064x}", "blockNumber": hex(b),
            "transactionHash": f"0x{k // 4:064x}", "logIndex": hex(i), "removed": False,
            "blockHash": f"0x{b:064x}", "transactionIndex": hex(i // 4),
        })  # fmt: skip
    return blocks


class _Handler(BaseHTTPRequestHandler):
    blocks: ClassVar[list[list[dict]]] = []

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps(self._answer(req)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, req: dict) -> dict:
        method, params, rid = req.get("method"), req.get("params") or [], req.get("id")
        head = len(self.blocks) - 1
        if method == "eth_blockNumber":
            return {"jsonrpc": "2.0", "id": rid, "result": hex(head)}
        if method == "eth_getLogs":
            a, b = int(params[0]["fromBlock"], 16), min(int(params[0]["toBlock"], 16), head)
            out = [log for blk in self.blocks[a : b + 1] for log in blk]
            return {"jsonrpc": "2.0", "id": rid, "result": out}
        if method == "eth_getBlockByNumber":
            n = int(params[0], 16)
            block = {"number": hex(n), "timestamp": hex(FIRST_TS + 12 * n),
                     "hash": f"0x{n:064x}", "parentHash": f"0x{max(n - 1, 0):064x}",
                     "transactions": [], "gasLimit": "0x1c9c380", "gasUsed": "0x0",
                     "miner": "0x" + "0" * 40, "difficulty": "0x0", "extraData": "0x",
                     "size": "0x0", "logsBloom": "0x" + "0" * 512}  # fmt: skip
            return {"jsonrpc": "2.0", "id": rid, "result": block}
        return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "not here"}}


@contextmanager
def serve(blocks: list[list[dict]]) -> Iterator[str]:
    """Serve ``blocks`` on 127.0.0.1 (a free port) for the ``with`` body; yields the URL."""
    handler = type("Handler", (_Handler,), {"blocks": blocks})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
