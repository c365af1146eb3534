"""Scale-out of the exposure sweep on Ray (optional extra: ``pip install 'tracer[ray]'``).

How the work is cut: the two directions are independent sweeps, and a category group can be
swept on its own with the other categories folded into one tracked slot (exact for every
model when there is no dust threshold or hop limit; see :func:`~tracer.analysis.exposure.sweep`),
so a
shard is ``(direction, category group)``. Each worker opens the same Parquet workspace (on a
real cluster, a path every node can read: NFS, a mounted bucket) and builds its own kernel
inputs; a workspace that lives only in memory (``--data``) is shipped once through Ray's
object store instead. The driver adds the shards' columns together: results are identical to
the local engine (tests check it). With ``--min-amount`` or ``--max-hops`` the shards are the
directions only.

Why Ray: tasks over numpy arrays with zero-copy shared memory on a node, ``ray.init(address=...)``
to reach an existing cluster unchanged, and a local cluster in-process for tests. Dask would
also fit; Ray's object store makes the in-memory case (one 10M-edge plan to many workers)
a single put.
"""

from __future__ import annotations

import os
from typing import Any

from tracer.analysis.exposure import (
    DirectionResult,
    ExposurePlan,
    ExposureRequest,
    merge_groups,
    sweep,
)
from tracer.core.errors import UsageError
from tracer.core.progress import Progress, no_progress
from tracer.store.workspace import Workspace


def shards(req: ExposureRequest, n_cat: int, workers: int) -> list[tuple[str, list[int] | None]]:
    """``(direction, category group)`` pieces: about two per worker (so a slow shard does not
    leave the others idle), never an empty group."""
    if req.selection.min_amount > 0 or req.selection.max_hops is not None or n_cat <= 1:
        return [(d, None) for d in req.directions]
    per_dir = max(1, min(n_cat, -(-2 * workers // len(req.directions))))
    groups = [list(range(n_cat))[i::per_dir] for i in range(per_dir)]
    return [(d, g) for d in req.directions for g in groups if g]


_PLANS: dict[Any, ExposurePlan] = {}


def _plan_in_worker(path: str, generation: int, labels: Any, req: ExposureRequest) -> ExposurePlan:
    """Open the workspace and plan once per worker process (shards of one job share it)."""
    from tracer.analysis.exposure import label_set_hash, make_plan

    key = (path, generation, label_set_hash(labels), req)
    if key not in _PLANS:
        _PLANS.clear()
        ws = Workspace.open(path)
        if ws.manifest().get("generation") != generation:
            raise RuntimeError(f"workspace {path} changed while the job ran")
        ws.use_labels(labels)
        _PLANS[key] = make_plan(ws, req)
    return _PLANS[key]


def _run_shard(
    source: Any, req: ExposureRequest, direction: str, group: list[int] | None
) -> DirectionResult:
    if isinstance(source, ExposurePlan):
        return sweep(source, req, direction, group)
    path, generation, labels = source  # a worker plans from the workspace itself
    return sweep(_plan_in_worker(path, generation, labels, req), req, direction, group)


def ray_sweeps(
    ws: Workspace,
    req: ExposureRequest,
    plan: ExposurePlan,
    *,
    address: str | None = None,
    progress: Progress = no_progress,
    logs: bool = False,
) -> dict[str, DirectionResult]:
    """Run the sweeps as Ray tasks; returns one merged result per direction.

    ``progress``: a bar over the shards; ``logs``: the workers' logs on a joined cluster."""
    try:
        import ray
    except ImportError:
        raise UsageError(
            "--engine ray needs Ray: pip install 'tracer[ray]' (or use the default local engine)"
        ) from None
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=logs)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
    if ws.path is not None:
        source: Any = (str(ws.path.resolve()), ws.manifest().get("generation"), ws.labels())
    else:
        source = ray.put(plan)
    task = ray.remote(num_cpus=1)(_run_shard)
    pieces = shards(req, len(plan.categories), workers)
    refs = [task.remote(source, req, d, g) for d, g in pieces]
    by_dir: dict[str, list[DirectionResult]] = {d: [] for d in req.directions}
    pending = dict(zip(refs, pieces, strict=True))
    with progress("exposure shards", len(refs)) as advance:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                d, _g = pending.pop(ref)
                by_dir[d].append(ray.get(ref))
                advance(1)
    return {d: merge_groups(parts) for d, parts in by_dir.items()}
