"""The workspace's ``conversions`` table: swaps and wraps decoded at ingest, stored per generation.

(First version: the read side. Ingest-time decoding follows.)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import polars as pl

from tracer.sources.conversions import CONVERSION_SCHEMA
from tracer.store import manifest as mf

if TYPE_CHECKING:
    from tracer.store.workspace import Workspace

KEY = "conversions"
#: File names of the table inside a generation's ``conversions/`` folder.
FILE_RE = re.compile(r"(conversions|skips)-[0-9]{6}\.parquet")


def read_conversions(ws: Workspace) -> pl.DataFrame:
    """The stored conversions of the pinned generation (empty when none were decoded)."""
    if ws.path is None:
        stored = getattr(ws, "conversions_frame", None)
        return stored if stored is not None else pl.DataFrame(schema=CONVERSION_SCHEMA)
    m = ws.manifest()
    entries = m.get(KEY) or []
    if not entries:
        return pl.DataFrame(schema=CONVERSION_SCHEMA)
    folder = ws.path / f"g{m['generation']}" / KEY
    frames = [pl.read_parquet(folder / _name(ws, e)) for e in entries]
    return pl.concat(frames).cast(CONVERSION_SCHEMA)  # type: ignore[arg-type]


def _name(ws: Workspace, entry: object) -> str:
    name = entry.get("file") if isinstance(entry, dict) else None
    if not isinstance(name, str) or not FILE_RE.fullmatch(name) or not name.startswith(KEY):
        assert ws.path is not None
        raise mf.damaged(ws.path, f"{KEY} names {name!r}, not a file name tracer writes")
    return name
