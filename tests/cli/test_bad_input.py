"""Bad input: a clear ``file, row, field: reason`` (exit 2) or a reject, never a traceback;
nothing that is not an exact on-chain integer accepted as one; implausible times refused.

Each case is one a user can hit with an ordinary file (issue 12, points 2-4). Cases are built
from the real fixtures by changing one thing, so the rest of the file is known to load.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES, SAMPLE_DATA
from tracer.cli import INTERNAL_ERROR_EXIT, cli
from tracer.core.addresses import normalize
from tracer.core.chains import GENESIS, iso_us, time_bounds_us
from tracer.core.errors import InputError, UnknownFormatError
from tracer.core.tokens import read_token_file
from tracer.sources import read_file

ETL = FIXTURES / "ethereum_etl"
STREAM = ETL / "blocks_17173049_17173050"
STREAM_LOGS = ETL / "stream_logs_1755634_1755635"
GETLOGS = ETL / "block_with_transfers" / "web3_response.eth_getFilterLogs_0x0.json"
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


TT = _lines(STREAM / "expected_token_transfers.json")


def _ndjson(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _reject(path: Path, row: int | None, field: str | None, reason: str) -> None:
    """The file stops with exactly this error, and --skip-bad turns it into a reject."""
    with pytest.raises(InputError) as err:
        read_file(path)
    assert err.value.file == str(path)
    assert (err.value.row, err.value.field) == (row, field), str(err.value)
    assert reason in err.value.reason, err.value.reason
    if row is None:
        return
    loaded = read_file(path, skip_bad=True)
    first = loaded.rejects.row(0, named=True)
    assert (first["row"], first["field"]) == (row, field)
    assert reason in first["reason"]
    rows = loaded.transfers.height + loaded.rejects.height + sum(loaded.skipped.values())
    assert loaded.read == rows


# -- point 2: newline-JSON that is not a stream of objects ------------------------------------
@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("null", "line is not a JSON object (null)"),
        ("[1, 2]", "line is not a JSON object (list)"),
        ("5", "line is not a JSON object (int)"),
        ('{"value": 1', "invalid JSON"),
    ],
)
def test_ndjson_line_that_is_not_an_object(tmp_path: Path, line: str, reason: str) -> None:
    f = _ndjson(tmp_path / "tt.json", [TT[0], TT[1], line, TT[2]])
    _reject(f, 3, None, reason)
    assert read_file(f, skip_bad=True).transfers.height == 3


def test_non_utf8_bytes_in_json(tmp_path: Path) -> None:
    f = tmp_path / "tt.json"
    f.write_bytes(
        (json.dumps(TT[0]) + "\n").encode() + b'{"type": "token_transfer", "value": "\xff"}\n'
    )
    _reject(f, 2, None, "not UTF-8 text")
    doc = tmp_path / "page.json"
    doc.write_bytes(b'{"data": [{"transaction_id": "\xff\xfe"}], "success": true}')
    _reject(doc, None, None, "not UTF-8 text")


def test_deeply_nested_json(tmp_path: Path) -> None:
    f = tmp_path / "deep.json"
    f.write_text("[" * 100_000)
    _reject(f, None, None, "nested too deeply")
    g = _ndjson(tmp_path / "deep.ndjson", [TT[0], '{"value": ' + "[" * 100_000 + "}"])
    _reject(g, 2, None, "nested too deeply")


@pytest.mark.parametrize("field", ["log_index", "block_number"])
def test_integers_beyond_int64_are_rejected(tmp_path: Path, field: str) -> None:
    f = _ndjson(tmp_path / "tt.json", [TT[0], {**TT[1], field: 2**63}])
    _reject(f, 2, field, "not an integer")
    logs = _lines(STREAM_LOGS / "expected_logs.json")
    g = _ndjson(tmp_path / "logs.json", [{**logs[0], field: 2**63}, logs[1]])
    _reject(g, 1, field, "out of range 0..2^63-1")


def test_rpc_log_index_beyond_int64_and_wrong_types(tmp_path: Path) -> None:
    doc = json.loads(GETLOGS.read_text())
    cases = {
        "logIndex": ("0x" + "f" * 20, "out of range"),
        "topics": ([1, 2, 3], "topics is not a list of hex strings"),
        "data": (5, "data is not a hex string"),
    }
    for key, (bad, reason) in cases.items():
        d = json.loads(json.dumps(doc))
        d["result"][0][key] = bad
        f = tmp_path / f"logs_{key}.json"
        f.write_text(json.dumps(d))
        _reject(f, 1, key, reason)
    d = json.loads(json.dumps(doc))
    d["result"][0]["topics"] = "0xddf252ad"  # a string, not a list
    f = tmp_path / "logs_topics_str.json"
    f.write_text(json.dumps(d))
    _reject(f, 1, "topics", "not a list")


@pytest.mark.parametrize(
    ("file", "key", "bad", "field", "reason"),
    [
        (0, "token_info", "USDT", "token_info", "token_info is not a JSON object: USDT"),
        (0, "token_info", [1], "token_info", "token_info is not a JSON object"),
        (2, "raw_data", "x", "raw_data", "raw_data is not a JSON object: x"),
        (2, "ret", {"a": 1}, "ret", "ret is not a list of JSON objects"),
    ],
)
def test_trongrid_wrong_nested_types(
    tmp_path: Path, file: int, key: str, bad: Any, field: str, reason: str
) -> None:
    path = [*SAMPLE_DATA, SAMPLE_DATA[0].parent / "trongrid_trx_gas.json"][file]
    doc = json.loads(path.read_text())
    recs = doc[0]["data"] if isinstance(doc, list) else doc["data"]
    recs[0][key] = bad
    f = tmp_path / "grid.json"
    f.write_text(json.dumps(doc))
    _reject(f, 1, field, reason)


def test_tronscan_record_that_is_not_an_object(tmp_path: Path) -> None:
    f = tmp_path / "scan.json"
    f.write_text(json.dumps({"token_transfers": [5], "total": 1}))
    _reject(f, 1, None, "record is not a JSON object")


def test_detection_never_raises_type_errors(tmp_path: Path) -> None:
    """Shapes that made format detection itself crash (``"topics" in 5``)."""
    shapes = [
        {"result": [5, 6]},
        {"result": [{"topics": 1}], "data": 5},
        [{"result": 5}],
        {"data": [{"transaction_id": "x", "from": "y", "token_info": 5}]},
        {"token_transfers": "x"},
        [None, {"data": []}],
    ]
    for i, doc in enumerate(shapes):
        f = tmp_path / f"shape{i}.json"
        f.write_text(json.dumps(doc))
        try:
            read_file(f, skip_bad=True)
        except (InputError, UnknownFormatError) as exc:
            assert str(f) in str(exc)


def _canonical_parquet(tmp_path: Path) -> Path:
    out = tmp_path / "t.parquet"
    read_file(STREAM / "expected_token_transfers.json").transfers.write_parquet(out)
    return out


def test_bit_flipped_parquet_is_an_input_error(tmp_path: Path) -> None:
    """Single-bit flips (seeded): each loads with its counts adding up or is an InputError; none
    reaches Polars as a Rust panic (one of these did before pyarrow checked the file first)."""
    good = _canonical_parquet(tmp_path).read_bytes()
    rng = random.Random(20261201)
    outcomes = set()
    f = tmp_path / "flip.parquet"
    footer = len(good) - 8 - int.from_bytes(good[-8:-4], "little")
    # anywhere in the file, then inside the footer (schema, key-value metadata: one of these
    # flips made pyarrow raise UnicodeDecodeError, not an ArrowException)
    for lo in [4] * 400 + [footer] * 300:
        data = bytearray(good)
        data[rng.randrange(lo, len(data) - 8)] ^= 1 << rng.randrange(8)
        f.write_bytes(bytes(data))
        try:
            loaded = read_file(f, skip_bad=True)
            outcomes.add("loaded")
            assert loaded.read == loaded.transfers.height + loaded.rejects.height
        except InputError as exc:
            outcomes.add("error")
            assert exc.file == str(f) and exc.reason
    assert outcomes == {"loaded", "error"}
    trunc = tmp_path / "trunc.parquet"
    trunc.write_bytes(good[: len(good) // 2])
    _reject(trunc, None, None, "unreadable Parquet")


def test_ethereum_etl_stream_of_logs_is_decoded(tmp_path: Path) -> None:
    """``ethereumetl stream -e log`` output: detected as logs and decoded, like logs.csv."""
    loaded = read_file(STREAM_LOGS / "expected_logs.json")
    assert loaded.format == "ethereum-etl-logs"
    want = _lines(STREAM_LOGS / "expected_token_transfers.json")
    got = loaded.transfers.select("token", "src", "dst", "value", "tx_hash", "seq").rows()
    assert got == [
        (w["token_address"], w["from_address"], w["to_address"], str(w["value"]),
         w["transaction_hash"], w["log_index"]) for w in want
    ]  # fmt: skip
    assert loaded.skipped == {"not an ERC-20 Transfer event": 1}
    assert loaded.transfers["ts"].dt.epoch("s").to_list() == [1466669562]
    # the large real stream: every ERC-20 transfer ethereum-etl extracted, ERC-721 counted apart
    big = read_file(STREAM / "expected_logs.json")
    transfer = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    erc721 = {
        (r["transaction_hash"], r["log_index"])
        for r in _lines(STREAM / "expected_logs.json")
        if len(r["topics"]) == 4 and r["topics"][0] == transfer
    }
    want_big = sorted(
        (r["transaction_hash"], r["log_index"], str(r["value"]))
        for r in TT
        if (r["transaction_hash"], r["log_index"]) not in erc721
    )
    assert sorted(big.transfers.select("tx_hash", "seq", "value").rows()) == want_big
    assert big.skipped["ERC-721 Transfer (token id, not an amount)"] == len(erc721) == 9
    assert big.read == 681 == big.transfers.height + sum(big.skipped.values())
    # a mixed stream with logs but no token_transfer records decodes the logs too
    blocks = _lines(STREAM / "expected_blocks.json")
    mixed = _ndjson(tmp_path / "mixed.json", [*blocks, *_lines(STREAM_LOGS / "expected_logs.json")])
    m = read_file(mixed)
    assert m.transfers.height == 1 and m.skipped["not a log record (type=block)"] == len(blocks)


# -- point 3: nothing that is not an exact on-chain integer is accepted as one -----------------
def test_missing_token_contract_is_not_the_native_coin(tmp_path: Path) -> None:
    row = {k: v for k, v in TT[1].items() if k != "token_address"}
    f = _ndjson(tmp_path / "tt.json", [TT[0], row])
    _reject(f, 2, "token_address", "missing token contract")
    g = _ndjson(tmp_path / "tt_null.json", [TT[0], {**TT[1], "token_address": None}])
    _reject(g, 2, "token_address", "missing token contract")
    # TronGrid: no token_info.address
    pages = json.loads(SAMPLE_DATA[0].read_text())
    del pages[0]["data"][0]["token_info"]["address"]
    h = tmp_path / "grid.json"
    h.write_text(json.dumps(pages))
    _reject(h, 1, "token_info.address", "missing token contract")
    # raw logs without their contract address
    doc = json.loads(GETLOGS.read_text())
    del doc["result"][0]["address"]
    r = tmp_path / "logs.json"
    r.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"row 1, field 'address': missing token contract"):
        read_file(r)


def test_generic_token_column_blank_needs_the_row_to_say_native(tmp_path: Path) -> None:
    head = "tx_hash,src,dst,value,ts,token,asset\n"
    base = f"0x{'a' * 64},0x{'1' * 40},0x{'2' * 40},5,1700000000"
    f = tmp_path / "g.csv"
    f.write_text(head + f"{base},{USDT},USDT\n" + base.replace("a" * 64, "b" * 64) + ",,\n")
    _reject(f, 2, "token", "missing token contract")
    f.write_text(head + f"{base},native,\n" + base.replace("a" * 64, "b" * 64) + ",,ETH\n")
    loaded = read_file(f)
    assert loaded.transfers["asset"].to_list() == ["ETH", "ETH"]
    assert loaded.transfers["token"].null_count() == 2
    no_col = tmp_path / "native.csv"
    no_col.write_text("tx_hash,src,dst,value,ts\n" + base + "\n")
    assert read_file(no_col).transfers["decimals"].to_list() == [18]
    # no token column, but the asset says USDT: not TRX/ETH (value or scaled amount alike)
    usdt = tmp_path / "usdt.csv"
    usdt.write_text("tx_hash,src,dst,value,ts,asset\n" + base + ",USDT\n")
    _reject(usdt, 1, "token", "missing token contract")
    usdt.write_text("tx_hash,src,dst,amount,ts,asset\n" + base + ",USDT\n")
    with pytest.raises(InputError, match=r"row 1, field 'token': missing token contract"):
        read_file(usdt, fmt="generic")


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_value_is_missing_not_zero(tmp_path: Path, blank: str) -> None:
    f = _ndjson(tmp_path / "tt.json", [TT[0], {**TT[1], "value": blank}])
    _reject(f, 2, "value", "missing value")
    g = tmp_path / "g.csv"
    g.write_text(
        f"tx_hash,src,dst,value,ts\n0x{'a' * 64},0x{'1' * 40},0x{'2' * 40},{blank},1700000000\n"
    )
    _reject(g, 1, "value", "missing value")


@pytest.mark.parametrize("literal", ["1.2345678901234567e+21", "1000.0", "1e3"])
def test_json_float_is_not_an_exact_integer(tmp_path: Path, literal: str) -> None:
    line = json.dumps(TT[1]).replace(f'"value": {TT[1]["value"]}', f'"value": {literal}')
    assert literal in line
    f = _ndjson(tmp_path / "tt.json", [TT[0], line])
    _reject(f, 2, "value", f"not a non-negative integer (raw on-chain units expected): {literal}")
    pages = json.loads(SAMPLE_DATA[0].read_text())
    text = json.dumps(pages).replace(
        f'"value": "{pages[0]["data"][0]["value"]}"', f'"value": {literal}', 1
    )
    g = tmp_path / "grid.json"
    g.write_text(text)
    _reject(g, 1, "value", literal)


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("log_index", "log_index is not an integer"),
        ("block_number", "block_number is not an integer"),
        ("block_timestamp", "unparsable timestamp: 1683029999.5"),
    ],
)
def test_json_float_in_an_integer_field_rejects_that_row_only(
    tmp_path: Path, field: str, reason: str
) -> None:
    f = _ndjson(tmp_path / "tt.json", [TT[0], {**TT[1], field: TT[1][field] + 0.5}, TT[2]])
    _reject(f, 2, field, reason)
    assert read_file(f, skip_bad=True).transfers.height == 2


def test_scaled_amount_path_stays_exact(tmp_path: Path) -> None:
    """The one documented decimal path (scaled amounts with known decimals) is exact."""
    f = tmp_path / "g.csv"
    f.write_text(
        "tx_hash,src,dst,amount,ts,token\n"
        f'0x{"a" * 64},0x{"1" * 40},0x{"2" * 40},"1,234.567891",1700000000,{USDT}\n'
    )
    assert read_file(f, fmt="generic").transfers["value"].to_list() == ["1234567891"]


def test_parquet_bad_block_decimals_seq_are_rejected_not_nulled(tmp_path: Path) -> None:
    good = read_file(STREAM / "expected_token_transfers.json").transfers.head(4)
    for col, bad in [("block", "x"), ("decimals", "70000"), ("seq", "1.5"), ("seq", "")]:
        values = good[col].cast(pl.String).to_list()
        values[1] = bad
        f = tmp_path / f"bad_{col}.parquet"
        good.with_columns(pl.Series(col, values, pl.String)).write_parquet(f)
        with pytest.raises(InputError) as err:
            read_file(f)
        assert (err.value.row, err.value.field) == (2, col), str(err.value)
        loaded = read_file(f, skip_bad=True)
        assert loaded.transfers.height == 3 and loaded.rejects["row"].to_list() == [2]
    # floats in an integer column: 5.0 is not silently 5, nor 5.5 truncated to 5
    f = tmp_path / "float_block.parquet"
    good.with_columns(pl.Series("block", [1.0, 5.5, 2.0, 3.0])).write_parquet(f)
    assert read_file(f, skip_bad=True).rejects.height == 4


def test_parquet_internal_column_names_are_data(tmp_path: Path) -> None:
    """A Parquet column named ``_native`` or ``_skip`` is not an instruction to the reader."""
    good = read_file(STREAM / "expected_token_transfers.json").transfers.head(2)
    f = tmp_path / "t.parquet"
    good.with_columns(
        pl.lit(None, pl.String).alias("token"),
        pl.lit(None, pl.String).alias("asset"),
        pl.lit(True).alias("_native"),
        pl.lit("x").alias("_skip"),
    ).write_parquet(f)
    loaded = read_file(f, skip_bad=True)
    assert loaded.transfers.height == 0 and loaded.rejects.height == 2
    assert set(loaded.rejects["field"].to_list()) == {"token"}


def test_parquet_native_rows_need_the_native_asset(tmp_path: Path) -> None:
    t = read_file(STREAM / "expected_transactions.json").transfers.head(3)
    f = tmp_path / "eth.parquet"
    t.write_parquet(f)
    assert read_file(f).transfers["asset"].to_list() == ["ETH"] * 3  # tracer's own export
    t.with_columns(pl.Series("asset", ["ETH", None, "USDT"])).write_parquet(f)
    loaded = read_file(f, skip_bad=True)
    assert loaded.rejects["row"].to_list() == [2, 3]


@pytest.mark.parametrize(
    ("cell", "field", "reason"),
    [
        ("chain=", "chain", "missing chain name"),
        ("chain= ", "chain", "missing chain name"),
        ("chain=eth/main", "chain", "not a chain name"),
        ("decimals=70000", "decimals", "decimals outside 0..77: 70000"),
        ("decimals=78", "decimals", "decimals outside 0..77: 78"),
        ("src=0x-" + "1" * 39, "src", "not an EVM address"),
        ("src=0x0x" + "1" * 38, "src", "not an EVM address"),
        ("seq=", "seq", "missing value"),
    ],
)
def test_generic_bad_cells(tmp_path: Path, cell: str, field: str, reason: str) -> None:
    good = {"tx_hash": "0x" + "a" * 64, "src": "0x" + "1" * 40, "dst": "0x" + "2" * 40,
            "value": "100", "ts": "1700000000", "seq": "0", "chain": "ethereum",
            "token": "0x" + "3" * 40, "decimals": "6"}  # fmt: skip
    bad = dict(good, tx_hash="0x" + "b" * 64)
    k, v = cell.split("=", 1)
    bad[k] = v
    f = tmp_path / "in.csv"
    f.write_text(",".join(good) + "\n" + ",".join(good.values()) + "\n" + ",".join(bad.values()))
    _reject(f, 2, field, reason)  # a blank seq in a seq column is not a content-derived seq


def test_addresses_with_sign_or_double_prefix_are_rejected() -> None:
    for bad in ("0x-" + "1" * 39, "0x0x" + "1" * 38, "0x+" + "1" * 39, "0x" + "_1" * 20):
        with pytest.raises(ValueError):
            normalize("ethereum", bad)
        with pytest.raises(ValueError):
            normalize("tron", bad)


def test_token_file_rejects_bad_decimals_and_ragged_rows(tmp_path: Path) -> None:
    f = tmp_path / "tokens.csv"
    f.write_text(f"chain,token,symbol,decimals\nethereum,{USDT},USDT,70000\n")
    with pytest.raises(InputError, match="row 1, field 'decimals'"):
        read_token_file(f)
    f.write_text(f"chain,token,symbol,decimals\nethereum,{USDT},USDT,6,extra,cells\n")
    with pytest.raises(InputError, match="malformed CSV"):
        read_token_file(f)
    f.write_text(f"chain,token,symbol,decimals\nethereum,{USDT},,6\n")
    with pytest.raises(InputError, match="missing symbol"):
        read_token_file(f)


# -- point 4: implausible times ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("ts", "why"),
    [
        ("1677-01-01T00:00:00Z", "before ethereum's first block (2015-07-30)"),
        ("1900-01-01 00:00:00", "before ethereum's first block"),
        ("2015-07-29T23:59:59Z", "before ethereum's first block"),
        ("3000-01-01T00:00:00Z", "in the future"),
        ("9999-12-31T00:00:00Z", "in the future"),
        ("0", "before ethereum's first block"),
        ("-5", "before ethereum's first block"),
        ("170000000000", "before ethereum's first block"),  # seconds >= 1e11 read as ms: 1975
        ("-9223372036854775808", "before ethereum's first block"),
        ("9223372036854775807", "in the future"),
    ],
)
def test_implausible_timestamps_are_rejected(tmp_path: Path, ts: str, why: str) -> None:
    f = tmp_path / "t.csv"
    f.write_text(
        "tx_hash,src,dst,value,ts\n"
        f"0x{'a' * 64},0x{'1' * 40},0x{'2' * 40},5,1700000000\n"
        f"0x{'b' * 64},0x{'1' * 40},0x{'2' * 40},5,{ts}\n"
    )
    _reject(f, 2, "ts", f"timestamp {why}")


def test_time_bounds_are_per_chain(tmp_path: Path) -> None:
    """2019 is plausible on Ethereum and impossible on BSC (first block 2020-08-29)."""
    f = tmp_path / "t.csv"
    f.write_text(
        "tx_hash,src,dst,value,ts,chain\n"
        f"0x{'a' * 64},0x{'1' * 40},0x{'2' * 40},5,2019-06-01T00:00:00Z,ethereum\n"
        f"0x{'b' * 64},0x{'1' * 40},0x{'2' * 40},5,2019-06-01T00:00:00Z,bsc\n"
    )
    _reject(f, 2, "ts", "before bsc's first block (2020-08-29)")
    pages = json.loads(SAMPLE_DATA[0].read_text())
    pages[0]["data"][0]["block_timestamp"] = 1_500_000_000_000  # 2017 (ms): before Tron mainnet
    g = tmp_path / "grid.json"
    g.write_text(json.dumps(pages))
    _reject(g, 1, "block_timestamp", "before tron's first block (2018-06-25)")
    assert set(GENESIS) >= {"ethereum", "tron", "bsc", "polygon"}
    lo, hi = time_bounds_us("polygon", now=datetime(2026, 1, 1, tzinfo=UTC))
    assert iso_us(lo) == "2020-05-30T00:00:00+00:00"
    assert iso_us(hi) == "2026-01-02T00:00:00+00:00"


def test_info_never_crashes_on_odd_stored_times(tmp_path: Path) -> None:
    """A workspace written before the time bounds (or edited by hand) still prints its info."""
    runner = CliRunner()
    ws = tmp_path / "ws"
    res = runner.invoke(cli, ["ingest", "-w", str(ws), "-q", str(SAMPLE_DATA[0])])
    assert res.exit_code == 0, res.output
    parts = [p for p in ws.rglob("*.parquet") if "transfer" in str(p)]
    assert parts, list(ws.rglob("*"))
    for part in parts:
        table = pq.read_table(part)
        ts = pc.cast(table["ts"], pa.int64()).to_pylist()
        ts[0] = -(2**63) + 1  # far outside any calendar date Python can show
        ts[-1] = 2**63 - 1
        col = pa.array(ts, pa.int64()).cast(table.schema.field("ts").type)
        i = table.column_names.index("ts")
        pq.write_table(table.set_column(i, table.schema.field("ts"), col), part)
    res = runner.invoke(cli, ["info", "-w", str(ws), "--format", "json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert "outside years 1-9999" in info["first_ts"] and "outside years" in info["last_ts"]


# -- the CLI: exit 2 with the message, never a traceback; a bug is not "bad input" -------------
def test_cli_bad_inputs_exit_2_with_file_row_field(tmp_path: Path) -> None:
    runner = CliRunner()
    cases = {
        "null.json": "\n".join([json.dumps(TT[0]), "null", json.dumps(TT[1])]) + "\n",
        "deep.json": "[" * 100_000,
        "float.json": json.dumps(TT[0]).replace(
            f'"value": {TT[0]["value"]}', '"value": 1.2345678901234567e+21'
        ),
    }
    for name, text in cases.items():
        f = tmp_path / name
        f.write_text(text)
        res = runner.invoke(cli, ["ingest", "-w", str(tmp_path / f"ws-{name}"), "-q", str(f)])
        assert res.exit_code == 2, (name, res.output)
        assert res.output.startswith(f"Error: {f}"), res.output
        assert "Traceback" not in res.output
        assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit)


def test_cli_internal_error_is_not_reported_as_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception is a bug: exit 70 and say so, not exit 2 and blame the file."""
    import tracer.sources as sources

    def boom(*a: object, **k: object) -> None:
        raise KeyError("internal")

    monkeypatch.setattr(sources, "detect", boom)
    monkeypatch.delenv("TRACER_DEBUG", raising=False)
    f = tmp_path / "tt.json"
    _ndjson(f, [TT[0]])
    res = CliRunner().invoke(cli, ["ingest", "-w", str(tmp_path / "ws"), "-q", str(f)])
    assert res.exit_code == INTERNAL_ERROR_EXIT, res.output
    assert "internal error (a bug in tracer" in res.output and "KeyError" in res.output
    assert "Traceback" not in res.output
