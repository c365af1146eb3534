"""The case index (issue 17.1): fixed-width tx hashes and values, sorted address hashes.

Each stored array equals what it replaces (Parquet rows, the address join), is kept current by
append-only ingest (end and backfill: new files indexed, kept files' index hard-linked), is
rebuilt when missing, and an idempotent re-ingest changes nothing."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels import fixed_width as fw

from tests.store.test_store_append import FEB, JAN, MAR_EARLY, MAR_LATE, months, rows_csv
from tracer.store import append as append_mod
from tracer.store import partitions
from tracer.store.case_index import (
    PART_FILES,
    SERVED,
    CaseIndex,
    _strings,
    address_hashes,
    fnv1a_text,
    write_case_index,
)
from tracer.store.workspace import Workspace

COLS = sorted(SERVED)


def _ref_hash(text: str) -> tuple[bytes | None, int]:
    """Plain reference: the 32 bytes and flags of a hash text, or None when not exact."""
    body, flag = (text[2:], fw.HASH_0X) if text.startswith("0x") and len(text) == 66 else (text, 0)
    if len(body) != 64 or any(c not in "0123456789abcdef" for c in body):
        return None, fw.HASH_RAW
    return bytes.fromhex(body), flag


def _ref_value(text: str) -> tuple[int, int] | None:
    ok = text.isascii() and text.isdigit() and len(text) <= 38 and (text == "0" or text[0] != "0")
    return divmod(int(text), fw.LIMB) if ok else None


HEX = st.text("0123456789abcdefABx", min_size=0, max_size=68)
HASHES = st.one_of(HEX, st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex()),
                   st.binary(min_size=32, max_size=32).map(bytes.hex))  # fmt: skip
VALUES = st.one_of(st.integers(0, 10**40).map(str), st.text("0123456789a-", max_size=41))


def _encode(hashes: list[str], values: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return fw.encode(_strings(pa.array(hashes, pa.string())),
                     _strings(pa.array(values, pa.string())))  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(HASHES, VALUES), max_size=20))
def test_encoding_equals_the_reference_and_round_trips(rows: list[tuple[str, str]]) -> None:
    hashes, values = [h for h, _ in rows], [v for _, v in rows]
    raw, limbs, kind = _encode(hashes, values)
    for i, (h, v) in enumerate(rows):
        want, flag = _ref_hash(h)
        assert kind[i] & (fw.HASH_0X | fw.HASH_RAW) == flag
        if want is not None:
            assert bytes(raw[i]) == want and fw.hash_text(raw[i], int(kind[i])) == h
        ref = _ref_value(v)
        assert bool(kind[i] & fw.VALUE_RAW) == (ref is None)
        if ref is not None:
            assert tuple(int(x) for x in limbs[i]) == ref and fw.value_text(limbs[i]) == v


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partitions, "PART_ROWS", 64)
    monkeypatch.setattr(partitions, "ROW_GROUP", 16)
    monkeypatch.setattr(append_mod, "RUN_ROWS", 40)


def _manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def _gdir(root: Path) -> Path:
    return root / f"g{_manifest(root)['generation']}"


def _same_rows(ws: Workspace, edges: np.ndarray) -> None:
    """The case index serves exactly what Parquet holds, for every column it serves."""
    ws.graph()
    assert ws.case_index() is not None
    got = ws.rows(edges, COLS)
    want = ws._parquet_rows(edges, COLS)
    assert got.equals(want), (got, want)


def _index_files(root: Path) -> dict[str, bytes]:
    case = _gdir(root) / "case"
    return {f.name: f.read_bytes() for f in sorted(case.iterdir())}


def _fresh_index(root: Path, tmp: Path) -> dict[str, bytes]:
    """The index built from scratch (read back from the partitions) in a copy."""
    copy = tmp / "fresh"
    shutil.copytree(root, copy)
    shutil.rmtree(_gdir(copy) / "case")
    m = _manifest(copy)
    write_case_index(_gdir(copy), m["parts"], m["addresses"])
    return _index_files(copy)


def test_index_is_written_at_ingest_and_equals_parquet(tmp_path: Path, small_parts: None) -> None:
    base = rows_csv(tmp_path / "base.csv", months(1, JAN, 100) + months(200, FEB, 90))
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([base])
    m = _manifest(tmp_path / "ws")
    case = _gdir(tmp_path / "ws") / "case"
    for p in m["parts"]:  # every partition and dictionary chunk has its index
        stem = p["file"].removesuffix(".parquet")
        assert all((case / f"{stem}.{n}.npy").exists() for n in PART_FILES)
    assert CaseIndex.open(_gdir(tmp_path / "ws"), m).has_addresses
    edges = np.random.default_rng(1).permutation(190)[:60]
    _same_rows(ws, edges)
    assert _index_files(tmp_path / "ws") == _fresh_index(tmp_path / "ws", tmp_path)


def test_append_at_end_and_backfill_keep_the_index_current(
    tmp_path: Path, small_parts: None
) -> None:
    root = tmp_path / "ws"
    ws = Workspace.open(root, create=True)
    ws.ingest([rows_csv(tmp_path / "a.csv", months(1, JAN, 100) + months(400, MAR_LATE, 40))])
    g_before = _gdir(root)
    ws.ingest([rows_csv(tmp_path / "b.csv", months(600, FEB, 70))])  # backfill: an earlier month
    ws.ingest([rows_csv(tmp_path / "c.csv", months(800, MAR_LATE, 10))])  # at the end
    ws.refresh()
    n = ws.graph().n_edges
    assert n == 220
    _same_rows(ws, np.arange(n)[::-1].copy())
    assert _index_files(root) == _fresh_index(root, tmp_path)
    # an unchanged January partition's index is the previous generation's file (hard link)
    jan = [p["file"] for p in _manifest(root)["parts"] if p["file"].startswith("part-2024-01")]
    old = g_before / "case" / jan[0].replace(".parquet", ".hash.npy")
    if old.exists():  # (the generation may have been cleaned up once no reader holds it)
        new = _gdir(root) / "case" / jan[0].replace(".parquet", ".hash.npy")
        assert os.path.samefile(old, new)
    for addr in ("0x" + "0" * 39 + "1", "0x" + "0" * 38 + "11"):  # lookups after appends
        ids = ws.case_index().candidates(addr)  # type: ignore[union-attr]
        assert sorted(ws.graph().addresses.filter(pl.col("address") == addr)["id"].to_list()) == \
            sorted(ws.graph().addresses[ids.tolist()].filter(pl.col("address") == addr)["id"]
                   .to_list())  # fmt: skip


def test_missing_index_falls_back_then_is_rebuilt(tmp_path: Path, small_parts: None) -> None:
    root = tmp_path / "ws"
    ws = Workspace.open(root, create=True)
    ws.ingest([rows_csv(tmp_path / "a.csv", months(1, JAN, 100) + months(200, MAR_EARLY, 50))])
    before = _index_files(root)
    for f in (_gdir(root) / "case").glob("part-2024-01-000.*"):
        f.unlink()
    ws.refresh()
    ws.graph()
    edges = np.arange(150)
    idx = ws.case_index()
    assert idx is not None and idx.kinds[0] is None  # that part has no index: Parquet serves
    assert ws.rows(edges, COLS).equals(ws._parquet_rows(edges, COLS))
    ws.build_case_index()
    assert _index_files(root) == before
    ws.build_case_index()  # idempotent
    assert _index_files(root) == before


def test_a_superseded_generation_takes_its_index_along(tmp_path: Path) -> None:
    """tracer deletes only what it wrote: the case folder is one of a generation's folders,
    removed with it once no reader holds it."""
    root = tmp_path / "ws"
    ws = Workspace.open(root, create=True)
    ws.ingest([rows_csv(tmp_path / "a.csv", months(1, JAN, 30))])
    first = _gdir(root)
    assert (first / "case").is_dir()
    (first / "case" / "mine.txt").write_text("not tracer's")  # a user's file stays
    ws.ingest([rows_csv(tmp_path / "b.csv", months(100, FEB, 30))])
    ws.ingest([rows_csv(tmp_path / "c.csv", months(200, MAR_EARLY, 30))])
    assert _gdir(root) != first
    assert sorted(p.name for p in (first / "case").iterdir()) == ["mine.txt"]


def test_reingest_changes_nothing(tmp_path: Path, small_parts: None) -> None:
    root = tmp_path / "ws"
    ws = Workspace.open(root, create=True)
    f = rows_csv(tmp_path / "a.csv", months(1, JAN, 80))
    ws.ingest([f])
    gen, before = _manifest(root)["generation"], _index_files(root)
    assert not ws.ingest([f]).changed
    assert _manifest(root)["generation"] == gen and _index_files(root) == before


def test_texts_without_fixed_width_form_come_from_parquet(tmp_path: Path) -> None:
    """An upper-case hash, a bare hash, a 60-digit value: kept exactly (read from Parquet)."""
    lines = ["tx_hash,src,dst,value,ts,token,seq,chain,decimals"]
    hashes = ["0x" + "AB" * 32, "ab" * 32, "0x" + "cd" * 32, "0x" + "ef" * 32]
    values = ["1" + "0" * 59, "5", "123456789012345678901234567890", "7"]
    for i, (h, v) in enumerate(zip(hashes, values, strict=True)):
        lines.append(f"{h},0x{1:040x},0x{2 + i:040x},{v},2024-01-0{i + 1}T00:00:00Z,"
                     f"0x{9:040x},{i},ethereum,")  # unknown decimals: null amounts  # fmt: skip
    src = tmp_path / "odd.csv"
    src.write_text("\n".join(lines) + "\n")
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([src])
    ws.graph()
    edges = np.arange(ws.graph().n_edges)
    got = ws.rows(edges, COLS)
    assert got.equals(ws._parquet_rows(edges, COLS))
    kinds = ws.case_index().kinds[0]  # type: ignore[union-attr]
    assert kinds is not None and (np.asarray(kinds) & fw.AMOUNT_NULL).all()
    assert np.count_nonzero(np.asarray(kinds) & fw.VALUE_RAW) == 1  # the 60-digit value


def test_address_hashes_are_stable() -> None:
    """The stored lookup must not change with a library version: FNV-1a of the UTF-8 text."""
    got = address_hashes(pa.array(["", "a"], pa.string()))
    assert got.tolist() == [0xCBF29CE484222325, 0xAF63DC4C8601EC8C]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=50), max_size=10))
def test_query_hash_equals_the_stored_hash(texts: list[str]) -> None:
    """The lookup hashes its query in Python: the same number the kernel stored."""
    assert [fnv1a_text(t) for t in texts] == address_hashes(pa.array(texts, pa.string())).tolist()


def test_address_rows_come_from_the_index_even_with_the_frame_read(
    tmp_path: Path, small_parts: None
) -> None:
    """Once something read the whole address frame, ``address_rows`` still serves ids from the
    case index (a Polars gather through a list cost a case follow about a third of its time),
    with the frame's own rows, order and dtypes."""
    base = rows_csv(tmp_path / "base.csv", months(1, JAN, 100) + months(200, FEB, 90))
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.ingest([base])
    graph = ws.graph()
    frame = graph.addresses  # the whole dictionary, read
    assert graph.loaded and graph.rows_of is not None
    from tracer.analysis.follow_rows import address_texts

    class Counting:  # the bound reader, counted (``__self__`` kept: the index is found by it)
        def __init__(self, f: object) -> None:
            self.f, self.__self__, self.calls = f, getattr(f, "__self__", None), 0

        def __call__(self, ids: np.ndarray) -> pl.DataFrame:
            self.calls += 1
            return self.f(ids)  # type: ignore[operator]

    graph.rows_of = Counting(graph.rows_of)  # type: ignore[assignment]
    some = np.array([3, 1], dtype=np.int64)
    assert address_texts(graph, some) == (frame["chain"].gather(some).to_list(),
                                         frame["address"].gather(some).to_list())  # fmt: skip
    assert graph.rows_of.calls == 0  # type: ignore[attr-defined]  # texts, no frame built
    served: list[int] = []
    rows_of = graph.rows_of

    def counting(ids: np.ndarray) -> pl.DataFrame:
        served.append(len(ids))
        return rows_of(ids)

    graph.rows_of = counting
    ids = np.array([7, 0, frame.height - 1, 3, 7], dtype=np.int64)
    got = graph.address_rows(ids)
    assert served == [5]
    assert got.equals(frame[ids.tolist()])
    assert got.schema == frame.select("id", "chain", "address").schema
