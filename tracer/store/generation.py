"""The one workspace writer: lock, generation folders, durable commit, safe cleanup, leases.

Every change to a workspace (``ingest``, ``ingest-rpc`` batches and checkpoints, ``synth``,
``labels add``, ``cluster``) goes through :class:`Writer`, so there is one place that decides
what is written, in which order it is made durable, and what may be deleted.

Commit order (durability): a new generation ``g<N+1>/`` is written beside the committed one;
every file in it is fsynced, then its folders, then the workspace folder; only then is
``manifest.json`` replaced (temp file, fsync, rename, fsync of the folder). A crash or power loss
at any instant leaves the manifest naming generation ``N``, whose files are intact.

Deletion (what tracer may remove): only

* generation folders ``g<digits>/`` holding :data:`~tracer.store.manifest.GEN_MARKER` (written first
  when tracer creates one), or named by the manifest being replaced; inside them only files
  whose names match tracer's own patterns (a user's file dropped inside keeps the folder);
* files the replaced manifest named and the new one does not (old labels, entities);
* tracer's temp files (``*.tracer-tmp``) and RPC batch folders holding only batch files;
* label/entity files of tracer's exact pattern in ``labels/``/``entities/`` folders tracer
  created itself (marked with :data:`OWNED`).

Readers never fail during a write (reader lease): a reader takes a shared ``flock`` on the
generation marker of the generation it reads, for as long as its :class:`Lease` lives. A writer
deletes a superseded generation only when it can take that lock exclusively; otherwise the
generation stays until a later writer finds it unread. Deferred deletion costs disk for a while,
never a reader's correctness, and needs no daemon.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from tracer.core.atomic import BATCH_LOCK, fsync_dir, fsync_tree, write_text_atomic
from tracer.core.errors import WorkspaceError
from tracer.store import manifest as mf

#: Marker of a ``labels/`` or ``entities/`` folder tracer created (so it may tidy it).
OWNED = ".tracer-owned"
#: The case index folder of a generation (:mod:`tracer.store.case_index`) and its file names.
CASE_DIR = "case"
CASE_RE = re.compile(r"(part-[0-9]{4}-[0-9]{2}-[0-9]{3,6}|addresses(-[0-9]{6})?|prior-[0-9a-f]{16})"
                     r"\.[a-z]{2,8}\.npy")
_SUBDIRS = {"transfers": mf.PART_RE, "graph": mf.GRAPH_RE, "spool": mf.SPOOL_RE, CASE_DIR: CASE_RE}
_GEN_FILES = (mf.ADDRESSES_RE, mf.TMP_RE)


def gen_dir(root: Path, gen: int) -> Path:
    return root / f"g{gen}"


# -- readers' leases -------------------------------------------------------------------------
class Lease:
    """A shared lock on one generation's marker: while held, no writer deletes it."""

    def __init__(self, fd: int | None, generation: int) -> None:
        self.fd = fd
        self.generation = generation

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None

    def __del__(self) -> None:
        self.release()


def lease(root: Path, attempts: int = 50) -> tuple[dict[str, Any], Lease]:
    """The committed manifest and a lease on its generation, consistent with each other.

    A writer may commit and delete between our reading the manifest and locking the marker;
    the inode check below notices (the marker is unlinked first when a generation is deleted)
    and we read the new manifest instead.
    """
    last_gen = None
    for _ in range(attempts):
        m = mf.read(root)
        gen = m["generation"]
        if gen == 0:
            return m, Lease(None, 0)
        marker = gen_dir(root, gen) / mf.GEN_MARKER
        try:
            fd = os.open(marker, os.O_RDONLY)
        except FileNotFoundError:
            if gen_dir(root, gen).is_dir() and (gen_dir(root, gen) / "transfers").is_dir():
                return m, Lease(None, gen)  # a generation written before leases existed
            if last_gen == gen:  # the manifest is stable and names a missing generation
                raise mf.damaged(root, f"generation folder g{gen} is missing") from None
            last_gen = gen
            time.sleep(0.01)
            continue
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            same = os.fstat(fd).st_ino == os.stat(marker).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return m, Lease(fd, gen)
        os.close(fd)
    raise WorkspaceError(f"{root}: the workspace kept changing while it was opened; try again")


# -- deletion of what tracer provably wrote ----------------------------------------------------
def _unlink_matching(
    folder: Path, patterns: tuple[Any, ...], keep: frozenset[str] | set[str] = frozenset()
) -> None:
    if not folder.is_dir() or folder.is_symlink():
        return
    for f in folder.iterdir():
        if f.name in keep or f.is_dir():
            continue
        if any(p.fullmatch(f.name) for p in patterns):
            f.unlink(missing_ok=True)


def _rmdir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty: anything not ours keeps it


def remove_generation(folder: Path) -> bool:
    """Delete one superseded generation folder if no reader holds its lease; returns whether it
    is gone. Only tracer's own file names are removed; the marker goes first, so a reader that
    opens it afterwards sees it is stale."""
    marker = folder / mf.GEN_MARKER
    fd = None
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(marker, os.O_RDONLY)
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a reader is using it: a later writer deletes it
            marker.unlink(missing_ok=True)
        for sub, pat in _SUBDIRS.items():
            _unlink_matching(folder / sub, (pat, mf.TMP_RE))
            _rmdir(folder / sub)
        _unlink_matching(folder, (*_GEN_FILES, _exact(mf.TOKENS_NAME), _exact(mf.GEN_MARKER)))
        _rmdir(folder)
        return not folder.exists()
    finally:
        if fd is not None:
            os.close(fd)


def remove_batch_dir(folder: Path) -> None:
    """Remove an RPC/CSV batch folder unless a live process holds its lock (or, lock file not
    yet made, it is under a minute old); only batch files and the lock file are deleted."""
    lock = folder / BATCH_LOCK
    fd = None
    try:
        if lock.exists():
            fd = os.open(lock, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
        elif time.time() - folder.stat().st_mtime < 60 and folder.name.startswith(".tracer"):
            return
        _unlink_matching(folder, (mf.BATCH_FILE_RE, mf.TMP_RE, _exact(BATCH_LOCK)))
        _rmdir(folder)
    except FileNotFoundError:
        pass
    finally:
        if fd is not None:
            os.close(fd)


def _exact(name: str) -> Any:
    import re

    return re.compile(re.escape(name))


def cleanup(root: Path, m: dict[str, Any], *, building: int | None = None) -> None:
    """Remove crash leftovers and unread superseded generations (writer holds the lock)."""
    current = m["generation"]
    for child in root.iterdir():
        name = child.name
        if child.is_symlink():
            continue
        if child.is_dir() and mf.GEN_RE.fullmatch(name):
            n = int(name[1:])
            if n not in (current, building) and (child / mf.GEN_MARKER).is_file():
                remove_generation(child)
        elif child.is_dir() and mf.BATCH_DIR_RE.fullmatch(name):
            remove_batch_dir(child)
        elif child.is_file() and mf.TMP_RE.fullmatch(name):
            child.unlink(missing_ok=True)
    for sub, patterns in (("labels", (mf.LABELS_RE,)),
                          ("entities", (mf.ENTITIES_RE, mf.LINKS_RE)),
                          ("conversions", (mf.CONVERSIONS_RE,))):  # fmt: skip
        folder = root / sub
        if not folder.is_dir() or folder.is_symlink():
            continue
        _unlink_matching(folder, (mf.TMP_RE,))
        if (folder / OWNED).is_file():
            ent = m.get("entities") or {}
            keep = {n for n in (m.get("labels"), ent.get("entities"), ent.get("links")) if n}
            # conversion files are append-only: every committed manifest names all earlier ones,
            # so an unnamed one is an uncommitted leftover
            keep |= {n for e in m.get("conversions", []) for n in e["files"].values()}
            _unlink_matching(folder, patterns, keep)


def owned_dir(root: Path, name: str) -> Path:
    """``root/name``, created with an ownership marker when tracer is the one creating it."""
    folder = root / name
    try:
        folder.mkdir()
    except FileExistsError:
        return folder
    (folder / OWNED).write_text("created by tracer: files named like its own may be replaced\n")
    return folder


# -- the writer --------------------------------------------------------------------------------
def link_or_copy(src: Path, dst: Path) -> None:
    """Reuse an unchanged file in the new generation: a hard link (same inode, no bytes
    written); a copy only where the file system refuses links."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        shutil.copy2(src, dst)


class Writer:
    """Holds the workspace lock; builds at most one new generation; commits the manifest.

    Use as a context manager. On an exception the unfinished generation folder is removed and
    the manifest is untouched; on a kill the next writer removes it (it carries the marker).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.base: dict[str, Any] = {}
        self.gen: int | None = None
        self.dir: Path | None = None
        self._fh: Any = None

    def __enter__(self) -> Writer:
        if not mf.is_workspace(self.root):
            raise WorkspaceError(f"{self.root} is not a tracer workspace")
        self._fh = open(self.root / mf.LOCK, "a")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            raise WorkspaceError(f"{self.root} is in use by another tracer process") from None
        try:
            self.base = mf.read(self.root)
            if not (self.root / mf.MARKER).is_file():
                mf.write_marker(self.root)  # a workspace from before markers: adopt it
            cur = self.base["generation"]
            if cur and gen_dir(self.root, cur).is_dir():
                marker = gen_dir(self.root, cur) / mf.GEN_MARKER
                if not marker.exists():  # named by the manifest: ours; give it a lease file
                    marker.write_text("")
            cleanup(self.root, self.base)
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if typ is not None and self.dir is not None:
                remove_generation(self.dir)
        finally:
            self.release()

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def start_generation(self) -> Path:
        """Create the next generation folder (marker first) and return it.

        Normally ``g<N+1>/``; a folder of that name that is not tracer's (a user's ``g1/``) is
        left alone and the next free number is used instead.
        """
        n = self.base["generation"] + 1
        while True:
            d = gen_dir(self.root, n)
            # an uncommitted leftover carries our marker; anything else is not ours to remove
            if d.exists() and (d / mf.GEN_MARKER).is_file():
                remove_generation(d)
            if not d.exists():
                break
            n += 1
        d.mkdir()
        (d / mf.GEN_MARKER).write_text("")
        (d / "transfers").mkdir()
        self.gen, self.dir = n, d
        return d

    def abandon(self) -> None:
        """Drop the generation being built (nothing new to commit)."""
        if self.dir is not None:
            remove_generation(self.dir)
        self.gen = self.dir = None

    def base_dir(self) -> Path:
        return gen_dir(self.root, self.base["generation"])

    def commit(self, updates: dict[str, Any]) -> dict[str, Any]:
        """Make the new generation durable, then switch the manifest to it; tidy after."""
        m = {**self.base, **updates}
        if self.gen is not None:
            m["generation"] = self.gen
        m = mf.validate(self.root, m)  # never commit what a reader would refuse
        if self.dir is not None:
            fsync_tree(self.dir)
        fsync_dir(self.root)
        write_text_atomic(self.root / mf.MANIFEST, json.dumps(m, indent=2, default=str))
        old = self.base
        self.base, self.gen, self.dir = m, None, None
        if old["generation"] != m["generation"] and old["generation"]:
            remove_generation(gen_dir(self.root, old["generation"]))
        for sub, names in (("labels", [old.get("labels")]),
                           ("entities", [(old.get("entities") or {}).get(k)
                                         for k in ("entities", "links")])):  # fmt: skip
            ent = m.get("entities") or {}
            keep = {m.get("labels"), ent.get("entities"), ent.get("links")}
            for n in names:
                if n and n not in keep:
                    (self.root / sub / n).unlink(missing_ok=True)  # validated bare name
        return m
