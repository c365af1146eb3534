"""Adaptive eth_getLogs chunking and retries, against a fake provider (no node needed)."""

from __future__ import annotations

import pytest

from tracer.store.rpc import BlockTimes, ChunkPolicy, fetch_ranges, with_timestamps

TOKEN = "0x" + "a" * 40


class FakeNode:
    """Logs at given blocks; refuses ranges holding more than ``cap`` logs, like Infura."""

    def __init__(self, blocks: list[int], cap: int = 5, fail_first: int = 0) -> None:
        self.blocks = blocks
        self.cap = cap
        self.fail_first = fail_first
        self.calls: list[tuple[int, int]] = []

    def get_logs(self, params: dict) -> list[dict]:
        a, b = int(params["fromBlock"], 16), int(params["toBlock"], 16)
        self.calls.append((a, b))
        if self.fail_first:
            self.fail_first -= 1
            raise ConnectionError("connection refused")
        hits = [n for n in self.blocks if a <= n <= b]
        if len(hits) > self.cap:
            raise ValueError({"code": -32005, "message": "query returned more than 10000 results"})
        return [{"blockNumber": hex(n), "logIndex": "0x0", "removed": False} for n in hits]


def collect(node: FakeNode, start: int, end: int, **kw) -> list[tuple[int, int, list]]:
    policy = ChunkPolicy(sleep=lambda s: None, **kw)
    return list(fetch_ranges(node.get_logs, TOKEN, start, end, policy))


def test_ranges_cover_everything_once_and_shrink_on_too_many() -> None:
    dense = list(range(100, 140))  # 40 logs in 40 blocks: a 2000-block chunk is refused
    node = FakeNode([*dense, 5000, 9000], cap=5)
    out = collect(node, 0, 10_000, initial=2_000, sparse=3)
    spans = [(a, b) for a, b, _ in out]
    assert spans[0][0] == 0 and spans[-1][1] == 10_000
    assert all(spans[i][1] + 1 == spans[i + 1][0] for i in range(len(spans) - 1))  # no gap/overlap
    got = sorted(int(x["blockNumber"], 16) for _, _, logs in out for x in logs)
    assert got == sorted([*dense, 5000, 9000])  # nothing missing, nothing twice
    assert any(b - a + 1 < 2_000 for a, b in spans)  # it shrank
    assert max(b - a + 1 for a, b in spans[-3:]) > 2_000  # and grew again when sparse


def test_single_block_over_the_cap_is_an_error() -> None:
    node = FakeNode([7] * 10, cap=5)
    with pytest.raises(ValueError, match="more than"):
        collect(node, 0, 100)


def test_transport_errors_are_retried_then_raised() -> None:
    node = FakeNode([1, 2], fail_first=2)
    out = collect(node, 0, 10, retries=3)
    assert sum(len(x[2]) for x in out) == 2
    dead = FakeNode([1], fail_first=10)
    with pytest.raises(ConnectionError):
        collect(dead, 0, 10, retries=2)
    assert len(dead.calls) == 3


def test_block_times_are_fetched_once_and_removed_logs_dropped() -> None:
    asked: list[int] = []
    times = BlockTimes(lambda n: asked.append(n) or 1_700_000_000 + n)
    logs = [
        {"blockNumber": "0x5", "removed": False},
        {"blockNumber": "0x5", "removed": False},
        {"blockNumber": "0x6", "removed": True},
    ]
    out = with_timestamps(logs, times)
    assert len(out) == 2 and asked == [5]
    assert out[0]["blockTimestamp"] == hex(1_700_000_005)


def test_unreachable_url_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import socket

    from click.testing import CliRunner

    from tracer.cli import cli

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free, so nothing listens there
    url = f"http://127.0.0.1:{port}"
    args = ["ingest-rpc", "-w", str(tmp_path / "ws"), "--url", url, "--token", "0x" + "a" * 40,
            "--from-block", "0", "--to-block", "10", "--retries", "1"]  # fmt: skip
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert f"127.0.0.1:{port}" in r.output and "cannot reach" in r.output
