"""The audit ledger explains itself (issue 13.7): every row recomputes from its own columns,
seed rows are flagged, labels travel with the rows, and the file records its provenance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.analysis.test_follow import write_case
from tests.conftest import SAMPLE_DATA, SAMPLE_LABELS
from tracer.analysis.follow import follow
from tracer.cli import cli
from tracer.sources.labels import read_labels
from tracer.store.workspace import Workspace


def recompute(led: pl.DataFrame, model: str) -> np.ndarray:
    """The documented rule of ``model`` on each row's own columns (README "Audit ledger")."""
    x = led["amount"].to_numpy()
    b = led["sender_balance_before"].to_numpy()
    t = led["sender_taint_before"].to_numpy()
    seed = led["is_seed"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        rule = {
            "haircut": x * np.minimum(1.0, np.where(b > 0, t / b, 0.0)),
            "taint-first": np.minimum(x, t),
            "clean-first": np.maximum(0.0, x - (b - t)),
            "poison": np.where(t > 0, x, 0.0),
        }[model]
    return np.where(seed, x, rule)


@pytest.fixture(scope="module")
def sample_ws() -> Workspace:
    ws, _ = Workspace.in_memory(SAMPLE_DATA, [read_labels(SAMPLE_LABELS)])
    return ws


def random_case(tmp_path: Path, seed: int) -> Workspace:
    """Random transfers among 12 wallets (overdrafts, cycles, repeat payments) and 3 exchanges."""
    rng = np.random.default_rng(seed)
    wallets = ["0x" + f"{i:040x}" for i in range(1, 13)]
    ex = ["0x" + c * 40 for c in "456"]  # the exchanges write_case labels
    rows = []
    for i in range(120):
        s = wallets[int(rng.integers(0, 12))]
        d = (wallets + ex)[int(rng.integers(0, 15))]
        if d != s:
            rows.append((s, d, int(rng.integers(1, 50)), 1_700_000_000 + 10 * i))
    tmp_path.mkdir(parents=True, exist_ok=True)
    data, labels = write_case(tmp_path, rows)
    ws, _ = Workspace.in_memory([data], [read_labels(labels)])
    return ws


@pytest.mark.parametrize("model", ["haircut", "taint-first", "clean-first", "poison"])
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_every_row_recomputes(sample_ws, tmp_path, model: str, direction: str) -> None:  # type: ignore[no-untyped-def]
    cases = [(sample_ws, ["TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx"] if direction == "forward"
              else ["THEDehPvqY5ugmAdWDPB7R6BAuFtSfuTQ6"])]  # fmt: skip
    for k in range(3):
        ws = random_case(tmp_path / f"r{k}", seed=k)
        cases.append((ws, ["0x" + f"{1:040x}", "0x" + f"{2:040x}"]))
    for ws, sources in cases:
        r = follow(ws, sources, model=model, direction=direction, ledger=True)
        led = r.ledger
        assert led is not None and led.height > 0
        np.testing.assert_allclose(led["tainted"].to_numpy(), recompute(led, model),
                                   rtol=1e-12, atol=1e-12)  # fmt: skip
        # a seed is a hop-1 row and every hop-1 row is a seed (no window here)
        assert (led["is_seed"] == (led["hop"] == 1)).all()
        seeds = led.filter("is_seed")
        assert (seeds["tainted"] == seeds["amount"]).all()


def test_ledger_rows_carry_both_labels(sample_ws, sample_addresses: dict) -> None:  # type: ignore[no-untyped-def]
    r = follow(sample_ws, [sample_addresses["scam"]], ledger=True)
    led = r.ledger
    assert {"src_name", "src_category", "dst_name", "dst_category", "is_seed"} <= set(led.columns)
    into_otc = led.filter(pl.col("dst") == sample_addresses["otc-desk"])
    assert into_otc["dst_name"].to_list() == ["OTC desk (underground bank)"]
    assert into_otc["dst_category"].to_list() == ["otc_desk"]
    assert into_otc["src_category"].to_list() == ["scam"]
    out_of_otc = led.filter(pl.col("src") == sample_addresses["otc-desk"])
    assert set(out_of_otc["src_category"]) == {"otc_desk"}
    unlabelled = led.filter(pl.col("dst") == sample_addresses["peel-1"])
    assert unlabelled["dst_name"].to_list() == [None]


def test_ledger_file_records_its_provenance(tmp_path: Path, sample_addresses: dict) -> None:
    ws_dir = tmp_path / "ws"
    assert CliRunner().invoke(cli, ["ingest", "-w", str(ws_dir), *map(str, SAMPLE_DATA)]
                              ).exit_code == 0  # fmt: skip
    out = tmp_path / "ledger.parquet"
    res = CliRunner().invoke(cli, [
        "follow", sample_addresses["scam"], "-w", str(ws_dir), "--labels", str(SAMPLE_LABELS),
        "--ledger", str(out), "--max-hops", "3", "--min-amount", "0.5", "--model", "clean-first",
        "--format", "json",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    meta = json.loads(pq.read_schema(out).metadata[b"tracer"])
    from tracer.core.version import __version__

    assert meta["tracer_version"] == __version__
    assert meta["workspace"]["kind"] == "directory"
    assert meta["workspace"]["generation"] == Workspace.open(ws_dir).manifest()["generation"]
    assert len(meta["label_set_sha256"]) == 64
    assert meta["sources"] == [sample_addresses["scam"]] and meta["model"] == "clean-first"
    opts = meta["options"]
    assert opts["max_hops"] == 3 and opts["min_amount"] == 0.5 and opts["asset"] == "stablecoins"
    assert opts["direction"] == "forward" and "through" in opts and "since" in opts
    assert meta["rule"].startswith("tainted = max(0")
    assert meta["command_line"][:2] == ["tracer", "follow"]
    led = pl.read_parquet(out)
    np.testing.assert_allclose(led["tainted"].to_numpy(), recompute(led, "clean-first"),
                               rtol=1e-12, atol=1e-12)  # fmt: skip
