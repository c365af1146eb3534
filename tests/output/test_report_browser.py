"""The sample case's report in a real browser: headless Chromium driven by Selenium.

Why a browser and not only text checks: the report is read on screen and printed. Chromium
parses it as a person's browser would: a console error, a section the DOM lacks, a blank page
or a failing print is caught here. Skips (with the reason) where Chromium, its driver or the
selenium package is absent; ``.ci/run`` installs Debian's ``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import SAMPLE
from tracer.cli import cli
from tracer.output.pdf import HEADLESS_FLAGS, find_chromium
from tracer.output.report_html import SECTIONS

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
Image = pytest.importorskip("PIL.Image", reason="pillow is not installed")

CHROMIUM = find_chromium()
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install "
                       "chromium)"),
    pytest.mark.skipif(DRIVER is None, reason="chromedriver is not installed (apt-get install "
                       "chromium-driver)"),
    pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed"),
]  # fmt: skip


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "case.html"
    r = CliRunner().invoke(cli, ["report", str(SAMPLE / "case.yaml"), "-o", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for flag in HEADLESS_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('profile')}")
    opts.add_argument("--window-size=1280,2000")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=str(DRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page(browser, report_file: Path):  # type: ignore[no-untyped-def]
    browser.get(report_file.resolve().as_uri())
    return browser


def test_no_console_errors(page) -> None:  # type: ignore[no-untyped-def]
    errors = [e for e in page.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    # and the log works: a deliberate error is seen (so an empty list means something)
    page.execute_script("console.error('probe')")
    assert any("probe" in e["message"] for e in page.get_log("browser"))


def test_svg_graph_and_every_section_in_the_dom(page) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    for sid, title in SECTIONS:
        el = page.find_element(By.ID, sid)
        assert el.tag_name == "section"
        assert title in el.find_element(By.TAG_NAME, "h2").text
    svg = page.find_element(By.CSS_SELECTOR, "#flow-graph svg")
    assert svg.size["width"] > 300 and svg.size["height"] > 50
    nodes = page.find_elements(By.CSS_SELECTOR, "#flow-graph svg g.node")
    edges = page.find_elements(By.CSS_SELECTOR, "#flow-graph svg g.edge")
    assert len(nodes) == 12 and len(edges) == 11
    assert page.find_elements(By.CSS_SELECTOR, "#timeline-svg rect")
    # nothing was fetched: the only resource is the file itself
    urls = page.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert urls == []


def test_screenshot_is_not_blank(page) -> None:  # type: ignore[no-untyped-def]
    from PIL import ImageStat

    png = page.get_screenshot_as_png()
    img = Image.open(io.BytesIO(png)).convert("L")
    stat = ImageStat.Stat(img)
    assert img.size[0] >= 1000
    assert stat.var[0] > 100  # a blank (one-colour) page has variance 0


def test_print_to_pdf(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import base64

    from selenium.webdriver.common.print_page_options import PrintOptions

    pdf = base64.b64decode(page.print_page(PrintOptions()))
    assert pdf.startswith(b"%PDF")
    assert pdf.count(b"/Type /Page") >= 3 or pdf.count(b"/Type/Page") >= 3


def test_tracer_pdf_option_prints_with_chromium(report_file: Path, tmp_path: Path) -> None:
    from tracer.output.pdf import print_pdf

    out = print_pdf(report_file, tmp_path / "case.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 10_000
