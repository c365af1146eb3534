"""Synthetic whole-chain workspaces: USDT-on-Tron-like traffic with laundering patterns injected
and their ground truth written alongside (``tracer synth``).

Why synthetic: real whole-chain exports are hundreds of GB and carry no ground truth. A seeded
generator gives any size on demand (the benchmark suite's 1M/10M/100M, the 200M memory test)
and patterns whose true destinations are known, so a trace can be checked, not just timed.

What it generates, streamed one row group at a time (memory O(addresses), not O(transfers)):

* **Background traffic**: sender and receiver drawn from bounded Pareto laws over address
  popularity (exponents 1.6 and 1.4: a few hubs), mixed with uniform draws over the whole pool
  (25 % of receivers, 10 % of senders: fresh deposit addresses and one-shot wallets); times
  increasing over ``days`` with a daily cycle; amounts log-normal around 150 USDT, a sixth of
  them round figures, in cents, kept as exact 6-decimal integers.
* **Labels**: the busiest receivers are exchanges (25), then OTC desks (8) and guarantee
  marketplaces (5); a few tail addresses are sanctioned (OFAC-style, 5); every pattern's
  collecting wallet is a scam.
* **Patterns** (``patterns``, alternating):
  - *peel chain*: victims pay a scam wallet over three days; it moves the lot to a fresh
    wallet, and each of 4–10 fresh wallets peels 5–15 % to a random address and forwards the
    rest, until the last deposits it at an exchange;
  - *fan-out / fan-in*: the scam wallet splits its takings over 5–20 fresh wallets, which
    later pay one collector, which cashes out 60 % at an OTC desk and 40 % at a guarantee
    marketplace.
  Pattern wallets are used by nothing else, so under any conserving model every unit that
  leaves the scam wallet is tainted until a peel or a service: the deposits are exact answers.
* **Ground truth**: ``ground_truth.parquet`` (every pattern transfer: pattern, kind, step,
  role, tx_hash, src, dst, amount, ts) and ``ground_truth.json`` (per pattern: scam wallet,
  collected total, the services its money reaches and how much, hops).

Address ids are assigned by first appearance in chain order, as ingest does, so the workspace is
the same shape as an ingested one; ``tracer follow``, ``exposure`` and ``cluster`` run on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from tracer.core.amounts import amount_expr
from tracer.core.atomic import atomic_path, write_text_atomic
from tracer.core.errors import UsageError
from tracer.core.progress import Progress, no_progress
from tracer.core.schema import TRANSFER_PL, to_arrow_transfers
from tracer.kernels.encoding import b58encode_rows
from tracer.sources.labels import LabelLoad
from tracer.store import manifest as mf
from tracer.store.case_index import write_case_index
from tracer.store.generation import Writer
from tracer.store.partitions import STORED_SCHEMA, PartWriter, with_ids
from tracer.store.workspace import Workspace

USDT_TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
T0_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
DAY_US = 86_400_000_000
BLOCK_US = 3_000_000  # Tron: a block every 3 s
SERVICES = (("exchange", 25), ("otc_desk", 8), ("guarantee_marketplace", 5))
N_SANCTIONED = 5


@dataclass(frozen=True)
class SynthSpec:
    transfers: int
    addresses: int
    seed: int = 1
    days: int = 90
    patterns: int = 20
    chunk: int = 1 << 20

    def validate(self) -> None:
        if self.transfers < 1000:
            raise UsageError("--transfers must be at least 1000")
        if self.addresses < 1000 or self.addresses > 2**31 - 1:
            raise UsageError("--addresses must be between 1000 and 2**31-1")
        if self.patterns * 60 > self.addresses // 4:
            raise UsageError("--patterns: too many for the address count (60 wallets each)")
        if self.days < 1:
            raise UsageError("--days must be at least 1")


def power_law_ranks(rng: np.random.Generator, n: int, n_ranks: int, a: float) -> np.ndarray:
    """Inverse-CDF samples of a bounded Pareto over ranks ``[0, n_ranks)`` (0 = most popular)."""
    u = rng.random(n)
    x = (1.0 - u * (1.0 - n_ranks ** (1.0 - a))) ** (1.0 / (1.0 - a))
    return np.minimum(x.astype(np.int64) - 1, n_ranks - 1)


def tron_addresses(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct valid Tron addresses (0x41 + 20 random bytes, base58check)."""
    body = rng.integers(0, 256, size=(n, 21), dtype=np.uint8)
    body[:, 0] = 0x41
    body[:, 13:21] = np.arange(n, dtype=">u8").view(np.uint8).reshape(n, 8)  # distinct
    payload = np.empty((n, 25), dtype=np.uint8)
    payload[:, :21] = body
    raw = body.tobytes()
    sums = b"".join(
        hashlib.sha256(hashlib.sha256(raw[i * 21 : i * 21 + 21]).digest()).digest()[:4]
        for i in range(n)
    )
    payload[:, 21:] = np.frombuffer(sums, dtype=np.uint8).reshape(n, 4)
    return b58encode_rows(payload)


def _amounts(rng: np.random.Generator, n: int) -> np.ndarray:
    """Stablecoin amounts in micro-units: log-normal, cents, a sixth round figures."""
    x = rng.lognormal(mean=np.log(150.0), sigma=1.6, size=n)
    rnd = rng.random(n) < 1 / 6
    x[rnd] = np.maximum(np.round(x[rnd], -2), 10.0)
    return np.maximum(np.round(x * 100), 1).astype(np.int64) * 10_000


def _warp(t: np.ndarray | float) -> np.ndarray:
    """Daily cycle (busy afternoons, quiet nights): ``t - A·sin(ωt)/ω``, monotone for A < 1,
    so uniform draws warped by it keep their order and gain a time-of-day density."""
    w = 2 * np.pi / DAY_US
    return np.asarray(t - 0.6 * np.sin(w * np.asarray(t, dtype=np.float64)) / w)


def _times(rng: np.random.Generator, n: int, t_lo: float, t_hi: float) -> np.ndarray:
    """Sorted times in ``[warp(t_lo), warp(t_hi))`` µs."""
    return _warp(np.sort(rng.uniform(t_lo, t_hi, n))).astype(np.int64)


class _Patterns:
    """All pattern transfers (small: ~60 rows a pattern), sorted by time, plus ground truth."""

    def __init__(self, rng: np.random.Generator, spec: SynthSpec, n_bg: int, services: dict):
        rows: list[tuple] = []
        summary: list[dict[str, Any]] = []
        span = spec.days * DAY_US
        next_addr = n_bg  # pattern wallets: indices after the background's
        self.scams: list[int] = []
        for k in range(spec.patterns):
            kind = "peel_chain" if k % 2 == 0 else "fan_out_in"
            t = int(T0_US + span * rng.uniform(0.05, 0.7))
            scam = next_addr
            next_addr += 1
            self.scams.append(scam)
            victims = rng.integers(services["_tail_lo"], n_bg, size=int(rng.integers(5, 30)))
            collected = 0
            for v in victims:
                amt = int(rng.integers(500, 20_000)) * 1_000_000
                t += int(rng.integers(60, 3 * DAY_US // len(victims) // 1_000_000)) * 1_000_000
                rows.append((k, kind, 0, "victim_payment", int(v), scam, amt, t))
                collected += amt
            hop = lambda: int(rng.integers(300, 6 * 3600)) * 1_000_000  # noqa: E731
            reaches: dict[int, int] = {}
            if kind == "peel_chain":
                n_hops = int(rng.integers(4, 11))
                wallets = list(range(next_addr, next_addr + n_hops))
                next_addr += n_hops
                t += hop()
                rows.append((k, kind, 1, "move", scam, wallets[0], collected, t))
                left = collected
                for i, w in enumerate(wallets):
                    t += hop()
                    if i == len(wallets) - 1:
                        x = int(rng.choice(services["exchange"]))
                        rows.append((k, kind, i + 2, "deposit", w, x, left, t))
                        reaches[x] = reaches.get(x, 0) + left
                        depth = i + 2
                        break
                    peel = left * int(rng.integers(5, 16)) // 100 // 10_000 * 10_000  # cents
                    rows.append((k, kind, i + 2, "peel", w, int(rng.integers(0, n_bg)), peel, t))
                    t += 1_000_000
                    left -= peel
                    rows.append((k, kind, i + 2, "hop", w, wallets[i + 1], left, t))
            else:
                n_split = int(rng.integers(5, 21))
                splits = list(range(next_addr, next_addr + n_split))
                collector = next_addr + n_split
                next_addr += n_split + 1
                cuts = np.sort(rng.integers(1, collected // 1_000_000, n_split - 1)) * 1_000_000
                parts = np.diff(np.concatenate([[0], cuts, [collected]])).astype(np.int64)
                for w, amt in zip(splits, parts.tolist(), strict=True):
                    t += hop() // 10
                    rows.append((k, kind, 1, "split", scam, w, amt, t))
                for w, amt in zip(splits, parts.tolist(), strict=True):
                    t += hop()
                    rows.append((k, kind, 2, "merge", w, collector, amt, t))
                otc = int(rng.choice(services["otc_desk"]))
                gm = int(rng.choice(services["guarantee_marketplace"]))
                to_otc = collected * 60 // 100
                t += hop()
                rows.append((k, kind, 3, "cashout", collector, otc, to_otc, t))
                t += hop()
                rows.append((k, kind, 3, "cashout", collector, gm, collected - to_otc, t))
                reaches = {otc: to_otc, gm: collected - to_otc}
                depth = 3
            summary.append({"pattern": k, "kind": kind, "scam": scam, "collected": collected,
                            "hops": depth, "reaches": reaches})  # fmt: skip
        self.n_addresses = next_addr
        frame = pl.DataFrame(
            rows,
            schema={"pattern": pl.Int32, "kind": pl.String, "step": pl.Int32, "role": pl.String,
                    "src": pl.Int64, "dst": pl.Int64, "value": pl.Int64, "ts": pl.Int64},
            orient="row",
        ).sort("ts", maintain_order=True)  # fmt: skip
        self.frame = frame.with_row_index("row")
        self.summary = summary


def synth(spec: SynthSpec, out: Path, *, progress: Progress | None = None) -> dict[str, Any]:
    """Write a synthetic workspace to ``out`` (which must not hold one); returns its summary.

    Written through the store's one writer (:class:`tracer.store.generation.Writer`), streamed: the
    partitions and dictionaries of generation 1, then the labels as a second commit.
    ``progress``: a bar over the transfers written (none by default; the CLI draws one).
    """
    spec.validate()
    if mf.is_workspace(out) and mf.read(out)["generation"]:
        raise UsageError(f"{out} already holds a workspace: choose a new -o directory")
    Workspace.open(out, create=True)  # refuses a non-empty folder that is not a workspace
    with Writer(out) as w:
        return _synth(spec, out, w, progress or no_progress)


def _synth(spec: SynthSpec, out: Path, w: Writer, progress: Progress) -> dict[str, Any]:
    rng = np.random.default_rng(spec.seed)
    n_pattern_max = spec.patterns * 60
    n_bg = spec.addresses - n_pattern_max
    services: dict[str, Any] = {}
    first = 0
    for cat, count in SERVICES:
        services[cat] = np.arange(first, first + count)
        first += count
    services["_tail_lo"] = n_bg // 2
    patterns = _Patterns(rng, spec, n_bg, services)
    n_total = patterns.n_addresses
    address_text = pl.Series("address", tron_addresses(rng, n_total), pl.String)
    pf = patterns.frame
    n_bg_rows = spec.transfers - pf.height
    if n_bg_rows < spec.transfers // 2:
        raise UsageError("--transfers: too few for the patterns; raise it or lower --patterns")

    gdir = w.start_generation()  # the one writer: lock, marker, durable commit
    writer = PartWriter(gdir / "transfers", STORED_SCHEMA)
    id_of = np.full(n_total, -1, dtype=np.int64)
    next_id = 0
    span = spec.days * DAY_US
    truth_hash: dict[int, str] = {}
    written = 0
    with progress("synth", spec.transfers) as advance:
        for c0 in range(0, n_bg_rows, spec.chunk):
            n = min(spec.chunk, n_bg_rows - c0)
            t_lo = T0_US + span * c0 / n_bg_rows
            t_hi = T0_US + span * (c0 + n) / n_bg_rows
            src = power_law_ranks(rng, n, n_bg, 1.6)
            dst = power_law_ranks(rng, n, n_bg, 1.4)
            # one-shot wallets (fresh deposit addresses, new victims): uniform over the pool
            fresh_dst = rng.random(n) < 0.25
            dst[fresh_dst] = rng.integers(0, n_bg, int(fresh_dst.sum()))
            fresh_src = rng.random(n) < 0.10
            src[fresh_src] = rng.integers(0, n_bg, int(fresh_src.sum()))
            same = src == dst
            dst[same] = (dst[same] + 1) % n_bg
            ts = _times(rng, n, t_lo, t_hi)
            value = _amounts(rng, n)
            last = c0 + n == n_bg_rows
            w_lo, w_hi = int(_warp(t_lo)), int(_warp(t_hi))  # this chunk's time range
            pm = ((pf["ts"] >= w_lo) | (c0 == 0)) & ((pf["ts"] < w_hi) | last)
            pat = pf.filter(pm)
            is_pat = np.concatenate([np.zeros(n, bool), np.ones(pat.height, bool)])
            src = np.concatenate([src, pat["src"].to_numpy()])
            dst = np.concatenate([dst, pat["dst"].to_numpy()])
            ts = np.concatenate([ts, pat["ts"].to_numpy()])
            value = np.concatenate([value, pat["value"].to_numpy()])
            order = np.argsort(ts, kind="stable")
            src, dst, ts, value, is_pat = (a[order] for a in (src, dst, ts, value, is_pat))
            pat_rows = pat["row"].to_numpy()[order[is_pat] - n] if pat.height else []
            # ids by first appearance (sender before receiver), as ingest assigns them
            both = np.empty(2 * src.shape[0], dtype=np.int64)
            both[0::2], both[1::2] = src, dst
            fresh = both[id_of[both] < 0]
            if fresh.size:
                uniq, pos = np.unique(fresh, return_index=True)
                new = uniq[np.argsort(pos, kind="stable")]
                id_of[new] = np.arange(next_id, next_id + new.shape[0])
                next_id += new.shape[0]
            m = src.shape[0]
            raw = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(32), m, [None, pa.py_buffer(rng.bytes(32 * m))]
            )
            tx_hash = pl.Series("tx_hash", pl.from_arrow(raw.cast(pa.binary()))).bin.encode("hex")
            for r, h in zip(pat_rows, tx_hash.filter(pl.Series(is_pat)).to_list(), strict=True):
                truth_hash[int(r)] = h
            frame = pl.DataFrame(
                {
                    "chain": pl.repeat("tron", m, eager=True),
                    "asset": pl.repeat("USDT", m, eager=True),
                    "token": pl.repeat(USDT_TRON, m, eager=True),
                    "tx_hash": tx_hash,
                    "seq": np.zeros(m, dtype=np.int64),
                    "block": 60_000_000 + (ts - T0_US) // BLOCK_US,
                    "ts": pl.Series(ts).cast(pl.Datetime("us", "UTC")),
                    "src": address_text.gather(src),
                    "dst": address_text.gather(dst),
                    "value": pl.Series(value).cast(pl.String),
                    "decimals": pl.repeat(6, m, eager=True, dtype=pl.Int16),
                }
            ).with_columns(amount_expr(pl.col("value"), pl.col("decimals")).alias("amount"))
            frame = frame.cast({k: v for k, v in TRANSFER_PL.items()})  # the ingest conversion
            table = with_ids(to_arrow_transfers(frame), id_of[src], id_of[dst], np.zeros(m))
            writer.write(table, ts)
            written += m
            advance(m)
    parts = writer.close()
    n_seen = next_id
    rank_of = np.empty(n_seen, dtype=np.int64)
    seen = np.flatnonzero(id_of >= 0)
    rank_of[id_of[seen]] = seen
    addresses = pl.DataFrame(
        {
            "id": np.arange(n_seen, dtype=np.int32),
            "chain": pl.repeat("tron", n_seen, eager=True),
            "address": address_text.gather(rank_of),
        }
    )
    tokens = pl.DataFrame(
        {"token_id": [0], "chain": ["tron"], "token": [USDT_TRON], "asset": ["USDT"],
         "decimals": [6]},
        schema={"token_id": pl.Int32, "chain": pl.String, "token": pl.String,
                "asset": pl.String, "decimals": pl.Int16},
    )  # fmt: skip
    addr_name = f"addresses-{w.gen:06d}.parquet"
    addresses.write_parquet(gdir / addr_name)
    tokens.write_parquet(gdir / "tokens.parquet")
    # the case index (what a case question reads: tx hashes, exact values, address hashes and
    # texts), as an ingest writes it, so a case follow on a synthesised chain reads O(case)
    write_case_index(gdir, parts, [addr_name])
    w.commit({"parts": parts, "addresses": [addr_name], "ingests": [{"synth": asdict(spec)}]})
    w.release()  # labels are the next commit (they take the lock again)

    # labels: services by popularity, sanctioned tail addresses, the scam wallets
    lab: list[tuple[int, str, str]] = []
    for cat, _ in SERVICES:
        lab += [(int(a), f"{cat}-{i + 1}", cat) for i, a in enumerate(services[cat])]
    used_tail = np.flatnonzero(id_of[first:n_bg] >= 0) + first  # wallets that did transact
    sanctioned = rng.choice(used_tail, min(N_SANCTIONED, used_tail.size), replace=False)
    lab += [(int(a), f"sanctioned-{i + 1}", "sanctioned") for i, a in enumerate(sanctioned)]
    lab += [(s, f"scam-{k}", "scam") for k, s in enumerate(patterns.scams)]
    lab = [x for x in lab if id_of[x[0]] >= 0]
    labels = pl.DataFrame(
        {"chain": ["tron"] * len(lab), "address": address_text.gather([x[0] for x in lab]),
         "name": [x[1] for x in lab], "category": [x[2] for x in lab],
         "source": ["tracer synth"] * len(lab), "confidence": ["synthetic"] * len(lab)}
    )  # fmt: skip
    Workspace.open(out).add_labels([LabelLoad("synth", labels, labels.height)])

    truth = pf.with_columns(
        pl.Series("tx_hash", [truth_hash[int(r)] for r in pf["row"].to_list()], pl.String),
        address_text.gather(pf["src"].to_numpy()).alias("src"),
        address_text.gather(pf["dst"].to_numpy()).alias("dst"),
        (pl.col("value") / 1e6).alias("amount"),
        pl.col("ts").cast(pl.Datetime("us", "UTC")),
    ).drop("row")
    with atomic_path(out / "ground_truth.parquet") as tmp:
        truth.write_parquet(tmp)
    name = dict(zip(address_text.gather([x[0] for x in lab]).to_list(),
                    [x[1] for x in lab], strict=True))  # fmt: skip
    summary = {
        "spec": asdict(spec),
        "transfers": written,
        "addresses": n_seen,
        "partitions": len(parts),
        "labels": labels.height,
        "patterns": [
            {**p, "scam": address_text[p["scam"]], "collected": p["collected"] / 1e6,
             "reaches": [{"address": address_text[a], "name": name.get(address_text[a]),
                          "amount": v / 1e6} for a, v in p["reaches"].items()]}
            for p in patterns.summary
        ],
    }  # fmt: skip
    write_text_atomic(out / "ground_truth.json", json.dumps(summary, indent=2))
    return summary
