"""The TronGrid native-TRX reader: transfers kept, other contract types counted as skipped."""

from __future__ import annotations

import json
from pathlib import Path

from tracer.sources import read_file
from tracer.sources.tron import _trongrid_trx_rows


def test_sample_gas_file_reads_as_native_trx(sample_dir: Path, sample_addresses: dict) -> None:
    loaded = read_file(sample_dir / "trongrid_trx_gas.json")
    t = loaded.transfers
    assert loaded.format == "trongrid-trx"
    assert t.height == 6 and t["token"].null_count() == 6
    assert set(t["asset"]) == {"TRX"} and set(t["decimals"]) == {6}
    assert sample_addresses["peel-1"] in set(t["dst"])  # 41-hex converted to base58
    assert t.filter(t["dst"] == sample_addresses["peel-1"])["value"].item() == "30000000"


def test_non_transfer_contracts_and_failures_are_skipped(tmp_path: Path, sample_dir: Path) -> None:
    doc = json.loads((sample_dir / "trongrid_trx_gas.json").read_text())
    recs = doc["data"]
    recs[0]["raw_data"]["contract"][0]["type"] = "TriggerSmartContract"
    recs[1]["ret"][0]["contractRet"] = "OUT_OF_ENERGY"
    rows = _trongrid_trx_rows(recs, "x")
    assert rows[0]["_skip"] == "TriggerSmartContract transaction (moves no TRX)"
    assert rows[1]["_skip"] == "failed transaction (contractRet=OUT_OF_ENERGY)"
    f = tmp_path / "trx.json"
    f.write_text(json.dumps(doc))
    loaded = read_file(f)
    assert loaded.read == 6 and loaded.transfers.height == 4
    assert sum(loaded.skipped.values()) == 2
