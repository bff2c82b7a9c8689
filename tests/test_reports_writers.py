"""The report writers on a small constructed run: every file is written, with the expected content,
and the reports can be rebuilt from results.csv and run.json alone."""
import json
import re

import numpy as np
import pandas as pd
import pytest

from reports.results import read_results, results_table, write_results
from runner.cells import measure_cases
from reports.run import RunRecord, describe_run, read_run, write_reports
from reports.scales import MeasureScale
from reports.scorecard import SCORE_COLUMNS, SUMMARY, mark
from reports.verdicts import VerdictSettings
from runner.schema import REFERENCE_COLUMNS, RESULT_COLUMNS
from scenarios.types import Case, Expectation

SETTINGS = VerdictSettings(n_resamples=300, n_permutations=300)


def _cases():
    """A sweep where stitching degrades with corruption, and a relevance-like scenario where it does not."""
    cases = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(60, 4))
        for sigma in (0.0, 0.5, 1.0, 2.0):
            y = x + sigma * rng.normal(size=x.shape)
            stitch = 1 / (1 + sigma)
            cases.append(Case("estimator", "corruption", f"sigma={sigma}", seed, x, y, sigma, stitch, stitch))
        for width in (0, 8):
            y = np.hstack([x, 3 * rng.normal(size=(60, width))])
            cases.append(Case("relevance", "noise_channels", f"width={width}", seed, x, y, width, 1.0, 1.0))
    return cases


def correlation(x, y):
    """Squared correlation of the row sums: falls with corruption and with added irrelevant channels."""
    return float(np.corrcoef(x.sum(axis=1), y.sum(axis=1))[0, 1] ** 2)


def constant(x, y):
    return 0.5


def broken(x, y):
    raise RuntimeError("plugin exploded")


SCALES = {"correlation": MeasureScale(0.0, 1.0), "constant": MeasureScale(0.0, 1.0), "broken": MeasureScale(0.0, 1.0)}
EXPECTATIONS = {
    "corruption": (Expectation("monotone", direction=-1), Expectation("tracks_stitching")),
    "noise_channels": (Expectation("invariant", tolerance=0.01),),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    cases = _cases()
    rows = [row for name, fn in (("correlation", correlation), ("constant", constant), ("broken", broken))
            for row in measure_cases(name, fn, cases)]  # fmt: skip
    results = results_table(rows)
    header = describe_run(results, SETTINGS, {"profile": "quick", "python": "3.x", "threads": "torch 1"})
    record = RunRecord(header, SCALES, EXPECTATIONS, {"corruption": "sigma", "noise_channels": "width"}, SETTINGS)
    return out, results, record, write_reports(results, record, out)


def test_every_report_file_is_written(written):
    out, _, _, reports = written
    expected = ["results.csv", "run.json", "scorecard.md", "scorecard.csv", "scorecard.json", "verdicts.csv",
                "disagreements.md", "scorecard.html", "figures/stitching_scatter.png", "figures/sweeps_estimator.png",
                "figures/ranking.png", "figures/ranking.pdf", "figures/index.json", "ranking.csv", "ranking.tex",
                "use_cases.csv", "use_cases.tex"]  # fmt: skip
    for name in expected:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "figures/sweeps_estimator.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.rglob("*.tmp")), "temporary files left behind"
    assert set(map(str, reports.paths)) >= {str(out / name) for name in expected}


def test_scorecard_has_header_overview_marks_and_the_errors(written):
    out, _, _, _ = written
    text = (out / "scorecard.md").read_text()
    assert "- **profile**: quick" in text and "- **threads**: torch 1" in text and "- **seeds**: 3 seeds" in text
    overview = text.split("## Overview")[1].split("## Families")[0]
    line = next(line for line in overview.splitlines() if "| correlation " in line)
    # correlation: monotone and tracking pass in estimator; it moves with irrelevant channels in relevance
    assert "1.00 (2/2)" in line and "0.00 (0/1)" in line and "0.67 (2/3)" in line  # the share, k/n
    assert "| broken" in overview and "0.00 (0/" in overview
    assert "## Errors" in text and "plugin exploded" in text


def test_scorecard_csv_and_json_hold_the_same_tidy_table(written):
    out, _, _, reports = written
    table = pd.read_csv(out / "scorecard.csv")
    document = json.loads((out / "scorecard.json").read_text())
    assert list(table.columns) == list(SCORE_COLUMNS)
    pd.testing.assert_frame_equal(pd.DataFrame(document["scorecard"])[table.columns], table, check_dtype=False)
    assert document["header"]["profile"] == "quick"
    summary = table[(table["metric"] == "constant") & (table["family"] == SUMMARY)].iloc[0]
    # a constant measure passes invariance and fails both trends
    assert (summary["passed"], summary["failed"], summary["expectations"]) == (1, 2, 3)


def test_mark_precedence():
    assert mark(passed=3, failed=0, by_design=0, undecided=0, errors=0) == "✓"
    assert mark(passed=3, failed=1, by_design=1, undecided=1, errors=1) == "✗"
    assert mark(passed=3, failed=0, by_design=1, undecided=1, errors=1) == "◇"
    assert mark(passed=3, failed=0, by_design=0, undecided=1, errors=1) == "!"
    assert mark(passed=3, failed=0, by_design=0, undecided=1, errors=0) == "?"


def test_disagreements_report_correlations_and_discordant_cases(written):
    out, _, _, _ = written
    text = (out / "disagreements.md").read_text()
    table = text.split("## Rank correlation with each functional reference, per family")[1].split("## Where")[0]
    estimator, relevance = table.split("### estimator")[1].split("### relevance")
    row = next(line for line in estimator.splitlines() if line.startswith("| correlation"))
    assert "+0." in row and "(p=" in row  # tracks stitching in estimator, both directions
    assert "| stitch " in estimator and "stitch_reverse" in estimator and "stitch_direct" not in estimator
    row = next(line for line in relevance.splitlines() if line.startswith("| correlation"))
    assert row.count("n/a") == 2  # stitching constant (1) in relevance, both directions
    correlation_section = text.split("### correlation")[1].split("###")[0]
    assert "measure says dissimilar, stitching works" in correlation_section
    assert "width=8" in correlation_section  # irrelevant channels: the measure drops, stitching stays at 1


def test_reports_can_be_rebuilt_from_the_saved_results(written, tmp_path):
    out, results, record, reports = written
    again_results, again_record = read_run(out)
    assert again_record == record
    pd.testing.assert_frame_equal(again_results, results)
    rebuilt = write_reports(again_results, again_record, tmp_path, figures=False)
    pd.testing.assert_frame_equal(rebuilt.verdicts, reports.verdicts)
    assert (tmp_path / "scorecard.md").read_text() == (out / "scorecard.md").read_text()


def test_results_round_trip_keeps_case_ids_and_errors(written, tmp_path):
    out, results, _, _ = written
    table = read_results(out / "results.csv")
    assert table["case"].map(type).eq(str).all()
    assert set(table.loc[table["metric"] == "broken", "error"]) == {"RuntimeError: plugin exploded"}
    assert (table.loc[table["metric"] != "broken", "error"] == "").all()


def test_every_functional_reference_is_a_results_column_and_round_trips(tmp_path):
    x = np.random.default_rng(0).normal(size=(10, 3))
    references = {"stitch": 0.9, "stitch_reverse": 0.8, "stitch_direct": 0.7, "stitch_direct_reverse": 0.6,
                  "agreement": 0.95, "accuracy_difference": 0.01}
    whole_models = Case("networks", "net", "a/b", 0, x, x, param=2.0, **references)
    synthetic = Case("symmetry", "s", "c", 0, x, x, param=0.1, stitch=1.0, stitch_reverse=1.0)
    table = results_table(measure_cases("constant", constant, [whole_models, synthetic]))
    assert tuple(table.columns) == RESULT_COLUMNS and set(REFERENCE_COLUMNS) <= set(table.columns)
    rows = table.set_index("scenario")
    assert rows.loc["net", list(REFERENCE_COLUMNS)].tolist() == list(references.values())
    assert rows.loc["s", ["stitch", "stitch_reverse"]].tolist() == [1.0, 1.0]
    assert rows.loc["s", ["stitch_direct", "stitch_direct_reverse", "agreement", "accuracy_difference"]].isna().all()
    again = read_results(write_results(table, tmp_path / "results.csv"))
    pd.testing.assert_frame_equal(again, table)


def _copy(written, tmp_path):
    import shutil

    out, results, record, _ = written
    return shutil.copytree(out, tmp_path / "out"), results, record


def test_reports_replace_their_folder_whole(written, tmp_path):
    """Before: a new run's .md/.csv beside the previous run's scorecard.html and baseline_comparison.json."""
    out, results, record = _copy(written, tmp_path)
    (out / "stale.md").write_text("from the previous run")
    write_reports(results[results["metric"] != "broken"], record, out, figures=False, html=False)
    assert not (out / "stale.md").exists() and not (out / "scorecard.html").exists()
    assert "plugin exploded" not in (out / "scorecard.md").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "staging or old folders left behind"


def test_a_failure_while_writing_leaves_the_previous_set_untouched(written, tmp_path):
    out, results, record = _copy(written, tmp_path)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def fails(verdicts, resi):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_reports(results, record, out, figures=False, compare=fails)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "staging folder left behind"


def test_a_folder_of_other_files_is_never_replaced(written, tmp_path):
    _, results, record = _copy(written, tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("months of work")
    with pytest.raises(FileExistsError, match="holds files that are not a stitchbench report"):
        write_reports(results, record, tmp_path / "mine", figures=False, html=False)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "months of work"


@pytest.mark.parametrize("damage, problem", [
    ("drop a column", "results.csv lacks the column(s) ['stitch']"),
    ("truncate", "its run.json recorded"),
    ("drop run.json", "run.json cannot be read"),
])  # fmt: skip
def test_a_damaged_run_folder_is_refused_with_its_problem(written, tmp_path, damage, problem):
    from reports.run import RunFolderError

    out, _, _ = _copy(written, tmp_path)
    path = out / "results.csv"
    if damage == "drop a column":
        pd.read_csv(path, keep_default_na=False).drop(columns="stitch").to_csv(path, index=False)
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3].rsplit(b"\n", 1)[0] + b"\n")
    else:
        (out / "run.json").unlink()
    with pytest.raises(RunFolderError, match=re.escape(problem)) as raised:
        read_run(out)
    assert str(out) in str(raised.value)


def test_markup_in_names_and_messages_is_shown_never_rendered(tmp_path):
    """Raw HTML from a measure's name or message landed in the markdown reports."""
    payload = "<img src=x onerror=alert(1)>"
    cases = _cases()[:8]
    rows = [row for name, fn in (("correlation", correlation), ("broken", lambda x, y: 1 / 0 if x[0, 0] else 0))
            for row in measure_cases(name, fn, cases)]  # fmt: skip
    for row in rows:
        row["error"] = row["error"] and f"{row['error']} {payload} |pipe"
    results = results_table(rows)
    header = describe_run(results, SETTINGS, {"profile": "quick", "note": payload})
    write_reports(results, RunRecord(header, SCALES, EXPECTATIONS, {}, SETTINGS), tmp_path, figures=False,
                  html=False)
    for name in ("scorecard.md", "disagreements.md"):
        text = (tmp_path / name).read_text()
        assert "<img" not in text, name
    scorecard = (tmp_path / "scorecard.md").read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in scorecard and "\\|pipe" in scorecard
