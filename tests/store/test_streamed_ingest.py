"""A big canonical Parquet streamed month by month (tracer/store/streamed.py) gives the very
workspace, summary, rejects and errors of the general ingest, and falls back to it whenever
the file breaks a claim of its statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import tracer.sources.batched as batched
import tracer.store.streamed as streamed
from tracer.core.errors import InputError
from tracer.store.workspace import Workspace

USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
N = 3_000
GRAPH = ("src", "dst", "ts", "amount", "out_offsets", "out_edges", "in_offsets", "in_edges")


def _frame(n: int = N, seed: int = 3) -> pl.DataFrame:
    """``n`` canonical transfers over about four months, in time order, with repeated
    addresses and a duplicated transfer (a re-exported row)."""
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(1_600_000_000, 1_610_000_000, n)) * 1_000_000
    addrs = [f"0x{x:040x}" for x in rng.integers(1, 2**60, 400)]
    value = rng.integers(1, 10**12, n)
    f = pl.DataFrame({
        "chain": ["ethereum"] * n, "asset": ["USDT"] * n, "token": [USDT] * n,
        "tx_hash": [f"0x{i // 2:064x}" for i in range(n)], "seq": np.arange(n) % 2,
        "block": ts // 12_000_000, "ts": pl.Series(ts).cast(pl.Datetime("us", "UTC")),
        "src": [addrs[i] for i in rng.integers(0, 400, n)],
        "dst": [addrs[i] for i in rng.integers(0, 400, n)],
        "value": [str(v) for v in value], "decimals": pl.Series([6] * n, dtype=pl.Int16),
        "amount": value / 1e6,
    })  # fmt: skip
    return pl.concat([f, f.slice(1000, 1)]).sort("ts", maintain_order=True)  # one duplicate


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Stream files of any size in batches of 500 rows; returns the months handed on, as the
    number of batches read when each was (to see that months go before the file's end)."""
    monkeypatch.setattr(streamed, "STREAM_MIN_ROWS", 0)
    monkeypatch.setattr(batched, "PARQUET_BATCH_ROWS", 500)
    read = [0]
    seen: list[int] = []
    batches, ordered = batched.parquet_batches, streamed.MonthStream.ordered

    def counting(*a, **k):  # type: ignore[no-untyped-def]
        for item in batches(*a, **k):
            read[0] += 1
            yield item

    def noting(self, stored):  # type: ignore[no-untyped-def]
        for month, rows in ordered(self, stored):
            seen.append(read[0])
            yield month, rows

    monkeypatch.setattr(batched, "parquet_batches", counting)
    monkeypatch.setattr(streamed.MonthStream, "ordered", noting)
    return seen


def _write(frame: pl.DataFrame, path: Path) -> Path:
    frame.write_parquet(path, row_group_size=200)
    return path


def _snapshot(ws: Workspace) -> dict:
    m = ws.manifest()
    g = ws.path / f"g{m['generation']}"  # type: ignore[operator]
    graph = ws.graph()
    return {
        "parts": m["parts"],
        "rows": [pl.read_parquet(g / "transfers" / p["file"]) for p in m["parts"]],
        "addresses": [pl.read_parquet(g / a) for a in m["addresses"]],
        "tokens": pl.read_parquet(g / "tokens.parquet"),
        "graph": {k: np.asarray(getattr(graph, k)).copy() for k in GRAPH},
        "generations": sorted(p.name for p in ws.path.glob("g*")),  # type: ignore[union-attr]
    }


def _same(a: dict, b: dict) -> None:
    assert a["parts"] == b["parts"]
    assert all(x.equals(y) for x, y in zip(a["rows"], b["rows"], strict=True))
    assert all(x.equals(y) for x, y in zip(a["addresses"], b["addresses"], strict=True))
    assert a["tokens"].equals(b["tokens"])
    for k, v in a["graph"].items():
        assert np.array_equal(v, b["graph"][k]), k
    assert a["generations"] == b["generations"] == ["g1"]


def _both(tmp_path: Path, f: Path, monkeypatch: pytest.MonkeyPatch, **kw: object
          ) -> tuple[tuple[dict, dict], tuple[dict, dict]]:  # fmt: skip
    """(snapshot, summary) streamed, then the same of the general ingest."""
    out = []
    for name in ("streamed", "general"):
        if name == "general":
            monkeypatch.setattr(streamed, "stream_plan", lambda *a, **k: None)
        ws = Workspace.open(tmp_path / name, create=True)
        s = ws.ingest([f], **kw)  # type: ignore[arg-type]
        out.append((_snapshot(ws), {**s.as_dict(), "rejects": s.rejects.to_dicts()}))
        ws.close()
    return out[0], out[1]


def test_streamed_equals_general_and_months_go_early(
    tmp_path: Path, small_batches: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    f = _write(_frame(), tmp_path / "t.parquet")
    (snap_s, sum_s), (snap_g, sum_g) = _both(tmp_path, f, monkeypatch)
    _same(snap_s, snap_g)
    assert sum_s == sum_g
    assert sum_s["duplicate"] == 1 and sum_s["loaded"] == N
    assert len(snap_s["parts"]) >= 4
    assert small_batches and small_batches[0] < max(small_batches)  # before the file's end


def test_unsorted_file_holds_months_to_the_end(
    tmp_path: Path, small_batches: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    f = _write(_frame().sample(fraction=1.0, shuffle=True, seed=5), tmp_path / "t.parquet")
    (snap_s, sum_s), (snap_g, sum_g) = _both(tmp_path, f, monkeypatch)
    _same(snap_s, snap_g)
    assert sum_s == sum_g
    # a month goes on only once no later row group reaches it: here almost none before the end
    assert small_batches.count(max(small_batches)) >= len(small_batches) - 1


def test_false_statistics_fall_back_to_the_general_way(
    tmp_path: Path, small_batches: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan claiming every later row is after the first batch's months (as a file with
    wrong statistics would): the late row of an early month is caught, the stream's partial
    generation dropped, the general way gives the right workspace."""
    frame = _frame()
    frame = pl.concat([frame.slice(1, frame.height - 1), frame.slice(0, 1)])  # earliest row last
    f = _write(frame, tmp_path / "t.parquet")
    plan = batched.parquet_plan

    def lying(*a, **k):  # type: ignore[no-untyped-def]
        return [(g, first, None if later is None else 2**62) for g, first, later in plan(*a, **k)]

    monkeypatch.setattr(batched, "parquet_plan", lying)
    declined = []
    init = streamed.StreamDeclined.__init__

    def note(self, *a):  # type: ignore[no-untyped-def]
        declined.append(a)
        init(self, *a)

    monkeypatch.setattr(streamed.StreamDeclined, "__init__", note)
    (snap_s, sum_s), (snap_g, sum_g) = _both(tmp_path, f, monkeypatch)
    assert declined
    _same(snap_s, snap_g)
    assert sum_s == sum_g


def test_two_tokens_fall_back(
    tmp_path: Path, small_batches: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _frame()
    other = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
    late = pl.int_range(pl.len()) > 2000
    frame = frame.with_columns(pl.when(late).then(pl.lit(other)).otherwise("token").alias("token"),
                               pl.when(late).then(pl.lit("USDC")).otherwise("asset").alias("asset"))
    f = _write(frame, tmp_path / "t.parquet")
    (snap_s, sum_s), (snap_g, sum_g) = _both(tmp_path, f, monkeypatch)
    _same(snap_s, snap_g)
    assert sum_s == sum_g and snap_s["tokens"].height == 2


def _with_bad_rows(tmp_path: Path) -> Path:
    frame = _frame().with_columns(  # two bad addresses, in the second and the fifth batch
        pl.when(pl.int_range(pl.len()).is_in([700, 2400])).then(pl.lit("0xnothex"))
        .otherwise("src").alias("src"))  # fmt: skip
    return _write(frame, tmp_path / "t.parquet")


def test_skip_bad_counts_and_rejects_add_up(
    tmp_path: Path, small_batches: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    f = _with_bad_rows(tmp_path)
    (snap_s, sum_s), (snap_g, sum_g) = _both(tmp_path, f, monkeypatch, skip_bad=True)
    _same(snap_s, snap_g)
    assert sum_s == sum_g
    assert [r["row"] for r in sum_s["rejects"]] == [701, 2401]  # the file's row numbers
    assert sum_s["read"] == sum_s["loaded"] + sum_s["duplicate"] + sum_s["rejected"]


def test_a_bad_row_fails_as_the_general_way_and_writes_nothing(
    tmp_path: Path, small_batches: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    f = _with_bad_rows(tmp_path)
    errors = []
    for name in ("streamed", "general"):
        if name == "general":
            monkeypatch.setattr(streamed, "stream_plan", lambda *a, **k: None)
        ws = Workspace.open(tmp_path / name, create=True)
        with pytest.raises(InputError) as exc:
            ws.ingest([f])
        errors.append((exc.value.row, exc.value.field, exc.value.reason))
        assert ws.manifest()["generation"] == 0
        assert not list((tmp_path / name).glob("g*"))
    assert errors[0] == errors[1] and errors[0][0] == 701
