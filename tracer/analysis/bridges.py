"""Bridge hops: source legs (burn/lock) matched to destination legs (mint/release) across chains.

Why two kinds of match, never mixed silently: where the protocol writes an id on both chains
(Circle CCTP V1: the source domain and the message nonce) or the destination event names the
source transaction, the match is on-chain fact (``confidence`` 1.0, ``inferred`` False). Where
nothing links the two sides (``amount-window`` in the registry, e.g. CCTP V2, whose nonce the
attester assigns off chain), candidates are pairs of the same protocol and asset, the
destination within ``window`` after the source and its amount at most ``fee_band`` below; they
are ranked and taken greedily one-to-one, each hop carrying its confidence and the window, fee
and number of rivals in ``evidence``, ``inferred`` True. A leg whose id finds no partner is
never re-matched by amount: the id says which mint it belongs to, and that mint is not in the
data.

Accounting (:meth:`BridgeMatch.counts`): every decoded bridge event belongs to exactly one
leg, and every leg is either in a hop or in :attr:`BridgeMatch.unmatched` with its reason.

Confidence of a candidate (between 0 and 0.9, documented so a reader can recompute it)::

    base        0.9 when both sides name the same recipient, else 0.6
    closeness   (1 - fee/amount / fee_band / 2) * (1 - delay / window / 2)
    confidence  base * closeness / rivals   (rivals: the most candidates either leg had)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from tracer.analysis.legs import with_legs
from tracer.core.hops import HOP_SCHEMA, empty_hops
from tracer.sources.bridge_events import BRIDGE_EVENT_SCHEMA, FIELDS

#: Symbols that name the same asset across chains (bridged variants), for candidate matching.
ASSET_ALIASES = {"USDC.E": "USDC", "USDBC": "USDC", "USDT.E": "USDT", "WETH": "ETH",
                 "WETH.E": "ETH"}  # fmt: skip
DEFAULT_WINDOW = timedelta(days=1)
DEFAULT_FEE_BAND = 0.01

UNMATCHED_NO_PARTNER = "counterpart not in the workspace (its id names no leg here)"
UNMATCHED_DUPLICATE = "another leg carries the same id (kept the earliest)"
UNMATCHED_INCOMPLETE = "leg lacks the fields its link needs"
UNMATCHED_NO_CANDIDATE = "no candidate within the fee band and window"
UNMATCHED_OUTBID = "its candidates went to better-ranked legs"
UNMATCHED_DECIMALS = "token decimals unknown: amounts cannot be compared"
UNMATCHED_UNDECODABLE = "log does not decode as the registered event"
UNMATCHED_BACKWARDS = "destination is earlier than its source (times disagree): not linked"

LEG_SCHEMA: dict[str, pl.DataType] = {
    "leg_id": pl.String(),
    "chain": pl.String(),
    "tx_hash": pl.String(),
    "ts": pl.Datetime("us", "UTC"),
    "protocol": pl.String(),
    "role": pl.String(),
    "link": pl.String(),
    "domain": pl.Int64(),
    **{f: BRIDGE_EVENT_SCHEMA[f] for f in FIELDS},
    "log_indices": pl.List(pl.Int64()),
    "problem": pl.String(),
}


@dataclass
class BridgeMatch:
    """Hops plus every leg that is in none, with its reason."""

    hops: pl.DataFrame
    legs: pl.DataFrame  # LEG_SCHEMA
    unmatched: pl.DataFrame  # LEG_SCHEMA + reason
    events: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """legs = 2 × hops + unmatched; events = the decoded bridge events behind the legs."""
        out = {"bridge events": self.events, "legs": self.legs.height,
               "hops": self.hops.height}  # fmt: skip
        out.update({f"hops: {k}": v for k, v in sorted(self.by_rule.items())})
        out["unmatched legs"] = self.unmatched.height
        for reason, n in sorted(self.unmatched.group_by("reason").len().iter_rows()):
            out[f"unmatched: {reason}"] = n
        return out


def assemble_legs(events: pl.DataFrame) -> pl.DataFrame:
    """Bridge events → legs: the events of one transaction, protocol and role, in log order,
    fill one leg until a field would be set twice (then the next leg starts). CCTP's
    ``MintAndWithdraw`` and the ``MessageReceived`` after it thus form one destination leg, and
    a relayer's transaction receiving several messages gives one leg per message."""
    rows: list[dict[str, Any]] = []
    ev = events.sort("chain", "tx_hash", "protocol", "role", "log_index")
    current: dict[str, Any] | None = None
    for r in ev.iter_rows(named=True):
        group = (r["chain"], r["tx_hash"], r["protocol"], r["role"])
        given = {f: r[f] for f in FIELDS if r[f] is not None}
        if r["problem"] is not None:  # a leg of its own, counted with its reason
            rows.append(_leg(r, {}, r["problem"]))
            current = None
            continue
        # a field set twice starts the next leg, even with the same value: a relayer paying
        # one recipient the same amount twice delivers two messages
        fresh = current is None or current["_group"] != group or any(
            current[f] is not None for f in given)  # fmt: skip
        if fresh:
            current = _leg(r, given, None)
            current["_group"] = group
            rows.append(current)
        else:
            assert current is not None
            current.update(given)
            current["log_indices"].append(r["log_index"])
    for row in rows:
        row.pop("_group", None)
    if not rows:
        return pl.DataFrame(schema=LEG_SCHEMA)
    return pl.DataFrame(rows, schema=LEG_SCHEMA)


def _leg(r: dict[str, Any], given: dict[str, Any], problem: str | None) -> dict[str, Any]:
    leg = {k: r[k] for k in ("chain", "tx_hash", "ts", "protocol", "role", "link", "domain")}
    leg.update(dict.fromkeys(FIELDS))
    leg.update(given)
    leg["leg_id"] = f"{r['chain']}:{r['tx_hash']}:{r['log_index']}"
    leg["log_indices"] = [r["log_index"]]
    leg["problem"] = problem
    return leg


def _units(value: str | None, decimals: int | None) -> Decimal | None:
    if value is None or decimals is None:
        return None
    return Decimal(int(value)).scaleb(-int(decimals))


def _asset_key(asset: str | None) -> str | None:
    if asset is None:
        return None
    a = asset.upper()
    return ASSET_ALIASES.get(a, a)


def match_bridges(
    events: pl.DataFrame,
    transfers: pl.DataFrame,
    tokens: pl.DataFrame,
    *,
    window: timedelta = DEFAULT_WINDOW,
    fee_band: float = DEFAULT_FEE_BAND,
) -> BridgeMatch:
    """Match decoded bridge events (:data:`BRIDGE_EVENT_SCHEMA`) into hops.

    ``transfers``: the canonical table (legs); ``tokens``: ``chain, token, asset, decimals``
    (symbols and decimals of the bridged tokens, to compare amounts across chains).
    """
    legs = assemble_legs(events)
    meta = tokens.select("chain", "token", "asset", "decimals").unique(["chain", "token"])
    legs_m = legs.join(meta, on=["chain", "token"], how="left")
    by_id = {r["leg_id"]: r for r in legs_m.iter_rows(named=True)}
    reasons: dict[str, str] = {}
    pairs: list[tuple[str, str, str, float, dict[str, Any]]] = []  # (src, dst, rule, conf, ev)
    for lid, r in by_id.items():
        if r["problem"] is not None:
            reasons[lid] = UNMATCHED_UNDECODABLE
    live = [r for lid, r in by_id.items() if lid not in reasons]
    pairs += _exact_domain_nonce(live, reasons)
    pairs += _exact_source_tx(live, reasons)
    pairs += _candidates(live, reasons, window, fee_band)
    taken = {p[0] for p in pairs} | {p[1] for p in pairs}
    for lid in by_id:
        if lid not in taken and lid not in reasons:
            reasons[lid] = UNMATCHED_NO_PARTNER
    hops = _hops(pairs, by_id, transfers)
    why = pl.DataFrame({"leg_id": list(reasons), "reason": list(reasons.values())},
                       schema={"leg_id": pl.String, "reason": pl.String})  # fmt: skip
    unmatched = legs.join(why, on="leg_id", how="inner").sort("leg_id")
    by_rule: dict[str, int] = {}
    for p in pairs:
        by_rule[p[2]] = by_rule.get(p[2], 0) + 1
    return BridgeMatch(hops, legs, unmatched, events.height, by_rule)


def _exact_domain_nonce(live: list[dict[str, Any]], reasons: dict[str, str]) -> list[Any]:
    """CCTP V1: (source domain, destination domain, nonce) is unique per message."""
    keyed: dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]] = {}
    for r in live:
        if r["link"] != "domain-nonce":
            continue
        if r["role"] == "source":
            key = (r["protocol"], r["domain"], r["dest_domain"], r["nonce"])
        else:
            key = (r["protocol"], r["source_domain"], r["domain"], r["nonce"])
        if any(k is None for k in key) or r["amount"] is None or r["ts"] is None:
            reasons[r["leg_id"]] = UNMATCHED_INCOMPLETE
            continue
        keyed.setdefault(key, {"source": [], "destination": []})[r["role"]].append(r)
    pairs = []
    for key, sides in keyed.items():
        for role in ("source", "destination"):
            sides[role].sort(key=lambda x: (x["ts"] is None, x["ts"], x["leg_id"]))
            for extra in sides[role][1:]:
                reasons[extra["leg_id"]] = UNMATCHED_DUPLICATE
        if sides["source"] and sides["destination"]:
            s, d = sides["source"][0], sides["destination"][0]
            if _backwards(s, d, reasons):
                continue
            ev = {"source_domain": key[1], "dest_domain": key[2], "nonce": key[3]}
            pairs.append((s["leg_id"], d["leg_id"], "cctp-domain-nonce", 1.0, ev))
    return pairs


def _backwards(s: dict[str, Any], d: dict[str, Any], reasons: dict[str, str]) -> bool:
    """A hop never runs back in time: an id-linked pair whose times say otherwise is counted,
    not used (the follow would move value into the past)."""
    if s["ts"] is not None and d["ts"] is not None and d["ts"] < s["ts"]:
        reasons[s["leg_id"]] = reasons[d["leg_id"]] = UNMATCHED_BACKWARDS
        return True
    return False


def _exact_source_tx(live: list[dict[str, Any]], reasons: dict[str, str]) -> list[Any]:
    """A destination event that names its source transaction."""
    sources: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in live:
        if r["role"] == "source" and r["link"] == "source-tx" and r["ts"] is not None:
            sources.setdefault((r["protocol"], r["tx_hash"].lower()), []).append(r)
    pairs, used = [], set()
    for r in live:
        if r["role"] != "destination" or r["link"] != "source-tx":
            continue
        if r["source_tx"] is None or r["ts"] is None:
            reasons[r["leg_id"]] = UNMATCHED_INCOMPLETE
            continue
        want = r["source_tx"].lower()
        named = sources.get((r["protocol"], want), []) + sources.get(
            (r["protocol"], want.removeprefix("0x")), [])  # fmt: skip
        cands = [s for s in named if s["leg_id"] not in used]
        if not cands:
            continue  # counted as no partner
        s = min(cands, key=lambda x: x["leg_id"])
        used.add(s["leg_id"])
        if _backwards(s, r, reasons):
            continue
        pairs.append((s["leg_id"], r["leg_id"], "source-tx", 1.0, {"source_tx": r["source_tx"]}))
    return pairs


def _candidates(
    live: list[dict[str, Any]], reasons: dict[str, str], window: timedelta, fee_band: float
) -> list[Any]:
    """``amount-window`` legs: ranked candidate pairs, taken greedily one-to-one."""
    srcs: list[tuple[dict[str, Any], Decimal]] = []
    dsts: list[tuple[dict[str, Any], Decimal]] = []
    for r in live:
        if r["link"] != "amount-window":
            continue
        amount = _units(r["amount"], r["decimals"])
        if amount is None or r["ts"] is None:
            no_decimals = r["amount"] is not None and r["decimals"] is None
            reasons[r["leg_id"]] = UNMATCHED_DECIMALS if no_decimals else UNMATCHED_INCOMPLETE
            continue
        (srcs if r["role"] == "source" else dsts).append((r, amount))
    found: list[tuple[float, float, str, str, dict[str, Any]]] = []
    n_src: dict[str, int] = {}
    n_dst: dict[str, int] = {}
    for s, a_in in srcs:
        for d, a_out in dsts:
            ev = _candidate(s, a_in, d, a_out, window, fee_band)
            if ev is None:
                continue
            n_src[s["leg_id"]] = n_src.get(s["leg_id"], 0) + 1
            n_dst[d["leg_id"]] = n_dst.get(d["leg_id"], 0) + 1
            found.append((0.0, ev["delay_s"], s["leg_id"], d["leg_id"], ev))
    ranked = []
    for _, delay, sid, did, ev in found:
        rivals = max(n_src[sid], n_dst[did])
        conf = ev.pop("_score") / rivals
        ev["rivals"] = rivals
        ranked.append((conf, delay, sid, did, ev))
    ranked.sort(key=lambda x: (-x[0], x[1], x[2], x[3]))
    used: set[str] = set()
    pairs = []
    for conf, _, sid, did, ev in ranked:
        if sid in used or did in used:
            continue
        used |= {sid, did}
        pairs.append((sid, did, "amount-window", round(conf, 6), ev))
    for r, _ in srcs + dsts:
        lid = r["leg_id"]
        if lid not in used:
            reasons[lid] = UNMATCHED_OUTBID if (n_src.get(lid) or n_dst.get(lid)) else (
                UNMATCHED_NO_CANDIDATE)  # fmt: skip
    return pairs


def _candidate(s: dict[str, Any], a_in: Decimal, d: dict[str, Any], a_out: Decimal,
               window: timedelta, fee_band: float) -> dict[str, Any] | None:  # fmt: skip
    """Evidence (with a ``_score`` before rivals) when ``d`` may be ``s``'s destination."""
    if s["protocol"] != d["protocol"] or s["chain"] == d["chain"]:
        return None
    if s["dest_domain"] is not None and d["domain"] is not None and s["dest_domain"] != d["domain"]:
        return None
    if d["source_domain"] is not None and s["domain"] is not None and (
            d["source_domain"] != s["domain"]):  # fmt: skip
        return None
    if _asset_key(s["asset"]) != _asset_key(d["asset"]) or a_in <= 0:
        return None
    delay = (d["ts"] - s["ts"]).total_seconds()
    if delay < 0 or delay > window.total_seconds():
        return None
    fee = a_in - a_out
    frac = float(fee / a_in)
    if frac < 0 or frac > fee_band:
        return None
    same_recipient = s["recipient"] is not None and s["recipient"] == d["recipient"]
    if s["recipient"] is not None and d["recipient"] is not None and not same_recipient:
        return None  # the burn names who is paid: another recipient is another transfer
    base = 0.9 if same_recipient else 0.6
    wsec = window.total_seconds() or 1.0
    closeness = (1 - frac / fee_band / 2 if fee_band else 1.0) * (1 - delay / wsec / 2)
    return {"_score": base * closeness, "delay_s": delay, "window_s": wsec,
            "fee": str(fee), "fee_band": fee_band, "recipient_match": same_recipient}  # fmt: skip


def _hops(pairs: list[Any], by_id: dict[str, dict[str, Any]], transfers: pl.DataFrame
          ) -> pl.DataFrame:  # fmt: skip
    if not pairs:
        return empty_hops()
    rows = []
    for sid, did, rule, conf, ev in pairs:
        s, d = by_id[sid], by_id[did]
        ev = {**ev, "source_leg": sid, "dest_leg": did, "source_logs": s["log_indices"],
              "dest_logs": d["log_indices"]}  # fmt: skip
        rows.append({
            "hop_id": f"bridge:{sid}:{did}", "kind": "bridge",
            "chain_in": s["chain"], "tx_in": s["tx_hash"], "ts_in": s["ts"],
            "address_in": s["sender"], "asset_in": s["asset"], "token_in": s["token"],
            "value_in": s["amount"], "decimals_in": s["decimals"],
            "chain_out": d["chain"], "tx_out": d["tx_hash"], "ts_out": d["ts"],
            "address_out": d["recipient"], "asset_out": d["asset"], "token_out": d["token"],
            "value_out": d["amount"], "decimals_out": d["decimals"],
            "protocol": s["protocol"], "rule": rule, "confidence": conf,
            "inferred": rule == "amount-window", "evidence": json.dumps(ev, default=str),
        })  # fmt: skip
    schema = {k: v for k, v in HOP_SCHEMA.items() if k not in ("legs_in", "legs_out")}
    frame = pl.DataFrame(rows, schema=schema)
    sides = {"in": ("chain_in", "tx_in", "address_in", "token_in"),
             "out": ("chain_out", "tx_out", "address_out", "token_out")}  # fmt: skip
    return with_legs(frame, transfers, sides).select(list(HOP_SCHEMA)).cast(HOP_SCHEMA)  # type: ignore[arg-type]
