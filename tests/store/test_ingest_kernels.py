"""The ingest's index encoders: GIL released, numba loaded without its scipy probe, and the
branch-free hash encoding byte for byte the table look-up it replaced."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels import fixed_width as fw
from tracer.kernels.fixed_width import _hashes, _values

ROOT = Path(__file__).resolve().parents[2]


def test_index_encoders_release_the_gil() -> None:
    # they run on the partition-writer threads beside the main thread's numbering
    assert _hashes.targetoptions.get("nogil") is True
    assert _values.targetoptions.get("nogil") is True


def test_importing_the_append_path_does_not_import_scipy() -> None:
    code = "import sys, tracer.store.append; print('scipy' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert out == "False"


def _lut_reference(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The table look-up encoding, in plain Python, incl. the bytes of rows it marks raw."""
    out = np.zeros((len(texts), 32), dtype=np.uint8)
    kind = np.zeros(len(texts), dtype=np.uint8)
    for i, t in enumerate(texts):
        b = t.encode()
        if len(b) == 66 and b[:2] == b"0x":
            body, flag = b[2:], fw.HASH_0X
        elif len(b) == 64:
            body, flag = b, 0
        else:
            kind[i] = fw.HASH_RAW
            continue
        bad = False
        for j in range(32):
            hi, lo = int(fw.NIBBLE[body[2 * j]]), int(fw.NIBBLE[body[2 * j + 1]])
            bad |= hi < 0 or lo < 0
            out[i, j] = ((hi << 4) | lo) & 0xFF
        kind[i] = fw.HASH_RAW if bad else flag
    return out, kind


_DIGIT = st.sampled_from([*"0123456789abcdef", *"0123456789abcdef", "A", "F", "g", "x", "/", ":",
                          "`", "G", "é", "\x00", "\xff"])  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["0x", "", "0X", "x"]),
                          st.text(_DIGIT, min_size=62, max_size=66)), max_size=12))  # fmt: skip
def test_hash_encoding_equals_the_table_look_up_byte_for_byte(rows: list[tuple[str, str]]) -> None:
    texts = [p + b for p, b in rows]
    arr = pa.array(texts, pa.large_string())
    _, off, data = arr.buffers()
    offsets = np.frombuffer(off, dtype=np.int64)[: len(texts) + 1]
    raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    out = np.zeros((len(texts), 32), dtype=np.uint8)
    kind = np.zeros(len(texts), dtype=np.uint8)
    fw.hashes_into(offsets, raw, out, kind)
    want_out, want_kind = _lut_reference(texts)
    assert np.array_equal(kind, want_kind)
    assert np.array_equal(out, want_out)  # raw rows too: the index files keep their bytes
