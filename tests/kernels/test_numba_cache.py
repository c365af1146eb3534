"""The numba cache lives in ``$NUMBA_CACHE_DIR`` or ``~/.cache/tracer-numba``, never beside the
kernels' sources (an installed package may be read-only or shared), whatever the entry point.

Each case runs in a fresh interpreter (numba reads its configuration once, at import) with a
temporary HOME and compiles one small kernel (FNV-1a) or runs a small ingest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE

CALL_KERNEL = (
    "import numpy as np\n"
    "from tracer.kernels.hashing import fnv1a64\n"
    "assert fnv1a64(np.array([0, 1]), np.array([65], dtype=np.uint8))[0] != 0\n"
)
CHECK_KERNELS_PATH = (
    "import tracer.kernels as kernels\n"
    f"assert kernels.__file__.startswith({str(ROOT)!r}), kernels.__file__\n"
)
ENTRY_POINTS = {
    "import tracer": "import tracer\n" + CALL_KERNEL,
    "library use through tracer": "from tracer.sources.base import fnv1a64\n" + CALL_KERNEL,
    "kernels alone": CALL_KERNEL,
    "numba imported first": "import numba\nimport tracer\n" + CALL_KERNEL,
}


def _cache_files(folder: Path) -> dict[str, int]:
    """numba index and data files in ``folder`` (recursively), with their mtimes."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.suffix in (".nbi", ".nbc")
    }


def _python(args: list[str], home: Path, cwd: Path, **env_extra: str) -> None:
    """``python ARGS`` in a fresh interpreter: no NUMBA_* variables but ``env_extra``, HOME set,
    this checkout first on the path (the kernels whose folder is checked)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update({"HOME": str(home), "PYTHONPATH": str(ROOT), **env_extra})
    done = subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr


def _ingest_args(tmp: Path) -> list[str]:
    return ["ingest", "-q", "-w", str(tmp / "ws"), str(SAMPLE / "trongrid_scam_wallet.json")]


def _kernels_pycache() -> Path:
    import tracer.kernels as kernels

    return Path(kernels.__file__).parent / "__pycache__"


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_cache_goes_to_home_cache_not_beside_the_sources(entry: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    pycache = _kernels_pycache()
    before = _cache_files(pycache)
    _python(["-c", ENTRY_POINTS[entry] + CHECK_KERNELS_PATH], home, tmp_path)
    in_home = _cache_files(home / ".cache" / "tracer-numba")
    assert any(f.endswith(".nbi") and "fnv1a" in f for f in in_home), in_home
    # under the kernels' import name: a cache written when they were imported as `kernels`
    # (same files, same times) must never be loaded as `tracer.kernels` (numba re-imports the
    # module by name: "No module named 'kernels'")
    named = _cache_files(home / ".cache" / "tracer-numba" / "tracer.kernels")
    assert sorted(in_home) == sorted(f"tracer.kernels/{f}" for f in named)
    assert _cache_files(pycache) == before  # nothing new or rewritten beside the sources


def test_cli_entry_point_caches_in_numba_cache_dir(tmp_path: Path) -> None:
    """``python -m tracer.cli`` (what the ``tracer`` script runs): numba is imported while the
    command module loads, long before ``main()`` runs."""
    home, cache = tmp_path / "home", tmp_path / "numba-cache"
    home.mkdir()
    pycache = _kernels_pycache()
    before = _cache_files(pycache)
    _python(
        ["-m", "tracer.cli", *_ingest_args(tmp_path)], home, tmp_path, NUMBA_CACHE_DIR=str(cache)
    )
    assert any(f.endswith(".nbi") for f in _cache_files(cache))
    assert not (home / ".cache" / "tracer-numba").exists()  # the variable wins over the default
    assert _cache_files(pycache) == before


def test_cli_without_variable_uses_home_cache(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    pycache = _kernels_pycache()
    before = _cache_files(pycache)
    _python(["-m", "tracer.cli", *_ingest_args(tmp_path)], home, tmp_path)
    from tracer.kernels import sources_key

    # the library's folder, keyed by the kernel sources (the CLI once set the unkeyed root)
    keyed = home / ".cache" / "tracer-numba" / "tracer.kernels" / sources_key()
    assert any(f.endswith(".nbi") for f in _cache_files(keyed))
    everything = _cache_files(home / ".cache" / "tracer-numba")
    assert all(f.startswith(f"tracer.kernels/{sources_key()}/") for f in everything), everything
    assert _cache_files(pycache) == before


def _key_folder(tmp: Path) -> Path:
    """A copy of the kernels' sources (names, sizes and times kept) and a file that is not one."""
    import shutil

    import tracer.kernels as kernels

    folder = tmp / "kernels"
    folder.mkdir()
    for src in Path(kernels.__file__).parent.glob("*.py"):
        shutil.copy2(src, folder / src.name)
    (folder / "notes.txt").write_text("not a source")
    return folder


def test_sources_key_changes_with_any_kernel_source(tmp_path: Path) -> None:
    """numba checks a cached kernel against its own file only, so an edit to a file whose
    functions were inlined into another's kernel (rules.py into taint.py) left the caller's
    stale machine code in use: the default folder is keyed by every kernel source instead."""
    from tracer.kernels import sources_key

    folder = _key_folder(tmp_path)
    key = sources_key(str(folder))
    assert len(key) == 16 and sources_key(str(folder)) == key  # stable while nothing changes
    (folder / "notes.txt").write_text("other text")  # not a source: same key
    assert sources_key(str(folder)) == key
    rules = folder / "rules.py"
    st = rules.stat()
    os.utime(rules, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # touched
    touched = sources_key(str(folder))
    assert touched != key
    rules.write_text(rules.read_text() + "\n")  # edited (size and time)
    assert sources_key(str(folder)) not in (key, touched)
    (folder / "new_kernel.py").write_text("")  # a new file
    assert len({key, touched, sources_key(str(folder))}) == 3


def test_default_folder_is_keyed_by_the_sources(tmp_path: Path) -> None:
    """A fresh interpreter without the variable caches under ``tracer.kernels/<sources key>``
    and passes that folder on in ``$NUMBA_CACHE_DIR``."""
    from tracer.kernels import sources_key

    home = tmp_path / "home"
    home.mkdir()
    out = tmp_path / "seen.txt"
    seen = "config.CACHE_DIR + '|' + os.environ['NUMBA_CACHE_DIR']"
    _python(["-c", "import os, tracer.kernels\nfrom numba.core import config\n"
             f"open({str(out)!r}, 'w').write({seen})"], home, tmp_path)  # fmt: skip
    want = str(home / ".cache" / "tracer-numba" / "tracer.kernels" / sources_key())
    assert out.read_text() == f"{want}|{want}"
