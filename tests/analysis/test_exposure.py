"""Exposure: the one-sweep kernel against per-address plain traces, invariants, the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tracer.kernels.exposure import (
    EXPOSURE_MODELS,
    NORMAL,
    OVERDRAFT_AMOUNT,
    SOURCE,
    THROUGH,
    ExposureState,
    exposure_sweep,
)

from tests import reference
from tracer.analysis.exposure import ExposureRequest, make_plan, sweep
from tracer.analysis.exposure_run import exposure
from tracer.analysis.follow import follow
from tracer.cli import cli
from tracer.sources.labels import read_labels
from tracer.store.workspace import Workspace

AMOUNTS = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 0.125, 33.3])


@st.composite
def labelled_graphs(draw: st.DrawFn) -> dict:
    n = draw(st.integers(2, 9))
    m = draw(st.integers(0, 35))
    n_cat = draw(st.integers(1, 3))
    src = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    dst = [draw(st.integers(0, n - 1).filter(lambda d, s=s: d != s)) for s in src]
    amount = draw(st.lists(AMOUNTS, min_size=m, max_size=m))
    kind = draw(st.lists(st.sampled_from([NORMAL, NORMAL, NORMAL, SOURCE, THROUGH]), min_size=n,
                         max_size=n))  # fmt: skip
    cat = [draw(st.integers(-1, n_cat - 1)) if k != NORMAL else -1 for k in kind]
    ts = sorted(draw(st.lists(st.integers(0, 20), min_size=m, max_size=m)))
    return {
        "n": n, "n_cat": n_cat,
        "src": np.array(src, dtype=np.int32), "dst": np.array(dst, dtype=np.int32),
        "amount": np.array(amount, dtype=np.float64), "ts": np.array(ts, dtype=np.int64),
        "kind": np.array(kind, dtype=np.int8), "cat": np.array(cat, dtype=np.int32),
    }  # fmt: skip


def run_kernel(g: dict, model: str, chunk: int | None = None, **kw) -> ExposureState:
    state = ExposureState(g["n"], g["n_cat"], np.arange(g["n"], dtype=np.int32))
    m = g["src"].shape[0]
    step = chunk or max(m, 1)
    for a in range(0, max(m, 1), step):
        b = min(m, a + step)
        exposure_sweep(state, g["src"][a:b], g["dst"][a:b], g["amount"][a:b], g["ts"][a:b],
                       g["kind"], g["cat"], model=model, **kw)  # fmt: skip
    return state


@pytest.mark.parametrize("model", list(EXPOSURE_MODELS))
@settings(deadline=None, max_examples=120)
@given(
    g=labelled_graphs(),
    min_amount=st.sampled_from([0.0, 0.4]),
    max_hops=st.sampled_from([None, 1, 2]),
    window=st.sampled_from([(None, None), (5, None), (None, 12), (4, 15)]),
    chunk=st.sampled_from([None, 1, 3]),
)
def test_sweep_matches_per_address_traces(model, g, min_amount, max_hops, window, chunk) -> None:
    lo, hi = window
    kw = {"min_amount": min_amount, "max_hops": max_hops, "lo": lo, "hi": hi}
    got = run_kernel(g, model, chunk=chunk, **kw)
    edges = list(zip(g["src"].tolist(), g["dst"].tolist(), g["amount"].tolist(),
                     g["ts"].tolist(), strict=True))  # fmt: skip
    kind, cat = dict(enumerate(g["kind"].tolist())), dict(enumerate(g["cat"].tolist()))
    for v in range(g["n"]):
        ref = reference.exposure_trace(edges, kind, cat, v, model, **kw)
        assert got.flow[v] == pytest.approx(ref.flow)
        assert got.touched[v] == pytest.approx(ref.touched)
        for c in range(g["n_cat"]):
            assert got.direct[v, c] == pytest.approx(ref.direct.get(c, 0.0), rel=1e-9, abs=1e-12)
            assert got.indirect[v, c] == pytest.approx(ref.indirect.get(c, 0.0), rel=1e-9,
                                                       abs=1e-12)  # fmt: skip
            assert got.min_hops[v, c] == ref.min_hops.get(c, -1)


@pytest.mark.parametrize("model", ["haircut", "taint-first", "clean-first"])
@settings(deadline=None, max_examples=120)
@given(g=labelled_graphs(), min_amount=st.sampled_from([0.0, 0.4]))
def test_conserving_models_never_attribute_more_than_received(model, g, min_amount) -> None:
    got = run_kernel(g, model, min_amount=min_amount)
    total = got.direct + got.indirect
    assert np.all(total >= 0)
    # per address, what is attributed over all categories never exceeds what it received
    assert np.all(total.sum(axis=1) <= got.flow * (1 + 1e-9) + 1e-12)
    # and a wallet never holds more taint than its balance
    assert np.all(got.taint.sum(axis=1) <= np.maximum(got.balance, 0) * (1 + 1e-9) + 1e-9)


@settings(deadline=None, max_examples=120)
@given(g=labelled_graphs())
def test_poison_bounds_haircut_per_category(g) -> None:
    hair, poison = run_kernel(g, "haircut"), run_kernel(g, "poison")
    assert np.all(hair.direct + hair.indirect <= poison.direct + poison.indirect + 1e-9)


@pytest.mark.parametrize("model", list(EXPOSURE_MODELS))
@settings(deadline=None, max_examples=100)
@given(g=labelled_graphs())
@example(  # every model; found under clean-first
    g={'n': 5,
     'n_cat': 3,
     'src': np.array([2, 0, 0, 0, 1, 4, 2, 0, 0, 0, 4, 1, 4, 0, 0, 1, 1, 3, 0, 0, 2, 1,
            0, 0, 0, 2, 2, 0, 1, 0, 0], dtype=np.int32),
     'dst': np.array([3, 1, 4, 4, 0, 0, 0, 3, 4, 4, 2, 2, 0, 1, 1, 0, 0, 0, 3, 1, 0, 0,
            2, 3, 2, 0, 1, 2, 0, 1, 1], dtype=np.int32),
     'amount': np.array([ 0. ,  0. ,  0. ,  0. ,  0. ,  0. ,  0. ,  0. ,  0. ,  0. ,  0.5,
             3. ,  0. ,  0. ,  0. ,  0. ,  0. ,  0. ,  0. ,  0. ,  0. ,  0. ,
            33.3,  0. ,  0. , 33.3,  0. ,  0. ,  0. ,  0. ,  0. ]),
     'ts': np.array([ 2,  3,  3,  3,  4,  5,  5,  6,  8,  8,  9,  9,  9, 11, 11, 12, 13,
            14, 14, 15, 16, 16, 16, 17, 17, 17, 18, 19, 19, 19, 20]),
     'kind': np.array([1, 1, 0, 0, 1], dtype=np.int8),
     'cat': np.array([ 1,  2, -1, -1,  0], dtype=np.int32)},
).via("a pool rounded above the balance: clean-first carried 1e-17 on a zero-amount transfer")
def test_category_alone_with_other_slot_is_exact(model, g) -> None:
    """One category swept with the rest folded into an "other" slot = the all-at-once result
    (what the Ray engine's category shards rely on)."""
    full = run_kernel(g, model)
    for c in range(g["n_cat"]):
        folded = np.where(g["cat"] == c, 0, np.where(g["cat"] >= 0, 1, -1)).astype(np.int32)
        alone = run_kernel(dict(g, n_cat=2, cat=folded), model)
        np.testing.assert_allclose(alone.direct[:, 0], full.direct[:, c], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(alone.indirect[:, 0], full.indirect[:, c], rtol=1e-9,
                                   atol=1e-12)  # fmt: skip
        np.testing.assert_array_equal(alone.min_hops[:, 0], full.min_hops[:, c])
        if model == "poison":  # touched flow is only reported under poison (never decrements,
            # so no rounding residue; the other models' residues of 1e-17 may "touch" a flow)
            np.testing.assert_allclose(alone.touched, full.touched, rtol=1e-12)


def test_chunked_exposure_totals_are_bit_identical_with_inexact_amounts() -> None:
    """The unknown-prior-funds totals are one sequential sum whatever the chunking (12.11)."""
    rng = np.random.default_rng(3)
    n, m = 50, 2000
    src = rng.integers(0, n, m).astype(np.int32)
    g = {
        "n": n, "n_cat": 2, "src": src,
        "dst": ((src + rng.integers(1, n, m)) % n).astype(np.int32),
        "amount": rng.uniform(0.0, 10.0, m) * np.float64(1.1),
        "ts": np.arange(m, dtype=np.int64),
        "kind": np.array([SOURCE] * 4 + [NORMAL] * (n - 4), dtype=np.int8),
        "cat": np.array([0, 1, 0, 1] + [-1] * (n - 4), dtype=np.int32),
    }  # fmt: skip
    whole, cut = run_kernel(g, "haircut"), run_kernel(g, "haircut", chunk=97)
    assert whole.run_stats[OVERDRAFT_AMOUNT] > 0
    assert whole.run_stats.tolist() == cut.run_stats.tolist()


def test_later_deposit_does_not_expose_earlier_payment() -> None:
    """Time order: scam money arriving after a payment cannot taint that payment."""
    # 0 = scam (origin, cat 0), 1 = wallet, 2 = merchant (target)
    g = {
        "n": 3, "n_cat": 1, "src": np.array([1, 0], np.int32), "dst": np.array([2, 1], np.int32),
        "amount": np.array([5.0, 10.0]), "ts": np.array([1, 2], np.int64),
        "kind": np.array([SOURCE, NORMAL, NORMAL], np.int8),
        "cat": np.array([0, -1, -1], np.int32),
    }  # fmt: skip
    got = run_kernel(g, "haircut")
    assert got.direct[2, 0] == 0 and got.indirect[2, 0] == 0
    assert got.flow[2] == 5.0
    assert got.direct[1, 0] == 10.0


# -- the use case on the bundled sample case ---------------------------------------------------
@pytest.fixture(scope="module")
def sample_ws(sample_dir: Path) -> Workspace:
    ws, _ = Workspace.in_memory(
        [sample_dir / "trongrid_scam_wallet.json", sample_dir / "trongrid_downstream.json"],
        [read_labels(sample_dir / "labels.csv")],
    )
    return ws


def test_exchange_exposure_matches_follow(sample_ws: Workspace, sample_addresses: dict) -> None:
    """Same numbers from two code paths: exposure 'in' to scam vs follow from the scam wallet."""
    followed = follow(sample_ws, [sample_addresses["scam"]], model="haircut")
    reached = dict(zip(followed.reached["address"], followed.reached["amount"], strict=True))
    deposits = [v for k, v in sample_addresses.items() if k.startswith("exchange-")]
    rep = exposure(sample_ws, ExposureRequest(addresses=tuple(deposits), directions=("in",)))
    scam = rep.frame.filter(pl.col("category") == "scam")
    got = dict(zip(scam["address"], scam["total_amount"], strict=True))
    assert set(got) == {a for a in deposits if reached.get(a, 0) > 0}
    assert len(got) >= 3
    for addr, amount in got.items():
        assert amount == pytest.approx(reached[addr], rel=1e-12)


def test_shares_sum_to_one(sample_ws: Workspace) -> None:
    rep = exposure(sample_ws, ExposureRequest(addresses=None))
    f = rep.frame
    sums = (
        f.filter(pl.col("flow_amount") > 0)
        .group_by("address", "direction")
        .agg(pl.col("share").sum(), (pl.col("category") == "unattributed").sum().alias("u"))
    )
    assert sums.height > 20
    assert sums["share"].to_numpy() == pytest.approx(np.ones(sums.height), abs=1e-9)
    assert (sums["u"] == 1).all()  # one explicit unattributed row each
    # every (address, direction) has its unattributed row, even with no flow
    n_addr = f["address"].n_unique()
    assert f.filter(pl.col("category") == "unattributed").height == 2 * n_addr
    # exact flow equals the float flow
    flows = f.unique(["address", "direction"]).filter(pl.col("flow_value").is_not_null())
    np.testing.assert_allclose(
        flows["flow_value"].cast(pl.Float64).to_numpy(), flows["flow_amount"].to_numpy()
    )


def test_out_direction_matches_source(sample_ws: Workspace, sample_addresses: dict) -> None:
    """Out-exposure of a victim to exchanges = what `source` from the exchanges attributes."""
    scam = sample_addresses["scam"]
    rep = exposure(sample_ws, ExposureRequest(addresses=(scam,), directions=("out",)))
    row = rep.frame.filter(pl.col("category") == "guarantee_marketplace")
    merchants = [v for k, v in sample_addresses.items() if k.startswith("hg-")]
    back = follow(sample_ws, merchants, model="haircut", direction="backward")
    traced_to_scam = back.reached.filter(pl.col("address") == scam)["amount"].sum()
    assert row["total_amount"].item() == pytest.approx(traced_to_scam, rel=1e-12)
    assert row["total_amount"].item() > 0


def test_exposure_rejects_lot_models(sample_ws: Workspace) -> None:
    from tracer.core.errors import UsageError

    with pytest.raises(UsageError, match="exposure supports"):
        make_plan(sample_ws, ExposureRequest(addresses=None, model="fifo"))


def test_category_groups_equal_full_sweep(sample_ws: Workspace) -> None:
    req = ExposureRequest(addresses=None)
    plan = make_plan(sample_ws, req)
    full = sweep(plan, req, "in")
    for c in range(len(plan.categories)):
        part = sweep(plan, req, "in", group=[c])
        np.testing.assert_allclose(part.direct[:, c], full.direct[:, c])
        np.testing.assert_allclose(part.indirect[:, c], full.indirect[:, c])


# -- the command --------------------------------------------------------------------------------
def _sample_args(sample_dir: Path) -> list[str]:
    return [
        "--data", str(sample_dir / "trongrid_scam_wallet.json"),
        "--data", str(sample_dir / "trongrid_downstream.json"),
        "--labels", str(sample_dir / "labels.csv"),
    ]  # fmt: skip


def test_cli_report_is_readable_by_duckdb(tmp_path: Path, sample_dir: Path) -> None:
    import duckdb

    out = tmp_path / "exposure.parquet"
    res = CliRunner().invoke(cli, ["exposure", "--all", "-o", str(out), *_sample_args(sample_dir)])
    assert res.exit_code == 0, res.output
    con = duckdb.connect()
    rows = con.execute(
        f"select direction, category, count(*), sum(total_amount) from '{out}' "
        "group by all order by all"
    ).fetchall()
    assert ("in", "scam") in {(r[0], r[1]) for r in rows}
    cols = {r[0]: r[1] for r in con.execute(f"describe select * from '{out}'").fetchall()}
    assert cols["min_hops"] == "INTEGER" and cols["share"] == "DOUBLE"
    assert cols["flow_value"] == "VARCHAR" and cols["risk_score"] == "DOUBLE"
    meta = json.loads(pq.read_schema(out).metadata[b"tracer"])
    assert meta["model"] == "haircut"
    assert len(meta["label_set_sha256"]) == 64
    assert meta["command_line"][:3] == ["tracer", "exposure", "--all"]
    assert meta["workspace"]["kind"] == "in-memory"
    assert meta["risk"]["weights"]["scam"] == 9


def test_cli_addresses_file_reports_missing(tmp_path: Path, sample_dir: Path,
                                            sample_addresses: dict) -> None:  # fmt: skip
    lst = tmp_path / "screen.csv"
    lst.write_text(
        "address,note\n"
        f"{sample_addresses['exchange-a-deposit-1']},a\n"
        "0x00000000000000000000000000000000deadbeef,not in data\n"
    )
    out = tmp_path / "r.parquet"
    res = CliRunner().invoke(
        cli, ["exposure", str(lst), "-o", str(out), "--direction", "in", *_sample_args(sample_dir)]
    )
    assert res.exit_code == 0, res.output
    f = pl.read_parquet(out)
    assert set(f["address"]) == {sample_addresses["exchange-a-deposit-1"]}
    assert set(f["direction"]) == {"in"}
    meta = json.loads(pq.read_schema(out).metadata[b"tracer"])
    assert meta["not_found"] == ["0x00000000000000000000000000000000deadbeef"]
    assert meta["requested_addresses"] == 2


def test_cli_risk_config_changes_scores(tmp_path: Path, sample_dir: Path) -> None:
    cfg = tmp_path / "risk.yaml"
    cfg.write_text("saturation_share: 1.0\nindirect_factor: 1.0\nweights: {scam: 10}\n")
    out = tmp_path / "r.parquet"
    res = CliRunner().invoke(cli, ["exposure", "--all", "-o", str(out), "--risk-config", str(cfg),
                                   "--categories", "scam", *_sample_args(sample_dir)])  # fmt: skip
    assert res.exit_code == 0, res.output
    f = pl.read_parquet(out).filter(pl.col("category") == "scam")
    assert set(pl.read_parquet(out)["category"]) <= {"scam", "unattributed"}
    # linear curve, weight 10: score = 10 * share
    np.testing.assert_allclose(f["risk_score"].to_numpy(), (10 * f["share"]).round(4).to_numpy())


def test_cli_bad_risk_config_is_a_clear_error(tmp_path: Path, sample_dir: Path) -> None:
    cfg = tmp_path / "risk.yaml"
    cfg.write_text("weights: {scam: 12}\n")
    args = ["exposure", "--all", "-o", str(tmp_path / "r.parquet"), "--risk-config", str(cfg)]
    res = CliRunner().invoke(cli, [*args, *_sample_args(sample_dir)])
    assert res.exit_code == 2
    assert "weights.scam" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r.parquet").exists()


def test_cli_bad_address_names_file_and_line(tmp_path: Path, sample_dir: Path) -> None:
    lst = tmp_path / "screen.txt"
    lst.write_text("# screening list\nTWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx\nnot-an-address\n")
    out = tmp_path / "r.parquet"
    res = CliRunner().invoke(cli, ["exposure", str(lst), "-o", str(out), *_sample_args(sample_dir)])
    assert res.exit_code == 2
    assert "screen.txt" in res.output and "row 3" in res.output and "address" in res.output
    assert "Traceback" not in res.output and not out.exists()
