"""What a ``follow``/``source`` run found (its JSON contract is :mod:`tracer.output.follow_json`).

Amounts of different assets are never added: every figure belongs to one :class:`AssetAccount`
(the USD stablecoin pool, or one token), every row of ``reached``/``held``/``through`` carries its
``asset``, and the run-level totals (``traced_total`` ...) are the single account's figures, or
``None`` when the run covers several assets (read ``accounts`` / JSON ``by_asset`` then).
Next to each float, JSON carries the same figure as a decimal string rounded to the asset's
decimals (``*_decimal``, :mod:`tracer.core.decimal_text`); a path's transfers carry their exact
on-chain amount (``amount_exact``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl


@dataclass
class AssetAccount:
    """The accounting of one asset group: ``reached + returned + held + dust + beyond = traced``
    (except poison, which does not conserve value)."""

    asset: str
    members: list[str]
    decimals: int
    traced_total: float
    reached_total: float
    held_total: float
    returned: float
    dust: float
    beyond_max_hops: float
    overdrafts: int
    overdraft_amount: float
    conserves: bool
    #: cross-asset follow (tracer.analysis.cross_follow): taint that entered this asset through
    #: hops and left it into hops, in this asset's units (0 without hops)
    converted_in: float = 0.0
    converted_out: float = 0.0
    #: per origin (seeded asset): held units, their source-asset units, rate (None: no hops)
    source_units: list[dict[str, Any]] | None = None

    @property
    def unaccounted(self) -> float:
        """traced + converted in − (reached + returned + held + dust + beyond + converted out):
        rounding only, if conserving."""
        return self.traced_total + self.converted_in - (
            self.reached_total + self.returned + self.held_total + self.dust + self.beyond_max_hops
            + self.converted_out
        )


PRIOR_FUNDS_RULE = (
    "a wallet sending more than its observed balance is assumed to have held the difference as "
    "clean funds before the data starts"
)


@dataclass
class FollowResult:
    """Everything a follow found. Amounts are token units (float64); see ``ledger`` for exact."""

    model: str
    direction: str
    sources: list[str]
    assets: list[str]  # every symbol in the selection
    accounts: list[AssetAccount]
    reached: pl.DataFrame
    through: pl.DataFrame
    held: pl.DataFrame
    conserves: bool
    #: wallets at the hop limit and the taint each passed on beyond it (``--max-hops``)
    frontier: pl.DataFrame | None = None
    missing_sources: list[str] = field(default_factory=list)
    ledger: pl.DataFrame | None = None
    options: dict[str, Any] = field(default_factory=dict)
    entities: bool = False  # addresses are entities (``--entities``): see ``entity_size``
    #: why the result may be empty or incomplete (``{code, message}``; tracer.analysis.diagnostics)
    warnings: list[dict[str, str]] = field(default_factory=list)
    #: per source × service (``--by-source``; None when not asked): see tracer.analysis.by_source
    by_source: pl.DataFrame | None = None
    #: selected-asset transfers left out because their token's decimals are unknown
    excluded_unknown_decimals: int = 0
    #: cross-asset follow: one row per hop that carried taint (the conversion ledger: rate,
    #: evidence, inferred), and the run's hop figures (``cross_asset`` in JSON); None when off
    hops: pl.DataFrame | None = None
    cross_asset: dict[str, Any] | None = None

    # -- run-level figures: the one account's, or None when several assets are reported --------
    def _one(self, name: str) -> Any:
        return getattr(self.accounts[0], name) if len(self.accounts) == 1 else None

    @property
    def single_asset(self) -> bool:
        return len(self.accounts) == 1

    @property
    def traced_total(self) -> float | None:
        return self._one("traced_total")

    @property
    def reached_total(self) -> float | None:
        return self._one("reached_total")

    @property
    def held_total(self) -> float | None:
        return self._one("held_total")

    @property
    def returned(self) -> float | None:
        return self._one("returned")

    @property
    def dust(self) -> float | None:
        return self._one("dust")

    @property
    def beyond_max_hops(self) -> float | None:
        return self._one("beyond_max_hops")

    @property
    def overdraft_amount(self) -> float | None:
        return self._one("overdraft_amount")

    @property
    def unaccounted(self) -> float | None:
        return self._one("unaccounted")

    @property
    def overdrafts(self) -> int:
        return sum(a.overdrafts for a in self.accounts)  # a count of transfers: addable

    def account(self, asset: str) -> AssetAccount:
        return next(a for a in self.accounts if a.asset == asset)

    def decimals_of(self, asset: str) -> int:
        return next((a.decimals for a in self.accounts if a.asset == asset), 6)

    def services(self) -> pl.DataFrame:
        """Reached amounts per service (name, category) and asset, summed over its addresses."""
        if self.reached.height == 0:
            return pl.DataFrame(
                schema={"name": pl.String, "category": pl.String, "asset": pl.String,
                        "addresses": pl.UInt32, "label_inferred": pl.Boolean,
                        "amount": pl.Float64, "share": pl.Float64, "min_hops": pl.Int32,
                        "first_ts": pl.Datetime("us", "UTC")}
            )  # fmt: skip
        order = {a.asset: i for i, a in enumerate(self.accounts)}
        return (
            self.reached.group_by(["name", "category", "asset"])
            .agg(
                pl.len().alias("addresses"),
                pl.col("label_inferred").any(),
                pl.col("amount").sum(),
                pl.col("share").sum(),
                pl.col("min_hops").min(),
                pl.col("first_ts").min(),
            )
            .with_columns(pl.col("asset").replace_strict(order, default=len(order)).alias("_o"))
            .sort(["_o", "amount", "name"], descending=[False, True, False])
            .drop("_o")
        )
