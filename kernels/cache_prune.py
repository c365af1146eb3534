"""Remove the numba cache folders of kernel sources that are gone.

Why: the default cache folder is keyed by the kernel sources (``sources_key`` in
``kernels/__init__.py``: ``~/.cache/tracer-numba/tracer.kernels/<16 hex digits>``), so every
edit, ``git checkout`` or upgrade starts a new folder (about 2.7 MB) and leaves the old one
behind, forever. Nothing else ever removes them.

tracer deletes only what it provably wrote, so a sibling folder is removed only when all of
these hold, and is left alone otherwise:

- the default folder is in use: :func:`configure_cache` calls this only when
  ``$NUMBA_CACHE_DIR`` was unset (a folder the user names is theirs; a child process inherits
  the variable, so only the process that chose the folder prunes);
- the current key's folder does not exist yet (a cache miss, when the process is about to
  compile anyway): a warm start pays one ``stat`` and never imports this module;
- the folder's name is a key (exactly 16 lowercase hex digits) and it is not the current one;
- everything in it is a regular file numba or tracer writes there (no symbolic link, nothing
  else): at its top, ``tracer-nrt-<sha1>.pkl`` and ``tracer-symbols-<sha1>.json``
  (``kernels/_jit.py``: NRT's library and its symbol names) and numba's per-source-folder
  subfolders ``<dir>_<sha1>`` (``_CacheLocator.get_suitable_cache_subpath``), each holding only
  ``*.nbi``/``*.nbc`` (numba's index and data) and ``tracer-symbols-<sha1>.json``; also the
  temporary names an interrupted write leaves (numba's ``<file>.tmp.<16 hex>``, tracer's
  ``<file>.<pid>.tmp``);
- its newest modification time (of any file or folder in it) is older than
  :data:`STALE_AFTER_S`, and it is not among the :data:`KEEP_RECENT` newest key folders.

"Used" can only mean "written": numba loads a cached kernel without writing anything, and
access times are unreliable (``noatime``/``relatime``). So a second install with other sources
that has only loaded its kernels for a week can lose its folder to this one's miss (hence the
newest folders are kept whatever their age): it then compiles once more, a cost, never a wrong
result (a cache, not a result).

Any error (another process pruning or writing at the same time, permissions, a folder gone
meanwhile) is ignored: pruning never fails a command. Within a folder the index files
(``*.nbi``) go first, so a reader in between finds no index (a miss), never an index naming a
data file already gone.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

#: A folder untouched this long (seconds) is stale: a week.
STALE_AFTER_S = 7 * 24 * 3600.0
#: The newest key folders kept whatever their age (besides the current one).
KEEP_RECENT = 3

KEY_NAME = re.compile(r"[0-9a-f]{16}")
_SHA1 = "[0-9a-f]{40}"
_TRACER_TMP = r"(?:\.[0-9]+\.tmp)?"  # _jit.write_cache_file: f"{path}.{os.getpid()}.tmp"
_NUMBA_TMP = r"(?:\.tmp\.[0-9a-f]{16})?"  # numba's _CacheFile._open_for_write
#: Files at the top of a key folder: NRT's cached library and its symbols (kernels/_jit.py).
TOP_FILE = re.compile(rf"(?:tracer-nrt-{_SHA1}\.pkl|tracer-symbols-{_SHA1}\.json){_TRACER_TMP}")
#: numba's subfolder per source folder: ``<folder name>_<sha1 of its path>``.
SUB_FOLDER = re.compile(rf".+_{_SHA1}")
#: Files in such a subfolder: numba's index and data, and a kernel's symbols (kernels/_jit.py).
SUB_FILE = re.compile(rf".+\.nb[ic]{_NUMBA_TMP}|tracer-symbols-{_SHA1}\.json{_TRACER_TMP}")


def prune_stale(current: Path, *, keep: int = KEEP_RECENT, older_than: float = STALE_AFTER_S,
                now: float | None = None) -> list[Path]:  # fmt: skip
    """Remove the stale key folders beside ``current`` (the rules: the module docstring).

    Returns the folders removed (for tests and logs); never raises ``OSError``.
    """
    now = time.time() if now is None else now
    try:
        with os.scandir(current.parent) as entries:
            siblings = [Path(e.path) for e in entries
                        if KEY_NAME.fullmatch(e.name) and e.name != current.name
                        and e.is_dir(follow_symlinks=False)]  # fmt: skip
    except OSError:
        return []
    ours: list[tuple[float, Path, list[Path], list[Path]]] = []
    for folder in siblings:
        found = _our_contents(folder)
        if found is not None:
            ours.append((found[0], folder, found[1], found[2]))
    ours.sort(key=lambda item: item[0], reverse=True)  # newest first
    removed = []
    for newest, folder, files, folders in ours[keep:]:
        if now - newest > older_than and _remove(folder, files, folders):
            removed.append(folder)
    return removed


def _our_contents(folder: Path) -> tuple[float, list[Path], list[Path]] | None:
    """(newest mtime, files, subfolders) of a key folder holding only what numba and tracer
    write there; None if anything else is in it or it cannot be read."""
    files: list[Path] = []
    folders: list[Path] = []
    try:
        newest = os.stat(folder, follow_symlinks=False).st_mtime
        with os.scandir(folder) as tops:
            for top in tops:
                if top.is_dir(follow_symlinks=False) and SUB_FOLDER.fullmatch(top.name):
                    folders.append(Path(top.path))
                    if not _add_files(top.path, SUB_FILE, files):
                        return None
                elif top.is_file(follow_symlinks=False) and TOP_FILE.fullmatch(top.name):
                    files.append(Path(top.path))
                else:
                    return None
        for path in (*folders, *files):
            newest = max(newest, os.stat(path, follow_symlinks=False).st_mtime)
    except OSError:
        return None
    return newest, files, folders


def _add_files(folder: str, names: re.Pattern[str], files: list[Path]) -> bool:
    """Add the files of ``folder`` to ``files``; False if anything in it is not a regular file
    named by ``names``."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if not (entry.is_file(follow_symlinks=False) and names.fullmatch(entry.name)):
                return False
            files.append(Path(entry.path))
    return True


def _remove(folder: Path, files: list[Path], folders: list[Path]) -> bool:
    """Delete the files found (indexes first), then the emptied folders; False at the first
    error (the rest stays: a folder something new appeared in is not emptied)."""
    try:
        for path in sorted(files, key=lambda p: p.suffix != ".nbi"):
            path.unlink()
        for sub in folders:
            sub.rmdir()
        folder.rmdir()
    except OSError:
        return False
    return True
