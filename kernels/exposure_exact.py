"""Exact group sums of fixed-width values, and their decimal text, in compiled passes.

Why: an ``exposure --all`` report carries, per report row and per (row, category), the exact
sum of the transfers' on-chain integers (``flow_value``, ``direct_value``). Read as text, cast
to Int128 and grouped twice per direction, those sums were the largest remaining cost of the
report (issue 17). The case index stores each value as two base-10**19 limbs (``hi, lo``), so
a sum per key is one pass with a carry, and the text is written digit by digit into an Arrow
string buffer: no string is parsed, no Python object is made per row or per key.

Exact or refused: a key whose sum overflows 64 bits of high limb (more than about 10**38), or
whose rows have differing or unknown ``decimals``, is flagged ``BAD``; the caller sums those
keys' rows with exact decimals instead.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit

LIMB = np.uint64(10**19)
LIMB_DIGITS = 19
UNSET = -3  # a key with no row yet
MIXED = -2  # rows of differing decimals (or an overflow): summed elsewhere
_MAX = np.uint64(2**64 - 1)


#: accumulator columns per key (one 32-byte row: one cache line visit per added row)
HI, LO, COUNT, DEC = 0, 1, 2, 3
_DEC0 = 16  # ``dec`` stored as ``dec + 16`` (unsigned)


@njit(cache=True, nogil=True)
def _add(acc, k, a_hi, a_lo, d):  # type: ignore[no-untyped-def]
    """Add one value (limbs ``a_hi, a_lo``, decimals code ``d``) to key ``k`` of ``acc``."""
    acc[k, COUNT] += np.uint64(1)
    if acc[k, DEC] == np.uint64(UNSET + _DEC0):
        acc[k, DEC] = d
    elif acc[k, DEC] != d:
        acc[k, DEC] = np.uint64(MIXED + _DEC0)
    lo = acc[k, LO]
    carry = np.uint64(0)
    if lo >= LIMB - a_lo:  # lo + a_lo >= 10**19, without overflowing uint64
        acc[k, LO] = lo - (LIMB - a_lo)
        carry = np.uint64(1)
    else:
        acc[k, LO] = lo + a_lo
    b = a_hi + carry  # a_hi < 10**19: no overflow
    if acc[k, HI] > _MAX - b:
        acc[k, DEC] = np.uint64(MIXED + _DEC0)
    else:
        acc[k, HI] += b


@njit(cache=True, nogil=True)
def _group_sums(key, limbs, decimals, acc):  # type: ignore[no-untyped-def]
    for i in range(key.shape[0]):
        if key[i] >= 0:
            _add(acc, key[i], limbs[i, 0], limbs[i, 1], np.uint64(decimals[i] + _DEC0))


@njit(cache=True, nogil=True)
def _edge_sums(flows, direct, row, c, width, a_hi, a_lo, d):  # type: ignore[no-untyped-def]
    """One edge into one direction's sums: report row ``row`` (-1: none), the other end's
    category ``c`` (-1: none, else a direct value)."""
    if row >= 0:
        _add(flows, row, a_hi, a_lo, d)
        if c >= 0:
            _add(direct, row * width + c, a_hi, a_lo, d)


@njit(cache=True, nogil=True)
def _sums(src, dst, target_row, cat, width, limbs, decimals, f_in, d_in, f_out, d_out,
          do_in, do_out):  # type: ignore[no-untyped-def]
    """``in`` (the receiver reported, the sender's category direct) and/or ``out`` (the
    sender reported, the receiver's category direct) sums of each edge, in one pass."""
    for i in range(src.shape[0]):
        a_hi, a_lo = limbs[i, 0], limbs[i, 1]
        d = np.uint64(decimals[i] + _DEC0)
        s, t = src[i], dst[i]
        if do_in:
            _edge_sums(f_in, d_in, target_row[t], cat[s], width, a_hi, a_lo, d)
        if do_out:
            _edge_sums(f_out, d_out, target_row[s], cat[t], width, a_hi, a_lo, d)


def _new(n_keys: int) -> np.ndarray:
    acc = np.zeros((n_keys, 4), dtype=np.uint64)
    acc[:, DEC] = UNSET + _DEC0
    return acc


def _split(acc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(hi, lo, dec, count)`` columns of an accumulator: views where the type allows (a
    copy of each column of the direct sums' accumulator is 10 MB of fresh memory per
    direction on an ``--all`` report, ~1 ms of system time a MB on this VM)."""
    dec = acc[:, DEC].view(np.int64) - _DEC0  # codes fit int64: the same values, one pass
    return acc[:, HI], acc[:, LO], dec, acc[:, COUNT].view(np.int64)


Sums = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def pair_sums(
    src: np.ndarray,
    dst: np.ndarray,
    target_row: np.ndarray,
    cat: np.ndarray,
    width: int,
    pieces: list[tuple[int, int, np.ndarray]],
    decimals: np.ndarray,
    n_rows: int,
    directions: tuple[str, ...] = ("in", "out"),
) -> dict[str, tuple[Sums, Sums]]:
    """Per direction of ``directions``: its exact sums ``(flows, direct)`` as
    :func:`direction_sums` gives them, both directions in one pass over the edges (their
    limbs, decimals and ends are read once, not once a direction)."""
    n_in = n_rows if "in" in directions else 0
    n_out = n_rows if "out" in directions else 0
    acc = {"in": (_new(n_in), _new(n_in * width)), "out": (_new(n_out), _new(n_out * width))}
    src = np.ascontiguousarray(src, dtype=np.int32)
    dst = np.ascontiguousarray(dst, dtype=np.int32)
    target_row = np.ascontiguousarray(target_row, dtype=np.int32)
    cat = np.ascontiguousarray(cat, dtype=np.int32)
    decimals = np.ascontiguousarray(decimals, dtype=np.int16)
    for start, stop, limbs in pieces:
        _sums(src[start:stop], dst[start:stop], target_row, cat, np.int64(width),
              np.ascontiguousarray(limbs, dtype=np.uint64), decimals[start:stop],
              *acc["in"], *acc["out"], n_in > 0, n_out > 0)  # fmt: skip
    return {d: (_split(acc[d][0]), _split(acc[d][1])) for d in directions}


def direction_sums(
    me: np.ndarray,
    other: np.ndarray,
    target_row: np.ndarray,
    cat: np.ndarray,
    width: int,
    pieces: list[tuple[int, int, np.ndarray]],
    decimals: np.ndarray,
    n_rows: int,
) -> tuple[Sums, Sums]:
    """One direction's exact sums in one pass over its edges (``me`` the reported side: the
    receiver for ``in``, the sender for ``out``): ``(hi, lo, dec, count)`` as
    :func:`group_sums` gives them, keyed by the report row (``target_row[me]``; -1: not
    reported) for flows, and by ``row * width + cat[other]`` (``cat`` -1: not a reported
    category) for direct values; ``n_rows`` report rows. The values come in ``pieces``
    ``(start, stop, limbs)``: the limbs of edges ``start:stop`` (memory-mapped views, summed
    where they lie rather than copied into one array)."""
    return pair_sums(other, me, target_row, cat, width, pieces, decimals, n_rows, ("in",))["in"]


def group_sums(
    key: np.ndarray, limbs: np.ndarray, decimals: np.ndarray, n_keys: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per key in ``0..n_keys``: ``(hi, lo, dec, count)`` of the rows with that ``key``
    (negative keys are skipped). ``dec`` is the rows' shared decimals, ``MIXED`` when they
    differ or the sum overflows, ``UNSET`` when the key has no row; a negative shared
    decimals (-1: unknown) stays as it is."""
    acc = _new(n_keys)
    _group_sums(np.ascontiguousarray(key, dtype=np.int64),
                np.ascontiguousarray(limbs, dtype=np.uint64),
                np.ascontiguousarray(decimals, dtype=np.int16), acc)  # fmt: skip
    return _split(acc)


@njit(cache=True, nogil=True)
def _digits(x, buf, at):  # type: ignore[no-untyped-def]
    """Write the decimal digits of uint64 ``x`` (at least one) at ``buf[at:]``; the count."""
    n = 0
    y = x
    while True:
        n += 1
        y = y // np.uint64(10)
        if y == 0:
            break
    for j in range(n - 1, -1, -1):
        buf[at + j] = np.uint8(48 + x % np.uint64(10))
        x = x // np.uint64(10)
    return n


@njit(cache=True, nogil=True)
def _format(hi, lo, dec, offsets, data):  # type: ignore[no-untyped-def]
    digits = np.empty(48, dtype=np.uint8)
    pos = 0
    for i in range(hi.shape[0]):
        offsets[i] = pos
        if hi[i] > 0:
            n = _digits(hi[i], digits, 0)
            x = lo[i]
            for j in range(LIMB_DIGITS - 1, -1, -1):
                digits[n + j] = np.uint8(48 + x % np.uint64(10))
                x = x // np.uint64(10)
            n += LIMB_DIGITS
        else:
            n = _digits(lo[i], digits, 0)
        d = max(int(dec[i]), 0)
        # zero-fill to d + 1 digits, then whole part, ".", fraction without trailing zeros
        pad = d + 1 - n if d + 1 > n else 0
        total = n + pad
        whole = total - d
        end = total
        while end > whole:
            c = digits[end - 1 - pad] if end - 1 - pad >= 0 else np.uint8(48)
            if c != 48:
                break
            end -= 1
        for j in range(end):
            if j == whole:
                data[pos] = np.uint8(46)
                pos += 1
            data[pos] = digits[j - pad] if j >= pad else np.uint8(48)
            pos += 1
    offsets[hi.shape[0]] = pos


def format_units(
    hi: np.ndarray, lo: np.ndarray, decimals: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Arrow string layout ``(offsets int64[n + 1], data uint8)`` of ``hi * 10**19 + lo``
    divided by ``10**decimals``, written as :func:`tracer.core.amounts.exact_unit_sums` does
    (``"12.5"``, ``"0"``, ``"0.000001"``: no trailing fraction zeros, no lone ``.``)."""
    n = hi.shape[0]
    offsets = np.empty(n + 1, dtype=np.int64)
    width = 41 + int(max(int(decimals.max()), 0) if n else 0)  # digits + "." + zero-fill
    data = np.empty(max(n * width, 1), dtype=np.uint8)
    _format(np.ascontiguousarray(hi, dtype=np.uint64), np.ascontiguousarray(lo, dtype=np.uint64),
            np.ascontiguousarray(decimals, dtype=np.int16), offsets, data)  # fmt: skip
    return offsets, data[: int(offsets[n])]
