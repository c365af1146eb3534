"""Fixed-width forms of the two text columns a path row needs: transaction hashes and exact values.

Why: showing the few steps of a follow's strongest paths needs each step's ``tx_hash`` and exact
``value``; from Parquet that decodes whole row groups (1M rows, ~0.4 s for two). Stored per edge
as 32 bytes and two base-10**19 limbs beside the graph cache, memory-mapped, a path row costs a
few page reads. The encoding is exact or refuses: a text whose decoded form would not give back
the very same characters (upper-case hex, another length, a leading zero, more than 38 digits)
is marked :data:`RAW` and its row is read from Parquet instead.

Inputs are Arrow string layouts (``offsets``: n+1 integers, ``data``: the UTF-8 bytes).

The encoders release the GIL (``nogil``): an ingest encodes each partition's index on the
partition-writer threads while the main thread numbers the next rows. numba comes from
:mod:`._jit` (without its scipy probe): ``tracer.store.append`` imports this module, and a
plain ``from numba import njit`` here made every ingest import scipy (and start its BLAS
threads) for nothing.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit

#: ``kind`` bits per edge.
HASH_0X = 1  # the hash text is "0x" + 64 lower-case hex (else: 64 lower-case hex)
HASH_RAW = 2  # the hash has another form: read it from Parquet
VALUE_RAW = 4  # the value has another form: read it from Parquet
AMOUNT_NULL = 8  # the stored amount is null (unknown decimals)
#: ``value = hi * LIMB + lo``: two uint64 limbs hold every integer of up to 38 digits.
LIMB = 10**19
LIMB_DIGITS = 19


def _nibbles() -> np.ndarray:
    lut = np.full(256, -1, dtype=np.int16)
    lut[48:58] = np.arange(10)
    lut[97:103] = np.arange(10, 16)
    return lut


#: hex digit value per byte (lower case only: upper case would not round-trip), -1 otherwise
NIBBLE = _nibbles()


@njit(cache=True, nogil=True)
def _hashes(offsets: np.ndarray, data: np.ndarray, lut: np.ndarray, out: np.ndarray,
            kind: np.ndarray) -> None:  # fmt: skip
    """Each hash's 32 bytes: the nibbles by arithmetic (``(c & 15) + 9 * (c >> 6)`` is a
    lower-case hex digit's value) and validity by unsigned wrap-around, both branch-free: 2.5x
    faster than a table look-up per digit (0.28 against 0.7 s CPU for 10M hashes). A row
    with any other character is redone with the table, so its (unused) bytes are exactly
    what the look-up gave before."""
    for i in range(offsets.shape[0] - 1):
        a = offsets[i]
        length = offsets[i + 1] - a
        if length == 66 and data[a] == 48 and data[a + 1] == 120:
            start = a + 2
            flag = np.uint8(HASH_0X)
        elif length == 64:
            start = a
            flag = np.uint8(0)
        else:
            kind[i] |= np.uint8(HASH_RAW)
            continue
        digits = data[start : start + 64]
        row = out[i]
        bad = np.uint8(0)
        for j in range(32):
            h = digits[2 * j]
            lo = digits[2 * j + 1]
            bad |= (np.uint8(np.uint8(h - np.uint8(48)) >= np.uint8(10))
                    & np.uint8(np.uint8(h - np.uint8(97)) >= np.uint8(6)))  # fmt: skip
            bad |= (np.uint8(np.uint8(lo - np.uint8(48)) >= np.uint8(10))
                    & np.uint8(np.uint8(lo - np.uint8(97)) >= np.uint8(6)))  # fmt: skip
            hi_nib = np.uint8((h & np.uint8(15)) + np.uint8(9) * (h >> np.uint8(6)))
            lo_nib = np.uint8((lo & np.uint8(15)) + np.uint8(9) * (lo >> np.uint8(6)))
            row[j] = np.uint8(hi_nib << np.uint8(4)) | lo_nib
        if bad:
            for j in range(32):
                hi = lut[digits[2 * j]]
                lo16 = lut[digits[2 * j + 1]]
                row[j] = np.uint8((hi << 4) | lo16)
            kind[i] |= np.uint8(HASH_RAW)
        else:
            kind[i] |= flag


@njit(cache=True, nogil=True)
def _values(offsets: np.ndarray, data: np.ndarray, out: np.ndarray, kind: np.ndarray) -> None:
    """``out[i] = (hi, lo)`` with ``value_i = hi * 10**19 + lo``; ``kind[i] |= VALUE_RAW`` when
    the text is not a canonical decimal integer (digits, no leading zero) of at most 38 digits."""
    for i in range(offsets.shape[0] - 1):
        a = offsets[i]
        length = offsets[i + 1] - a
        if length < 1 or length > 2 * LIMB_DIGITS or (length > 1 and data[a] == 48):
            kind[i] |= VALUE_RAW
            continue
        split = length - LIMB_DIGITS if length > LIMB_DIGITS else 0
        hi = np.uint64(0)
        lo = np.uint64(0)
        ok = True
        for j in range(length):
            c = data[a + j]
            if c < 48 or c > 57:
                ok = False
                break
            if j < split:
                hi = hi * np.uint64(10) + np.uint64(c - 48)
            else:
                lo = lo * np.uint64(10) + np.uint64(c - 48)
        if not ok:
            kind[i] |= VALUE_RAW
            continue
        out[i, 0] = hi
        out[i, 1] = lo


def hashes_into(offsets: np.ndarray, data: np.ndarray, out: np.ndarray, kind: np.ndarray) -> None:
    """Encode ``len(offsets) - 1`` hashes into ``out`` (uint8[n, 32]) and ``kind`` (uint8[n],
    or-ed in): lets a caller fill slices of one output from an Arrow column chunk by chunk."""
    if out.shape != (offsets.shape[0] - 1, 32) or kind.shape[0] != out.shape[0]:
        raise ValueError("out must be uint8[n, 32] and kind uint8[n] for n strings")
    _hashes(np.ascontiguousarray(offsets, dtype=np.int64),
            np.ascontiguousarray(data, dtype=np.uint8), NIBBLE, out, kind)  # fmt: skip


def values_into(offsets: np.ndarray, data: np.ndarray, out: np.ndarray, kind: np.ndarray) -> None:
    """Encode ``len(offsets) - 1`` values into ``out`` (uint64[n, 2]) and ``kind``."""
    if out.shape != (offsets.shape[0] - 1, 2) or kind.shape[0] != out.shape[0]:
        raise ValueError("out must be uint64[n, 2] and kind uint8[n] for n strings")
    _values(np.ascontiguousarray(offsets, dtype=np.int64),
            np.ascontiguousarray(data, dtype=np.uint8), out, kind)  # fmt: skip


def encode(
    hashes: tuple[np.ndarray, np.ndarray], values: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(hash uint8[n, 32], value uint64[n, 2], kind uint8[n])`` of ``n`` hashes and values,
    each given as Arrow string ``(offsets, data)``."""
    n = hashes[0].shape[0] - 1
    if values[0].shape[0] - 1 != n:
        raise ValueError("hashes and values must have the same length")
    raw = np.zeros((n, 32), dtype=np.uint8)
    limbs = np.zeros((n, 2), dtype=np.uint64)
    kind = np.zeros(n, dtype=np.uint8)
    hashes_into(hashes[0], hashes[1], raw, kind)
    values_into(values[0], values[1], limbs, kind)
    return raw, limbs, kind


def hash_text(raw: np.ndarray, kind: int) -> str:
    """The stored text of one encoded hash (``raw``: uint8[32])."""
    return ("0x" if kind & HASH_0X else "") + bytes(raw).hex()


def value_text(limbs: np.ndarray) -> str:
    """The exact decimal text of one encoded value (``limbs``: uint64[2])."""
    return str(int(limbs[0]) * LIMB + int(limbs[1]))
