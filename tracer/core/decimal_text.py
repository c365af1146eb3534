"""Amounts as text a person reads and a script parses: rounded to the token, no float noise.

Kernel figures are float64 token units; printed as ``repr`` they show noise
(``115000.00000000001``) or more digits than the token has. :func:`decimal_text` rounds a figure
to the token's ``decimals`` and to the 15 significant digits a float64 holds, with no exponent
and no trailing zeros, so the same figure always reads the same. Exact on-chain amounts (a path's
transfers) come from the stored integer instead (:func:`exact_text`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

#: Decimal digits a float64 represents faithfully (DBL_DIG).
FLOAT_DIGITS = 15


def _plain(d: Decimal, grouped: bool = False) -> str:
    text = format(d, ",f" if grouped else "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def rounded(v: float, decimals: int) -> Decimal:
    """``v`` rounded to ``decimals`` places and to :data:`FLOAT_DIGITS` significant digits."""
    if v == 0 or v != v:  # 0 or NaN (NaN is never an amount here; shown as 0 rather than crash)
        return Decimal(0)
    d = Decimal(repr(float(v)))
    places = min(int(decimals), max(0, FLOAT_DIGITS - 1 - d.adjusted()))
    with localcontext() as ctx:
        ctx.prec = 100
        return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def decimal_text(v: float | None, decimals: int) -> str | None:
    """The JSON decimal string of a float figure (``"19565.217391"``, ``"115000"``)."""
    return None if v is None else _plain(rounded(v, decimals))


def table_text(v: float | None, decimals: int) -> str:
    """The same with thousands separators, for terminal tables (``"19,565.217391"``)."""
    return "" if v is None else _plain(rounded(v, decimals), grouped=True)


def exact_text(value: str, decimals: int) -> str:
    """An on-chain integer ``value`` in token units, exactly (``"1500000"``, 6 → ``"1.5"``)."""
    with localcontext() as ctx:
        ctx.prec = 200
        return _plain(Decimal(int(value)).scaleb(-int(decimals)))
