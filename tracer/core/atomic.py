"""Atomic writes: temp file in the target's folder, fsync, rename.

A reader (or a crash at any instant, kill -9 included) sees either the old file or the new one,
never half of one. Every file tracer writes goes through here, or (partition files written
inside a generation folder that no manifest names yet) is made durable by :func:`fsync_tree`
before the manifest that names it is committed: data, then its folders, then the manifest.

Temp files end in ``.tracer-tmp`` (:data:`tracer.store.manifest.TMP_RE`), a suffix no user file has,
so a writer can remove a crashed writer's leftovers without ever touching a user's ``.x.tmp``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temp path next to ``target``; on success fsync it and rename it over ``target``.

    Why the checks first: a rename replaces whatever has the name. ``-o /dev/null`` as root
    would replace the device by a regular file, and ``-o link.json`` would replace the user's
    symlink. So a symlink is written through (the file it names is replaced, the link kept), a
    device or named pipe is written into (a stream has no old version to keep), and a folder is
    refused.
    """
    import stat

    from tracer.core.errors import UsageError

    target = Path(target)
    if target.is_symlink():
        target = target.resolve()
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageError(f"{target}: is a folder; give a file name to write")
    if mode is not None and not stat.S_ISREG(mode):
        fd, tmp = tempfile.mkstemp(suffix=".tracer-tmp")
        os.close(fd)
        stream_tmp = Path(tmp)
        try:
            yield stream_tmp
            with open(stream_tmp, "rb") as src, open(target, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
        finally:
            stream_tmp.unlink(missing_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tracer-tmp", dir=target.parent)
    # mkstemp makes the file 0600; the result gets the mode a plain open() would give (the
    # replaced file's own mode, else 0666 less the umask), so a report can be shared as usual.
    os.fchmod(fd, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
        fsync_dir(target.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    """The process's umask (reading it means setting it; set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (new names, renames, hard links) durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(target: str | Path, writer: Callable[[Path], object]) -> None:
    """Call ``writer(tmp_path)`` and move the result to ``target`` atomically."""
    with atomic_path(target) as tmp:
        writer(tmp)


def write_text_atomic(target: str | Path, text: str) -> None:
    write_atomic(target, lambda p: p.write_text(text, encoding="utf-8"))


def fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_tree(folder: Path) -> None:
    """Fsync every file under ``folder``, then every folder bottom-up, then ``folder``'s parent:
    after this returns, a power loss cannot lose what the tree names."""
    dirs = []
    for here, _subdirs, files in os.walk(folder):
        dirs.append(Path(here))
        for name in files:
            fsync_file(Path(here) / name)
    for d in reversed(dirs):
        fsync_dir(d)
    fsync_dir(folder.parent)


#: Held (flock) by the process that owns a batch folder, so another writer's cleanup leaves it.
BATCH_LOCK = ".tracer-batch-lock"


@contextlib.contextmanager
def batch_dir(parent: Path | None) -> Iterator[Path]:
    """A temporary ``.tracer-batch-<random>/`` folder in ``parent`` (system temp if None),
    locked while in use: a writer's cleanup removes only batch folders nobody holds (a killed
    run's leftovers), never one a live process is filling."""
    import fcntl
    import shutil

    d = Path(tempfile.mkdtemp(prefix=".tracer-batch-", dir=parent))
    fd = os.open(d / BATCH_LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield d
    finally:
        os.close(fd)
        shutil.rmtree(d, ignore_errors=True)  # our own fresh folder: only our files
