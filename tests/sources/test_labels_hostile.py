"""Hostile and malformed label files (issue 12, points 2 and 8): bounded, and refused with a
``file, row, field: reason`` error (exit code 2), never a traceback, a hang or a crash."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from tracer.cli import cli
from tracer.core import bounded_yaml
from tracer.core.errors import InputError
from tracer.sources import labels
from tracer.sources.labels import read_labels

USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
TETHER_TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"

#: The classic shape: nine lists of nine aliases of the previous one (9^9 values, 500 bytes).
ALIAS_BOMB = "\n".join(
    ["title: bomb", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    + ["label: *a8", "tags:", f"- address: '{USDT}'", ""]
)


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def _limit_memory() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))


def _cli_in_subprocess(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a child with 3 GB of address space and a timeout: a regression must fail the
    test, not exhaust the machine or crash the test run (libyaml segfaults on deep nesting)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tracer.cli", *args], env=env, capture_output=True, text=True,
        timeout=120, preexec_fn=_limit_memory,
    )  # fmt: skip


# -- YAML: aliases, nesting, types ----------------------------------------------------------------
def test_alias_bomb_is_refused_with_the_file_name(tmp_path: Path) -> None:
    bomb = _write(tmp_path, "bomb.yaml", ALIAS_BOMB)
    assert len(ALIAS_BOMB.encode()) < 600
    with pytest.raises(InputError, match=r"bomb\.yaml: refused YAML: line \d+: aliases expand"):
        read_labels(bomb)
    done = _cli_in_subprocess("labels", "add", "-w", str(tmp_path / "ws"), str(bomb))
    assert done.returncode == 2, done.stderr
    assert "bomb.yaml: refused YAML" in done.stderr and "alias bomb" in done.stderr
    assert "Traceback" not in done.stderr


def test_deep_nesting_is_refused_not_a_segfault(tmp_path: Path) -> None:
    deep = _write(tmp_path, "deep.yaml", "tags: " + "[" * 100_000)
    done = _cli_in_subprocess("labels", "add", "-w", str(tmp_path / "ws"), str(deep))
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "deep.yaml: refused YAML: line 1: nested deeper than 32 levels" in done.stderr


def test_benign_aliases_within_the_budget_still_load(tmp_path: Path) -> None:
    pack = _write(tmp_path, "shared.yaml", f"""title: shared defaults
defaults: &d {{category: exchange, label: Example Exchange}}
tags:
- {{<<: *d, address: '{USDT}'}}
- {{<<: *d, address: '{TETHER_TRON}', category: mixing_service}}
""")  # fmt: skip
    load = read_labels(pack)
    assert load.labels.select("address", "name", "category").rows() == [
        (USDT.lower(), "Example Exchange", "exchange"),
        (TETHER_TRON, "Example Exchange", "mixer"),
    ]


def test_budget_counts_expanded_values_not_alias_events() -> None:
    ok = "a: &a [" + ",".join(["x"] * 100) + "]\nb: [" + ",".join(["*a"] * 99) + "]\n"
    bounded_yaml.check_structure(ok)  # 99 aliases x 101 values = 9,999 <= 10,000
    with pytest.raises(bounded_yaml.YamlRejected, match="more than 10,000 values"):
        bounded_yaml.check_structure(ok.replace("]\n", ",*a]\n").replace(",*a]\n", "]\n", 1))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a: &a [1, *a]", "recursive alias"),
        ("a: *nowhere", "undefined anchor"),
    ],
)
def test_recursive_and_undefined_aliases_are_refused(text: str, reason: str) -> None:
    with pytest.raises(bounded_yaml.YamlRejected, match=reason):
        bounded_yaml.load(text)


def test_plain_scalars_stay_text(tmp_path: Path) -> None:
    """YAML 1.1 reads an unquoted 0x… address as an integer and ``yes`` as true: the label would
    silently vanish ("unsupported chain") or be named "True"."""
    pack = _write(
        tmp_path,
        "plain.yaml",
        f"title: t\ncategory: exchange\ntags:\n- address: {USDT}\n  label: yes\n",
    )
    load = read_labels(pack)
    assert load.labels.select("address", "name").rows() == [(USDT.lower(), "yes")]


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("tags: [1, 2]", r"t\.yaml, row 1: each entry of 'tags:' must be a mapping"),
        ("tags:\n- address: [1, 2]", r"row 1, field 'address': expected text, got a list"),
        (f"tags:\n- address: '{USDT}'\n  label: {{a: 1}}", r"row 1, field 'label': .* mapping"),
        (f"label: [x]\ntags:\n- address: '{USDT}'", r"t\.yaml, field 'label': expected text"),
        ("tags:\n- address: !!binary aGVsbG8=", r"field 'address': .* binary data"),
        ("tags:\n- label: no address", r"row 1, field 'address': each tag needs"),
        ("tags:\n- address: ~", r"row 1, field 'address': each tag needs"),
        ("tags: {}", r"field 'tags': a TagPack is a YAML mapping with a 'tags:' list"),
        ("- just a list", r"field 'tags': a TagPack is a YAML mapping"),
        ("!!python/object/apply:os.system ['true']", r"t\.yaml: invalid YAML: could not"),
        ("tags: []\n---\ntags: []", r"t\.yaml: invalid YAML: expected a single document"),
        ("tags: [\n", r"t\.yaml: invalid YAML"),
        (f'tags:\n- address: "{USDT}"\n  label: "\\udc80"', r"invalid YAML: .*invalid Unicode"),
        (f'tags:\n- address: "{USDT}"\n  label: "a\\x00b"', r"field 'name': control char"),
    ],
)
def test_tagpack_wrong_types_name_row_and_field(tmp_path: Path, content: str, where: str) -> None:
    with pytest.raises(InputError, match=where):
        read_labels(_write(tmp_path, "t.yaml", content))


def test_tagpack_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(labels, "MAX_TAGPACK_BYTES", 1000)
    big = _write(tmp_path, "big.yaml", "tags:\n" + f"- address: '{USDT}'\n" * 40)
    with pytest.raises(InputError, match=r"big\.yaml: .* a label file may hold; split it"):
        read_labels(big)


def test_non_utf8_tagpack_names_the_line(tmp_path: Path) -> None:
    pack = _write(tmp_path, "l1.yaml", f"tags:\n- address: '{USDT}'\n  label: Caf\xe9\n".encode(
        "latin-1"))  # fmt: skip
    with pytest.raises(InputError, match=r"l1\.yaml: line 3: byte 0xE9 is not UTF-8 text"):
        read_labels(pack)


# -- CSV -----------------------------------------------------------------------------------------
HEADER = "address,name,category\n"


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (HEADER + f"{TETHER_TRON},Tether,issuer,extra\n",
         r"row 1: line 2: 4 fields, but the header has 3; a ragged row is never realigned"),
        (HEADER + f"{TETHER_TRON},Tether,issuer\n{USDT},Tether\n",
         r"row 2: line 3: 2 fields, but the header has 3"),
        (f"{HEADER}{TETHER_TRON},Caf\xe9,exchange\n".encode("latin-1"),
         r"row 1, field 'name': line 2: not UTF-8 text"),
        (f"addr\xe9ss,name,category\n{TETHER_TRON},x,y\n".encode("latin-1"),
         r"l\.csv: line 1: not UTF-8 text"),
        ("", r"l\.csv: empty file: a label CSV needs a header line"),
        ("\n\n  \n", r"l\.csv: empty file"),
        ("address,category,Category\n", r"field 'Category': the column appears twice"),
        ("name,category\nx,y\n", r"l\.csv: label CSV needs an 'address' column$"),
        (f"{TETHER_TRON}\n{USDT}\n", r"needs an 'address' column \(the first line is an address"),
        (HEADER + f'{TETHER_TRON},"Tether"x,issuer\n', r"row 1: line 2: malformed CSV"),
        (HEADER + f'{TETHER_TRON},"Tether,issuer\n', r"line 2: malformed CSV: unexpected end"),
        (HEADER + ",Tether,issuer\n", r"row 1, field 'address': empty address"),
        (HEADER + "0x1234,Short,exchange\n", r"row 1, field 'address': invalid EVM address"),
        ("address,name,category,chain\n" + f"{TETHER_TRON},T,exchange,ethereum\n",
         r"row 1, field 'address': invalid: a Tron address under chain 'ethereum'"),
        (HEADER + f"{TETHER_TRON},Tether,ex\x07change\n", r"field 'category': control char"),
        (HEADER + f"{TETHER_TRON},Tether,{'x' * 200_000}\n", r"line 2: malformed CSV: field"),
    ],
)  # fmt: skip
def test_malformed_label_csv_names_row_and_field(
    tmp_path: Path, content: str | bytes, where: str
) -> None:
    with pytest.raises(InputError, match=where):
        read_labels(_write(tmp_path, "l.csv", content))


def test_csv_trailing_empty_fields_bom_and_blank_lines_are_read(tmp_path: Path) -> None:
    f = _write(tmp_path, "l.csv", f"\ufeffAddress,Name,Category\n\n{TETHER_TRON},Tether,Issuer,,\n")
    load = read_labels(f)
    assert load.read == 1
    assert load.labels.select("address", "name", "category").rows() == [
        (TETHER_TRON, "Tether", "issuer")
    ]


def test_header_only_csv_loads_nothing(tmp_path: Path) -> None:
    load = read_labels(_write(tmp_path, "l.csv", HEADER))
    assert load.read == 0 and load.labels.height == 0


def test_tron_hex_under_chain_tron_is_converted_not_labelled_evm(tmp_path: Path) -> None:
    hex_form = "0xa614f803b6fd780986a42c78ec9c7f77e6ded13c"  # TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t
    f = _write(tmp_path, "l.csv", f"address,name,category,chain\n{hex_form},Tether,issuer,tron\n")
    assert read_labels(f).labels.select("chain", "address").rows() == [("tron", TETHER_TRON)]


# -- plain lists ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("l.txt", f"{TETHER_TRON}\nhello world\n", r"l\.txt, row 2: not an address: 'hello world'"),
        ("l.txt", f"{TETHER_TRON},Tether\n", r"row 1: not an address: .* \(a CSV\? save it as"),
        ("l.txt", f"{TETHER_TRON}\n0x12345\n", r"row 2: not an address"),
        ("l.txt", f"0x{'g' * 40}\n", r"row 1, field 'address': invalid EVM address"),
        ("l.txt", f"{TETHER_TRON[:-1]}u\n", r"row 1, field 'address': invalid Tron address"),
        ("l.txt", f"{TETHER_TRON}\n\xe9\n".encode("latin-1"), r"l\.txt: line 2: byte 0xE9"),
        ("l.txt", "\x00\x01\x02" * 30, r"row 1: not an address"),
        ("l.json", '{"a": 1}', r"l\.json, row 1, field 'a': expected \{address: name\}"),
        ("l.json", "5", r"l\.json: a JSON label list is an array of address strings or an"),
        ("l.json", f'{{"0x{"g" * 40}": "Bad"}}', r"row 1, field 'address': invalid EVM address"),
        ("l.json", f'["{TETHER_TRON}", 5]', r"l\.json, row 2: expected an address string"),
        ("l.json", f'["{TETHER_TRON}",', r"l\.json: line 1: invalid JSON"),
        ("l.json", "[" * 100_000, r"l\.json: invalid JSON: nested too deeply"),
        ("l.json", '["\\ud800"]', r"l\.json, row 1: not an address"),
    ],
)  # fmt: skip
def test_malformed_lists_name_the_line(
    tmp_path: Path, name: str, content: str | bytes, where: str
) -> None:
    with pytest.raises(InputError, match=where):
        read_labels(_write(tmp_path, name, content), category="sanctioned")


def test_list_comments_and_other_chains(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "l.txt",
        f"# OFAC\n{TETHER_TRON}  # Tether's contract\n"
        "bc1qm34lsc65zpw79lxes69zkqmk6ee3ewf0j77s3h\nbitcoincash:qr5a7v\u00e9\n",
    )
    with pytest.raises(InputError, match="row 4: not an address"):
        read_labels(f, category="sanctioned")
    f.write_text(f"# OFAC\n{TETHER_TRON}  # Tether's contract\n"
                 "bc1qm34lsc65zpw79lxes69zkqmk6ee3ewf0j77s3h\n")  # fmt: skip
    load = read_labels(f, category="sanctioned")
    assert load.read == 2 and load.labels["address"].to_list() == [TETHER_TRON]
    assert load.skipped == {"unsupported chain (not an EVM or Tron address)": 1}


# -- through the CLI: exit code 2, one line naming the file -------------------------------------
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("ragged.csv", HEADER + f"{TETHER_TRON},Tether,issuer,extra\n"),
        ("latin1.csv", f"{HEADER}{TETHER_TRON},Caf\xe9,exchange\n".encode("latin-1")),
        ("empty.csv", ""),
        ("types.yaml", "tags:\n- address: [1]\n"),
        ("bomb.yaml", ALIAS_BOMB),
        ("garbage.txt", "not an address at all\n"),
    ],
)
def test_cli_gives_exit_2_and_no_traceback(tmp_path: Path, name: str, content: str | bytes) -> None:
    f = _write(tmp_path, name, content)
    for args in (
        ["labels", "add", "-w", str(tmp_path / "ws"), str(f), "--category", "x"],
        [
            "follow",
            TETHER_TRON,
            "--data",
            str(ROOT / "fixtures" / "sample_case" / "trongrid_scam_wallet.json"),
            "--labels",
            str(f),
            "--label-category",
            "x",
        ],
    ):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit)  # a clean exit, not an exception
        assert result.output.startswith(f"Error: {f}")
        assert "Traceback" not in result.output


def test_errors_use_the_file_s_own_column_names(tmp_path: Path) -> None:
    f = _write(tmp_path, "e.csv", ",Address,Name Tag,Balance\n0,0x12,Binance,1 ETH\n")
    with pytest.raises(InputError, match=r"e\.csv, row 1, field 'Address': invalid EVM"):
        read_labels(f, category="exchange")
    f.write_text(",Address,Name Tag,Balance\n0,TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,Bad\x01,1\n")
    with pytest.raises(InputError, match=r"row 1, field 'Name Tag': control character"):
        read_labels(f, category="exchange")


def test_read_text_for_other_list_files_names_the_line(tmp_path: Path) -> None:
    """The helper ``--sources`` and exposure lists can use instead of ``Path.read_text``."""
    f = _write(tmp_path, "s.txt", f"{TETHER_TRON}\n\n\xff\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"s\.txt: line 3: byte 0xFF is not UTF-8 text"):
        labels.read_text(f)
    f.write_bytes(f"\ufeff{TETHER_TRON}\n".encode())
    assert labels.read_text(f) == f"{TETHER_TRON}\n"
