"""kernels/cache_prune.py: the numba cache folders of sources that are gone are removed, and
nothing else is: fresh folders, the newest ones, a folder holding anything tracer and numba do
not write, a folder the user chose; errors are swallowed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import tracer.kernels as kernels
from tracer.kernels import cache_prune
from tracer.kernels.cache_prune import prune_stale

DAY = 24 * 3600.0
SHA = "ab" * 20


def key_folder(parent: Path, key: str, age_days: float = 30.0) -> Path:
    """A key folder as numba and tracer leave it (a kernels and a benchmarks subfolder, NRT's
    files at the top), every entry ``age_days`` old."""
    folder = parent / key
    files = [
        f"tracer-nrt-{SHA}.pkl",
        f"tracer-symbols-{SHA}.json",
        f"kernels_{SHA}/local._grow_f-260.py311.nbi",
        f"kernels_{SHA}/local._grow_f-260.py311.1.nbc",
        f"kernels_{SHA}/tracer-symbols-{'cd' * 20}.json",
        f"kernels_{SHA}/text.all_hex-63.py311.2.nbc.tmp.0123456789abcdef",  # numba, interrupted
        f"benchmarks_{'ef' * 20}/x.f-1.py311.nbi",
        f"tracer-symbols-{'12' * 20}.json.4242.tmp",  # tracer, interrupted
    ]
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")
    age(folder, age_days)
    return folder


def age(folder: Path, days: float) -> None:
    """Set every mtime in ``folder`` (itself included) to ``days`` ago."""
    when = time.time() - days * DAY
    for path in [*folder.rglob("*"), folder]:
        os.utime(path, (when, when), follow_symlinks=False)


def keys(n: int) -> list[str]:
    return [f"{i:016x}" for i in range(1, n + 1)]


def test_stale_folders_of_ours_go_the_newest_and_fresh_ones_stay(tmp_path: Path) -> None:
    current = tmp_path / ("f" * 16)  # not created yet: the miss
    old = [key_folder(tmp_path, k, age_days=30 + i) for i, k in enumerate(keys(5))]
    fresh = key_folder(tmp_path, "a" * 16, age_days=1)
    removed = prune_stale(current, keep=2)
    # kept: the fresh one and the next newest (keep=2); the other four stale ones go
    assert sorted(removed) == sorted(old[1:])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, old[0].name])
    assert (fresh / f"kernels_{SHA}" / "local._grow_f-260.py311.nbi").exists()


def test_keep_counts_fresh_folders_and_age_decides(tmp_path: Path) -> None:
    current = tmp_path / ("f" * 16)
    current.mkdir()  # the current folder is never a candidate, whatever its age
    age(current, 100)
    stale = key_folder(tmp_path, keys(1)[0], age_days=8)
    recent = key_folder(tmp_path, keys(2)[1], age_days=6)
    assert prune_stale(current, keep=0) == [stale]
    assert current.exists() and recent.exists()
    # one fresh file makes its folder fresh
    again = key_folder(tmp_path, keys(3)[2], age_days=30)
    os.utime(again / f"kernels_{SHA}" / "local._grow_f-260.py311.nbi")
    assert prune_stale(current, keep=0) == []


@pytest.mark.parametrize(
    "foreign",
    [
        "notes.txt",  # at the top
        f"kernels_{SHA}/notes.txt",  # in numba's subfolder
        f"kernels_{SHA}/tracer-nrt-{SHA}.pkl",  # NRT's file is only ever at the top
        "local._grow_f-260.py311.nbi",  # numba's files are only ever in a subfolder
        f"kernels_{SHA}/deeper/x.nbi",  # numba writes no deeper folder
        f"other_{SHA[:39]}/x.nbi",  # not numba's subfolder name
        f"tracer-symbols-{SHA}.json.tmp",  # not a temporary name tracer uses
    ],
)
def test_a_folder_with_anything_else_stays_whole(tmp_path: Path, foreign: str) -> None:
    folder = key_folder(tmp_path, keys(1)[0])
    path = folder / foreign
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"mine")
    age(folder, 30)
    before = sorted(folder.rglob("*"))
    assert prune_stale(tmp_path / ("f" * 16), keep=0) == []
    assert sorted(folder.rglob("*")) == before


def test_links_and_folders_not_named_as_keys_stay(tmp_path: Path) -> None:
    outside = key_folder(tmp_path / "elsewhere", keys(1)[0])
    base = tmp_path / "base"
    base.mkdir()
    (base / keys(2)[1]).symlink_to(outside)  # a link named as a key: not followed
    age(base, 30)
    linked = key_folder(base, keys(3)[2])
    (linked / f"kernels_{SHA}" / "x.nbc").symlink_to(outside / f"tracer-nrt-{SHA}.pkl")
    age(linked, 30)
    odd = [key_folder(base, name) for name in ("A" * 16, "0" * 15, "0" * 17, "g" * 16)]
    assert prune_stale(base / ("f" * 16), keep=0) == []
    assert all(p.exists() for p in [outside / f"tracer-nrt-{SHA}.pkl", linked, *odd])


def test_errors_are_swallowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert prune_stale(tmp_path / "absent" / ("f" * 16)) == []  # no parent folder
    folder = key_folder(tmp_path, keys(1)[0])

    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(self)

    monkeypatch.setattr(Path, "unlink", refuse)
    assert prune_stale(tmp_path / ("f" * 16), keep=0) == []
    assert folder.exists()
    monkeypatch.undo()
    vanished = folder / f"kernels_{SHA}" / "local._grow_f-260.py311.nbi"
    real_stat = os.stat

    def gone(path: object, *args: object, **kw: object) -> os.stat_result:
        if Path(str(path)) == vanished:  # removed by another process meanwhile
            raise FileNotFoundError(path)
        return real_stat(path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(cache_prune.os, "stat", gone)
    assert prune_stale(tmp_path / ("f" * 16), keep=0) == []


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HOME, numba's configuration out of reach (configure_cache would re-read it
    for the whole test process otherwise); the environment restored afterwards."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setitem(sys.modules, "numba.core.config", None)  # type: ignore[arg-type]
    return tmp_path


def test_configure_cache_prunes_on_a_miss_of_the_default_folder(home: Path) -> None:
    parent = kernels.default_cache_dir().parent
    stale = key_folder(parent, keys(1)[0])
    fresh = key_folder(parent, keys(2)[1], age_days=0)
    assert kernels.configure_cache() == str(kernels.default_cache_dir())
    # keep=KEEP_RECENT: with two folders beside it, both are kept
    assert stale.exists() and fresh.exists()
    more = [key_folder(parent, k) for k in keys(6)[2:]]
    os.environ.pop("NUMBA_CACHE_DIR")
    kernels.configure_cache()
    assert fresh.exists() and sum(p.exists() for p in [stale, *more]) == 2


def test_no_pruning_on_a_hit_or_in_a_folder_the_user_chose(home: Path) -> None:
    parent = kernels.default_cache_dir().parent
    stale = [key_folder(parent, k) for k in keys(5)]
    kernels.default_cache_dir().mkdir()  # a hit: these sources have their folder
    kernels.configure_cache()
    assert all(p.exists() for p in stale)
    kernels.default_cache_dir().rmdir()
    os.environ["NUMBA_CACHE_DIR"] = str(kernels.default_cache_dir())  # chosen (or inherited)
    assert kernels.configure_cache() == str(kernels.default_cache_dir())
    assert all(p.exists() for p in stale)
