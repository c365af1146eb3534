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
    if v is None:
        return None
    return _short(v, decimals) or _plain(rounded(v, decimals))


def _short(v: float, decimals: int) -> str | None:
    """``_plain(rounded(v, decimals))`` when rounding changes nothing: ``repr(v)`` without an
    exponent and with at most the kept places (a token amount's usual form), its trailing
    zeros cut; None otherwise (the Decimal path). A path's step shows two such texts, and
    the Decimal path costs ~5-7 µs a figure (a spread follow's 264 steps: ~3 ms)."""
    if not v or v != v:
        return None
    text = repr(float(v))
    if "e" in text or "n" in text:  # exponent, inf or nan: the Decimal path
        return None
    whole, _, frac = text.lstrip("-").partition(".")
    lead = len(frac) - len(frac.lstrip("0"))
    adjusted = len(whole) - 1 if whole != "0" else -(lead + 1)
    if len(frac) > min(int(decimals), max(0, FLOAT_DIGITS - 1 - adjusted)):
        return None
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return text if text not in ("", "-0") else None


def table_text(v: float | None, decimals: int) -> str:
    """The same with thousands separators, for terminal tables (``"19,565.217391"``)."""
    return "" if v is None else _plain(rounded(v, decimals), grouped=True)


def exact_text(value: str, decimals: int) -> str:
    """An on-chain integer ``value`` in token units, exactly (``"1500000"``, 6 → ``"1.5"``)."""
    places = int(decimals)
    if value.isascii() and value.isdigit() and places >= 0:  # the usual form: by the digits
        digits = value.lstrip("0") or "0"
        if not places:
            return digits
        digits = digits.rjust(places + 1, "0")
        frac = digits[-places:].rstrip("0")
        return f"{digits[:-places]}.{frac}" if frac else digits[:-places]
    with localcontext() as ctx:
        ctx.prec = 200
        return _plain(Decimal(int(value)).scaleb(-int(decimals)))
