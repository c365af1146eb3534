"""Occurrence numbers for transfers without a log index, counted within one account view.

See :mod:`kernels.views` for why: the same transfer listed in two wallets' histories (two files,
or one file) must get the same ``seq`` so it de-duplicates, while a batch payout repeating an
identical transfer inside one transaction must keep each copy. The rule: ``k`` = number of
earlier identical transfers (same transaction, token, sender, receiver and value) *in the same
view*, where a view is one wallet's history (named by a ``wallet``/``account`` column when the
export has one, recovered from the row order otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from tracer.kernels.views import segment_views


@dataclass
class Occurrences:
    """``k`` per row (in the frame's order) and what the user should be told about it."""

    k: pl.Series
    views: int
    inferred: bool  # views recovered from row order (no wallet column)
    repeats: int  # rows that are a repeat of an identical transfer inside one view

    def warning(self) -> str | None:
        """Why a count could mislead, or None.

        Repeats inside one inferred view are kept as separate transfers (a batch payout); if the
        file actually merges several wallets' exports sorted by time, those could be one transfer
        seen from two wallets, and only a wallet column can tell.
        """
        if not (self.inferred and self.views > 1 and self.repeats):
            return None
        return (
            f"{self.repeats} transfer(s) repeat an identical transfer of the same transaction "
            f"(token, from, to, value) and were kept as separate transfers (a batch payout); this "
            f"file looks like {self.views} wallet histories without a wallet column: if it merges "
            "them sorted by time, add a 'wallet' column naming each row's account so copies of "
            "one transfer are loaded once"
        )


def occurrences(frame: pl.DataFrame) -> Occurrences:
    """Occurrence index ``k`` of each row of ``frame`` (columns ``_row``, ``tx_hash``, ``token``,
    ``src``, ``dst``, ``value`` and optionally ``_view``), counted within its view."""
    content = pl.concat_str(
        [pl.col("token").fill_null(""), pl.col("src"), pl.col("dst"), pl.col("value")],
        separator="|",
    ).fill_null("")
    f = frame.select(
        pl.col("_row"),
        pl.col("tx_hash").fill_null(""),
        content.alias("_content"),
        pl.col("src").fill_null(""),
        pl.col("dst").fill_null(""),
        (pl.col("_view") if "_view" in frame.columns else pl.lit(None, pl.String)).alias("_view"),
    ).with_row_index("_pos")
    if f.height == 0:
        return Occurrences(pl.Series("k", [], pl.Int64), 0, False, 0)
    given = f["_view"].null_count() < f.height
    ordered = f.sort("_row", maintain_order=True)
    if given:
        view = ordered["_view"].fill_null("").cast(pl.Categorical).to_physical().cast(pl.Int64)
        views = int(view.n_unique())
    else:
        codes = ordered.select(
            pl.concat([pl.col("src"), pl.col("dst")]).cast(pl.Categorical).to_physical()
        ).to_series()
        src = codes[: ordered.height].to_numpy().astype(np.int64)
        dst = codes[ordered.height :].to_numpy().astype(np.int64)
        tx = ordered["tx_hash"].cast(pl.Categorical).to_physical().to_numpy().astype(np.int64)
        keyed = ordered.with_row_index("_i").with_columns(
            pl.col("_i").shift(1).over(["tx_hash", "_content"]).fill_null(-1).alias("_prev")
        )
        prev = keyed["_prev"].to_numpy().astype(np.int64)
        arr, views = segment_views(src, dst, tx, prev)
        view = pl.Series("_v", arr)
    counted = ordered.with_columns(view.alias("_v")).with_columns(
        pl.int_range(pl.len()).over(["_v", "tx_hash", "_content"]).cast(pl.Int64).alias("k")
    )
    k = counted.sort("_pos")["k"]
    return Occurrences(k, views, not given, int((counted["k"] > 0).sum()))
