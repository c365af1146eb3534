"""``tracer report``: a self-contained HTML case report (and PDF) of a trace or a case file.

Both forms become one :class:`tracer.output.case_file.Case` (the addresses and options given
here, or the case file), so they run the same code and the report embeds the case it ran.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tracer.cli.app import _err, _selection, _through, _workspace, cli, data_options
from tracer.cli.app import selection_options as _selection_options
from tracer.cli.graph_options import collapse_options
from tracer.core.errors import UsageError
from tracer.sources.labels import read_address_list

#: Options a case file holds: given on the command line beside a case file they are refused
#: (two sources for one setting would make the report ambiguous to re-run).
CASE_OWNED = ("sources_file", "model", "top_paths", "use_entities", "direction", "asset", "since",
              "until", "through", "max_hops", "min_amount", "data_files", "label_files",
              "label_category", "workspace", "title", "graph_min_amount", "graph_top_k",
              "graph_max_edges")  # fmt: skip


#: Options taken as they are from ``tracer follow`` (the same objects: same names, defaults, help).
FOLLOW_PARAMS = ("sources_file", "model", "top_paths", "use_entities")


def _trace_options(f: Any) -> Any:
    opts = [
        click.argument("targets", nargs=-1),
        click.option("--output", "-o", required=True, help="The report: FILE.html (the ledger "
                     "is written beside it as FILE.ledger.parquet)."),
        click.option("--pdf", is_flag=True, help="Also print it to FILE.pdf (headless Chromium)."),
        click.option("--title", default=None, help="The report's title."),
        click.option("--direction", type=click.Choice(["forward", "backward"]), default="forward",
                     show_default=True, help="forward: where it went (follow); backward: where "
                     "it came from (source)."),
    ]  # fmt: skip
    for o in reversed(opts):
        f = o(f)
    return data_options(_selection_options(collapse_options(f)))


def _add_follow_params(cmd: click.Command) -> click.Command:
    """Give ``cmd`` follow's own trace options (after its arguments)."""
    from tracer.cli.follow import follow as follow_cmd

    shared = [p for p in follow_cmd.params if p.name in FOLLOW_PARAMS]
    assert len(shared) == len(FOLLOW_PARAMS), "tracer follow renamed an option report reuses"
    at = next(i for i, p in enumerate(cmd.params) if p.name == "direction") + 1
    cmd.params[at:at] = shared
    return cmd


def _case_from_options(targets: tuple[str, ...], kw: dict[str, Any]) -> Any:
    from tracer.output.case_file import Case, GraphOptions

    sources = list(targets)
    if kw.get("sources_file"):
        sources += read_address_list(kw["sources_file"])
    if not sources:
        raise UsageError("give ADDRESS(es), --sources FILE, or a CASE file (.yaml, .toml)")
    return Case(
        sources=sources, title=kw.get("title"), direction=kw["direction"], model=kw["model"],
        asset=kw.get("asset"), since=kw.get("since"), until=kw.get("until"),
        through=list(_through(kw.get("through"))), max_hops=kw.get("max_hops"),
        min_amount=kw.get("min_amount") or 0.0, top_paths=kw["top_paths"],
        entities=bool(kw.get("use_entities")), data=list(kw.get("data_files") or ()),
        labels=list(kw.get("label_files") or ()), label_category=kw.get("label_category"),
        workspace=str(kw["workspace"]) if kw.get("workspace") else None,
        graph=GraphOptions(kw["graph_min_amount"], kw["graph_top_k"], kw["graph_max_edges"]),
    )  # fmt: skip


def _case_options(case: Any, kw: dict[str, Any]) -> dict[str, Any]:
    """The case as the option values the shared helpers read (``_workspace``, ``_selection``)."""
    return {
        **kw, "asset": case.asset, "since": case.since, "until": case.until,
        "through": ",".join(case.through) or "none", "max_hops": case.max_hops,
        "min_amount": case.min_amount, "data_files": tuple(case.data),
        "label_files": tuple(case.labels), "label_category": case.label_category,
        "workspace": case.workspace,
    }  # fmt: skip


def _refuse_case_overrides(ctx: click.Context) -> None:
    from click.core import ParameterSource

    given = [p.opts[0] for p in ctx.command.params
             if p.name in CASE_OWNED
             and ctx.get_parameter_source(p.name) == ParameterSource.COMMANDLINE]  # fmt: skip
    if given:
        raise UsageError(
            f"{', '.join(given)}: a case file holds the trace's options; edit the case file "
            "instead (or give addresses instead of a case file)"
        )


def _inputs(case: Any, kw: dict[str, Any], case_path: str | None) -> list[Any]:
    from tracer.output.report_html import InputFile

    files: list[tuple[str, str | None]] = [("case", case_path)]
    files += [("sources", kw.get("sources_file"))] if kw.get("sources_file") else []
    files += [("data", p) for p in case.data] + [("labels", p) for p in case.labels]
    files += [("tokens", p) for p in kw.get("token_files") or ()]
    if kw.get("blocks_file"):
        files.append(("blocks", kw["blocks_file"]))
    return [InputFile.of(role, p) for role, p in files if p]


@_add_follow_params
@cli.command()
@_trace_options
def report(targets: tuple[str, ...], output: str, pdf: bool, **kw: Any) -> None:
    """Write a self-contained HTML case report: summary, flow graph, hop-by-hop value,
    timeline, services, strongest paths, method, provenance and the audit ledger.

    TARGETS are the addresses to trace (with follow's options), or one case file (.yaml,
    .yml, .toml) that holds them; the same case on the same workspace gives the same report,
    byte for byte, apart from its creation time.

    \b
    Example:
      tracer report fixtures/sample_case/case.yaml -o case.html
      tracer report TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx --model fifo \\
        --data fixtures/sample_case/trongrid_scam_wallet.json \\
        --data fixtures/sample_case/trongrid_downstream.json \\
        --labels fixtures/sample_case/labels.csv -o case.html --pdf
    """
    from tracer.analysis.exposure import _workspace_desc, label_set_hash
    from tracer.analysis.follow import follow
    from tracer.core.version import __version__
    from tracer.output.case_file import CASE_SUFFIXES, read_case
    from tracer.output.graph import CollapseRules
    from tracer.output.pdf import find_chromium, print_pdf
    from tracer.output.report_html import Provenance, write_case_report

    ctx = click.get_current_context()
    if Path(output).suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"-o {output}: the report is HTML; name it FILE.html")
    if pdf and find_chromium() is None:
        print_pdf(output, Path(output).with_suffix(".pdf"))  # raises the clear message, early
    case_path = None
    if len(targets) == 1 and Path(targets[0]).suffix.lower() in CASE_SUFFIXES:
        _refuse_case_overrides(ctx)
        case_path = targets[0]
        case = read_case(case_path)
    else:
        case = _case_from_options(targets, kw)
    opts = _case_options(case, kw)
    ws = _workspace(opts)
    entity_of = None
    if case.entities:
        from tracer.analysis.cluster import entity_labels

        entity_of, _ = entity_labels(ws)
    result = follow(
        ws, case.sources, model=case.model, **_selection(opts), top_paths=case.top_paths,
        ledger=True, direction=case.direction, entities=entity_of, quiet=bool(kw.get("quiet")),
    )  # fmt: skip
    prov = Provenance(
        command=["tracer", *ctx.meta.get("tracer.argv", [])], inputs=_inputs(case, kw, case_path),
        workspace=_workspace_desc(ws), label_set_sha256=label_set_hash(ws.labels()),
        labels=int(ws.labels().height), version=__version__,
    )  # fmt: skip
    g = case.graph
    files = write_case_report(result, case, prov, output,
                              CollapseRules(g.min_amount, g.top_k, g.max_edges))  # fmt: skip
    quiet = kw.get("quiet")
    if not quiet:
        _err().print(f"report → {files.html} (ledger {files.ledger}, sha256 "
                     f"{files.ledger_sha256[:12]}…)")  # fmt: skip
        for w in result.warnings:
            _err().print(f"[yellow]Warning: {w['message']}[/yellow]")
    if pdf:
        out = print_pdf(files.html, files.html.with_suffix(".pdf"))
        if not quiet:
            _err().print(f"PDF → {out}")
