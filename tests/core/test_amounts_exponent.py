"""Scientific notation is read exactly, and a rounded float is never taken as exact."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.core.amounts import FLOAT_EXACT_DIGITS, expand_exponent, scaled_to_raw


@pytest.mark.parametrize(
    ("text", "plain"),
    [("2.5E+3", "2500"), ("1e-05", "0.00001"), ("0.5e1", "5"), ("+7E0", "7"), ("1.50e2", "150")],
)
def test_expand(text: str, plain: str) -> None:
    assert expand_exponent(text) == plain


@pytest.mark.parametrize(
    "text", ["1.2345678901234567e+21", "3e", "e5", "-1e3", "1e+999", "1.2.3e4"]
)
def test_refused(text: str) -> None:
    with pytest.raises(ValueError):
        expand_exponent(text)


def test_scaled_amounts_in_exponent_form_convert_exactly() -> None:
    assert scaled_to_raw("1e-05", 6) == "10"
    assert scaled_to_raw("2.5E+3", 6) == "2500000000"
    with pytest.raises(ValueError, match="fractional digits"):
        scaled_to_raw("1e-07", 6)


@settings(deadline=None, max_examples=200, derandomize=True)
@given(x=st.floats(min_value=1e-12, max_value=1e20, allow_nan=False, allow_infinity=False))
def test_float_renderings_within_precision_are_the_floats_exact_decimal(x: float) -> None:
    text = f"{x:.{FLOAT_EXACT_DIGITS - 1}e}"  # a float rendered with 15 significant digits
    assert Decimal(expand_exponent(text)) == Decimal(text)
