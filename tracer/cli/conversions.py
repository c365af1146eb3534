"""``tracer conversions``: the swaps and wraps of the workspace, or decoded from export files.

Registered on :data:`tracer.cli.cli` on import. Without ``--data`` the command lists the
workspace's stored ``conversions`` table (decoded at ingest, :mod:`tracer.store.conversions_table`);
with ``--data`` it decodes the files in memory. Either way the counts of what was skipped and
why go with the table, so a user sees how much of the data it covers.
"""

from __future__ import annotations

import json
from typing import Any

import click
import polars as pl
from rich.table import Table

from tracer.cli.app import (
    OUT_FORMATS,
    _err,
    _out,
    _out_format,
    _workspace,
    cli,
    data_options,
    workspace_option,
)
from tracer.core.errors import UsageError


def _short(text: str | None, n: int = 12) -> str:
    if text is None:
        return "-"
    return text if len(text) <= n + 2 else text[: n - 2] + "…" + text[-4:]


def _table(frame: pl.DataFrame) -> Table:
    t = Table(show_lines=False)
    for col in ("tx", "trader", "in", "out", "protocol", "rule", "conf"):
        t.add_column(col)
    for r in frame.iter_rows(named=True):
        t.add_row(
            _short(r["tx_hash"]),
            f"{r['chain']}:{_short(r['trader'])}",  # the chain is part of every address shown
            f"{r['value_in']} {r['asset_in'] or _short(r['token_in'])}",
            f"{r['value_out']} {r['asset_out'] or _short(r['token_out'])}",
            r["protocol"],
            r["rule"],
            f"{r['confidence']:.2f}",
        )
    return t


@cli.command()
@workspace_option
@click.option("--data", "data_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="Decode these logs file(s) (eth_getLogs JSON, ethereum-etl logs CSV/stream) "
                   "and optional transactions/traces exports (the native-coin legs) in memory, "
                   "instead of listing the workspace's table.")  # fmt: skip
@click.option("--chain", default=None, help="Chain of the exports (default: ethereum).")
@click.option("--tokens", "token_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="Extra token table(s): chain,token,symbol,decimals.")  # fmt: skip
@click.option("--blocks", "blocks_file", default=None,
              type=click.Path(exists=True, dir_okay=False),
              help="Block times for trace exports (default: taken from the logs).")  # fmt: skip
@click.option("--output", "-o", default=None, help="Output file (default: stdout).")
@click.option("--format", "out_format", type=click.Choice(OUT_FORMATS), default=None,
              help="Output format (default: table on a terminal, json when piped).")  # fmt: skip
@click.option("--quiet", "-q", is_flag=True, help="No summary on stderr.")
def conversions(data_files: tuple[str, ...], **kw: Any) -> None:
    """List conversions (swaps, wraps) per transaction, with skip counts by reason.

    Amounts are the trader's own net flows in the transaction (Transfer logs, wraps, native
    transfers); the swap events are kept as evidence. The workspace decodes them when logs are
    ingested (ingest the transactions and traces exports first, or with the logs, for the
    native-coin legs). With --data, pass the transactions export (the transaction's value and
    sender) and a traces export (internal ETH) beside the logs.

    \b
    Examples:
      tracer conversions -w case/ --format csv -o conversions.csv
      tracer conversions -o conversions.csv \\
        --data fixtures/ethereum_etl/blocks_17173049_17173050/expected_logs.json \\
        --data fixtures/ethereum_etl/blocks_17173049_17173050/expected_transactions.json
    """
    frame, summary, problems, reads = _decoded(data_files, kw)
    _emit(frame, kw, _table, {"conversions": None, "summary": summary, "problems": problems})
    if not kw.get("quiet"):
        err = _err()
        for r in reads:
            skipped = f", skipped {sum(r.skipped.values()):,}" if r.skipped else ""
            err.print(f"{r.file}: {r.format} ({r.kind}), {r.rows:,} rows{skipped}")
        for key, n in summary.items():
            err.print(f"{key}: {n:,}")
        shown = problems[:5]
        for p in shown:
            err.print(f"warning: {p}")
        if len(problems) > len(shown):
            more = len(problems) - len(shown)
            err.print(f"warning: … {more:,} more (all under \"problems\" in --format json)")


def _decoded(
    data_files: tuple[str, ...], kw: dict[str, Any]
) -> tuple[pl.DataFrame, dict[str, int], list[str], list[Any]]:
    """(conversions, counts, problems, per-file reads) from ``--data`` or the workspace."""
    from tracer.core.tokens import load_tokens

    if not data_files:
        from tracer.sources.conversions import unknown_decimals
        from tracer.store import conversions_table
        from tracer.store.workspace import Workspace

        ws = Workspace.open(kw.get("workspace"))
        summary = conversions_table.summary(ws)
        frame = conversions_table.read_conversions(ws)
        return frame, summary, unknown_decimals(frame)[1], []
    from tracer.sources.blocks import read_blocks
    from tracer.sources.conversions import decode_files

    blocks = read_blocks(kw["blocks_file"], chain=None) if kw.get("blocks_file") else None
    decoded, reads = decode_files(
        list(data_files), chain=kw.get("chain"), tokens=load_tokens(kw.get("token_files") or ()),
        blocks=blocks,
    )  # fmt: skip
    return decoded.conversions, decoded.summary(), decoded.problems, reads


def _emit(frame: pl.DataFrame, kw: dict[str, Any], table: Any, doc: dict[str, Any]) -> None:
    """Write ``frame`` as a table, JSON (``doc`` around it, the frame under its ``None`` key),
    JSON lines, CSV (lists ``;``-joined) or Parquet."""
    from tracer.output.render import write_frame, write_text

    fmt = _out_format(kw.get("out_format"), kw.get("output"))
    output = kw.get("output")
    times = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime)]
    if fmt == "table":
        _out().print(table(frame))
    elif fmt in ("json", "jsonl"):
        text = frame.with_columns(pl.col(c).dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ") for c in times)
        rows = text.to_dicts()
        if fmt == "json":
            full = {k: (rows if v is None else v) for k, v in doc.items()}
            write_text(json.dumps(full, indent=2) + "\n", output)
        else:
            write_text("".join(json.dumps(r) + "\n" for r in rows), output)
    elif fmt == "csv":
        lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
        flat = frame.with_columns(pl.col(c).cast(pl.List(pl.String)).list.join(";") for c in lists)
        write_frame(flat, "csv", output)
    else:
        if output in (None, "-"):
            raise UsageError("--format parquet needs -o FILE")
        write_frame(frame, "parquet", output)


def _hops_table(frame: pl.DataFrame) -> Table:
    t = Table(show_lines=False)
    cols = ("kind", "payer (chain:address)", "tx in", "in", "receiver (chain:address)", "tx out",
            "out", "rule", "conf", "fact")  # fmt: skip
    for col in cols:
        t.add_column(col)
    for r in frame.iter_rows(named=True):
        t.add_row(
            r["kind"],
            f"{r['chain_in']}:{_short(r['address_in'])}",
            _short(r["tx_in"]),
            f"{r['value_in']} {r['asset_in'] or _short(r['token_in'])}",
            f"{r['chain_out']}:{_short(r['address_out'])}",
            _short(r["tx_out"]),
            f"{r['value_out']} {r['asset_out'] or _short(r['token_out'])}",
            r["rule"],
            f"{r['confidence']:.2f}",
            "inferred" if r["inferred"] else "on chain",
        )
    return t


@cli.command()
@data_options
@click.option("--kind", "kinds", multiple=True,
              type=click.Choice(["swap", "wrap", "bridge", "otc"]),
              help="Hop kinds to list (default: swap, wrap, bridge).")  # fmt: skip
@click.option("--infer-otc", is_flag=True,
              help="Also infer pass-throughs of labelled OTC desks, exchangers and guarantee "
                   "merchants (marked inferred).")  # fmt: skip
@click.option("--bridge-window", type=click.FloatRange(min=0), default=24.0, show_default=True,
              help="Hours after a bridge burn within which a candidate mint may follow.")
@click.option("--fee-band", type=click.FloatRange(0, 1), default=0.01, show_default=True,
              help="Largest fee fraction between a bridge candidate's burn and mint.")
@click.option("--output", "-o", default=None, help="Output file (default: stdout).")
@click.option("--format", "out_format", type=click.Choice(OUT_FORMATS), default=None,
              help="Output format (default: table on a terminal, json when piped).")  # fmt: skip
def hops(kinds: tuple[str, ...], **kw: Any) -> None:
    """List the workspace's hops: swaps, wraps, bridges (and inferred OTC pass-throughs).

    Each hop shows its two chains and transactions, the values in and out, the rule that found
    it, its confidence and whether it is on-chain fact or inferred; the counts on stderr say
    what each producer found and what it could not match (bridge legs by reason).

    \b
    Examples:
      tracer hops -w case/ --kind bridge --format csv -o bridges.csv
      tracer hops --data logs.json --data transactions.json --labels desks.csv --infer-otc
    """
    from datetime import timedelta

    from tracer.analysis.hops import DEFAULT_KINDS, hop_set

    ws = _workspace(kw)
    found = hop_set(ws, kinds=kinds or DEFAULT_KINDS, infer_otc=kw["infer_otc"],
                    bridge_window=timedelta(hours=kw["bridge_window"]),
                    fee_band=kw["fee_band"])  # fmt: skip
    _emit(found.hops, kw, _hops_table,
          {"hops": None, "counts": found.counts, "inferred_share": found.inferred_share()})
    if not kw.get("quiet"):
        err = _err()
        for producer, counts in found.counts.items():
            for key, n in counts.items():
                err.print(f"{producer}: {key}: {n:,}")
        for key, n in found.inferred_share().items():
            err.print(f"hops {key}: {n:,}")
