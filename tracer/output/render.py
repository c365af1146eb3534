"""Rendering results: terminal tables (rich), JSON/JSONL/CSV/Parquet writers.

Writers go through :mod:`tracer.core.atomic`, so an output file is complete or absent. Tables go to
stdout; progress and summaries go to stderr so that piping ``--format json`` stays clean.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from tracer.analysis.follow_result import AssetAccount, FollowResult
from tracer.core.atomic import atomic_path, write_text_atomic
from tracer.core.decimal_text import table_text
from tracer.output.follow_json import account_json, follow_json

if TYPE_CHECKING:  # rich is imported where a table is drawn, not by JSON or file output
    from rich.console import Console

OUTPUT_FORMATS = ("table", "json", "jsonl", "csv", "parquet")


def _fmt_amount(v: float | None, decimals: int = 2) -> str:
    """A figure for a table: rounded to the asset's decimals, without float noise."""
    return table_text(v, decimals)


def _fmt_ts(v: Any) -> str:
    return "" if v is None else v.strftime("%Y-%m-%d %H:%M:%SZ")


def follow_table(result: FollowResult, console: Console, *, by_source: bool = False) -> None:
    """Print a follow result for a person at a terminal: one block per asset (amounts of
    different assets are never added), then the warnings."""
    d = result
    verb = "Followed" if d.direction == "forward" else "Traced back"
    console.print(
        f"[bold]{verb}[/bold] {', '.join(d.sources)}  model=[bold]{d.model}[/bold]  "
        f"assets={','.join(d.assets) or '-'}"
    )
    for w in d.warnings:
        console.print(f"[yellow]Warning: {w['message']}[/yellow]")
    several = len(d.accounts) > 1
    for acc in d.accounts:
        _asset_block(d, acc, console, several=several)
    if by_source and d.by_source is not None:
        _by_source_table(d, console)
    if d.excluded_unknown_decimals:
        console.print(
            f"Note: {d.excluded_unknown_decimals} transfers of tokens with unknown decimals "
            "were left out (add them with --tokens)."
        )
    if d.missing_sources:
        console.print(f"Not in the data: {', '.join(d.missing_sources)}")


def _asset_block(d: FollowResult, acc: AssetAccount, console: Console, *, several: bool) -> None:
    """One asset's services, pass-throughs, holders, paths and accounting."""
    from rich.table import Table

    dec = acc.decimals
    unit = f" {acc.asset}"
    if several:
        console.rule(f"[bold]{acc.asset}[/bold]", align="left")
    console.print(f"Traced total: [bold]{_fmt_amount(acc.traced_total, dec)}[/bold]{unit}")
    services = d.services().filter(pl.col("asset") == acc.asset)
    t = Table(title=f"Services reached ({acc.asset})", title_justify="left")
    for col, just in [("service", "left"), ("category", "left"), ("addresses", "right"),
                      ("amount", "right"), ("share", "right"), ("min hops", "right"),
                      ("first arrival (UTC)", "left")]:  # fmt: skip
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in services.iter_rows(named=True):
        name = r["name"] + (" (inferred)" if r["label_inferred"] else "")
        t.add_row(
            name, r["category"], str(r["addresses"]), _fmt_amount(r["amount"], dec),
            f"{r['share']:.1%}", str(r["min_hops"]), _fmt_ts(r["first_ts"]),
        )  # fmt: skip
    console.print(t)
    through = d.through.filter(pl.col("asset") == acc.asset)
    if through.height:
        tt = Table(title="Passed through (not counted as reached)", title_justify="left")
        for col in ("service", "category", "address", "tainted in", "min hops"):
            tt.add_column(col)
        for r in through.iter_rows(named=True):
            tt.add_row(r["name"], r["category"], r["address"], _fmt_amount(r["amount"], dec),
                       str(r["min_hops"]))  # fmt: skip
        console.print(tt)
    held = d.held.filter(pl.col("asset") == acc.asset)
    if held.height:
        th = Table(
            title="Largest holders still on taint (not absorbing services)", title_justify="left"
        )
        for col in ("address", "amount", "min hops"):
            th.add_column(col)
        for r in held.head(10).iter_rows(named=True):
            size = r["entity_size"]
            shown = r["address"] + (f" (entity of {size})" if size > 1 else "")
            th.add_row(shown, _fmt_amount(r["amount"], dec), str(r["min_hops"]))
        console.print(th)
    front = None if d.frontier is None else d.frontier.filter(pl.col("asset") == acc.asset)
    if front is not None and front.height:
        tf = Table(
            title=f"Stopped at the hop limit (passed on beyond hop {d.options.get('max_hops')}, "
            "not followed)", title_justify="left",
        )  # fmt: skip
        for col in ("address", "passed on", "min hops"):
            tf.add_column(col)
        for r in front.head(10).iter_rows(named=True):
            tf.add_row(r["address"], _fmt_amount(r["amount"], dec), str(r["min_hops"]))
        console.print(tf)
    top = d.reached.filter(pl.col("asset") == acc.asset).head(3)
    for r in top.iter_rows(named=True):
        for p in r["paths"][:1]:
            console.print(
                f"Strongest path {'to' if d.direction == 'forward' else 'from'} {r['name']} "
                f"({r['address'][:10]}…): {path_text(p)}  [{len(p['hops'])} hops, "
                f"bottleneck {_fmt_amount(p['strength'], dec)}]"
            )
    f = lambda v: _fmt_amount(v, dec)  # noqa: E731
    if acc.conserves:
        conv = acc.source_units is not None  # cross-asset: conversions in and out close it too
        console.print(
            f"Accounting{f' ({acc.asset})' if several else ''}: reached {f(acc.reached_total)} "
            "+ returned "
            f"{f(acc.returned)} + held {f(acc.held_total)} + dust {f(acc.dust)} + beyond hop "
            f"limit {f(acc.beyond_max_hops)}"
            + (f" + converted out {f(acc.converted_out)}" if conv else "")
            + f" = {f(acc.traced_total + acc.converted_in - acc.unaccounted)} of "
            f"traced {f(acc.traced_total)}"
            + (f" + converted in {f(acc.converted_in)}" if conv else "")
        )
    else:
        console.print(
            f"Accounting{f' ({acc.asset})' if several else ''}: poison does not conserve "
            "value — amounts are upper bounds "
            "(the same funds can taint several transfers); no closing balance is claimed."
        )
    if acc.overdrafts:
        console.print(
            f"Note: {acc.overdrafts} {acc.asset} transfers sent more than their sender's "
            f"observed balance ({f(acc.overdraft_amount)} in all); the difference is treated "
            "as clean funds held before the data starts."
        )


def _by_source_table(d: FollowResult, console: Console) -> None:
    """Source × service amounts (``--by-source``), per asset."""
    from rich.table import Table

    frame = d.by_source
    assert frame is not None
    t = Table(title="Reached, by source", title_justify="left")
    t.add_column("source", no_wrap=True)  # an address is never cut
    cols = [("service", "left"), ("category", "left"), ("asset", "left"),
            ("amount", "right"), ("share of source", "right")]  # fmt: skip
    for col, just in cols:
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in frame.iter_rows(named=True):
        t.add_row(r["source"], r["name"], r["category"] or "", r["asset"],
                  _fmt_amount(r["amount"], d.decimals_of(r["asset"])),
                  "" if r["share"] is None else f"{r['share']:.1%}")  # fmt: skip
    console.print(t)


#: Addresses up to which ``tracer exposure`` without ``-o`` prints a table.
EXPOSURE_TABLE_MAX = 50


def exposure_table(report: Any, console: Console) -> None:
    """An exposure report for a short address list: one block per address and direction,
    the categories it is exposed to (largest first), then the unattributed rest."""
    from rich.table import Table

    f = report.frame
    meta = report.metadata
    console.print(
        f"[bold]Exposure[/bold] model={meta['model']}  assets={','.join(meta['assets']) or '-'}"
        f"  categories={','.join(meta['categories']) or 'none'}"
    )
    decimals = {a: v["decimals"] for a, v in meta.get("by_asset", {}).items()}
    t = Table()
    t.add_column("address", no_wrap=True)  # an address is never cut
    for col, just in [("dir", "left"), ("asset", "left"),
                      ("category", "left"), ("direct", "right"), ("indirect", "right"),
                      ("total", "right"), ("share", "right"), ("min hops", "right"),
                      ("risk", "right")]:  # fmt: skip
        t.add_column(col, justify=just, no_wrap=True)  # type: ignore[arg-type]
    shown = f.filter((pl.col("total_amount") > 0) | (pl.col("category") == "unattributed"))
    shown = shown.with_columns((pl.col("category") == "unattributed").alias("_u")).sort(
        ["address", "direction", "asset", "_u", "total_amount"],
        descending=[False, False, False, False, True],
    )
    for r in shown.iter_rows(named=True):
        dec = decimals.get(r["asset"], 6)
        own = r["category"] != "unattributed"
        t.add_row(
            r["address"], r["direction"], r["asset"] or "", r["category"],
            _fmt_amount(r["direct_amount"], dec) if own else "",
            _fmt_amount(r["indirect_amount"], dec) if own else "",
            _fmt_amount(r["total_amount"], dec),
            "" if r["share"] is None else f"{r['share']:.1%}",
            "" if r["min_hops"] is None else str(r["min_hops"]),
            f"{r['risk_score']:.1f}",
        )  # fmt: skip
    console.print(t)
    if meta.get("not_found"):
        console.print(f"Not in the data: {', '.join(meta['not_found'])}")


def path_text(path: dict[str, Any]) -> str:
    """A path as the money moved: the first hop's sender, then each receiver (``source``
    paths run from the origin down to the traced deposit, never from the deposit to itself)."""
    hops = path["hops"]
    if not hops:
        return ""
    parts = [hops[0]["from"][:8] + "…"]
    for h in hops:
        if h.get("step") == "hop":  # cross-asset: the conversion, its assets and chains
            chains = h["chain_in"] if h["chain_in"] == h["chain_out"] else \
                f"{h['chain_in']}→{h['chain_out']}"  # fmt: skip
            parts.append(f"\\[{h['kind']} {h['asset_in']}→{h['asset_out']} {chains}"
                         f"{' INFERRED' if h['inferred'] else ''}] {h['to'][:8]}…")  # fmt: skip
        else:
            parts.append(h["to"][:8] + "…")
    return " → ".join(parts)


def _json_default(o: Any) -> Any:
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_text(text: str, output: str | None) -> None:
    if output in (None, "-"):
        sys.stdout.write(text)
    else:
        write_text_atomic(output, text)


def write_follow(result: FollowResult, fmt: str, output: str | None) -> None:
    """Write a follow result as json, jsonl (one reached address per line), csv or parquet."""
    if fmt == "json":
        write_text(json.dumps(follow_json(result), indent=2, default=_json_default) + "\n", output)
        return
    d = follow_json(result)
    if fmt == "jsonl":
        lines = [
            json.dumps({"model": d["model"], **r}, default=_json_default) for r in d["reached"]
        ]
        write_text("".join(line + "\n" for line in lines), output)
        return
    flat = result.reached.drop("id").with_columns(
        pl.Series(
            "paths",
            [json.dumps(p, default=_json_default) for p in result.reached["paths"].to_list()],
            pl.String,
        ),
        pl.lit(result.model).alias("model"),
        # each row's own asset's traced total (never a sum over assets)
        pl.col("asset")
        .replace_strict(
            {a.asset: a.traced_total for a in result.accounts},
            default=None,
            return_dtype=pl.Float64,
        )
        .alias("traced_total"),
    )
    write_frame(flat, fmt, output)


#: What the audit ledger's rows let an outsider recompute, per model (README "Audit ledger").
LEDGER_RULES = {
    "haircut": "tainted = amount * min(1, sender_taint_before / sender_balance_before)",
    "taint-first": "tainted = min(amount, sender_taint_before)",
    "clean-first": "tainted = max(0, amount - (sender_balance_before - sender_taint_before))",
    "poison": "tainted = amount if sender_taint_before > 0",
    "tiho": "pro rata per transaction (tx_hash), handed to its largest outputs first",
    "fifo": "oldest lots first (the sender's earlier ledger rows are its lots)",
    "lifo": "newest lots first (the sender's earlier ledger rows are its lots)",
}


def ledger_metadata(result: FollowResult, workspace: Any, command_line: list[str]) -> dict:
    """Provenance of a ledger: enough to reproduce the trace from the file alone."""
    from tracer.analysis.exposure import _workspace_desc, label_set_hash
    from tracer.core.version import __version__

    return {
        "tracer_version": __version__,
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "workspace": _workspace_desc(workspace),
        "label_set_sha256": label_set_hash(workspace.labels()),
        "labels": int(workspace.labels().height),
        "sources": result.sources,
        "missing_sources": result.missing_sources,
        "model": result.model,
        "direction": result.direction,
        "assets": result.assets,
        "options": result.options,
        "by_asset": [account_json(a) for a in result.accounts],
        "rule": LEDGER_RULES[result.model],
        "seed_rule": "is_seed rows are the traced transfers themselves: tainted = amount",
        "warnings": result.warnings,
        "command_line": command_line,
    }


def write_ledger(result: FollowResult, path: str, workspace: Any, command_line: list[str]) -> None:
    """Write the audit ledger to Parquet atomically, provenance in the metadata key ``tracer``."""
    import pyarrow.parquet as pq

    if result.ledger is None:
        raise ValueError("the follow ran without ledger=True")
    meta = ledger_metadata(result, workspace, command_line)
    table = result.ledger.to_arrow()
    table = table.replace_schema_metadata({
        **(table.schema.metadata or {}),
        b"tracer": json.dumps(meta, default=_json_default).encode(),
    })  # fmt: skip
    with atomic_path(Path(path)) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def write_frame(frame: pl.DataFrame, fmt: str, output: str | None) -> None:
    """Write a frame as csv or parquet (parquet needs a file)."""
    if fmt == "csv":
        write_text(frame.write_csv(), output)
    elif fmt == "parquet":
        if output in (None, "-"):
            raise ValueError("parquet output needs -o FILE")
        with atomic_path(Path(output)) as tmp:  # type: ignore[arg-type]
            frame.write_parquet(tmp)
    else:
        raise ValueError(f"unsupported format {fmt!r}")
