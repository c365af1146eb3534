"""Transaction numbers from the case index: equal iff two transfers' ``tx_hash`` texts are equal.

Why: TIHO groups a sender's outputs by transaction, so the local engine's first TIHO question
of a session numbers every edge's transaction. From Parquet that decodes every ``tx_hash`` of
the workspace (10M strings, seconds); the case index (:mod:`tracer.store.case_index`) already
holds each hash as 32 bytes plus its ``0x`` flag, so a number is a mix of four 64-bit words.

Exact, not probable: a mix can collide, so every pair of edges with the same number is checked
byte for byte (one sort of the numbers); on any collision, or when a part has no index or a hash
with no exact fixed-width form (``HASH_RAW``), the answer is ``None`` and the caller numbers the
texts as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tracer.kernels.fixed_width import HASH_0X, HASH_RAW

#: Odd 64-bit multipliers (a bijection per word); the flag word keeps "0x…" and "…" apart.
MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD], dtype=np.uint64)  # fmt: skip


def tx_keys(
    starts: np.ndarray,
    hashes: Sequence[np.ndarray | None],
    kinds: Sequence[np.ndarray | None],
    n_edges: int,
) -> np.ndarray | None:
    """int64 per edge ``0..n_edges-1`` (the parts in order, ``starts`` their first edge ids and
    the total): equal iff the hash texts are equal; ``None`` when the index cannot say exactly."""
    if len(hashes) != len(kinds) or int(starts[-1]) != n_edges:
        return None
    keys = np.empty(n_edges, dtype=np.uint64)
    flags = np.empty(n_edges, dtype=np.uint8)
    with np.errstate(over="ignore"):
        for p, (raw, kind) in enumerate(zip(hashes, kinds, strict=True)):
            if raw is None or kind is None:
                return None
            k = np.asarray(kind)
            if np.any(k & HASH_RAW):
                return None
            a, b = int(starts[p]), int(starts[p + 1])
            w = np.ascontiguousarray(raw).view("<u8").reshape(-1, 4)
            f = (k & HASH_0X).astype(np.uint64)
            keys[a:b] = (w[:, 0] * MIX[0]) ^ (w[:, 1] * MIX[1]) ^ (w[:, 2] * MIX[2]) \
                ^ (w[:, 3] * MIX[3]) ^ (f * MIX[4])
            flags[a:b] = k & HASH_0X
    order = np.argsort(keys, kind="stable")
    same = np.flatnonzero(keys[order[1:]] == keys[order[:-1]])
    if same.size:
        left, right = order[same], order[same + 1]
        if np.any(flags[left] != flags[right]):
            return None
        if np.any(_raw(starts, hashes, left) != _raw(starts, hashes, right)):
            return None
    return keys.view(np.int64)


def _raw(starts: np.ndarray, hashes: Sequence[np.ndarray | None], edges: np.ndarray) -> np.ndarray:
    """The 32 bytes of each of ``edges`` (parts all indexed: checked by the caller)."""
    part = np.searchsorted(starts, edges, side="right") - 1
    out = np.empty((edges.shape[0], 32), dtype=np.uint8)
    for p in np.unique(part).tolist():
        at = np.flatnonzero(part == p)
        raw = hashes[p]
        assert raw is not None
        out[at] = np.asarray(raw)[edges[at] - starts[p]]
    return out
