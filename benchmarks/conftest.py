"""pytest glue for `pytest benchmarks/`: run options, the measure x scenario grid, and the reports.

Every registered measure (``metrics.available()``, plugins included) is parametrized over every scenario
spec (``scenarios.load_specs``); each test measures all cases and seeds of its scenario and hands its
rows to this file, which writes the reports once, at the end of the session, in the controller process:

- serial run: the rows stay in memory;
- ``-n auto`` (pytest-xdist): each worker writes its rows to its own file in a folder the controller
  made (atomic write), and the controller merges them in ``pytest_sessionfinish``; the results table is
  put in a canonical order, so the reports are those of a serial run.

The work itself lives in ``reports`` (pure functions); this file only selects, collects and calls.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import metrics
import scenarios
from reports.atomic import write_text
from reports.baseline import baseline_document, compare, read_baseline, write_baseline
from reports.environment import environment
from reports.results import results_table
from reports.run import RunRecord, describe_run, write_reports
from reports.scales import MeasureScale
from reports.scorecard import overview_table
from reports.verdicts import VerdictSettings

PROFILES = ("quick", "full")
DEFAULT_BASELINE = "reports/baseline.json"
_ROWS_DIR = "stitchbench_rows_dir"  # workerinput key: where xdist workers leave their rows


class _Run:
    """This process's share of the run: the selected grid, the rows measured, and the summary to print."""

    def __init__(self) -> None:
        self.specs: list | None = None
        self.rows: list[dict] = []
        self.rows_dir: Path | None = None
        self.started = time.perf_counter()
        self.summary: list[str] = []


_RUN = pytest.StashKey[_Run]()


def pytest_addoption(parser):
    group = parser.getgroup("stitchbench")
    group.addoption(
        "--profile",
        choices=PROFILES,
        default="quick",
        help="quick (default: minutes on a 2-core CPU) or full (every shape and scenario size; GPU-sized)",
    )
    group.addoption("--metrics", default=None, help="comma-separated measures to run (default: every registered one)")
    group.addoption("--scenarios", default=None, help="comma-separated scenario names to run (default: all)")
    group.addoption("--families", default=None, help="comma-separated scenario families to run (default: all)")
    group.addoption(
        "--specs", default=None, help="comma-separated spec files or folders (default: scenarios/specs/*.toml)"
    )
    group.addoption(
        "--report-dir", default="reports/out", help="where the reports go, relative to the rootdir (reports/out)"
    )
    group.addoption(
        "--baseline",
        default=None,
        metavar="PATH",
        help="compare verdicts and values with this baseline JSON; any changed verdict or value drift fails the run",
    )
    group.addoption(
        "--baseline-tolerance", type=float, default=1e-4, help="absolute value drift allowed by --baseline (1e-4)"
    )
    group.addoption(
        "--update-baseline",
        action="store_true",
        help=f"rewrite the baseline (--baseline PATH, default {DEFAULT_BASELINE}) from this run",
    )


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def _under_root(config, path: str) -> Path:
    path = Path(path)
    return path if path.is_absolute() else Path(config.rootpath) / path


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [item.strip() for item in value.split(",") if item.strip()]


def pytest_configure(config):
    config.addinivalue_line("markers", "xdist_group(name): run with --dist loadgroup to keep a scenario on one worker")
    run = _Run()
    config.stash[_RUN] = run
    if _is_worker(config):
        run.rows_dir = Path(config.workerinput[_ROWS_DIR]) if _ROWS_DIR in config.workerinput else None
        return
    if config.getoption("--metrics") is not None:  # fail early, as a usage error, on unknown names
        selected_metrics(config)
    if config.getoption("--scenarios") is not None or config.getoption("--families") is not None:
        selected_specs(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist controller: give every worker the folder for its rows (made once per run)."""
    run = node.config.stash[_RUN]
    if run.rows_dir is None:
        report_dir = _under_root(node.config, node.config.getoption("--report-dir"))
        report_dir.mkdir(parents=True, exist_ok=True)
        run.rows_dir = Path(tempfile.mkdtemp(prefix=".rows-", dir=report_dir))
    node.workerinput[_ROWS_DIR] = str(run.rows_dir)


def selected_specs(config) -> list:
    """The scenario specs of this run (--profile, --specs, --families, --scenarios), loaded once per process."""
    run = config.stash[_RUN]
    if run.specs is None:
        paths = _split(config.getoption("--specs"))
        specs = scenarios.load_specs(paths=paths, profile=config.getoption("--profile"))
        for option, attribute in (("--families", "family"), ("--scenarios", "name")):
            wanted = _split(config.getoption(option))
            if wanted is None:
                continue
            known = sorted({getattr(s, attribute) for s in specs})
            unknown = sorted(set(wanted) - set(known))
            if unknown:
                raise pytest.UsageError(f"{option}: unknown {unknown}; known: {', '.join(known)}")
            specs = [s for s in specs if getattr(s, attribute) in wanted]
        run.specs = specs
    return run.specs


def selected_metrics(config) -> list[str]:
    """The measures of this run (--metrics, default every registered one)."""
    available = metrics.available()
    wanted = _split(config.getoption("--metrics"))
    if wanted is None:
        return available
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        raise pytest.UsageError(f"--metrics: unknown {unknown}; available: {', '.join(available)}")
    return [name for name in available if name in wanted]


#: (n, p1, p2) of the speed and peer benchmarks, per profile.
SPEED_SHAPES = {
    "quick": [(1000, 64, 64), (5000, 512, 512)],
    "full": [(1000, 64, 64), (5000, 512, 512), (10000, 2048, 2048)],
}


def pytest_generate_tests(metafunc):
    """Parametrize ``shape`` over the profile's ``SPEED_SHAPES`` (ids like "n1000-p64x64"), and
    ``(metric_name, scenario)`` over the grid, scenario-major, ids like "cka_linear-orthogonal"."""
    if "shape" in metafunc.fixturenames:
        shapes = SPEED_SHAPES[metafunc.config.getoption("--profile")]
        metafunc.parametrize("shape", shapes, ids=[f"n{n}-p{p1}x{p2}" for n, p1, p2 in shapes], scope="module")
    if not {"metric_name", "scenario"} <= set(metafunc.fixturenames):
        return
    config = metafunc.config
    grid = [
        pytest.param(name, spec, id=f"{name}-{spec.name}", marks=pytest.mark.xdist_group(spec.name))
        for spec in selected_specs(config)
        for name in selected_metrics(config)
    ]
    metafunc.parametrize(("metric_name", "scenario"), grid)


def _say(config, line: str) -> None:
    """A progress line on the terminal, from inside a test (serial runs; xdist workers have no terminal)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or _is_worker(config):
        return
    if capture is None:
        reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.fixture(scope="module")
def pair(shape):
    """Float64 X [n, p1] and Y [n, p2], Y a noisy linear image of X: correlated and full rank, like two
    layers of one network."""
    n, p1, p2 = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, p1))
    y = x @ rng.standard_normal((p1, p2)) / np.sqrt(p1) + 0.5 * rng.standard_normal((n, p2))
    return x, y


@pytest.fixture(scope="session")
def benchmark_report(pytestconfig):
    """``report(name, text)``: write a benchmark's report ``name`` under ``--report-dir`` (atomically)
    and print it on the terminal."""

    def report(name: str, text: str) -> Path:
        path = write_text(_under_root(pytestconfig, pytestconfig.getoption("--report-dir")) / name, text)
        reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("")
            for line in text.splitlines():
                reporter.write_line(line)
        return path

    return report


@pytest.fixture(scope="session")
def scenario_cases(pytestconfig):
    """``cases(scenario) -> list[Case]``: every seed's cases, generated once per scenario and process."""
    cache: dict[str, list] = {}

    def cases(spec) -> list:
        if spec.name not in cache:
            _say(pytestconfig, f"\n[stitchbench] generating {spec.family}/{spec.name} ({len(spec.seeds)} seeds)")
            start = time.perf_counter()
            cache[spec.name] = list(scenarios.cases(spec))
            _say(pytestconfig, f"[stitchbench] {len(cache[spec.name])} cases in {time.perf_counter() - start:.1f} s")
        return cache[spec.name]

    return cases


@pytest.fixture(scope="session")
def record_rows(pytestconfig):
    """``record(rows)``: hand a test's result rows to the session's reports."""
    return pytestconfig.stash[_RUN].rows.extend


def _merged_rows(run: _Run) -> list[dict]:
    rows = list(run.rows)
    if run.rows_dir is not None and run.rows_dir.exists():
        for path in sorted(run.rows_dir.glob("*.json")):
            rows += json.loads(path.read_text(encoding="utf-8"))
        shutil.rmtree(run.rows_dir, ignore_errors=True)
    return rows


def _record(config, results) -> RunRecord:
    run = config.stash[_RUN]
    ran = set(results["scenario"])
    specs = [s for s in selected_specs(config) if s.name in ran]
    workers = getattr(config.option, "numprocesses", None)
    settings = VerdictSettings()
    execution = f"xdist, {workers} workers" if run.rows_dir else "serial"
    extra = {"profile": config.getoption("--profile"), "execution": execution}
    return RunRecord(
        header={**describe_run(results, settings, extra), **environment()},
        scales={name: MeasureScale.from_info(metrics.get(name).info) for name in sorted(set(results["metric"]))},
        expectations={s.name: s.expectations for s in specs},
        sweeps={s.name: s.sweep.name for s in specs if s.sweep is not None},
        settings=settings,
    )


def _check_baseline(config, results, verdicts) -> tuple[list[str], bool]:
    """Compare with / update the baseline; returns the summary lines and whether the run must fail."""
    path_option = config.getoption("--baseline")
    update = config.getoption("--update-baseline")
    if path_option is None and not update:
        return [], False
    current = baseline_document(results, verdicts, profile=config.getoption("--profile"))
    path = _under_root(config, path_option or DEFAULT_BASELINE)
    lines, failing = [], False
    if path_option is not None and path.exists():
        differences = compare(read_baseline(path), current, tolerance=config.getoption("--baseline-tolerance"))
        failing = any(d.fails for d in differences) and not update
        lines.append(f"baseline {path}: {len(differences)} difference(s), {sum(d.fails for d in differences)} failing")
        lines += [f"  {d}" for d in differences]
    elif path_option is not None:
        lines.append(f"baseline {path} does not exist (write it with --update-baseline)")
        failing = not update
    if update:
        write_baseline(current, path)
        lines.append(f"baseline written: {path}")
    return lines, failing


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    run = config.stash[_RUN]
    if _is_worker(config):
        if run.rows_dir is not None:
            payload = json.dumps(run.rows, default=float)
            write_text(run.rows_dir / f"{config.workerinput['workerid']}.json", payload)
        return
    rows = _merged_rows(run)
    if not rows:
        return
    results = results_table(rows)
    report_dir = _under_root(config, config.getoption("--report-dir"))
    reports = write_reports(results, _record(config, results), report_dir)
    baseline_lines, failing = _check_baseline(config, results, reports.verdicts)
    if failing and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    failed = results[results["error"] != ""]
    run.summary = [
        overview_table(reports.scores),
        "",
        f"{len(results)} cells, {len(failed)} failed ({failed['metric'].nunique()} measure(s); see the Errors "
        f"section of scorecard.md); measures ran {results['time'].sum():.1f} s, session "
        f"{time.perf_counter() - run.started:.1f} s",
        f"reports: {report_dir} (scorecard.md, disagreements.md, verdicts.csv, results.csv, figures/)",
        *baseline_lines,
    ]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    summary = config.stash[_RUN].summary
    if summary:
        terminalreporter.write_sep("=", "stitchbench scorecard")
        for line in summary:
            terminalreporter.write_line(line)
