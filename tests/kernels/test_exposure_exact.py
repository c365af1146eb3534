"""Exact group sums of two-limb values and their text equal Python integers (hypothesis), and
the compiled Keccak/EIP-55 equals pycryptodome and eth_utils."""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels.checksum import checksum_case, keccak256_many
from tracer.kernels.exposure_exact import (
    MIXED,
    UNSET,
    direction_sums,
    format_units,
    group_sums,
    pair_sums,
)

LIMB = 10**19
VALUES = st.one_of(st.integers(0, 10**6), st.integers(0, 10**38 - 1),
                   st.sampled_from([0, LIMB - 1, LIMB, 10**38 - 1]))  # fmt: skip


def _limbs(values: list[int]) -> np.ndarray:
    return np.array([[v // LIMB, v % LIMB] for v in values], dtype=np.uint64).reshape(-1, 2)


def _text(total: int, decimals: int) -> str:
    """The reference: exact_unit_sums' form (no trailing fraction zeros, no lone '.')."""
    with localcontext() as ctx:
        ctx.prec = 100  # exact for 40-digit sums (the default 28 digits would round)
        s = format(Decimal(total).scaleb(-decimals), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


@settings(deadline=None, max_examples=200)
@given(
    rows=st.lists(st.tuples(st.integers(-1, 4), VALUES, st.sampled_from([0, 6, 18, -1])),
                  max_size=40),
    one_decimals=st.booleans(),
)  # fmt: skip
def test_group_sums_and_text_equal_python_integers(rows, one_decimals: bool) -> None:
    if one_decimals:
        rows = [(k, v, 6) for k, v, _ in rows]
    key = np.array([r[0] for r in rows], dtype=np.int64)
    hi, lo, dec, count = group_sums(key, _limbs([r[1] for r in rows]),
                                    np.array([r[2] for r in rows], np.int16), 5)  # fmt: skip
    for k in range(5):
        mine = [r for r in rows if r[0] == k]
        assert count[k] == len(mine)
        if not mine:
            assert dec[k] == UNSET
            continue
        decs = {r[2] for r in mine}
        total = sum(r[1] for r in mine)
        if len(decs) > 1 or total >= 2**64 * LIMB:
            assert dec[k] == MIXED
            continue
        assert dec[k] == decs.pop()
        assert int(hi[k]) * LIMB + int(lo[k]) == total
        if dec[k] >= 0:
            offsets, data = format_units(hi[k : k + 1], lo[k : k + 1], dec[k : k + 1])
            assert bytes(data[offsets[0] : offsets[1]]).decode() == _text(total, int(dec[k]))


def test_overflowing_high_limb_is_refused() -> None:
    big = 2**64 * LIMB - 1  # the largest sum the limbs hold... and one more row passes it
    limbs = np.array([[2**64 - 1, LIMB - 1], [0, 1]], dtype=np.uint64)
    hi, lo, dec, _ = group_sums(np.zeros(1, np.int64), limbs[:1], np.zeros(1, np.int16), 1)
    assert int(hi[0]) * LIMB + int(lo[0]) == big and dec[0] == 0
    _, _, dec, _ = group_sums(np.zeros(2, np.int64), limbs, np.zeros(2, np.int16), 1)
    assert dec[0] == MIXED


@settings(deadline=None, max_examples=100)
@given(
    edges=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), VALUES), max_size=40),
    rows=st.lists(st.integers(-1, 3), min_size=6, max_size=6),
    cats=st.lists(st.integers(-1, 2), min_size=6, max_size=6),
)
def test_direction_sums_equal_group_sums_by_key(edges, rows, cats) -> None:
    src = np.array([e[0] for e in edges], np.int32)
    dst = np.array([e[1] for e in edges], np.int32)
    limbs = _limbs([e[2] for e in edges])
    decimals = np.full(len(edges), 6, np.int16)
    target_row, cat = np.array(rows, np.int32), np.array(cats, np.int32)
    width = 4
    for me, other in ((dst, src), (src, dst)):
        cut = len(edges) // 2  # two pieces, as a workspace's partitions give them
        pieces = [(0, cut, limbs[:cut]), (cut, len(edges), limbs[cut:])]
        flows, direct = direction_sums(me, other, target_row, cat, width, pieces, decimals, 4)
        row = target_row[me].astype(np.int64)
        key = np.where((row >= 0) & (cat[other] >= 0), row * width + cat[other], -1)
        for got, want in zip(flows, group_sums(row, limbs, decimals, 4), strict=True):
            np.testing.assert_array_equal(got, want)
        for got, want in zip(direct, group_sums(key, limbs, decimals, 4 * width), strict=True):
            np.testing.assert_array_equal(got, want)
    # both directions in one pass: each direction's sums, exactly
    cut = len(edges) // 3
    pieces = [(0, cut, limbs[:cut]), (cut, len(edges), limbs[cut:])]
    both = pair_sums(src, dst, target_row, cat, width, pieces, decimals, 4)
    for d, (me, other) in (("in", (dst, src)), ("out", (src, dst))):
        one = direction_sums(me, other, target_row, cat, width, pieces, decimals, 4)
        for got_sums, want_sums in zip(both[d], one, strict=True):
            for got, want in zip(got_sums, want_sums, strict=True):
                np.testing.assert_array_equal(got, want)
    assert list(pair_sums(src, dst, target_row, cat, width, pieces, decimals, 4, ("out",))) == [
        "out"]  # fmt: skip


@settings(deadline=None, max_examples=100)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_keccak_equals_pycryptodome(msgs: list[bytes]) -> None:
    from Crypto.Hash import keccak

    offsets = np.cumsum([0, *[len(m) for m in msgs]])
    got = keccak256_many(offsets, np.frombuffer(b"".join(msgs), np.uint8))
    for m, h in zip(msgs, got, strict=True):
        assert bytes(h) == keccak.new(digest_bits=256, data=m).digest()


@settings(deadline=None, max_examples=100)
@given(st.lists(st.binary(min_size=20, max_size=20), max_size=8), st.data())
def test_checksum_case_equals_eth_utils(raw: list[bytes], data) -> None:  # type: ignore[no-untyped-def]
    texts = ["0x" + r.hex() for r in raw]
    ok = np.array(data.draw(st.lists(st.booleans(), min_size=len(texts), max_size=len(texts))),
                  dtype=bool)  # fmt: skip
    offsets = np.cumsum([0, *[len(t) for t in texts]])
    out = checksum_case(offsets, np.frombuffer("".join(texts).encode(), np.uint8), ok)
    for i, t in enumerate(texts):
        shown = bytes(out[offsets[i] : offsets[i + 1]]).decode()
        assert shown == (to_checksum_address(t) if ok[i] else t)


@settings(deadline=None, max_examples=50)
@given(st.lists(st.one_of(
    st.binary(min_size=20, max_size=20).map(lambda b: ("ethereum", "0x" + b.hex())),
    st.binary(min_size=20, max_size=20).map(lambda b: ("bsc", "0x" + b.hex().upper())),
    st.just(("tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")),
    st.just(("ethereum", "not-an-address")),
), max_size=10))  # fmt: skip
def test_display_arrow_equals_display(rows: list[tuple[str, str]]) -> None:
    """The compiled column display (and display_many above its threshold) equal display()."""
    import pyarrow as pa

    from tracer.core.addresses import COMPILED_FROM, display, display_arrow, display_many

    chains, addresses = [c for c, _ in rows], [a for _, a in rows]
    want = [display(c, a) for c, a in rows]
    got = display_arrow(pa.array(chains, pa.string()), pa.array(addresses, pa.string()))
    assert got.to_pylist() == want
    many = display_many(chains * COMPILED_FROM, addresses * COMPILED_FROM) if rows else []
    assert many == want * COMPILED_FROM
