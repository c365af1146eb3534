"""The workspace manifest and the names tracer gives its own files: the store's rule book.

Two questions must be answered here, and nowhere else, because the answers decide what tracer
may delete and which paths it may follow:

* **Is this folder a workspace?** Only if tracer made it one: it holds the marker file
  :data:`MARKER` (written when tracer creates or is asked to ``--init`` the folder), or a
  ``manifest.json`` of this format written before markers existed. A non-empty folder that is
  neither is refused, so ``tracer ingest -w ~/case`` can never mistake a user's folder for its
  own.
* **Is this name one of ours?** Every file tracer writes has an exact name pattern below.
  Cleanup deletes only names that match a pattern *inside folders tracer created* (a generation
  folder carries :data:`GEN_MARKER`), or files the previous manifest named. ``graphs/``,
  ``labels/mine.csv``, ``.notes.tmp`` match nothing and are never touched.

The manifest is validated on every read (:func:`validate`): every path it names must be a bare
file name of the expected pattern, so a hand-edited ``../../x.parquet`` or ``/etc/passwd`` is a
"workspace damaged" error, never a file tracer opens, merges or deletes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tracer.core import jsonsafe
from tracer.core.errors import WorkspaceError

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
MARKER = ".tracer-workspace"
LOCK = "lock"
LEGACY_CHECKPOINTS = "rpc-checkpoints.json"  # before checkpoints moved into the manifest
#: Written first into every generation folder tracer creates: proof of ownership, and the file
#: readers hold a shared lock on (their lease, see :mod:`tracer.store.generation`).
GEN_MARKER = ".tracer-generation"

GEN_RE = re.compile(r"g(0|[1-9][0-9]{0,8})")
PART_RE = re.compile(r"part-[0-9]{4}-[0-9]{2}-[0-9]{3,6}\.parquet")
ADDRESSES_RE = re.compile(r"addresses(-[0-9]{6})?\.parquet")
TOKENS_NAME = "tokens.parquet"
LABELS_RE = re.compile(r"labels-[0-9a-f]{16}\.parquet")
ENTITIES_RE = re.compile(r"entities-[0-9a-f]{16}\.parquet")
LINKS_RE = re.compile(r"links-[0-9a-f]{16}\.parquet")
#: Decoded conversion tables in ``conversions/`` (see :mod:`tracer.store.conversions_table`).
CONVERSIONS_RE = re.compile(r"(conversions|skips|bridge)-[0-9a-f]{16}\.parquet")
#: The graph cache (``graph/``): the older one-array-per-file layout, and the edge log with its
#: CSR levels and ``levels.json`` (:mod:`tracer.store.edge_log`).
GRAPH_RE = re.compile(r"[a-z_]{2,16}\.npy|log\.[a-z_]{2,12}\.bin|levels\.json"
                      r"|[bd][0-9]{1,12}-[0-9]{1,12}\.[a-z_]{2,16}\.npy")
#: An ingest's candidate rows inside its unfinished generation (``g<N>/spool/``).
SPOOL_RE = re.compile(r"spool-[0-9]{1,9}-[0-9]{4}-[0-9]{2}\.parquet")
#: Temp files of :func:`tracer.core.atomic.atomic_path` (``.<target name>.<random>.tracer-tmp``).
TMP_RE = re.compile(r"\..+\.[A-Za-z0-9_]{6,12}\.tracer-tmp")
#: RPC batch folders (``.tracer-batch-<random>``) and the one export file each holds; the
#: ``tmp<random>`` form is what versions before this one left behind after a kill.
BATCH_DIR_RE = re.compile(r"\.tracer-batch-[A-Za-z0-9_]{6,12}|tmp[A-Za-z0-9_]{8}")
BATCH_FILE_RE = re.compile(r"batch-[0-9]{1,12}\.(json|csv)")


def empty_manifest() -> dict[str, Any]:
    return {"version": FORMAT_VERSION, "generation": 0, "labels": None, "ingests": []}


def damaged(root: Path, what: str) -> WorkspaceError:
    return WorkspaceError(
        f"workspace damaged: {root / MANIFEST}: {what} (was the manifest edited by hand? "
        "restore it, or re-ingest into a new workspace)"
    )


def _name(root: Path, value: Any, pattern: re.Pattern[str], where: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise damaged(root, f"{where} is {value!r}, not a file name tracer writes")
    return value


def _int(root: Path, value: Any, where: str, *, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise damaged(root, f"{where} is {value!r}, not an integer >= {lo}")
    return value


def validate(root: Path, m: Any) -> dict[str, Any]:
    """Check a parsed manifest's schema and every name in it; returns it (with defaults).

    Raises :class:`WorkspaceError` ("workspace damaged: ...") naming the first bad field.
    """
    if not isinstance(m, dict):
        raise damaged(root, f"the manifest is a {type(m).__name__}, not an object")
    if m.get("version") != FORMAT_VERSION:
        raise WorkspaceError(
            f"{root}: workspace format {m.get('version')} is not {FORMAT_VERSION}; "
            "re-ingest into a new workspace"
        )
    gen = _int(root, m.get("generation"), "generation")
    parts = m.get("parts", [])
    if gen == 0:
        parts = m.get("parts") or []
    if not isinstance(parts, list) or (gen > 0 and "parts" not in m):
        raise damaged(root, "parts is missing or not a list")
    for i, p in enumerate(parts):
        if not isinstance(p, dict):
            raise damaged(root, f"parts[{i}] is not an object")
        _name(root, p.get("file"), PART_RE, f"parts[{i}].file")
        _int(root, p.get("rows"), f"parts[{i}].rows")
        for k in ("first_ts", "last_ts"):
            _int(root, p.get(k), f"parts[{i}].{k}", lo=-(2**62))
    if len({p["file"] for p in parts}) != len(parts):
        raise damaged(root, "parts names a file twice")
    addr = m.get("addresses", ["addresses.parquet"] if gen else [])
    if not isinstance(addr, list):
        raise damaged(root, "addresses is not a list of file names")
    for i, a in enumerate(addr):
        _name(root, a, ADDRESSES_RE, f"addresses[{i}]")
    if m.get("labels") is not None:
        _name(root, m["labels"], LABELS_RE, "labels")
    ent = m.get("entities")
    if ent is not None:
        if not isinstance(ent, dict):
            raise damaged(root, "entities is not an object")
        _name(root, ent.get("entities"), ENTITIES_RE, "entities.entities")
        _name(root, ent.get("links"), LINKS_RE, "entities.links")
        _int(root, ent.get("generation"), "entities.generation")
        if ent.get("labels") is not None:
            _name(root, ent["labels"], LABELS_RE, "entities.labels")
    cps = m.get("rpc_checkpoints", {})
    if not isinstance(cps, dict):
        raise damaged(root, "rpc_checkpoints is not an object")
    for k, v in cps.items():
        _int(root, v, f"rpc_checkpoints[{k!r}]")
    conv = m.get("conversions", [])
    if not isinstance(conv, list) or not all(isinstance(e, dict) for e in conv):
        raise damaged(root, "conversions is not a list of objects")
    for i, e in enumerate(conv):
        files = e.get("files")
        if not isinstance(files, dict):
            raise damaged(root, f"conversions[{i}].files is not an object")
        for k, name in files.items():
            _name(root, name, CONVERSIONS_RE, f"conversions[{i}].files.{k}")
    if not isinstance(m.get("ingests", []), list):
        raise damaged(root, "ingests is not a list")
    return {**m, "parts": parts, "addresses": addr, "rpc_checkpoints": cps}


def read(root: Path) -> dict[str, Any]:
    """The committed manifest of ``root``, validated (an empty one before the first commit)."""
    mpath = root / MANIFEST
    try:
        text = mpath.read_text(encoding="utf-8")
    except FileNotFoundError:
        return validate(root, empty_manifest())
    except (OSError, UnicodeDecodeError) as exc:
        raise damaged(root, f"unreadable ({exc})") from None
    try:
        m = jsonsafe.parse(text)
    except json.JSONDecodeError as exc:
        raise WorkspaceError(f"{mpath}: corrupt manifest ({exc.msg})") from None
    except (ValueError, RecursionError) as exc:
        raise damaged(root, f"unreadable manifest ({type(exc).__name__})") from None
    return validate(root, m)


def is_workspace(root: Path) -> bool:
    """True when tracer made ``root`` a workspace (marker, or a manifest of this format)."""
    if (root / MARKER).is_file():
        return True
    try:
        m = jsonsafe.parse((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(m, dict) and "generation" in m and "version" in m


def write_marker(root: Path) -> None:
    from tracer.core.atomic import write_text_atomic

    write_text_atomic(root / MARKER, json.dumps({"tracer": "workspace"}) + "\n")
