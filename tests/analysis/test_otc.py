"""Inferred OTC / exchanger pass-through hops: labelled desks, fee band, window, one-to-one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SAMPLE, SAMPLE_DATA
from tracer.analysis.hops import load_hops
from tracer.analysis.otc import infer_otc
from tracer.core.schema import LABEL_PL, TRANSFER_PL
from tracer.sources.labels import read_labels
from tracer.store.workspace import Workspace

T0 = datetime(2024, 3, 1, tzinfo=UTC)
DESK_TRON = "TAY9S3FBkD8A7poXvcbx1CGHRq4uF1zDQx"
DESK_ETH = "0x" + "de" * 20
USDT_TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
USDC_ETH = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"


def _t(i: int, chain: str, src: str, dst: str, hours: float, value: int, asset: str,
       token: str, decimals: int = 6) -> dict:  # fmt: skip
    return {"chain": chain, "asset": asset, "token": token, "tx_hash": f"{i:064x}", "seq": i,
            "block": i, "ts": T0 + timedelta(hours=hours), "src": src, "dst": dst,
            "value": str(value), "decimals": decimals, "amount": value / 10**decimals}  # fmt: skip


def _frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=TRANSFER_PL) if rows else pl.DataFrame(schema=TRANSFER_PL)


def _labels(*rows: tuple[str, str, str, str]) -> pl.DataFrame:
    return pl.DataFrame([{"chain": c, "address": a, "name": n, "category": k, "source": "test"}
                         for c, a, n, k in rows], schema=LABEL_PL)  # fmt: skip


DESK = _labels(("tron", DESK_TRON, "Desk X", "otc_desk"), ("ethereum", DESK_ETH, "Desk X",
                                                            "otc_desk"))  # fmt: skip


def test_usdt_in_on_tron_leaves_as_usdc_on_ethereum_within_the_band() -> None:
    rows = [
        _t(1, "tron", "TCustomer", DESK_TRON, 0, 10_000_000_000, "USDT", USDT_TRON),
        _t(2, "ethereum", DESK_ETH, "0x" + "b0" * 20, 2, 9_900_000_000, "USDC", USDC_ETH),
        _t(3, "ethereum", DESK_ETH, "0x" + "b1" * 20, 3, 9_000_000_000, "USDC", USDC_ETH),  # 10 %
        _t(4, "ethereum", DESK_ETH, "0x" + "b2" * 20, 1, 5 * 10**18, "WETH", WETH, 18),  # no price
    ]
    m = infer_otc(_frame(rows), DESK)
    (h,) = m.hops.to_dicts()
    assert (h["kind"], h["rule"], h["inferred"]) == ("otc", "pass-through", True)
    assert (h["chain_in"], h["address_in"], h["chain_out"], h["address_out"]) == (
        "tron", "TCustomer", "ethereum", "0x" + "b0" * 20)
    assert (h["legs_in"], h["legs_out"], h["protocol"]) == ([1], [2], "otc-desk:Desk X")
    ev = json.loads(h["evidence"])
    assert ev["fee_fraction"] == pytest.approx(0.01) and ev["window_s"] == 86400
    assert ev["fee_band"] == [0.0, 0.05] and ev["rivals"] == 1
    want = 0.5 * (1 - 2 / 24 / 2) * (1 - abs(0.01 - 0.025) / 0.05)
    assert h["confidence"] == pytest.approx(want, abs=1e-6)
    c = m.counts()
    assert c["desk inflows"] == 1 and c["desk outflows"] == 3 and c["inferred hops"] == 1
    assert c["inflows without a pass-through"] == 0


def test_an_outflow_pays_for_one_inflow_and_never_earlier() -> None:
    rows = [
        _t(1, "tron", "TA", DESK_TRON, 0, 1000, "USDT", USDT_TRON),
        _t(2, "tron", "TB", DESK_TRON, 1, 1000, "USDT", USDT_TRON),
        _t(3, "tron", DESK_TRON, "TC", 2, 990, "USDT", USDT_TRON),
        _t(4, "tron", DESK_TRON, "TD", -1, 995, "USDT", USDT_TRON),  # before both inflows
    ]
    m = infer_otc(_frame(rows), DESK)
    assert m.hops.height == 1 and m.hops["legs_out"].to_list() == [[3]]
    assert json.loads(m.hops["evidence"][0])["rivals"] == 2
    assert m.counts()["inflows without a pass-through"] == 1


def test_transfers_between_a_desks_own_addresses_are_not_pass_throughs() -> None:
    labels = _labels(("tron", DESK_TRON, "Desk X", "otc_desk"),
                     ("tron", "TDeskHot", "Desk X", "otc_desk"))  # fmt: skip
    rows = [_t(1, "tron", "TA", DESK_TRON, 0, 1000, "USDT", USDT_TRON),
            _t(2, "tron", DESK_TRON, "TDeskHot", 1, 1000, "USDT", USDT_TRON),
            _t(3, "tron", "TDeskHot", "TB", 2, 980, "USDT", USDT_TRON)]  # fmt: skip
    m = infer_otc(_frame(rows), labels)
    assert m.counts()["desk inflows"] == 1 and m.counts()["desk outflows"] == 1
    assert m.hops["address_out"].to_list() == ["TB"]


def test_bad_fee_band_is_refused() -> None:
    with pytest.raises(ValueError, match="fee band"):
        infer_otc(_frame([]), DESK, fee_band=(0.1, 0.05))


def test_sample_case_desk_pools_so_nothing_is_inferred_but_it_is_counted() -> None:
    """The sample's underground bank receives 200,000 and 30,000 and pays 150,000 and 60,000:
    no outflow matches an inflow within 5 %, so no pass-through is claimed."""
    ws, _ = Workspace.in_memory(SAMPLE_DATA, [read_labels(SAMPLE / "labels.csv")])
    m = infer_otc(ws.transfers(), ws.labels())
    assert m.hops.height == 0
    assert m.per_desk["otc-desk:OTC desk (underground bank)"] == {"inflows": 2, "hops": 0}
    assert load_hops(ws, infer_otc=True).filter(pl.col("kind") == "otc").height == 0


def test_load_hops_includes_otc_only_when_asked() -> None:
    rows = [_t(1, "tron", "TA", DESK_TRON, 0, 1000, "USDT", USDT_TRON),
            _t(2, "tron", DESK_TRON, "TB", 2, 990, "USDT", USDT_TRON)]  # fmt: skip
    ws = Workspace(None)
    ws._transfers = _frame(rows)
    ws.use_labels(DESK)
    assert load_hops(ws).height == 0
    on = load_hops(ws, infer_otc=True)
    assert on.height == 1 and on["inferred"].all() and set(on["kind"]) == {"otc"}


flows = st.lists(st.tuples(st.booleans(), st.integers(0, 96), st.integers(900, 1100)),
                 max_size=14)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(flows=flows, hours=st.integers(1, 48), lo=st.sampled_from([0.0, 0.01]),
       hi=st.sampled_from([0.02, 0.05, 0.1]))  # fmt: skip
def test_inferred_hops_are_one_to_one_forward_in_the_window_and_band(
    flows: list[tuple[bool, int, int]], hours: int, lo: float, hi: float
) -> None:
    rows = [_t(i, "tron", "TA" if inflow else DESK_TRON, DESK_TRON if inflow else "TB", h, v,
               "USDT", USDT_TRON) for i, (inflow, h, v) in enumerate(flows)]  # fmt: skip
    m = infer_otc(_frame(rows), DESK, window=timedelta(hours=hours), fee_band=(lo, hi))
    h = m.hops
    assert h["tx_in"].n_unique() == h.height and h["tx_out"].n_unique() == h.height
    assert (h["ts_out"] >= h["ts_in"]).all()
    assert (h["ts_out"] - h["ts_in"] <= timedelta(hours=hours)).all()
    for r in h.iter_rows(named=True):
        frac = 1 - int(r["value_out"]) / int(r["value_in"])
        assert lo - 1e-9 <= frac <= hi + 1e-9
        assert r["inferred"] and 0 < r["confidence"] <= 0.5
    c = m.counts()
    assert c["desk inflows"] == sum(f[0] for f in flows)
    assert c["desk inflows"] == c["inferred hops"] + c["inflows without a pass-through"]


def test_a_desk_full_of_equal_flows_is_ambiguous_not_evidence() -> None:
    """Twelve inflows of 1000 and twelve outflows of 990 in one hour: every pairing has twelve
    rivals (confidence under 0.05), so nothing is claimed, and the inflows count as ambiguous;
    with the floor at 0 the same data gives twelve (weak) hops."""
    rows = [_t(i, "tron", f"TA{i}", DESK_TRON, i / 60, 1000, "USDT", USDT_TRON) for i in range(12)]
    rows += [_t(100 + i, "tron", DESK_TRON, f"TB{i}", 1 + i / 60, 990, "USDT", USDT_TRON)
             for i in range(12)]  # fmt: skip
    m = infer_otc(_frame(rows), DESK)
    assert m.hops.height == 0
    assert m.counts()["of which ambiguous (candidates below min confidence)"] == 12
    loose = infer_otc(_frame(rows), DESK, min_confidence=0.0)
    assert loose.hops.height == 12 and (loose.hops["confidence"] < 0.05).all()


def test_an_outflow_earlier_in_the_same_block_is_not_a_pass_through() -> None:
    inflow = _t(5, "tron", "TA", DESK_TRON, 0, 1000, "USDT", USDT_TRON)
    before = {**_t(3, "tron", DESK_TRON, "TB", 0, 990, "USDT", USDT_TRON), "block": 5}
    after = {**_t(7, "tron", DESK_TRON, "TC", 0, 990, "USDT", USDT_TRON), "block": 5}
    m = infer_otc(_frame([inflow, before]), DESK)
    assert m.hops.height == 0
    m = infer_otc(_frame([inflow, after]), DESK)
    assert m.hops["address_out"].to_list() == ["TC"]


def test_a_desk_labelled_without_a_chain_is_a_desk_on_every_evm_chain() -> None:
    """An EVM address list carries no chain; its desks must still be desks (they are
    everywhere else), on each EVM chain of the data and not on Tron."""
    labels = _labels((None, DESK_ETH, "Desk Y", "otc_desk"))  # type: ignore[arg-type]
    rows = [
        _t(1, "ethereum", "0x" + "a0" * 20, DESK_ETH, 0, 10_000_000_000, "USDC", USDC_ETH),
        _t(2, "ethereum", DESK_ETH, "0x" + "b0" * 20, 1, 9_950_000_000, "USDC", USDC_ETH),
        _t(3, "bsc", "0x" + "a1" * 20, DESK_ETH, 2, 5_000_000_000, "USDC", USDC_ETH),
        _t(4, "bsc", DESK_ETH, "0x" + "b1" * 20, 3, 4_990_000_000, "USDC", USDC_ETH),
    ]
    m = infer_otc(_frame(rows), labels)
    assert sorted(m.hops["chain_in"].to_list()) == ["bsc", "ethereum"]
    assert m.counts()["desk inflows"] == 2
