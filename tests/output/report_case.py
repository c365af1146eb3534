"""The sample case's follow result with its ledger, shared by the graph and report tests."""

from __future__ import annotations

from tests.conftest import SAMPLE_DATA, SAMPLE_LABELS
from tracer.analysis.follow import follow
from tracer.analysis.follow_result import FollowResult
from tracer.sources.labels import read_labels
from tracer.store.workspace import Workspace

SCAM = "TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx"


def sample_workspace() -> Workspace:
    ws, _ = Workspace.in_memory([str(p) for p in SAMPLE_DATA], [read_labels(str(SAMPLE_LABELS))])
    return ws


def sample_result(model: str = "fifo", **kw: object) -> FollowResult:
    return follow(sample_workspace(), [SCAM], model=model, ledger=True, **kw)  # type: ignore[arg-type]
