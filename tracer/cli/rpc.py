"""``ingest-rpc``: fetch transfers from a JSON-RPC node into a workspace."""

from __future__ import annotations

import time
from typing import Any

import click

from tracer.cli.app import _err, cli, workspace_option
from tracer.core.errors import UsageError


@cli.command("ingest-rpc")
@click.option("--url", required=True, help="JSON-RPC endpoint (http://... or https://...).")
@click.option(
    "--token", "tokens", multiple=True, help="ERC-20 contract address (repeat for several)."
)
@click.option("--from-block", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--to-block", default="latest", show_default=True, help="Block number or latest.")
@click.option(
    "--chain",
    default="ethereum",
    show_default=True,
    help="Chain the node serves (tron: addresses converted to base58).",
)
@click.option("--symbol", default=None, help="Override the token symbol (non-standard tokens).")
@click.option(
    "--decimals",
    type=click.IntRange(0, 77),
    default=None,
    help="Override the token decimals (non-standard tokens).",
)
@click.option(
    "--native",
    is_flag=True,
    help="Also ingest native-coin transfers from the blocks (for the gas-funder rule).",
)
@click.option(
    "--follow-head",
    "margin",
    type=click.IntRange(min=0),
    default=None,
    help="Keep syncing, staying N blocks behind the head (reorg margin); Ctrl-C stops.",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0),
    default=15.0,
    show_default=True,
    help="Seconds between polls with --follow-head.",
)
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=2_000,
    show_default=True,
    help="First block-range size; it shrinks on provider limits and grows when sparse.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="Retries (exponential backoff) on connection errors and timeouts.",
)
@workspace_option
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary on stderr.")
@click.option("--init", is_flag=True,
              help="Make the workspace folder a workspace even if it already holds other files "
                   "(tracer adds its own beside them and never deletes them).")  # fmt: skip
def ingest_rpc(tokens: tuple[str, ...], **kw: Any) -> None:
    """Fetch ERC-20 Transfer logs (and native transfers) from a node into the workspace.

    A checkpoint per (chain, token) records the last block ingested: run the same command
    again after a crash or Ctrl-C and it continues there, with no gaps or duplicates.

    \b
    Example:
      tracer ingest-rpc --url http://127.0.0.1:8545 \\
        --token 0xdAC17F958D2ee523a2206206994597C13D831ec7 --from-block 19000000 --to-block 19001000
    """
    from tracer.core.addresses import normalize_chain, normalize_evm
    from tracer.store.rpc import (
        ChunkPolicy,
        follow_head,
        native_calls,
        reachable,
        token_metadata,
        web3_calls,
    )  # fmt: skip
    from tracer.store.workspace import Workspace

    url, quiet = kw["url"], kw.get("quiet", False)
    if not tokens and not kw["native"]:
        raise UsageError("give at least one --token, or --native")
    chain = normalize_chain(kw["chain"])
    policy = ChunkPolicy(initial=kw["chunk"], retries=kw["retries"])
    w3, get_logs, block_ts, head = web3_calls(url)
    latest = reachable(url, head, policy)
    to_text = str(kw["to_block"]).strip().lower()
    if to_text == "latest":
        end = latest
    elif to_text.isdigit():
        end = int(to_text)
    else:
        raise UsageError(f"--to-block: a block number or latest, not {kw['to_block']!r}")
    ws = Workspace.open(kw.get("workspace"), create=True, init=kw.get("init", False))
    plan = []
    for raw in tokens:
        try:
            token = normalize_evm(raw)
        except ValueError as exc:
            raise UsageError(f"--token: {exc}") from None
        symbol, decimals = token_metadata(w3, token)
        symbol = kw.get("symbol") or symbol
        decimals = kw["decimals"] if kw.get("decimals") is not None else decimals
        if symbol is None or decimals is None:
            raise UsageError(f"{token}: the contract has no symbol()/decimals(); pass --symbol "
                             "and --decimals")  # fmt: skip
        plan.append((token, symbol, decimals))
    calls = {"get_logs": get_logs, "block_ts": block_ts,
             "native": native_calls(w3) if kw["native"] else None}  # fmt: skip

    def one_round(last: int) -> None:
        _rpc_round(ws, chain, plan, calls, kw["from_block"], last, policy, quiet)

    try:
        if kw["margin"] is None:
            one_round(end)
        else:
            follow_head(one_round, head, kw["margin"], interval=kw["poll"])
    except KeyboardInterrupt:
        _err().print("stopped; run the same command again to resume after the last checkpoint")
        raise SystemExit(130) from None


def _rpc_round(ws: Any, chain: str, plan: list[tuple[str, str, int]], calls: dict[str, Any],
               start: int, end: int, policy: Any, quiet: bool) -> None:  # fmt: skip
    """Sync every token (and native transfers) over ``start..end``, with progress."""
    from tracer.core.progress import counter
    from tracer.store.rpc import sync_native, sync_token

    total = max(0, end - start + 1)
    results = []
    for token, symbol, decimals in plan:
        with counter(total, f"{symbol} blocks", quiet) as advance:
            seen = {"logs": 0, "t0": time.perf_counter()}

            def step(blocks: int, logs: int, advance: Any = advance, seen: Any = seen,
                     symbol: str = symbol) -> None:  # fmt: skip
                seen["logs"] += logs
                rate = seen["logs"] / max(time.perf_counter() - seen["t0"], 1e-9)
                advance(blocks, f"{symbol} blocks ({seen['logs']:,} logs, {rate:,.0f} logs/s)")

            results.append((symbol, sync_token(
                ws, get_logs=calls["get_logs"], block_ts=calls["block_ts"], token=token,
                chain=chain, symbol=symbol, decimals=decimals, start=start, end=end,
                policy=policy, on_chunk=step,
            )))  # fmt: skip
    if calls["native"] is not None:
        get_block, get_receipts = calls["native"]
        with counter(total, "native blocks", quiet) as advance:
            results.append(("native", sync_native(
                ws, get_block=get_block, get_receipts=get_receipts, chain=chain, start=start,
                end=end, on_block=advance,
            )))  # fmt: skip
    if quiet:
        return
    for name, s in results:
        rate = s.logs / s.seconds if s.seconds > 0 else 0.0
        resumed = f" (resumed at block {s.resumed_from:,})" if s.resumed_from else ""
        _err().print(
            f"{name} {s.token}: blocks {s.start:,}–{s.end:,}{resumed}: {s.logs:,} records in "
            f"{s.chunks:,} requests ({rate:,.0f}/s), loaded {s.loaded:,}, duplicate "
            f"{s.duplicate:,}"
        )
