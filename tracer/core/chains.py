"""Facts per chain that bound what a plausible input looks like: when each chain began.

Why: a timestamp before the chain's first block or far in the future is never a real transfer.
It is a unit mix-up (seconds ≥ 1e11 read as milliseconds, a millisecond export read as seconds),
a placeholder (``1900-01-01``, ``9999-12-31``, ``0``) or corruption, and once stored it silently
moves a transfer out of every time window (or, beyond Python's datetime range, crashes a later
report). Ingest rejects such rows with the bound in the reason.

Dates are the UTC day of each mainnet's first block after genesis (genesis blocks themselves
often carry timestamp 0 and hold no transfers); a day earlier than the exact second is harmless.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

#: First day of each chain's mainnet (UTC). Unknown chains use :data:`EARLIEST`.
GENESIS: dict[str, str] = {
    "ethereum": "2015-07-30",
    "tron": "2018-06-25",
    "bsc": "2020-08-29",
    "polygon": "2020-05-30",
    "gnosis": "2018-10-08",
    "fantom": "2019-12-27",
    "avalanche": "2020-09-23",
    "optimism": "2021-01-14",
    "arbitrum": "2021-05-28",
    "base": "2023-06-15",
}
#: Bitcoin's genesis (2009-01-03): no chain has a transfer before it.
EARLIEST = "2009-01-03"
#: How far past the current clock a timestamp may be (clock skew between export and now).
FUTURE_SLACK = timedelta(days=1)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: µs range that Python's datetime (and chrono's formatting) can represent: years 1..9999.
_MIN_US = int((datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) / timedelta(microseconds=1))
_MAX_US = int((datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - _EPOCH) / timedelta(microseconds=1))


def _day_us(day: str) -> int:
    d = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return int((d - _EPOCH) / timedelta(microseconds=1))


def genesis_day(chain: str) -> str:
    """The first day a transfer on ``chain`` can have (``EARLIEST`` for unknown chains)."""
    return GENESIS.get(chain, EARLIEST)


def time_bounds_us(chain: str, now: datetime | None = None) -> tuple[int, int]:
    """``(earliest, latest)`` plausible transfer time on ``chain`` in µs since the epoch."""
    now = now or datetime.now(UTC)
    latest = int((now + FUTURE_SLACK - _EPOCH) / timedelta(microseconds=1))
    return _day_us(genesis_day(chain)), latest


def iso_us(us: int | None) -> str | None:
    """µs since the epoch as ISO 8601 UTC text, or as a plain count where no calendar date can
    show it (beyond years 1..9999): formatting must never be what fails on odd stored data."""
    if us is None:
        return None
    if not _MIN_US <= us <= _MAX_US:
        return f"{us} µs since 1970-01-01 (outside years 1-9999)"
    return (_EPOCH + timedelta(microseconds=us)).isoformat()


def iso_us_expr(us: pl.Expr) -> pl.Expr:
    """:func:`iso_us` as a Polars expression (values outside years 1..9999 are nulled before
    formatting, because Polars panics on them, and shown as the raw count instead)."""
    safe = pl.when(us.is_between(_MIN_US, _MAX_US)).then(us).otherwise(None)
    text = safe.cast(pl.Datetime("us", "UTC")).dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ")
    return pl.coalesce(text, us.cast(pl.String) + pl.lit(" µs since 1970-01-01"))
