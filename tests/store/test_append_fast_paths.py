"""The append fast paths give exactly what the plain operations they skip would give."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.core.amounts import amount_expr, amount_series
from tracer.core.schema import TRANSFER_KEY
from tracer.store.append import (
    _any_repeated,
    _constant,
    _endpoint_codes,
    _first_arrivals,
    _in_chain_order,
    _number,
    _token_ids,
    month_groups,
)
from tracer.store.graph_cache import sort_transfers

ADDR = [f"0x{i:040x}" for i in range(6)]
DAYS = [1_704_067_200_000_000 + d * 86_400_000_000 * 13 for d in range(6)]  # ~2 weeks apart


@st.composite
def transfer_rows(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(0, 14))
    def col(strategy: st.SearchStrategy) -> list:
        return draw(st.lists(strategy, min_size=n, max_size=n))
    return pl.DataFrame(
        {
            "chain": col(st.sampled_from(["ethereum", "ethereum", "bsc"])),
            "token": col(st.sampled_from([ADDR[0], ADDR[1], None])),
            "tx_hash": col(st.sampled_from(["0xaa", "0xab", "0xb0"])),
            "seq": col(st.integers(0, 2)),
            "block": col(st.one_of(st.none(), st.integers(1, 3))),
            "ts": pl.Series(col(st.sampled_from(DAYS)), dtype=pl.Int64).cast(
                pl.Datetime("us", "UTC")),
            "src": col(st.sampled_from(ADDR)),
            "dst": col(st.sampled_from(ADDR)),
        },
        schema_overrides={"token": pl.String, "block": pl.Int64},
    )


@settings(max_examples=200, deadline=None)
@given(transfer_rows())
def test_chain_order_check_is_the_sort(rows: pl.DataFrame) -> None:
    assert _in_chain_order(rows) == rows.equals(sort_transfers(rows))
    assert _in_chain_order(sort_transfers(rows))


@settings(max_examples=200, deadline=None)
@given(transfer_rows())
def test_first_arrivals_is_unique_first(rows: pl.DataFrame) -> None:
    exact = rows.unique(TRANSFER_KEY, keep="first", maintain_order=True)
    assert _first_arrivals(rows).equals(exact)


@settings(max_examples=200, deadline=None)
@given(transfer_rows())
def test_month_groups_are_the_month_filters(rows: pl.DataFrame) -> None:
    got = month_groups(rows)
    month = rows["ts"].dt.strftime("%Y-%m")
    want = [(m, rows.filter(month == m)) for m in sorted(month.unique().to_list())]
    assert [m for m, _ in got] == [m for m, _ in want]
    assert all(a.equals(b) for (_, a), (_, b) in zip(got, want, strict=True))


def _reference_ids(rows: pl.DataFrame, known: dict[tuple[str, str], int], next_id: int):
    """Plain Python: ids by first appearance, source before destination, known ones kept."""
    ids = dict(known)
    fresh = []
    out = []
    for r in rows.iter_rows(named=True):
        for end in ("src", "dst"):
            key = (r["chain"], r[end])
            if key not in ids:
                ids[key] = next_id + len(fresh)
                fresh.append(key)
            out.append(ids[key])
    return out[0::2], out[1::2], fresh


@settings(max_examples=200, deadline=None)
@given(transfer_rows(), st.sets(st.sampled_from(ADDR[:4]), max_size=3))
def test_numbering_is_first_appearance(rows: pl.DataFrame, known_addr: set[str]) -> None:
    known = {("ethereum", a): 100 + i for i, a in enumerate(sorted(known_addr))}
    lookup = pl.DataFrame(
        {"id": list(known.values()), "chain": [c for c, _ in known],
         "address": [a for _, a in known]},
        schema={"id": pl.Int32, "chain": pl.String, "address": pl.String},
    )  # fmt: skip
    src, dst, chunk = _number(rows, lookup, 500)
    want_src, want_dst, fresh = _reference_ids(rows, known, 500)
    assert src.tolist() == want_src and dst.tolist() == want_dst
    assert list(zip(chunk["chain"], chunk["address"], strict=True)) == fresh
    assert chunk["id"].to_list() == list(range(500, 500 + len(fresh)))
    if rows.height:
        codes, pairs = _endpoint_codes(rows)
        assert len(codes) == 2 * rows.height and pairs.height == len(set(codes.tolist()))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.integers(0, 2**60).map(str),
                                    st.integers(0, 10**40).map(str),
                                    st.sampled_from(["9007199254740993", "0", None])),
                          st.one_of(st.none(), st.integers(0, 40))), max_size=8))  # fmt: skip
def test_amount_series_is_the_parsed_amount(pairs: list) -> None:
    frame = pl.DataFrame({"value": [v for v, _ in pairs], "decimals": [d for _, d in pairs]},
                         schema={"value": pl.String, "decimals": pl.Int16})  # fmt: skip
    want = frame.select(amount_expr(pl.col("value"), pl.col("decimals"))).to_series()
    got = amount_series(frame)
    assert got.to_list() == want.to_list()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([0, 7, 2**64 - 1]), max_size=12))
def test_any_repeated_is_is_duplicated(values: list[int]) -> None:
    hashes = np.array(values, dtype=np.uint64)
    want = bool(pl.Series(hashes).is_duplicated().any())
    assert _any_repeated(hashes) == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["ethereum", "bsc"]), st.sampled_from([ADDR[0], None]),
                          st.sampled_from(["USDT", None]), st.sampled_from([6, None])),
                min_size=1, max_size=8))  # fmt: skip
def test_token_ids_are_the_token_join(meta: list) -> None:
    """The one-token shortcut (a constant, null metadata included) gives what the join gives."""
    cols = ["chain", "token", "asset", "decimals"]
    schema = {"chain": pl.String, "token": pl.String, "asset": pl.String, "decimals": pl.Int16}
    rows = pl.DataFrame(meta, schema=schema, orient="row")
    tokens = rows.unique(maintain_order=True).with_row_index("token_id").with_columns(
        pl.col("token_id").cast(pl.Int32) + 3)
    want = rows.join(tokens, on=cols, how="left", maintain_order="left", nulls_equal=True)
    assert _token_ids(rows, tokens).tolist() == want["token_id"].to_list()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-2_000_000_000_000_000, 5_000_000_000_000_000)
                | st.sampled_from([0, -1, 1_706_745_599_999_999, 1_706_745_600_000_000]),
                max_size=12), st.booleans())  # fmt: skip
def test_month_groups_of_sorted_rows_are_the_month_filters(us: list[int], ordered: bool) -> None:
    """Rows in time order take the binary-search split (month starts, pre-1970 included)."""
    ts = pl.Series("ts", sorted(us) if ordered else us, dtype=pl.Int64).cast(
        pl.Datetime("us", "UTC"))
    rows = pl.DataFrame({"ts": ts, "i": range(len(us))})
    month = rows["ts"].dt.strftime("%Y-%m")
    want = [(m, rows.filter(month == m)) for m in sorted(month.unique().to_list())]
    got = month_groups(rows)
    assert [m for m, _ in got] == [m for m, _ in want]
    assert all(a.equals(b) for (_, a), (_, b) in zip(got, want, strict=True))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "a", "a", "b", None]), max_size=40))
def test_constant_is_one_distinct_non_null_value(values: list) -> None:
    s = pl.Series(values, dtype=pl.String)
    assert _constant(s) == (len(values) == 0 or (None not in values and len(set(values)) == 1))


def _constant_columns(rows: pl.DataFrame) -> set[str]:
    return {c for c in rows.columns if _constant(rows[c])}


@settings(max_examples=200, deadline=None)
@given(transfer_rows())
def test_known_constants_give_what_comparing_every_row_gives(rows: pl.DataFrame) -> None:
    """Naming the columns already proven constant (the spool's, once per run) changes nothing
    in the steps that would otherwise compare every row."""
    known = _constant_columns(rows)
    assert _first_arrivals(rows, known).equals(_first_arrivals(rows))
    a, b = _endpoint_codes(rows, known), _endpoint_codes(rows)
    assert a[0].tolist() == b[0].tolist() and a[1].equals(b[1])
    meta = rows.select("chain", "token").with_columns(
        pl.lit("USDT").alias("asset"), pl.lit(6, pl.Int16).alias("decimals"))
    tokens = meta.unique(maintain_order=True).with_row_index("token_id").with_columns(
        pl.col("token_id").cast(pl.Int32))
    known = _constant_columns(meta)
    assert _token_ids(meta, tokens, known).tolist() == _token_ids(meta, tokens).tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(transfer_rows(), min_size=1, max_size=4), st.integers(0, 2))
def test_spool_constants_are_the_columns_constant_over_every_row(
    batches: list[pl.DataFrame], flush_below: int
) -> None:
    """The spool's constants are exactly the candidate columns with one non-null value over all
    rows added (across batches and files, whether spooled to disk or held), and its token
    list equals the one read from the rows."""
    import tempfile
    from pathlib import Path

    import tracer.store.append as ap

    old = ap.SPOOL_MEMORY_ROWS
    ap.SPOOL_MEMORY_ROWS = flush_below + 1  # some batches go to disk
    try:
        with tempfile.TemporaryDirectory() as d:
            spool = ap.Spool(Path(d))
            batches = [b.with_columns(pl.lit("USDT").alias("asset"),
                                      pl.lit(6, pl.Int16).alias("decimals")) for b in batches]
            for i, b in enumerate(batches):
                spool.add(b, i % 2)
            added = [b.with_columns(pl.lit(i % 2, pl.Int32).alias("_file"))
                     for i, b in enumerate(batches) if b.height]  # fmt: skip
            if not added:
                assert spool.constant == {}
                return
            every = pl.concat(added)
            want = {c: every[c][0] for c in ap.CONSTANT_CANDIDATES
                    if c in every.columns and _constant(every[c])}  # fmt: skip
            assert spool.constant == want
            cols = ["chain", "token", "asset", "decimals"]
            general = every.select(cols).unique().sort(cols, nulls_last=True)
            assert spool.tokens().sort(cols, nulls_last=True).equals(general)
            spool.remove()
    finally:
        ap.SPOOL_MEMORY_ROWS = old
