"""pytest glue for `pytest benchmarks/`: run options, the measure x scenario grid, and the reports.

Every registered measure (``metrics.available()``, plugins included) is parametrized over every scenario
spec (``scenarios.load_specs``); each test measures all cases and seeds of its scenario and hands its
rows to this file, which writes the reports once, at the end of the session, in the controller process:

- serial run: the rows stay in memory;
- ``-n auto`` (pytest-xdist): each worker writes its rows to its own file in a folder the controller
  made (atomic write), and the controller merges them in ``pytest_sessionfinish``; the results table is
  put in a canonical order, so the reports are those of a serial run (the same verdicts and scores;
  values to rounding, since a worker's BLAS sums in another order on its share of the cores).

The work itself lives in ``reports`` (pure functions); this file only selects, collects and calls.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from contextlib import contextmanager, nullcontext
from pathlib import Path

from reports.environment import pin_cpu_kernels  # stdlib only: before numpy and torch load their libraries

pin_cpu_kernels()

import numpy as np
import pandas as pd
import pytest

import metrics
import scenarios
import scenarios.progress
import scenarios.resources
from reports.atomic import write_text
from reports.baseline import baseline_document, compare, read_baseline, write_baseline
from reports.environment import (PINNED_KERNELS, dependency_versions, environment, platform_fingerprint,
                                 versions_note)
from reports.html import BaselineComparison, write_html
from reports.networks import bank_summary
from reports.results import results_table
from reports.run import RunRecord, describe_run, write_reports
from reports.scales import MeasureScale
from reports.scorecard import HEADER_PLUGIN_ERRORS, HEADER_REFERENCES, overview_table
from reports.value_cache import ValueCache
from reports.verdicts import VerdictSettings
from scenarios.networks.cache import Cache

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
        self.speed: dict[str, dict[str, float]] = {}  # measure -> shape id -> time over own bound
        self.cases: dict[str, list] = {}  # scenario -> its cases, every seed (generated once per process)
        self.generation_errors: dict[str, Exception] = {}  # scenario -> why it could not be generated
        self.scenario_order: list | None = None  # the collected tests' scenarios, in run order
        self.families_ready: set[str] = set()
        self.comparison = BaselineComparison()
        self.benchmark_reports: list[tuple[Path, str]] = []  # printed in the terminal summary
        self.rebuild_into: Path | None = None  # --rebuild-networks: the bank folder to write
        self.reading = None  # --rebuild-networks: zoo.reading(), entered at configure
        self.reads: set = set()
        self.bank_version: str | None = None  # the bank this run wrote (--rebuild-networks)


_RUN = pytest.StashKey[_Run]()


def pytest_addoption(parser):
    group = parser.getgroup("stitchbench")
    group.addoption(
        "--profile",
        choices=PROFILES,
        default="quick",
        help="quick (default: minutes on a 2-core CPU) or full (every shape and scenario size; GPU-sized)",
    )
    group.addoption("--metrics", default=None, help="comma-separated measures to run (default: every registered one "
                    "but the opt-in ones); name@calibrated runs a measure's null-calibrated variant")
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
    group.addoption(
        "--recompute",
        action="store_true",
        help="measure every cell again instead of taking the values kept from earlier runs (reports.value_cache)",
    )
    group.addoption(
        "--speed-gate",
        action="store_true",
        help="fail the run when a speed ratio grew past twice the baseline's (for quiet, dedicated hardware)",
    )
    group.addoption(
        "--bank",
        default=None,
        metavar="DIR",
        help="the network bank to read, or with --rebuild-networks to write (default: $STITCHBENCH_BANK, else bank/)",
    )
    group.addoption(
        "--retrain",
        action="store_true",
        help="run benchmarks/test_retrain.py: the first seed of every networks scenario built again from the "
        "seeds and compared with the network bank (reports/out/retrain.md)",
    )
    group.addoption(
        "--rebuild-networks",
        action="store_true",
        help="build every networks recipe from the seeds (no bank; the local cache resumes a build) and write "
        "the network bank from what the run read (serial runs only)",
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
        _take_worker_share(config)
        return
    if config.getoption("--metrics") is not None:  # fail early, as a usage error, on unknown names
        selected_metrics(config)
    if config.getoption("--scenarios") is not None or config.getoption("--families") is not None:
        selected_specs(config)
    _choose_bank(config, run)


def _choose_bank(config, run: _Run) -> None:
    """--bank names the bank every process reads (``$STITCHBENCH_BANK``, which xdist workers inherit);
    --rebuild-networks reads none and collects what the networks cases read, to write the bank at the
    end (:func:`_rebuild_bank`)."""
    bank = config.getoption("--bank")
    if bank is not None:
        os.environ["STITCHBENCH_BANK"] = str(_under_root(config, bank))
    if not config.getoption("--rebuild-networks"):
        return
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("--rebuild-networks runs serially: leave out -n")
    from scenarios.networks import bank, zoo

    run.rebuild_into = Path(bank.Bank().root or bank.DEFAULT_ROOT)
    os.environ[bank.BANK_ENV] = "none"
    run.reading = zoo.reading()
    run.reads = run.reading.__enter__()


def _rebuild_bank(config, run: _Run) -> str:
    """--rebuild-networks: write the bank from what the networks cases read; replace it when every
    networks scenario of the specs was generated, else add to it. Returns the summary line."""
    from scenarios.networks.bank_build import needed, write_bank

    run.reading.__exit__(None, None, None)
    wanted = {s.name for s in _all_specs(config) if s.family == "networks"}
    generated = {name for name in run.cases if name in wanted}
    complete = generated == wanted and not run.generation_errors
    built_with = {"platform": platform_fingerprint(), "versions": dependency_versions(),
                  "kernels": {name: os.environ.get(name) for name in sorted(PINNED_KERNELS)}}
    report = write_bank(needed(run.reads), run.rebuild_into, built_with, replace=complete)
    run.bank_version = report.version
    scope = "replaced" if complete else "added to (not every networks scenario ran)"
    return f"{report} at {run.rebuild_into}: {scope}"


def _take_worker_share(config) -> None:
    """xdist worker: limit this process to its share of the cores and, where there are GPUs, one GPU."""
    import torch

    share = scenarios.resources.worker_share(
        config.workerinput["workerid"], int(config.workerinput["workercount"]), os.cpu_count() or 1,
        torch.cuda.device_count(),
    )
    scenarios.resources.apply(share)


#: Benchmark modules that time code and need the whole machine: under xdist they are skipped.
SERIAL_ONLY = ("test_speed.py", "test_streaming.py", "test_peers.py", "test_retrain.py")


def pytest_collection_modifyitems(config, items):
    """Skip the timing benchmarks under xdist, and the speed benchmark of measures this run leaves out
    (opt-in measures not named with --metrics)."""
    left_out = set(metrics.available()) - set(selected_metrics(config))
    serial = pytest.mark.skip(reason="timing benchmarks need the whole machine: run them serially (without -n)")
    if not config.getoption("--retrain"):  # the retraining check is opt-in: leave its tests out
        retrain = [item for item in items if item.path.name == "test_retrain.py"]
        if retrain:
            config.hook.pytest_deselected(items=retrain)
            items[:] = [item for item in items if item.path.name != "test_retrain.py"]
    for item in items:
        if _is_worker(config) and item.path.name in SERIAL_ONLY:
            item.add_marker(serial)
        name = getattr(item, "callspec", None) and item.callspec.params.get("name")
        if item.path.name == "test_speed.py" and name in left_out:
            item.add_marker(pytest.mark.skip(reason=f"{name} is not in this run (opt-in measures run when --metrics names them)"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist controller: give every worker the folder for its rows (made once per run)."""
    run = node.config.stash[_RUN]
    if run.rows_dir is None:
        report_dir = _under_root(node.config, node.config.getoption("--report-dir"))
        report_dir.mkdir(parents=True, exist_ok=True)
        run.rows_dir = Path(tempfile.mkdtemp(prefix=".rows-", dir=report_dir))
    node.workerinput[_ROWS_DIR] = str(run.rows_dir)


def _all_specs(config) -> list:
    """Every scenario spec of --specs (default scenarios/specs/) for --profile."""
    return scenarios.load_specs(paths=_split(config.getoption("--specs")), profile=config.getoption("--profile"))


def selected_specs(config) -> list:
    """The scenario specs of this run (--profile, --specs, --families, --scenarios), loaded once per process."""
    run = config.stash[_RUN]
    if run.specs is None:
        specs = _all_specs(config)
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


def _known(name: str) -> bool:
    try:
        metrics.get(name)
    except (KeyError, ValueError):
        return False
    return True


def selected_metrics(config) -> list[str]:
    """The measures of this run (--metrics, default every registered one but the opt-in ones); --metrics
    also takes modified measures (``cka_linear@calibrated``), after the registered ones in its order."""
    available = metrics.available()
    wanted = _split(config.getoption("--metrics"))
    if wanted is None:
        return [name for name in available if not metrics.get(name).info.opt_in]
    unknown = sorted(name for name in set(wanted) if not _known(name))
    if unknown:
        modifiers = ", ".join(f"name@{modifier}" for modifier in metrics.modifiers())
        raise pytest.UsageError(f"--metrics: unknown {unknown}; available: {', '.join(available)}; and {modifiers}")
    variants = [name for name in dict.fromkeys(wanted) if name not in available]
    return [name for name in available if name in wanted] + variants


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
    config = metafunc.config
    if "scenario" in metafunc.fixturenames and "metric_name" not in metafunc.fixturenames:
        specs = selected_specs(config)
        metafunc.parametrize("scenario", specs, ids=[spec.name for spec in specs])
    if not {"metric_name", "scenario"} <= set(metafunc.fixturenames):
        return
    grid = [
        pytest.param(name, spec, id=f"{name}-{spec.name}", marks=pytest.mark.xdist_group(spec.name))
        for spec in selected_specs(config)
        for name in selected_metrics(config)
    ]
    metafunc.parametrize(("metric_name", "scenario"), grid)


# ---- the terminal: one progress line per scenario family ---------------------------------------------


def _progress_reporter(config):
    """pytest's terminal reporter where progress lines are shown (a serial run writing to a terminal, at
    normal verbosity or more), else None: silent under -q, when piped, and in xdist workers."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or _is_worker(config) or not reporter.isatty() or config.getoption("verbose") < 0:
        return None
    return reporter


class _StatusLine:
    """One line on the terminal between two tests' outputs, rewritten in place.

    It starts on a line of its own (the progress dots before it first get their percentage, as pytest
    does itself when a new test file starts) and is left for pytest to end: the next test's output starts
    on a new line with its file name, so the dots are never broken. A no-op where
    :func:`_progress_reporter` is None.
    """

    def __init__(self, config) -> None:
        self.reporter = _progress_reporter(config)
        self.capture = config.pluginmanager.get_plugin("capturemanager")
        self.shown = 0.0  # when the line was last written (0: not yet)

    def show(self, text: str, force: bool = False) -> None:
        """Write ``text`` over the line (at most every 0.2 s unless ``force``), cut to the terminal's width."""
        now = time.perf_counter()
        if self.reporter is None or (self.shown and not force and now - self.shown < 0.2):
            return
        width = shutil.get_terminal_size().columns - 1
        text = text if len(text) <= width else text[: width - 1] + "…"
        with self.capture.global_and_fixture_disabled() if self.capture else nullcontext():
            if not self.shown:
                fill = getattr(self.reporter, "_write_progress_information_filling_space", None)
                dots = self.reporter.currentfspath not in (None, -2) and self.reporter.config.getoption("verbose") == 0
                if dots and fill is not None and getattr(self.reporter, "_show_progress_info", False):
                    fill()
                self.reporter.ensure_newline()
            self.reporter.rewrite(text, erase=True)
            self.reporter.flush()
        self.shown = now


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


@contextmanager
def _captured(capture):
    """Capture what the generators print (pytest hands it to the next test's report)."""
    if capture is None:
        yield
        return
    capture.resume_global_capture()
    try:
        yield
    finally:
        capture.suspend_global_capture()


def _scenario_of(item):
    """The scenario of a grid test (measure x scenario); None for other tests."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("scenario") if callspec is not None and "metric_name" in callspec.params else None


def _generate_family(config, family: str, specs: list) -> None:
    """Generate ``specs`` (scenarios of one family) into the run's cache under one status line: what is
    being generated or trained (``scenarios.progress`` notes), n of m, and the time left."""
    run = config.stash[_RUN]
    line = _StatusLine(config)
    capture = config.pluginmanager.get_plugin("capturemanager")
    todo = [spec for spec in specs if spec.name not in run.cases]
    started = time.perf_counter()
    for done, spec in enumerate(todo):

        def show(note: str = "", force: bool = False, done: int = done, spec=spec) -> None:
            elapsed = time.perf_counter() - started
            left = f", about {_duration(elapsed / done * (len(todo) - done))} left" if done else ""
            line.show(f"[stitchbench] {family}: generating {spec.name} ({done + 1} of {len(todo)}{left})"
                      + (f": {note}" if note else ""), force)  # fmt: skip

        previous = scenarios.progress.set_listener(show)
        show(force=True)
        try:
            with _captured(capture):
                run.cases[spec.name] = list(scenarios.cases(spec))
        except Exception as err:  # noqa: BLE001 - the scenario's tests report it; the family goes on
            run.generation_errors[spec.name] = err
        finally:
            scenarios.progress.set_listener(previous)
    cases = sum(len(run.cases.get(spec.name, ())) for spec in todo)
    failed = f", {len(run.generation_errors)} failed (see the tests)" if run.generation_errors else ""
    line.show(f"[stitchbench] {family}: {len(todo)} scenario(s) generated, {cases} cases in "
              f"{_duration(time.perf_counter() - started)}{failed}", force=True)  # fmt: skip


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    """Serial runs: before the first test of a scenario family, generate all the family's selected
    scenarios under one progress line, so that generation never writes between the progress dots."""
    run = item.config.stash[_RUN]
    spec = _scenario_of(item)
    if spec is None or _is_worker(item.config) or spec.family in run.families_ready:
        return None
    run.families_ready.add(spec.family)
    if run.scenario_order is None:
        selected = (_scenario_of(other) for other in item.session.items)
        run.scenario_order = list({s.name: s for s in selected if s is not None}.values())
    _generate_family(item.config, spec.family, [s for s in run.scenario_order if s.family == spec.family])
    return None


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
    """``report(name, text)``: write a benchmark's report ``name`` under ``--report-dir`` (atomically);
    the terminal summary prints it (not the test's teardown, which would break the progress dots)."""

    def report(name: str, text: str) -> Path:
        path = write_text(_under_root(pytestconfig, pytestconfig.getoption("--report-dir")) / name, text)
        pytestconfig.stash[_RUN].benchmark_reports.append((path, text))
        return path

    return report


@pytest.fixture(scope="session")
def scenario_cases(pytestconfig):
    """``cases(scenario) -> list[Case]``: every seed's cases, generated once per scenario and process
    (in serial runs before the family's first test, by :func:`pytest_runtest_protocol`)."""
    run = pytestconfig.stash[_RUN]

    def cases(spec) -> list:
        if spec.name in run.generation_errors:
            raise run.generation_errors[spec.name]
        if spec.name not in run.cases:
            run.cases[spec.name] = list(scenarios.cases(spec))
        return run.cases[spec.name]

    return cases


@pytest.fixture(scope="session")
def value_cache(pytestconfig) -> ValueCache:
    """The values kept from earlier runs, under the networks cache folder (``<cache>/values``); not read
    with ``--recompute`` or ``--update-baseline`` (a baseline is always measured afresh)."""
    read = not (pytestconfig.getoption("--recompute") or pytestconfig.getoption("--update-baseline"))
    return ValueCache(Cache().root / "values", read=read)


@pytest.fixture(scope="session")
def record_rows(pytestconfig):
    """``record(rows)``: hand a test's result rows to the session's reports."""
    return pytestconfig.stash[_RUN].rows.extend


@pytest.fixture(scope="session")
def baseline_speed(pytestconfig) -> dict:
    """The speed section of the --baseline file (``{measure: {shape_id: ratio}}``; empty without one), so
    that speed.md shows each ratio's change."""
    path = pytestconfig.getoption("--baseline")
    if path is None or not _under_root(pytestconfig, path).is_file():
        return {}
    return read_baseline(_under_root(pytestconfig, path)).get("speed", {})


@pytest.fixture(scope="session")
def record_speed(pytestconfig):
    """``record(section)``: hand the speed benchmark's ratios (``reports.baseline.speed_section``) to the
    baseline comparison (serial runs: under xdist the timing benchmarks are skipped)."""
    return pytestconfig.stash[_RUN].speed.update


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
    extra = {"profile": config.getoption("--profile"), "execution": execution,
             "numerical dependencies": versions_note()}
    _, bank_line = bank_summary(results)
    if run.bank_version:
        bank_line = f"{run.bank_version}, rebuilt by this run from the seeds (--rebuild-networks)"
    if bank_line:
        extra["network bank"] = bank_line
    measures = sorted(set(results["metric"]))
    plugin_errors = metrics.load_errors()
    return RunRecord(
        header={
            **describe_run(results, settings, extra),
            **environment(),
            HEADER_REFERENCES: {name: metrics.get(name).info.reference or "" for name in measures},
            **({HEADER_PLUGIN_ERRORS: plugin_errors} if plugin_errors else {}),
        },
        scales={name: MeasureScale.from_info(metrics.get(name).info) for name in sorted(set(results["metric"]))},
        expectations={s.name: s.expectations for s in specs},
        sweeps={s.name: s.sweep.name for s in specs if s.sweep is not None},
        settings=settings,
        generators={s.name: s.generator for s in specs},
    )


def _check_baseline(config, results, verdicts) -> tuple[list[str], bool]:
    """Compare with / update the baseline; returns the summary lines and whether the run must fail."""
    path_option = config.getoption("--baseline")
    update = config.getoption("--update-baseline")
    if path_option is None and not update:
        return [], False
    run = config.stash[_RUN]
    bank = run.bank_version or bank_summary(results)[0]
    current = baseline_document(results, verdicts, profile=config.getoption("--profile"), speed=run.speed, bank=bank)
    path = _under_root(config, path_option or DEFAULT_BASELINE)
    lines, failing = [], False
    if results.empty and update:  # a speed-only run must not replace the recorded verdicts and values
        update = False
        lines.append("speed benchmark alone: the baseline is compared, not rewritten (run the grid to update it)")
    if path_option is not None and path.exists():
        tolerance = config.getoption("--baseline-tolerance")
        differences = compare(read_baseline(path), current, tolerance=tolerance,
                              speed_fails=config.getoption("--speed-gate"))
        failing = any(d.fails for d in differences) and not update
        lines.append(f"baseline {path}: {len(differences)} difference(s), {sum(d.fails for d in differences)} failing")
        lines += _difference_lines(differences)
        config.stash[_RUN].comparison = BaselineComparison(path_option, tolerance, tuple(differences))
    elif path_option is not None:
        lines.append(f"baseline {path} does not exist (write it with --update-baseline)")
        failing = not update
        config.stash[_RUN].comparison = BaselineComparison(path_option, note="The baseline file does not exist.")
    if update:
        write_baseline(current, path)
        lines.append(f"baseline written: {path}")
    return lines, failing


#: Differences that say what the run stands on (another bank, other versions, another platform): one
#: line each, always printed, never failing.
CONTEXT_KINDS = ("bank", "versions", "platform")


def _difference_lines(differences, shown: int = 20) -> list[str]:
    """What the run stands on (:data:`CONTEXT_KINDS`), the first ``shown`` failing differences, then how
    many others there are, by kind."""
    context = [d for d in differences if d.kind in CONTEXT_KINDS]
    failing = [d for d in differences if d.fails]
    lines = [f"  {d}" for d in [*context, *failing[:shown]]]
    others = (d for d in differences if not d.fails and d.kind not in CONTEXT_KINDS)
    rest = Counter(d.kind for d in [*failing[shown:], *others])
    if rest:
        counts = ", ".join(f"{count} {kind}" for kind, count in sorted(rest.items()))
        more = f"and {sum(rest.values())} more: " if lines else ""
        lines.append(f"  {more}{counts} (every one is listed in scorecard.html, Baseline)")
    return lines


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    run = config.stash[_RUN]
    if _is_worker(config):
        if run.rows_dir is not None:
            payload = json.dumps(run.rows, default=float)
            write_text(run.rows_dir / f"{config.workerinput['workerid']}.json", payload)
        return
    rebuilt = [_rebuild_bank(config, run)] if run.reading is not None else []
    rows = _merged_rows(run)
    if not rows:
        if run.speed:  # the speed benchmark alone: its ratios are still compared with the baseline
            no_verdicts = pd.DataFrame(columns=["metric", "scenario", "expectation", "verdict"])
            run.summary, failing = _check_baseline(config, results_table([]), no_verdicts)
            if failing and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    kept = [row["time"] for row in rows if row.get("cached")]
    results = results_table(rows)
    report_dir = _under_root(config, config.getoption("--report-dir"))
    record = _record(config, results)
    reports = write_reports(results, record, report_dir, html=False)
    baseline_lines, failing = _check_baseline(config, results, reports.verdicts)
    if failing and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    run.comparison.write(report_dir)  # the page shows it, and `python -m reports` rebuilds the page with it
    html = write_html(results, reports.verdicts, reports.scores, reports.errors, record, report_dir,
                      comparison=run.comparison)[-1]  # fmt: skip
    failed = results[results["error"] != ""]
    measures, top = reports.scores["metric"].nunique(), 10
    run.summary = [
        *rebuilt,
        *baseline_lines,
        f"{len(results)} cells, {len(failed)} failed ({failed['metric'].nunique()} measure(s); see Errors in the "
        f"scorecard); measures ran {results['time'].sum() - sum(kept):.1f} s, session {time.perf_counter() - run.started:.1f} s",
        *([f"{len(kept)} cells kept from earlier runs (reports.value_cache; they took {sum(kept):.1f} s when measured; "
           "--recompute measures them again)"] if kept else []),
        "",
        f"the {min(top, measures)} best of {measures} measures by summary score (all of them: scorecard.md, .html):",
        overview_table(reports.scores, top=top),
        "",
        f"reports: {html} (open it in a browser)",
        f"         and scorecard.md, disagreements.md, verdicts.csv, results.csv, figures/ in {report_dir}",
    ]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    run = config.stash[_RUN]
    for path, text in run.benchmark_reports:
        terminalreporter.write_sep("=", f"stitchbench {path.name}")
        for line in [*text.rstrip().splitlines(), "", f"written to {path}"]:
            terminalreporter.write_line(line)
    summary = run.summary
    if summary:
        terminalreporter.write_sep("=", "stitchbench scorecard")
        for line in summary:
            terminalreporter.write_line(line)
