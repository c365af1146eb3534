"""The batch exposure view as one self-contained HTML page (``tracer exposure ... --html``).

Why: a compliance officer screening thousands of addresses reads a distribution and a short
list before a Parquet file. The page shows the risk-score distribution, the most exposed
addresses per category and how much of the exposure is direct (one hop) or indirect, under the
same offline rules as the case report (:mod:`tracer.output.report_html`: inline CSS, no external
address, every value escaped).
"""

from __future__ import annotations

import itertools
from typing import Any

import polars as pl

from tracer.core.atomic import write_text_atomic
from tracer.core.decimal_text import table_text
from tracer.output.report_html import render_template

#: Addresses listed per (asset, direction, category).
TOP_PER_CATEGORY = 10
#: Risk-score histogram bins: [0], (0, 1], (1, 2], ... (9, 10] (scores are 0-10).
SCORE_EDGES = list(range(0, 11))


def score_histogram(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Addresses per direction by their risk score (one score per address and direction)."""
    per = frame.group_by(["address", "chain", "direction"]).agg(
        pl.col("address_risk_score").max().alias("score")
    )
    out = []
    for d in sorted(per["direction"].unique().to_list()):
        scores = per.filter(pl.col("direction") == d)["score"].fill_null(0.0)
        n = scores.len()
        bins = [("0", int((scores <= 0).sum()))]
        for lo, hi in itertools.pairwise(SCORE_EDGES):
            c = int(((scores > lo) & (scores <= hi)).sum())
            bins.append((f"{lo}–{hi}", c))
        bins[-1] = (bins[-1][0], bins[-1][1] + int((scores > SCORE_EDGES[-1]).sum()))
        out.append({"direction": d, "addresses": n,
                    "bins": [{"label": lab, "count": c, "bar": 100 * c / max(n, 1)}
                             for lab, c in bins]})  # fmt: skip
    return out


def top_exposed(frame: pl.DataFrame, k: int = TOP_PER_CATEGORY) -> list[dict[str, Any]]:
    """Per asset, direction and category: the ``k`` most exposed addresses (largest first)."""
    own = frame.filter((pl.col("category") != "unattributed") & (pl.col("total_amount") > 0))
    ranked = own.sort(
        ["asset", "direction", "category", "total_amount", "address"],
        descending=[False, False, False, True, False],
    ).with_columns(pl.int_range(pl.len()).over(["asset", "direction", "category"]).alias("_r"))
    groups = []
    for (asset, direction, category), g in ranked.filter(pl.col("_r") < k).group_by(
        ["asset", "direction", "category"], maintain_order=True
    ):
        total = own.filter((pl.col("asset") == asset) & (pl.col("direction") == direction)
                           & (pl.col("category") == category)).height  # fmt: skip
        groups.append({"asset": asset, "direction": direction, "category": category,
                       "exposed": total, "rows": g.to_dicts()})  # fmt: skip
    return groups


def direct_indirect(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Per asset, direction and category: addresses exposed directly (one hop) and only
    indirectly, and the summed direct and indirect amounts."""
    own = frame.filter((pl.col("category") != "unattributed") & (pl.col("total_amount") > 0))
    return (
        own.group_by(["asset", "direction", "category"])
        .agg(
            (pl.col("direct_amount") > 0).sum().alias("direct_addresses"),
            ((pl.col("direct_amount") <= 0) & (pl.col("indirect_amount") > 0)).sum()
            .alias("indirect_only_addresses"),
            pl.col("direct_amount").sum(),
            pl.col("indirect_amount").sum(),
        )
        .with_columns(
            (pl.col("direct_amount") / (pl.col("direct_amount") + pl.col("indirect_amount")))
            .alias("direct_share")
        )
        .sort(["asset", "direction", "category"])
        .to_dicts()
    )


def exposure_html(report: Any, command: list[str]) -> str:
    """The page's HTML text for an :class:`~tracer.analysis.exposure.ExposureReport`."""
    import shlex

    meta = report.metadata
    decimals = {a: v["decimals"] for a, v in meta.get("by_asset", {}).items()}
    prov = {"version": meta.get("tracer_version", ""), "created_at": meta.get("created_at", ""),
            "workspace": meta.get("workspace", {}),
            "label_set_sha256": meta.get("label_set_sha256", ""),
            "labels": meta.get("labels", 0)}  # fmt: skip
    return render_template(
        "exposure_report.html.j2", title="Exposure report", meta=meta, prov=prov,
        histogram=score_histogram(report.frame), top=top_exposed(report.frame),
        split=direct_indirect(report.frame), amt=table_text,
        dec=lambda a: decimals.get(a, 6), command=" ".join(shlex.quote(c) for c in command),
    )  # fmt: skip


def write_exposure_html(report: Any, path: str, command: list[str]) -> None:
    write_text_atomic(path, exposure_html(report, command))
