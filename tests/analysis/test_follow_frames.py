"""The column-by-column result frames equal the step-by-step polars form they replace."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.analysis.follow_frames import (
    _EXACT_US,
    FrameSpec,
    RowKit,
    address_frame,
    address_frames,
    first_ts_series,
    label_lookup,
    polars_rows,
)

HEX = "0123456789abcdef"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@st.composite
def kits(draw: st.DrawFn) -> tuple[RowKit, np.ndarray, np.ndarray]:
    """A node table of EVM and Tron addresses, labels on some ids, per-address figures, and
    a set of ids with positive amounts (few distinct values: ties by chain and address)."""
    n = draw(st.integers(1, 25))
    chains, addrs = [], []
    for i in range(n):
        if draw(st.booleans()):
            chains.append(draw(st.sampled_from(["ethereum", "bsc"])))
            addrs.append("0x" + draw(st.text(HEX, min_size=40, max_size=40)))
        else:
            chains.append("tron")
            addrs.append("T" + draw(st.text(B58, min_size=33, max_size=33)))
        if draw(st.integers(0, 4)) == 0 and i:  # the same text on another id's chain
            addrs[i] = addrs[i - 1]
            chains[i] = "bsc" if chains[i - 1] == "ethereum" else "ethereum"
        if (chains[i], addrs[i]) in set(zip(chains[:i], addrs[:i], strict=True)):
            chains[i], addrs[i] = "tron", f"T{i:033d}"  # an id's (chain, address) is unique
    labelled = sorted(draw(st.sets(st.integers(0, n - 1))))
    lab = pl.DataFrame({
        "id": pl.Series(draw(st.permutations(labelled)), dtype=pl.Int32),
        "name": [draw(st.sampled_from(["binance", "okx", None])) for _ in labelled],
        "category": [draw(st.sampled_from(["exchange", "mixer", "otc_desk"])) for _ in labelled],
        "label_inferred": [draw(st.booleans()) for _ in labelled],
    }, schema={"id": pl.Int32, "name": pl.String, "category": pl.String,
               "label_inferred": pl.Boolean})  # fmt: skip
    ts_values = st.one_of(st.just(-1), st.integers(0, 2**40),
                          st.integers(1_500_000_000_000_000, 1_900_000_000_000_000),
                          st.integers(_EXACT_US - 5, _EXACT_US + 5))  # fmt: skip
    first_ts = np.array([draw(ts_values) for _ in range(n)], dtype=np.int64)
    hops = np.array([draw(st.integers(-1, 9)) for _ in range(n)], dtype=np.int32)
    sizes = np.array([draw(st.integers(1, 4)) for _ in range(n)], dtype=np.int64)
    ids = np.array(sorted(draw(st.sets(st.integers(0, n - 1)))), dtype=np.int32)
    amounts = np.array([draw(st.sampled_from([1.0, 2.5, 1e-9, 3e12, 7.25])) for _ in ids])

    def texts(want: np.ndarray) -> tuple[list[str], list[str]]:
        return [chains[i] for i in want.tolist()], [addrs[i] for i in want.tolist()]

    return RowKit("USDT", hops, first_ts, sizes, lab, texts), ids, amounts


specs = st.fixed_dictionaries({
    "head": st.sampled_from([None, 0, 1, 3]), "share_of": st.sampled_from([None, 0.0, 10.0]),
    "paths": st.booleans(), "fill_inferred": st.booleans(), "drop_id": st.booleans(),
    "cut": st.integers(0, 25),  # this frame takes the kit's ids from here on
})  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(kits(), st.lists(specs, min_size=1, max_size=4))
def test_address_frames_are_the_polars_form(case, drawn) -> None:  # type: ignore[no-untyped-def]
    """Several frames at once (one constructor, sliced) equal each frame built step by step."""
    kit, ids, amounts = case
    assert kit.lookup is not None  # the column-by-column path runs
    asked: list[list[int]] = []

    def paths(order: list[int]) -> dict[int, list[dict[str, object]]]:
        asked.append(order)
        return {i: [{"strength": float(i)}] for i in order[::2]}

    frames = []
    for d in drawn:
        head = d["head"]
        frames.append(FrameSpec(ids[d["cut"]:], amounts[d["cut"]:], head=head,
                                share_of=d["share_of"] if head is None else None,
                                paths=paths if d["paths"] and head is None else None,
                                fill_inferred=d["fill_inferred"], drop_id=d["drop_id"]))
    got = address_frames(kit, frames)
    for sp, g in zip(frames, got, strict=True):
        want = polars_rows(kit, sp.ids, sp.amounts, head=sp.head, share_of=sp.share_of,
                           paths=sp.paths, fill_inferred=sp.fill_inferred, drop_id=sp.drop_id)
        assert g.schema == want.schema
        if sp.paths is not None:  # the paths column holds objects: compared as lists
            assert g["paths"].to_list() == want["paths"].to_list()
            g, want = g.drop("paths"), want.drop("paths")
        assert g.equals(want), (g, want)
    n = sum(sp.paths is not None for sp in frames)
    assert asked[:n] == asked[n:]  # asked in the same (row) order


def test_repeated_label_ids_take_the_join() -> None:
    """A label frame with an id twice cannot be looked up by id: the polars join runs (two
    rows for that id, as a join gives)."""
    lab = pl.DataFrame({"id": [1, 1], "name": ["a", "b"], "category": ["exchange"] * 2,
                        "label_inferred": [False, False]},
                       schema_overrides={"id": pl.Int32})  # fmt: skip
    assert label_lookup(lab) is None
    kit = RowKit("USDT", np.zeros(3, np.int32), np.full(3, -1), np.ones(3, np.int64), lab,
                 lambda ids: (["tron"] * ids.size, [f"T{i}" for i in ids.tolist()]))  # fmt: skip
    got = address_frame(kit, np.array([1, 2]), np.array([5.0, 6.0]))
    assert got["name"].to_list() == [None, "a", "b"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.just(-1), st.integers(-(2**40), 250_000_000_000_000_000),
                          st.integers(1_000_000_000_000_000, 4_000_000_000_000_000)),
                max_size=30))  # fmt: skip
def test_first_ts_is_what_datetimes_give(values: list[int]) -> None:
    us = np.array(values, dtype=np.int64)
    want = pl.Series("first_ts", [None if v < 0 else datetime.fromtimestamp(v / 1e6, tz=UTC)
                                  for v in values], pl.Datetime("us", "UTC"))  # fmt: skip
    assert first_ts_series(us).equals(want)


def test_share_divides_as_the_expression_does() -> None:
    """polars divides a one-row column exactly and a longer one by the reciprocal (1e-9 / 10
    differs in the last bit): the share column is the expression's either way."""
    lab = pl.DataFrame(schema={"id": pl.Int32, "name": pl.String, "category": pl.String,
                               "label_inferred": pl.Boolean})  # fmt: skip
    kit = RowKit("USDT", np.zeros(3, np.int32), np.full(3, -1), np.ones(3, np.int64), lab,
                 lambda ids: (["tron"] * ids.size, [f"T{i}" for i in ids.tolist()]))  # fmt: skip
    for ids in (np.array([0]), np.array([0, 1]), np.array([0, 1, 2])):
        amounts = np.full(ids.size, 1e-9)
        got = address_frame(kit, ids, amounts, share_of=10.0)
        want = polars_rows(kit, ids, amounts, share_of=10.0)
        assert got.equals(want) and got["share"].to_list() == want["share"].to_list()
