"""The shared option bundles: each family of options reaches a command as one typed value."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from click.testing import CliRunner

from tracer.cli.app import TracerGroup
from tracer.cli.options import (
    DataChoice,
    OutputChoice,
    ReadChoice,
    data_options,
    output_options,
    selection_options,
)
from tracer.graph.spec import DEFAULT_THROUGH, Selection

seen: dict[str, object] = {}


@click.group(cls=TracerGroup)
def group() -> None:
    """A group like tracer's, so errors map the same way."""


@group.command()
@selection_options
@output_options
@data_options
def probe(selection: Selection, out: OutputChoice, data: DataChoice) -> None:
    seen.update(selection=selection, out=out, data=data)


def invoke(*args: str) -> click.testing.Result:
    seen.clear()
    return CliRunner().invoke(group, ["probe", *args])


def test_defaults_are_the_library_defaults() -> None:
    assert invoke().exit_code == 0
    assert seen["selection"] == Selection()
    assert seen["out"] == OutputChoice()
    assert seen["data"] == DataChoice()
    assert Selection().through == DEFAULT_THROUGH


def test_each_option_lands_in_its_field(tmp_path: Path) -> None:
    labels = tmp_path / "l.csv"
    labels.write_text("address\n")
    res = invoke("--asset", "USDT", "--since", "2024-03-01", "--until", "2024-03-02",
                 "--through", "none", "--max-hops", "3", "--min-amount", "0.5", "--stream",
                 "-o", "x.json", "--labels", str(labels), "--label-category", "scam",
                 "--chain", "bsc", "-q", "-w", str(tmp_path))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert seen["selection"] == Selection(
        assets="USDT",
        since=datetime(2024, 3, 1, tzinfo=UTC),
        until=datetime(2024, 3, 2, 23, 59, 59, 999_999, tzinfo=UTC),  # a bare date: its end
        through=(), max_hops=3, min_amount=0.5, stream=True,
    )  # fmt: skip
    assert seen["out"] == OutputChoice(None, "x.json") and seen["out"].resolved() == "json"
    assert seen["data"] == DataChoice(
        workspace=tmp_path, label_files=(str(labels),), label_category="scam",
        read=ReadChoice(chain="bsc", quiet=True),
    )  # fmt: skip


def test_a_bad_time_is_a_usage_error_not_a_traceback() -> None:
    res = invoke("--since", "yesterday-ish")
    assert res.exit_code == 2 and "--since: cannot read 'yesterday-ish'" in res.output
    assert seen == {}
