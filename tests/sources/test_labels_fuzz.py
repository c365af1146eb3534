"""Fuzz: mutated real label fixtures never give a traceback (issue 12, point 2).

Every file of ``fixtures/`` that tracer reads as labels (the sample case's CSV, the GraphSense
TagPacks, the Etherscan label CSVs and JSON, the OFAC lists) is cut to a prefix and mutated
(byte flips, hostile tokens such as YAML anchors and aliases, quotes, NUL, Latin-1 and BOM
bytes, deleted and repeated spans, shuffled lines). Each result must either load with every
count adding up, or be refused with a :class:`~tracer.core.errors.TracerError` naming the file (exit
code 2 on the CLI) — never another exception. Bounded: 400 examples on prefixes of at most 4 KB
(about 2 s; set ``TRACER_FUZZ_EXAMPLES`` for a longer run: 20,000 examples passed in 59 s).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES
from tracer.core.errors import TracerError
from tracer.core.schema import LABEL_PL
from tracer.sources.labels import read_labels

SEEDS = sorted(
    [
        FIXTURES / "sample_case" / "labels.csv",
        *(FIXTURES / "tagpacks").glob("*.yaml"),
        *(FIXTURES / "etherscan_labels").glob("*.csv"),
        *(FIXTURES / "etherscan_labels").glob("*.json"),
        *(FIXTURES / "ofac").glob("*.txt"),
        *(FIXTURES / "ofac").glob("*.json"),
    ]
)
SEED_BYTES = {p: p.read_bytes()[:4096] for p in SEEDS}

TOKENS = [
    b"&a ", b"*a", b"<<: *a\n", b"&b [*a, *a, *a]\n", b"[", b"]", b"{", b"}", b'"', b"'",
    b",", b"\n", b"\r\n", b"\r", b"\x00", b"\xe9", b"\xff\xfe", b"\xef\xbb\xbf", b"\t", b"- ",
    b": ", b"? ", b"---\n", b"...\n", b"%YAML 1.1\n", b"!!binary ", b"!!python/object:os.system ",
    b"!!set ", b"~", b"null", b"\\u", b"\\udc80", b"0x", b"41", b"T", b"#", b"tags:", b"address:",
    b'"category"', b"category,chain", b",,,,", b"9" * 30, b"\xf0\x9f\x98", b"\xc3",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Path, bytes]:
    """A seed file and a mutation of a prefix of it."""
    seed = draw(st.sampled_from(SEEDS))
    data = bytearray(SEED_BYTES[seed][: draw(st.integers(0, 4096))])
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["flip", "token", "delete", "repeat", "swap_lines"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            i = min(at, len(data) - 1)
            data[i] ^= draw(st.integers(1, 255))
        elif op == "token":
            data[at:at] = draw(st.sampled_from(TOKENS)) * draw(st.integers(1, 3))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "repeat":
            span = bytes(data[at : at + draw(st.integers(1, 64))])
            data[at:at] = span * draw(st.integers(1, 4))
        elif op == "swap_lines":
            lines = bytes(data).split(b"\n")
            if len(lines) > 2:
                i = draw(st.integers(0, len(lines) - 1))
                j = draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
                data = bytearray(b"\n".join(lines))
    return seed, bytes(data)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("label-fuzz")


@settings(
    max_examples=int(os.environ.get("TRACER_FUZZ_EXAMPLES", "400")),  # CI: about 2 s
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=mutated(), category=st.sampled_from([None, "sanctioned"]))
def test_mutated_label_files_load_or_give_a_clean_error(
    workdir: Path, case: tuple[Path, bytes], category: str | None
) -> None:
    seed, data = case
    path = workdir / f"mutant{seed.suffix}"
    path.write_bytes(data)
    try:
        load = read_labels(path, category=category)
    except TracerError as exc:
        assert str(exc).startswith(str(path)), str(exc)  # the message names the file
        return
    assert load.labels.schema == LABEL_PL
    assert load.labels["address"].null_count() == 0
    assert load.labels["category"].null_count() == 0
    assert load.labels.height + sum(load.skipped.values()) == load.read  # every row accounted
