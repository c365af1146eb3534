"""Account views of a per-wallet export: which rows came from the same wallet's history.

Why: exports without a log index (TronGrid, TronScan, Etherscan per-account downloads) list a
transfer between two exported wallets once in *each* wallet's history, and users concatenate such
histories into one file. A transfer's identity is then (transaction, content, occurrence), and the
occurrence must be counted *within one wallet's view*: the second copy of A→B from B's history is
the same transfer, while a batch payout that pays B the same amount twice in one transaction shows
twice in A's history and is two transfers (multiset semantics: per key, the largest count any one
view shows).

When the export names the wallet (a ``wallet``/``account`` column) the views are given. Otherwise
:func:`segment_views` recovers them from the rows' order: a wallet's history is a run of rows that
all touch one address, so a run continues while some address is common to every row of it, and a
new run starts when no address is common any more, or when a transfer repeats one seen earlier in
the run outside the current block of rows of the same transaction (a wallet's history never holds
one transfer twice, except as adjacent rows of one batch transaction).
"""

from __future__ import annotations

import numpy as np

from ._jit import njit


@njit(cache=True)
def _segment_kernel(
    src: np.ndarray, dst: np.ndarray, tx: np.ndarray, prev: np.ndarray, out: np.ndarray
) -> int:
    view = -1
    c1 = -1
    c2 = -1
    run_start = 0
    block_start = 0
    for i in range(src.shape[0]):
        s = src[i]
        d = dst[i]
        if i > 0 and tx[i] != tx[i - 1]:
            block_start = i
        new = view < 0
        n1 = -1
        n2 = -1
        if not new:
            if c1 >= 0 and (c1 == s or c1 == d):
                n1 = c1
            if c2 >= 0 and (c2 == s or c2 == d):
                n2 = c2
            lost = n1 < 0 and n2 < 0  # no address common to the whole run any more
            repeated = prev[i] >= run_start and prev[i] < block_start
            new = lost or repeated
        if new:
            view += 1
            run_start = i
            block_start = i
            c1 = s
            c2 = d if d != s else -1
        else:
            c1 = n1
            c2 = n2
        out[i] = view
    return view + 1


def segment_views(
    src: np.ndarray, dst: np.ndarray, tx: np.ndarray, prev: np.ndarray
) -> tuple[np.ndarray, int]:
    """Number each row with its view (0, 1, …) in file order; returns (views, number of views).

    Parameters
    ----------
    src, dst, tx:
        int64 ids of sender, receiver and transaction hash per row (any consistent numbering,
        e.g. dictionary codes), in the file's row order.
    prev:
        int64, for each row the index of the previous row with the same transaction *and* the
        same content (token, sender, receiver, value), or -1.
    """
    n = src.shape[0]
    for a in (dst, tx, prev):
        if a.shape[0] != n:
            raise ValueError("segment_views: arrays must have one length")
    out = np.empty(n, dtype=np.int64)
    count = _segment_kernel(
        np.ascontiguousarray(src, dtype=np.int64),
        np.ascontiguousarray(dst, dtype=np.int64),
        np.ascontiguousarray(tx, dtype=np.int64),
        np.ascontiguousarray(prev, dtype=np.int64),
        out,
    )
    return out, int(count)
