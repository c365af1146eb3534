"""The examples in ``tracer follow --help`` and ``tracer source --help`` run as printed (the
``source`` example once named an address that is not valid base58check)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracer.cli import cli, load_commands

load_commands()  # every command registered (they are imported when named)

ROOT = Path(__file__).resolve().parents[2]


def _examples(command: str) -> list[list[str]]:
    doc = cli.commands[command].help or ""
    lines = doc.split("Example:", 1)[1].splitlines()
    text = " ".join(line.strip().rstrip("\\") for line in lines if line.strip())
    return [shlex.split(cmd) for cmd in text.split("tracer ")[1:] if cmd.strip()]


@pytest.mark.parametrize("command", ["follow", "source"])
def test_help_example_runs(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    examples = _examples(command)
    assert examples, f"tracer {command} --help shows no example"
    for argv in examples:
        result = CliRunner().invoke(cli, [*argv, "--format", "json", "--quiet"])
        assert result.exit_code == 0, (argv, result.output)
        assert '"reached"' in result.output
