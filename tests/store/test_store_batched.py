"""Big CSV exports are read in batches (bounded memory) with the same result as one read:
same rows, same content-derived seqs, same counts, the file's own row numbers in errors."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.conftest import USDT_ETH
from tests.store.test_workspace import state
from tracer.core.errors import InputError
from tracer.sources import batched, read_file
from tracer.sources.batched import read_batches
from tracer.store import append as append_mod
from tracer.store.workspace import Workspace

A, B = "0x" + "1" * 40, "0x" + "2" * 40


@pytest.fixture
def etl(tmp_path: Path) -> Path:
    """An ethereum-etl token_transfers CSV (real log indices), 30 rows over two months."""
    lines = ["token_address,from_address,to_address,value,transaction_hash,log_index,"
             "block_number,block_timestamp"]  # fmt: skip
    for i in range(30):
        lines.append(f"{USDT_ETH},{A if i % 2 else B},0x{i % 7 + 3:040x},{10 + i},0x{i // 2:064x},"
                     f"{i % 2},{19_000_000 + i},{1_704_000_000 + i * 100_000}")  # fmt: skip
    f = tmp_path / "token_transfers.csv"
    f.write_text("\n".join(lines) + "\n")
    return f


def no_seq_csv(path: Path, n: int = 40, bad_row: int | None = None) -> Path:
    """Transfers without a log index, three identical ones per transaction (the batch
    boundaries below fall inside transactions), optionally one malformed value."""
    lines = ["tx_hash,src,dst,value,ts,token,chain"]
    for i in range(n):
        value = "12x" if bad_row == i + 1 else "5"
        ts = f"2024-0{1 + i % 2}-01T00:00:{i % 60:02d}Z"
        lines.append(f"0x{i // 3 + 1:064x},{A},{B},{value},{ts},{USDT_ETH},ethereum")
    path.write_text("\n".join(lines) + "\n")
    return path


def whole_vs_batches(path: Path, rows: int, **kw) -> tuple:
    whole = read_file(path, **kw)
    parts = list(read_batches(path, batch_rows=rows, batch_bytes=1, **kw))
    assert len(parts) > 1
    return whole, parts


@pytest.mark.parametrize("rows", [1, 4, 7])
def test_batches_equal_one_read(tmp_path: Path, etl: Path, rows: int) -> None:
    for f in (etl, no_seq_csv(tmp_path / "noseq.csv")):
        whole, parts = whole_vs_batches(f, rows)
        assert pl.concat([p.transfers for p in parts]).equals(whole.transfers)
        assert sum(p.read for p in parts) == whole.read
        assert all(p.file == str(f) and p.format == whole.format for p in parts)


def test_errors_and_rejects_name_the_files_own_rows(tmp_path: Path) -> None:
    f = no_seq_csv(tmp_path / "bad.csv", bad_row=10)
    with pytest.raises(InputError) as whole_err:
        read_file(f)
    with pytest.raises(InputError) as batch_err:
        list(read_batches(f, batch_rows=4, batch_bytes=1))
    assert str(batch_err.value) == str(whole_err.value) and batch_err.value.row == 10
    whole, parts = whole_vs_batches(f, 4, skip_bad=True)
    got = pl.concat([p.rejects for p in parts])
    assert got.equals(whole.rejects) and got["row"].to_list() == [10]
    assert sum(p.transfers.height for p in parts) == whole.transfers.height == 39


def test_small_files_are_read_whole(etl: Path) -> None:
    assert len(list(read_batches(etl, batch_rows=1))) == 1  # under BATCH_BYTES


def test_batched_ingest_equals_whole_ingest(tmp_path: Path, etl: Path, monkeypatch) -> None:
    f = no_seq_csv(tmp_path / "noseq.csv", n=60)
    whole = Workspace.open(tmp_path / "whole", create=True)
    s1 = whole.ingest([f, etl])
    monkeypatch.setattr(batched, "BATCH_BYTES", 1)
    monkeypatch.setattr(batched, "BATCH_ROWS", 5)
    monkeypatch.setattr(append_mod, "SPOOL_MEMORY_ROWS", 7)  # candidates go to disk too
    flushes: list[int] = []
    real_flush = append_mod.Spool._flush

    def flush(self) -> None:  # type: ignore[no-untyped-def]
        flushes.append(self._in_memory)
        real_flush(self)

    monkeypatch.setattr(append_mod.Spool, "_flush", flush)
    seen: list[int] = []
    parts = Workspace.open(tmp_path / "parts", create=True)
    s2 = parts.ingest([f, etl], progress=seen.append)
    assert s2.as_dict() == s1.as_dict()
    assert sum(seen) == s1.total("read") and len(seen) > 3
    assert state(parts) == state(whole)
    assert len(flushes) > 3  # the spool really went through disk
    assert not [p for p in (tmp_path / "parts").iterdir() if "batch" in p.name]
