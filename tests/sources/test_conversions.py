"""Conversions decoded from real and synthetic logs; amounts must equal the trader's own flows."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from typing import Any

import polars as pl
import pytest
from eth_abi import decode as abi_decode
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES
from tracer.sources import conversions as cv
from tracer.sources import read_file
from tracer.sources.raw_logs import LOG_SCHEMA, read_logs

STREAM = FIXTURES / "ethereum_etl" / "blocks_17173049_17173050"
HAND = FIXTURES / "conversions" / "expected_conversions_17173049.csv"
V2 = next(t for t, k in cv.EVENTS.items() if k[0] == "v2")
V3 = next(t for t, k in cv.EVENTS.items() if k[0] == "v3")
WITHDRAWAL = next(t for t, k in cv.EVENTS.items() if k[0] == "withdrawal")
DEPOSIT = next(t for t, k in cv.EVENTS.items() if k[0] == "deposit")
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"


@pytest.fixture(scope="module")
def real() -> tuple[pl.DataFrame, pl.DataFrame]:
    logs = read_logs(STREAM / "expected_logs.json").logs
    txs = read_file(STREAM / "expected_transactions.json", fmt="ethereum-etl-transactions")
    return logs, txs.transfers


def test_topics_are_the_keccak_of_the_signatures() -> None:
    """Checked with pycryptodome's Keccak (not web3: importing web3 raises the interpreter's
    recursion limit to 100000, which lets deeply nested JSON in other tests crash the process)."""
    from Crypto.Hash import keccak

    def topic(sig: str) -> str:
        return "0x" + keccak.new(digest_bits=256, data=sig.encode()).hexdigest()

    signatures = {
        "Swap(address,uint256,uint256,uint256,uint256,address)": "v2",
        "Swap(address,address,int256,int256,uint160,uint128,int24)": "v3",
        "TokenExchange(address,int128,uint256,int128,uint256)": "curve",
        "TokenExchange(address,uint256,uint256,uint256,uint256)": "curve",
        "TokenExchangeUnderlying(address,int128,uint256,int128,uint256)": "curve",
        "Deposit(address,uint256)": "deposit",
        "Withdrawal(address,uint256)": "withdrawal",
        "TokenPurchase(address,uint256,uint256)": "v1-buy",
        "EthPurchase(address,uint256,uint256)": "v1-sell",
        "TrxPurchase(address,uint256,uint256)": "v1-sell",
    }
    assert {topic(s): k for s, k in signatures.items()} == {t: v[0] for t, v in cv.EVENTS.items()}
    assert topic("Transfer(address,address,uint256)") == cv.TRANSFER


def test_hand_written_rows(real: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    logs, txs = real
    got = cv.decode_conversions(logs, native=txs).conversions
    rows = list(csv.DictReader(HAND.read_text().splitlines()))
    assert len(rows) == 5
    for want in rows:
        row = got.filter(pl.col("tx_hash") == want["tx_hash"]).to_dicts()
        assert len(row) == 1, want["tx_hash"]
        g = row[0]
        for key in ("trader", "recipient", "value_in", "value_out", "protocol", "rule"):
            assert g[key] == want[key], (want["tx_hash"], key)
        assert g["token_in"] == (want["token_in"] or None)
        assert g["token_out"] == (want["token_out"] or None)
        assert g["pools"] == want["pools"].split(";")
        assert g["log_indices"] == [int(i) for i in want["log_indices"].split(";")]
        assert g["confidence"] == float(want["confidence"])
    usdc = got.filter(pl.col("tx_hash") == rows[0]["tx_hash"])
    assert usdc.select("asset_in", "decimals_in", "asset_out", "decimals_out").row(0) == (
        "USDC", 6, "USDT", 6,
    )  # fmt: skip


def _withdrawals(logs: pl.DataFrame, tx: str) -> int:
    w = logs.filter((pl.col("tx_hash") == tx) & (pl.col("topic0") == WITHDRAWAL))
    return sum(abi_decode(["uint256"], bytes.fromhex(d[2:]))[0] for d in w["data"])


def test_every_swap_transaction_is_decoded_from_its_own_transfer_logs(
    real: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    """The 68 V2/V3 swap transactions: each is a conversion or a counted skip, and every decoded
    amount equals the trader's net flow in ethereum-etl's *own* token_transfers decode."""
    logs, txs = real
    swaps = logs.filter(pl.col("topic0").is_in([V2, V3]))["tx_hash"].unique()
    assert swaps.len() == 68
    decoded = cv.decode_conversions(logs, native=txs)
    assert decoded.txs == decoded.conversions.height + sum(decoded.skipped.values())
    conv = decoded.conversions.filter(pl.col("tx_hash").is_in(swaps.implode()))
    assert conv.height == 58  # the other 10 need traces (refunds, fee-on-transfer payouts)
    assert dict(decoded.skipped) == {cv.SKIP_NEEDS_TRACES: 10}
    net: dict[tuple[str, str, str], int] = defaultdict(int)
    for line in (STREAM / "expected_token_transfers.json").read_text().splitlines():
        r = json.loads(line)
        v = int(r["value"])
        net[(r["transaction_hash"], r["from_address"], r["token_address"])] -= v
        net[(r["transaction_hash"], r["to_address"], r["token_address"])] += v
    values = {
        json.loads(line)["hash"]: json.loads(line)
        for line in (STREAM / "expected_transactions.json").read_text().splitlines()
    }
    checked_native = 0
    for c in conv.iter_rows(named=True):
        tx, trader = c["tx_hash"], c["trader"]
        if c["token_in"] is not None:
            assert -net[(tx, trader, c["token_in"])] == int(c["value_in"]), tx
        else:  # ETH paid in the transaction's own value
            assert values[tx]["from_address"] == trader
            assert int(values[tx]["value"]) == int(c["value_in"]), tx
            checked_native += 1
        if c["token_out"] is not None:
            assert net[(tx, c["recipient"], c["token_out"])] == int(c["value_out"]), tx
        else:  # ETH out: what WETH paid out on Withdrawal
            assert _withdrawals(logs, tx) == int(c["value_out"]), tx
            checked_native += 1
        assert c["log_indices"] and set(c["pools"])
    assert checked_native > 20


def test_without_transactions_sender_paid_eth_is_not_guessed(
    real: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    logs, _ = real
    decoded = cv.decode_conversions(logs)
    eth_in = decoded.conversions.filter(pl.col("token_in").is_null())
    assert eth_in.height == 0  # who paid the ETH is in the transactions export, not the logs
    assert decoded.skipped[cv.SKIP_NEEDS_TRACES] > 20
    assert decoded.txs == decoded.conversions.height + sum(decoded.skipped.values())


def test_unknown_decimals_are_reported_not_dropped(real: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    logs, txs = real
    decoded = cv.decode_conversions(logs, native=txs)
    unknown = decoded.conversions.filter(
        pl.col("decimals_in").is_null() | pl.col("decimals_out").is_null()
    )
    assert unknown.height == decoded.unknown_decimals > 0
    token = unknown["token_out"].drop_nulls()[0] if unknown["decimals_out"].null_count() else None
    if token is not None:
        assert any(token in p and "decimals unknown" in p for p in decoded.problems)


# -- synthetic logs -------------------------------------------------------------------------------


def word(x: int | str) -> str:
    if isinstance(x, str):
        return "0x" + x.removeprefix("0x").rjust(64, "0")
    return "0x" + format(x, "064x")


def data(*xs: int) -> str:
    return "0x" + "".join(format(x % (1 << 256), "064x") for x in xs)


def make_logs(
    entries: list[tuple[str, str, list[str], str]], tx: str = "0x" + "ab" * 32
) -> pl.DataFrame:
    rows = []
    for i, (address, _, topics, body) in enumerate(entries):
        rows.append({
            "_row": i + 1, "tx_hash": tx, "log_index": i, "block": 7, "ts": 1_700_000_000_000_000,
            "address": address,
            **{f"topic{k}": (topics[k] if k < len(topics) else None) for k in range(4)},
            "n_topics": len(topics), "data": body,
        })  # fmt: skip
    return pl.DataFrame(rows, schema=LOG_SCHEMA)


def transfer(token: str, src: str, dst: str, value: int) -> tuple[str, str, list[str], str]:
    return token, "transfer", [cv.TRANSFER, word(src), word(dst)], data(value)


def v2_swap(pool: str, to: str) -> tuple[str, str, list[str], str]:
    return pool, "swap", [V2, word("0x" + "99" * 20), word(to)], data(1, 0, 0, 1)


def addr(i: int) -> str:
    return "0x" + format(i, "040x")


def reference_nets(flows: list[tuple[str, str, str, int]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = defaultdict(int)
    for token, src, dst, v in flows:
        out[(src, token)] -= v
        out[(dst, token)] += v
    return out


@st.composite
def routes(draw: Any) -> tuple[list[tuple[str, str, list[str], str]], str, list[tuple]]:
    hops = draw(st.integers(1, 4))
    tokens = [addr(0xA000 + i) for i in range(hops + 1)]
    pools = [addr(0xB000 + i) for i in range(hops)]
    trader, router = addr(0xC001), addr(0xC002)
    via_router = draw(st.booleans())
    amounts = [draw(st.integers(1, 2**200)) for _ in range(hops + 1)]
    flows: list[tuple[str, str, str, int]] = []
    if via_router:
        flows += [
            (tokens[0], trader, router, amounts[0]),
            (tokens[0], router, pools[0], amounts[0]),
        ]
    else:
        flows.append((tokens[0], trader, pools[0], amounts[0]))
    for k in range(hops):
        dst = pools[k + 1] if k + 1 < hops else (router if via_router else trader)
        flows.append((tokens[k + 1], pools[k], dst, amounts[k + 1]))
    if via_router:
        flows.append((tokens[-1], router, trader, amounts[-1]))
    # noise: pools paying fees among themselves in the route's tokens, an unrelated airdrop
    for _ in range(draw(st.integers(0, 3))):
        a, b = draw(st.sampled_from(pools)), draw(st.sampled_from(pools))
        flows.append((draw(st.sampled_from(tokens)), a, b, draw(st.integers(1, 10**30))))
    entries = [transfer(t, s, d, v) for t, s, d, v in flows]
    entries += [v2_swap(p, trader) for p in pools]
    order = draw(st.permutations(range(len(entries))))
    return [entries[i] for i in order], trader, flows


@settings(max_examples=150, deadline=None)
@given(routes())
def test_value_in_and_out_are_the_traders_net_flows(case: tuple) -> None:
    entries, trader, flows = case
    decoded = cv.decode_conversions(make_logs(entries), tokens=None)
    assert decoded.conversions.height == 1, decoded.skipped
    c = decoded.conversions.row(0, named=True)
    nets = reference_nets(flows)
    assert c["trader"] == trader == c["recipient"]
    assert int(c["value_in"]) == -nets[(trader, c["token_in"])] > 0
    assert int(c["value_out"]) == nets[(trader, c["token_out"])] > 0
    assert c["rule"] == "net-flow" and c["confidence"] == 1.0


def test_arbitrage_is_skipped_and_counted() -> None:
    t, bot, p1, p2 = addr(0xA1), addr(0xC1), addr(0xB1), addr(0xB2)
    u = addr(0xA2)
    entries = [transfer(t, bot, p1, 100), transfer(u, p1, p2, 50), transfer(t, p2, bot, 103),
               v2_swap(p1, p2), v2_swap(p2, bot)]  # fmt: skip
    decoded = cv.decode_conversions(make_logs(entries))
    assert decoded.conversions.height == 0 and decoded.skipped == {cv.SKIP_NO_TRADER: 1}


def test_several_traders_are_skipped_and_counted() -> None:
    a, b, p = addr(0xA1), addr(0xA2), addr(0xB1)
    t1, t2 = addr(0xC1), addr(0xC2)
    entries = [transfer(a, t1, p, 10), transfer(b, p, t1, 5), transfer(b, t2, p, 7),
               transfer(a, p, t2, 3), v2_swap(p, t1)]  # fmt: skip
    decoded = cv.decode_conversions(make_logs(entries))
    assert decoded.skipped == {cv.SKIP_SEVERAL_TRADERS: 1}


@pytest.mark.parametrize("body", ["0x1234", "0x" + "zz" * 32])
def test_malformed_transfer_is_a_clear_counted_problem(body: str) -> None:
    a, b, p, t = addr(0xA1), addr(0xA2), addr(0xB1), addr(0xC1)
    entries = [transfer(a, t, p, 10), (b, "transfer", [cv.TRANSFER, word(p), word(t)], body),
               v2_swap(p, t)]  # fmt: skip
    decoded = cv.decode_conversions(make_logs(entries))
    assert decoded.skipped == {cv.SKIP_MALFORMED: 1} and decoded.conversions.height == 0
    assert len(decoded.problems) == 1 and "log 1" in decoded.problems[0]
    assert ("0x" + "ab" * 32) in decoded.problems[0]


def test_malformed_swap_event_is_counted() -> None:
    a, b, p, t = addr(0xA1), addr(0xA2), addr(0xB1), addr(0xC1)
    bad_swap = (p, "swap", [V2, word(t), word(t)], data(1, 2))  # 64 bytes, the event has 128
    entries = [transfer(a, t, p, 10), transfer(b, p, t, 9), bad_swap]
    decoded = cv.decode_conversions(make_logs(entries))
    assert decoded.skipped == {cv.SKIP_MALFORMED: 1}
    assert "64 bytes, the event has 128" in decoded.problems[0]


def test_unwrap_with_a_trace_is_exact_and_deposit_from_other_contracts_is_ignored() -> None:
    tok, pool, router, trader = addr(0xA1), addr(0xB1), addr(0xC2), addr(0xC1)
    tx = "0x" + "ab" * 32
    entries = [
        transfer(tok, trader, pool, 500), transfer(WETH, pool, router, 70), v2_swap(pool, router),
        (WETH, "w", [WITHDRAWAL, word(router)], data(70)),
        (addr(0xDD), "d", [DEPOSIT, word(trader)], data(5)),  # not WETH: just an event
    ]  # fmt: skip
    native = pl.DataFrame({
        "chain": ["ethereum"] * 2, "tx_hash": [tx] * 2, "token": [None, None],
        "seq": [(1 << 61) + 5, (1 << 61) + 6], "src": [WETH, router], "dst": [router, trader],
        "value": ["70", "70"],
    }, schema_overrides={"token": pl.String})  # fmt: skip
    decoded = cv.decode_conversions(make_logs(entries, tx), native=native)
    c = decoded.conversions.row(0, named=True)
    assert (c["trader"], c["token_in"], c["value_in"], c["token_out"], c["value_out"]) == (
        trader, tok, "500", None, "70",
    )  # fmt: skip
    assert c["rule"] == "net-flow" and c["confidence"] == 1.0 and c["asset_out"] == "ETH"
    assert c["pools"] == sorted([pool, WETH]) and c["log_indices"] == [2, 3]
    without = cv.decode_conversions(make_logs(entries, tx)).conversions.row(0, named=True)
    assert without["rule"] == "net-flow+wrap-legs+unwrap-forward" and without["confidence"] == 0.7


def test_direct_wrap_counts_the_transactions_value_once() -> None:
    user, tx = addr(0xC1), "0x" + "ab" * 32
    entries = [(WETH, "d", [DEPOSIT, word(user)], data(40))]
    native = pl.DataFrame(
        {
            "tx_hash": [tx],
            "token": [None],
            "seq": [0],
            "src": [user],
            "dst": [WETH],
            "value": ["40"],
        },
        schema_overrides={"token": pl.String},
    )
    c = cv.decode_conversions(make_logs(entries, tx), native=native).conversions.row(0, named=True)
    assert (c["token_in"], c["value_in"], c["token_out"], c["value_out"]) == (
        None,
        "40",
        WETH,
        "40",
    )
    assert c["protocol"] == "wrap"


def test_curve_and_v1_events() -> None:
    usdt, usdc, pool, user = addr(0xA1), addr(0xA2), addr(0xB1), addr(0xC1)
    curve = next(t for t, k in cv.EVENTS.items() if k[0] == "curve")
    entries = [transfer(usdt, user, pool, 1000), transfer(usdc, pool, user, 998),
               (pool, "x", [curve, word(user)], data(2, 1000, 1, 998))]  # fmt: skip
    c = cv.decode_conversions(make_logs(entries)).conversions.row(0, named=True)
    assert (c["protocol"], c["value_in"], c["value_out"]) == ("curve", "1000", "998")
    # JustSwap V1 on Tron: TrxPurchase(buyer, tokens sold, trx bought): the TRX leg is internal
    trx_purchase = next(t for t, k in cv.EVENTS.items() if k[1] == "justswap-v1")
    exchange = "0x" + "e1" * 20
    buyer, token = "0x" + "c1" * 20, "0x" + "a6" * 20
    entries = [transfer(token, buyer, exchange, 300),
               (exchange, "x", [trx_purchase, word(buyer), word(300), word(42)], "0x")]  # fmt: skip
    d = cv.decode_conversions(make_logs(entries, "0x" + "cd" * 32), chain="tron")
    c = d.conversions.row(0, named=True)
    assert c["trader"].startswith("T") and c["token_out"] is None and c["value_out"] == "42"
    assert (c["asset_out"], c["protocol"], c["confidence"]) == ("TRX", "justswap-v1", 0.9)


def test_wtrx_wrap_on_tron_and_other_deposits_are_not_events() -> None:
    from tracer.core.addresses import normalize_tron, tron_base58_to_hex

    wtrx_b58 = "TNUC9Qb1rRpS5CbWLmNMxXBjyFoydXjWFR"
    wtrx = "0x" + tron_base58_to_hex(wtrx_b58)[2:]
    user = "0x" + "c1" * 20
    user_b58 = normalize_tron("41" + "c1" * 20)
    tx = "0x" + "cd" * 32
    native = pl.DataFrame(
        {"tx_hash": ["cd" * 32], "token": [None], "seq": [0], "src": [user_b58],
         "dst": [wtrx_b58], "value": ["9"]}, schema_overrides={"token": pl.String},
    )  # fmt: skip
    entries = [(wtrx, "d", [DEPOSIT, word(user)], data(9))]
    d = cv.decode_conversions(make_logs(entries, tx), chain="tron", native=native)
    c = d.conversions.row(0, named=True)
    assert (c["trader"], c["token_in"], c["value_in"]) == (user_b58, None, "9")
    assert (c["token_out"], c["asset_out"], c["asset_in"]) == (wtrx_b58, "WTRX", "TRX")
    assert c["tx_hash"] == "cd" * 32 and c["protocol"] == "wrap"
    # without the transaction's own value, who paid the TRX is not known: counted, not guessed
    d = cv.decode_conversions(make_logs(entries, tx), chain="tron")
    assert d.skipped == {cv.SKIP_NEEDS_TRACES: 1}
    other = [("0x" + "dd" * 20, "d", [DEPOSIT, word(user)], data(9))]
    d = cv.decode_conversions(make_logs(other, tx), chain="tron")
    assert d.txs == 0 and d.conversions.height == 0


def test_sunswap_to_trx_with_trongrid_internal_transactions_is_exact() -> None:
    """SunSwap V2 token → TRX: the router unwraps WTRX and pays TRX in an internal transaction;
    with TronGrid's internal transactions as the native legs the conversion needs no inference."""
    from tracer.core.addresses import normalize_tron, tron_base58_to_hex
    from tracer.sources.traces import trace_seq

    wtrx_b58 = "TNUC9Qb1rRpS5CbWLmNMxXBjyFoydXjWFR"
    wtrx = "0x" + tron_base58_to_hex(wtrx_b58)[2:]
    usdt_b58 = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    usdt = "0x" + tron_base58_to_hex(usdt_b58)[2:]
    trader, router, pool = ("0x" + c * 20 for c in ("c1", "c2", "b1"))
    b58 = {a: normalize_tron("41" + a[2:]) for a in (trader, router, pool)}
    entries = [
        transfer(usdt, trader, pool, 1_000_000), transfer(wtrx, pool, router, 7_000_000),
        v2_swap(pool, router), (wtrx, "w", [WITHDRAWAL, word(router)], data(7_000_000)),
    ]  # fmt: skip
    tx = "ef" * 32
    native = pl.DataFrame(
        {"tx_hash": [tx, tx], "token": [None, None],
         "seq": [trace_seq(None, "01" * 32), trace_seq(None, "02" * 32)],
         "src": [wtrx_b58, b58[router]], "dst": [b58[router], b58[trader]],
         "value": ["7000000", "7000000"]}, schema_overrides={"token": pl.String},
    )  # fmt: skip
    d = cv.decode_conversions(make_logs(entries, "0x" + tx), chain="tron", native=native)
    c = d.conversions.row(0, named=True)
    assert (c["trader"], c["asset_in"], c["value_in"], c["asset_out"], c["value_out"]) == (
        b58[trader], "USDT", "1000000", "TRX", "7000000",
    )  # fmt: skip
    assert (c["rule"], c["confidence"], c["tx_hash"]) == ("net-flow", 1.0, tx)
    assert set(c["pools"]) == {b58[pool], wtrx_b58}
