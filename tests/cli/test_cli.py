"""The command line: README commands, help with examples, clean errors, file outputs."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tests.conftest import ROOT, SAMPLE_DATA, SAMPLE_LABELS
from tracer.cli import cli, load_commands


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    return [line for b in blocks[:2] for line in b.splitlines() if line.strip()]


def test_readme_first_command_follows_the_sample_case() -> None:
    first, second = readme_commands()[:2]
    assert first.startswith("pip install -e . && tracer follow ")
    assert second == "pip install -e '.[test]' && python -m pytest"
    assert (ROOT / ".ci" / "run").read_text().count(second) == 1
    args = shlex.split(first.split("&&", 1)[1])[1:]
    result = CliRunner().invoke(cli, [*args, "--format", "table"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Services reached" in result.output
    assert "Guarantee marketplace merchant 2" in result.output
    assert "Accounting: reached" in result.output


def commands(group=cli, prefix=()):  # type: ignore[no-untyped-def]
    load_commands()  # every command registered (they are imported when named)
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


@pytest.mark.parametrize(("path", "cmd"), list(commands()), ids=lambda x: str(x))
def test_every_command_has_help_with_an_example(path: tuple[str, ...], cmd) -> None:  # type: ignore[no-untyped-def]
    result = run(*path, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output and "tracer " in result.output
    assert cmd.help and len(cmd.help.splitlines()[0]) > 10


def test_workspace_cycle(tmp_path: Path, sample_addresses: dict[str, str]) -> None:
    ws = str(tmp_path / "ws")
    r = run("ingest", "-w", ws, "--json", *map(str, SAMPLE_DATA))
    summary = json.loads(r.output)
    assert summary["read"] == 28 and summary["loaded"] == 24 and summary["skipped"] == 1
    assert run("labels", "add", "-w", ws, str(SAMPLE_LABELS)).exit_code == 0
    info = json.loads(run("info", "-w", ws, "--format", "json").output)
    assert info["transfers"] == 24 and info["labels"] == 9
    out = tmp_path / "r.json"
    led = tmp_path / "ledger.parquet"
    r = run("follow", sample_addresses["scam"], "-w", ws, "-o", str(out), "--ledger", str(led))
    assert r.exit_code == 0
    d = json.loads(out.read_text())
    assert d["traced_total"] == pytest.approx(115_000)
    assert pl.read_parquet(led).height > 0
    exp = tmp_path / "t.parquet"
    assert run("export", "-w", ws, "-o", str(exp)).exit_code == 0
    assert pl.read_parquet(exp).height == 24
    for fmt in ("csv", "jsonl", "parquet"):
        target = tmp_path / f"r.{fmt}"
        assert run("follow", sample_addresses["scam"], "-w", ws, "-o", str(target)).exit_code == 0
        assert target.stat().st_size > 0


def test_follow_json_without_workspace(sample_addresses: dict[str, str]) -> None:
    args = ["follow", sample_addresses["scam"], "--model", "lifo", "--format", "json",
            "--labels", str(SAMPLE_LABELS)]  # fmt: skip
    for f in SAMPLE_DATA:
        args += ["--data", str(f)]
    d = json.loads(run(*args).output)
    assert d["model"] == "lifo" and d["accounting"]["closes"]


def test_bad_input_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(f"tx_hash,src,dst,value,ts\n0x{'a' * 64},0x12,0x{'2' * 40},5,1700000000\n")
    r = CliRunner().invoke(cli, ["ingest", "-w", str(tmp_path / "ws"), str(f)])
    assert r.exit_code == 2
    assert "row 1, field 'src'" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "ws" / "manifest.json").exists()
    rejects = tmp_path / "rej.parquet"
    r = CliRunner().invoke(
        cli, ["ingest", "-w", str(tmp_path / "ws"), "--skip-bad", "--rejects", str(rejects), str(f)]
    )
    assert r.exit_code == 0
    rej = pl.read_parquet(rejects)
    assert rej["field"].to_list() == ["src"] and rej["row"].to_list() == [1]


def test_missing_workspace_and_unknown_format_messages(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["info", "-w", str(tmp_path / "nope")])
    assert r.exit_code == 3 and "no workspace" in r.output
    f = tmp_path / "x.csv"
    f.write_text("a,b\n1,2\n")
    r = CliRunner().invoke(cli, ["ingest", "-w", str(tmp_path / "ws"), str(f)])
    assert r.exit_code == 2 and "unknown export format" in r.output


def test_version() -> None:
    assert "tracer" in run("--version").output
