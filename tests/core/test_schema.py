"""The canonical schemas: the Polars ones (written out, so no pyarrow import) are the Arrow
ones as Polars reads them, and the Arrow ones are built only when first read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa

from tracer.core import schema

ROOT = Path(__file__).resolve().parents[2]


def test_polars_schemas_are_the_arrow_schemas_as_polars_reads_them() -> None:
    for arrow, polars in [(schema.TRANSFER_SCHEMA, schema.TRANSFER_PL),
                          (schema.LABEL_SCHEMA, schema.LABEL_PL),
                          (schema.REJECT_SCHEMA, schema.REJECT_PL)]:  # fmt: skip
        assert schema.polars_schema(arrow) == polars
        assert list(polars) == arrow.names


def test_arrow_schemas_are_the_written_contract() -> None:
    s = schema.TRANSFER_SCHEMA
    assert s.metadata == {b"tracer.core.schema": b"transfers/1"}
    assert s.field("ts").type == pa.timestamp("us", tz="UTC") == schema.TS_TYPE
    assert not s.field("src").nullable and s.field("amount").nullable
    assert schema.LABEL_SCHEMA.metadata == {b"tracer.core.schema": b"labels/1"}
    assert schema.REJECT_SCHEMA.metadata == {b"tracer.core.schema": b"rejects/1"}
    assert schema.TRANSFER_SCHEMA is s  # built once


def test_to_arrow_transfers_casts_to_the_arrow_schema() -> None:
    frame = schema.empty_transfers()
    assert schema.to_arrow_transfers(frame).schema == schema.TRANSFER_SCHEMA
    assert isinstance(schema.to_arrow_transfers(frame), pa.Table)


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    try:
        schema.NO_SUCH_SCHEMA  # noqa: B018
    except AttributeError as exc:
        assert "NO_SUCH_SCHEMA" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def test_importing_the_schemas_imports_no_pyarrow() -> None:
    code = ("import sys; from tracer.core.schema import TRANSFER_PL, TRANSFER_KEY, empty_transfers;"
            " empty_transfers(); print('pyarrow' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""}, check=True)  # fmt: skip
    assert out.stdout.strip() == "False", out.stderr
