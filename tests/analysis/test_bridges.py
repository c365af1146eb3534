"""Bridge legs decoded from registry-driven logs, matched exactly by id, else as candidates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.analysis import bridge_logs as bl
from tracer.analysis import bridges as br
from tracer.analysis.hops import load_hops
from tracer.core.errors import InputError
from tracer.core.hops import HOP_SCHEMA
from tracer.sources.bridge_events import (
    BRIDGE_EVENT_SCHEMA,
    decode_bridge_events,
    load_registry,
    read_registry,
)
from tracer.store.workspace import Workspace

USDC_ETH = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
USDC_BASE = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"
ALICE, BOB, CAROL = "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20
TOKENS = pl.DataFrame({"chain": ["ethereum", "base"], "token": [USDC_ETH, USDC_BASE],
                       "asset": ["USDC", "USDC"], "decimals": [6, 6]})  # fmt: skip
NO_TRANSFERS = pl.DataFrame(schema={
    "chain": pl.String, "tx_hash": pl.String, "seq": pl.Int64, "src": pl.String,
    "dst": pl.String, "token": pl.String})  # fmt: skip


def _events(eth: list[dict], base: list[dict]) -> pl.DataFrame:
    reg = load_registry()
    return pl.concat([decode_bridge_events(bl.frame(eth), "ethereum", reg),
                      decode_bridge_events(bl.frame(base), "base", reg)])  # fmt: skip


def test_registry_topics_are_circles_events() -> None:
    """topic0 values of CCTP V1 as they appear on Etherscan for the TokenMessenger and the
    MessageTransmitter (Keccak of the canonical signatures in Circle's contracts)."""
    by_name = {e.name: e.topic0 for e in load_registry() if e.protocol == "cctp-v1"}
    assert by_name["DepositForBurn"] == (
        "0x2fa9ca894982930190727e75500a97d8dc500233a5065e0f3126c48fbe0343c0")
    assert by_name["MessageReceived"] == (
        "0x58200b4c34ae05ee816d710053fff3fb75af4395915d3d2a771b24aa10e3cc5d")
    domains = {e.chain: e.domain for e in load_registry() if e.protocol == "cctp-v1"}
    assert domains == {"ethereum": 0, "avalanche": 1, "optimism": 2, "arbitrum": 3, "base": 6,
                       "polygon": 7}  # fmt: skip


def test_cctp_burn_and_mint_are_one_exact_hop_with_their_legs() -> None:
    eth = [bl.burn("ethereum", "0xaa", 5, 1000, nonce=7, token=USDC_ETH, amount=2_500_000,
                   sender=ALICE, recipient=BOB, dest_domain=6)]  # fmt: skip
    base = bl.mint("base", "0xbb", 3, 1600, nonce=7, source_domain=0, token=USDC_BASE,
                   amount=2_500_000, recipient=BOB)  # fmt: skip
    transfers = pl.DataFrame({
        "chain": ["ethereum", "ethereum", "base"], "tx_hash": ["0xaa", "0xaa", "0xbb"],
        "seq": [3, 4, 2], "src": [ALICE, "0x" + "99" * 20, "0x" + "00" * 20],
        "dst": ["0x" + "99" * 20, "0x" + "00" * 20, BOB], "token": [USDC_ETH, USDC_ETH, USDC_BASE],
    })  # fmt: skip
    m = br.match_bridges(_events(eth, base), transfers, TOKENS)
    assert m.hops.schema == pl.Schema(HOP_SCHEMA)
    (h,) = m.hops.to_dicts()
    assert (h["rule"], h["confidence"], h["inferred"]) == ("cctp-domain-nonce", 1.0, False)
    assert (h["chain_in"], h["tx_in"], h["address_in"]) == ("ethereum", "0xaa", ALICE)
    assert (h["chain_out"], h["tx_out"], h["address_out"]) == ("base", "0xbb", BOB)
    assert (h["value_in"], h["value_out"], h["asset_out"]) == ("2500000", "2500000", "USDC")
    assert (h["legs_in"], h["legs_out"]) == ([3], [2])  # depositor's payment; the mint
    assert json.loads(h["evidence"])["nonce"] == "7"
    assert m.counts()["unmatched legs"] == 0 and m.counts()["legs"] == 2


def test_relayer_receiving_two_messages_in_one_tx_gives_two_legs() -> None:
    eth = [bl.burn("ethereum", f"0xa{i}", 1, 1000 + i, nonce=n, token=USDC_ETH, amount=a,
                   sender=ALICE, recipient=r, dest_domain=6)
           for i, (n, a, r) in enumerate([(1, 10, BOB), (2, 20, CAROL)])]  # fmt: skip
    base = (bl.mint("base", "0xbb", 0, 2000, nonce=2, source_domain=0, token=USDC_BASE,
                    amount=20, recipient=CAROL)
            + bl.mint("base", "0xbb", 2, 2000, nonce=1, source_domain=0, token=USDC_BASE,
                      amount=10, recipient=BOB))  # fmt: skip
    m = br.match_bridges(_events(eth, base), NO_TRANSFERS, TOKENS)
    got = {(h["tx_in"], h["value_out"], h["address_out"]) for h in m.hops.to_dicts()}
    assert got == {("0xa0", "10", BOB), ("0xa1", "20", CAROL)}


def test_two_equal_messages_in_one_relayer_tx_stay_two_legs() -> None:
    """Same recipient, same amount, nonces 1 and 2 in one transaction: two legs, two hops."""
    eth = [bl.burn("ethereum", f"0xa{n}", 1, 1000 + n, nonce=n, token=USDC_ETH, amount=10,
                   sender=ALICE, recipient=BOB, dest_domain=6) for n in (1, 2)]  # fmt: skip
    base = [lg for n, li in ((1, 0), (2, 2))
            for lg in bl.mint("base", "0xbb", li, 2000, nonce=n, source_domain=0,
                              token=USDC_BASE, amount=10, recipient=BOB)]  # fmt: skip
    m = br.match_bridges(_events(eth, base), NO_TRANSFERS, TOKENS)
    assert sorted(m.hops["tx_in"]) == ["0xa1", "0xa2"] and m.unmatched.height == 0


def test_unmatched_duplicate_and_undecodable_legs_are_counted() -> None:
    eth = [
        bl.burn("ethereum", "0xa1", 1, 1000, nonce=1, token=USDC_ETH, amount=10, sender=ALICE,
                recipient=BOB, dest_domain=6),
        bl.burn("ethereum", "0xa2", 1, 1001, nonce=9, token=USDC_ETH, amount=10, sender=ALICE,
                recipient=BOB, dest_domain=6),  # its mint is not in the data
    ]  # fmt: skip
    broken = bl.burn("ethereum", "0xa3", 1, 1002, nonce=3, token=USDC_ETH, amount=5,
                     sender=ALICE, recipient=BOB, dest_domain=6)  # fmt: skip
    broken["data"] = broken["data"][:40]  # truncated body
    base = (bl.mint("base", "0xb1", 0, 2000, nonce=1, source_domain=0, token=USDC_BASE,
                    amount=10, recipient=BOB)
            + bl.mint("base", "0xb2", 0, 2001, nonce=1, source_domain=0, token=USDC_BASE,
                      amount=10, recipient=BOB))  # the same message twice  # fmt: skip
    m = br.match_bridges(_events([*eth, broken], base), NO_TRANSFERS, TOKENS)
    c = m.counts()
    assert c["bridge events"] == 7 and c["legs"] == 5 and c["hops"] == 1
    assert c[f"unmatched: {br.UNMATCHED_NO_PARTNER}"] == 1
    assert c[f"unmatched: {br.UNMATCHED_DUPLICATE}"] == 1
    assert c[f"unmatched: {br.UNMATCHED_UNDECODABLE}"] == 1
    assert c["legs"] == 2 * c["hops"] + c["unmatched legs"]
    problem = m.unmatched.filter(pl.col("reason") == br.UNMATCHED_UNDECODABLE)["problem"][0]
    assert "0xa3" in problem and "log 1" in problem


def test_exact_pair_running_back_in_time_is_refused_and_counted() -> None:
    eth = [bl.burn("ethereum", "0xa1", 1, 5000, nonce=1, token=USDC_ETH, amount=10,
                   sender=ALICE, recipient=BOB, dest_domain=6)]  # fmt: skip
    base = bl.mint("base", "0xb1", 0, 4000, nonce=1, source_domain=0, token=USDC_BASE,
                   amount=10, recipient=BOB)  # fmt: skip
    m = br.match_bridges(_events(eth, base), NO_TRANSFERS, TOKENS)
    assert m.hops.height == 0
    assert set(m.unmatched["reason"]) == {br.UNMATCHED_BACKWARDS}


# -- the registry: shipped, user-extensible, bad rows named -------------------------------------
HEADER = "chain,contract,protocol,role,link,domain,event,fields\n"
LOCK = ('ethereum,0x' + "ab" * 20 + ',toybridge,source,source-tx,,'
        '"Locked(address indexed sender,address indexed token,uint256 amount,address recipient)",'
        'sender=sender;token=token;amount=amount;recipient=recipient\n')  # fmt: skip
RELEASE = ('base,0x' + "cd" * 20 + ',toybridge,destination,source-tx,,'
           '"Released(bytes32 indexed sourceTx,address indexed recipient,address token,'
           'uint256 amount)",source_tx=sourceTx;recipient=recipient;token=token;'
           'amount=amount\n')  # fmt: skip


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ("ethereum,0x12zz,p,source,domain-nonce,0,\"E(uint256 a)\",amount=a\n", "contract",
         "not an EVM address"),
        ("ethereum,0x" + "ab" * 20 + ",p,sideways,domain-nonce,0,\"E(uint256 a)\",amount=a\n",
         "role", "sideways"),
        ("ethereum,0x" + "ab" * 20 + ",p,source,domain-nonce,x,\"E(uint256 a)\",amount=a\n",
         "domain", "non-negative"),
        ("ethereum,0x" + "ab" * 20 + ",p,source,domain-nonce,0,\"E(uint256)\",amount=a\n",
         "event", "type and a name"),
        ("ethereum,0x" + "ab" * 20 + ",p,source,domain-nonce,0,\"E(uint256 a)\",amount=b\n",
         "fields", "no parameter"),
        ("ethereum,0x" + "ab" * 20 + ",p,source,domain-nonce,0,\"E(float a)\",amount=a\n",
         "event", "not one this decoder reads"),
    ],
)  # fmt: skip
def test_bad_registry_row_names_file_row_and_field(tmp_path: Path, row: str, field: str,
                                                   words: str) -> None:  # fmt: skip
    p = tmp_path / "bridges.csv"
    p.write_text(HEADER + LOCK + row)
    with pytest.raises(InputError) as info:
        read_registry(p)
    assert (info.value.file, info.value.row, info.value.field) == (str(p), 2, field)
    assert words in info.value.reason


def test_user_registry_with_a_source_tx_bridge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:  # fmt: skip
    """A bridge the shipped file does not know, added by the user's file (TRACER_BRIDGES): its
    release names the lock's transaction, so the hop is exact."""
    p = tmp_path / "mine.csv"
    p.write_text(HEADER + LOCK + RELEASE)
    monkeypatch.setenv("TRACER_BRIDGES", str(p))
    reg = load_registry()
    lock = next(e for e in reg if e.name == "Locked")
    release = next(e for e in reg if e.name == "Released")
    tx_in = "0x" + "5e" * 32
    eth = bl.frame([bl.log(lock, tx_in, 4, 100, {"sender": ALICE, "token": USDC_ETH,
                                                 "amount": 77, "recipient": BOB})])  # fmt: skip
    base = bl.frame([bl.log(release, "0xbb", 9, 200, {"sourceTx": bytes.fromhex(tx_in[2:]),
                                                      "recipient": BOB, "token": USDC_BASE,
                                                      "amount": 77})])  # fmt: skip
    ev = pl.concat([decode_bridge_events(eth, "ethereum", reg),
                    decode_bridge_events(base, "base", reg)])  # fmt: skip
    m = br.match_bridges(ev, NO_TRANSFERS, TOKENS)
    (h,) = m.hops.to_dicts()
    assert (h["rule"], h["inferred"]) == ("source-tx", False)
    assert (h["tx_in"], h["tx_out"]) == (tx_in, "0xbb")
    assert (h["address_in"], h["address_out"], h["value_in"]) == (ALICE, BOB, "77")


def test_registry_file_replaces_a_shipped_row(tmp_path: Path) -> None:
    shipped = next(e for e in load_registry() if e.chain == "base" and e.name == "DepositForBurn"
                   and e.protocol == "cctp-v1")  # fmt: skip
    text = (HEADER + f"base,{shipped.contract},cctp-v1,source,amount-window,6,"
            '"DepositForBurn(uint64 indexed nonce,address indexed burnToken,uint256 amount,'
            "address indexed depositor,bytes32 mintRecipient,uint32 destinationDomain,"
            'bytes32 destinationTokenMessenger,bytes32 destinationCaller)",'
            "amount=amount\n")  # fmt: skip
    p = tmp_path / "override.csv"
    p.write_text(text)
    mine = [e for e in load_registry([p]) if e.contract == shipped.contract
            and e.name == "DepositForBurn" and e.chain == "base"]  # fmt: skip
    assert len(mine) == 1 and mine[0].link == "amount-window"


# -- candidates (amount-window): hypothesis ------------------------------------------------------
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _leg_events(legs: list[tuple[str, int, int, str | None]]) -> pl.DataFrame:
    """Bridge events of a candidate-only protocol: (role, seconds, amount, recipient)."""
    rows = []
    for i, (role, sec, amount, recipient) in enumerate(legs):
        chain = "ethereum" if role == "source" else "base"
        rows.append({
            "chain": chain, "tx_hash": f"0x{i:04x}", "log_index": 0, "block": i,
            "ts": T0 + timedelta(seconds=sec), "contract": "0x" + "ee" * 20,
            "protocol": "toy", "role": role, "link": "amount-window", "domain": None,
            "event": "E", "token": USDC_ETH if chain == "ethereum" else USDC_BASE,
            "amount": str(amount), "sender": ALICE if role == "source" else None,
            "recipient": recipient, "problem": None,
        })  # fmt: skip
    return pl.DataFrame(rows, schema=BRIDGE_EVENT_SCHEMA) if rows else pl.DataFrame(
        schema=BRIDGE_EVENT_SCHEMA)  # fmt: skip


legs_st = st.lists(
    st.tuples(st.sampled_from(["source", "destination"]), st.integers(0, 4000),
              st.integers(990, 1010), st.sampled_from([None, BOB, CAROL])),
    max_size=12,
)  # fmt: skip


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(legs=legs_st, window=st.integers(1, 3600), band=st.sampled_from([0.0, 0.005, 0.01, 0.02]))
def test_candidates_are_one_to_one_forward_in_time_and_within_the_band(
    legs: list, window: int, band: float
) -> None:
    m = br.match_bridges(_leg_events(legs), NO_TRANSFERS, TOKENS,
                         window=timedelta(seconds=window), fee_band=band)  # fmt: skip
    h = m.hops
    assert h["tx_in"].n_unique() == h.height and h["tx_out"].n_unique() == h.height
    assert (h["ts_out"] >= h["ts_in"]).all()
    assert (h["ts_out"] - h["ts_in"] <= timedelta(seconds=window)).all()
    for r in h.iter_rows(named=True):
        a_in, a_out = int(r["value_in"]), int(r["value_out"])
        assert 0 <= a_in - a_out <= band * a_in + 1e-9
        assert r["inferred"] and r["rule"] == "amount-window" and 0 < r["confidence"] <= 0.9
        ev = json.loads(r["evidence"])
        assert ev["window_s"] == window and ev["fee_band"] == band and ev["rivals"] >= 1
    c = m.counts()
    assert c["legs"] == len(legs) == 2 * c["hops"] + c["unmatched legs"]


@settings(max_examples=60, deadline=None)
@given(nonces=st.lists(st.integers(0, 20), max_size=10),
       minted=st.lists(st.integers(0, 20), max_size=10))  # fmt: skip
def test_exact_matches_pair_equal_nonces_and_are_never_inferred(
    nonces: list[int], minted: list[int]
) -> None:
    eth = [bl.burn("ethereum", f"0xa{i:03x}", 1, 1000 + i, nonce=n, token=USDC_ETH, amount=5,
                   sender=ALICE, recipient=BOB, dest_domain=6) for i, n in enumerate(nonces)]
    base = [lg for i, n in enumerate(minted)
            for lg in bl.mint("base", f"0xb{i:03x}", 0, 5000 + i, nonce=n, source_domain=0,
                              token=USDC_BASE, amount=5, recipient=BOB)]  # fmt: skip
    m = br.match_bridges(_events(eth, base), NO_TRANSFERS, TOKENS)
    assert not m.hops["inferred"].any() and (m.hops["confidence"] == 1.0).all()
    for ev in m.hops["evidence"]:
        assert json.loads(ev)["nonce"] is not None
    assert m.hops.height == len(set(nonces) & set(minted))
    c = m.counts()
    assert c["legs"] == len(nonces) + len(minted) == 2 * c["hops"] + c["unmatched legs"]
    # every decoded event is in exactly one leg
    assert m.legs["log_indices"].list.len().sum() == c["bridge events"] == len(nonces) + 2 * len(
        minted)  # fmt: skip


# -- stored at ingest, one workspace, two chains --------------------------------------------------
def test_bridge_events_ingested_from_two_chains_make_one_hop(tmp_path: Path) -> None:
    from tracer.sources.base import ReadOptions

    tx_a, tx_b = "0x" + "a1" * 32, "0x" + "b2" * 32
    burn = bl.burn("ethereum", tx_a, 5, 1_700_000_000, nonce=42, token=USDC_ETH, amount=10**6,
                   sender=ALICE, recipient=BOB, dest_domain=6)  # fmt: skip
    mint = bl.mint("base", tx_b, 3, 1_700_000_900, nonce=42, source_domain=0, token=USDC_BASE,
                   amount=10**6, recipient=BOB)  # fmt: skip
    src = bl.rpc_file(tmp_path / "eth.json", [burn])
    dst = bl.rpc_file(tmp_path / "base.json", mint)
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([src], options=ReadOptions(chain="ethereum"))
    ws.ingest([dst], options=ReadOptions(chain="base"))
    again = ws.ingest([dst], options=ReadOptions(chain="base"))
    assert not again.changed
    hops = load_hops(Workspace.open(tmp_path / "ws"), kinds=["bridge"])
    (h,) = hops.to_dicts()
    assert (h["chain_in"], h["tx_in"], h["chain_out"], h["tx_out"]) == (
        "ethereum", tx_a, "base", tx_b)
    assert (h["rule"], h["confidence"], h["inferred"]) == ("cctp-domain-nonce", 1.0, False)


def test_candidate_confidence_follows_the_documented_formula_and_ranking() -> None:
    """One source of 1000; destinations 995 after 60 s and 999 after 600 s, both to BOB: both
    are candidates (rivals 2); 999 is closer in fee and wins; the other leg is outbid."""
    legs = [("source", 0, 1000, BOB), ("destination", 60, 995, BOB),
            ("destination", 600, 999, BOB)]  # fmt: skip
    m = br.match_bridges(_leg_events(legs), NO_TRANSFERS, TOKENS, window=timedelta(hours=1),
                         fee_band=0.01)  # fmt: skip
    (h,) = m.hops.to_dicts()
    assert h["value_out"] == "999"
    want = 0.9 * (1 - 0.001 / 0.01 / 2) * (1 - 600 / 3600 / 2) / 2
    assert h["confidence"] == pytest.approx(want, abs=1e-6)
    assert json.loads(h["evidence"])["rivals"] == 2
    assert m.counts()[f"unmatched: {br.UNMATCHED_OUTBID}"] == 1
    other = br.match_bridges(_leg_events([("source", 0, 1000, BOB),
                                          ("destination", 60, 995, CAROL)]),
                             NO_TRANSFERS, TOKENS)  # fmt: skip
    assert other.hops.height == 0  # the burn names BOB: CAROL's mint is another transfer
    assert other.counts()[f"unmatched: {br.UNMATCHED_NO_CANDIDATE}"] == 2
