"""A case file: the few lines that say what a report traced, so ``tracer report CASE`` re-runs it.

Why a file and not only a command line: a case outlives the shell it was typed in. An
investigator hands the case file (and the exports it names) to a colleague, a court expert or
their future self, and the same case on the same workspace gives the same report, byte for byte
apart from its creation time. YAML (``.yaml``/``.yml``) or TOML (``.toml``); the keys mirror the
options of ``tracer follow``. Relative paths are read from the case file's folder, so a case
folder moves as one.

```yaml
title: Pig-butchering collection wallet, March 2024
sources: [TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx]
model: fifo
data: [trongrid_scam_wallet.json, trongrid_downstream.json]
labels: [labels.csv]
notes: Victims' reports 1-6.
```

A key the reader does not know is an error naming the file and the key (a misspelt
``max_hop`` must not silently trace without a hop limit).
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from tracer.core import bounded_yaml
from tracer.core.errors import InputError

CASE_SUFFIXES = (".yaml", ".yml", ".toml")


@dataclass
class GraphOptions:
    """The flow graph's collapse rules (:class:`tracer.output.graph.CollapseRules`)."""

    min_amount: float = 0.0
    top_k: int | None = 8
    max_edges: int | None = 250


@dataclass
class Case:
    """What a report traces. Field names are ``tracer follow``'s option names."""

    sources: list[str] = field(default_factory=list)
    title: str | None = None
    notes: str | None = None
    direction: str = "forward"
    model: str = "haircut"
    asset: str | None = None
    since: str | None = None
    until: str | None = None
    through: list[str] = field(default_factory=lambda: ["otc_desk", "swap", "bridge"])
    max_hops: int | None = None
    min_amount: float = 0.0
    top_paths: int = 3
    entities: bool = False
    #: follow through swaps, wraps and bridges (``--no-cross-asset``: stop at them)
    cross_asset: bool = True
    #: also through inferred OTC pass-throughs (marked inferred everywhere)
    infer_otc: bool = False
    data: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    label_category: str | None = None
    workspace: str | None = None
    graph: GraphOptions = field(default_factory=GraphOptions)

    def to_dict(self) -> dict[str, Any]:
        """The case as plain data (the report embeds it, so it can be saved and re-run)."""
        return asdict(self)


_TYPES: dict[str, tuple[type, ...]] = {
    "sources": (list,), "title": (str,), "notes": (str,), "direction": (str,),
    "model": (str,), "asset": (str,), "since": (str,), "until": (str,),
    "through": (list, str), "max_hops": (int,), "min_amount": (int, float),
    "top_paths": (int,), "entities": (bool,), "cross_asset": (bool,), "infer_otc": (bool,),
    "data": (list,), "labels": (list,),
    "label_category": (str,), "workspace": (str,), "graph": (dict,),
}  # fmt: skip
_BOOL_TEXT = {"true": True, "false": False, "yes": True, "no": False}


def _coerce(file: str, key: str, value: Any, types: tuple[type, ...]) -> Any:
    """YAML plain scalars arrive as text (:mod:`tracer.core.bounded_yaml`): read numbers and
    booleans where the key wants one, and refuse anything else with the file and key named."""
    is_bool_for_number = isinstance(value, bool) and bool not in types
    if value is None or (isinstance(value, types) and not is_bool_for_number):
        return value
    if isinstance(value, str):
        text = value.strip()
        if bool in types and text.lower() in _BOOL_TEXT:
            return _BOOL_TEXT[text.lower()]
        if int in types:
            try:
                return int(text)
            except ValueError:
                pass
        if float in types:
            try:
                return float(text)
            except ValueError:
                pass
    want = " or ".join("list" if t is list else t.__name__ for t in types)
    raise InputError(file, None, key, f"expected {want}, got {value!r}")


def _read(path: Path) -> dict[str, Any]:
    file = str(path)
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            doc: Any = tomllib.loads(text)
        else:
            doc = bounded_yaml.load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, bounded_yaml.YamlRejected) as exc:
        raise InputError(file, None, None, f"cannot read the case file: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError(file, None, None, "a case file is a mapping (sources, model, ...)")
    return doc


def _paths(base: Path, values: list[Any], file: str, key: str) -> list[str]:
    out = []
    for v in values:
        if not isinstance(v, str):
            raise InputError(file, None, key, f"expected a file path, got {v!r}")
        p = Path(v)
        out.append(str(p if p.is_absolute() else base / p))
    return out


def read_case(path: str | Path) -> Case:
    """Read and check a case file (errors name the file and the key: exit code 2)."""
    path = Path(path)
    file = str(path)
    if path.suffix.lower() not in CASE_SUFFIXES:
        raise InputError(file, None, None, f"a case file ends in {', '.join(CASE_SUFFIXES)}")
    doc = _read(path)
    known = {f.name for f in fields(Case)}
    for key in doc:
        if key not in known:
            known_keys = ", ".join(sorted(known))
            raise InputError(file, None, str(key), f"unknown key; a case file knows: {known_keys}")
    values = {k: _coerce(file, k, v, _TYPES[k]) for k, v in doc.items()}
    if isinstance(values.get("through"), str):
        values["through"] = [t.strip() for t in values["through"].split(",") if t.strip()]
    graph = values.pop("graph", None) or {}
    gknown = {f.name for f in fields(GraphOptions)}
    for key in graph:
        if key not in gknown:
            raise InputError(file, None, f"graph.{key}",
                             f"unknown key; graph knows: {', '.join(sorted(gknown))}")  # fmt: skip
    gopts = GraphOptions(**{
        k: _coerce(file, f"graph.{k}", v, (int,) if k != "min_amount" else (int, float))
        for k, v in graph.items()
    })  # fmt: skip
    base = path.resolve().parent
    for key in ("data", "labels"):
        if key in values:
            values[key] = _paths(base, values[key] or [], file, key)
    if values.get("workspace"):
        values["workspace"] = _paths(base, [values["workspace"]], file, "workspace")[0]
    for key in ("sources", "through"):
        if key in values:
            values[key] = [str(v) for v in values[key] or []]
    case = Case(**values, graph=gopts)
    if not case.sources:
        raise InputError(file, None, "sources", "a case needs at least one source address")
    if case.direction not in ("forward", "backward"):
        raise InputError(file, None, "direction", "forward or backward")
    for p in [*case.data, *case.labels]:
        if not Path(p).is_file():
            raise InputError(file, None, "data" if p in case.data else "labels",
                             f"no such file: {p}")  # fmt: skip
    return case
