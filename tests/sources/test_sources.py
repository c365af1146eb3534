"""Every export format → the canonical table, checked against real data and each other."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import FIXTURES, SAMPLE_DATA, write_canonical_csv
from tracer.core.amounts import UINT256_MAX
from tracer.core.errors import InputError, UnknownFormatError, UsageError
from tracer.sources import ReadOptions, read_file
from tracer.sources.blocks import read_blocks
from tracer.sources.generic import parse_map

ETL = FIXTURES / "ethereum_etl"
STREAM = ETL / "blocks_17173049_17173050"


def expected_rows(path: Path) -> list[tuple]:
    """ethereum-etl's own expected token transfers as (token, from, to, value, tx, log_index)."""
    if path.suffix == ".csv":
        rows = list(csv.DictReader(path.read_text().splitlines()))
    else:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted(
        (r["token_address"], r["from_address"], r["to_address"], str(r["value"]),
         r["transaction_hash"], int(r["log_index"]))
        for r in rows
    )  # fmt: skip


def got_rows(frame: pl.DataFrame) -> list[tuple]:
    return sorted(frame.select("token", "src", "dst", "value", "tx_hash", "seq").iter_rows())


def test_ethereum_etl_stream_reproduces_expected_transfers_exactly() -> None:
    loaded = read_file(STREAM / "expected_token_transfers.json")
    assert loaded.format == "ethereum-etl"
    assert loaded.read == loaded.transfers.height == 291
    assert got_rows(loaded.transfers) == expected_rows(STREAM / "expected_token_transfers.json")
    usdt = loaded.transfers.filter(pl.col("asset") == "USDT")
    assert usdt.height == 41 and set(usdt["decimals"].to_list()) == {6}
    # values beyond int64 survive as exact digits
    big = loaded.transfers.filter(pl.col("value").str.len_chars() > 19)
    assert "150188698577042438264952193024" in big["value"].to_list()
    assert loaded.transfers["ts"].dt.epoch("s").unique().sort().to_list() == [
        1683029999, 1683030011,
    ]  # fmt: skip


def test_eth_getlogs_response_decodes_like_ethereum_etl() -> None:
    blocks = pl.DataFrame({"chain": [None], "block": [483920], "ts": [1_447_000_000_000_000]})
    loaded = read_file(
        ETL / "block_with_transfers" / "web3_response.eth_getFilterLogs_0x0.json",
        options=ReadOptions(blocks=blocks.cast({"chain": pl.String})),
    )
    assert loaded.format == "eth-getlogs"
    assert got_rows(loaded.transfers) == expected_rows(
        ETL / "block_with_transfers" / "expected_token_transfers.csv"
    )


def test_ethereum_etl_logs_csv_decodes_and_skips_other_events() -> None:
    blocks = pl.DataFrame({"chain": [None], "block": [1452581], "ts": [1_462_000_000_000_000]})
    loaded = read_file(
        ETL / "logs" / "logs.csv", options=ReadOptions(blocks=blocks.cast({"chain": pl.String}))
    )
    assert got_rows(loaded.transfers) == expected_rows(
        ETL / "logs" / "expected_token_transfers.csv"
    )
    assert loaded.skipped == {"not an ERC-20 Transfer event": 1}
    assert loaded.read == loaded.transfers.height + sum(loaded.skipped.values())


def test_block_only_export_needs_blocks_and_says_so(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"row 1, field 'block_timestamp'.*--blocks"):
        read_file(ETL / "block_with_transfers" / "expected_token_transfers.csv")
    blocks = tmp_path / "blocks.csv"
    blocks.write_text("number,timestamp\n483920,1447000000\n")
    loaded = read_file(
        ETL / "block_with_transfers" / "expected_token_transfers.csv",
        options=ReadOptions(blocks=read_blocks(blocks)),
    )
    assert loaded.transfers["ts"].dt.epoch("s").to_list() == [1447000000, 1447000000]


def test_blocks_from_the_stream_export() -> None:
    blocks = read_blocks(STREAM / "expected_blocks.json")
    assert blocks.sort("block")["block"].to_list() == [17173049, 17173050]


def test_ethereum_etl_transactions_native_eth() -> None:
    loaded = read_file(STREAM / "expected_transactions.json")
    assert loaded.format == "ethereum-etl-transactions"
    assert loaded.read == 298
    assert loaded.skipped["failed transaction (receipt_status=0)"] == 9
    zero = loaded.skipped["zero-value transaction (no native coin moved)"]
    assert loaded.transfers.height + zero + 9 == 298
    assert set(loaded.transfers["asset"].to_list()) == {"ETH"}
    assert loaded.transfers["token"].null_count() == loaded.transfers.height


def test_bigquery_csv_with_block_timestamp(tmp_path: Path) -> None:
    rows = [
        json.loads(x)
        for x in (STREAM / "expected_token_transfers.json").read_text().split("\n")
        if x
    ]
    f = tmp_path / "bq.csv"
    with f.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["token_address", "from_address", "to_address", "value", "transaction_hash",
                    "log_index", "block_timestamp", "block_number", "block_hash"])  # fmt: skip
        for r in rows:
            w.writerow([r["token_address"], r["from_address"], r["to_address"], r["value"],
                        r["transaction_hash"], r["log_index"], "2023-05-02 12:19:59 UTC",
                        r["block_number"], r["block_hash"]])  # fmt: skip
    loaded = read_file(f)
    assert got_rows(loaded.transfers) == expected_rows(STREAM / "expected_token_transfers.json")


def _usdt_rows() -> list[dict]:
    rows = [
        json.loads(x)
        for x in (STREAM / "expected_token_transfers.json").read_text().split("\n")
        if x
    ]
    return [r for r in rows if r["token_address"] == "0xdac17f958d2ee523a2206206994597c13d831ec7"]


def _scaled(value: int, decimals: int) -> str:
    whole, frac = divmod(value, 10**decimals)
    return f"{whole:,}" + (f".{frac:0{decimals}d}".rstrip("0") if frac else "")


@pytest.mark.parametrize("header", ["new", "old"])
def test_etherscan_token_csv_recovers_exact_integers(tmp_path: Path, header: str) -> None:
    """The same real USDT transfers rendered as Etherscan exports give the exact values."""
    rows = _usdt_rows()
    f = tmp_path / "export-tokentxns.csv"
    with f.open("w", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL)
        if header == "new":
            w.writerow(["Transaction Hash", "Blockno", "UnixTimestamp", "DateTime (UTC)", "From",
                        "To", "TokenValue", "USDValueDayOfTx", "ContractAddress", "TokenName",
                        "TokenSymbol"])  # fmt: skip
        else:
            w.writerow(["Txhash", "Blockno", "UnixTimestamp", "DateTime", "From", "To", "Value",
                        "ContractAddress", "TokenName", "TokenSymbol"])  # fmt: skip
        for r in rows:
            scaled = _scaled(int(r["value"]), 6)
            base = [r["transaction_hash"], r["block_number"], r["block_timestamp"],
                    "2023-05-02 12:19:59", r["from_address"].upper().replace("0X", "0x"),
                    r["to_address"], scaled]  # fmt: skip
            extra = ["$1.00"] if header == "new" else []
            w.writerow([*base, *extra, r["token_address"], "Tether USD", "USDT"])
    loaded = read_file(f)
    assert loaded.format == "etherscan-tokens"
    got = sorted(loaded.transfers.select("tx_hash", "src", "dst", "value").iter_rows())
    want = sorted((r["transaction_hash"], r["from_address"], r["to_address"], str(r["value"]))
                  for r in rows)  # fmt: skip
    assert got == want
    assert (loaded.transfers["seq"] < 0).all()  # no log index in Etherscan: content-derived


def test_etherscan_unknown_token_or_inexact_amount_is_rejected(tmp_path: Path) -> None:
    f = tmp_path / "tokens.csv"
    f.write_text(
        '"Txhash","Blockno","UnixTimestamp","DateTime","From","To","Value","ContractAddress",'
        '"TokenName","TokenSymbol"\n'
        f'"0x{"a" * 64}","1","1683029999","x","0x{"1" * 40}","0x{"2" * 40}","1.5",'
        f'"0x{"9" * 40}","Mystery","MYS"\n'
        f'"0x{"b" * 64}","1","1683029999","x","0x{"1" * 40}","0x{"2" * 40}","1.1234567",'
        '"0xdac17f958d2ee523a2206206994597c13d831ec7","Tether USD","USDT"\n'
    )
    with pytest.raises(InputError, match=r"row 1, field 'Value': .*decimals of token .* unknown"):
        read_file(f)
    loaded = read_file(f, skip_bad=True)
    assert loaded.transfers.height == 0
    assert loaded.rejects["row"].to_list() == [1, 2]
    assert "7 fractional digits" in loaded.rejects["reason"][1]
    assert loaded.rejects["raw"][0].startswith("{")


def test_etherscan_normal_transactions(tmp_path: Path) -> None:
    f = tmp_path / "export-txns.csv"
    f.write_text(
        '"Transaction Hash","Blockno","UnixTimestamp","DateTime (UTC)","From","To",'
        '"ContractAddress","Value_IN(ETH)","Value_OUT(ETH)","CurrentValue @ $3000/Eth",'
        '"TxnFee(ETH)","TxnFee(USD)","Historical $Price/Eth","Status","ErrCode","Method"\n'
        f'"0x{"a" * 64}","10","1683029999","x","0x{"1" * 40}","0x{"2" * 40}","","1.5","0","",'
        '"0.001","","","","","Transfer"\n'
        f'"0x{"b" * 64}","11","1683030000","x","0x{"2" * 40}","0x{"3" * 40}","","0",'
        '"0.000000000000000001","","0.001","","","","","Transfer"\n'
        f'"0x{"c" * 64}","12","1683030001","x","0x{"2" * 40}","0x{"3" * 40}","","0","2","",'
        '"0.001","","","Error(0)","Out of gas","Transfer"\n'
        f'"0x{"d" * 64}","13","1683030002","x","0x{"2" * 40}","0x{"4" * 40}","","0","0","",'
        '"0.001","","","","","Approve"\n'
    )
    loaded = read_file(f)
    assert loaded.format == "etherscan-txs"
    assert loaded.transfers["value"].to_list() == ["1500000000000000000", "1"]
    assert dict(loaded.skipped) == {
        "failed transaction (Status/ErrCode)": 1,
        "zero-value transaction": 1,
    }


def _trongrid_records() -> list[dict]:
    return [r for p in json.loads(SAMPLE_DATA[1].read_text()) for r in p["data"]]


def test_trongrid_pages_with_approval_skipped() -> None:
    loaded = read_file(SAMPLE_DATA[0])
    assert loaded.format == "trongrid"
    assert loaded.skipped == {"Approval event (moves no value)": 1}
    assert set(loaded.transfers["chain"].to_list()) == {"tron"}
    assert loaded.transfers["src"].str.starts_with("T").all()
    assert loaded.transfers["block"].null_count() == loaded.transfers.height


@pytest.mark.parametrize("shape", ["json", "csv"])
def test_tronscan_gives_the_same_rows_as_trongrid(tmp_path: Path, shape: str) -> None:
    """The same transfers as TronScan API/CSV get the same canonical rows (same seq too)."""
    recs = _trongrid_records()
    scan = [
        {
            "transaction_id": r["transaction_id"], "block_ts": r["block_timestamp"],
            "from_address": r["from"], "to_address": r["to"], "block": 60000000 + i,
            "contract_address": r["token_info"]["address"], "quant": r["value"],
            "event_type": "Transfer", "contractRet": "SUCCESS", "confirmed": True,
            "tokenInfo": {"tokenAbbr": "USDT", "tokenDecimal": 6},
        }
        for i, r in enumerate(recs)
    ]  # fmt: skip
    scan.append({**scan[0], "transaction_id": "f" * 64, "contractRet": "REVERT"})
    if shape == "json":
        f = tmp_path / "tronscan.json"
        f.write_text(json.dumps({"total": len(scan), "token_transfers": scan}))
    else:
        f = tmp_path / "tronscan.csv"
        cols = ["transaction_id", "block_ts", "from_address", "to_address", "block",
                "contract_address", "quant", "event_type", "contractRet", "tokenAbbr",
                "tokenDecimal"]  # fmt: skip
        with f.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            for r in scan:
                flat = {**r, **r["tokenInfo"]}
                w.writerow([flat[c] for c in cols])
    scanned = read_file(f)
    assert scanned.format == "tronscan"
    assert scanned.skipped == {"failed transaction (contractRet=REVERT)": 1}
    grid = read_file(SAMPLE_DATA[1]).transfers
    key = ["tx_hash", "seq", "src", "dst", "value", "ts", "amount"]
    assert sorted(scanned.transfers.select(key).iter_rows()) == sorted(grid.select(key).iter_rows())


def test_generic_csv_with_map_and_dune_hex(tmp_path: Path) -> None:
    rows = _usdt_rows()
    f = tmp_path / "dune.csv"
    with f.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["evt_tx_hash", "evt_index", "evt_block_time", "contract_address", "sender",
                    "receiver", "raw_amount"])  # fmt: skip
        for r in rows:
            w.writerow(["\\x" + r["transaction_hash"][2:], r["log_index"], "2023-05-02 12:19:59",
                        "\\x" + r["token_address"][2:], "\\x" + r["from_address"][2:],
                        "\\x" + r["to_address"][2:], r["value"]])  # fmt: skip
    # Dune's headers are auto-mapped (issue 13.5; this used to be refused without --map): the
    # auto-mapped read must equal the explicit mapping's, and say which columns it used
    auto = read_file(f)
    assert auto.format == "generic"
    assert any(n.startswith("columns: hash=evt_tx_hash") for n in auto.notes)
    mapping = parse_map(
        "hash=evt_tx_hash,seq=evt_index,time=evt_block_time,token=contract_address,"
        "from=sender,to=receiver,value=raw_amount"
    )
    loaded = read_file(f, fmt="generic", options=ReadOptions(column_map=mapping))
    assert got_rows(loaded.transfers) == sorted(
        (r["token_address"], r["from_address"], r["to_address"], str(r["value"]),
         r["transaction_hash"], int(r["log_index"])) for r in rows
    )  # fmt: skip
    assert auto.transfers.equals(loaded.transfers)
    with pytest.raises(UsageError, match="NAME=COLUMN"):
        parse_map("colour=blue")


def test_uint256_max_survives(tmp_path: Path) -> None:
    f = write_canonical_csv(tmp_path / "big.csv", [UINT256_MAX, UINT256_MAX + 1])
    loaded = read_file(f, skip_bad=True)
    assert loaded.transfers["value"].to_list() == [str(UINT256_MAX)]
    assert loaded.transfers["amount"][0] == pytest.approx(UINT256_MAX / 1e6)
    assert loaded.rejects["reason"].to_list() == [f"larger than uint256 max: {UINT256_MAX + 1}"]


@pytest.mark.parametrize(
    ("cell", "field", "reason"),
    [
        ("value=-5", "value", "negative value"),
        ("value=1.5", "value", "not a non-negative integer"),
        ("value=12e3", "value", "not a non-negative integer"),
        ("ts=yesterday", "ts", "timestamp"),
        ("src=0x12", "src", "not an EVM address"),
        ("tx_hash=0xzz", "tx_hash", "32-byte hex"),
        ("seq=one", "seq", "not an integer"),
    ],
)
def test_bad_cells_name_file_row_and_field(
    tmp_path: Path, cell: str, field: str, reason: str
) -> None:
    good = {"tx_hash": "0x" + "a" * 64, "src": "0x" + "1" * 40, "dst": "0x" + "2" * 40,
            "value": "100", "ts": "1700000000", "seq": "0"}  # fmt: skip
    bad = dict(good, tx_hash="0x" + "b" * 64)
    k, v = cell.split("=")
    bad[k] = v
    f = tmp_path / "in.csv"
    f.write_text(
        ",".join(good) + "\n" + ",".join(good.values()) + "\n" + ",".join(bad.values()) + "\n"
    )
    with pytest.raises(InputError) as err:
        read_file(f)
    assert err.value.file == str(f) and err.value.row == 2 and err.value.field == field
    assert reason in err.value.reason
    loaded = read_file(f, skip_bad=True)
    assert loaded.read == 2 == loaded.transfers.height + loaded.rejects.height


def test_unknown_format_and_malformed_files(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(UnknownFormatError, match="a, b, c"):
        read_file(f)
    j = tmp_path / "x.json"
    j.write_text('{"data": [1, 2')
    with pytest.raises(InputError, match="invalid JSON"):
        read_file(j)
    e = tmp_path / "empty.csv"
    e.write_text("")
    with pytest.raises(UnknownFormatError, match="empty"):
        read_file(e)


def test_canonical_parquet_roundtrip(tmp_path: Path) -> None:
    loaded = read_file(STREAM / "expected_token_transfers.json")
    out = tmp_path / "t.parquet"
    loaded.transfers.write_parquet(out)
    again = read_file(out)
    assert again.format == "parquet"
    assert again.transfers.sort("tx_hash", "seq").equals(loaded.transfers.sort("tx_hash", "seq"))


def test_transfer_topic_is_keccak_of_the_event_signature() -> None:
    from web3 import Web3

    from tracer.sources.rpc_logs import TRANSFER_TOPIC

    assert Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x") == (
        TRANSFER_TOPIC
    )
