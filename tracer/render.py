"""Rendering results: terminal tables (rich), JSON/JSONL/CSV/Parquet writers.

Writers go through :mod:`tracer.atomic`, so an output file is complete or absent. Tables go to
stdout; progress and summaries go to stderr so that piping ``--format json`` stays clean.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

from tracer.atomic import atomic_path, write_text_atomic
from tracer.follow import FollowResult

OUTPUT_FORMATS = ("table", "json", "jsonl", "csv", "parquet")


def _fmt_amount(v: float | None) -> str:
    return "" if v is None else f"{v:,.2f}"


def _fmt_ts(v: Any) -> str:
    return "" if v is None else v.strftime("%Y-%m-%d %H:%M:%SZ")


def follow_table(result: FollowResult, console: Console) -> None:
    """Print a follow result for a person at a terminal."""
    d = result
    verb = "Followed" if d.direction == "forward" else "Traced back"
    console.print(
        f"[bold]{verb}[/bold] {', '.join(d.sources)}  model=[bold]{d.model}[/bold]  "
        f"assets={','.join(d.assets) or '-'}"
    )
    for w in d.warnings:
        console.print(f"[yellow]Warning: {w['message']}[/yellow]")
    console.print(f"Traced total: [bold]{_fmt_amount(d.traced_total)}[/bold]")
    services = d.services()
    t = Table(title="Services reached", title_justify="left")
    for col, just in [("service", "left"), ("category", "left"), ("addresses", "right"),
                      ("amount", "right"), ("share", "right"), ("min hops", "right"),
                      ("first arrival (UTC)", "left")]:  # fmt: skip
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in services.iter_rows(named=True):
        name = r["name"] + (" (inferred)" if r["label_inferred"] else "")
        t.add_row(
            name, r["category"], str(r["addresses"]), _fmt_amount(r["amount"]),
            f"{r['share']:.1%}", str(r["min_hops"]), _fmt_ts(r["first_ts"]),
        )  # fmt: skip
    console.print(t)
    if d.through.height:
        tt = Table(title="Passed through (not counted as reached)", title_justify="left")
        for col in ("service", "category", "address", "tainted in", "min hops"):
            tt.add_column(col)
        for r in d.through.iter_rows(named=True):
            tt.add_row(r["name"], r["category"], r["address"], _fmt_amount(r["amount"]),
                       str(r["min_hops"]))  # fmt: skip
        console.print(tt)
    if d.held.height:
        th = Table(
            title="Largest holders still on taint (not absorbing services)", title_justify="left"
        )
        for col in ("address", "amount", "min hops"):
            th.add_column(col)
        for r in d.held.head(10).iter_rows(named=True):
            size = r["entity_size"]
            shown = r["address"] + (f" (entity of {size})" if size > 1 else "")
            th.add_row(shown, _fmt_amount(r["amount"]), str(r["min_hops"]))
        console.print(th)
    top = d.reached.head(3)
    for r in top.iter_rows(named=True):
        for p in r["paths"][:1]:
            chain = " → ".join(h["to"][:8] + "…" for h in p["hops"])
            console.print(
                f"Strongest path to {r['name']} ({r['address'][:10]}…): "
                f"{d.sources[0][:8]}… → {chain}  [{len(p['hops'])} hops, "
                f"bottleneck {_fmt_amount(p['strength'])}]"
            )
    if d.conserves:
        console.print(
            f"Accounting: reached {_fmt_amount(d.reached_total)} + returned "
            f"{_fmt_amount(d.returned)} + held {_fmt_amount(d.held_total)} + dust "
            f"{_fmt_amount(d.dust)} + beyond hop limit {_fmt_amount(d.beyond_max_hops)} = "
            f"{_fmt_amount(d.traced_total - d.unaccounted)} of traced "
            f"{_fmt_amount(d.traced_total)}"
        )
    else:
        console.print(
            "Accounting: poison does not conserve value — amounts are upper bounds "
            "(the same funds can taint several transfers); no closing balance is claimed."
        )
    if d.overdrafts:
        console.print(
            f"Note: {d.overdrafts} transfers sent more than their sender's observed balance "
            f"({_fmt_amount(d.overdraft_amount)} in all); the difference is treated as clean "
            "funds held before the data starts."
        )
    if d.excluded_unknown_decimals:
        console.print(
            f"Note: {d.excluded_unknown_decimals} transfers of tokens with unknown decimals "
            "were left out (add them with --tokens)."
        )
    if d.missing_sources:
        console.print(f"Not in the data: {', '.join(d.missing_sources)}")


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
        write_text(json.dumps(result.to_dict(), indent=2, default=_json_default) + "\n", output)
        return
    d = result.to_dict()
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
        pl.lit(result.traced_total).alias("traced_total"),
    )
    write_frame(flat, fmt, output)


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
