"""Base58 encoding of many fixed-width payloads at once (synthetic Tron addresses).

Why a kernel: a whole-chain synthetic workspace needs tens of millions of valid Tron
addresses; the ``base58`` package encodes one at ~10 µs in Python, this loop encodes all of
them at native speed. The checksum (double SHA-256) stays with ``hashlib`` in the caller.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit

ALPHABET = np.frombuffer(b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", np.uint8)


@njit(cache=True)
def _b58_kernel(payload: np.ndarray, alphabet: np.ndarray, out: np.ndarray) -> np.ndarray:
    n, width = payload.shape
    out_w = out.shape[1]
    lengths = np.zeros(n, dtype=np.int64)
    num = np.empty(width, dtype=np.int64)
    digits = np.empty(out_w, dtype=np.uint8)
    for i in range(n):
        for j in range(width):
            num[j] = payload[i, j]
        zeros = 0
        while zeros < width and num[zeros] == 0:
            zeros += 1
        nd = 0
        start = zeros
        while start < width:  # long division of the big-endian number by 58
            rem = 0
            for j in range(start, width):
                acc = rem * 256 + num[j]
                num[j] = acc // 58
                rem = acc % 58
            digits[nd] = alphabet[rem]
            nd += 1
            while start < width and num[start] == 0:
                start += 1
        k = 0
        for _ in range(zeros):
            out[i, k] = alphabet[0]
            k += 1
        for j in range(nd - 1, -1, -1):
            out[i, k] = digits[j]
            k += 1
        lengths[i] = k
    return lengths


def b58encode_rows(payload: np.ndarray) -> list[str]:
    """Base58 (Bitcoin alphabet) of each row of a ``uint8[n, width]`` array."""
    payload = np.ascontiguousarray(payload, dtype=np.uint8)
    n, width = payload.shape
    out_w = width * 138 // 100 + 1  # log(256)/log(58) < 1.38
    out = np.zeros((n, out_w), dtype=np.uint8)
    lengths = _b58_kernel(payload, ALPHABET, out)
    return [bytes(out[i, : lengths[i]]).decode("ascii") for i in range(n)]
