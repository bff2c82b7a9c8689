"""What the runner (benchmarks/conftest.py) writes on the terminal: one progress line per scenario family
between the tests' outputs, never inside pytest's progress dots; nothing under -q or when the output is
not a terminal; a summary that ends with the best measures and the reports' paths."""
import re
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

#: a plugin that makes pytest's terminal reporter believe it writes to a terminal (pytester's is a pipe)
AS_IF_A_TERMINAL = """
import pytest

@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.isatty = lambda: True
"""

SPEC = """
[[scenario]]
name = "tiny_orthogonal"
description = "A rotation."
family = "symmetry"
generator = "symmetry.orthogonal"
seeds = 3
params = { n = 80, p = 5 }
[[scenario.expect]]
kind = "invariant"

[[scenario]]
name = "tiny_permutation"
description = "A permutation."
family = "symmetry"
generator = "symmetry.permutation"
seeds = 3
params = { n = 80, p = 5 }
[[scenario.expect]]
kind = "invariant"

[[scenario]]
name = "tiny_independent"
description = "Independent X and Y."
family = "estimator"
generator = "estimator.independent"
seeds = 3
params = { n = 80 }
[scenario.sweep]
name = "p"
values = [4, 8]
[[scenario.expect]]
kind = "equals"
target = 0.0
tolerance = 0.5
"""

STATUS = re.compile(r"^\[stitchbench\] ")
#: a line of progress dots (the last one finished with its percentage; a line a status line interrupts
#: is left as it was: the plugin uses pytest's public reporter API only, which cannot finish it)
DOTS = re.compile(r"^(?:test_scenarios\.py )?(\.+)(?: +\[ *\d+%\])?$")


@pytest.fixture
def project(pytester):
    for name in ("conftest.py", "test_scenarios.py"):
        shutil.copy(BENCHMARKS / name, pytester.path / name)
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(as_if_a_terminal=AS_IF_A_TERMINAL)
    (pytester.path / "spec.toml").write_text(SPEC)
    pytester.syspathinsert()
    return pytester


def _run(pytester, *args):
    return pytester.runpytest("-p", "no:cacheprovider", "--specs", "spec.toml", "--report-dir", "out",
                              "--metrics", "cka_linear,procrustes", *args)  # fmt: skip


def test_on_a_terminal_each_family_gets_a_line_between_the_dots(project):
    result = _run(project, "-p", "as_if_a_terminal")
    result.assert_outcomes(passed=6)
    lines = result.outlines  # pytester splits at "\r" too: every rewrite of a status line is a line here
    status = [line for line in lines if STATUS.match(line)]
    assert any("symmetry: generating tiny_orthogonal (1 of 2)" in line for line in status)
    assert any("symmetry: generating tiny_permutation (2 of 2, about" in line for line in status)
    assert any(re.search(r"symmetry: 2 scenario\(s\) generated, 12 cases in", line) for line in status)
    assert any(re.search(r"estimator: 1 scenario\(s\) generated, 6 cases in", line) for line in status)
    session = lines[: next(i for i, line in enumerate(lines) if "stitchbench scorecard" in line)]
    progress = [line.strip() for line in session if "." in line and not STATUS.match(line) and "::" not in line]
    header = ("platform", "rootdir", "configfile", "plugins", "benchmark", "cachedir", "collect")
    progress = [line for line in progress if line and not line.startswith(header)]
    assert progress and all(DOTS.match(line) for line in progress), progress  # no line mixes dots and status
    pairs = zip(session, session[1:])
    after_status = [line for before, line in pairs if STATUS.match(before) and not STATUS.match(line)]
    assert after_status and all(line.startswith("test_scenarios.py ") for line in after_status), after_status
    assert sum(len(DOTS.match(line).group(1)) for line in progress) == 6, "one dot per test"


def test_no_progress_lines_when_piped_or_quiet(project):
    for args in ((), ("-p", "as_if_a_terminal", "-q")):
        result = _run(project, *args)
        result.assert_outcomes(passed=6)
        assert not [line for line in result.outlines if "[stitchbench]" in line], args


def test_the_summary_ends_with_the_best_measures_and_the_reports(project):
    result = _run(project)
    text = result.stdout.str()
    summary = text.split("stitchbench scorecard")[1].splitlines()
    assert any(line.startswith("the 2 best of 2 measures") for line in summary)
    table = [line for line in summary if line.startswith("|")]
    assert any("| cka_linear " in line for line in table) and any("| procrustes " in line for line in table)
    reports = [i for i, line in enumerate(summary) if line.startswith("reports: ")]
    assert reports and summary[reports[0]].split()[1].endswith("scorecard.html")
    assert all(not line.startswith("|") for line in summary[reports[0]:]), "the reports' paths come last"
    assert (project.path / "out" / "scorecard.html").is_file()


FAILED_IMPORT = """
import metrics._registry

# what discover() records when an entry point's module raises on import
metrics._registry._LOAD_ERRORS["broken = broken_measures"] = "ImportError: No module named 'broken_measures'"
"""


def test_a_plugin_that_failed_to_import_is_listed_in_the_scorecard(project):
    project.makepyfile(failed_import=FAILED_IMPORT)
    try:
        _run(project, "-p", "failed_import").assert_outcomes(passed=6)
    finally:
        import metrics._registry

        metrics._registry._LOAD_ERRORS.pop("broken = broken_measures", None)
    text = (project.path / "out" / "scorecard.md").read_text(encoding="utf-8")
    errors = text.split("## Errors")[1]
    assert "| broken = broken_measures | ImportError: No module named 'broken_measures'" in errors
    assert "- **plugins not loaded**: 1 (see Errors)" in text
    measures = text.split("## Measures")[1]
    assert "| cka_linear | Kornblith et al. 2019" in measures
    html = (project.path / "out" / "scorecard.html").read_text(encoding="utf-8")
    assert "broken = broken_measures" in html.split('id="errors"')[1]
