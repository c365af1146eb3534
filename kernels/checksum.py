"""EIP-55 checksum case of many EVM addresses: Keccak-256 of each address's hex, compiled.

Why: a report shows every address in checksum case (``0xAbC…``), and the case of each letter
comes from the Keccak-256 of the lower-case hex. Called once per address through
pycryptodome's Python wrapper it costs about 40 µs (hashing object, hex digest, a join):
146k addresses took about 6 s of an ``exposure --all`` report. One address's hex (40 bytes)
is one Keccak-f[1600] permutation, here a compiled loop over the Arrow string buffer.

Keccak-256 is the original Keccak padding (``0x01 … 0x80``), not SHA3-256's (``0x06``), so
``hashlib.sha3_256`` does not give it. The permutation follows the Keccak reference (FIPS 202
section 3.2 step mappings); tests compare it with pycryptodome on random inputs.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit

_RC = np.array([
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
], dtype=np.uint64)  # fmt: skip
#: rotation offset of lane x + 5 y
_ROT = np.array([0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39,
                 41, 45, 15, 21, 8, 18, 2, 61, 56, 14], dtype=np.uint64)  # fmt: skip
RATE = 136  # bytes absorbed per permutation (Keccak-256)


@njit(cache=True, nogil=True)
def _rotl(v, n):  # type: ignore[no-untyped-def]
    if n == 0:
        return v
    return (v << n) | (v >> (np.uint64(64) - n))


@njit(cache=True, nogil=True)
def _permute(a, rc, rot, b, c):  # type: ignore[no-untyped-def]
    for r in range(24):
        for x in range(5):
            c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20]
        for x in range(5):
            d = c[(x + 4) % 5] ^ _rotl(c[(x + 1) % 5], np.uint64(1))
            for y in range(5):
                a[x + 5 * y] ^= d
        for x in range(5):
            for y in range(5):
                b[y + 5 * ((2 * x + 3 * y) % 5)] = _rotl(a[x + 5 * y], rot[x + 5 * y])
        for x in range(5):
            for y in range(5):
                a[x + 5 * y] = b[x + 5 * y] ^ (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y])
        a[0] ^= rc[r]


@njit(cache=True, nogil=True)
def _keccak_into(data, start, length, lanes, block, rc, rot, b, c):  # type: ignore[no-untyped-def]
    """Keccak-256 of ``data[start:start+length]``: the state ``lanes`` after absorbing (the
    digest is its first 32 bytes, little-endian lanes)."""
    lanes[:] = 0
    pos = 0
    while True:
        block[:] = 0
        n = min(RATE, length - pos)
        for j in range(n):
            block[j] = data[start + pos + j]
        last = n < RATE
        if last:
            block[n] ^= np.uint8(0x01)
            block[RATE - 1] ^= np.uint8(0x80)
        for w in range(RATE // 8):
            v = np.uint64(0)
            for j in range(8):
                v |= np.uint64(block[8 * w + j]) << np.uint64(8 * j)
            lanes[w] ^= v
        _permute(lanes, rc, rot, b, c)
        pos += n
        if last:
            break


@njit(cache=True, nogil=True)
def _digests(offsets, data, out, rc, rot):  # type: ignore[no-untyped-def]
    lanes = np.zeros(25, dtype=np.uint64)
    block = np.zeros(RATE, dtype=np.uint8)
    b = np.zeros(25, dtype=np.uint64)
    c = np.zeros(5, dtype=np.uint64)
    for i in range(offsets.shape[0] - 1):
        _keccak_into(data, offsets[i], offsets[i + 1] - offsets[i], lanes, block, rc, rot, b, c)
        for j in range(32):
            out[i, j] = np.uint8((lanes[j // 8] >> np.uint64(8 * (j % 8))) & np.uint64(0xFF))


def keccak256_many(offsets: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Keccak-256 digests (uint8[n, 32]) of the ``n`` byte strings of an Arrow layout."""
    out = np.zeros((offsets.shape[0] - 1, 32), dtype=np.uint8)
    _digests(np.ascontiguousarray(offsets, dtype=np.int64),
             np.ascontiguousarray(data, dtype=np.uint8), out, _RC, _ROT)  # fmt: skip
    return out


@njit(cache=True, nogil=True)
def _checksum(offsets, data, ok, out, rc, rot):  # type: ignore[no-untyped-def]
    lanes = np.zeros(25, dtype=np.uint64)
    block = np.zeros(RATE, dtype=np.uint8)
    b = np.zeros(25, dtype=np.uint64)
    c = np.zeros(5, dtype=np.uint64)
    for i in range(offsets.shape[0] - 1):
        s = offsets[i]
        for j in range(s, offsets[i + 1]):
            out[j] = data[j]
        if not ok[i]:
            continue
        _keccak_into(data, s + 2, 40, lanes, block, rc, rot, b, c)
        for j in range(40):
            byte = (lanes[(j // 2) // 8] >> np.uint64(8 * ((j // 2) % 8))) & np.uint64(0xFF)
            nib = (byte >> np.uint64(4)) if j % 2 == 0 else (byte & np.uint64(0xF))
            ch = data[s + 2 + j]
            if ch >= 97 and nib >= 8:  # a-f with a high nibble: upper case
                out[s + 2 + j] = ch - np.uint8(32)


def checksum_case(offsets: np.ndarray, data: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """The string buffer with each ``ok`` string (``0x`` + 40 lower-case hex) in EIP-55 case;
    other strings are copied as they are (same offsets: the case keeps every length)."""
    out = np.empty_like(data)
    _checksum(np.ascontiguousarray(offsets, dtype=np.int64),
              np.ascontiguousarray(data, dtype=np.uint8),
              np.ascontiguousarray(ok, dtype=np.bool_), out, _RC, _ROT)  # fmt: skip
    return out
