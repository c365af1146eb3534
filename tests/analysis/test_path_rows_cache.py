"""The path-step rows kept per generation (:func:`tracer.analysis.follow_rows.path_rows`) are
never served after the rows under the same edge ids changed: a later ingest that lands rows
before the stored ones (here: the scam wallet's own earlier transfers after its downstream)
shifts the edge ids, and the same workspace object must then read the new generation's rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import SAMPLE
from tracer.analysis.follow_rows import _read_path_rows, path_rows
from tracer.store.workspace import Workspace


def test_path_rows_follow_the_generation(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([SAMPLE / "trongrid_downstream.json"])
    n = ws.graph().n_edges
    edges = np.arange(min(n, 5), dtype=np.int64)
    before = path_rows(ws, edges)  # kept for this generation
    assert before == _read_path_rows(ws, edges)
    ws.ingest([SAMPLE / "trongrid_scam_wallet.json"])
    after = path_rows(ws, edges)
    assert after == _read_path_rows(ws, edges)  # the new generation's rows, read afresh
    assert after == _read_path_rows(Workspace.open(tmp_path / "ws"), edges)
    assert after != before  # the ids shifted: a cache keyed only by edge would have failed
