"""Atomic writes never replace what is not a regular file (h-report found ``-o /dev/null``,
run as root, turned the device into a regular file)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from tracer.core.atomic import write_text_atomic
from tracer.core.errors import UsageError


def test_symlink_is_written_through_and_kept(tmp_path: Path) -> None:
    real = tmp_path / "real" / "out.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "out.json"
    link.symlink_to(real)
    write_text_atomic(link, "new")
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert real.read_text() == "new"


def test_named_pipe_is_written_into_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_text_atomic(fifo, "through the pipe")
    reader.join(timeout=10)
    assert got == [b"through the pipe"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_dev_null_stays_a_device() -> None:
    write_text_atomic("/dev/null", "discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(UsageError, match="is a folder"):
        write_text_atomic(tmp_path / "out", "x")
    assert (tmp_path / "out").is_dir()


def test_regular_file_is_replaced_atomically(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text("old")
    write_text_atomic(f, "new")
    assert f.read_text() == "new"
    assert not list(tmp_path.glob("*.tracer-tmp"))


def test_new_file_gets_the_umask_mode_and_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        new = tmp_path / "report.html"
        write_text_atomic(new, "x")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        kept = tmp_path / "private.json"
        kept.write_text("old")
        kept.chmod(0o600)
        write_text_atomic(kept, "new")
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    finally:
        os.umask(old)
