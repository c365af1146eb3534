"""The local poison engine's event sort (:mod:`kernels.radix`) beside numpy's sort, same run.

The events of a query are packed ``(key << hb | hop) << ib | index`` words (key: an edge id,
unique per event) and the engine sorts them by the key bits only. Sizes: a spread query on
the 1M synth (~65k events) and on the 10M synth (~800k), the keys shuffled (they arrive level
after level, each level in frontier order). Both outputs are compared before timing; the two
sorts run turn about (:func:`benchmarks.conftest.in_turns`, best of ``TRACER_BENCH_ROUNDS``).

Run: ``python -m pytest -m bench benchmarks/test_bench_radix.py -s``. Recorded 2026-12-02
(quiet, numpy 2.4.6, median of 40 in a first probe): 65k 0.18 ms against numpy's 0.28; 800k
4.2 against 4.6 ms.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from tracer.kernels.radix import sort_bits

from benchmarks.conftest import in_turns, record

ROUNDS = int(os.environ.get("TRACER_BENCH_ROUNDS", "30"))
SIZES = {"65k events, 1M edges": (65_000, 1_000_000),
         "800k events, 10M edges": (800_000, 10_000_000)}  # fmt: skip


def _packed(n: int, n_edges: int) -> tuple[np.ndarray, int, int]:
    """``n`` distinct edge ids of ``n_edges``, packed with a hop and their index; the key's
    bit range (``lo``, ``hi``)."""
    rng = np.random.default_rng(7)
    keys = rng.choice(n_edges, n, replace=False).astype(np.int64)
    hb, ib = 3, max(1, n.bit_length())
    packed = ((keys << hb | 3) << ib) | np.arange(n, dtype=np.int64)
    return packed, hb + ib, hb + ib + max(1, int(n_edges - 1).bit_length())


@pytest.mark.bench
@pytest.mark.parametrize("size", list(SIZES))
def test_radix_vs_numpy_sort(size: str) -> None:
    n, n_edges = SIZES[size]
    packed, lo, hi = _packed(n, n_edges)
    tmp = np.empty_like(packed)
    t_radix, t_numpy, got, want = in_turns(
        lambda: sort_bits(packed.copy(), lo, hi, tmp), lambda: np.sort(packed), ROUNDS
    )
    assert np.array_equal(got, want)
    base = f"event sort, {size}: numpy sort"
    record(base, items=n, seconds=t_numpy, unit="values/s")
    record(f"event sort, {size}: radix (key bits)", items=n, seconds=t_radix, unit="values/s",
           baseline=base)  # fmt: skip
    print(f"\n{size}: numpy {t_numpy * 1e3:.3f} ms, radix {t_radix * 1e3:.3f} ms "
          f"({t_numpy / t_radix:.2f}x)")  # fmt: skip
