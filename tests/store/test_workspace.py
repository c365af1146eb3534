"""The workspace: idempotent, order-independent, atomic ingest; export; labels; info."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES, SAMPLE_DATA, SAMPLE_LABELS, write_canonical_csv
from tracer.core.amounts import UINT256_MAX
from tracer.core.schema import TRANSFER_SCHEMA
from tracer.sources.labels import read_labels
from tracer.store.graph_cache import ARRAYS
from tracer.store.workspace import Workspace

STREAM = FIXTURES / "ethereum_etl" / "blocks_17173049_17173050"


def state(ws: Workspace) -> tuple:
    """Everything a workspace means (not file names, ingest history, or which integer id an
    address got: ids follow ingest order since ingest is append-only, see tracer.store.append).

    Edge arrays, dictionaries and both CSRs are compared through the dictionaries, so this is
    as strict as comparing the raw arrays of two workspaces that number addresses alike.
    """
    g = ws.graph()
    assert g.addresses["id"].to_list() == list(range(g.addresses.height))  # row = id, dense
    assert g.tokens["token_id"].to_list() == list(range(g.tokens.height))
    name = np.array([f"{c}:{a}" for c, a in g.addresses.select("chain", "address").iter_rows()],
                    dtype=object)  # fmt: skip
    tok = np.array([repr(r) for r in g.tokens.drop("token_id").iter_rows()], dtype=object)

    def adjacency(offsets: np.ndarray, edges: np.ndarray) -> dict[str, bytes]:
        return {name[v]: np.asarray(edges[offsets[v] : offsets[v + 1]]).tobytes()
                for v in range(len(name))}  # fmt: skip

    return (
        ws.transfers().to_arrow(),
        sorted(name.tolist()),
        sorted(tok.tolist()),
        tuple(name[np.asarray(g.src)]),
        tuple(name[np.asarray(g.dst)]),
        tuple(tok[np.asarray(g.token_id)]),
        np.asarray(g.ts).tobytes(),
        np.asarray(g.amount).tobytes(),
        adjacency(g.out_offsets, g.out_edges),
        adjacency(g.in_offsets, g.in_edges),
    )


def test_reingest_changes_nothing(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    first = ws.ingest(SAMPLE_DATA)
    assert first.changed and first.total("loaded") == 24 and first.total("duplicate") == 3
    before = state(ws)
    files = sorted(p.name for p in (tmp_path / "ws").rglob("*"))
    manifest = (tmp_path / "ws" / "manifest.json").read_bytes()
    again = Workspace.open(tmp_path / "ws").ingest(SAMPLE_DATA)
    assert not again.changed and again.total("loaded") == 0
    assert again.total("duplicate") == 28 - 1  # all rows read but the skipped approval
    assert (tmp_path / "ws" / "manifest.json").read_bytes() == manifest
    assert sorted(p.name for p in (tmp_path / "ws").rglob("*")) == files
    assert state(Workspace.open(tmp_path / "ws")) == before


def test_counts_add_up_per_file(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path, create=True)
    s = ws.ingest([*SAMPLE_DATA, STREAM / "expected_token_transfers.json"])
    for f in s.files:
        assert f.read == f.loaded + f.duplicate + f.rejected + sum(f.skipped.values())
    assert ws.info()["transfers"] == s.total("loaded")


def test_two_halves_equal_at_once(tmp_path: Path) -> None:
    once = Workspace.open(tmp_path / "a", create=True)
    once.ingest([*SAMPLE_DATA, STREAM / "expected_token_transfers.json"])
    halves = Workspace.open(tmp_path / "b", create=True)
    halves.ingest([STREAM / "expected_token_transfers.json", SAMPLE_DATA[1]])
    halves.ingest([SAMPLE_DATA[0]])
    assert state(once) == state(halves)


@settings(deadline=None, max_examples=8)
@given(seed=st.integers(0, 2**32 - 1), cut=st.integers(1, 290))
def test_shuffled_and_chunked_input_give_the_same_workspace(
    tmp_path_factory, seed: int, cut: int
) -> None:
    rows = (STREAM / "expected_token_transfers.json").read_text().splitlines()
    rng = np.random.default_rng(seed)
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    d = tmp_path_factory.mktemp("shuffle")
    (d / "a.json").write_text("\n".join(shuffled[:cut]) + "\n")
    (d / "b.json").write_text("\n".join(shuffled[cut:]) + "\n")
    ref = Workspace.open(d / "ref", create=True)
    ref.ingest([STREAM / "expected_token_transfers.json"])
    chunked = Workspace.open(d / "chunked", create=True)
    chunked.ingest([d / "b.json"])
    chunked.ingest([d / "a.json"])
    assert state(ref) == state(chunked)


def test_graph_is_memory_mapped_and_matches_transfers(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path, create=True)
    ws.ingest(SAMPLE_DATA)
    g = Workspace.open(tmp_path).graph()
    t = ws.transfers()
    assert g.n_edges == t.height
    addr = g.addresses["address"]
    assert [addr[int(i)] for i in g.src] == t["src"].to_list()
    assert np.all(np.diff(g.ts) >= 0)  # chain order
    for v in range(g.n_nodes):  # CSR slices are time-ordered
        sl = g.out_edges[g.out_offsets[v] : g.out_offsets[v + 1]]
        assert np.all(np.diff(sl) > 0) and np.all(g.src[sl] == v)
    gen = json.loads((tmp_path / "manifest.json").read_text())["generation"]
    # the edge log, the base level's CSR and levels.json (tracer.store.edge_log): every array
    # of ARRAYS is on disk from the ingest on
    names = {p.name for p in (tmp_path / f"g{gen}" / "graph").iterdir()}
    assert names == {f"log.{f}.bin" for f in ARRAYS[:5]} | {"levels.json"} | {
        f"b0-{g.n_edges}.{f}.npy" for f in ARRAYS[5:]}


def test_export_roundtrip_keeps_uint256(tmp_path: Path) -> None:
    f = write_canonical_csv(tmp_path / "big.csv", [UINT256_MAX])
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([f])
    out = tmp_path / "out.parquet"
    assert ws.export(out) == 1
    table = pq.read_table(out)
    assert table.schema.equals(TRANSFER_SCHEMA, check_metadata=False)
    assert table.column("value").to_pylist() == [str(UINT256_MAX)]
    again = Workspace.open(tmp_path / "ws2", create=True)
    again.ingest([out])
    assert again.transfers().equals(ws.transfers())


def test_labels_add_is_idempotent(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path, create=True)
    assert ws.add_labels([read_labels(SAMPLE_LABELS)]) == 9
    assert ws.add_labels([read_labels(SAMPLE_LABELS)]) == 0
    info = Workspace.open(tmp_path).info()
    assert info["labels_per_category"] == {
        "exchange": 5, "guarantee_marketplace": 2, "otc_desk": 1, "scam": 1,
    }  # fmt: skip


def test_kill_minus_nine_mid_ingest_leaves_previous_workspace(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([SAMPLE_DATA[0]])
    before = state(ws)
    ws.close()  # a reader still holding g1 would keep it (its lease) until a later writer
    # a child ingests a larger file and is killed while writing its new generation
    big = tmp_path / "big.csv"
    rng = np.random.default_rng(7)
    n = 300_000
    pl.DataFrame(
        {
            "tx_hash": [f"0x{i:064x}" for i in range(n)],
            "src": [f"0x{int(a):040x}" for a in rng.integers(1, 5000, n)],
            "dst": [f"0x{int(a):040x}" for a in rng.integers(1, 5000, n)],
            "value": rng.integers(1, 10**9, n).astype(str),
            "ts": (1_700_000_000 + np.arange(n)).astype(str),
            "token": ["0xdac17f958d2ee523a2206206994597c13d831ec7"] * n,
            "seq": ["0"] * n,
        }
    ).write_csv(big)
    code = textwrap.dedent(
        f"""
        import os, signal, threading
        import tracer.store.generation as g
        import tracer.store.workspace as w
        def slow(self, updates):
            # the whole generation is on disk (written by tracer.store.append) ...
            os.kill(os.getpid(), signal.SIGKILL)  # ... but the manifest is not switched yet
        g.Writer.commit = slow
        w.Workspace.open({str(tmp_path / "ws")!r}).ingest([{str(big)!r}])
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert state(Workspace.open(tmp_path / "ws")) == before
    # the next writer cleans the orphaned generation and works normally
    ws2 = Workspace.open(tmp_path / "ws")
    ws2.ingest([SAMPLE_DATA[1]])
    gens = [p.name for p in (tmp_path / "ws").iterdir() if p.name.startswith("g")]
    assert gens == [f"g{json.loads((tmp_path / 'ws' / 'manifest.json').read_text())['generation']}"]


def test_kill_at_random_moments_never_corrupts(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([SAMPLE_DATA[0]])
    before = state(ws)
    env = dict(os.environ)
    for delay in (0.3, 0.8, 1.5):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tracer.cli", "ingest", "-q", "-w", str(tmp_path / "ws"),
             str(STREAM / "expected_token_transfers.json")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(delay)
        proc.kill()
        proc.wait()
        now = Workspace.open(tmp_path / "ws")
        assert now.transfers().height in (10, 10 + 291)
        if now.transfers().height == 10:
            assert state(now) == before


def test_info_counts_distinct_labelled_addresses(tmp_path: Path) -> None:
    """Issue 13.6: an address labelled by two files (or twice in one) is one labelled address."""
    extra = tmp_path / "again.csv"
    rows = SAMPLE_LABELS.read_text().splitlines()
    # the same addresses and categories under another source: new label rows, no new address
    again = [r.replace("sample case", "second list") for r in rows[1:]]
    extra.write_text("\n".join([rows[0], *again]))
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.add_labels([read_labels(SAMPLE_LABELS), read_labels(extra)])
    info = Workspace.open(tmp_path / "ws").info()
    assert info["label_rows"] == ws.labels().height > info["labels"] == 9
    assert info["labels_per_category"] == {
        "exchange": 5, "guarantee_marketplace": 2, "otc_desk": 1, "scam": 1,
    }  # fmt: skip
