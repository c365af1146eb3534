"""All hops of a workspace in one frame (:data:`tracer.core.hops.HOP_SCHEMA`): the producers.

The cross-asset follow asks one question — which hops are there — and must not care which
producer found a row: decoded swaps and wraps (:mod:`tracer.analysis.conversions`), matched
bridge legs (:mod:`tracer.analysis.bridges`) and, only when asked, inferred OTC pass-throughs
(:mod:`tracer.analysis.otc`). :func:`load_hops` assembles them; its name and return schema are
the contract and stay stable as kinds are added.

Why OTC is off by default: an OTC hop is an inference from timing and value alone; the issue
asks that it is used only on request (``--infer-otc``) and marked wherever it is used.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import polars as pl

from tracer.analysis.conversions import conversion_hops
from tracer.core.hops import HOP_KINDS, HOP_SCHEMA, empty_hops

if TYPE_CHECKING:
    from tracer.store.workspace import Workspace

#: What :func:`load_hops` returns unless told otherwise: every kind that rests on chain data.
DEFAULT_KINDS = ("swap", "wrap", "bridge")


def _conversions(workspace: Workspace) -> pl.DataFrame:
    from tracer.store.conversions_table import read_conversions

    return read_conversions(workspace)


def load_hops(
    workspace: Workspace,
    *,
    kinds: Iterable[str] = DEFAULT_KINDS,
    infer_otc: bool = False,
    conversions: pl.DataFrame | None = None,
    transfers: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every hop of ``workspace`` of the given ``kinds``, sorted by ``ts_in`` then ``hop_id``.

    ``conversions``: a decoded conversion frame to use instead of the workspace's stored table
    (``tracer conversions --data``); ``transfers``: the canonical table to take legs from
    (default: the workspace's). ``infer_otc`` adds ``otc`` hops (inferred) even when ``otc`` is
    not in ``kinds``. Hop ids are unique in the result.
    """
    wanted = set(kinds) | ({"otc"} if infer_otc else set())
    unknown = wanted - set(HOP_KINDS)
    if unknown:
        raise ValueError(f"unknown hop kind(s) {sorted(unknown)}; known: {', '.join(HOP_KINDS)}")
    frames = [empty_hops()]
    if wanted & {"swap", "wrap"}:
        conv = _conversions(workspace) if conversions is None else conversions
        t = workspace.transfers() if transfers is None else transfers
        hops = conversion_hops(conv, t)
        frames.append(hops.filter(pl.col("kind").is_in(sorted(wanted))))
    out = pl.concat(frames).sort("ts_in", "hop_id")
    return out.unique("hop_id", keep="first", maintain_order=True).cast(HOP_SCHEMA)  # type: ignore[arg-type]
