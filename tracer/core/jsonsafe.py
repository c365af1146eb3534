"""JSON parsing that cannot crash the process, whatever the bytes.

Why: Python's JSON decoder recurses once per nesting level and stops at the interpreter's
recursion limit with a ``RecursionError`` (bad input, reported as such). But importing web3 raises
that limit to 100,000, far past what the C stack holds, so ``[`` × 100,000 in a user's file would
end the process with a segmentation fault instead of an error. Every JSON tracer reads from a user
(exports, label files, manifests, checkpoints) goes through :func:`parse`, which caps the recursion
limit at :data:`MAX_NESTING` levels above the caller for the duration of the parse.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

#: Deepest nesting a JSON document may have (real exports nest fewer than 20 levels).
MAX_NESTING = 1000


@contextlib.contextmanager
def nesting_cap() -> Iterator[None]:
    """Lower the recursion limit to the caller's depth + :data:`MAX_NESTING` while inside."""
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    old = sys.getrecursionlimit()
    new = depth + MAX_NESTING + 50  # a margin for the decoder's own frames
    if new >= old:
        yield
        return
    sys.setrecursionlimit(new)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def parse(data: bytes | str, *, floats_as_text: bool = False) -> Any:
    """``json.loads`` under :func:`nesting_cap`; with ``floats_as_text`` float literals stay text.

    Raises what ``json.loads`` raises on bad input (``ValueError`` subclasses, ``RecursionError``).
    """
    with nesting_cap():
        if floats_as_text:
            return json.loads(data, parse_float=str, parse_constant=str)
        return json.loads(data)
