"""ingest-rpc writes through the one writer: checkpoints live in the manifest, committed with
the batch's rows; batch folders are tracer-named and a killed run's leftover is cleaned."""

from __future__ import annotations

import json
from pathlib import Path

from tracer.store.rpc import TRANSFER_TOPIC, ChunkPolicy, read_checkpoints, sync_token
from tracer.store.workspace import Workspace

TOKEN = "0x" + "a" * 40


def topic(n: int) -> str:
    return "0x" + f"{n:040x}".rjust(64, "0")


class Node:
    """Transfer logs at blocks 100..100+n, one per block; records what the workspace holds
    while each batch file exists."""

    def __init__(self, n: int) -> None:
        self.n = n

    def get_logs(self, params: dict) -> list[dict]:
        a, b = int(params["fromBlock"], 16), int(params["toBlock"], 16)
        return [
            {"address": TOKEN, "topics": [TRANSFER_TOPIC, topic(1 + k % 3), topic(10 + k % 5)],
             "data": f"0x{1000 + k:064x}", "blockNumber": hex(k), "transactionHash": f"0x{k:064x}",
             "logIndex": "0x0", "removed": False}
            for k in range(max(a, 100), min(b, 100 + self.n - 1) + 1)
        ]  # fmt: skip


def sync(ws: Workspace, node: Node, end: int) -> object:
    policy = ChunkPolicy(initial=40, sleep=lambda s: None)
    return sync_token(ws, get_logs=node.get_logs, block_ts=lambda b: 1_700_000_000 + 12 * b,
                      token=TOKEN, chain="ethereum", symbol="TKN", decimals=6, start=0, end=end,
                      policy=policy, flush_logs=10)  # fmt: skip


def test_checkpoints_are_committed_in_the_manifest_with_the_rows(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    seen: list[tuple[int, int]] = []
    real = Workspace.ingest

    def spy(self, files, **kw):  # type: ignore[no-untyped-def]
        assert all(Path(f).parent.name.startswith(".tracer-batch-") for f in files)
        out = real(self, files, **kw)
        m = json.loads((tmp_path / "ws" / "manifest.json").read_text())
        seen.append((m["rpc_checkpoints"][f"ethereum:{TOKEN}"], Workspace.open(tmp_path / "ws")
                     .info()["transfers"]))  # fmt: skip
        return out

    Workspace.ingest = spy  # type: ignore[method-assign]
    try:
        s = sync(ws, Node(35), 300)
    finally:
        Workspace.ingest = real  # type: ignore[method-assign]
    assert s.loaded == 35  # type: ignore[attr-defined]
    # each commit carries its checkpoint: the rows ingested are exactly those up to it
    assert seen and all(rows == min(cp, 134) - 99 for cp, rows in seen)
    assert read_checkpoints(tmp_path / "ws")[f"ethereum:{TOKEN}"] == 300
    assert not (tmp_path / "ws" / "rpc-checkpoints.json").exists()
    assert not [p for p in (tmp_path / "ws").iterdir() if "batch" in p.name]
    again = sync(Workspace.open(tmp_path / "ws"), Node(35), 300)  # resumes: nothing to do
    assert again.loaded == 0 and again.resumed_from == 301  # type: ignore[attr-defined]


def test_legacy_checkpoint_file_is_still_read(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    (tmp_path / "ws" / "rpc-checkpoints.json").write_text(json.dumps({"ethereum:x": 7}))
    assert ws.checkpoints() == {"ethereum:x": 7}
    ws.set_checkpoint("ethereum:x", 9)
    assert read_checkpoints(tmp_path / "ws") == {"ethereum:x": 9}
