"""The vectorised exposure report rows and the parallel directions equal the first version.

Reference: :mod:`tests.analysis.exposure_legacy` (the Polars assembly as it was) and the
serial sweeps; on the sample case for every model and option, and on random transfer graphs
with random labels (hypothesis).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests.analysis.exposure_legacy import assemble as legacy_assemble
from tracer.analysis.exposure import ExposureRequest, make_plan, report_frame
from tracer.analysis.exposure_rows import assemble_table, unit_sums
from tracer.analysis.exposure_run import exposure, local_sweeps
from tracer.analysis.risk import load_risk_config
from tracer.core.amounts import exact_unit_sums
from tracer.graph.spec import Selection
from tracer.sources.labels import read_labels
from tracer.store.exact_values import exact_values
from tracer.store.workspace import Workspace

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_case"
USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
ADDRESSES = sorted(json.loads((SAMPLE / "addresses.json").read_text()).values())[:10]
CATEGORIES = ["scam", "exchange", "otc_desk", "mixer", "sanctioned"]


def _both_ways(ws: Workspace, req: ExposureRequest) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(new rows from parallel sweeps, legacy rows from serial sweeps) for one request."""
    risk = load_risk_config()
    plan = make_plan(ws, req)
    new = report_frame(assemble_table(ws, req, plan, local_sweeps(plan, req, parallel=True), risk,
                                      asset="USD"))  # fmt: skip
    old = legacy_assemble(ws, req, plan, local_sweeps(plan, req, parallel=False), risk,
                          asset="USD")  # fmt: skip
    return new, old


@pytest.fixture(scope="module")
def sample_ws() -> Workspace:
    ws, _ = Workspace.in_memory(
        [SAMPLE / "trongrid_scam_wallet.json", SAMPLE / "trongrid_downstream.json"],
        [read_labels(SAMPLE / "labels.csv")],
    )
    return ws


@pytest.mark.parametrize("model", ["haircut", "poison", "taint-first", "clean-first"])
@pytest.mark.parametrize(
    "selection",
    [Selection(), Selection(min_amount=5.0), Selection(max_hops=2),
     Selection(since=datetime(2024, 3, 5, tzinfo=UTC), until=datetime(2024, 3, 8, tzinfo=UTC))],
)  # fmt: skip
def test_rows_equal_legacy_on_sample_case(sample_ws: Workspace, model: str, selection) -> None:  # type: ignore[no-untyped-def]
    req = ExposureRequest(addresses=None, model=model, selection=selection)
    new, old = _both_ways(sample_ws, req)
    assert new.height > 10
    assert_frame_equal(new, old)


def test_rows_equal_legacy_for_an_address_list_and_one_direction(sample_ws: Workspace) -> None:
    picked = tuple(ADDRESSES[:4])
    for directions in (("in",), ("out",), ("out", "in")):
        req = ExposureRequest(addresses=picked, directions=directions, categories=("scam",))
        new, old = _both_ways(sample_ws, req)
        assert new["direction"].unique().sort().to_list() == sorted(directions)
        assert_frame_equal(new, old)


def test_report_metadata_says_how_directions_ran(sample_ws: Workspace) -> None:
    req = ExposureRequest(addresses=None)
    par = exposure(sample_ws, req)
    ser = exposure(sample_ws, req, parallel=False)
    assert par.metadata["engine"] == "local-parallel"
    assert ser.metadata["engine"] == "local"
    assert_frame_equal(par.frame, ser.frame)
    one = exposure(sample_ws, ExposureRequest(addresses=None, directions=("in",)))
    assert one.metadata["engine"] == "local"


@st.composite
def transfer_sets(draw: st.DrawFn) -> tuple[list[tuple], list[tuple[str, str, str]]]:
    """Random USDT transfers among a few Tron addresses, and random labels on some of them."""
    m = draw(st.integers(1, 30))
    rows = []
    for i in range(m):
        s = draw(st.sampled_from(ADDRESSES))
        t = draw(st.sampled_from([a for a in ADDRESSES if a != s]))
        v = draw(st.sampled_from([0, 1, 5, 1_000_000, 2_500_000, 10**12, 123_456_789]))
        rows.append((s, t, v, i // 2))  # ties in time too
    n_lab = draw(st.integers(0, 5))
    labels = [(a, f"{c}-{a[:5]}", c) for a, c in zip(
        draw(st.lists(st.sampled_from(ADDRESSES), min_size=n_lab, max_size=n_lab, unique=True)),
        draw(st.lists(st.sampled_from(CATEGORIES), min_size=n_lab, max_size=n_lab)),
        strict=True)]  # fmt: skip
    return rows, labels


def transfer_set_ws(tmp: Path, data: tuple[list[tuple], list[tuple[str, str, str]]]) -> Workspace:
    """An in-memory workspace of one :func:`transfer_sets` draw (transfers CSV, labels)."""
    rows, labels = data
    lines = ["tx_hash,src,dst,value,ts,token,seq,chain"]
    for i, (s, t, v, day) in enumerate(rows):
        lines.append(f"0x{i + 1:064x},{s},{t},{v},2024-01-{day + 1:02d}T00:00:00Z,{USDT},0,tron")
    (tmp / "t.csv").write_text("\n".join(lines) + "\n")
    loads = []
    if labels:
        (tmp / "l.csv").write_text(
            "address,name,category\n" + "".join(f"{a},{n},{c}\n" for a, n, c in labels)
        )
        loads.append(read_labels(tmp / "l.csv"))
    ws, _ = Workspace.in_memory([tmp / "t.csv"], loads)
    return ws


@settings(
    deadline=None, max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=transfer_sets(),
    model=st.sampled_from(["haircut", "poison", "taint-first", "clean-first"]),
    min_amount=st.sampled_from([0.0, 2.0]),
)
def test_rows_and_parallel_sweeps_equal_legacy_on_random_graphs(
    tmp_path_factory, data, model: str, min_amount: float
) -> None:  # type: ignore[no-untyped-def]
    ws = transfer_set_ws(tmp_path_factory.mktemp("g"), data)
    req = ExposureRequest(addresses=None, model=model, selection=Selection(min_amount=min_amount))
    new, old = _both_ways(ws, req)
    assert new.height >= 2  # at least the unattributed rows of one address
    assert_frame_equal(new, old)


DIGITS = st.sampled_from(["0", "1", "7", "10", "1500000", "999999999999", "1" + "0" * 29,
                          "12345678901234567890123456789012"])  # fmt: skip


@settings(deadline=None, max_examples=150)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 4), DIGITS, st.sampled_from([0, 6, 18, None])), max_size=25
    ),
    one_decimals=st.booleans(),
)
def test_unit_sums_equal_exact_unit_sums(rows, one_decimals: bool) -> None:
    """Int128 fast path, mixed decimals, unknown decimals and >30-digit values all agree."""
    if one_decimals:
        rows = [(k, v, 6) for k, v, _ in rows]
    key = np.array([r[0] for r in rows], dtype=np.int64)
    values = pl.DataFrame(
        {"value": [r[1] for r in rows], "decimals": [r[2] for r in rows]},
        schema={"value": pl.String, "decimals": pl.Int32},
    )
    keys, sums = unit_sums(key, values)
    want = exact_unit_sums(values.with_columns(pl.Series("key", key)), ["key"]).sort("key")
    assert keys.tolist() == want["key"].to_list()
    assert sums.to_list() == want["exact"].to_list()


@settings(
    deadline=None, max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=transfer_sets(),
    big=st.lists(st.sampled_from([10**40 + 7, 10**38 - 1, 10**19]), max_size=3),
    model=st.sampled_from(["haircut", "poison"]),
)
def test_rows_from_the_case_index_equal_legacy_on_random_graphs(
    tmp_path_factory, data, big: list[int], model: str
) -> None:  # type: ignore[no-untyped-def]
    """On disk, exact sums come from the case index's fixed-width values (values of > 38
    digits have none and are summed from their text): the same rows as the legacy assembly,
    which reads every value as text."""
    rows, labels = data
    rows = rows + [(ADDRESSES[0], ADDRESSES[1], v, 20) for v in big]
    tmp = tmp_path_factory.mktemp("d")
    lines = ["tx_hash,src,dst,value,ts,token,seq,chain"]
    for i, (s, t, v, day) in enumerate(rows):
        lines.append(f"0x{i + 1:064x},{s},{t},{v},2024-01-{day + 1:02d}T00:00:00Z,{USDT},0,tron")
    (tmp / "t.csv").write_text("\n".join(lines) + "\n")
    ws = Workspace.open(tmp / "ws", create=True)
    ws.ingest([tmp / "t.csv"])
    if labels:
        (tmp / "l.csv").write_text(
            "address,name,category\n" + "".join(f"{a},{n},{c}\n" for a, n, c in labels)
        )
        ws.add_labels_in_memory([read_labels(tmp / "l.csv")])
    req = ExposureRequest(addresses=None, model=model)
    plan = make_plan(ws, req)
    assert plan.index is not None
    fixed = exact_values(ws, plan.index)
    assert fixed is not None  # the fast path runs
    assert int(fixed.raw.sum()) == sum(1 for v in big if v >= 10**38)
    new, old = _both_ways(ws, req)
    assert_frame_equal(new, old)
    # the engine's path: rows prepared on a thread while the sweeps run
    report = exposure(ws, req)
    assert report.metadata["engine"] == "local-parallel"
    cols = [c for c in report.frame.columns if c != "asset"]  # the helper names it "USD"
    assert_frame_equal(report.frame.select(cols), old.select(cols))
