"""Rows a streamed follow shows (its paths' transfers), read one row group at a time and, with
a case index, their texts from the index: the same frame as the whole table's rows."""

from __future__ import annotations

import numpy as np
import pytest

from tests.graph.test_stream import small_groups_ws  # noqa: F401  (the shared fixture)
from tracer.store import partitions
from tracer.store.workspace import Workspace

PATH_COLUMNS = ["tx_hash", "amount", "ts", "value", "decimals"]


@pytest.mark.parametrize("how", ["sorted", "shuffled", "repeated", "one group"])
def test_take_reads_group_by_group_and_keeps_the_order_asked(small_groups_ws,  # noqa: F811
                                                              how: str) -> None:  # fmt: skip
    ws, _ = small_groups_ws
    reader = ws.parts()
    rng = np.random.default_rng(3)
    rows = {
        "sorted": np.sort(rng.choice(reader.num_rows, 300, replace=False)),
        "shuffled": rng.choice(reader.num_rows, 300, replace=False),
        "repeated": rng.choice(reader.num_rows, 300, replace=True),
        "one group": np.array([5, 3, 3, 250]),
    }[how]
    cols = ["tx_hash", "value", "src_id", "amount"]
    read: list[int] = []
    real = partitions.PartReader.read_group

    def spy(self, k, columns):  # type: ignore[no-untyped-def]
        read.append(k)
        return real(self, k, columns)

    partitions.PartReader.read_group = spy  # type: ignore[method-assign]
    try:
        got = reader.take(rows, cols)
    finally:
        partitions.PartReader.read_group = real  # type: ignore[method-assign]
    want = reader.read_all(cols).take(rows)
    assert got.equals(want)
    groups = np.searchsorted(reader.starts, rows, side="right") - 1
    assert sorted(read) == np.unique(groups).tolist()  # each holding group once, no other
    assert reader.take(np.zeros(0, np.int64), cols).num_rows == 0


def test_streamed_rows_come_from_the_case_index_without_the_graph(
    small_groups_ws, monkeypatch  # noqa: F811
) -> None:
    ws, _ = small_groups_ws
    fresh = Workspace.open(ws.path)  # no graph, no transfer table: what --stream has
    assert fresh.case_index() is not None
    rng = np.random.default_rng(4)
    edges = rng.choice(fresh.parts().num_rows, 200, replace=True)
    served: list[int] = []
    real = type(fresh.case_index()).rows

    def spy(self, e, *a, **k):  # type: ignore[no-untyped-def]
        served.append(len(e))
        return real(self, e, *a, **k)

    monkeypatch.setattr(type(fresh.case_index()), "rows", spy)
    got = fresh.rows(edges, PATH_COLUMNS)
    assert served == [200] and fresh._graph is None and fresh._transfers is None
    whole = Workspace.open(ws.path).transfers().select(PATH_COLUMNS)[edges.tolist()]
    assert got.equals(whole)
