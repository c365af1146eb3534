"""Typed exceptions raised by the library.

The library never calls ``sys.exit`` and never prints; the CLI maps these exceptions to messages
and exit codes in one place (``tracer.cli``). Messages name the file, the row and the field so a
user can fix the input without reading a traceback (case data is sensitive, so tracebacks that dump
local variables are never shown).
"""

from __future__ import annotations


class TracerError(Exception):
    """Base class of every error a user can cause and fix."""

    exit_code = 1


class InputError(TracerError):
    """A row of an input file is malformed.

    Parameters
    ----------
    file:
        The path the user gave.
    row:
        1-based data row (CSV: line after the header; JSON: record number), or ``None`` when the
        whole file is at fault.
    field:
        The column or JSON key as it is named *in the user's file*.
    reason:
        What is wrong and, where possible, how to fix it.
    """

    exit_code = 2

    def __init__(self, file: str, row: int | None, field: str | None, reason: str) -> None:
        self.file = file
        self.row = row
        self.field = field
        self.reason = reason
        where = file
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {reason}")


class UnknownFormatError(TracerError):
    """No source module recognises a file's header or shape."""

    exit_code = 2


class WorkspaceError(TracerError):
    """The workspace is missing, locked, or from an incompatible version."""

    exit_code = 3


class UsageError(TracerError):
    """Options that contradict each other or name something that does not exist."""

    exit_code = 2
