"""The decimal texts' fast paths give what the Decimal arithmetic gives (hypothesis)."""

from __future__ import annotations

from decimal import Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.core.decimal_text import _plain, decimal_text, exact_text, rounded


def _exact_reference(value: str, decimals: int) -> str:
    with localcontext() as ctx:
        ctx.prec = 200
        return _plain(Decimal(int(value)).scaleb(-int(decimals)))


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.floats(-1e15, 1e15), st.just(float("nan")),
                 st.integers(-10**9, 10**9).map(lambda i: i / 1000),
                 st.integers(0, 10**15).map(lambda i: i / 10**6),
                 st.decimals(places=8, min_value=-10**7, max_value=10**7, allow_nan=False)
                 .map(float)),
       st.integers(0, 18))  # fmt: skip
def test_decimal_text_is_the_rounded_decimal(v: float, decimals: int) -> None:
    assert decimal_text(v, decimals) == _plain(rounded(v, decimals))


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.integers(0, 10**40).map(str), st.integers(-10**20, 10**20).map(str),
                 st.text("0123456789", min_size=1, max_size=30)),
       st.integers(-3, 30))  # fmt: skip
def test_exact_text_is_the_decimal_scaleb(value: str, decimals: int) -> None:
    assert exact_text(value, decimals) == _exact_reference(value, decimals)


def test_examples() -> None:
    assert decimal_text(115000.00000000001, 6) == "115000"
    assert decimal_text(19565.217391304348, 6) == "19565.217391"
    assert decimal_text(1.5, 6) == "1.5" and decimal_text(0.0, 6) == "0"
    assert exact_text("1500000", 6) == "1.5" and exact_text("0", 6) == "0"
    assert exact_text("000120", 2) == "1.2" and exact_text("7", 0) == "7"
