"""The grouped arguments every sweep kernel takes: a few named tuples of arrays, not 20+.

numba types a ``NamedTuple`` of arrays by its fields and compiles field access to a plain
load, so a kernel reads ``a.bt[u, 0]`` as fast as a positional ``bt[u, 0]`` (measured in
``benchmarks/test_bench_kernels.py``), while a call names what it passes. The Python-side
state classes (:class:`~.taint.SweepState`, :class:`~.exposure.ExposureState`) own the arrays
and build these bundles for each call; the bundles hold references, never copies.

Field names follow the kernels' vocabulary (:mod:`.rules`); dtypes are fixed by the wrappers
(ids int32, timestamps int64, amounts float64), so each kernel compiles once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Transfers(NamedTuple):
    """One chunk of transfers in chain order: ``src, dst`` int32, ``amount`` float64 token
    units, ``ts`` int64 (µs)."""

    src: np.ndarray
    dst: np.ndarray
    amount: np.ndarray
    ts: np.ndarray


class SweepParams(NamedTuple):
    """A taint sweep's settings: model code (:data:`.rules.MODELS`), dust threshold, hop cap,
    whether to record each sender's balance and taint before it, lots per address (FIFO/LIFO)."""

    model: int
    min_amount: float
    max_hops: int
    record: bool
    max_lots: int


class SweepArrays(NamedTuple):
    """Per-address state kept across chunks, and the run totals.

    ``role`` int8[N]; ``bt`` float64[N, 2] balance and tainted part side by side (one cache
    line per sender); ``inflow``, ``hops``, ``first_ts`` per address; ``beyond_from`` (empty
    without a hop limit); ``stats`` float64[N_STATS] indexed by :mod:`.rules`' run totals.
    """

    role: np.ndarray
    bt: np.ndarray
    inflow: np.ndarray
    hops: np.ndarray
    first_ts: np.ndarray
    beyond_from: np.ndarray
    stats: np.ndarray


class EdgeOut(NamedTuple):
    """Per-edge outputs of one chunk: taint carried and its hop; with ``record``, the sender's
    balance and tainted part before the edge (else empty)."""

    edge_taint: np.ndarray
    edge_hop: np.ndarray
    bal_before: np.ndarray
    taint_before: np.ndarray


class TxGroups(NamedTuple):
    """TIHO's multi-output groups (see :func:`.taint.tx_groups`): group per edge (-1 alone),
    each group's first edge, CSR offsets and members largest first."""

    of: np.ndarray
    lead: np.ndarray
    offsets: np.ndarray
    edges: np.ndarray


class LotQueues(NamedTuple):
    """FIFO/LIFO queues: per address a region ``[start, start + cap)`` of one pool with live
    lots ``head..tail``; the pool's lot amounts and tainted parts."""

    start: np.ndarray
    head: np.ndarray
    tail: np.ndarray
    cap: np.ndarray
    amt: np.ndarray
    tnt: np.ndarray


class ColourArrays(NamedTuple):
    """Taint by colour (one per source): colour of each source node (-1 elsewhere), report row
    of each node (-1 none), tainted funds by colour ``tc[N, K]``, receipts of reported rows
    ``cin[R, K]``, per-colour ``stats[K, 3]`` (traced, dust, beyond)."""

    colour_of: np.ndarray
    row_of: np.ndarray
    tc: np.ndarray
    cin: np.ndarray
    stats: np.ndarray


class ExposureParams(NamedTuple):
    """An exposure sweep's settings: model code, dust threshold, hop cap, window (inclusive,
    in the units of ``ts``)."""

    model: int
    min_amount: float
    max_hops: int
    lo: int
    hi: int


class ExposureArrays(NamedTuple):
    """Per-address exposure state: role (``NORMAL``, ``SOURCE`` a labelled origin, ``THROUGH``
    a pass-through service), category, balance, tainted amount and hop per category."""

    role: np.ndarray
    cat: np.ndarray
    balance: np.ndarray
    taint: np.ndarray
    hops: np.ndarray


class ExposureOut(NamedTuple):
    """What the report reads: each node's report row (-1 none), per row direct and indirect
    receipts and minimum hop per category, flow and touched flow; per-category ``stats[K,
    N_CAT_STATS]`` and the run totals ``run_stats[N_STATS]`` (unknown prior funds)."""

    target_row: np.ndarray
    direct: np.ndarray
    indirect: np.ndarray
    min_hops: np.ndarray
    flow: np.ndarray
    touched: np.ndarray
    stats: np.ndarray
    run_stats: np.ndarray


class ReachGraph(NamedTuple):
    """The k-hop search's graph: CSR ``out_offsets[N+1]``/``out_edges`` (each wallet's
    out-edges in chain order), the receiver of each CSR slot, and ``stop`` (bool per node:
    wallets that absorb, as sinks in follow)."""

    out_offsets: np.ndarray
    out_edges: np.ndarray
    out_dst: np.ndarray
    stop: np.ndarray


class ReachScratch(NamedTuple):
    """The k-hop search's reused buffers: per node the arrival time now and next level, where
    its scanned suffix starts, the frontiers, the nodes touched; the reached edges and levels."""

    since: np.ndarray
    next_since: np.ndarray
    scanned: np.ndarray
    frontier: np.ndarray
    nxt: np.ndarray
    touched: np.ndarray
    reached: np.ndarray
    edge_level: np.ndarray
