"""YAML for untrusted files: PyYAML's safe loader, with nesting and alias expansion bounded.

Why: a TagPack is third-party data. PyYAML's safe loaders never build arbitrary objects or run
code, but they do expand aliases, so a few hundred bytes (the "billion laughs" shape: nine lists
of nine aliases of the previous list) describe 9^9 values; whatever walks or prints the result
(``str()``, a merge, a copy) then runs for minutes and takes gigabytes. Deep enough nesting
(``[`` x 100,000) makes libyaml's composer overflow the C stack (a segmentation fault, not an
exception). So the *event stream* is checked first (libyaml produces it incrementally and the
check stops at the first breach), and only a document within the bounds is composed.

Plain scalars stay text (only ``~``/``null``/empty are null): YAML 1.1 would read an unquoted
``0x5aaeb...`` address as a hexadecimal integer and ``yes``/``on`` labels as booleans, silently
changing what the file says. Quoted or explicitly tagged values are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

try:  # libyaml's C parser when PyYAML was built with it (20x faster on MB-sized TagPacks)
    from yaml import CSafeLoader as _SafeBase
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _SafeBase  # type: ignore[assignment]

_NOT_TEXT = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:value",
}


class TextSafeLoader(_SafeBase):  # type: ignore[misc, valid-type]
    """PyYAML's safe loader whose untagged plain scalars are strings (or null)."""


TextSafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _NOT_TEXT]
    for first, resolvers in _SafeBase.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class YamlLimits:
    """How much structure an untrusted YAML document may have.

    ``max_alias_nodes`` is the number of values all aliases together may add when expanded (a
    TagPack that shares a header block through ``<<: *defaults`` a few hundred times fits; an
    alias bomb does not). No published GraphSense TagPack uses anchors at all (checked: the 25
    packs and the actor pack of graphsense-tagpacks), and their nesting depth is at most 6.
    """

    max_depth: int = 32
    max_alias_nodes: int = 10_000


LIMITS = YamlLimits()


class YamlRejected(ValueError):
    """The document breaks a :class:`YamlLimits` bound (``line`` is 1-based)."""

    def __init__(self, reason: str, line: int) -> None:
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}")


def check_structure(text: str, limits: YamlLimits = LIMITS) -> None:
    """Walk the event stream and raise :class:`YamlRejected` on the first breach of ``limits``.

    The size each anchor stands for is counted as its node closes, so an alias's expansion is
    known in O(1) when it is met; a recursive alias (to a node still open) is refused outright.
    Raises ``yaml.YAMLError`` for malformed YAML, as the loader would.
    """
    sizes: dict[str, int] = {}
    stack: list[list[Any]] = [[None, 0]]  # per open collection: [anchor, values inside]
    added = 0
    for event in yaml.parse(text, Loader=TextSafeLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.CollectionStartEvent):
            if len(stack) > limits.max_depth:
                raise YamlRejected(f"nested deeper than {limits.max_depth} levels", line)
            stack.append([event.anchor, 1])
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, n = stack.pop()
            if anchor is not None:
                sizes[anchor] = n
            stack[-1][1] += n
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                sizes[event.anchor] = 1
            stack[-1][1] += 1
        elif isinstance(event, yaml.AliasEvent):
            n = sizes.get(event.anchor)
            if n is None:
                raise YamlRejected(
                    f"alias *{event.anchor} refers to an undefined anchor or to the node that "
                    "contains it (a recursive alias)", line
                )  # fmt: skip
            added += n
            if added > limits.max_alias_nodes:
                raise YamlRejected(
                    f"aliases expand to more than {limits.max_alias_nodes:,} values (a YAML "
                    "alias bomb?); write the values out instead of aliasing them", line
                )  # fmt: skip
            stack[-1][1] += n


def load(text: str, limits: YamlLimits = LIMITS) -> Any:
    """One YAML document, safely: checked against ``limits``, then built by the safe loader.

    Raises :class:`YamlRejected` or ``yaml.YAMLError`` (malformed YAML, several documents,
    tags the safe loader does not build such as ``!!python/object``).
    """
    check_structure(text, limits)
    loader = TextSafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
