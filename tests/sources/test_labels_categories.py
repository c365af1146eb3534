"""Labels keep their own categories (issue 13, point 2).

``--category`` / ``--label-category`` fill in files that carry no category (plain lists, CSVs
without a category column such as Etherscan's); a TagPack or a CSV with a category column is
never overridden, also when both kinds are given in one command.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES, SAMPLE_DATA, SAMPLE_LABELS
from tracer.cli import cli
from tracer.core.errors import InputError, UsageError
from tracer.sources.labels import CategoryNeeded, read_labels
from tracer.store.workspace import Workspace

OFAC_TRX = FIXTURES / "ofac" / "sanctioned_addresses_TRX.txt"
TORNADO = FIXTURES / "tagpacks" / "tornado_cash.yaml"
ETHERSCAN = FIXTURES / "etherscan_labels" / "binance.csv"
PEEL_4 = "TX8mknPbLmF3pnobYpTMCHz26jYrkfUAMx"  # an unlabelled hop of the sample case


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_category_argument_never_overrides_a_file_s_own_categories() -> None:
    csv_load = read_labels(SAMPLE_LABELS, category="sanctioned")
    assert csv_load.own_categories
    assert Counter(csv_load.labels["category"].to_list()) == {
        "exchange": 5, "guarantee_marketplace": 2, "otc_desk": 1, "scam": 1,
    }  # fmt: skip
    pack = read_labels(TORNADO, category="exchange")
    assert pack.own_categories and set(pack.labels["category"].to_list()) == {"mixer"}
    listed = read_labels(OFAC_TRX, category="sanctioned")
    assert not listed.own_categories and set(listed.labels["category"].to_list()) == {"sanctioned"}
    named = read_labels(ETHERSCAN, category="Exchange")
    assert not named.own_categories and set(named.labels["category"].to_list()) == {"exchange"}


def test_labels_add_mixing_kinds_in_one_command(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    result = run("labels", "add", "-w", str(ws), str(SAMPLE_LABELS), str(TORNADO),
                 str(OFAC_TRX), str(ETHERSCAN), "--category", "sanctioned")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "keeps its own categories (--category sanctioned not applied)" in result.output
    labels = Workspace.open(ws).labels()
    per_source = {
        (src, cat)
        for src, cat in labels.select("source", "category").unique().iter_rows()
        if src in ("sample case (synthetic)", "sanctioned_addresses_TRX.txt", "binance.csv")
    }
    assert per_source == {
        ("sample case (synthetic)", "exchange"),
        ("sample case (synthetic)", "guarantee_marketplace"),
        ("sample case (synthetic)", "otc_desk"),
        ("sample case (synthetic)", "scam"),
        ("sanctioned_addresses_TRX.txt", "sanctioned"),
        ("binance.csv", "sanctioned"),
    }
    tornado = labels.filter(labels["name"] == "tornado.cash")
    assert tornado.height == read_labels(TORNADO).labels.unique().height  # 38 distinct of 39
    assert set(tornado["category"].to_list()) == {"mixer"}


def test_follow_with_mixed_label_files_keeps_csv_categories(tmp_path: Path) -> None:
    """One ``--label-category`` for a list, next to a CSV with its own categories: the list's
    address is reached as a mixer, the CSV's exchanges stay exchanges."""
    mixer_list = tmp_path / "mixer.txt"
    mixer_list.write_text(f"# a mixer's deposit wallet\n{PEEL_4}\n")
    args = ["follow", "TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx", "--format", "json"]
    for f in SAMPLE_DATA:
        args += ["--data", str(f)]
    args += ["--labels", str(SAMPLE_LABELS), "--labels", str(mixer_list),
             "--label-category", "mixer"]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    services = json.loads(result.stdout)["services"]
    by_name = {s["name"]: s["category"] for s in services}
    assert by_name["mixer"] == "mixer"  # the list, named after its file
    assert by_name["Exchange A (deposit)"] == "exchange"
    assert by_name["Guarantee marketplace merchant 1"] == "guarantee_marketplace"
    assert "keeps its own categories (--label-category mixer not applied)" in result.stderr


def test_etherscan_csv_without_category_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(CategoryNeeded, match=r"Etherscan label CSV .* --category exchange"):
        read_labels(ETHERSCAN)
    added = run("labels", "add", "-w", str(tmp_path / "ws"), str(ETHERSCAN))
    assert added.exit_code == 2
    assert "binance.csv: an Etherscan label CSV" in added.output
    assert "say which with --category (e.g. --category exchange)" in added.output
    args = ["follow", "TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx", "--data", str(SAMPLE_DATA[0]),
            "--labels", str(ETHERSCAN)]  # fmt: skip
    followed = run(*args)
    assert followed.exit_code == 2
    assert "say which with --label-category (e.g. --label-category exchange)" in followed.output
    assert "Traceback" not in followed.output


def test_plain_list_without_category_names_the_flag() -> None:
    with pytest.raises(UsageError, match=r"plain address list has no categories.*--category"):
        read_labels(OFAC_TRX)


def test_csv_category_column_with_an_empty_cell_is_an_error_not_filled(tmp_path: Path) -> None:
    f = tmp_path / "l.csv"
    f.write_text("address,name,category\nTR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,Tether,issuer\n"
                 "TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx,Scam,\n")  # fmt: skip
    with pytest.raises(InputError, match="row 2, field 'category': empty category"):
        read_labels(f, category="sanctioned")


def test_csv_without_category_column_takes_the_flag_and_normalises_it(tmp_path: Path) -> None:
    f = tmp_path / "names.csv"
    f.write_text("Address,Name\nTR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,Tether\n")
    with pytest.raises(CategoryNeeded, match="without a 'category' column"):
        read_labels(f)
    load = read_labels(f, category="Mixing Service")
    assert load.labels.select("name", "category").row(0) == ("Tether", "mixer")


def test_etherscan_label_json_takes_names_from_the_file_and_needs_a_category() -> None:
    """``accounts/<label>.json`` of brianleect/etherscan-labels: ``{address: name tag}``."""
    path = ETHERSCAN.with_suffix(".json")
    with pytest.raises(CategoryNeeded, match=r"Etherscan label JSON .* --category exchange"):
        read_labels(path)
    load = read_labels(path, category="exchange")
    as_csv = read_labels(ETHERSCAN, category="exchange")
    assert load.read == load.labels.height == 57
    assert load.labels.select("address", "name", "category").sort("address").rows() == (
        as_csv.labels.select("address", "name", "category").sort("address").rows()
    )
