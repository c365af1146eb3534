"""Run an exposure request on the chosen engine: local sweeps, or Ray shards
(:mod:`tracer.analysis.engines`).

The entry point sits above both the plan/sweep/report pieces (:mod:`tracer.analysis.exposure`)
and the engines that use them, so the imports run one way (exposure → engines → run).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa

from tracer.analysis.exposure import (
    DirectionResult,
    ExposurePlan,
    ExposureReport,
    ExposureRequest,
    _accounting,
    _version,
    _workspace_desc,
    label_set_hash,
    make_plan,
    sweep,
)
from tracer.analysis.exposure_rows import RowParts, RowsPrep, prepare
from tracer.analysis.risk import RiskConfig, load_risk_config
from tracer.core.errors import UsageError
from tracer.core.progress import Progress, no_progress
from tracer.graph.selection import asset_groups, asset_tokens
from tracer.graph.stream import use_stream
from tracer.store.workspace import Workspace


def exposure(
    ws: Workspace,
    req: ExposureRequest,
    *,
    risk: RiskConfig | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    progress: Progress | None = None,
    ray_logs: bool = False,
    parallel: bool = True,
) -> ExposureReport:
    """Compute the exposure report for ``req`` (see the module docstring).

    Each asset group (the USD stablecoin pool, or one token: :func:`asset_groups`) is swept
    and reported on its own, in rows that carry their ``asset``: amounts of different tokens
    are never added. The Ray engine takes one asset group per job.

    ``progress``: a bar per sweep (local) or over the shards (Ray); none by default.
    ``ray_logs``: show the Ray workers' logs (joining an existing cluster).
    ``parallel``: the local engine sweeps the directions on threads at once (the kernel
    releases the GIL); False sweeps them one after the other (same results, bit for bit).
    """
    bar = progress or no_progress
    req.validate()
    risk = risk or load_risk_config()
    graph = ws.nodes() if use_stream(ws, req.selection.stream) else ws.graph()
    groups = asset_groups(graph.tokens, asset_tokens(graph, req.selection.assets))
    if engine == "ray" and len(groups) > 1:
        raise UsageError(
            f"--engine ray: the selection holds {len(groups)} assets "
            f"({', '.join(g.name for g in groups)}), which are reported separately; run one "
            "--asset at a time on Ray (or use the local engine)"
        )
    if engine not in ("local", "ray"):
        raise UsageError(f"--engine {engine}: choose local or ray")
    threaded = engine == "local" and parallel and len(req.directions) > 1
    parts: list[RowParts] = []
    by_asset, plans = {}, []
    swept_threaded = False
    for group in groups:
        plan = make_plan(ws, req, token_ids=group.token_ids)
        plans.append(plan)
        results: dict[str, DirectionResult] = {}
        extra: dict[str, RowsPrep] = {}
        # threads only in memory: a streamed plan's directions would read the same Parquet
        # files (one PartReader, its pq.ParquetFile objects) from two threads at once, which
        # hung or crashed the suite; streamed directions run one after the other
        in_memory = plan.source is None
        swept_threaded |= threaded and in_memory
        if engine == "local" and threaded and in_memory:
            # the rows' sweep-independent part (exact sums, display addresses) on a third
            # thread while the two sweeps run: compiled/Arrow work that releases the GIL
            with ThreadPoolExecutor(max_workers=1) as side:
                prep = side.submit(prepare, ws, plan, list(req.directions))
                with bar("exposure sweep", plan.n_edges * len(req.directions)) as advance:
                    results = local_sweeps(plan, req, on_chunk=advance, parallel=parallel)
                extra["prepared"] = prep.result()
        elif engine == "local":
            with bar("exposure sweep", plan.n_edges * len(req.directions)) as advance:
                results = local_sweeps(plan, req, on_chunk=advance,
                                       parallel=parallel and in_memory)
        else:
            from tracer.analysis.engines import ray_sweeps

            results = ray_sweeps(ws, req, plan, address=ray_address, progress=bar,
                                 logs=ray_logs)  # fmt: skip
        parts.append(RowParts(ws, req, plan, results, risk, asset=group.name, **extra))
        by_asset[group.name] = {
            "members": list(group.members), "decimals": group.decimals,
            "transfers_swept": int(plan.n_edges), "accounting": _accounting(plan, results),
        }  # fmt: skip
    first = plans[0]
    single = len(groups) == 1
    # one asset group: its rows assembled part by part as the writer asks (the Parquet writer
    # encodes a part while the next is assembled); several: one table per group (their
    # dictionaries differ: unified for the writer)
    table = None if single else pa.concat_tables(
        [p.table() for p in parts]).unify_dictionaries()  # fmt: skip
    # every report row of a group has its address in the rows (its unattributed rows)
    shown = pl.concat([pl.Series("address", p.addresses()) for p in parts])
    n_rows = sum(p.num_rows for p in parts)
    meta = {
        "tracer_version": _version(),
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "workspace": _workspace_desc(ws),
        "label_set_sha256": label_set_hash(ws.labels()),
        "labels": int(ws.labels().height),
        "model": req.model,
        # how it ran (the one key the engines' reports may differ in): "local-parallel" when
        # the directions were swept on two threads at once
        "engine": "local-parallel" if swept_threaded else engine,
        "request": req.as_json(),
        "categories": first.categories,
        "assets": sorted({a for p in plans for a in p.assets}),
        "risk": risk.as_dict(),
        "requested_addresses": None if req.addresses is None else len(req.addresses),
        "reported_addresses": int(shown.n_unique()) if n_rows else 0,
        "not_found": first.missing,
        "excluded_unknown_decimals": sum(p.excluded_unknown for p in plans),
        "transfers_swept": sum(int(p.n_edges) for p in plans),
        # amounts are never added across assets: per asset in by_asset; the top-level
        # accounting is the single asset's (None when several are reported)
        "accounting": by_asset[groups[0].name]["accounting"] if single else None,
        "by_asset": by_asset,
    }
    if table is None:
        return ExposureReport(parts=parts[0], metadata=meta)
    return ExposureReport(table=table, metadata=meta)


def local_sweeps(
    plan: ExposurePlan,
    req: ExposureRequest,
    *,
    on_chunk: Callable[[int], None] | None = None,
    parallel: bool = True,
) -> dict[str, DirectionResult]:
    """Each direction's sweep on this machine; with ``parallel``, both at once on threads.

    The two directions are independent sweeps over their own state (the plan's arrays are
    only read), and the kernel runs without the GIL, so on two cores the pair takes about the
    time of one. Each sweep is the same call either way: results are identical.
    """
    if not parallel or len(req.directions) < 2:
        return {d: sweep(plan, req, d, on_chunk=on_chunk) for d in req.directions}
    stop = threading.Event()

    def advance(n: int) -> None:
        """After each chunk: end this sweep if the caller stopped waiting (Ctrl-C, or the
        other direction's error), else report progress."""
        if stop.is_set():
            raise _Stopped
        if on_chunk is not None:
            on_chunk(n)

    with ThreadPoolExecutor(max_workers=len(req.directions)) as pool:
        futures = {d: pool.submit(sweep, plan, req, d, None, advance) for d in req.directions}
        try:
            return {d: _result(f) for d, f in futures.items()}
        except BaseException:
            # the pool's exit waits for the sweeps: let them end at their next chunk (~0.2 s)
            # instead of sweeping every edge first
            stop.set()
            raise


def _result(future: Future[DirectionResult]) -> DirectionResult:
    """``future.result()``, waiting in short slices: once Polars is imported, a signal does not
    interrupt a thread's untimed lock wait, so Ctrl-C would only be seen when the sweep ends;
    a timed wait returns to Python often enough for the KeyboardInterrupt to arrive."""
    while True:
        try:
            return future.result(timeout=0.1)
        except TimeoutError:
            continue


class _Stopped(Exception):
    """A sweep ended early because its caller stopped waiting for it (never seen by users:
    the caller is already raising its own error)."""
