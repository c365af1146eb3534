"""Inferred pass-through hops of OTC desks, instant exchangers and guarantee-market merchants.

Why inferred and off by default: a desk takes a customer's USDT and, some time later, pays out
from its float — on chain the two transfers share nothing but the desk, the time and a value
that matches after the desk's fee. That is evidence, never proof, so every hop here has
``inferred`` True, its rule, window, fee band and rival count in ``evidence``, and a confidence
of at most 0.5 (weaker than a bridge candidate, whose protocol at least says a transfer
happened). :func:`tracer.analysis.hops.load_hops` includes them only with ``infer_otc=True``.

Which addresses: those labelled with one of :data:`CATEGORIES`. A desk is its label *name*:
addresses of one name on several chains are one desk, so an inflow on Tron may leave on
Ethereum. Which values compare: the same asset (bridged aliases folded, as for bridges), or
any two USD stablecoins (the token table's flag) — a USDT inflow may leave as USDC. Other
assets would need a price, which tracer does not guess.

Matching, per desk: for each inflow, the outflows at or after it (and within ``window``) whose
value is below it by a fee fraction inside ``fee_band`` are its candidates (at most
:data:`MAX_CANDIDATES`, the nearest in time); candidates are ranked by confidence and taken
greedily one-to-one (an outflow pays for one inflow). Confidence::

    0.5 * (1 - delay / window / 2) * (1 - |fee - mid(fee_band)| / width(fee_band)) / rivals

Candidates under ``min_confidence`` (default 0.05: about ten equal rivals) are not used; the
inflows they leave unmatched are counted as ambiguous.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from tracer.analysis.bridges import ASSET_ALIASES
from tracer.core.hops import HOP_SCHEMA, empty_hops
from tracer.core.tokens import load_tokens

#: Label categories whose addresses pass value through (and the hop's protocol prefix).
CATEGORIES = {"otc_desk": "otc-desk", "swap": "swap-service",
              "guarantee_marketplace": "guarantee-market"}  # fmt: skip
DEFAULT_WINDOW = timedelta(hours=24)
DEFAULT_FEE_BAND = (0.0, 0.05)
#: Candidate outflows kept per inflow (nearest in time): bounds the work at busy desks.
MAX_CANDIDATES = 32
#: Below this a candidate is not used: about ten equally good rivals (0.5 / 10).
DEFAULT_MIN_CONFIDENCE = 0.05


@dataclass
class OtcMatch:
    """Inferred hops plus the accounting: inflows = matched + unmatched, per desk too."""

    hops: pl.DataFrame
    inflows: int = 0
    outflows: int = 0
    incomparable: int = 0  # flows whose asset has no value class (or unknown decimals)
    ambiguous: int = 0  # unmatched inflows whose candidates all fell below min_confidence
    per_desk: dict[str, dict[str, int]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {"desk inflows": self.inflows, "desk outflows": self.outflows,
                "inferred hops": self.hops.height,
                "inflows without a pass-through": self.inflows - self.hops.height,
                "of which ambiguous (candidates below min confidence)": self.ambiguous,
                "flows not comparable (asset or decimals)": self.incomparable}  # fmt: skip


def _value_class(asset: str | None, stable: set[str]) -> str | None:
    if asset is None:
        return None
    a = asset.upper()
    if a in stable:
        return "USD"
    return ASSET_ALIASES.get(a, a)


def desks(
    labels: pl.DataFrame,
    categories: tuple[str, ...] = tuple(CATEGORIES),
    chains: list[str] | None = None,
) -> pl.DataFrame:
    """``chain, address, desk, category`` of the labelled pass-through addresses (``desk`` =
    label name, else the address: an unnamed label is a desk of one address).

    A label without a chain (an EVM address list) applies on every EVM chain of ``chains``, as
    it does everywhere else (:func:`tracer.graph.selection.node_labels`); without this a desk
    labelled from a plain list was silently no desk at all."""
    from tracer.core.addresses import is_evm

    lab = labels.filter(pl.col("category").is_in(list(categories)))
    evm = [c for c in (chains or []) if c and is_evm(c)]
    if evm and lab["chain"].null_count():
        anywhere = lab.filter(pl.col("chain").is_null()).drop("chain")
        spread = anywhere.join(pl.DataFrame({"chain": evm}), how="cross").select(lab.columns)
        lab = pl.concat([lab.filter(pl.col("chain").is_not_null()), spread])
    return lab.select(
        "chain", "address", pl.coalesce("name", "address").alias("desk"), "category"
    ).unique(["chain", "address"], keep="first", maintain_order=True)


def infer_otc(
    transfers: pl.DataFrame,
    labels: pl.DataFrame,
    *,
    window: timedelta = DEFAULT_WINDOW,
    fee_band: tuple[float, float] = DEFAULT_FEE_BAND,
    categories: tuple[str, ...] = tuple(CATEGORIES),
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
) -> OtcMatch:
    """Inferred pass-through hops (:data:`HOP_SCHEMA`, ``kind`` ``otc``) through labelled desks.

    Candidates below ``min_confidence`` are not used (counted as ambiguous): at a busy desk an
    inflow has dozens of outflows of about its value, and a pairing among thirty equals is no
    evidence of anything.
    """
    lo, hi = fee_band
    if not 0 <= lo <= hi < 1:
        raise ValueError(f"fee band {fee_band}: need 0 <= low <= high < 1")
    chains = transfers["chain"].unique().to_list() if transfers.height else []
    d = desks(labels, categories, chains)
    if d.height == 0 or transfers.height == 0:
        return OtcMatch(empty_hops())
    stable = load_tokens().stable_symbols()
    cols = ["chain", "tx_hash", "seq", "block", "ts", "src", "dst", "asset", "token", "value",
            "decimals"]  # fmt: skip
    t = transfers.select(cols)
    inflows = t.join(d.rename({"address": "dst"}), on=["chain", "dst"], how="inner")
    outflows = t.join(d.rename({"address": "src"}), on=["chain", "src"], how="inner")
    # a desk paying another of its own addresses is not a pass-through
    inflows = inflows.join(d.rename({"address": "src"}).select("chain", "src", "desk"),
                           on=["chain", "src", "desk"], how="anti")  # fmt: skip
    outflows = outflows.join(d.rename({"address": "dst"}).select("chain", "dst", "desk"),
                             on=["chain", "dst", "desk"], how="anti")  # fmt: skip
    result = OtcMatch(empty_hops(), inflows=inflows.height, outflows=outflows.height)
    candidates: list[tuple[float, float, int, int, dict[str, Any]]] = []
    ins = _rows(inflows, stable, result)
    outs = _rows(outflows, stable, result)
    for key, group in ins.items():
        o = outs.get(key)
        if o is not None:
            candidates += _desk_candidates(group, o, window, lo, hi)
    rivals_in: dict[int, int] = {}
    rivals_out: dict[int, int] = {}
    for _, _, i, j, _ in candidates:
        rivals_in[i] = rivals_in.get(i, 0) + 1
        rivals_out[j] = rivals_out.get(j, 0) + 1
    ranked = []
    ambiguous: set[int] = set()
    for score, delay, i, j, ev in candidates:
        rivals = max(rivals_in[i], rivals_out[j])
        if score / rivals < min_confidence:
            ambiguous.add(i)
            continue
        ranked.append((score / rivals, delay, i, j, {**ev, "rivals": rivals}))
    ranked.sort(key=lambda x: (-x[0], x[1], x[2], x[3]))
    used_in: set[int] = set()
    used_out: set[int] = set()
    picked = []
    for conf, _, i, j, ev in ranked:
        if i in used_in or j in used_out:
            continue
        used_in.add(i)
        used_out.add(j)
        picked.append((conf, i, j, ev))
    in_rows = inflows.with_row_index("_i")
    out_rows = outflows.with_row_index("_j")
    result.hops = _hops(picked, in_rows, out_rows, window, fee_band)
    result.ambiguous = len(ambiguous - used_in)
    per_hops = dict(result.hops.group_by("protocol").len().iter_rows())
    for desk, category, n_in in inflows.group_by(["desk", "category"]).len().rows():
        name = f"{CATEGORIES.get(category, category)}:{desk}"
        result.per_desk[name] = {"inflows": n_in, "hops": per_hops.get(name, 0)}
    return result


def _rows(frame: pl.DataFrame, stable: set[str], result: OtcMatch
          ) -> dict[tuple[str, str], dict[str, np.ndarray]]:  # fmt: skip
    """Per (desk, value class): row index, time (µs), units (float64) sorted by time."""
    assets = frame["asset"].drop_nulls().unique().to_list()
    classes = {a: _value_class(a, stable) for a in assets}
    f = frame.with_row_index("_r").with_columns(
        pl.col("asset").replace_strict(classes, default=None, return_dtype=pl.String)
        .alias("_class"),
        (pl.col("value").cast(pl.Float64) / pl.lit(10.0).pow(pl.col("decimals").cast(pl.Float64)))
        .alias("_units"),
    )  # fmt: skip
    bad = f.filter(pl.col("_class").is_null() | pl.col("_units").is_null())
    result.incomparable += bad.height
    f = f.filter(pl.col("_class").is_not_null() & pl.col("_units").is_not_null())
    out = {}
    for (desk, cls), g in f.sort("ts").group_by(["desk", "_class"], maintain_order=True):
        out[(str(desk), str(cls))] = {
            "row": g["_r"].to_numpy(), "ts": g["ts"].dt.epoch("us").to_numpy(),
            "units": g["_units"].to_numpy(), "chain": g["chain"].to_numpy(),
            "order": (g["block"].fill_null(0) * (1 << 24) + g["seq"] % (1 << 24)).to_numpy(),
        }  # fmt: skip
    return out


Candidate = tuple[float, float, int, int, dict[str, Any]]  # (score, delay, inflow, outflow, ev)


def _desk_candidates(ins: dict[str, np.ndarray], outs: dict[str, np.ndarray], window: timedelta,
                     lo: float, hi: float) -> list[Candidate]:  # fmt: skip
    w = window.total_seconds() * 1e6
    mid, width = (lo + hi) / 2, (hi - lo) or 1.0
    found = []
    for k in range(len(ins["row"])):
        t_in, u_in = ins["ts"][k], ins["units"][k]
        if u_in <= 0:
            continue
        a = int(np.searchsorted(outs["ts"], t_in, side="left"))
        b = int(np.searchsorted(outs["ts"], t_in + w, side="right"))
        kept = 0
        for j in range(a, b):
            if (outs["ts"][j] == t_in and outs["chain"][j] == ins["chain"][k]
                    and outs["order"][j] <= ins["order"][k]):  # fmt: skip
                continue  # same time, same chain: the outflow came first in the block
            frac = 1.0 - outs["units"][j] / u_in
            if frac < lo - 1e-12 or frac > hi + 1e-12:
                continue
            delay = (outs["ts"][j] - t_in) / 1e6
            score = 0.5 * (1 - delay / (w / 1e6 or 1.0) / 2) * (1 - abs(frac - mid) / width)
            found.append((score, delay, int(ins["row"][k]), int(outs["row"][j]),
                          {"fee_fraction": round(frac, 9), "delay_s": delay}))  # fmt: skip
            kept += 1
            if kept >= MAX_CANDIDATES:
                break
    return found


def _hops(
    picked: list[tuple[float, int, int, dict[str, Any]]],
    ins: pl.DataFrame,
    outs: pl.DataFrame,
    window: timedelta,
    fee_band: tuple[float, float],
) -> pl.DataFrame:
    if not picked:
        return empty_hops()
    i_rows = {r["_i"]: r for r in ins.filter(pl.col("_i").is_in([p[1] for p in picked]))
              .iter_rows(named=True)}  # fmt: skip
    o_rows = {r["_j"]: r for r in outs.filter(pl.col("_j").is_in([p[2] for p in picked]))
              .iter_rows(named=True)}  # fmt: skip
    rows = []
    for conf, i, j, ev in picked:
        a, b = i_rows[i], o_rows[j]
        fee = Decimal(int(a["value"])).scaleb(-a["decimals"]) - Decimal(int(b["value"])).scaleb(
            -b["decimals"])  # fmt: skip
        evidence = {**ev, "desk": a["desk"], "category": a["category"],
                    "desk_in": f"{a['chain']}:{a['dst']}", "desk_out": f"{b['chain']}:{b['src']}",
                    "window_s": window.total_seconds(), "fee_band": list(fee_band),
                    "fee_units": str(fee)}  # fmt: skip
        rows.append({
            "hop_id": f"otc:{a['chain']}:{a['tx_hash']}:{a['seq']}:{b['chain']}:{b['tx_hash']}:"
                      f"{b['seq']}",
            "kind": "otc", "chain_in": a["chain"], "tx_in": a["tx_hash"], "ts_in": a["ts"],
            "address_in": a["src"], "asset_in": a["asset"], "token_in": a["token"],
            "value_in": a["value"], "decimals_in": a["decimals"], "legs_in": [a["seq"]],
            "chain_out": b["chain"], "tx_out": b["tx_hash"], "ts_out": b["ts"],
            "address_out": b["dst"], "asset_out": b["asset"], "token_out": b["token"],
            "value_out": b["value"], "decimals_out": b["decimals"], "legs_out": [b["seq"]],
            "protocol": f"{CATEGORIES.get(a['category'], a['category'])}:{a['desk']}",
            "rule": "pass-through", "confidence": round(conf, 6), "inferred": True,
            "evidence": json.dumps(evidence, default=str),
        })  # fmt: skip
    return pl.DataFrame(rows, schema=HOP_SCHEMA)
