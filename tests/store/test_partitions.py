"""Time-partitioned storage: month files, size caps, row lookup across files, streamed chunks."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import SAMPLE_DATA
from tracer.store.partitions import EDGE_COLUMNS, PartReader, PartWriter, edge_arrays
from tracer.store.workspace import Workspace

DAY = 86_400_000_000


def month_table(n: int) -> tuple[pa.Table, np.ndarray]:
    ts = 1_704_067_200_000_000 + np.arange(n, dtype=np.int64) * (DAY // 2)  # from 2024-01-01
    table = pa.table(
        {
            "src_id": pa.array(np.arange(n) % 7, pa.int32()),
            "dst_id": pa.array((np.arange(n) + 1) % 7, pa.int32()),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "amount": pa.array([None if i % 11 == 0 else float(i) for i in range(n)], pa.float64()),
            "token_id": pa.array(np.zeros(n), pa.int32()),
        }
    )
    return table, ts


def test_writer_splits_by_month_and_size_and_reads_back_in_order(tmp_path) -> None:
    table, ts = month_table(200)  # 100 days: January to April 2024
    w = PartWriter(tmp_path, table.schema, part_rows=25, row_group=10)
    for a in range(0, 200, 30):  # batches that straddle month and size boundaries
        w.write(table.slice(a, 30), ts[a : a + 30])
    parts = w.close()
    names = [p["file"] for p in parts]
    assert names[0] == "part-2024-01-000.parquet" and names[1] == "part-2024-01-001.parquet"
    assert {n[5:12] for n in names} == {"2024-01", "2024-02", "2024-03", "2024-04"}
    assert all(p["rows"] <= 25 for p in parts) and sum(p["rows"] for p in parts) == 200
    for p in parts:  # every file holds one month only, and its recorded time range
        month = np.datetime64(p["first_ts"], "us").astype("datetime64[M]")
        assert str(month) == p["file"][5:12]
        assert str(np.datetime64(p["last_ts"], "us").astype("datetime64[M]")) == str(month)
    reader = PartReader(tmp_path, parts)
    assert reader.num_rows == 200
    assert reader.read_all(EDGE_COLUMNS).equals(table)
    rows = np.array([199, 0, 57, 58, 3, 120], dtype=np.int64)
    assert (
        reader.take(rows, ["ts"]).column("ts").to_pylist()
        == table.column("ts").take(pa.array(rows)).to_pylist()
    )
    seen = []
    for start, chunk in reader.chunks(EDGE_COLUMNS):
        arrs = edge_arrays(chunk)
        np.testing.assert_array_equal(arrs["ts"], ts[start : start + chunk.num_rows])
        assert np.isnan(arrs["amount"][(np.arange(start, start + chunk.num_rows) % 11) == 0]).all()
        seen.append(start)
    assert seen == sorted(seen) and len(seen) == len(reader.groups)
    back = [s for s, _ in reader.chunks(EDGE_COLUMNS, reverse=True)]
    assert back == seen[::-1]


def test_workspace_partitions_and_rebuilds_a_missing_graph_cache(tmp_path) -> None:
    ws = Workspace.open(tmp_path, create=True)
    ws.ingest(SAMPLE_DATA)
    m = ws.manifest()
    assert m["version"] == 2 and m["parts"]
    assert sum(p["rows"] for p in m["parts"]) == ws.transfers().height
    cached = ws.graph()
    ws2 = Workspace.open(tmp_path)
    shutil.rmtree(tmp_path / f"g{m['generation']}" / "graph")
    assert not ws2.has_graph_cache()
    rebuilt = ws2.graph()  # from the partitions' id columns
    assert ws2.has_graph_cache()
    for name, arr in cached.arrays().items():
        np.testing.assert_array_equal(getattr(rebuilt, name), arr, err_msg=name)


def test_an_old_format_workspace_is_refused_with_advice(tmp_path) -> None:
    ws = Workspace.open(tmp_path, create=True)
    ws.ingest(SAMPLE_DATA)
    mpath = tmp_path / "manifest.json"
    mpath.write_text(mpath.read_text().replace('"version": 2', '"version": 1'))
    with pytest.raises(Exception, match="re-ingest"):
        Workspace.open(tmp_path)


def test_partition_layout_block_plain_no_statistics_for_unsorted_text(tmp_path) -> None:
    """``block`` is written without a dictionary and hashes/addresses/values without min/max
    statistics (they prune nothing); the time column keeps its statistics, and the rows read
    back are the rows ingested."""
    import pyarrow.parquet as pq

    from tracer.store.partitions import PLAIN_COLUMNS, UNSORTED_TEXT

    ws = Workspace.open(tmp_path, create=True)
    ws.ingest(SAMPLE_DATA)
    m = ws.manifest()
    for p in m["parts"]:
        meta = pq.ParquetFile(tmp_path / f"g{m['generation']}" / "transfers" / p["file"]).metadata
        cols = {meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i)
                for i in range(meta.num_columns)}  # fmt: skip
        for name in UNSORTED_TEXT:
            assert not cols[name].is_stats_set, name
        assert cols["ts"].is_stats_set and cols["chain"].is_stats_set
        for name in PLAIN_COLUMNS:
            assert not any("DICTIONARY" in e for e in cols[name].encodings), cols[name].encodings
        assert any("DICTIONARY" in e for e in cols["src"].encodings)
    again = Workspace.open(tmp_path)
    assert again.transfers().height == sum(p["rows"] for p in m["parts"])


def test_views_and_dictionaries_write_the_same_file_as_plain_strings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``arrow_rows`` (string views, one-value columns as dictionaries) and plain strings give
    the same Parquet schema, stored Arrow schema, metadata, encodings and rows."""
    import numpy as np
    import polars as pl
    import pyarrow.parquet as pq

    from tracer.core.schema import TRANSFER_SCHEMA, to_arrow_transfers
    from tracer.store.partitions import STORED_SCHEMA, PartWriter, arrow_rows, with_ids

    n = 5000
    ts = 1_600_000_000_000_000 + np.arange(n, dtype=np.int64) * 1_000_000
    frame = pl.DataFrame({
        "chain": ["ethereum"] * n, "asset": ["USDT"] * n, "token": ["0x" + "ab" * 20] * n,
        "tx_hash": [f"0x{i:064x}" for i in range(n)], "seq": np.arange(n), "block": ts // 12,
        "ts": pl.Series(ts).cast(pl.Datetime("us", "UTC")),
        "src": [f"0x{i % 97:040x}" for i in range(n)],
        "dst": [f"0x{i % 89:040x}" for i in range(n)],
        "value": [str(i * 7) for i in range(n)], "decimals": pl.Series([6] * n, dtype=pl.Int16),
        "amount": np.arange(n) * 7e-6,
    })  # fmt: skip
    ids = np.arange(n, dtype=np.int32)
    files = []
    for name, table in (("plain", to_arrow_transfers(frame)),
                        ("views", arrow_rows(frame, TRANSFER_SCHEMA))):  # fmt: skip
        assert (name == "views") == any(
            pa.types.is_dictionary(t) or pa.types.is_string_view(t) for t in table.schema.types)
        w = PartWriter(tmp_path / name, STORED_SCHEMA, row_group=2000)
        w.write(with_ids(table, ids, ids, ids), ts)
        (part,) = w.close()
        files.append(pq.ParquetFile(tmp_path / name / part["file"]))
    a, b = files
    assert a.schema.equals(b.schema)
    assert a.schema_arrow.equals(b.schema_arrow, check_metadata=True)
    assert a.schema_arrow.equals(STORED_SCHEMA, check_metadata=True)
    assert a.metadata.metadata == b.metadata.metadata
    assert a.read().equals(b.read())
    for g in range(a.metadata.num_row_groups):
        for c in range(a.metadata.num_columns):
            x, y = a.metadata.row_group(g).column(c), b.metadata.row_group(g).column(c)
            assert (x.encodings, x.compression) == (y.encodings, y.compression)
