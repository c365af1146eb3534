"""The one place that decides how amounts are represented.

* Frames and files keep the exact on-chain integer as a canonical digit string (``value``; see
  :mod:`tracer.core.schema` for why not decimal256).
* Kernels use ``amount``: float64 token units (``value / 10**decimals``). Why float64: taint
  models multiply and divide (haircut ratios), 53 bits keep 15-16 significant digits, which is
  sub-micro-dollar on any realistic stablecoin flow, and float64 keeps kernels simple and fast.
  The conversion parses ``"<digits>e-<decimals>"`` once, so each amount is the correctly rounded
  float of the exact value (a single rounding, not two).
* Reports that state exact totals sum ``value`` as Python integers (:func:`exact_sum`).
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

import polars as pl

UINT256_MAX = 2**256 - 1
_UINT256_MAX_STR = str(UINT256_MAX)


def canonical_digits(expr: pl.Expr) -> pl.Expr:
    """Strip leading zeros (keeping a lone ``0``) from a digit-string expression."""
    stripped = expr.str.strip_chars_start("0")
    return pl.when(stripped == "").then(pl.lit("0")).otherwise(stripped)


def value_error(expr: pl.Expr) -> pl.Expr:
    """Reason a canonical ``value`` is invalid, or null: digits only, at most uint256 max."""
    too_long = expr.str.len_bytes() > len(_UINT256_MAX_STR)
    at_max_len = expr.str.len_bytes() == len(_UINT256_MAX_STR)
    return (
        pl.when(expr.is_null())
        .then(pl.lit("missing value"))
        .when(expr.str.starts_with("-"))
        .then(pl.lit("negative value: transfers move a non-negative integer amount"))
        .when(~expr.str.contains(r"^[0-9]+$"))
        .then(pl.lit("not a non-negative integer (raw on-chain units expected)"))
        .when(too_long | (at_max_len & (expr > pl.lit(_UINT256_MAX_STR))))
        .then(pl.lit("larger than uint256 max"))
        .otherwise(None)
    )


def amount_expr(value: pl.Expr, decimals: pl.Expr) -> pl.Expr:
    """float64 token units from the exact digits, rounded once; null when decimals unknown."""
    text = value + pl.lit("e-") + decimals.cast(pl.String)
    return pl.when(decimals.is_null()).then(None).otherwise(text.cast(pl.Float64, strict=False))


#: ``10**d`` as float64 for every ``d`` where it is exact (all powers of ten up to 10**22).
_EXACT_POW10 = {d: float(10**d) for d in range(23)}


def amount_series(
    frame: pl.DataFrame, value: str = "value", decimals: str = "decimals"
) -> pl.Series:
    """:func:`amount_expr` over ``frame``, the same doubles, without text for most rows.

    Where the integer fits 53 bits and ``decimals <= 22`` both operands are exact doubles, and
    IEEE division rounds their exact quotient once: the double nearest ``value / 10**decimals``,
    which is what parsing ``"<digits>e-<decimals>"`` gives. Only the other rows (wei amounts above
    ~0.009 ETH, say) are parsed as text, and only when there are any.
    """
    v = frame[value].cast(pl.UInt64, strict=False)
    d = frame[decimals]
    scale = d.replace_strict(_EXACT_POW10, default=None, return_dtype=pl.Float64)
    fast = (v <= 2**53) & scale.is_not_null()
    quick = v.cast(pl.Float64) / scale
    if fast.fill_null(False).all():
        return quick.alias("amount")
    slow = frame.select(amount_expr(pl.col(value), pl.col(decimals))).to_series()
    return (
        pl.select(
            pl.when(pl.lit(fast.fill_null(False))).then(pl.lit(quick)).otherwise(pl.lit(slow))
        )
        .to_series()
        .alias("amount")
    )


#: Most significant digits a number written in scientific notation may have and still be exact.
#: Such text is a float's rendering (Dune, spreadsheets): every decimal of at most 15 significant
#: digits survives a float round trip, so its rendering is the value the source held; 16-17 digits
#: (``1.2345678901234567e+21``) mean the float was rounded and the exact integer is lost.
FLOAT_EXACT_DIGITS = 15


def expand_exponent(text: str) -> str:
    """``"2.5E+3"`` → ``"2500"``, ``"1e-05"`` → ``"0.00001"``: exact plain decimal text.

    Raises ``ValueError`` when the mantissa has more than :data:`FLOAT_EXACT_DIGITS` significant
    digits (a rounded float, not an exact number) or the text is not a number.
    """
    t = text.strip()
    mantissa, sep, exp = t.lower().partition("e")
    if not sep or not exp or exp.lstrip("+-") == "" or not exp.lstrip("+-").isdigit():
        raise ValueError(f"not a decimal number: {text!r}")
    if mantissa.startswith("-"):
        raise ValueError(f"negative amount {text!r}")
    m = mantissa.lstrip("+")
    if not m or any(c not in "0123456789." for c in m) or m.count(".") > 1 or m == ".":
        raise ValueError(f"not a decimal number: {text!r}")
    significant = m.replace(".", "").lstrip("0").rstrip("0")
    if len(significant) > FLOAT_EXACT_DIGITS:
        raise ValueError(
            f"{text!r} is a rounded float ({len(significant)} significant digits), not an "
            "exact amount: export the column as an integer or plain decimal text"
        )
    if abs(int(exp)) > 100:
        raise ValueError(f"exponent out of range in {text!r}")
    with localcontext() as ctx:
        ctx.prec = 500
        return _plain(Decimal(m).scaleb(int(exp)))


def scaled_to_raw(text: str, decimals: int) -> str:
    """Recover the exact integer from a human-scaled amount such as ``"1,234.5"``.

    Raises ``ValueError`` when the text has more significant fractional digits than ``decimals``
    (the export rounded, or the decimals are wrong), so an inexact value never enters the data.
    Scientific notation (``"1e-05"``) is read exactly (:func:`expand_exponent`).
    """
    t = text.strip().replace(",", "").replace("_", "")
    if "e" in t.lower():
        t = expand_exponent(t)
    if t.startswith("-"):
        raise ValueError(f"negative amount {text!r}")
    if not t or any(c not in "0123456789." for c in t) or t.count(".") > 1:
        raise ValueError(f"not a decimal number: {text!r}")
    whole, _, frac = t.partition(".")
    frac_sig = frac.rstrip("0")
    if len(frac_sig) > decimals:
        raise ValueError(
            f"{text!r} has {len(frac_sig)} fractional digits but the token has {decimals} decimals"
        )
    digits = (whole or "0") + frac_sig.ljust(decimals, "0")
    return digits.lstrip("0") or "0"


def raw_to_decimal(value: str, decimals: int) -> Decimal:
    """Exact token units as a :class:`~decimal.Decimal` (for JSON output of exact figures)."""
    return Decimal(int(value)).scaleb(-decimals)


def exact_sum(values: pl.Series) -> int:
    """Sum canonical digit strings exactly (Python big integers)."""
    return sum(int(v) for v in values.drop_nulls().to_list())


def exact_unit_sums(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Exact per-group sums of ``value`` (digits) with ``decimals``, as token-unit strings.

    Returns ``by`` + ``exact`` (e.g. ``"1234.5"``): groups mixing tokens of different decimals
    are added as exact decimals. Uses Int128 in Polars while every value has at most 30 digits
    (sums of up to 10^8 of them cannot overflow), Python integers otherwise; rows with unknown
    decimals are not summable and make the group's result null.
    """
    if frame.height == 0:
        return pl.DataFrame(schema={**{k: frame.schema[k] for k in by}, "exact": pl.String})
    keys = [*by, "decimals"]
    if int(frame["value"].str.len_bytes().max() or 0) <= 30:  # type: ignore[arg-type]
        parts = frame.group_by(keys).agg(
            pl.col("value").cast(pl.Int128).sum().cast(pl.String).alias("raw")
        )
    else:
        parts = frame.group_by(keys).agg(
            pl.col("value").map_batches(
                lambda s: pl.Series([str(exact_sum(s))]), return_dtype=pl.String,
                returns_scalar=True,
            ).alias("raw")
        )  # fmt: skip
    totals: dict[tuple[Any, ...], Decimal | None] = {}
    with localcontext() as ctx:
        ctx.prec = 200  # uint256 sums scaled by up to 255 decimals stay exact
        for row in parts.iter_rows():
            key, dec, raw = row[: len(by)], row[-2], row[-1]
            if dec is None or raw is None or totals.get(key, 0) is None:
                totals[key] = None
                continue
            totals[key] = totals.get(key, Decimal(0)) + Decimal(int(raw)).scaleb(-int(dec))  # type: ignore[operator]
    rows = [(*k, None if d is None else _plain(d)) for k, d in totals.items()]
    schema: dict[str, pl.DataType] = {**{k: frame.schema[k] for k in by}, "exact": pl.String()}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _plain(d: Decimal) -> str:
    """``Decimal`` as plain digits without exponent or trailing zeros (``"12.5"``, ``"0"``)."""
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
