"""The package version, in the lowest layer so every stage (reports, file metadata, the CLI)
can stamp it without importing the top-level package (which imports upward, lazily)."""

from __future__ import annotations

__version__ = "0.1.0"
