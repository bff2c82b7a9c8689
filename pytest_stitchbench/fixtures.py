"""The fixtures the benchmark modules ask for: the scenario cases, the kept values, where rows and speed
ratios go, the baseline's speed section, a benchmark's report, and the speed benchmarks' data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_stitchbench.options import TimeLimits, time_limits as limits_of
from pytest_stitchbench.state import run_of, under_root
from runner.atomic import write_text
from runner.paths import values_root
from runner.value_cache import ValueCache


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
    """``report(name, text)``: a benchmark's report ``name``, written into the run's staging folder and
    published with the run's other reports at the end (``session``); returns its path under
    ``--report-dir``. The terminal summary prints it (not the test's teardown, which would break the
    progress dots)."""
    run = run_of(pytestconfig)

    def report(name: str, text: str) -> Path:
        report_dir = under_root(pytestconfig, pytestconfig.getoption("--report-dir"))
        write_text(run.report_folder(report_dir) / name, text)
        run.benchmark_reports.append((report_dir / name, text))
        return report_dir / name

    return report


@pytest.fixture(scope="session")
def scenario_cases(pytestconfig):
    """``cases(scenario) -> list[Case]``: every seed's cases, generated once per scenario and process
    (in serial runs before the family's first test, ``progress.pytest_runtest_protocol``); raises why a
    scenario could not be generated (``state.Run.generate``)."""
    run = run_of(pytestconfig)

    def cases(spec) -> list:
        if spec.name not in run.cases and spec.name not in run.generation_errors:
            run.generate(spec, limits_of(pytestconfig).generation)
        if spec.name in run.generation_errors:
            raise run.generation_errors[spec.name]
        return run.cases[spec.name]

    return cases


@pytest.fixture(scope="session")
def value_cache(pytestconfig) -> ValueCache:
    """The values kept from earlier runs (``runner.paths.values_root``); not read with ``--recompute`` or
    ``--update-baseline`` (a baseline is always measured afresh)."""
    read = not (pytestconfig.getoption("--recompute") or pytestconfig.getoption("--update-baseline"))
    return ValueCache(values_root(), read=read)


@pytest.fixture(scope="session")
def record_rows(pytestconfig):
    """``record(rows)``: hand a test's result rows to the session's reports."""
    return run_of(pytestconfig).rows.extend


@pytest.fixture(scope="session")
def baseline_speed(pytestconfig) -> dict:
    """The speed section of the --baseline file (``{measure: {shape_id: ratio}}``; empty without one), so
    that speed.md shows each ratio's change (the document read and checked when the run was configured)."""
    return (run_of(pytestconfig).baseline or {}).get("speed", {})


@pytest.fixture(scope="session")
def time_limits(pytestconfig) -> TimeLimits:
    """The run's time limits (--cell-timeout, --generation-timeout; ``options.TimeLimits``)."""
    return limits_of(pytestconfig)


@pytest.fixture(scope="session")
def record_speed(pytestconfig):
    """``record(section)``: hand the speed benchmark's ratios (``reports.baseline.speed_section``) to the
    baseline comparison (serial runs: under xdist the timing benchmarks are skipped)."""
    return run_of(pytestconfig).speed.update
