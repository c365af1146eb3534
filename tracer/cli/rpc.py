"""``ingest-rpc``: fetch transfers from a JSON-RPC node into a workspace."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from tracer.cli.app import cli, err_console
from tracer.cli.options import init_option, workspace_option
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
    "--bridges",
    is_flag=True,
    help="Also ingest the events of the bridge registry's contracts on --chain (CCTP and the "
    "files in $TRACER_BRIDGES), for cross-chain hops.",
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
@init_option
def ingest_rpc(
    url: str,
    tokens: tuple[str, ...],
    from_block: int,
    to_block: str,
    chain: str,
    symbol: str | None,
    decimals: int | None,
    native: bool,
    bridges: bool,
    margin: int | None,
    poll: float,
    chunk: int,
    retries: int,
    workspace: Path | None,
    quiet: bool,
    init: bool,
) -> None:
    """Fetch ERC-20 Transfer logs (and native transfers) from a node into the workspace.

    A checkpoint per (chain, token) records the last block ingested: run the same command
    again after a crash or Ctrl-C and it continues there, with no gaps or duplicates.

    \b
    Example:
      tracer ingest-rpc --url http://127.0.0.1:8545 \\
        --token 0xdAC17F958D2ee523a2206206994597C13D831ec7 --from-block 19000000 --to-block 19001000
    """
    from tracer.store.rpc import ChunkPolicy, parse_to_block, sync_rpc
    from tracer.store.workspace import Workspace

    if not tokens and not native and not bridges:
        raise UsageError("give at least one --token, or --native, or --bridges")
    parse_to_block(to_block, 0)  # refuse a malformed --to-block before touching anything
    ws = Workspace.open(workspace, create=True, init=init)
    try:
        sync_rpc(
            ws, url, tokens, chain=chain, from_block=from_block, to_block=to_block,
            native=native, symbol=symbol, decimals=decimals, margin=margin, poll=poll,
            policy=ChunkPolicy(initial=chunk, retries=retries),
            progress=lambda label, total: _bar(label, total, quiet),
            on_round=lambda results: _after_round(ws, results, quiet), bridges=bridges,
        )  # fmt: skip
    except KeyboardInterrupt:
        err_console().print(
            "stopped; run the same command again to resume after the last checkpoint"
        )
        raise SystemExit(130) from None


@contextlib.contextmanager
def _bar(label: str, total: int, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A terminal bar for one phase of a sync: blocks done, with records and records/s."""
    from tracer.cli.progress import counter

    with counter(total, label, quiet) as advance:
        seen = {"records": 0, "t0": time.perf_counter()}

        def step(blocks: int, records: int) -> None:
            if not records and label.startswith("native"):
                advance(blocks)
                return
            seen["records"] += records
            rate = seen["records"] / max(time.perf_counter() - seen["t0"], 1e-9)
            advance(blocks, f"{label} ({seen['records']:,} logs, {rate:,.0f} logs/s)")

        yield step


def _after_round(ws: Any, results: list[tuple[str, Any]], quiet: bool) -> None:
    """A round committed: the local follow's stored balance passes continued or computed
    (:func:`tracer.cli.ingest.precompute_after`), then the round said unless ``quiet``."""
    from tracer.cli.ingest import precompute_after

    if not quiet:
        _print_round(results)
    precompute_after(ws, quiet)


def _print_round(results: list[tuple[str, Any]]) -> None:
    """One line per token of a finished round (what was fetched, loaded, de-duplicated)."""
    for name, s in results:
        rate = s.logs / s.seconds if s.seconds > 0 else 0.0
        resumed = f" (resumed at block {s.resumed_from:,})" if s.resumed_from else ""
        err_console().print(
            f"{name} {s.token}: blocks {s.start:,}–{s.end:,}{resumed}: {s.logs:,} records in "
            f"{s.chunks:,} requests ({rate:,.0f}/s), loaded {s.loaded:,}, duplicate "
            f"{s.duplicate:,}"
        )
