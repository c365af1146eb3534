"""The canonical Parquet reader reads chain/asset/token as dictionaries and lets a one-value
column join the frame as a constant; this gives exactly what decoding every row gave."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracer.core.errors import InputError
from tracer.sources import canonical, read_file

USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
DAI = "0x6b175474e89094c44da98b954eedeac495271d0f"


def _frame(n: int, chain: list, asset: list, token: list) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "chain": chain,
            "asset": asset,
            "token": token,
            "tx_hash": [f"0x{i + 1:064x}" for i in range(n)],
            "seq": list(range(n)),
            "block": [17_000_000 + i for i in range(n)],
            "ts": pl.Series([1_683_000_000_000_000 + i for i in range(n)]).cast(
                pl.Datetime("us", "UTC")),
            "src": [f"0x{i + 1:040x}" for i in range(n)],
            "dst": [f"0x{i + 100:040x}" for i in range(n)],
            "value": [str(10**(i % 30)) for i in range(n)],
            "decimals": pl.Series([6] * n, dtype=pl.Int16),
            "amount": [1.0] * n,  # not a canonical column: never read
        },
        schema_overrides={"chain": pl.String, "asset": pl.String, "token": pl.String},
    )


def _both(f: Path, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """(new reader, the old way: every text column decoded row by row), each as what a user
    sees: transfers, rejects (file, row, field, reason) and skipped counts."""
    def seen() -> tuple:
        try:
            got = read_file(f, skip_bad=True)
        except InputError as exc:
            return ("error", str(exc))
        return (got.transfers, got.rejects, got.skipped)
    new = seen()
    with monkeypatch.context() as m:
        m.setattr(canonical, "_FEW", ())
        old = seen()
    return new, old


def _same(new: tuple, old: tuple) -> None:
    assert len(new) == len(old)
    for a, b in zip(new, old, strict=True):
        if isinstance(a, pl.DataFrame):
            assert a.equals(b), (a, b)
        else:
            assert a == b


CHAINS = st.sampled_from(["ethereum", "Ethereum", "bsc", "", " \t", None, "tron"])
ASSETS = st.sampled_from(["USDT", "usdt", "DAI", "", None])
TOKENS = st.sampled_from([USDT, USDT.upper(), DAI, "", None, "0x12"])


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_dictionary_read_equals_decoding_every_row(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = data.draw(st.integers(1, 9))
    cols = {}
    for name, values in (("chain", CHAINS), ("asset", ASSETS), ("token", TOKENS)):
        if data.draw(st.booleans()):  # one value on every row (the usual export)
            cols[name] = [data.draw(values)] * n
        else:
            cols[name] = data.draw(st.lists(values, min_size=n, max_size=n))
    f = tmp_path_factory.mktemp("dict") / "c.parquet"
    # small row groups: several chunks, each with its own dictionary
    pq.write_table(_frame(n, **cols).to_arrow(), f, row_group_size=data.draw(st.integers(1, 4)))
    _same(*_both(f, monkeypatch))


def test_one_value_per_chunk_but_two_over_the_file_is_not_a_constant(tmp_path: Path) -> None:
    """Each row group's dictionary holds one token, but not the same one: decoded, not a
    constant (and a dictionary entry that no row uses never makes a constant either)."""
    f = tmp_path / "c.parquet"
    pq.write_table(_frame(4, ["ethereum"] * 4, ["USDT"] * 4, [USDT, USDT, DAI, DAI]).to_arrow(),
                   f, row_group_size=2)  # fmt: skip
    table = canonical._read_table(str(f))
    assert pa.types.is_dictionary(table["token"].type)
    assert canonical._constants(table) == {"chain": "ethereum", "asset": "USDT"}
    assert read_file(f).transfers["token"].to_list() == [USDT, USDT, DAI, DAI]
    unused = pa.DictionaryArray.from_arrays(pa.array([0, 0], pa.int32()), pa.array([USDT, DAI]))
    assert canonical._constants(pa.table({"token": unused})) == {}


def test_a_constant_column_still_takes_the_checks(tmp_path: Path) -> None:
    """A constant that is not canonical (upper-case token) is normalised; a blank constant
    chain is still rejected row by row, naming the field."""
    f = tmp_path / "c.parquet"
    _frame(3, ["ethereum"] * 3, ["USDT"] * 3, [USDT.upper()] * 3).write_parquet(f)
    assert read_file(f).transfers["token"].to_list() == [USDT] * 3
    _frame(3, [""] * 3, ["USDT"] * 3, [USDT] * 3).write_parquet(f)
    got = read_file(f, skip_bad=True)
    assert got.transfers.height == 0
    assert got.rejects["field"].to_list() == ["chain"] * 3
    assert got.rejects["row"].to_list() == [1, 2, 3]


def test_only_canonical_columns_are_read(tmp_path: Path) -> None:
    """A column outside the canonical set is never read, even one that would not decode."""
    f = tmp_path / "c.parquet"
    _frame(2, ["ethereum"] * 2, ["USDT"] * 2, [USDT] * 2).write_parquet(f)
    assert "amount" in pq.read_schema(f).names
    assert "amount" not in canonical._read_table(str(f)).column_names


def test_warm_up_loads_the_kernels_for_the_types_the_proof_passes(tmp_path: Path) -> None:
    """In a fresh interpreter: after the warm-up, proving a Parquet table and an in-memory one
    compiles nothing new (the warm-up loaded every signature the proof dispatches)."""
    import os
    import subprocess
    import sys

    f = tmp_path / "c.parquet"
    _frame(3, ["ethereum"] * 3, ["USDT"] * 3, [USDT] * 3).write_parquet(f)
    code = f"""
import pyarrow as pa, pyarrow.parquet as pq
from tracer.sources.proofs import proven_canonical, warm_text_kernels
from tracer.kernels.text import all_hex, all_plain_digits
warm_text_kernels().result()
before = (set(all_hex.signatures), set(all_plain_digits.signatures))
assert before[0] and before[1]
assert proven_canonical(pq.read_table({str(f)!r})) == {{"tx_hash", "src", "dst", "token", "value"}}
mem = pa.table({{"src": ["0x" + "a" * 40], "value": ["1"]}})
assert proven_canonical(mem) == {{"src", "value"}}
assert (set(all_hex.signatures), set(all_plain_digits.signatures)) == before
"""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)


def test_column_by_column_validation_refuses_what_full_validation_refuses() -> None:
    """Invalid UTF-8, offsets that run backwards and dictionary indices out of range raise in
    ``_validate`` exactly where ``Table.validate(full=True)`` raises; a valid table passes."""
    good = pa.array(["ab", "c"])
    bad_utf8 = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(
        pa.array([0, 2, 3], pa.int32()).buffers()[1]), pa.py_buffer(b"a\xff\xfe")])
    bad_offsets = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(
        pa.array([0, 3, 2], pa.int32()).buffers()[1]), pa.py_buffer(b"abc")])
    bad_index = pa.DictionaryArray.from_arrays(pa.array([0, 5], pa.int32()), pa.array(["x"]),
                                               safe=False)  # fmt: skip
    for col in (good, bad_utf8, bad_offsets, bad_index):
        table = pa.table({"ok": good, "col": col})
        try:
            table.validate(full=True)
            refused = False
        except pa.ArrowInvalid:
            refused = True
        if refused:
            with pytest.raises(pa.ArrowInvalid):
                canonical._validate(table)
        else:
            canonical._validate(table)
        assert refused == (col is not good)
