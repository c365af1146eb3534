"""tracer.cli.app.quick_exit: the CLI ends without the interpreter's teardown, keeping what a
normal exit does that matters (atexit handlers, flushed output, the exit code), and only when
nothing else is left running."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tracer.cli.app import quick_exit

ROOT = Path(__file__).resolve().parents[2]

#: A process that ends through quick_exit: an atexit handler writes a file, buffered output is
#: pending, and an object's finaliser would print at the interpreter's teardown.
SCRIPT = """
import atexit, sys
from tracer.cli.app import quick_exit

class Teardown:
    def __del__(self):
        sys.stderr.write("teardown ran\\n")

keep = Teardown()
atexit.register(lambda: open(sys.argv[1], "w").write("atexit ran"))
sys.stdout.write("answer" * 2000)  # buffered: a pipe is not a terminal
quick_exit(int(sys.argv[2]))
sys.stderr.write("quick_exit returned\\n")
"""


def run(tmp_path: Path, code: int, **env: str) -> subprocess.CompletedProcess[str]:
    skip = ("TRACER_DEBUG", "PYTHONUNBUFFERED")
    full_env = {k: v for k, v in os.environ.items() if k not in skip}
    full_env.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "atexit"), str(code)],
                          capture_output=True, text=True, env=full_env, timeout=60)  # fmt: skip


@pytest.mark.parametrize("code", [0, 3])
def test_quick_exit_keeps_atexit_output_and_code_and_skips_the_teardown(tmp_path: Path,
                                                                       code: int) -> None:
    proc = run(tmp_path, code)
    assert proc.returncode == code
    assert proc.stdout == "answer" * 2000  # flushed
    assert (tmp_path / "atexit").read_text() == "atexit ran"
    assert "teardown ran" not in proc.stderr and "quick_exit returned" not in proc.stderr


def test_with_tracer_debug_the_process_exits_the_usual_way(tmp_path: Path) -> None:
    proc = run(tmp_path, 0, TRACER_DEBUG="1")
    assert "quick_exit returned" in proc.stderr and "teardown ran" in proc.stderr
    assert (tmp_path / "atexit").read_text() == "atexit ran"


def test_it_returns_while_another_thread_runs_or_for_a_message() -> None:
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        quick_exit(0)  # would have ended pytest: the usual exit must join the thread
    finally:
        stop.set()
        t.join()
    quick_exit("Aborted!")  # a message for the usual exit to print
