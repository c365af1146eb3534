"""A follow on a workspace after an append reads the graph cache's two levels (base + delta)
and never merges them (tracer.store.graph_cache.CsrLevels): the default engine runs local, its
result equals the same rows ingested at once (one level), and the merged CSR is never built."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import USDT_ETH
from tracer.analysis.follow import follow
from tracer.output.follow_json import follow_json
from tracer.store import edge_log, graph_cache
from tracer.store.workspace import Workspace


def addr(i: int) -> str:
    return f"0x{i + 1:040x}"


def csv(path: Path, rows: list[tuple[int, str, int, int, int]]) -> Path:
    """Canonical CSV of (tx number, ISO day, src, dst, amount) USDT transfers."""
    lines = ["tx_hash,src,dst,value,ts,token,seq,chain"]
    for tx, day, s, d, x in rows:
        lines.append(f"0x{tx:064x},{addr(s)},{addr(d)},{x * 10**6},{day}T12:00:00Z,"
                     f"{USDT_ETH},0,ethereum")  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


DAYS = [f"2024-01-{d:02d}" for d in range(1, 29)]
LATER = ["2024-02-10", "2024-02-11", "2024-02-12"]
SEED = 0


def first_rows() -> list[tuple[int, str, int, int, int]]:
    """The seed pays three wallets early; 3000 unrelated transfers among 400 others (so the
    case stays well inside the local engine's budget)."""
    rows = [(1 + i, DAYS[0], SEED, 1 + i, 50 + i) for i in range(3)]
    rows += [(10 + i, DAYS[1 + i % 27], 100 + (i * 7) % 400, 100 + (i * 13 + 5) % 400,
              1 + i % 9) for i in range(3000)]  # fmt: skip
    return rows


def appended_rows() -> list[tuple[int, str, int, int, int]]:
    """Later blocks: the tainted wallets pay on to new addresses (first seen here: an empty
    base slice), which pay on again, and some background."""
    rows = [(5000 + i, LATER[0], 1 + i % 3, 20 + i % 5, 7 + i) for i in range(8)]
    rows += [(5100 + i, LATER[1], 20 + i % 5, 30 + i % 4, 3 + i) for i in range(10)]
    rows += [(5200 + i, LATER[2], 100 + i, 101 + i, 2) for i in range(20)]
    return rows


def test_follow_after_an_append_reads_the_levels_and_equals_one_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = csv(tmp_path / "a.csv", first_rows())
    b = csv(tmp_path / "b.csv", appended_rows())
    once = Workspace.open(tmp_path / "once", create=True)
    once.ingest([a, b])
    two = Workspace.open(tmp_path / "two", create=True)
    two.ingest([a])
    two.ingest([b])
    meta = edge_log.read_levels(tmp_path / "two" / f"g{two.manifest()['generation']}")
    assert meta is not None and meta["how"] == "appended" and meta["delta"] is not None, meta
    assert meta["base"]["nodes"] < meta["nodes"]  # the delta brings new addresses
    ref = follow(Workspace.open(tmp_path / "once"), [addr(SEED)], ledger=True)

    def no_merge(*args: object, **kwargs: object) -> None:
        raise AssertionError("the levels were merged")

    monkeypatch.setattr(graph_cache, "merge_levels", no_merge)
    for direction in ("forward", "backward"):
        fresh = Workspace.open(tmp_path / "two")  # a new session: nothing in memory
        seed = addr(SEED) if direction == "forward" else addr(31)
        got = follow(fresh, [seed], ledger=True, direction=direction)
        assert got.options["engine"] == "local", got.options["engine_reason"]
        want = ref if direction == "forward" else follow(
            Workspace.open(tmp_path / "once"), [seed], ledger=True, direction=direction)
        assert got.traced_total > 0
        doc_a, doc_b = follow_json(got), follow_json(want)
        for doc in (doc_a, doc_b):
            doc["options"] = {k: v for k, v in doc["options"].items()
                              if not k.startswith("engine")}  # fmt: skip
        assert doc_a == doc_b
        graph = fresh.graph()
        assert graph.levels is not None and graph.levels.has_delta and not graph.merged
    # a consumer of the one-level CSR still gets it, merged on first read
    monkeypatch.undo()
    graph = Workspace.open(tmp_path / "two").graph()
    assert not graph.merged
    assert graph.out_offsets.shape[0] == meta["nodes"] + 1 and graph.merged
