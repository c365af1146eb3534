"""The exposure risk score (0–10): category weights from a YAML file the user can change.

Why a file and not constants: compliance teams disagree on how bad a guarantee marketplace is
next to a mixer, and a score nobody can recompute is not defensible. The bundled defaults are
``tracer/data/risk.yaml`` (its comments give the formula); ``--risk-config`` replaces them and the
report's metadata records what was used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from tracer.core.errors import InputError

UNATTRIBUTED = "unattributed"


@dataclass(frozen=True)
class RiskConfig:
    """Weights per category (0..10) and the curve turning shares into a score."""

    weights: dict[str, float] = field(default_factory=dict)
    default_weight: float = 3.0
    saturation_share: float = 0.05
    indirect_factor: float = 0.5
    source: str = "builtin"

    def weight(self, category: str) -> float:
        if category == UNATTRIBUTED:
            return 0.0
        return float(self.weights.get(category, self.default_weight))

    def as_dict(self) -> dict[str, Any]:
        return {
            "weights": self.weights,
            "default_weight": self.default_weight,
            "saturation_share": self.saturation_share,
            "indirect_factor": self.indirect_factor,
            "source": self.source,
        }

    def score_expr(self) -> pl.Expr:
        """``risk_score`` from ``category``, ``direct_share`` and ``indirect_share`` columns."""
        w = pl.col("category").replace_strict(
            {**{k: float(v) for k, v in self.weights.items()}, UNATTRIBUTED: 0.0},
            default=float(self.default_weight),
            return_dtype=pl.Float64,
        )
        return self._scored(w)

    def weighted_score_expr(self) -> pl.Expr:
        """:meth:`score_expr` with the category's weight already in a ``weight`` column
        (:meth:`weight` per category): the same arithmetic, without a string column."""
        return self._scored(pl.col("weight"))

    def _scored(self, w: pl.Expr) -> pl.Expr:
        effective = pl.col("direct_share") + self.indirect_factor * pl.col("indirect_share")
        curve = pl.min_horizontal(effective / self.saturation_share, pl.lit(1.0))
        return (w * curve).fill_null(0.0).round(4)


def load_risk_config(path: str | Path | None = None) -> RiskConfig:
    """Read and validate a risk config (the bundled one when ``path`` is None)."""
    if path is None:
        text = resources.files("tracer").joinpath("data/risk.yaml").read_text(encoding="utf-8")
        where = "builtin tracer/data/risk.yaml"
    else:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(
                str(p), None, None, f"cannot read risk config: {exc.strerror}"
            ) from None
        where = str(p)
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InputError(where, None, None, f"not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InputError(where, None, None, "expected a mapping with 'weights'")

    def number(key: str, default: float, lo: float, hi: float) -> float:
        v = raw.get(key, default)
        if not isinstance(v, int | float) or isinstance(v, bool) or not lo <= v <= hi:
            raise InputError(where, None, key, f"must be a number in [{lo}, {hi}], got {v!r}")
        return float(v)

    weights_raw = raw.get("weights") or {}
    if not isinstance(weights_raw, dict):
        raise InputError(where, None, "weights", "must map category names to numbers")
    weights: dict[str, float] = {}
    for cat, w in weights_raw.items():
        if not isinstance(w, int | float) or isinstance(w, bool) or not 0 <= w <= 10:
            raise InputError(
                where, None, f"weights.{cat}", f"must be a number in [0, 10], got {w!r}"
            )
        weights[str(cat)] = float(w)
    saturation = number("saturation_share", 0.05, 0.0, 1.0)
    if saturation == 0.0:
        raise InputError(where, None, "saturation_share", "must be greater than 0")
    return RiskConfig(
        weights=weights,
        default_weight=number("default_weight", 3.0, 0.0, 10.0),
        saturation_share=saturation,
        indirect_factor=number("indirect_factor", 0.5, 0.0, 1.0),
        source=where,
    )
