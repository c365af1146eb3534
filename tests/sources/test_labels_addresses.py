"""Addresses (Tron base58 ⇄ hex, EVM case) and label files (real OFAC lists and TagPacks)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.conftest import FIXTURES, SAMPLE_DATA
from tracer.core.addresses import (
    display,
    normalize,
    normalize_series,
    tron_base58_to_hex,
    tron_hex_to_base58,
)
from tracer.core.errors import InputError, UsageError
from tracer.sources.labels import primary_labels, read_labels

OFAC = FIXTURES / "ofac"
TAGPACKS = FIXTURES / "tagpacks"


def real_tron_addresses() -> list[str]:
    lines = (OFAC / "sanctioned_addresses_TRX.txt").read_text().split()
    usdt = (OFAC / "sanctioned_addresses_USDT.txt").read_text().split()
    return lines + [a for a in usdt if a.startswith("T")] + ["TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"]


@pytest.mark.parametrize("address", real_tron_addresses())
def test_tron_base58_hex_roundtrip_on_real_addresses(address: str) -> None:
    h = tron_base58_to_hex(address)
    assert h.startswith("41") and len(h) == 42
    assert tron_hex_to_base58(h) == address
    assert normalize("tron", "0x" + h[2:]) == address  # EVM-style hex (JSON-RPC topics)
    assert normalize("tron", h.upper()) == address


def test_tron_checksum_is_verified() -> None:
    good = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    with pytest.raises(ValueError, match="checksum"):
        tron_base58_to_hex(good[:-1] + "u")
    norm, err = normalize_series("tron", pl.Series([good, good[:-1] + "u", None]))
    assert norm.to_list() == [good, None, None]
    assert err[1].startswith("Tron address checksum") and err[2] == "missing address"


def test_evm_normalised_lower_and_displayed_eip55() -> None:
    assert normalize("ethereum", "0xDAC17F958D2EE523A2206206994597C13D831EC7") == (
        "0xdac17f958d2ee523a2206206994597c13d831ec7"
    )
    assert display("ethereum", "0xdac17f958d2ee523a2206206994597c13d831ec7") == (
        "0xdAC17F958D2ee523a2206206994597C13D831ec7"
    )
    with pytest.raises(ValueError):
        normalize("ethereum", "0x1234")


def test_ofac_lists_load_with_the_right_counts() -> None:
    eth = read_labels(OFAC / "sanctioned_addresses_ETH.txt", category="sanctioned")
    assert eth.read == eth.labels.height == 152
    trx = read_labels(OFAC / "sanctioned_addresses_TRX.json", category="sanctioned")
    assert trx.labels.height == 6 and set(trx.labels["chain"].to_list()) == {"tron"}
    usdt = read_labels(OFAC / "sanctioned_addresses_USDT.txt", category="sanctioned")
    # the USDT list mixes chains: 8 Ethereum, 11 Tron, 7 Bitcoin/Omni (not account-based)
    assert usdt.read == 26
    assert usdt.labels["chain"].value_counts().sort("chain", nulls_last=True).rows() == [
        ("tron", 11), (None, 8),
    ]  # fmt: skip
    assert usdt.skipped == {"unsupported chain (not an EVM or Tron address)": 7}
    with pytest.raises(UsageError, match="--category"):
        read_labels(OFAC / "sanctioned_addresses_ETH.txt")


def test_tagpacks_inherit_header_and_map_categories() -> None:
    tc = read_labels(TAGPACKS / "tornado_cash.yaml")
    assert tc.read == tc.labels.height == 39
    assert set(tc.labels["category"].to_list()) == {"mixer"}
    assert set(tc.labels["name"].to_list()) == {"tornado.cash"}  # inherited from the header
    ofac = read_labels(TAGPACKS / "ofac.yaml")
    assert ofac.read == 572
    assert ofac.labels.height == 157  # 147 ETH + 3 TRX + 9 USDT-on-EVM/Tron... minus BTC etc.
    assert set(ofac.labels["category"].to_list()) == {"sanctioned"}
    assert ofac.labels.height + sum(ofac.skipped.values()) == ofac.read
    blk = read_labels(TAGPACKS / "usdt_blacklist.yaml")
    assert blk.labels.height == 774 and set(blk.labels["category"].to_list()) == {"blocked"}
    binance = read_labels(TAGPACKS / "exchange-wallets-binance.yaml")
    assert binance.labels.height + sum(binance.skipped.values()) == binance.read == 86


def test_etherscan_label_cloud_csv() -> None:
    b = read_labels(FIXTURES / "etherscan_labels" / "binance.csv", category="exchange")
    assert b.labels.height == b.read == 57
    assert b.labels["name"][0] == "Binance"


def test_label_csv_errors_name_row(tmp_path: Path) -> None:
    f = tmp_path / "l.csv"
    f.write_text("address,name,category\nTR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,Tether,issuer\n"
                 "0xnothex00000000000000000000000000000000000,X,exchange\n")  # fmt: skip
    with pytest.raises(InputError, match="row 2, field 'address'"):
        read_labels(f)


def test_primary_label_prefers_sanctions() -> None:
    frame = pl.DataFrame(
        {"chain": [None, None], "address": ["0x" + "1" * 40] * 2, "name": ["Ex", "SDN"],
         "category": ["exchange", "sanctioned"], "source": [None, None],
         "confidence": [None, None]},
        schema_overrides={"chain": pl.String, "source": pl.String, "confidence": pl.String},
    )  # fmt: skip
    assert primary_labels(frame)["category"].to_list() == ["sanctioned"]


def test_one_address_list_reader_for_sources_and_exposure(tmp_path: Path) -> None:
    """``follow --sources`` and ``exposure FILE`` read lists with one reader: the same file is
    accepted by both, and a Latin-1 or mistyped line is a file,row,field error (exit 2)."""
    from click.testing import CliRunner

    from tracer.cli import cli
    from tracer.sources.labels import read_address_list

    scam = "TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx"
    good = tmp_path / "list.csv"
    good.write_text(f"address,note\n{scam},collection wallet\n")
    assert read_address_list(good) == [scam]
    data = [str(p) for p in SAMPLE_DATA]
    for args in (["follow", "--sources", str(good)], ["exposure", str(good)]):
        res = CliRunner().invoke(cli, [*args, "--data", data[0], "--data", data[1]])
        assert res.exit_code == 0, res.output
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"# caf\xe9\n" + scam.encode() + b"\n")
    typo = tmp_path / "typo.txt"
    typo.write_text(f"{scam}\nTWcPbVwXGSiRzDpntvEPqAJat87hsEYmXX\n")
    cases = ((latin, "latin.txt: line 1: byte 0xE9"), (typo, "typo.txt, row 2, field 'address'"))
    for bad, where in cases:
        for args in (["follow", "--sources", str(bad)], ["exposure", str(bad)]):
            res = CliRunner().invoke(cli, [*args, "--data", data[0]])
            assert res.exit_code == 2, res.output
            assert where in res.output and "Traceback" not in res.output
