"""``tracer report`` and ``exposure --html``: self-contained, reproducible, numbers that add up."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tests.conftest import ROOT, SAMPLE, SAMPLE_DATA, SAMPLE_LABELS
from tests.output.offline_html import assert_offline
from tests.output.report_case import SCAM
from tracer.cli import cli
from tracer.core.decimal_text import table_text
from tracer.output.report_html import SECTIONS

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")
CREATED = re.compile(r'<time id="created">[^<]*</time>')


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def figure(html: str, name: str, asset: str = "USDT") -> str:
    m = re.search(rf'data-figure="{name}" data-asset="{asset}"[^>]*>([^<]*)<', html)
    assert m, name
    return m.group(1)


@pytest.fixture(scope="module")
def case_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "case.html"
    r = run("report", str(SAMPLE / "case.yaml"), "-o", str(out), "--quiet")
    assert r.exit_code == 0, r.output
    return out


@needs_dot
def test_report_is_self_contained_with_every_section(case_report: Path) -> None:
    html = case_report.read_text()
    assert_offline(html)
    for sid, _ in SECTIONS:
        assert f'<section id="{sid}">' in html
    assert '<div class="figure" id="flow-graph">\n<svg' in html
    assert 'id="timeline-svg"' in html
    assert "Guarantee marketplace merchant 2" in html
    # the strongest path to it: every hop's tx hash, chain and time
    assert "1bcc754f8f39bece8744688776f557b999c02413ab468a4209a01b5e0cfee420" in html
    assert "2024-03-09T08:15:00Z" in html
    assert "Clayton" in html  # the FIFO rule's source, in the method statement


@needs_dot
def test_report_totals_equal_the_ledger_beside_it(case_report: Path) -> None:
    html = case_report.read_text()
    ledger_file = case_report.with_name("case.ledger.parquet")
    digest = hashlib.sha256(ledger_file.read_bytes()).hexdigest()
    assert f'<code id="ledger-sha256">{digest}</code>' in html
    led = pl.read_parquet(ledger_file)
    reached_keys = set(re.findall(r"<h3>[^<]*<code>(T[1-9A-Za-z]{33})</code>", html))
    assert reached_keys
    seeded = led.filter(pl.col("is_seed"))["tainted"].sum()
    to_services = led.filter(pl.col("dst").is_in(list(reached_keys)))["tainted"].sum()
    assert figure(html, "traced_total") == f"{table_text(seeded, 6)} USDT" == "115,000 USDT"
    assert figure(html, "reached") == f"{table_text(to_services, 6)} USDT" == "60,000 USDT"
    assert figure(html, "ledger_seeded") == figure(html, "traced_total")
    assert figure(html, "ledger_to_services") == figure(html, "reached")
    hops = [float(v) for v in re.findall(r'data-figure="hop_to_services"[^>]*data-value="([^"]+)"',
                                         html)]  # fmt: skip
    assert sum(hops) == pytest.approx(to_services)
    held = led.filter(pl.col("dst").is_in(["TX8mknPbLmF3pnobYpTMCHz26jYrkfUAMx"]))
    assert held.height > 0
    assert f"{led.height:,} rows" in html


@needs_dot
def test_same_case_same_report_apart_from_its_creation_time(case_report: Path) -> None:
    first = case_report.read_text()
    first_ledger = case_report.with_name("case.ledger.parquet").read_bytes()
    # a second process (another hash seed: no set or dict order may leak into the report)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-m", "tracer.cli", "report", str(SAMPLE / "case.yaml"),
                    "-o", str(case_report), "--quiet"], check=True, env=env, cwd=ROOT)  # fmt: skip
    second = case_report.read_text()
    assert CREATED.search(first) and CREATED.search(second)
    assert CREATED.sub("", first) == CREATED.sub("", second)
    assert case_report.with_name("case.ledger.parquet").read_bytes() == first_ledger


@needs_dot
def test_provenance_names_inputs_with_hashes_and_the_command(case_report: Path) -> None:
    html = case_report.read_text()
    for f in [*SAMPLE_DATA, SAMPLE_LABELS, SAMPLE / "case.yaml"]:
        assert hashlib.sha256(f.read_bytes()).hexdigest() in html
    cmd = re.search(r'<code id="reproduce">([^<]*)</code>', html)
    assert cmd and cmd.group(1).startswith("tracer report ") and "case.yaml" in cmd.group(1)
    case = json.loads(re.search(r'<pre id="case-file">([^<]*)</pre>', html).group(1)  # type: ignore[union-attr]
                      .replace("&#34;", '"').replace("&#39;", "'"))  # fmt: skip
    assert case["sources"] == [SCAM] and case["model"] == "fifo"


@needs_dot
def test_addresses_with_follow_options_make_the_same_trace(tmp_path: Path) -> None:
    out = tmp_path / "a.html"
    data = [a for p in SAMPLE_DATA for a in ("--data", str(p))]
    r = run("report", SCAM, "--model", "fifo", *data, "--labels", str(SAMPLE_LABELS),
            "-o", str(out), "--graph-top-k", "1", "--quiet")  # fmt: skip
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert_offline(html)
    assert figure(html, "reached") == "60,000 USDT"
    assert "Collapsed: USDT:" in html and "merged" in html


def test_case_file_options_are_not_overridden_on_the_command_line(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["report", str(SAMPLE / "case.yaml"), "--model", "haircut",
                                 "-o", str(tmp_path / "x.html")])  # fmt: skip
    assert r.exit_code == 2
    assert "--model" in r.output and "case file" in r.output


def test_report_wants_an_html_name(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["report", str(SAMPLE / "case.yaml"), "-o",
                                 str(tmp_path / "x.pdf")])  # fmt: skip
    assert r.exit_code == 2 and "FILE.html" in r.output


def test_pdf_without_chromium_says_so_before_any_work(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRACER_CHROMIUM", str(tmp_path / "no-such-browser"))
    out = tmp_path / "x.html"
    r = CliRunner().invoke(cli, ["report", str(SAMPLE / "case.yaml"), "-o", str(out), "--pdf"])
    assert r.exit_code == 2
    assert "apt-get install chromium" in r.output
    assert not out.exists()


@needs_dot
def test_label_text_is_escaped(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    text = SAMPLE_LABELS.read_text().replace("Exchange B (deposit)", "<script>alert(1)</script>")
    labels.write_text(text)
    out = tmp_path / "x.html"
    data = [a for p in SAMPLE_DATA for a in ("--data", str(p))]
    r = run("report", SCAM, "--model", "fifo", *data, "--labels", str(labels), "-o", str(out),
            "--quiet")  # fmt: skip
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert_offline(html)


@needs_dot
def test_follow_graph_option_writes_the_picture(tmp_path: Path) -> None:
    out = tmp_path / "g.svg"
    data = [a for p in SAMPLE_DATA for a in ("--data", str(p))]
    r = CliRunner().invoke(cli, ["follow", SCAM, "--model", "fifo", *data, "--labels",
                                 str(SAMPLE_LABELS), "--graph", str(out), "--graph-top-k", "1",
                                 "--format", "json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert out.read_text().lstrip().startswith("<?xml") and "20,000 USDT" in out.read_text()
    assert "collapsed: USDT: 5 flows" in r.output  # stderr is mixed in by CliRunner


def test_follow_graph_refuses_an_unknown_suffix_before_tracing(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["follow", SCAM, "--data", str(SAMPLE_DATA[0]), "--graph",
                                 str(tmp_path / "g.gif")])  # fmt: skip
    assert r.exit_code == 2 and ".svg" in r.output


def test_exposure_html_is_offline_and_counts_every_address(tmp_path: Path) -> None:
    out = tmp_path / "exp.html"
    data = [a for p in SAMPLE_DATA for a in ("--data", str(p))]
    r = run("exposure", "--all", "--html", str(out), *data, "--labels", str(SAMPLE_LABELS),
            "--quiet")  # fmt: skip
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert_offline(html)
    for sid in ("summary", "scores", "split", "top", "provenance"):
        assert f'<section id="{sid}">' in html
    blocks = html.split("<h3>Direction ")[1:]
    assert len(blocks) == 2
    for b in blocks:
        n = int(re.match(r"\w+ \(([\d,]+) addresses\)", b).group(1).replace(",", ""))  # type: ignore[union-attr]
        bins = re.findall(r'data-figure="score_bin">([\d,]+)<', b.split("</table>")[0])
        assert len(bins) == 11 and sum(int(x.replace(",", "")) for x in bins) == n == 25
    assert "Exchange C (hot wallet)" in html


@needs_dot
def test_workspace_report_names_its_generation(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    assert run("ingest", "-w", ws, *map(str, SAMPLE_DATA), "--quiet").exit_code == 0
    assert run("labels", "add", "-w", ws, str(SAMPLE_LABELS)).exit_code == 0
    out = tmp_path / "w.html"
    r = run("report", SCAM, "-w", ws, "--model", "fifo", "-o", str(out), "--quiet")
    assert r.exit_code == 0, r.output
    html = out.read_text()
    from tracer.store.workspace import Workspace

    gen = Workspace.open(ws).manifest()["generation"]
    assert f'generation <span id="generation">{gen}</span>' in html
    assert str(Path(ws).resolve()) in html
    assert figure(html, "reached") == "60,000 USDT"
