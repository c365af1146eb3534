"""``tracer report``: a self-contained HTML case report (and PDF) of a trace or a case file.

Both forms become one :class:`tracer.output.case_file.Case` (the addresses and options given
here, or the case file), so they run the same code and the report embeds the case it ran.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from tracer.cli.app import cli, err_console
from tracer.cli.graph_options import CollapseChoice, collapse_options
from tracer.cli.options import DataChoice, build_selection, data_options, selection_options
from tracer.core.errors import UsageError
from tracer.graph.spec import Selection

#: Options a case file holds: given on the command line beside a case file they are refused
#: (two sources for one setting would make the report ambiguous to re-run).
CASE_OWNED = ("sources_file", "model", "top_paths", "use_entities", "direction", "asset", "since",
              "until", "through", "max_hops", "min_amount", "data_files", "label_files",
              "label_category", "workspace", "title", "graph_min_amount", "graph_top_k",
              "graph_max_edges", "cross_asset", "infer_otc")  # fmt: skip


#: Options taken as they are from ``tracer follow`` (the same objects: same names, defaults, help).
FOLLOW_PARAMS = ("sources_file", "model", "top_paths", "use_entities", "cross_asset", "infer_otc")


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
    return data_options(selection_options(collapse_options(f)))


def _add_follow_params(cmd: click.Command) -> click.Command:
    """Give ``cmd`` follow's own trace options (after its arguments)."""
    from tracer.cli.follow import follow as follow_cmd

    shared = [p for p in follow_cmd.params if p.name in FOLLOW_PARAMS]
    assert len(shared) == len(FOLLOW_PARAMS), "tracer follow renamed an option report reuses"
    at = next(i for i, p in enumerate(cmd.params) if p.name == "direction") + 1
    cmd.params[at:at] = shared
    return cmd


def _case_from_options(
    targets: tuple[str, ...], params: dict[str, Any], collapse: CollapseChoice
) -> Any:
    """The case the command line describes. ``params`` are the options as typed (Click's
    ``ctx.params``), so the embedded case re-runs with exactly what was given."""
    from tracer.cli.options import parse_through
    from tracer.output.case_file import Case, GraphOptions
    from tracer.sources.labels import read_address_list

    sources = list(targets)
    if params.get("sources_file"):
        sources += read_address_list(params["sources_file"])
    if not sources:
        raise UsageError("give ADDRESS(es), --sources FILE, or a CASE file (.yaml, .toml)")
    return Case(
        sources=sources, title=params.get("title"), direction=params["direction"],
        model=params["model"], asset=params.get("asset"), since=params.get("since"),
        until=params.get("until"), through=list(parse_through(params.get("through"))),
        max_hops=params.get("max_hops"), min_amount=params.get("min_amount") or 0.0,
        top_paths=params["top_paths"], entities=bool(params.get("use_entities")),
        cross_asset=bool(params.get("cross_asset", True)), infer_otc=bool(params.get("infer_otc")),
        data=list(params.get("data_files") or ()), labels=list(params.get("label_files") or ()),
        label_category=params.get("label_category"),
        workspace=str(params["workspace"]) if params.get("workspace") else None,
        graph=GraphOptions(collapse.min_amount, collapse.top_k, collapse.max_edges),
    )  # fmt: skip


def _case_selection(case: Any, stream: bool | None) -> Selection:
    """The case's selection, parsed as the command line's would be."""
    return build_selection(
        case.asset, case.since, case.until, ",".join(case.through) or "none", case.max_hops,
        case.min_amount, stream,
    )


def _case_data(case: Any, data: DataChoice) -> DataChoice:
    """The case's inputs, read with the command line's read options."""
    return replace(
        data, workspace=Path(case.workspace) if case.workspace else None,
        data_files=tuple(case.data), label_files=tuple(case.labels),
        label_category=case.label_category,
    )  # fmt: skip


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


def _inputs(case: Any, data: DataChoice, sources_file: str | None,
            case_path: str | None) -> list[Any]:
    from tracer.output.report_html import InputFile

    files: list[tuple[str, str | None]] = [("case", case_path)]
    files += [("sources", sources_file)] if sources_file else []
    files += [("data", p) for p in case.data] + [("labels", p) for p in case.labels]
    files += [("tokens", p) for p in data.read.token_files]
    if data.read.blocks_file:
        files.append(("blocks", data.read.blocks_file))
    return [InputFile.of(role, p) for role, p in files if p]


@_add_follow_params
@cli.command()
@_trace_options
def report(
    targets: tuple[str, ...],
    output: str,
    pdf: bool,
    title: str | None,
    direction: str,
    sources_file: str | None,
    model: str,
    top_paths: int,
    use_entities: bool,
    cross_asset: bool,
    infer_otc: bool,
    collapse: CollapseChoice,
    selection: Selection,
    data: DataChoice,
) -> None:
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
    from tracer.cli.data import open_data
    from tracer.cli.progress import terminal
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
        case = _case_from_options(targets, ctx.params, collapse)
    quiet = data.quiet
    case_data = _case_data(case, data)
    ws = open_data(case_data)
    result = follow(
        ws, case.sources, _case_selection(case, selection.stream), model=case.model,
        top_paths=case.top_paths, ledger=True, direction=case.direction,
        entities=True if case.entities else None, progress=terminal(quiet),
        cross_asset=case.cross_asset, infer_otc=case.infer_otc,
    )  # fmt: skip
    prov = Provenance(
        command=["tracer", *ctx.meta.get("tracer.argv", [])],
        inputs=_inputs(case, case_data, sources_file, case_path),
        workspace=_workspace_desc(ws), label_set_sha256=label_set_hash(ws.labels()),
        labels=int(ws.labels().height), version=__version__,
    )  # fmt: skip
    g = case.graph
    files = write_case_report(result, case, prov, output,
                              CollapseRules(g.min_amount, g.top_k, g.max_edges))  # fmt: skip
    if not quiet:
        err = err_console()
        err.print(f"report → {files.html} (ledger {files.ledger}, sha256 "
                  f"{files.ledger_sha256[:12]}…)")  # fmt: skip
        for w in result.warnings:
            err.print(f"[yellow]Warning: {w['message']}[/yellow]")
    if pdf:
        out = print_pdf(files.html, files.html.with_suffix(".pdf"))
        if not quiet:
            err_console().print(f"PDF → {out}")
