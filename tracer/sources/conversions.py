"""Conversions (swaps, wraps) decoded per transaction from its logs and native transfers.

Why not trust the swap events: a ``Swap`` says what a *pool* did, not what the person paid and got
— routers, multi-hop paths, fee-on-transfer tokens and aggregators sit in between. So each
conversion is derived from the transaction's own asset flows (ERC-20/TRC-20 ``Transfer`` logs,
wrapped-native ``Deposit``/``Withdrawal`` and native-coin transfers from transactions and traces):
the *trader* is the one address (other than the pools and the zero address) whose net flows in the
transaction are an outflow of exactly one asset and an inflow of exactly one other asset. The
events only decide that the transaction *is* a conversion and are kept as evidence (``pools``,
``log_indices``).

Events recognised (topic0, checked with ``eth_utils.keccak``; bodies checked with ``eth_abi``):
Uniswap V2-style ``Swap`` (SushiSwap, PancakeSwap, SunSwap V2: same event), Uniswap V3 ``Swap``
(also PancakeSwap V3, SunSwap V3), Curve ``TokenExchange`` (int128 and uint256 indices) and
``TokenExchangeUnderlying``, wrapped-native ``Deposit``/``Withdrawal`` (WETH, WBNB, WTRX, ...: only
from the contracts in :data:`WRAPPED_NATIVE`, because other contracts reuse the signature), and
Uniswap V1 / JustSwap ``TokenPurchase``, ``EthPurchase``/``TrxPurchase``.

Rules (``rule`` column; ``confidence`` says how much rests on inference):

``net-flow`` (1.0)
    every leg is on chain in the inputs given.
``+wrap-legs`` (1.0)
    no traces for the transaction: the native leg of a WETH9-style ``Deposit``/``Withdrawal`` is
    added from the event (the contract moves exactly ``wad``; a leg already present as the
    transaction's own value is not added twice).
``+v1-legs`` (0.9)
    no traces: the native leg of a V1/JustSwap purchase comes from the event (the buyer; a
    ``...Transfer`` variant that pays someone else would be misattributed, hence < 1).
``+unwrap-forward`` (0.7)
    no traces and no single trader: one address unwrapped native coin that, without traces, is
    not seen leaving, and exactly one other address paid the only opposite asset — the router is
    assumed to have forwarded the coin to that payer.

What cannot be resolved is skipped and counted by reason (several traders, several assets in or
out, no net outflow as in an arbitrage); malformed logs and unknown decimals are reported with the
transaction and log index (:attr:`Decoded.problems`) and counted, never dropped silently.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tracer.core.addresses import TRON, tron_base58_to_hex, tron_hex_to_base58
from tracer.core.tokens import NATIVE, TokenTable, load_tokens
from tracer.sources.rpc_logs import TRANSFER_TOPIC


def _topic(signature: str) -> str:
    from eth_utils import keccak

    return "0x" + keccak(text=signature).hex()


TRANSFER = "0x" + TRANSFER_TOPIC


@functools.cache
def known_events() -> dict[str, tuple[str, str, int, int]]:
    """topic0 → (event kind, protocol, number of topics, data bytes).

    A function (``EVENTS`` reads it), not a constant: hashing the signatures needs
    ``eth_utils`` (~0.2 s to import), which a command that decodes no logs never loads."""
    return {
        _topic("Swap(address,uint256,uint256,uint256,uint256,address)"): (
            "v2",
            "uniswap-v2",
            3,
            128,
        ),
        _topic("Swap(address,address,int256,int256,uint160,uint128,int24)"): (
            "v3",
            "uniswap-v3",
            3,
            160,
        ),
        _topic("TokenExchange(address,int128,uint256,int128,uint256)"): ("curve", "curve", 2, 128),
        _topic("TokenExchange(address,uint256,uint256,uint256,uint256)"): (
            "curve",
            "curve",
            2,
            128,
        ),
        _topic("TokenExchangeUnderlying(address,int128,uint256,int128,uint256)"): (
            "curve",
            "curve",
            2,
            128,
        ),
        _topic("Deposit(address,uint256)"): ("deposit", "wrap", 2, 32),
        _topic("Withdrawal(address,uint256)"): ("withdrawal", "wrap", 2, 32),
        _topic("TokenPurchase(address,uint256,uint256)"): ("v1-buy", "uniswap-v1", 4, 0),
        _topic("EthPurchase(address,uint256,uint256)"): ("v1-sell", "uniswap-v1", 4, 0),
        _topic("TrxPurchase(address,uint256,uint256)"): ("v1-sell", "justswap-v1", 4, 0),
    }

#: Wrapped native coin per chain (WETH9-style: Deposit/Withdrawal move exactly ``wad``).
WRAPPED_NATIVE: dict[str, set[str]] = {
    "ethereum": {"0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"},
    "bsc": {"0xbb4cdb9cbd36b01bd1cbaebf2de08d9173bc095c"},
    "polygon": {"0x0d500b1d8e8ef31e21c99d1db9a6444d3adf1270"},
    "arbitrum": {"0x82af49447d8a07e3bd95bd0d56f35241523fbab1"},
    "optimism": {"0x4200000000000000000000000000000000000006"},
    "base": {"0x4200000000000000000000000000000000000006"},
    "avalanche": {"0xb31f66aa3c1e785363f0875a1b74e27b85fd66c7"},
    "tron": {"TNUC9Qb1rRpS5CbWLmNMxXBjyFoydXjWFR"},
}

ZERO = {"0x0000000000000000000000000000000000000000", "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb"}

SKIP_NO_TRADER = "no address with one net outflow and one net inflow (arbitrage or unresolved)"
SKIP_SEVERAL_TRADERS = "several traders (aggregator settlement or batch)"
SKIP_SEVERAL_ASSETS = "trader has several assets in or out"
SKIP_MALFORMED = "malformed log in the transaction"
SKIP_NO_TX_HASH = "log without a transaction hash"
SKIP_NEEDS_TRACES = "native coin moves inside calls here: needs the traces export"

CONVERSION_SCHEMA: dict[str, pl.DataType] = {
    "chain": pl.String(),
    "tx_hash": pl.String(),
    "block": pl.Int64(),
    "ts": pl.Datetime("us", "UTC"),
    "trader": pl.String(),
    "recipient": pl.String(),  # = trader unless the swap paid someone else
    "asset_in": pl.String(),
    "token_in": pl.String(),
    "value_in": pl.String(),
    "decimals_in": pl.Int16(),
    "asset_out": pl.String(),
    "token_out": pl.String(),
    "value_out": pl.String(),
    "decimals_out": pl.Int16(),
    "protocol": pl.String(),
    "pools": pl.List(pl.String()),
    "log_indices": pl.List(pl.Int64()),
    "flow_log_indices": pl.List(pl.Int64()),
    "rule": pl.String(),
    "confidence": pl.Float64(),
}


@dataclass
class Decoded:
    """Conversions plus the accounting: every transaction with a conversion event is either a
    row of ``conversions`` or counted in ``skipped`` (``txs == rows + sum(skipped)``)."""

    conversions: pl.DataFrame
    skipped: Counter[str] = field(default_factory=Counter)
    skips: list[tuple[str, str]] = field(default_factory=list)  # (tx hash, reason) per skip
    problems: list[str] = field(default_factory=list)  # one clear message per bad log / token
    unknown_decimals: int = 0  # conversion rows whose token decimals are unknown (rates need them)
    txs: int = 0

    def summary(self) -> dict[str, int]:
        """Counts by outcome, for the CLI and reports."""
        out = {"transactions with conversion events": self.txs,
               "conversions": self.conversions.height}  # fmt: skip
        out.update({f"skipped: {k}": v for k, v in sorted(self.skipped.items())})
        out["rows with unknown decimals"] = self.unknown_decimals
        return out


class _Malformed(ValueError):
    pass


def _addr(chain: str, word: str) -> str:
    """An address from a 32-byte topic or a log's 20-byte ``address``, as the chain writes it."""
    h = word[-40:]
    return tron_hex_to_base58("41" + h) if chain == TRON else "0x" + h


def _uint(data: str, i: int) -> int:
    return int(data[2 + 64 * i : 2 + 64 * (i + 1)], 16)


def _check(kind_info: tuple[str, str, int, int], n_topics: int, data: str, li: int) -> None:
    _, _, want_topics, want_bytes = kind_info
    if n_topics != want_topics:
        raise _Malformed(f"log {li}: {n_topics} topics, the event has {want_topics}")
    body = data[2:]
    if len(body) != 2 * want_bytes:
        raise _Malformed(f"log {li}: data has {len(body) // 2} bytes, the event has {want_bytes}")
    try:
        bytes.fromhex(body)
    except ValueError:
        raise _Malformed(f"log {li}: data is not hex") from None


def _nets(flows: list[tuple[str, str | None, str, int]]) -> dict[str, dict[str | None, int]]:
    """address → asset (token, None = native) → net inflow."""
    net: dict[str, dict[str | None, int]] = defaultdict(lambda: defaultdict(int))
    for src, token, dst, value in flows:
        net[src][token] -= value
        net[dst][token] += value
    return {a: {t: v for t, v in d.items() if v} for a, d in net.items()}


def resolve(
    flows: list[tuple[str, str | None, str, int]],
    excluded: set[str],
    sender: str | None = None,
) -> tuple[str, str, str | None, int, str | None, int] | str:
    """``(trader, recipient, token_in, value_in, token_out, value_out)`` or a skip reason.

    The trader is the one non-excluded address with a net outflow and a net inflow (the sender
    when several); failing that, exactly one address that only paid one asset and exactly one
    that only received one other asset are payer and recipient (a swap paying someone else).
    A pure function of the flows, so the hypothesis test can compare it with a plain reference.
    """
    nets = {a: d for a, d in _nets(flows).items() if a not in excluded and d}
    cands = [a for a, d in nets.items() if min(d.values()) < 0 < max(d.values())]
    if sender in cands:
        trader = sender
    elif len(cands) == 1:
        trader = cands[0]
    elif cands:
        return SKIP_SEVERAL_TRADERS
    else:
        payers = [a for a, d in nets.items() if len(d) == 1 and min(d.values()) < 0]
        payees = [a for a, d in nets.items() if len(d) == 1 and max(d.values()) > 0]
        if len(payers) == 1 and len(payees) == 1 and len(nets) == 2:
            ((t_in, v_in),) = nets[payers[0]].items()
            ((t_out, v_out),) = nets[payees[0]].items()
            if t_in != t_out:
                return payers[0], payees[0], t_in, -v_in, t_out, v_out
        return SKIP_NO_TRADER
    d = nets[trader]
    outs = [(t, -v) for t, v in d.items() if v < 0]
    ins = [(t, v) for t, v in d.items() if v > 0]
    if len(outs) != 1 or len(ins) != 1:
        return SKIP_SEVERAL_ASSETS
    return trader, trader, outs[0][0], outs[0][1], ins[0][0], ins[0][1]


def chain_tx_hashes(logs: pl.DataFrame, chain: str) -> pl.DataFrame:
    """Logs with transaction hashes written as the chain's canonical transfers write them
    (Tron ids have no ``0x``: TronGrid omits it, its JSON-RPC adds it)."""
    if chain == TRON:
        return logs.with_columns(pl.col("tx_hash").str.strip_prefix("0x"))
    return logs


def _is_event(chain: str, wrapped: set[str]) -> pl.Expr:
    """A log that marks a conversion: a known event, wraps only from wrapped-native contracts."""
    topics = list(known_events())
    wrap_topics = [t for t, k in known_events().items() if k[0] in ("deposit", "withdrawal")]
    forms = set(wrapped)
    if chain == TRON:  # Tron logs name the emitter in hex (0x… or 41…); the registry, base58
        hexes = {tron_base58_to_hex(w) for w in wrapped if w.startswith("T")}
        forms |= hexes | {"0x" + h[2:] for h in hexes}
    return pl.col("topic0").is_in(topics) & (
        ~pl.col("topic0").is_in(wrap_topics) | pl.col("address").is_in(sorted(forms))
    )


def event_tx_hashes(logs: pl.DataFrame, chain: str, wrapped: set[str] | None = None) -> list[str]:
    """The transactions that hold a conversion event (what the native legs are needed for)."""
    wrapped = WRAPPED_NATIVE.get(chain, set()) if wrapped is None else wrapped
    hits = chain_tx_hashes(logs, chain).filter(_is_event(chain, wrapped))
    return hits["tx_hash"].drop_nulls().unique().sort().to_list()


def decode_conversions(
    logs: pl.DataFrame,
    *,
    chain: str = "ethereum",
    native: pl.DataFrame | None = None,
    tokens: TokenTable | None = None,
    wrapped: set[str] | None = None,
) -> Decoded:
    """Decode conversions from a :data:`tracer.sources.raw_logs.LOG_SCHEMA` frame.

    ``native``: canonical native-coin transfers (``token`` null) of the same transactions — the
    ethereum-etl ``transactions`` reader (``seq`` 0: the transaction's own value; its ``src`` is
    the sender, preferred as the trader) and/or a traces reader (``seq`` ≥ 2**61). Where a
    transaction has traces, they are the native legs; otherwise legs implied by wrap and V1
    events are added (see the module docstring).
    """
    tokens = tokens or load_tokens()
    wrapped = WRAPPED_NATIVE.get(chain, set()) if wrapped is None else wrapped
    logs = chain_tx_hashes(logs, chain)
    event_txs = logs.filter(_is_event(chain, wrapped)).select("tx_hash").unique()
    decoded = Decoded(pl.DataFrame(schema=CONVERSION_SCHEMA))
    if event_txs.height == 0:
        return decoded
    if event_txs["tx_hash"].null_count():
        decoded.skipped[SKIP_NO_TX_HASH] += event_txs["tx_hash"].null_count()
        event_txs = event_txs.drop_nulls()
    sub = logs.join(event_txs, on="tx_hash", how="semi").sort("tx_hash", "log_index")
    decoded.txs = event_txs.height + decoded.skipped[SKIP_NO_TX_HASH]
    native_by_tx: dict[str, list[tuple[int, str, str, int]]] = defaultdict(list)
    if native is not None and native.height:
        nat = native.filter(pl.col("token").is_null()).join(event_txs, on="tx_hash", how="semi")
        nat = nat.unique(["tx_hash", "seq"], keep="first", maintain_order=True)
        for h, seq, s, d, v in nat.select("tx_hash", "seq", "src", "dst", "value").iter_rows():
            native_by_tx[h].append((seq, s, d, int(v)))
    wrapped_set = wrapped if chain != TRON else {_norm_tron(w) for w in wrapped}
    cols = sub.select(
        "tx_hash", "log_index", "block", "ts", "address", "topic0", "topic1", "topic2", "topic3",
        "n_topics", "data",
    ).rows()  # fmt: skip
    rows: list[dict[str, Any]] = []
    i = 0
    while i < len(cols):
        j = i
        while j < len(cols) and cols[j][0] == cols[i][0]:
            j += 1
        row = _one_tx(cols[i:j], chain, native_by_tx.get(cols[i][0], []), wrapped_set, decoded)
        if row is not None:
            rows.append(row)
        i = j
    lists = ("pools", "log_indices", "flow_log_indices")
    build = {**CONVERSION_SCHEMA, "ts": pl.Int64(), **dict.fromkeys(lists, pl.String())}
    columns = {name: [r[name] for r in rows] for name in build}
    frame = pl.DataFrame(columns, schema=build).with_columns(
        pl.col("ts").cast(pl.Datetime("us", "UTC")),
        pl.col("pools").str.split(";"),
        *(
            pl.col(c)
            .str.split(";")
            .list.eval(pl.element().filter(pl.element() != "").cast(pl.Int64))
            for c in lists[1:]
        ),
    )
    decoded.conversions = _with_metadata(frame, chain, tokens, decoded)
    return decoded


def _norm_tron(a: str) -> str:
    return a if a.startswith("T") else tron_hex_to_base58(a)


def _one_tx(
    logs: list[tuple[Any, ...]],
    chain: str,
    native: list[tuple[int, str, str, int]],
    wrapped: set[str],
    decoded: Decoded,
) -> dict[str, Any] | None:
    tx = logs[0][0]
    flows: list[tuple[str, str | None, str, int]] = []
    flow_logs: dict[int, tuple[str, str]] = {}
    events: list[tuple[int, str, str]] = []  # (log index, kind, emitter)
    pools: set[str] = set()
    implied: list[tuple[str, str, int, str]] = []  # native legs implied by events, with the rule
    unwrappers: set[str] = set()
    li = None
    try:
        for _, li, _, _, address, t0, t1, t2, t3, n, data in logs:
            emitter = _addr(chain, address)
            if t0 == TRANSFER and n == 3:
                if len(data) != 66:
                    raise _Malformed(f"log {li}: Transfer data has {(len(data) - 2) // 2} bytes, "
                                     "expected a 32-byte uint256")  # fmt: skip
                src, dst = _addr(chain, t1), _addr(chain, t2)
                flows.append((src, emitter, dst, int(data[2:], 16)))
                flow_logs[li] = (src, dst)
                continue
            info = known_events().get(t0)
            if info is None:
                continue
            kind = info[0]
            if kind in ("deposit", "withdrawal") and emitter not in wrapped:
                continue  # the same signature from a contract that is not a wrapped native coin
            _check(info, n, data, li)
            events.append((li, info[1], emitter))
            pools.add(emitter)
            if kind == "deposit":
                who, wad = _addr(chain, t1), _uint(data, 0)
                flows.append((ZERO_FOR[chain], emitter, who, wad))  # WETH9 emits no Transfer
                implied.append((who, emitter, wad, "+wrap-legs"))
            elif kind == "withdrawal":
                who, wad = _addr(chain, t1), _uint(data, 0)
                flows.append((who, emitter, ZERO_FOR[chain], wad))
                implied.append((emitter, who, wad, "+wrap-legs"))
                unwrappers.add(who)
            elif kind == "v1-buy":  # TokenPurchase(buyer, native sold, tokens bought)
                implied.append((_addr(chain, t1), emitter, int(t2[2:], 16), "+v1-legs"))
            elif kind == "v1-sell":  # EthPurchase/TrxPurchase(buyer, tokens sold, native bought)
                implied.append((emitter, _addr(chain, t1), int(t3[2:], 16), "+v1-legs"))
                unwrappers.add(_addr(chain, t1))
    except _Malformed as exc:
        decoded.skipped[SKIP_MALFORMED] += 1
        decoded.skips.append((tx, SKIP_MALFORMED))
        decoded.problems.append(f"{chain} tx {tx}: {exc}")
        return None
    except (ValueError, TypeError, AttributeError) as exc:  # non-hex words, missing topics
        decoded.skipped[SKIP_MALFORMED] += 1
        decoded.skips.append((tx, SKIP_MALFORMED))
        decoded.problems.append(f"{chain} tx {tx}: log {li}: cannot decode ({exc})")
        return None
    # seq 0 is the transaction's own value; >= 2**61 an internal call from a traces export
    # (tracer.sources.traces.trace_seq); content-derived (negative) rows are plain transfers
    traced = any(seq >= 1 << 61 for seq, *_ in native)
    sender = next((s for seq, s, _, _ in native if seq == 0), None)
    rules = ["net-flow"]
    confidence = 1.0
    for _, s, d, v in native:
        flows.append((s, None, d, v))
    if not traced:
        top = {(s, d, v) for seq, s, d, v in native if seq == 0}
        for s, d, v, rule in implied:
            if (s, d, v) in top:
                top.discard((s, d, v))  # the transaction's own value already is this leg
                continue
            flows.append((s, None, d, v))
            if rule not in rules:
                rules.append(rule)
                confidence = min(confidence, 0.9 if rule == "+v1-legs" else 1.0)
    # only assets that the pools moved (and the native coin when wrapped or V1-swapped) belong
    # to the conversion: a tip to a bot or a claim in the same transaction is a plain transfer
    involved: set[str | None] = {t for s, t, d, _ in flows if s in pools or d in pools}
    if implied:
        involved.add(None)
    involved |= {e for _, p, e in events if p == "wrap"}  # the wrapped token itself
    flows = [f for f in flows if f[1] in involved]
    excluded = pools | ZERO
    got = resolve(flows, excluded, sender)
    if not isinstance(got, str) and not traced and None in involved:
        trader, recipient, token_in, _, token_out, _ = got
        real_payers = {src for _, src, _, _ in native}
        if token_in is None and trader not in real_payers:
            # the only native outflow seen is a router's wrap: who paid it is not in the inputs
            got = SKIP_NEEDS_TRACES
        elif token_out is None and recipient != trader and recipient in unwrappers:
            # a router unwrapped and, without traces, is not seen paying on: assume the payer
            got = (trader, trader, *got[2:])
            rules.append("+unwrap-forward")
            confidence = min(confidence, 0.7)
        else:
            # any other address left holding or owing native coin: the figure is unsure
            nets = _nets(flows)
            others = [a for a in nets if a not in excluded and a not in (trader, recipient)]
            if any(nets[a].get(None) for a in others):
                got = SKIP_NEEDS_TRACES
    if got == SKIP_NO_TRADER and not traced and unwrappers:
        got = SKIP_NEEDS_TRACES
    if isinstance(got, str):
        decoded.skipped[got] += 1
        decoded.skips.append((tx, got))
        return None
    trader, recipient, token_in, value_in, token_out, value_out = got
    protocols = sorted({p for _, p, _ in events})
    return {
        "chain": chain,
        "tx_hash": tx,
        "block": logs[0][2],
        "ts": logs[0][3],
        "trader": trader,
        "recipient": recipient,
        "asset_in": None,
        "token_in": token_in,
        "value_in": str(value_in),
        "decimals_in": None,
        "asset_out": None,
        "token_out": token_out,
        "value_out": str(value_out),
        "decimals_out": None,
        "protocol": "+".join(protocols),
        # lists travel as ";"-joined text and are split in one vectorised pass: building
        # a list Series per row was half the decode time on 1M logs
        "pools": ";".join(sorted(pools)),
        "log_indices": ";".join(str(li) for li in sorted(li for li, _, _ in events)),
        "flow_log_indices": ";".join(
            str(li)
            for li in sorted(li for li, (s, d) in flow_logs.items() if {s, d} & {trader, recipient})
        ),
        "rule": "".join(rules),
        "confidence": confidence,
    }


ZERO_FOR = defaultdict(lambda: "0x0000000000000000000000000000000000000000",
                       {TRON: "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb"})  # fmt: skip


def _with_metadata(frame: pl.DataFrame, chain: str, tokens: TokenTable, d: Decoded) -> pl.DataFrame:
    """Symbols and decimals from the token table; unknown decimals are reported per token."""
    if frame.height == 0:
        return frame
    symbol, decimals = NATIVE.get(chain, (None, None))
    meta = tokens.frame().filter(pl.col("chain") == chain).select("token", "symbol", "decimals")
    out = frame
    for side in ("in", "out"):
        m = meta.rename({"token": f"token_{side}", "symbol": "_s", "decimals": "_d"})
        out = out.join(m, on=f"token_{side}", how="left", maintain_order="left").with_columns(
            pl.when(pl.col(f"token_{side}").is_null()).then(pl.lit(symbol)).otherwise(pl.col("_s"))
            .alias(f"asset_{side}"),
            pl.when(pl.col(f"token_{side}").is_null()).then(pl.lit(decimals, pl.Int16))
            .otherwise(pl.col("_d")).alias(f"decimals_{side}"),
        ).drop("_s", "_d")  # fmt: skip
    d.unknown_decimals, problems = unknown_decimals(out)
    d.problems.extend(problems)
    return out.select(list(CONVERSION_SCHEMA)).cast(CONVERSION_SCHEMA)  # type: ignore[arg-type]


def unknown_decimals(frame: pl.DataFrame) -> tuple[int, list[str]]:
    """Rows of a conversion frame with a token of unknown decimals, and one message per token
    (exact values are kept, but no rate in token units can be computed for them). One
    group-by, not a filter per token: a logs export can hold thousands of unknown tokens."""
    unknown = frame.filter(pl.col("decimals_in").is_null() | pl.col("decimals_out").is_null())
    rows = unknown.with_row_index("_r")
    long = pl.concat([
        rows.select("chain", pl.col(f"token_{s}").alias("token"), "_r",
                    pl.col(f"decimals_{s}").is_null().alias("_unknown"))
        for s in ("in", "out")
    ])  # fmt: skip
    missing = long.filter("_unknown").select("chain", "token").unique()
    per_token = (
        long.join(missing, on=["chain", "token"], how="semi", nulls_equal=True)
        .group_by("chain", "token").agg(pl.col("_r").n_unique().alias("n"))
        .sort("chain", "token", nulls_last=True)
    )  # fmt: skip
    problems = [
        f"{chain} token {t}: decimals unknown ({n} conversion(s) keep exact values but no rate "
        "in token units; add it with --tokens FILE: chain,token,symbol,decimals)"
        for chain, t, n in per_token.rows()
    ]
    return unknown.height, problems


LOG_FORMATS = ("eth-getlogs", "ethereum-etl-logs")
NATIVE_FORMATS = (
    "ethereum-etl-transactions",
    "ethereum-etl-traces",
    "parity-traces",
    "geth-traces",
    "trongrid-internal",
    "trongrid-trx",
)


@dataclass
class FileRead:
    """What one input file contributed (for the CLI's accounting)."""

    file: str
    kind: str  # "logs" | "native"
    format: str
    rows: int
    skipped: Counter[str]


def file_format(path: str | Path, fmt: str | None = None) -> str:
    """The format a conversion decode reads ``path`` as: an ethereum-etl stream whose first
    record is a log counts as a logs export (the transfer readers call it a token stream)."""
    from tracer.sources import detect
    from tracer.sources.sample import sample

    if fmt is not None:
        return fmt
    s = sample(Path(path))
    is_log_stream = s.kind == "ndjson" and (s.first or {}).get("type") == "log"
    return "ethereum-etl-logs" if is_log_stream else detect(s)


def decode_files(
    paths: list[str],
    *,
    chain: str | None = None,
    tokens: TokenTable | None = None,
    blocks: pl.DataFrame | None = None,
) -> tuple[Decoded, list[FileRead]]:
    """Decode conversions from log files plus optional transactions/traces files, in memory.

    Each file is sniffed: logs (``eth_getLogs``, ethereum-etl ``logs.csv`` or a stream of ``log``
    records) go to the decoder, native-coin exports (transactions, traces, TronGrid) become the
    native legs. Trace exports carry block numbers only: their times come from ``blocks`` or,
    failing that, from the logs' own ``(block, time)`` pairs.
    """
    from tracer.core.addresses import normalize_chain
    from tracer.core.errors import UsageError
    from tracer.sources import ReadOptions, read_file
    from tracer.sources.raw_logs import read_logs

    chain_name = normalize_chain(chain) if chain else "ethereum"
    tokens = tokens or load_tokens()
    logs_parts, reads, native_paths = [], [], []
    for path in paths:
        fmt = file_format(path)
        if fmt in LOG_FORMATS:
            raw = read_logs(path)
            logs_parts.append(raw.logs)
            reads.append(FileRead(path, "logs", fmt, raw.logs.height, raw.skipped))
        elif fmt in NATIVE_FORMATS:
            native_paths.append((path, fmt))
        else:
            raise UsageError(
                f"{path}: a {fmt} export is neither logs nor native-coin transfers; conversions "
                f"read logs ({', '.join(LOG_FORMATS)}) and native transfers "
                f"({', '.join(NATIVE_FORMATS)})"
            )
    if not logs_parts:
        raise UsageError("conversions need at least one logs file (eth_getLogs or logs export)")
    logs = pl.concat(logs_parts).unique(["tx_hash", "log_index"], keep="first", maintain_order=True)
    if blocks is None:
        blocks = (
            logs.filter(pl.col("ts").is_not_null())
            .select(pl.lit(None, pl.String).alias("chain"), "block", "ts")
            .unique("block")
        )
    # a TronGrid transactions page holds both: TRX transfers and each record's internal ones
    native_paths += [(p, "trongrid-internal") for p, f in native_paths if f == "trongrid-trx"]
    native_frames = []
    for path, fmt in native_paths:
        loaded = read_file(path, fmt=fmt, options=ReadOptions(chain=chain, tokens=tokens,
                                                              blocks=blocks))  # fmt: skip
        native_frames.append(loaded.transfers.filter(pl.col("token").is_null()))
        reads.append(FileRead(path, "native", fmt, loaded.transfers.height, loaded.skipped))
    native = pl.concat(native_frames) if native_frames else None
    return decode_conversions(logs, chain=chain_name, native=native, tokens=tokens), reads


def __getattr__(name: str) -> Any:
    """``EVENTS``: :func:`known_events`, computed on first use."""
    if name == "EVENTS":
        return known_events()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
