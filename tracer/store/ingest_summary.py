"""What an ingest reports: per input file, how every row was accounted for, and the totals.

Kept apart from :mod:`tracer.store.workspace` (which re-exports both) so the summary types can
be read without the workspace's machinery."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from tracer.core.schema import REJECT_PL


@dataclass
class FileSummary:
    """How every row of one input file was accounted for: read = loaded + duplicate + rejected
    + skipped (skipped rows are not transfers: approvals, failed or zero-value transactions)."""

    file: str
    format: str
    read: int
    loaded: int
    duplicate: int
    rejected: int
    skipped: dict[str, int]
    unknown_decimals: int
    warnings: list[str] = field(default_factory=list)  # what could mislead (shown to the user)
    notes: list[str] = field(default_factory=list)  # how the file was read (mapping, chain)

    @classmethod
    def start(cls, file: str) -> FileSummary:
        """The summary of ``file`` before its first batch is counted (:meth:`tally`)."""
        return cls(file=file, format="", read=0, loaded=0, duplicate=0, rejected=0, skipped={},
                   unknown_decimals=0)  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def tally(self, load: Any) -> None:  # a tracer.sources.Loaded batch of this file
        """Count one batch of the file: rows read, rejected, skipped; its warnings and notes
        once per file. (Loaded and duplicates are known only after de-duplication.)"""
        self.file, self.format = load.file, load.format
        self.read += load.read
        self.rejected += load.rejects.height
        for reason, n in load.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + n
        for msg_list, got in ((self.warnings, getattr(load, "warnings", ())),
                              (self.notes, getattr(load, "notes", ()))):  # fmt: skip
            msg_list.extend(m for m in got if m not in msg_list)


@dataclass
class IngestSummary:
    files: list[FileSummary] = field(default_factory=list)
    rejects: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REJECT_PL))
    changed: bool = False

    def total(self, name: str) -> int:
        if name == "skipped":
            return sum(sum(f.skipped.values()) for f in self.files)
        return sum(getattr(f, name) for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": [f.as_dict() for f in self.files],
            "read": self.total("read"),
            "loaded": self.total("loaded"),
            "duplicate": self.total("duplicate"),
            "rejected": self.total("rejected"),
            "skipped": self.total("skipped"),
            "unknown_decimals": self.total("unknown_decimals"),
            "changed": self.changed,
        }
