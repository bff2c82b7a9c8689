"""The scorecard at the suite's full size: markdown tables that fit, and scorecard.html, checked as a file
(self-contained, every measure, the evidence as one JSON document, the answers and the trust line first)
and in headless Chromium (sorting reorders the rows, a cell opens its cases, the filters hide rows and
recount; at a desktop, a laptop and a phone size, clicking a header, a family cell and a verdict keeps the
panel and the clicked row in view, screenshots in the test's output).

The browser tests need Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and
selenium; without them they are skipped, except under CI (env ``CI=true``), where they fail.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from reports.baseline import Difference
from reports.answers import Answers, summarise
from reports.html import BaselineComparison, read_comparison, render_html, write_html
from reports.ranking import write_ranking
from reports.scorecard import (
    COUNTS, DESIGN_MARK, HEADER_PLUGIN_ERRORS, HEADER_REFERENCES, MAX_COLUMNS, SET_ASIDE, SUMMARY, error_summary, mark,
    markdown_table, rank_table, score_table, scorecard_markdown,
)  # fmt: skip
from reports.trust import trust_items
from reports.verdicts import VERDICT_COLUMNS
from runner.schema import REFERENCE_COLUMNS

FAMILIES = ("estimator", "networks", "relevance", "symmetry")
VERDICTS = ("pass", "fail", "undecided", "error", SET_ASIDE)
BROKEN_PLUGIN = "broken = broken_plugin"


@dataclass
class FakeRun:
    results: pd.DataFrame
    verdicts: pd.DataFrame
    scores: pd.DataFrame
    errors: pd.DataFrame
    header: dict
    sweeps: dict
    summary: Answers


def fake_run(measures: int = 35, scenarios: int = 20, cases: int = 5, seeds: int = 3, seed: int = 0) -> FakeRun:
    """A run of the suite's final size without computing anything: ``measures`` measures, ``scenarios``
    scenarios per family with two expectations each, verdicts of every kind (premise failures included),
    a measure that fails on some cases, a measure without a reference and a plugin that did not import."""
    rng = np.random.default_rng(seed)
    names = [f"measure_{i:02d}" for i in range(measures)]
    grid = [(family, f"{family}_{j:02d}") for family in FAMILIES for j in range(scenarios)]
    rows = []
    for family, scenario in grid:
        for case in range(cases):
            references = {c: float(rng.uniform()) for c in REFERENCE_COLUMNS}
            for s in range(seeds):
                for metric in names:
                    failed = metric == names[-1] and case == 0
                    rows.append({
                        "metric": metric, "family": family, "scenario": scenario, "case": f"k={case}",
                        "param": float(2 ** case), "seed": s, "value": np.nan if failed else float(rng.uniform()),
                        **references, "time": 1e-3, "error": "ValueError: refused" if failed else "", "meta": "{}",
                    })  # fmt: skip
    results = pd.DataFrame(rows)
    records = []
    for family, scenario in grid:
        for expectation, kind in (("invariant", "invariant"), ("tracks_stitching", "tracks_stitching")):
            premise = "fail" if scenario.endswith("_03") and kind == "invariant" else "pass"
            for metric in names:
                verdict = SET_ASIDE if premise == "fail" else VERDICTS[int(rng.integers(0, 4))]
                records.append({
                    "metric": metric, "family": family, "scenario": scenario, "expectation": expectation,
                    "kind": kind, "reference": "stitch", "became": "", "premise": premise, "premise_estimate": 0.3,
                    "premise_ci_low": 0.2, "premise_ci_high": 0.4, "verdict": verdict, "statistic": "spread",
                    "estimate": float(rng.uniform()), "ci_low": 0.1, "ci_high": 0.9, "p_value": 0.01,
                    "threshold": 0.05, "n_seeds": seeds, "n_cases": cases, "n_failed_cases": 0, "detail": "",
                    "reason": f"what the reference does in {scenario}",
                    "design": "symmetric" if verdict == "fail" and family == "symmetry" and metric < "measure_05" else "",
                })  # fmt: skip
    verdicts = pd.DataFrame(records).reindex(columns=list(VERDICT_COLUMNS))
    references = {metric: f"Author et al. {2000 + i}" for i, metric in enumerate(names)}
    references[names[0]] = ""
    header = {
        "profile": "quick",
        "scenarios": f"{len(grid)} in {len(FAMILIES)} families",
        HEADER_REFERENCES: references,
        HEADER_PLUGIN_ERRORS: {BROKEN_PLUGIN: "ImportError: no module named broken_plugin"},
    }
    sweeps = {scenario: "k" for _, scenario in grid}
    use_cases = {scenario: {"networks": "pruned", "symmetry": "synthetic"}.get(family, "") for family, scenario in grid}
    return FakeRun(results, verdicts, score_table(verdicts), error_summary(results), header, sweeps,
                   summarise(verdicts, use_cases, n_resamples=100))


@pytest.fixture(scope="module")
def run() -> FakeRun:
    return fake_run()


def _tables(markdown: str) -> list[list[str]]:
    """The markdown tables of a document, each as its lines."""
    tables, current = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


def _columns(line: str) -> int:
    return len(re.split(r"(?<!\\)\|", line.strip().strip("|")))


def test_no_markdown_table_is_wider_than_twelve_columns(run):
    text = scorecard_markdown(run.scores, run.verdicts, run.header, run.errors)
    tables = _tables(text)
    assert len(tables) > len(FAMILIES) * 20, "one table per family and per scenario"
    widths = {_columns(line) for table in tables for line in table}
    assert max(widths) <= MAX_COLUMNS
    overview = text.split("## Overview")[1].split("## Families")[0]
    assert all(f"| {metric}" in overview for metric in run.scores["metric"].unique())


def test_markdown_sections_how_to_read_set_aside_errors_and_references(run):
    text = scorecard_markdown(run.scores, run.verdicts, run.header, run.errors)
    sections = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert sections[:3] == ["How to read this", "Overview", "Families"]
    assert any(s.startswith("Set aside") for s in sections) and "Errors" in sections and "Measures" in sections
    set_aside = text.split("## Set aside")[1].split("## Errors")[0]
    aside_count = int((run.verdicts["verdict"] == SET_ASIDE).sum())
    assert f"{aside_count} verdict(s) in {len(FAMILIES)} expectation(s)" in set_aside
    errors = text.split("## Errors")[1].split("## Measures")[0]
    assert BROKEN_PLUGIN in errors and "no module named broken_plugin" in errors
    assert "measure_34" in errors and "ValueError: refused" in errors
    measures = text.split("## Measures")[1]
    assert "| measure_00 | no reference" in measures and "Author et al. 2001" in measures
    assert f"- **{HEADER_PLUGIN_ERRORS}**: 1 (see Errors)" in text  # the mapping is not dumped in the header


def test_a_wide_table_is_split_repeating_its_row_labels():
    headers = ["measure", *[f"c{i}" for i in range(20)]]
    text = markdown_table(headers, [["m", *range(20)]], max_columns=8)
    tables = _tables(text)
    assert len(tables) == 3 and all(table[0].startswith("| measure") for table in tables)
    assert max(_columns(line) for table in tables for line in table) == 8
    assert "c19" in tables[-1][0]


def test_set_aside_verdicts_count_neither_way():
    verdicts = pd.DataFrame({
        "metric": ["m"] * 4 + ["n"] * 2, "family": ["f"] * 6,
        "verdict": ["pass", "fail", SET_ASIDE, SET_ASIDE, SET_ASIDE, SET_ASIDE],
    })  # fmt: skip
    scores = score_table(verdicts).set_index(["metric", "family"])
    m = scores.loc[("m", "f")]
    assert (m["passed"], m["failed"], m["set_aside"], m["expectations"], m["score"]) == (1, 1, 2, 2, 0.5)
    n = scores.loc[("n", SUMMARY)]
    assert n["expectations"] == 0 and pd.isna(n["score"]) and n["mark"] == "⊘"
    assert mark(passed=1, failed=0, by_design=0, undecided=0, errors=0, set_aside=3) == "✓"
    assert mark(passed=1, failed=0, by_design=1, undecided=1, errors=0) == DESIGN_MARK


def test_rank_table_ranks_per_family():
    scores = pd.DataFrame({
        "metric": ["a", "b", "c"] * 3, "family": ["f"] * 3 + ["g"] * 3 + [SUMMARY] * 3,
        "score": [0.9, 0.5, 0.5, 0.2, 0.8, np.nan, 0.6, 0.6, 0.5], "expectations": [4] * 9,
    })  # fmt: skip
    ranks = rank_table(scores)
    assert ranks.loc["a", "f"] == 1 and ranks.loc["b", "f"] == ranks.loc["c", "f"] == 2.5  # ties share the mean
    assert ranks.loc["b", "g"] == 1 and pd.isna(ranks.loc["c", "g"])  # no score: no rank
    assert list(ranks.index) == ["a", "b", "c"]  # the overview's order: summary score


def test_ranking_figure_is_a_png_with_a_pdf_and_a_caption(run, tmp_path):
    figure = write_ranking(run.summary.ranked, run.verdicts, tmp_path)
    assert figure.path.name == "ranking.png" and figure.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "ranking.pdf").read_bytes()[:5] == b"%PDF-" and "rank" in figure.caption


def _data(html: str) -> dict:
    blob = re.search(r'<script type="application/json" id="stitchbench-data">(.*?)</script>', html, re.S).group(1)
    return json.loads(blob)


def _render(run, out) -> str:
    """The fake run's page, with its ranking figure, answers and trust line."""
    figures = out / "figures"
    write_ranking(run.summary.ranked, run.verdicts, figures)
    return render_html(run.results, run.verdicts, run.scores, run.errors, run.header, run.sweeps,
                       figure_dir=figures, summary=run.summary,
                       trust=trust_items(run.header, BaselineComparison(), run.verdicts))  # fmt: skip


def test_the_page_opens_with_the_trust_line_and_the_answers(run, tmp_path):
    html = _render(run, tmp_path)
    assert html.index('id="trust"') < html.index('id="answers"') < html.index('id="overview"')
    answers = html.split('id="answers-table"')[1].split("</table>")[0]
    assert "a pruned network against its dense parent" in answers and "other estimator scenarios" in answers
    assert "not compared" in html.split('id="trust"')[1].split("</ul>")[0]


def test_html_is_self_contained_and_carries_the_evidence_as_one_json_document(run, tmp_path):
    html = _render(run, tmp_path)
    sources = re.findall(r'src="([^"]*)"', html)
    assert sources and all(link.startswith("data:") for link in sources), "the page loads nothing from elsewhere"
    links = re.findall(r'href="([^"]*)"', html)
    assert all(link.startswith(("#", "figures/")) for link in links), "links lead within the page or to its PDFs"
    assert not re.search(r"<(?:link|iframe)\b|@import|url\(", html)
    data = _data(html)
    assert data["measures"] == sorted(run.results["metric"].unique())
    assert len(data["verdicts"]["rows"]) == len(run.verdicts)
    scenario = data["scenarios"]["networks_05"]
    assert scenario["cases"] == [f"k={i}" for i in range(5)] and set(scenario["references"]) == set(REFERENCE_COLUMNS)
    expected = run.results.query("scenario == 'networks_05' and metric == 'measure_03' and case == 'k=2'")["value"]
    summary = [expected.mean(), expected.min(), expected.max()]
    assert data["values"]["networks_05"]["measure_03"][2] == pytest.approx(summary, rel=1e-5)
    assert data["values"]["networks_05"]["measure_34"][0] is None
    assert data["failures"]["networks_05"]["measure_34"] == {"k=0": "ValueError: refused"}
    assert data["references"]["measure_00"] == "no reference"
    assert len(html) < 4_000_000, f"{len(html)} bytes at 35 measures x 80 scenarios"
    assert html.count("<tr") < 200, "verdicts are built from the JSON, not written as HTML rows"


def test_comparison_round_trips_and_reaches_the_page(run, tmp_path):
    differences = (Difference("verdict", "measure_01 / symmetry_00 / invariant", "pass", "fail"),
                   Difference("new", "values: measure_02 / symmetry_00 / k=0", None, 0.5))  # fmt: skip
    comparison = BaselineComparison("reports/baseline.json", 1e-4, differences)
    comparison.write(tmp_path)
    assert read_comparison(tmp_path) == comparison
    assert read_comparison(tmp_path / "elsewhere") == BaselineComparison()

    @dataclass
    class Record:
        header: dict
        sweeps: dict

    paths = write_html(run.results, run.verdicts, run.scores, run.errors, Record(run.header, run.sweeps), tmp_path,
                       figures=False)  # fmt: skip
    html = paths[-1].read_text(encoding="utf-8")
    assert "Compared with <code>reports/baseline.json</code>" in html and "<b>1 failing</b>" in html
    assert _data(html)["differences"][0] == {"kind": "verdict", "key": differences[0].key, "baseline": "pass",
                                             "current": "fail", "fails": True}  # fmt: skip


# ---- in a real browser -------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: what Chromium needs to start quickly on a machine without network or display
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")  # fmt: skip


def chromium(width: int = 1500, height: int = 1000):
    """A selenium driver for headless Chromium with a fresh profile (the caller quits it); Debian's
    chromedriver is named explicitly, so Selenium Manager downloads nothing. Skips (fails under CI) when
    the browser, the driver or selenium is missing."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install -e '.[dev]')")
    if missing:
        message = f"headless Chromium needs {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="stitchbench-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def page(run, tmp_path_factory):
    """The fake run's scorecard.html open in headless Chromium."""
    out = tmp_path_factory.mktemp("html")
    (out / "scorecard.html").write_text(_render(run, out), encoding="utf-8")
    driver = chromium()
    driver.set_page_load_timeout(60)
    try:
        driver.get((out / "scorecard.html").as_uri())
        assert driver.execute_script("return document.body.dataset.ready") == "true", "the page's script did not run"
        yield driver
    finally:
        driver.quit()


def _column(driver, table_id: str, index: int) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' tbody tr'))"
        ".map(r => r.cells[arguments[1]].textContent.trim())", table_id, index)  # fmt: skip


def _header(driver, label: str):
    from selenium.webdriver.common.by import By

    return next(th for th in driver.find_elements(By.CSS_SELECTOR, "#overview-table thead th") if th.text == label)


def test_browser_shows_every_measure_and_sorting_reorders_the_rows(page, run):
    initial = _column(page, "overview-table", 1)
    assert sorted(initial) == sorted(run.scores["metric"].unique())
    summary = run.scores[run.scores["family"] == SUMMARY].set_index("metric")["score"]
    assert list(summary[initial]) == sorted(summary, reverse=True), "first rendered best summary first"
    _header(page, "measure").click()
    assert _column(page, "overview-table", 1) == sorted(initial)
    _header(page, "measure").click()
    assert _column(page, "overview-table", 1) == sorted(initial, reverse=True)
    _header(page, "networks").click()  # a number column sorts best first
    networks = run.scores[run.scores["family"] == "networks"].set_index("metric")["score"]
    assert list(networks[_column(page, "overview-table", 1)]) == sorted(networks, reverse=True)
    assert _header(page, "networks").get_attribute("aria-sort") == "descending"


def test_browser_opening_a_cell_shows_its_evidence_and_cases(page, run):
    from selenium.webdriver.common.by import By

    assert page.find_element(By.ID, "evidence").get_attribute("hidden") is not None
    selector = 'button.cell[data-metric="measure_34"][data-scenario="relevance_07"][data-expectation="invariant"]'
    cell = page.find_element(By.CSS_SELECTOR, selector)
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
    cell.click()
    panel = page.find_element(By.ID, "evidence")
    assert panel.is_displayed()
    rows = page.find_elements(By.CSS_SELECTOR, "#evidence-cases tbody tr")
    assert [r.find_element(By.TAG_NAME, "td").text for r in rows] == [f"k={i}" for i in range(5)]
    assert "ValueError: refused" in rows[0].text  # the case this measure failed on, with its message
    verdict = run.verdicts.query("metric == 'measure_34' and scenario == 'relevance_07' and expectation == 'invariant'")
    assert f"{verdict['estimate'].iloc[0]:.4g}"[:5] in panel.text and "premise" in panel.text
    assert page.find_elements(By.CSS_SELECTOR, "#evidence svg polyline"), "the scenario's figure is drawn"
    page.find_element(By.ID, "evidence-close").click()
    assert not panel.is_displayed()


def test_browser_filters_by_measure_and_family(page, run):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    box = page.find_element(By.ID, "measure-filter")
    box.send_keys("measure_1")
    visible = [r for r in page.find_elements(By.CSS_SELECTOR, "#overview-table tbody tr") if r.is_displayed()]
    assert sorted(r.get_attribute("data-metric") for r in visible) == [f"measure_{i}" for i in range(10, 20)]
    box.clear()
    box.send_keys(" ")  # an input event with an empty filter shows every row again
    Select(page.find_element(By.ID, "family-filter")).select_by_value("symmetry")
    blocks = page.find_elements(By.CSS_SELECTOR, ".grid-block")
    shown = [block.get_attribute("data-family") for block in blocks if block.is_displayed()]
    assert shown == ["symmetry"]
    hidden = page.find_elements(By.CSS_SELECTOR, "#overview-table thead th.hidden")
    assert sorted(th.get_attribute("data-family") for th in hidden) == ["estimator", "networks", "relevance"]
    row = page.find_element(By.CSS_SELECTOR, '#overview-table tr[data-metric="measure_07"]')
    counts = [int(cell.text) for cell in row.find_elements(By.CSS_SELECTOR, "td.count")]
    symmetry = run.scores.set_index(["metric", "family"]).loc[("measure_07", "symmetry")]
    assert counts == [int(symmetry[c]) for c in COUNTS], "the counts follow the family filter"
    Select(page.find_element(By.ID, "family-filter")).select_by_value("")
    total = run.scores.set_index(["metric", "family"]).loc[("measure_07", SUMMARY)]
    assert [int(cell.text) for cell in row.find_elements(By.CSS_SELECTOR, "td.count")] == [int(total[c]) for c in COUNTS]


def test_browser_on_the_page_write_reports_writes(tmp_path):
    """The page of a real (tiny) run, verdicts computed by the suite, opens with every measure and a cell
    shows its cases."""
    import metrics
    from selenium.webdriver.common.by import By

    from reports.results import results_table
    from runner.cells import measure_cases
    from reports.run import RunRecord, describe_run, write_reports
    from reports.scales import MeasureScale
    from reports.verdicts import VerdictSettings
    from scenarios.types import Case, Expectation

    cases = []
    for seed in range(3):
        x = np.random.default_rng(seed).normal(size=(40, 4))
        for scale in (1.0, 2.0, 5.0):
            cases.append(Case("symmetry", "scaling", f"scale={scale:g}", seed, x, scale * x, scale, 1.0, 1.0))
    names = ("cka_linear", "procrustes")
    results = results_table([row for name in names for row in measure_cases(name, metrics.get(name), cases)])
    settings = VerdictSettings(n_resamples=200, n_permutations=200)
    record = RunRecord(describe_run(results, settings, {"profile": "quick"}),
                       {name: MeasureScale.from_info(metrics.get(name).info) for name in names},
                       {"scaling": (Expectation("invariant"),)}, {"scaling": "scale"}, settings)  # fmt: skip
    write_reports(results, record, tmp_path, figures=False)
    driver = chromium()
    try:
        driver.get((tmp_path / "scorecard.html").as_uri())
        assert _column(driver, "overview-table", 1) == sorted(names)
        driver.find_element(By.CSS_SELECTOR, 'button.cell[data-metric="procrustes"]').click()
        rows = driver.find_elements(By.CSS_SELECTOR, "#evidence-cases tbody tr")
        assert [r.find_element(By.TAG_NAME, "td").text for r in rows] == ["scale=1", "scale=2", "scale=5"]
        assert "✓ pass" in driver.find_element(By.ID, "evidence").text
    finally:
        driver.quit()


def _in_view(driver, element) -> bool:
    """Whether ``element`` lies in the window, below the sticky header and outside the evidence panel."""
    return driver.execute_script("""
        const box = arguments[0].getBoundingClientRect(), header = document.querySelector('header.top');
        const panel = document.getElementById('evidence');
        const top = Math.max(0, header.getBoundingClientRect().bottom);
        let right = window.innerWidth, bottom = window.innerHeight;
        if (!panel.hidden) {
            const sheet = panel.getBoundingClientRect();
            if (sheet.left <= 1) bottom = sheet.top; else right = sheet.left;
        }
        return box.top >= top - 1 && box.bottom <= bottom + 1 && box.left >= -1 && box.left + 10 <= right;
    """, element)


@pytest.mark.parametrize("width, height", [(1440, 1000), (1024, 768), (412, 915)], ids=["desktop", "laptop", "phone"])
def test_browser_header_family_cell_and_verdict_stay_in_view(run, tmp_path, width, height):
    """At each window size: a header link lands its section below the sticky header, a family cell shows
    the measure's row of the family's grid, and a verdict opens the panel with the clicked cell still in
    view; the page never scrolls sideways and the panel fits the window. Screenshots in tmp_path."""
    from selenium.webdriver.common.by import By

    (tmp_path / "scorecard.html").write_text(_render(run, tmp_path), encoding="utf-8")
    driver = chromium(width, height)
    try:
        driver.set_window_size(width, height)
        driver.get((tmp_path / "scorecard.html").as_uri())
        assert driver.execute_script("return document.body.dataset.ready") == "true"
        overflow = "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        driver.find_element(By.CSS_SELECTOR, 'nav a[href="#verdicts"]').click()
        heading = driver.find_element(By.CSS_SELECTOR, "#verdicts h2")
        assert _in_view(driver, heading), "the anchor lands below the sticky header"
        cell = driver.find_element(By.CSS_SELECTOR, '#overview-table tr[data-metric="measure_20"] td[data-family="relevance"]')
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
        cell.click()
        row = driver.find_element(By.CSS_SELECTOR, '#grid-relevance tr[data-metric="measure_20"]')
        assert "highlight" in row.get_attribute("class") and _in_view(driver, row.find_element(By.CSS_SELECTOR, "td.name"))
        button = row.find_elements(By.CSS_SELECTOR, "button.cell")[5]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', inline: 'nearest'})", button)
        button.click()
        panel = driver.find_element(By.ID, "evidence")
        assert panel.is_displayed() and _in_view(driver, button), "the clicked verdict stays in view beside the panel"
        box = driver.execute_script("const b = arguments[0].getBoundingClientRect(); return [b.left, b.right, "
                                    "arguments[0].scrollWidth - arguments[0].clientWidth]", panel)  # fmt: skip
        assert box[0] >= 0 and box[1] <= width + 1 and box[2] <= 0, "the panel fits the window, nothing sideways"
        assert driver.execute_script(overflow) <= 0, "the page does not scroll sideways"
        driver.save_screenshot(str(tmp_path / f"scorecard_{width}x{height}.png"))
    finally:
        driver.quit()


def test_a_measure_without_a_counted_verdict_has_no_rank_and_the_page_still_renders():
    """A run whose premises all failed (every verdict set aside) ranks nothing: the page shows a dash."""
    small = fake_run(measures=2, scenarios=2, cases=2, seeds=2)
    verdicts = small.verdicts.assign(verdict=SET_ASIDE)
    summary = summarise(verdicts, {scenario: "" for scenario in verdicts["scenario"]}, n_resamples=20)
    assert summary.ranked["rank"].isna().all()
    page = render_html(small.results, verdicts, score_table(verdicts), small.errors, small.header, small.sweeps,
                       summary=summary)
    ranking = page[page.index('id="ranking-table"'):]
    assert "<td>—</td>" in ranking[:ranking.index("</table>")]
