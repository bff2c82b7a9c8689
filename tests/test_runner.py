"""The runner (benchmarks/conftest.py, benchmarks/test_scenarios.py): a failing plugin is isolated, every
output is written, the baseline gate fails on a change, and pytest-xdist gives the serial scorecard."""
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metrics
from metrics._registry import _REGISTRY
from runner.cells import measure_cases
from scenarios.types import Case
from strategies import PLATFORM_RTOL

pytest_plugins = ["pytester"]

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
RAISES, NAN = "test_runner_raises", "test_runner_nan"

BROKEN_PLUGIN = f'''
"""Two broken measures, registered like any plugin."""
import math
import metrics

if "{RAISES}" not in metrics.available():
    @metrics.register("{RAISES}", symmetric=True, bounds=(0.0, 1.0), reference="none")
    def raises(x, y):
        raise RuntimeError("this plugin is broken")

    @metrics.register("{NAN}", symmetric=True, bounds=(0.0, 1.0), reference="none")
    def nan(x, y):
        return math.nan
'''

SPEC = """
[[scenario]]
name = "tiny_orthogonal"
family = "symmetry"
generator = "symmetry.orthogonal"
description = "A rotation of a small X."
seeds = 3
params = { n = 120, p = 6 }
[[scenario.expect]]
kind = "invariant"
tolerance = 1e-6

[[scenario]]
name = "tiny_containment"
family = "symmetry"
generator = "symmetry.containment"
description = "X is part of Y."
seeds = 3
params = { n = 120, p = 6, extra_channels = 6 }
[[scenario.expect]]
kind = "ordering"
higher = "superset_to_subset"
lower = "subset_to_superset"
"""


@pytest.fixture
def registry_snapshot():
    """Measures registered during the test are removed afterwards (other tests see the usual registry)."""
    metrics.available()
    saved = dict(_REGISTRY)
    yield
    _REGISTRY.clear()
    _REGISTRY.update(saved)


def _cases(count=4):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    noisy = [x + 0.1 * i * rng.normal(size=x.shape) for i in range(count)]
    return [Case("symmetry", "s", f"c{i}", 0, x, y, i, 1.0, 1.0) for i, y in enumerate(noisy)]


def test_a_failing_measure_leaves_error_rows_and_the_others_complete(registry_snapshot):
    @metrics.register(RAISES, symmetric=True, bounds=(0.0, 1.0), reference="none")
    def raises(x, y):
        raise RuntimeError("this plugin is broken")

    @metrics.register(NAN, symmetric=True, bounds=(0.0, 1.0), reference="none")
    def nan(x, y):
        return math.nan

    cases = _cases()
    raised = measure_cases(RAISES, metrics.get(RAISES), cases)
    assert [r["error"] for r in raised] == ["RuntimeError: this plugin is broken"] * 4
    assert all(math.isnan(r["value"]) and r["time"] >= 0 for r in raised)
    nans = measure_cases(NAN, metrics.get(NAN), cases)
    assert all(r["error"].startswith("MeasureError: test_runner_nan") for r in nans)
    good = measure_cases("cka_linear", metrics.get("cka_linear"), cases)
    assert all(r["error"] == "" and 0 <= r["value"] <= 1 for r in good)
    assert good[0]["value"] == pytest.approx(1.0)


def test_a_case_of_layer_stacks_takes_the_aggregate_over_every_pair():
    """Case.aggregate: X and Y are [L, n, p] stacks; a measure gives its most similar pair (a distance:
    the smallest), a calibrated one Algorithm 2's score."""
    rng = np.random.default_rng(1)
    xs, ys = rng.normal(size=(3, 30, 4)), rng.normal(size=(2, 30, 5))
    case = Case("estimator", "layers", "L=3", 0, xs, ys, 3.0, 0.25, 0.25, aggregate="max")
    for name in ("cka_linear", "procrustes_angular"):
        m = metrics.get(name)
        pairs = [m(x, y) for x in xs for y in ys]
        [row] = measure_cases(name, m, [case])
        assert row["error"] == "" and row["value"] == (max(pairs) if name == "cka_linear" else min(pairs))
    [row] = measure_cases("cka_linear@calibrated", metrics.get("cka_linear@calibrated"), [case])
    assert row["value"] == metrics.calibrate_layers("cka_linear", xs, ys, "max").score


def test_a_bare_callable_returning_nan_is_an_error_too():
    rows = measure_cases("bare", lambda x, y: float("nan"), _cases(1))
    assert math.isnan(rows[0]["value"]) and "not a finite number" in rows[0]["error"]


@pytest.fixture
def project(pytester, monkeypatch):
    """A pytester folder with the real runner, a tiny spec and a broken plugin module."""
    for name in ("conftest.py", "test_scenarios.py"):
        shutil.copy(BENCHMARKS / name, pytester.path / name)
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(broken_plugin=BROKEN_PLUGIN)
    (pytester.path / "spec.toml").write_text(SPEC)
    pytester.syspathinsert()
    monkeypatch.setenv("PYTHONPATH", str(pytester.path), prepend=":")  # for xdist workers
    return pytester


def _run(pytester, *args):
    return pytester.runpytest("-p", "no:cacheprovider", "--specs", "spec.toml", "--report-dir", "out", *args)


MEASURES = f"cka_linear,ols_r2,{RAISES},{NAN}"


def test_runner_end_to_end_with_a_broken_plugin_and_the_baseline_gate(project, registry_snapshot):
    broken = ("-p", "broken_plugin", "--metrics", MEASURES)
    result = _run(project, *broken, "--update-baseline", "--baseline", "baseline.json")
    result.assert_outcomes(passed=8)  # 4 measures x 2 scenarios; the broken plugins do not fail tests
    result.stdout.fnmatch_lines(["*stitchbench scorecard*", "*baseline written*"])
    out = project.path / "out"
    for name in ("scorecard.md", "scorecard.csv", "scorecard.json", "verdicts.csv", "results.csv", "disagreements.md"):
        assert (out / name).is_file(), name
    results = pd.read_csv(out / "results.csv", keep_default_na=False)
    errors = results.groupby("metric")["error"].apply(lambda e: (e != "").sum())
    assert errors[RAISES] == errors[NAN] == len(results) // 4 and errors["cka_linear"] == errors["ols_r2"] == 0
    scorecard = (out / "scorecard.md").read_text()
    assert "this plugin is broken" in scorecard and f"| {RAISES}" in scorecard
    verdicts = pd.read_csv(out / "verdicts.csv").set_index(["metric", "scenario"])["verdict"]
    assert verdicts[("cka_linear", "tiny_orthogonal")] == "pass"
    assert verdicts[("cka_linear", "tiny_containment")] == "fail"  # symmetric: cannot see the direction
    assert verdicts[("ols_r2", "tiny_containment")] == "pass"
    assert verdicts[(RAISES, "tiny_orthogonal")] == "error"

    unchanged = _run(project, *broken, "--baseline", "baseline.json")
    assert unchanged.ret == 0
    unchanged.stdout.fnmatch_lines(["*baseline.json: 0 difference(s), 0 failing*"])

    baseline = project.path / "baseline.json"
    edited = baseline.read_text().replace('"pass"', '"undecided"', 1)
    baseline.write_text(edited)
    changed = _run(project, *broken, "--baseline", "baseline.json")
    assert changed.ret == pytest.ExitCode.TESTS_FAILED
    changed.stdout.fnmatch_lines(["*1 difference(s), 1 failing*", "*verdict: * undecided -> pass*"])


def test_selection_options_and_readable_ids(project):
    result = _run(project, "--metrics", "cka_linear", "--scenarios", "tiny_orthogonal", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_scenario[[]cka_linear-tiny_orthogonal[]]*", "*1 test collected*"])
    family = _run(project, "--metrics", "cka_linear", "--families", "symmetry", "--collect-only", "-q")
    family.stdout.fnmatch_lines(["*2 tests collected*"])
    unknown = _run(project, "--metrics", "no_such_measure")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    unknown.stderr.fnmatch_lines(["*--metrics: unknown*no_such_measure*"])


NOTE = "def test_note(benchmark_report):\n    benchmark_report('note.md', 'a note')\n"


def test_xdist_gives_the_serial_scorecard(project):
    """The same scorecard and verdicts; the numbers agree to rounding (a worker's BLAS runs on its share
    of the cores, and sums in another order under another thread count)."""
    serial = _run(project, "--metrics", "cka_linear,ols_r2")
    serial.assert_outcomes(passed=4)
    out = project.path / "out"
    expected = {name: pd.read_csv(out / name, keep_default_na=False) for name in ("scorecard.csv", "verdicts.csv")}
    project.makepyfile(test_note=NOTE)  # a benchmark's report written in a worker belongs to the set
    parallel = _run(project, "--metrics", "cka_linear,ols_r2", "-n", "2", "--recompute")  # measured, not kept
    parallel.assert_outcomes(passed=5)
    assert (out / "note.md").read_text() == "a note"
    for name, table in expected.items():
        got = pd.read_csv(out / name, keep_default_na=False)
        assert list(got.columns) == list(table.columns) and len(got) == len(table), name
        for column in table.columns:
            numbers = pd.to_numeric(table[column], errors="coerce")
            if numbers.notna().all() and len(numbers):
                np.testing.assert_allclose(pd.to_numeric(got[column]), numbers, rtol=PLATFORM_RTOL, atol=PLATFORM_RTOL, err_msg=f"{name} {column}")
            else:
                assert got[column].tolist() == table[column].tolist(), f"{name} {column}"
    assert not list(out.glob(".rows-*")), "worker row files left behind"


def test_opt_in_measures_run_only_when_named(project):
    """rtd is opt-in (minutes per pair): the default grid leaves it out, --metrics brings it in, and
    its speed benchmark is skipped unless named."""
    assert metrics.get("rtd").info.opt_in
    default = _run(project, "--collect-only", "-q")
    default.stdout.no_fnmatch_line("*test_scenario[[]rtd-*")
    default.stdout.fnmatch_lines(["*test_scenario[[]cka_linear-tiny_orthogonal[]]*"])
    named = _run(project, "--metrics", "rtd,cka_linear", "--scenarios", "tiny_orthogonal", "--collect-only", "-q")
    named.stdout.fnmatch_lines(["*test_scenario[[]rtd-tiny_orthogonal[]]*", "*2 tests collected*"])


def test_calibrated_variants_run_when_named(project):
    """name@calibrated (metrics.calibration) is never in the default grid; --metrics runs it; a wrong
    modifier is a usage error that names the modifiers."""
    default = _run(project, "--collect-only", "-q")
    default.stdout.no_fnmatch_line("*@calibrated*")
    named = _run(project, "--metrics", "cka_linear@calibrated,cka_linear", "--scenarios", "tiny_orthogonal",
                 "--collect-only", "-q")  # fmt: skip
    named.stdout.fnmatch_lines(["*test_scenario[[]cka_linear@calibrated-tiny_orthogonal[]]*", "*2 tests collected*"])
    wrong = _run(project, "--metrics", "cka_linear@calibrate", "--collect-only", "-q")
    wrong.stderr.fnmatch_lines(["*unknown [[]'cka_linear@calibrate'[]]*name@calibrated*"])


BROKEN_SPEC = """
[[scenario]]
name = "broken_networks"
family = "networks"
generator = "networks.seed_pairs"
description = "A networks spec with a typo."
seeds = "five"
[[scenario.expect]]
kind = "follows_reference"
"""


def test_a_broken_spec_is_one_line_when_selected_and_nothing_when_not(project):
    (project.path / "broken.toml").write_text(BROKEN_SPEC)
    specs = ("--specs", "spec.toml,broken.toml", "--metrics", "cka_linear")
    other = project.runpytest("-p", "no:cacheprovider", "--report-dir", "out", "--families", "symmetry", *specs)
    other.assert_outcomes(passed=2)  # the broken networks spec is not selected: the run goes on
    selected = project.runpytest_subprocess("-p", "no:cacheprovider", "--report-dir", "out", *specs)
    assert selected.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in selected.stderr.lines if line.strip()]
    assert errors == ["ERROR: broken.toml: scenario 'broken_networks': key 'seeds': expected a "
                      "positive count or a non-empty list of non-negative ints, got 'five'"], errors


FAULTY_PLUGIN = '''
"""User code that exits, hangs or is interrupted, registered like any plugin."""
import sys
import time

import metrics
import scenarios

if "symmetry.exits" not in scenarios.generators():
    @scenarios.generator("symmetry.exits", family="symmetry", params={"n": 10})
    def exits(scenario, seed):  # a training script reused as a factory: it parses its command line
        sys.exit(3)

    @scenarios.generator("symmetry.hangs", family="symmetry", params={"n": 10})
    def hangs(scenario, seed):
        time.sleep(600)
        yield

    CALLS = []

    @metrics.register("test_runner_hangs", symmetric=True, bounds=(0.0, 1.0), reference="none")
    def hangs_once(x, y):
        CALLS.append(1)
        if len(CALLS) == 1:
            time.sleep(600)
        return 0.5

    @metrics.register("test_runner_interrupts", symmetric=True, bounds=(0.0, 1.0), reference="none")
    def interrupts(x, y):  # Ctrl-C while the second scenario (Y wider than X) is measured
        if x.shape[1] != y.shape[1]:
            raise KeyboardInterrupt
        return 0.5
'''

FAULTY_SPEC = """
[[scenario]]
name = "tiny_exits"
family = "symmetry"
generator = "symmetry.exits"
description = "A factory that calls sys.exit."
seeds = 2
[[scenario.expect]]
kind = "invariant"

[[scenario]]
name = "tiny_hangs"
family = "symmetry"
generator = "symmetry.hangs"
description = "A factory that never returns."
seeds = 2
[[scenario.expect]]
kind = "invariant"
"""


@pytest.fixture
def faulty(project, registry_snapshot):
    """The project with the faulty plugin; the generators it registers are removed afterwards."""
    from scenarios import _registry

    project.makepyfile(faulty_plugin=FAULTY_PLUGIN)
    _registry.generators()  # the built-in ones loaded first: they stay
    saved = dict(_registry._REGISTRY)
    yield project
    _registry._REGISTRY.clear()
    _registry._REGISTRY.update(saved)


def test_a_factory_that_exits_or_hangs_and_a_hung_cell_are_error_rows_and_the_run_goes_on(faulty):
    """Before: sys.exit in a factory ended in INTERNALERROR, "no tests ran" and no reports; a hang
    stalled the run forever."""
    project = faulty
    (project.path / "spec.toml").write_text(SPEC + FAULTY_SPEC)
    result = _run(project, "-p", "faulty_plugin", "--scenarios", "tiny_orthogonal,tiny_exits,tiny_hangs",
                  "--metrics", "cka_linear,test_runner_hangs", "--generation-timeout", "1", "--cell-timeout", "1")
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=2, failed=4)  # the generation errors fail their scenarios' tests
    results = pd.read_csv(project.path / "out" / "results.csv", keep_default_na=False)
    errors = results.groupby("scenario")["error"].agg(set)
    assert errors["tiny_exits"] == {"SystemExit: the code called sys.exit(3) (a script's argument parsing at import?)"}
    assert all("scenario 'tiny_hangs': generating its cases: still running after 1 s" in e for e in errors["tiny_hangs"])
    orthogonal = results[results["scenario"] == "tiny_orthogonal"]
    hung = orthogonal.loc[orthogonal["error"] != "", "error"].tolist()
    assert len(hung) == 1 and "test_runner_hangs on case" in hung[0] and "still running after 1 s" in hung[0]
    assert (orthogonal["error"] == "").sum() == len(orthogonal) - 1


def test_an_interrupted_run_writes_what_it_measured_and_says_so(faulty):
    """Before: after Ctrl-C the partial scorecard did not say the run was interrupted."""
    project = faulty
    result = project.runpytest("-p", "no:cacheprovider", "--specs", "spec.toml", "--report-dir", "out", "-p",
                               "faulty_plugin", "--metrics", "cka_linear,test_runner_interrupts",
                               no_reraise_ctrlc=True)  # the inner run's Ctrl-C stays there
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*the run was interrupted: the reports hold what it measured until then*"])
    out = project.path / "out"
    assert "- **interrupted**: yes: the run was stopped before its end" in (out / "scorecard.md").read_text()
    results = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert set(zip(results["metric"], results["scenario"])) == {
        ("cka_linear", "tiny_orthogonal"), ("test_runner_interrupts", "tiny_orthogonal"),
        ("cka_linear", "tiny_containment")}


BAD_BASELINES = {
    "empty": b"",
    "truncated": b'{"format": 2, "profile": "quick", "verdicts": {"cka',
    "list": b"[]",
    "utf16": '{"format": 2}'.encode("utf-16"),
}


def test_bad_settings_stop_the_run_before_anything_runs_in_one_line(project):
    """Before: a broken --baseline was read after the whole run and ended in a raw traceback, with the
    report folder left holding files of two runs."""
    (project.path / "out").mkdir()
    (project.path / "out" / "results.csv").write_text("the previous run's")
    (project.path / "a_file").write_text("")
    (project.path / "mine").mkdir()
    (project.path / "mine" / "notes.txt").write_text("")
    cases = [(("--baseline", f"{name}.json"), f"--baseline: *{name}.json*") for name in BAD_BASELINES]
    cases += [
        (("--baseline", "nowhere.json"), "--baseline: *nowhere.json does not exist*"),
        (("--update-baseline", "--baseline", "a_file/baseline.json"), "--update-baseline: cannot write into *a_file*"),
        (("--report-dir", "a_file/out"), "--report-dir: cannot write into *a_file*"),
        (("--report-dir", "mine"), "--report-dir: *mine holds files that are not a stitchbench report*"),
        (("--cell-timeout", "-1"), "*--cell-timeout: invalid seconds value: '-1'*"),
    ]
    for name, content in BAD_BASELINES.items():
        (project.path / f"{name}.json").write_bytes(content)
    for args, line in cases:
        result = _run(project, "--metrics", "cka_linear", *args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR, args
        errors = [line for line in result.stderr.lines if line.strip()]
        assert "Traceback" not in result.stderr.str(), errors
        assert len(errors) == 1 or args[0] == "--cell-timeout", errors  # argparse adds its usage lines
        result.stderr.fnmatch_lines([f"*{line}"])
    assert [p.name for p in (project.path / "out").iterdir()] == ["results.csv"]
    assert (project.path / "out" / "results.csv").read_text() == "the previous run's"


def test_the_reports_are_one_set_with_the_benchmarks_reports_and_a_failed_cache_write_loses_nothing(project,
                                                                                                     monkeypatch):
    """Every report of a run, the ones benchmarks write during the session included (in xdist workers:
    test_xdist_gives_the_serial_scorecard), replaces the previous run's folder whole; a value cache that cannot be written is a warning (before: the
    measure vanished from results.csv while the scorecard said "0 failed")."""
    project.makepyfile(test_note=NOTE)
    first = _run(project, "--metrics", "cka_linear")
    first.assert_outcomes(passed=3)
    out = project.path / "out"
    assert (out / "note.md").read_text() == "a note" and (out / "scorecard.md").is_file()
    (out / "stale.md").write_text("from the previous run")
    (project.path / "a_file").write_text("")
    monkeypatch.setenv("STITCHBENCH_CACHE", str(project.path / "a_file" / "cache"))
    second = _run(project, "--metrics", "cka_linear", "--recompute", "test_scenarios.py")
    second.assert_outcomes(passed=2)
    second.stdout.fnmatch_lines(["*could not keep the values of cka_linear*"])
    assert not (out / "stale.md").exists() and not (out / "note.md").exists()
    results = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert set(results["scenario"]) == {"tiny_orthogonal", "tiny_containment"} and (results["error"] == "").all()
    assert sorted(p.name for p in project.path.iterdir() if p.name.startswith(".out")) == []
