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

from tracer.cli.app import OUT_FORMATS, _err, _out, _out_format, cli, workspace_option
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
            _short(r["trader"]),
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
    from tracer.output.render import write_frame, write_text

    frame, summary, problems, reads = _decoded(data_files, kw)
    fmt = _out_format(kw.get("out_format"), kw.get("output"))
    if fmt == "table":
        _out().print(_table(frame))
    elif fmt in ("json", "jsonl"):
        rows = frame.with_columns(pl.col("ts").dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ")).to_dicts()
        if fmt == "json":
            doc = {"conversions": rows, "summary": summary, "problems": problems}
            write_text(json.dumps(doc, indent=2) + "\n", kw.get("output"))
        else:
            write_text("".join(json.dumps(r) + "\n" for r in rows), kw.get("output"))
    elif fmt == "csv":
        flat = frame.with_columns(
            pl.col("pools").list.join(";"),
            pl.col("log_indices").cast(pl.List(pl.String)).list.join(";"),
            pl.col("flow_log_indices").cast(pl.List(pl.String)).list.join(";"),
        )
        write_frame(flat, "csv", kw.get("output"))
    else:
        if kw.get("output") in (None, "-"):
            raise UsageError("--format parquet needs -o FILE")
        write_frame(frame, "parquet", kw.get("output"))
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
        from tracer.store import conversions_table
        from tracer.store.workspace import Workspace

        ws = Workspace.open(kw.get("workspace"))
        summary = conversions_table.summary(ws)
        return conversions_table.read_conversions(ws), summary, [], []
    from tracer.sources.blocks import read_blocks
    from tracer.sources.conversions import decode_files

    blocks = read_blocks(kw["blocks_file"], chain=None) if kw.get("blocks_file") else None
    decoded, reads = decode_files(
        list(data_files), chain=kw.get("chain"), tokens=load_tokens(kw.get("token_files") or ()),
        blocks=blocks,
    )  # fmt: skip
    return decoded.conversions, decoded.summary(), decoded.problems, reads
