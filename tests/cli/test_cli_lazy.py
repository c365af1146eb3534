"""Commands are imported when named: ``tracer.cli.app.COMMAND_MODULES`` names, for every
command, the module that registers it, and a command runs or shows its help from the table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tracer.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_the_table_is_what_the_modules_register() -> None:
    app.load_commands()
    registered = {name: cmd.callback.__module__ if cmd.callback else None
                  for name, cmd in app.cli.commands.items()}  # fmt: skip
    assert registered == app.COMMAND_MODULES


def test_a_fresh_interpreter_loads_only_the_named_commands_module() -> None:
    code = ("import sys; from tracer.cli import cli; cmd = cli.get_command(None, 'source');"
            " print(cmd.name, sorted(m for m in sys.modules if m.startswith('tracer.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""}, check=True)  # fmt: skip
    assert out.stdout.split(" ", 1) == ["source", "['tracer.cli.app', 'tracer.cli.follow', "
                                        "'tracer.cli.graph_options', 'tracer.cli.options']\n"]


def test_help_lists_every_command_and_unknown_names_still_fail() -> None:
    runner = CliRunner()
    shown = runner.invoke(app.cli, ["--help"])
    assert shown.exit_code == 0
    for name in app.COMMAND_MODULES:
        assert f"  {name} " in shown.output
    wrong = runner.invoke(app.cli, ["no-such-command"])
    assert wrong.exit_code == 2 and "No such command" in wrong.output


def test_command_modules_are_attributes_of_the_package() -> None:
    import tracer.cli

    assert tracer.cli.reports.__name__ == "tracer.cli.reports"
    assert "exposure" in app.cli.commands
