"""What "self-contained" means for a report, checked on its text (shared by the report tests)."""

from __future__ import annotations

import re

#: Anything that would make a browser fetch something, or name an address outside the file.
FORBIDDEN = [
    r"https?://", r"ftp://", r"\bsrc\s*=", r"<script", r"<link", r"<img", r"<iframe",
    r"<object", r"<embed", r"@import", r"url\(", r"@font-face", r"xlink:href", r"//[a-z0-9.-]+\.",
]  # fmt: skip


def assert_offline(html: str) -> None:
    for pattern in FORBIDDEN:
        hit = re.search(pattern, html, re.I)
        assert hit is None, f"external reference {pattern!r}: ...{html[max(0, hit.start() - 60):hit.end() + 60]}..."  # noqa: E501
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith("#"), href
