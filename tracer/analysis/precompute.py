"""What a case question reads, computed at ingest (issue 17.1): the stored balance passes.

The local follow (:mod:`tracer.analysis.local_follow`) needs, per selection, one figure set
that depends on every transfer: the unknown-prior-funds shortfalls of every wallet and the
selected count (one balance pass over the whole generation). Left to the first question, the
first follow after an ingest paid it (0.7-1.2 s on 10M transfers; after an append, the
continuation over the new edges). :func:`precompute_case` runs it right after the ingest
commands commit a generation, for the selections a follow asks by default (each asset group
of the default ``--asset stablecoins``, both directions, no entities), so the first question
reads the stored sets and its ``engine_reason`` says so.

It is the follow's own code (:func:`~tracer.analysis.local_follow._prior`, called as the
first question would call it), so what it stores is what that question would have stored,
and a generation an append made (whose passes :func:`tracer.store.edge_log.carry_prior`
linked in) gets them continued over the appended edges only. Why here and not in the
store's ingest: the pass is the analysis layer's (``tracer/store`` imports nothing above it);
the commands (``tracer ingest``, ``synth``, ``ingest-rpc``) call this after the store's ingest
returns. Library users call it after :meth:`~tracer.store.workspace.Workspace.ingest` (or not:
the first question then computes it, as before).

Safe to interrupt: the generation is committed before this runs, and each set is written
with its ``done`` marker last (:func:`tracer.store.case_index.save_derived`), so a crash
leaves a set absent, and the next question computes it.

Cost: one O(edges) pass per selection and direction; the two directions run on two threads
(the pass kernels release the GIL) over the same memory-mapped arrays (no copies).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tracer.analysis.local_follow import _prior, prior_table
from tracer.graph.selection import asset_groups, asset_tokens
from tracer.store.graph_cache import NodeIndex, TransferGraph
from tracer.store.workspace import Workspace


@dataclass
class Precomputed:
    """What :func:`precompute_case` did: per selection its origin (``computed``, ``continued
    over the N transfers appended since``, ``stored``: already there) and seconds; the wall
    and CPU seconds of the whole call; ``skipped``: why nothing ran (None: it ran)."""

    selections: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    cpu: float = 0.0
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"selections": self.selections, "seconds": round(self.seconds, 3),
                "cpu_seconds": round(self.cpu, 3), "skipped": self.skipped}  # fmt: skip

    def line(self) -> str:
        """One line for the command's summary."""
        if self.skipped is not None:
            return f"stored balance passes not precomputed: {self.skipped}"
        said = {"stored": "already stored", "continued": "continued over the new transfers"}
        what = sorted({said.get(s["origin"].split(" over")[0], s["origin"])
                       for s in self.selections})  # fmt: skip
        groups = sorted({s["group"] for s in self.selections})
        return (f"unknown-prior-funds passes ({', '.join(groups)}; forward and backward) "
                f"{'/'.join(what)} for the local follow in {self.seconds:.2f} s")  # fmt: skip


def default_selections(nodes: NodeIndex) -> list[tuple[str, np.ndarray]]:
    """The asset groups a follow/source with default options sweeps (``--asset
    stablecoins``: :func:`~tracer.graph.selection.asset_groups`), as (name, token ids) —
    the very arrays the follow passes, so the stored sets' keys are the ones it looks up."""
    groups = asset_groups(nodes.tokens, asset_tokens(nodes, None))
    return [(g.name, g.token_ids) for g in groups if g.token_ids.size]


def precompute_case(workspace: Workspace, *, build_graph: bool = False,
                    threads: int = 2) -> Precomputed:  # fmt: skip
    """Compute and store (or continue) the balance passes a default follow reads, for the
    workspace's current generation (see the module docstring).

    ``build_graph``: build the graph cache first when the generation has none (``tracer
    synth`` writes none); otherwise such a workspace is skipped (its follows stream, and the
    local engine does not run there). ``threads``: selections run at once (1: in turn)."""
    t0, c0 = time.perf_counter(), os.times()
    done = Precomputed()
    if workspace.path is None or workspace.manifest()["generation"] == 0:
        done.skipped = "the workspace is in memory or empty"
        return done
    if not workspace.has_graph_cache() and not build_graph:
        done.skipped = "the generation has no graph cache (follows stream the full sweep)"
        return done
    graph = workspace.graph()
    workspace.minus_ones(graph.n_nodes)  # the local state's -1 fill, written once
    jobs = [(name, ids, backward) for name, ids in default_selections(graph)
            for backward in (False, True)]  # fmt: skip
    if not jobs:
        done.skipped = "no stablecoin transfers (what a follow selects by default)"
        return done
    prior_table(graph)  # one in-memory table, made before the threads share it

    def run(job: tuple[str, np.ndarray, bool]) -> dict[str, Any]:
        name, ids, backward = job
        t = time.perf_counter()
        pri = _prior_for(graph, ids, backward, workspace)
        return {"group": name, "direction": "backward" if backward else "forward",
                "origin": pri, "seconds": round(time.perf_counter() - t, 3)}  # fmt: skip

    if threads > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(min(threads, len(jobs))) as pool:
            done.selections = list(pool.map(run, jobs))
    else:
        done.selections = [run(j) for j in jobs]
    c1 = os.times()
    done.seconds = time.perf_counter() - t0
    done.cpu = (c1.user - c0.user) + (c1.system - c0.system)
    return done


def _prior_for(graph: TransferGraph, token_ids: np.ndarray, backward: bool,
               workspace: Workspace) -> str:  # fmt: skip
    """Run the follow's balance pass for one selection as its first question would
    (computed, continued or read) and say which."""
    return _prior(graph, token_ids, backward, None, workspace).origin
