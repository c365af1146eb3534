"""Issue 13.5: common real exports load without pre-processing, and say how they were read."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tracer.cli import cli
from tracer.sources import ReadOptions, read_file
from tracer.sources.generic import parse_map
from tracer.sources.headers import NO_HASH_RULE

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_case"


def _grid_records() -> list[dict]:
    pages = json.loads((SAMPLE / "trongrid_scam_wallet.json").read_text())
    return [r for p in pages for r in p["data"] if r["type"] == "Transfer"]


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_tronscan_api_field_names_csv_loads_as_tron(tmp_path: Path) -> None:
    recs = _grid_records()
    f = _write(
        tmp_path / "tronscan.csv",
        ["tx_id", "block_ts", "from_address", "to_address", "quant", "token_id", "token_decimal"],
        [[r["transaction_id"], r["block_timestamp"], r["from"], r["to"], r["value"],
          r["token_info"]["address"], r["token_info"]["decimals"]] for r in recs],
    )  # fmt: skip
    got = read_file(f)
    grid = read_file(SAMPLE / "trongrid_scam_wallet.json")
    key = ["chain", "tx_hash", "seq", "src", "dst", "value", "ts", "asset", "amount"]
    assert got.format == "generic"
    assert got.transfers.select(key).sort(key).equals(grid.transfers.select(key).sort(key))
    assert "chain: tron (inferred from the addresses; --chain overrides)" in got.notes
    assert got.notes[0] == (
        "columns: hash=tx_id, from=from_address, to=to_address, value=quant, time=block_ts, "
        "token=token_id, decimals=token_decimal"
    )


def test_dune_export_hex_no_hash_scientific_amounts(tmp_path: Path) -> None:
    usdt = "0xdac17f958d2ee523a2206206994597c13d831ec7"
    a, b = "\\x" + "11" * 20, "\\x" + "22" * 20
    f = _write(
        tmp_path / "dune.csv",
        ["block_time", "from", "to", "amount", "contract_address", "symbol"],
        [["2024-03-01 10:00:00.000 UTC", a, b, "1e-05", "\\x" + usdt[2:], "USDT"],
         ["2024-03-01 10:05:00.000 UTC", b, a, "2.5E+3", "\\x" + usdt[2:], "USDT"],
         ["2024-03-01 10:05:00.000 UTC", b, a, "2.5E+3", "\\x" + usdt[2:], "USDT"]],
    )  # fmt: skip
    got = read_file(f)
    t = got.transfers.sort("ts")
    assert t["value"].to_list() == ["10", "2500000000", "2500000000"]  # exact, 6 decimals
    assert t["tx_hash"].str.starts_with("nohash:").all()
    assert t["src"].to_list()[0] == "0x" + "11" * 20
    assert NO_HASH_RULE in got.warnings
    again = read_file(f)  # the synthetic id is content-derived: re-reading gives the same rows
    assert again.transfers.equals(got.transfers)


def test_rounded_float_amount_is_rejected_not_truncated(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "floats.csv",
        ["hash", "block_time", "from", "to", "amount", "contract_address"],
        [["0x" + "ab" * 32, "2024-03-01 10:00:00", "0x" + "11" * 20, "0x" + "22" * 20,
          "1.2345678901234567e+21", "0xdac17f958d2ee523a2206206994597c13d831ec7"]],
    )  # fmt: skip
    got = read_file(f, skip_bad=True)
    assert got.transfers.height == 0
    assert "rounded float" in got.rejects["reason"][0]


def test_map_alone_implies_generic_and_is_reported(tmp_path: Path) -> None:
    recs = _grid_records()
    # headers a detector would also take for TronScan's own CSV; --map says: generic
    f = _write(
        tmp_path / "x.csv",
        ["transaction_id", "t", "from_address", "to_address", "quant", "c", "d"],
        [[r["transaction_id"], r["block_timestamp"], r["from"], r["to"], r["value"],
          r["token_info"]["address"], r["token_info"]["decimals"]] for r in recs],
    )  # fmt: skip
    opts = ReadOptions(column_map=parse_map("time=t,token=c,decimals=d"))
    got = read_file(f, options=opts)
    assert got.format == "generic"
    assert got.transfers.height == len(recs)


def test_wallet_column_views_in_one_csv(tmp_path: Path) -> None:
    """One CSV holding two wallets' histories with a wallet column equals the two files."""
    scam_pages = json.loads((SAMPLE / "trongrid_scam_wallet.json").read_text())
    down_pages = json.loads((SAMPLE / "trongrid_downstream.json").read_text())
    scam = "TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx"
    header = ["wallet", "tx_id", "block_ts", "from_address", "to_address", "quant", "token_id",
              "token_decimal"]  # fmt: skip

    def rows(pages: list[dict], wallet_of: object) -> list[list[object]]:
        return [[wallet_of(r), r["transaction_id"], r["block_timestamp"], r["from"], r["to"],
                 r["value"], r["token_info"]["address"], r["token_info"]["decimals"]]
                for p in pages for r in p["data"] if r["type"] == "Transfer"]  # fmt: skip

    down_rows = rows(down_pages, lambda r: r["from"] if r["from"] != scam else r["to"])
    scam_rows = rows(scam_pages, lambda r: scam)
    both = _write(tmp_path / "both.csv", header, scam_rows + down_rows)
    one = _write(tmp_path / "scam.csv", header, scam_rows)
    two = _write(tmp_path / "down.csv", header, down_rows)
    from tracer.store.workspace import Workspace

    w1, s1 = Workspace.in_memory([both])
    w2, s2 = Workspace.in_memory([one, two])
    key = ["tx_hash", "seq"]
    assert w1.transfers().sort(key).equals(w2.transfers().sort(key))
    assert s1.total("duplicate") == s2.total("duplicate") > 0
    assert not s1.files[0].warnings


@pytest.mark.parametrize("as_json", [True, False])
def test_ingest_reports_mapping_and_warnings(tmp_path: Path, as_json: bool) -> None:
    f = _write(
        tmp_path / "dune.csv",
        ["block_time", "from", "to", "amount", "contract_address"],
        [["2024-03-01 10:00:00", "0x" + "11" * 20, "0x" + "22" * 20, "1.5",
          "0xdac17f958d2ee523a2206206994597c13d831ec7"]],
    )  # fmt: skip
    args = ["ingest", "-w", str(tmp_path / "ws"), str(f)] + (["--json"] if as_json else [])
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    text = res.output if as_json else res.stderr
    assert "columns: from=from, to=to, amount=amount, time=block_time" in text
    assert "no transaction hash column" in text
    if as_json:
        d = json.loads(res.stdout)
        assert d["files"][0]["warnings"] == [NO_HASH_RULE]
        assert pl.DataFrame(d["files"]).height == 1


@pytest.mark.parametrize(
    ("text", "row", "fields"),
    [("hash,from,to,value,time\nH,A,B,1,T\nH,A,B\n", 2, 3),
     ("hash,from,to,value,time\nH,A,B,1,T,extra\n", 1, 6)],
)  # fmt: skip
def test_ragged_csv_is_refused_with_its_row(
    tmp_path: Path, text: str, row: int, fields: int
) -> None:
    f = tmp_path / "ragged.csv"
    f.write_text(text)
    res = CliRunner().invoke(cli, ["ingest", "-w", str(tmp_path / "ws"), str(f)])
    assert res.exit_code == 2
    said = f"row {row}: malformed CSV: the row has {fields} field(s) but the header has 5"
    assert said in res.output
    assert "Traceback" not in res.output and "_row" not in res.output


def test_trailing_empty_header_names_are_dropped_with_a_warning(tmp_path: Path) -> None:
    tx, a, b = "0x" + "ab" * 32, "0x" + "11" * 20, "0x" + "22" * 20
    f = tmp_path / "sheet.csv"
    f.write_text(f"hash,from,to,value,time,,\n{tx},{a},{b},5,2024-03-01 10:00:00,,\n")
    got = read_file(f)
    assert got.transfers["value"].to_list() == ["5"]
    assert any("2 empty column name(s)" in w for w in got.warnings)
    f.write_text(f"hash,from,to,value,time,,\n{tx},{a},{b},5,2024-03-01 10:00:00,x,\n")
    with pytest.raises(Exception, match="no name but hold data"):
        read_file(f)
