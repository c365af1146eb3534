"""Print an HTML report to PDF with headless Chromium, where it is installed.

Why Chromium and not a Python PDF library: the PDF must show what the HTML shows (the inline
SVG graph, the tables, the print stylesheet), and a browser's own print path is the one
renderer that guarantees it. Chromium's ``--print-to-pdf`` does it in one process, with no
driver and no Python dependency. The flags keep it offline and stateless: a fresh empty
profile, no first-run, sync, component-update or background network traffic, no QUIC.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tracer.core.atomic import atomic_path
from tracer.core.errors import TracerError, UsageError

#: Executable names tried in order (Debian's package installs ``chromium``).
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Flags for a headless, offline, profile-less Chromium (the same the browser tests use).
HEADLESS_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
)  # fmt: skip


def find_chromium() -> str | None:
    """The Chromium executable (``TRACER_CHROMIUM`` overrides the search), or None."""
    override = os.environ.get("TRACER_CHROMIUM")
    if override:
        return override if Path(override).is_file() else None
    for name in CHROMIUM_NAMES:
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def print_pdf(html: str | Path, pdf: str | Path, timeout: float = 120.0) -> Path:
    """Print ``html`` to ``pdf`` (atomically); a clear error where Chromium is absent."""
    exe = find_chromium()
    if exe is None:
        raise UsageError(
            "--pdf: headless Chromium was not found (Debian/Ubuntu: apt-get install chromium; "
            "or set TRACER_CHROMIUM=/path/to/chrome); the HTML report was written and prints to "
            "PDF from any browser"
        )
    url = Path(html).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="tracer-chromium-") as profile, \
            atomic_path(Path(pdf)) as tmp:  # fmt: skip
        cmd = [exe, *HEADLESS_FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
               f"--print-to-pdf={tmp}", url]  # fmt: skip
        try:
            run = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise TracerError(f"--pdf: Chromium did not finish within {timeout:.0f} s") from None
        if run.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            tail = run.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise TracerError(
                f"--pdf: Chromium failed (exit {run.returncode}): {' / '.join(tail) or 'no PDF'}"
            )
    return Path(pdf)
