"""A path step's tainted-amount text from the kept texts (``taint_texts``) is
:func:`decimal_text`'s, first time and again, whatever the figure (ties of -0.0 and 0.0,
NaN, values that round; amounts' range: decimal_text itself refuses 1e100)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.analysis import follow_rows
from tracer.analysis.follow_rows import taint_texts
from tracer.core.decimal_text import decimal_text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.floats(-1e15, 1e15), st.just(float("nan")),
                                    st.sampled_from([0.0, -0.0, 1e-7, 0.1 + 0.2])),
                          st.sampled_from([0, 2, 6, 18])), max_size=20),
       st.booleans())  # fmt: skip
def test_taint_texts_are_decimal_text(pairs: list, small: bool) -> None:
    values, decimals = [v for v, _ in pairs], [d for _, d in pairs]
    want = [decimal_text(v, d) for v, d in pairs]
    keep = follow_rows.TEXTS_KEEP
    follow_rows.TEXTS_KEEP = 3 if small else keep  # the bound: cleared, still the same texts
    follow_rows._TEXTS.clear()
    try:
        assert taint_texts(values, decimals) == want
        assert taint_texts(values, decimals) == want  # from the kept texts
        assert len(follow_rows._TEXTS) <= follow_rows.TEXTS_KEEP
    finally:
        follow_rows.TEXTS_KEEP = keep
