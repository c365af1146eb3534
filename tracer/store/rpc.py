"""Fetching ERC-20 ``Transfer`` logs over JSON-RPC in adaptive block chunks (issue 6, core).

Providers cap ``eth_getLogs`` (by result count, block span or time) and say so in different
words; the fetcher treats any of those answers as "this range is too big": it halves the chunk
and asks again, and grows the chunk again while results are sparse. Transport failures
(connection refused, timeouts, 5xx) are retried with exponential backoff, then reported as one
clear error naming the URL. Block timestamps are fetched once per block and cached.

The functions take plain callables (``get_logs(params) -> list``, ``block_ts(n) -> int``) so the
logic is tested without a node; :func:`web3_calls` binds them to a web3 provider.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracer.core.atomic import batch_dir
from tracer.core.errors import UsageError
from tracer.sources.rpc_logs import TRANSFER_TOPIC

#: Phrases providers use for "range too large / too many results" (Infura, Alchemy, QuickNode,
#: geth, erigon, anvil, TronGrid's JSON-RPC).
TOO_BIG = (
    "too many", "limit exceeded", "exceed", "query returned more than", "response size",
    "block range", "range is too", "timeout", "timed out", "-32005", "-32602",
)  # fmt: skip


class RangeTooLarge(Exception):
    """The provider refused a range as too large (the chunk must shrink)."""


class Unreachable(UsageError):
    """The node cannot be reached after retries."""


@dataclass
class ChunkPolicy:
    """Adaptive chunking: start, bounds, and the result count that counts as sparse."""

    initial: int = 2_000
    minimum: int = 1
    maximum: int = 100_000
    sparse: int = 1_000  # fewer logs than this in a chunk: double the next one
    retries: int = 4
    backoff: float = 0.5  # seconds, doubled per retry
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


def is_too_big(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, RangeTooLarge) or any(p in text for p in TOO_BIG)


def fetch_ranges(
    get_logs: Callable[[dict[str, Any]], list[dict[str, Any]]],
    token: str,
    start: int,
    end: int,
    policy: ChunkPolicy | None = None,
    topics: list[Any] | None = None,
) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
    """Yield ``(from_block, to_block, logs)`` covering ``start..end`` with no gap or overlap.

    ``topics``: the ``eth_getLogs`` topic filter (default: ERC-20 ``Transfer``).

    A range the provider refuses as too large is split (halved) until it passes or is a single
    block (then the error is raised: nothing smaller exists). Transport errors are retried.
    """
    p = policy or ChunkPolicy()
    size = max(p.minimum, min(p.initial, p.maximum))
    a = start
    while a <= end:
        b = min(end, a + size - 1)
        params = {
            "address": token,
            "fromBlock": hex(a),
            "toBlock": hex(b),
            "topics": topics or ["0x" + TRANSFER_TOPIC],
        }
        try:
            logs = _with_retries(functools.partial(get_logs, params), p)
        except Exception as exc:
            if is_too_big(exc) and b > a:
                size = max(p.minimum, (b - a + 1) // 2)
                continue
            raise
        yield a, b, logs
        a = b + 1
        if len(logs) < p.sparse:
            size = min(p.maximum, size * 2)


def _with_retries(call: Callable[[], Any], p: ChunkPolicy) -> Any:
    delay = p.backoff
    for attempt in range(p.retries + 1):
        try:
            return call()
        except Exception as exc:
            if is_too_big(exc) or not _transient(exc) or attempt == p.retries:
                raise
            p.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _transient(exc: BaseException) -> bool:
    """Connection problems and server errors are worth retrying; bad requests are not."""
    name = type(exc).__name__.lower()
    text = str(exc).lower()
    return (
        isinstance(exc, ConnectionError | TimeoutError | OSError)
        or "connection" in name
        or "timeout" in name
        or any(s in text for s in ("502", "503", "504", "connection", "temporarily"))
    )


class BlockTimes:
    """Block number → timestamp (seconds), fetched once per block."""

    def __init__(self, fetch: Callable[[int], int]) -> None:
        self._fetch = fetch
        self.cache: dict[int, int] = {}
        self.fetched = 0

    def __call__(self, block: int) -> int:
        if block not in self.cache:
            self.cache[block] = int(self._fetch(block))
            self.fetched += 1
        return self.cache[block]


def with_timestamps(logs: list[dict[str, Any]], times: BlockTimes) -> list[dict[str, Any]]:
    """Logs with ``blockTimestamp`` (hex seconds, as some providers add); removed logs dropped."""
    out = []
    for log in logs:
        if log.get("removed"):
            continue
        block = log["blockNumber"]
        n = int(block, 16) if isinstance(block, str) else int(block)
        out.append({**log, "blockTimestamp": hex(times(n))})
    return out


def web3_calls(url: str, timeout: float = 30.0) -> tuple[Any, Callable, Callable, Callable]:
    """``(w3, get_logs, block_ts, head)`` bound to an HTTP JSON-RPC endpoint."""
    from web3 import Web3
    from web3.providers import HTTPProvider

    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": timeout}))

    def get_logs(params: dict[str, Any]) -> list[dict[str, Any]]:
        # the raw request: logs arrive in wire form (hex strings), which is what the
        # eth-getlogs reader takes; web3's result formatters would cost 3-4x the fetch
        resp = w3.provider.make_request("eth_getLogs", [params])  # type: ignore[arg-type]
        if "error" in resp:
            raise ValueError(resp["error"])
        return list(resp["result"])

    def block_ts(n: int) -> int:
        return int(w3.eth.get_block(n)["timestamp"])

    def head() -> int:
        return int(w3.eth.block_number)

    return w3, get_logs, block_ts, head


def native_calls(w3: Any) -> tuple[Callable, Callable]:
    """``(get_block, get_receipts)`` as raw JSON-RPC (wire form, hex strings)."""

    def call(method: str, params: list[Any]) -> Any:
        resp = w3.provider.make_request(method, params)
        if "error" in resp:
            raise ValueError(resp["error"])
        return resp["result"]

    def get_block(n: int) -> dict[str, Any]:
        return call("eth_getBlockByNumber", [hex(n), True])

    def get_receipts(n: int, hashes: list[str]) -> dict[str, dict[str, Any]]:
        try:  # one call per block where the node has it (geth, erigon, anvil, reth)
            rs = call("eth_getBlockReceipts", [hex(n)])
        except ValueError:
            rs = [call("eth_getTransactionReceipt", [h]) for h in hashes]
        return {r["transactionHash"]: r for r in rs}

    return get_block, get_receipts


# -- syncing into a workspace -------------------------------------------------------------------
CHECKPOINTS = "rpc-checkpoints.json"  # where versions before the one writer kept them
#: Batch export files live in ``.tracer-batch-<random>/`` folders in the workspace: a name the
#: next writer recognises as its own and removes if a kill left one behind.
BATCH_PREFIX = ".tracer-batch-"


@dataclass
class SyncSummary:
    """What one ``ingest-rpc`` run did, per token."""

    token: str
    chain: str
    start: int
    end: int
    logs: int = 0
    chunks: int = 0
    loaded: int = 0
    duplicate: int = 0
    blocks_timed: int = 0
    seconds: float = 0.0
    resumed_from: int | None = None


def read_checkpoints(ws_path: Any) -> dict[str, int]:
    """Checkpoints of a workspace (kept in its manifest, committed with the data)."""
    from tracer.store.workspace import Workspace

    return Workspace.open(ws_path).checkpoints()


def write_checkpoint(ws_path: Any, key: str, block: int) -> None:
    """Record the last block fully ingested for ``key`` (a manifest commit)."""
    from tracer.store.workspace import Workspace

    Workspace.open(ws_path).set_checkpoint(key, block)


class _Batches:
    """Pending records of one (chain, key) sync: written to a temporary export file in the
    workspace, ingested through the canonical path; the checkpoint moves in the same manifest
    commit as the batch's rows, so data and checkpoint never disagree (a crash before the
    commit re-fetches one batch, which de-duplicates)."""

    def __init__(self, ws: Any, key: str, summary: SyncSummary, opts: Any, fmt: str) -> None:
        self.ws, self.key, self.summary, self.opts, self.fmt = ws, key, summary, opts, fmt
        self.pending: list[dict[str, Any]] = []

    def flush(self, last_block: int) -> None:
        if self.pending:
            with batch_dir(self.ws.path) as tmp:
                f = Path(tmp) / f"batch-{last_block}.json"
                if self.fmt == "eth-getlogs":
                    f.write_text(json.dumps({"jsonrpc": "2.0", "result": self.pending}))
                else:  # ethereum-etl transactions as newline-JSON
                    f.write_text("".join(json.dumps(r) + "\n" for r in self.pending))
                s = self.ws.ingest([f], options=self.opts, fmt=self.fmt,
                                   checkpoint=(self.key, last_block))  # fmt: skip
            self.summary.loaded += s.total("loaded")
            self.summary.duplicate += s.total("duplicate")
            self.pending.clear()
        else:
            self.ws.set_checkpoint(self.key, last_block)


def _resume(ws: Any, key: str, summary: SyncSummary) -> int:
    """First block still to fetch for ``key`` (after its checkpoint, if any)."""
    done = ws.checkpoints().get(key)
    if done is not None and done >= summary.start:
        summary.resumed_from = done + 1
        return done + 1
    return summary.start


def sync_token(
    ws: Any,
    *,
    get_logs: Callable[[dict[str, Any]], list[dict[str, Any]]],
    block_ts: Callable[[int], int],
    token: str,
    chain: str,
    symbol: str,
    decimals: int,
    start: int,
    end: int,
    policy: ChunkPolicy | None = None,
    flush_logs: int = 50_000,
    on_chunk: Callable[[int, int], None] | None = None,
    topics: list[Any] | None = None,
) -> SyncSummary:
    """Fetch ``token``'s Transfer logs over ``start..end`` into workspace ``ws``, resumably.

    With ``topics`` (a topic filter) the logs of contract ``token`` matching it are fetched
    instead (bridge events, :mod:`tracer.store.rpc_events`), under checkpoint
    ``chain:events:contract``.

    Logs go through the same canonical path as a file export (``eth-getlogs`` with the block
    timestamps attached), in batches of about ``flush_logs``; after each batch commits, the
    checkpoint ``chain:token`` moves to the batch's last block, so a killed run resumes after
    it without gaps, and re-fetched logs de-duplicate.
    """
    from tracer.core.tokens import Token, load_tokens
    from tracer.sources.base import ReadOptions

    key = f"{chain}:{token.lower()}" if topics is None else f"{chain}:events:{token.lower()}"
    summary = SyncSummary(token=token, chain=chain, start=start, end=end)
    start = _resume(ws, key, summary)
    tokens = load_tokens()
    if topics is None:
        tokens.add([Token(chain, token.lower(), symbol, decimals, False)])
    batches = _Batches(ws, key, summary, ReadOptions(chain=chain, tokens=tokens), "eth-getlogs")
    times = BlockTimes(block_ts)
    t0 = time.perf_counter()
    last = start - 1
    for a, b, logs in fetch_ranges(get_logs, token, start, end, policy, topics):
        batches.pending.extend(with_timestamps(logs, times))
        summary.logs += len(logs)
        summary.chunks += 1
        last = b
        if on_chunk is not None:
            on_chunk(b - a + 1, len(logs))
        if len(batches.pending) >= flush_logs:
            batches.flush(b)
    if last >= start:
        batches.flush(last)
    summary.blocks_timed = times.fetched
    summary.seconds = time.perf_counter() - t0
    return summary


def sync_native(
    ws: Any,
    *,
    get_block: Callable[[int], dict[str, Any]],
    get_receipts: Callable[[int, list[str]], dict[str, dict[str, Any]]],
    chain: str,
    start: int,
    end: int,
    flush_rows: int = 50_000,
    on_block: Callable[[int], None] | None = None,
) -> SyncSummary:
    """Native-coin transfers (ETH, BNB, ...) from blocks' transactions over ``start..end``.

    Every transaction moving a non-zero value becomes an ethereum-etl ``transactions`` record
    (with its receipt status, so failed ones are skipped and counted by the reader) and enters
    the workspace through that format's canonical path. Checkpoint key ``chain:native``. This
    feeds the gas-funder clustering rule.
    """
    from datetime import UTC, datetime

    from tracer.sources.base import ReadOptions

    key = f"{chain}:native"
    summary = SyncSummary(token="native", chain=chain, start=start, end=end)
    start = _resume(ws, key, summary)
    batches = _Batches(ws, key, summary, ReadOptions(chain=chain), "ethereum-etl-transactions")
    t0 = time.perf_counter()
    for n in range(start, end + 1):
        blk = get_block(n)
        txs = [t for t in blk.get("transactions") or [] if int(t.get("value") or "0x0", 16) > 0]
        when = datetime.fromtimestamp(int(blk["timestamp"], 16), tz=UTC)
        receipts = get_receipts(n, [t["hash"] for t in txs]) if txs else {}
        for t in txs:
            r = receipts.get(t["hash"], {})
            status = r.get("status")
            batches.pending.append(
                {
                    "type": "transaction",
                    "hash": t["hash"],
                    "from_address": t["from"],
                    "to_address": t.get("to"),
                    "value": str(int(t["value"], 16)),
                    "block_number": str(n),
                    "block_timestamp": when.isoformat().replace("+00:00", "Z"),
                    "receipt_status": None if status is None else str(int(status, 16)),
                    "receipt_contract_address": r.get("contractAddress"),
                }
            )
        summary.logs += len(txs)
        summary.chunks += 1
        if on_block is not None:
            on_block(1)
        if len(batches.pending) >= flush_rows:
            batches.flush(n)
    if end >= start:
        batches.flush(end)
    summary.blocks_timed = summary.chunks
    summary.seconds = time.perf_counter() - t0
    return summary


ERC20_ABI = [
    {"name": "decimals", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint8"}]},
    {"name": "symbol", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "string"}]},
]  # fmt: skip


def token_metadata(w3: Any, token: str) -> tuple[str | None, int | None]:
    """``(symbol, decimals)`` from the contract; None where the call fails (non-standard)."""
    c = w3.eth.contract(address=w3.to_checksum_address(token), abi=ERC20_ABI)
    out: list[Any] = []
    for fn in ("symbol", "decimals"):
        try:
            out.append(getattr(c.functions, fn)().call())
        except Exception:
            out.append(None)
    return out[0], out[1]


def reachable(url: str, head: Callable[[], int], policy: ChunkPolicy) -> int:
    """The node's head block, or :class:`Unreachable` naming the URL after the retries."""
    try:
        return _with_retries(head, policy)
    except Exception as exc:
        if _transient(exc):
            raise Unreachable(
                f"cannot reach the node at {url} after {policy.retries + 1} attempts "
                f"({type(exc).__name__}); check --url and that the node is running"
            ) from None
        raise


def follow_head(
    sync_round: Callable[[int], None],
    head: Callable[[], int],
    margin: int,
    *,
    polls: int | None = None,
    interval: float = 15.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Keep syncing up to ``head - margin`` (the reorg margin), polling every ``interval``.

    Blocks within ``margin`` of the head are never ingested, so a reorg shallower than the
    margin never reaches the workspace; logs a node marks ``removed`` are dropped anyway.
    Returns the number of rounds run (``polls``; None: until interrupted).
    """
    rounds = 0
    while polls is None or rounds < polls:
        target = head() - margin
        if target >= 0:
            sync_round(target)
        rounds += 1
        if polls is not None and rounds >= polls:
            break
        sleep(interval)
    return rounds


#: Progress reporting for :func:`sync_rpc`: called once per phase with its label and the number
#: of blocks it covers, it returns a context manager that yields ``step(blocks, records)``. The
#: library never draws anything itself; the CLI passes a factory that draws a bar on a terminal.
ProgressFactory = Callable[[str, int], Any]


@contextlib.contextmanager
def _no_progress(label: str, total: int) -> Iterator[Callable[[int, int], None]]:
    yield lambda blocks, records: None


def parse_to_block(text: str | int, latest: int) -> int:
    """``latest`` or a block number (``--to-block``), as a block number."""
    t = str(text).strip().lower()
    if t == "latest":
        return latest
    if t.isdigit():
        return int(t)
    raise UsageError(f"--to-block: a block number or latest, not {text!r}")


def sync_rpc(
    ws: Any,
    url: str,
    tokens: tuple[str, ...] | list[str] = (),
    *,
    chain: str = "ethereum",
    from_block: int = 0,
    to_block: str | int = "latest",
    native: bool = False,
    symbol: str | None = None,
    decimals: int | None = None,
    margin: int | None = None,
    poll: float = 15.0,
    policy: ChunkPolicy | None = None,
    progress: ProgressFactory | None = None,
    on_round: Callable[[list[tuple[str, SyncSummary]]], None] | None = None,
    bridges: bool = False,
    flush_logs: int = 50_000,
) -> list[tuple[str, SyncSummary]]:
    """``tracer ingest-rpc`` as a library call: sync ERC-20 ``Transfer`` logs of ``tokens`` (and
    native transfers with ``native``) from the node at ``url`` into workspace ``ws``.

    Symbol and decimals come from each contract (``symbol``/``decimals`` override them, for
    non-standard tokens). Without ``margin`` one round runs up to ``to_block``; with it, rounds
    keep following the head ``margin`` blocks behind (until interrupted), each reported to
    ``on_round``. Every round resumes after the workspace's checkpoints, so a killed run loses
    nothing and duplicates nothing. Returns the last round's ``(name, summary)`` per token.
    ``bridges`` also syncs the events of the bridge registry's contracts on ``chain``
    (:mod:`tracer.sources.bridge_events`; checkpoint ``chain:events:contract``), which ingest
    decodes into the workspace's bridge table.
    ``flush_logs``: logs (or native transfers) per workspace commit.
    """
    from tracer.core.addresses import normalize_chain, normalize_evm

    if not tokens and not native and not bridges:
        raise UsageError("give at least one --token, or --native, or --bridges")
    chain = normalize_chain(chain)
    policy = policy or ChunkPolicy()
    progress = progress or _no_progress
    w3, get_logs, block_ts, head = web3_calls(url)
    end = parse_to_block(to_block, reachable(url, head, policy))
    plan = []
    for raw in tokens:
        try:
            token = normalize_evm(raw)
        except ValueError as exc:
            raise UsageError(f"--token: {exc}") from None
        sym, dec = token_metadata(w3, token)
        sym = symbol or sym
        dec = decimals if decimals is not None else dec
        if sym is None or dec is None:
            raise UsageError(f"{token}: the contract has no symbol()/decimals(); pass --symbol "
                             "and --decimals")  # fmt: skip
        plan.append((token, sym, dec))
    natives = native_calls(w3) if native else None
    bridge_filters = []
    if bridges:
        from tracer.sources.bridge_events import event_filters, load_registry

        bridge_filters = event_filters(load_registry(), chain)
    last: list[tuple[str, SyncSummary]] = []

    def one_round(stop: int) -> None:
        total = max(0, stop - from_block + 1)
        results: list[tuple[str, SyncSummary]] = []
        for token, sym, dec in plan:
            with progress(f"{sym} blocks", total) as step:
                results.append((sym, sync_token(
                    ws, get_logs=get_logs, block_ts=block_ts, token=token, chain=chain,
                    symbol=sym, decimals=dec, start=from_block, end=stop, policy=policy,
                    on_chunk=step, flush_logs=flush_logs,
                )))  # fmt: skip
        for contract, topics in bridge_filters:  # the registry's events, one sync each
            with progress(f"bridge {contract[:10]} blocks", total) as step:
                results.append((f"bridge:{contract}", sync_token(
                    ws, get_logs=get_logs, block_ts=block_ts, token=contract, chain=chain,
                    symbol="", decimals=0, start=from_block, end=stop, policy=policy,
                    on_chunk=step, topics=topics, flush_logs=flush_logs,
                )))  # fmt: skip
        if natives is not None:
            get_block, get_receipts = natives
            with progress("native blocks", total) as step:
                results.append(("native", sync_native(
                    ws, get_block=get_block, get_receipts=get_receipts, chain=chain,
                    start=from_block, end=stop, on_block=lambda blocks: step(blocks, 0),
                    flush_rows=flush_logs,
                )))  # fmt: skip
        last[:] = results
        if on_round is not None:
            on_round(results)

    if margin is None:
        one_round(end)
    else:
        follow_head(one_round, head, margin, interval=poll)
    return last
