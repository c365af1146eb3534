"""The canonical-form proof of a Polars column (bytes through Polars when small, no pyarrow)
says what the proof of the same column through Arrow says."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.core import string_buffers
from tracer.sources.proofs import _canonical_arrow, _canonical_series

HEX = "0123456789abcdefABCDEF"
prefixed = st.builds(lambda p, h: p + h, st.sampled_from(["0x", "", "0X"]),
                     st.text(HEX, min_size=38, max_size=42))  # fmt: skip
hexes = st.one_of(st.none(), prefixed)
digits = st.one_of(st.none(), st.text("0123456789", max_size=80), st.text(max_size=4))
FORMS = {"tx_hash": (64, True), "src": (40, True), "token": (40, True), "value": (0, False)}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(FORMS)), st.data())
def test_series_proof_is_the_arrow_proof(col: str, data: st.DataObject) -> None:
    values = data.draw(st.lists(digits if col == "value" else hexes, max_size=12))
    series = pl.Series(col, values, dtype=pl.String)
    assert _canonical_series(series, col, FORMS[col]) == _canonical_arrow(series.to_arrow(), col,
                                                                          FORMS[col])  # fmt: skip


def test_a_canonical_column_is_proven_both_ways(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    series = pl.Series("src", [f"0x{i:040x}" for i in range(50)])
    assert _canonical_series(series, "src", FORMS["src"])
    monkeypatch.setattr(string_buffers, "SMALL_COLUMN", 10)  # the Arrow way for this size
    assert _canonical_series(series, "src", FORMS["src"])
    assert not _canonical_series(series.str.to_uppercase(), "src", FORMS["src"])
