"""One asset group's sweep turned into its account and its rows (reached, through, held,
frontier), for :func:`tracer.analysis.follow.follow` and the cross-asset run.

Split from :mod:`tracer.analysis.follow` (the use case and its steps). After a local run only
the entries the run wrote (its sources and tainted receivers) can hold a figure, so the rows'
ids are picked from those (:func:`group_frames`' ``touched``: the state's written list,
:func:`tracer.analysis.local_state.written`) in one pass of
:func:`tracer.kernels.row_pick.pick_written`; after the full sweep, from every address, by
numpy masks. The frames order their rows by amount and address whatever order the ids come
in, and the lists whose order a figure depends on (the sums of the held and the returned
amounts) are put in ascending order first, so the rows, their order and every sum are the
same either way.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from tracer.analysis.follow_frames import FrameSpec, RowKit, address_frames, label_lookup
from tracer.analysis.follow_result import AssetAccount
from tracer.analysis.follow_rows import address_texts, strongest_paths, top_positions
from tracer.analysis.sweep_counts import SweepCounts
from tracer.core.sparse_zeros import sparse_zeros
from tracer.graph.selection import AssetGroup
from tracer.kernels.follow_pick import touched_ids
from tracer.kernels.row_pick import label_bits, pick_written
from tracer.kernels.taint import OVERDRAFT_AMOUNT, OVERDRAFTS, SINK, SOURCE, SweepState
from tracer.store.graph_cache import NodeIndex
from tracer.store.workspace import Workspace

#: per node count and thread: :func:`touched_ids`' zeroed marks (lazily paged, left zero)
_MARKS: dict[tuple[int, int], np.ndarray] = {}


def _marks(n: int) -> np.ndarray:
    """The mark array for ``n`` nodes, allocated once per size and thread (the last two
    sizes kept)."""
    key = (n, threading.get_ident())
    hit = _MARKS.get(key)
    if hit is None:
        while len(_MARKS) >= 2:
            del _MARKS[next(iter(_MARKS))]
        hit = _MARKS[key] = sparse_zeros(n, np.uint8)
    return hit


def touched_receivers(receivers: np.ndarray, sources: np.ndarray, n_nodes: int) -> np.ndarray:
    """The sorted distinct ids of a local run's tainted receivers and its sources (int64):
    ``np.unique`` of both, by marks over the ``n_nodes`` addresses (O(ids), not a sort of
    every tainted edge's receiver: a spread follow's 80k)."""
    return touched_ids(receivers, sources, _marks(n_nodes))


def group_frames(
    res: SweepState,
    tainted: dict[str, np.ndarray],
    counts: SweepCounts,
    group: AssetGroup,
    workspace: Workspace,
    role: np.ndarray,
    lab: pl.DataFrame,
    nodes: pl.DataFrame | NodeIndex,
    sizes: np.ndarray,
    *,
    conserves: bool,
    top_paths: int,
    top_held: int,
    backward: bool,
    touched: np.ndarray | None = None,
    release: Callable[[], None] | None = None,
) -> tuple[AssetAccount, dict[str, pl.DataFrame]]:
    """One asset group's sweep turned into its account and its rows (each with ``asset``).

    ``touched``: ids (any order, repeats allowed) outside which every per-address figure is
    zero (the entries a local run wrote: its sources and tainted receivers): the rows are
    picked from those instead of scanning every address (O(case), not O(addresses)); the
    same rows and sums. None: every address.

    ``release`` (with ``touched``: a local run's state on lent buffers,
    :func:`tracer.analysis.local_state.released`): the touched entries are reset to a fresh
    state's values in the pass that picks the rows (each row's figures, hops and first arrival
    kept), then ``release`` is called, so the buffers are clean for the next question without
    a reset pass of their own; nothing reads the state's per-address arrays after it."""
    traced = res.traced
    if touched is None:  # hops and first arrivals read from the state at the rows shown
        sink_ids, through_ids, held_ids, front_ids, source_ids = _every_row(res, role, lab)
        sinks, through = _Rows(sink_ids, res.inflow[sink_ids]), _Rows(through_ids,
                                                                      res.inflow[through_ids])
        held, front = _Rows(held_ids, res.taint[held_ids]), _Rows(front_ids,
                                                                  res.beyond_from[front_ids])
        returned = float(res.inflow[source_ids].sum())
    else:
        picked = pick_written(
            touched, _marks(role.shape[0]), role, res.inflow, res.taint, res.beyond_from,
            _label_bits(lab), SINK, SOURCE, hops=res.hops, first_ts=res.first_ts,
            bt=None if release is None else res.bt,
        )  # fmt: skip
        if release is not None:
            release()
        # ascending, as the masks give them; the held (a spread follow's 25k) only where
        # their sum is shown (conserving models): the frames order rows by amount anyway
        sinks, through, front, sources = (_ascending(_Rows(*picked[i])) for i in (0, 1, 3, 4))
        held = _ascending(_Rows(*picked[2])) if conserves else _Rows(*picked[2])
        returned = float(sources.amounts.sum())
    held_total = float(held.amounts.sum()) if conserves else 0.0
    # the largest holders, and the wallets at the hop limit with what each passed on beyond
    # it (sums to "beyond"): ties at the cut kept, the frames cut to top_held
    keep_held, keep_front = (_top(p, top_held) for p in (held, front))
    reached, through_df, held_df, frontier = address_frames(RowKit(
        group.name, res.hops, res.first_ts, sizes, lab, lambda ids: address_texts(nodes, ids)), [
        _spec(sinks, share_of=traced, fill_inferred=True,
              paths=lambda ids: strongest_paths(ids[: max(top_paths and 50, 0)], tainted, role,
                                                workspace, nodes, top_paths, backward)),
        _spec(through, drop_id=True),
        _spec(keep_held, head=top_held),
        _spec(keep_front, head=top_held),
    ])  # fmt: skip
    account = AssetAccount(
        asset=group.name, members=list(group.members), decimals=group.decimals,
        traced_total=traced, reached_total=float(reached["amount"].sum()),
        held_total=held_total, returned=returned,
        dust=res.dust, beyond_max_hops=res.beyond, overdrafts=int(res.stats[OVERDRAFTS]),
        overdraft_amount=float(res.stats[OVERDRAFT_AMOUNT]), conserves=conserves,
    )  # fmt: skip
    return account, {"reached": reached, "through": through_df, "held": held_df,
                     "frontier": frontier}  # fmt: skip


class _Rows(NamedTuple):
    """A frame's ids with their figure, and their hops and first arrivals when they are not to
    be read from the state (a local run's, reset as its rows were picked)."""

    ids: np.ndarray
    amounts: np.ndarray
    hops: np.ndarray | None = None
    first_ts: np.ndarray | None = None

    def take(self, at: slice | np.ndarray) -> _Rows:
        """The rows at ``at`` (positions, a mask or a slice), what goes along kept with them."""
        pick = [None if a is None else a[at] for a in self]
        return _Rows(pick[0], pick[1], pick[2], pick[3])  # type: ignore[arg-type]


def _ascending(p: _Rows) -> _Rows:
    """``p`` by ascending id."""
    return p if p.ids.shape[0] < 2 else p.take(np.argsort(p.ids, kind="stable"))


def _top(p: _Rows, k: int) -> _Rows:
    """:func:`~tracer.analysis.follow_rows.top_ids` of ``p``."""
    return p.take(top_positions(p.amounts, k))


def _spec(p: _Rows, **spec: Any) -> FrameSpec:
    """A frame of ``p``'s rows."""
    return FrameSpec(p.ids, p.amounts, hops=p.hops, first_ts=p.first_ts, **spec)


#: per label frame (by identity, checked alive): its ids as a bit per address
_BITS: dict[int, tuple[weakref.ref[Any], np.ndarray]] = {}


def _label_bits(lab: pl.DataFrame) -> np.ndarray:
    """:func:`~tracer.kernels.row_pick.label_bits` of ``lab``'s ids, kept while the frame lives
    (one label frame per session: the labelled test of every local follow's rows)."""
    hit = _BITS.get(id(lab))
    if hit is not None and hit[0]() is lab:
        return hit[1]
    look = label_lookup(lab)
    bits = label_bits(lab["id"].to_numpy() if look is None else look.ids)
    for k in [k for k, (r, _) in _BITS.items() if r() is None]:
        del _BITS[k]
    _BITS[id(lab)] = (weakref.ref(lab), bits)
    return bits


def _every_row(
    res: SweepState, role: np.ndarray, lab: pl.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`~tracer.kernels.follow_pick.pick_rows`' ids over every address (after the full
    sweep, whose figures may sit anywhere), by numpy masks."""
    labelled = np.zeros(role.shape[0], dtype=np.bool_)
    labelled[lab["id"].to_numpy()] = True
    plain = (role != SINK) & (role != SOURCE)

    def pick(mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask).astype(np.int32)

    bf = res.beyond_from  # empty without a hop limit
    return (pick((role == SINK) & (res.inflow > 0)), pick(labelled & plain & (res.inflow > 0)),
            pick(plain & (res.taint > 0)),
            pick(bf > 0) if bf.size else np.zeros(0, dtype=np.int32),
            pick(role == SOURCE))  # fmt: skip
