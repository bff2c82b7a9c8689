"""The confounds page (reports.confounds, ``python -m reports confounds``): the null scenarios are found by
generator in the run's record, each measure gets its verdict and its first and last sweep value, raw and
calibrated side by side; the record keeps the generators through run.json and a merge."""
from __future__ import annotations

import numpy as np
import pytest

from reports.__main__ import main
from reports.confounds import confound_page
from reports.results import results_table
from runner.cells import measure_cases
from reports.run import RunRecord, describe_run, read_run, write_reports
from reports.scales import MeasureScale
from reports.verdicts import VerdictSettings
from scenarios.types import Case, Expectation

SETTINGS = VerdictSettings(n_resamples=200, n_permutations=200)


def _cases():
    """A width sweep of independent data (stitching at chance) and a scenario of another generator."""
    cases = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        for p in (4, 16, 64):
            cases.append(Case("estimator", "width_null", f"p={p}", seed, rng.normal(size=(40, p)),
                              rng.normal(size=(40, p)), float(p), 0.25, 0.25))  # fmt: skip
        x = rng.normal(size=(40, 3))
        cases.append(Case("symmetry", "rotation", "identity", seed, x, x, None, 1.0, 1.0))
        cases.append(Case("symmetry", "rotation", "rotated", seed, x, x[:, ::-1], None, 1.0, 1.0))
    return cases


def rising(x, y):
    """Grows with the width like biased CKA of independent data, p / (n + p)."""
    return x.shape[1] / (x.shape[0] + x.shape[1])


def flat(x, y):
    """The same at every width."""
    return 0.0


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("confounds")
    rows = [row for name, fn in (("rising", rising), ("rising@calibrated", flat), ("flat", flat))
            for row in measure_cases(name, fn, _cases())]  # fmt: skip
    results = results_table(rows)
    record = RunRecord(
        describe_run(results, SETTINGS, {"profile": "quick", "threads": "torch 1"}),
        {name: MeasureScale(0.0, 1.0) for name in ("rising", "rising@calibrated", "flat")},
        {"width_null": (Expectation("invariant", tolerance=0.05),), "rotation": (Expectation("invariant"),)},
        {"width_null": "p"},
        SETTINGS,
        generators={"width_null": "estimator.width_null", "rotation": "symmetry.orthogonal"},
    )
    write_reports(results, record, out, figures=False)
    return out


def test_the_record_keeps_the_generators(run_folder):
    _, record = read_run(run_folder)
    assert record.generators == {"width_null": "estimator.width_null", "rotation": "symmetry.orthogonal"}
    older = RunRecord.from_json(record.to_json().replace('"generators"', '"unused"'))
    assert older.generators == {}  # run.json of runs before the field: no generators, no error


def test_the_page_shows_raw_and_calibrated_verdicts_of_the_null_scenarios_only(run_folder):
    page = confound_page(run_folder)
    rows = {line.split(" | ")[0].strip("| "): line for line in page.splitlines() if line.startswith("| ")}
    assert "width_null: raw" in rows["measure"] and "width_null: calibrated" in rows["measure"]
    assert "rotation" not in page  # another generator's scenario
    assert rows["rising"].split(" | ")[1:] == ["fail (0.0909 -> 0.615)", "pass (0 -> 0) |"]
    assert rows["flat"].split(" | ")[1].startswith("pass (0 -> 0)")
    assert "rising@calibrated" not in rows  # a variant is a column of its measure, not a row


def test_the_command_writes_the_page(run_folder, tmp_path, capsys):
    target = tmp_path / "confounds.md"
    assert main(["confounds", str(run_folder), "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == confound_page(run_folder)
    assert capsys.readouterr().out == f"{target}\n"
    assert main(["confounds", str(run_folder)]) == 0
    assert capsys.readouterr().out == confound_page(run_folder)


def test_a_run_without_null_scenarios_is_refused(run_folder, tmp_path):
    results, record = read_run(run_folder)
    write_reports(results[results["scenario"] == "rotation"], record, tmp_path, figures=False)
    with pytest.raises(ValueError, match="measured no scenario of the generators"):
        confound_page(tmp_path)
