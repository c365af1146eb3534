"""The exposure report's rows as the first version built them (Polars: string sort, windows,
joins, a Decimal loop per exact sum): the reference the vectorised
:func:`tracer.analysis.exposure_rows.assemble` is compared with (tests), and the baseline of
``benchmarks/test_bench_exposure.py``. Kept as it was; not used by tracer itself.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from tracer.analysis.exposure import (
    REPORT_PL,
    DirectionResult,
    ExposurePlan,
    ExposureRequest,
)
from tracer.analysis.exposure_rows import window_edges
from tracer.analysis.risk import UNATTRIBUTED, RiskConfig
from tracer.core.addresses import display_many
from tracer.core.amounts import exact_unit_sums
from tracer.graph.selection import node_labels
from tracer.store.workspace import Workspace


def assemble(
    ws: Workspace,
    req: ExposureRequest,
    plan: ExposurePlan,
    results: dict[str, DirectionResult],
    risk: RiskConfig,
    asset: str | None = None,
) -> pl.DataFrame:
    """Turn per-row arrays into the report frame (one row per address, direction, category),
    each row carrying ``asset`` (its asset group's name)."""
    cats = [*plan.categories, UNATTRIBUTED]
    frames = []
    for d, r in results.items():
        total = r.direct + r.indirect
        rr, cc = np.nonzero(total > 0.0)
        # poison's shares are overlapping upper bounds: there, untouched flow is unattributed
        poison = req.model == "poison"
        unattributed = r.flow - (r.touched if poison else total.sum(axis=1))
        unattributed = np.where(unattributed > 1e-9 * np.maximum(r.flow, 1.0), unattributed, 0.0)
        rows = np.arange(plan.target_ids.shape[0])
        k = len(plan.categories)
        frames.append(
            pl.DataFrame(
                {
                    "id": np.concatenate([plan.target_ids[rr], plan.target_ids]),
                    "direction": d,
                    "cat": np.concatenate([cc, np.full(rows.shape[0], k)]).astype(np.int32),
                    "direct_amount": np.concatenate([r.direct[rr, cc], np.zeros(rows.shape[0])]),
                    "indirect_amount": np.concatenate(
                        [r.indirect[rr, cc], np.zeros(rows.shape[0])]
                    ),
                    "total_amount": np.concatenate([total[rr, cc], unattributed]),
                    "min_hops": np.concatenate([r.min_hops[rr, cc], np.full(rows.shape[0], -1)]),
                    "flow_amount": np.concatenate([r.flow[rr], r.flow]),
                },
                schema_overrides={"id": pl.Int32, "min_hops": pl.Int32},
            )
        )
    body = pl.concat(frames) if frames else pl.DataFrame()
    flow = pl.col("flow_amount")
    body = body.with_columns(
        pl.col("cat")
        .replace_strict(dict(enumerate(cats)), return_dtype=pl.String)
        .alias("category"),
        pl.when(pl.col("min_hops") >= 0).then(pl.col("min_hops")).alias("min_hops"),
        *[
            pl.when(flow > 0).then(pl.col(f"{p}_amount") / flow).alias(name)
            for p, name in (("total", "share"), ("direct", "direct_share"),
                            ("indirect", "indirect_share"))
        ],
    )  # fmt: skip
    body = body.with_columns(risk.score_expr().alias("risk_score"))
    body = body.with_columns(
        pl.col("risk_score").max().over("id", "direction").alias("address_risk_score")
    )
    exact = _exact_columns(ws, plan, list(results))
    body = body.join(exact[0], on=["id", "direction"], how="left").join(
        exact[1], on=["id", "direction", "cat"], how="left"
    )
    graph = ws.nodes()
    labelled = node_labels(graph, ws.labels()).select(
        "id", pl.col("name").alias("address_name"), pl.col("category").alias("address_category")
    )
    nodes = graph.addresses.join(
        pl.DataFrame({"id": plan.target_ids}, schema={"id": pl.Int32}), on="id", how="semi"
    )
    nodes = nodes.with_columns(
        pl.Series(
            "address",
            display_many(nodes["chain"].to_list(), nodes["address"].to_list()),
            pl.String,
        )
    )
    body = (
        body.join(nodes, on="id", how="left")
        .join(labelled, on="id", how="left")
        .sort(["address", "chain", "direction", "cat"])
    )
    body = body.with_columns(pl.lit(asset, pl.String).alias("asset"))
    return body.select(pl.col(n).cast(t) for n, t in REPORT_PL.items())


def _exact_columns(
    ws: Workspace, plan: ExposurePlan, directions: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Exact ``flow_value`` per (id, direction) and ``direct_value`` per (id, direction, cat).

    ``direct_value`` is the exact sum of the transfers exchanged directly with addresses of the
    category (before dust): equal to ``direct_amount`` for absorbing categories; for
    pass-through categories it is the gross volume, of which the model attributes a part.
    """
    index, src, dst = window_edges(plan, directions)  # (shared with the new path)
    values = ws.rows(index, ["value", "decimals"])  # read once for both directions
    flows, directs = [], []
    for d in directions:
        me, other = (dst, src) if d == "in" else (src, dst)
        keep = plan.target_row[me] >= 0
        vals = values.filter(pl.Series(keep)).with_columns(
            pl.Series("id", me[keep], pl.Int32),
            pl.Series("cat", plan.cat[other[keep]], pl.Int32),
            pl.lit(d).alias("direction"),
        )
        flows.append(exact_unit_sums(vals, ["id", "direction"]).rename({"exact": "flow_value"}))
        directs.append(
            exact_unit_sums(vals.filter(pl.col("cat") >= 0), ["id", "direction", "cat"]).rename(
                {"exact": "direct_value"}
            )
        )
    schema_f = pl.Schema({"id": pl.Int32, "direction": pl.String, "flow_value": pl.String})
    schema_d = pl.Schema(
        {"id": pl.Int32, "direction": pl.String, "cat": pl.Int32, "direct_value": pl.String}
    )
    return _concat_as(flows, schema_f), _concat_as(directs, schema_d)


def _concat_as(frames: list[pl.DataFrame], schema: pl.Schema) -> pl.DataFrame:
    """Frames stacked in ``schema``'s columns and types (an empty frame of it when none)."""
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat([f.select(pl.col(n).cast(t) for n, t in schema.items()) for f in frames])

