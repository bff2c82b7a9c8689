"""The command-line options of ``pytest benchmarks/`` (group "stitchbench"), checked before anything runs.

Every option and file a run depends on is checked when pytest configures (before any scenario is
generated or measured), each problem a one-line usage error: the numbers are in range; the --baseline
file exists (unless --update-baseline writes it), is UTF-8 JSON and has a baseline's shape
(``reports.baseline.read_baseline``: it is read here, once, and the comparison at the end uses this
copy); the folders of --report-dir and of the baseline --update-baseline writes can be written into,
and --report-dir is a report folder or new (``runner.atomic.replaceable_problem``: the reports replace
it whole). Specs, scenario and measure names and seeds are checked by ``selection`` at the same time.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import pytest

from pytest_stitchbench.state import is_worker, run_of, under_root
from reports.baseline import BaselineError, read_baseline
from runner.atomic import replaceable_problem, writable_problem

__all__ = ["DEFAULT_BASELINE", "DEFAULT_CELL_TIMEOUT", "DEFAULT_GENERATION_TIMEOUT", "PROFILES", "TimeLimits"]

PROFILES = ("quick", "full")
DEFAULT_BASELINE = "reports/baseline.json"
#: Seconds one measure may take on one case (--cell-timeout): an hour, generous so that only a hang
#: reaches it (the opt-in rtd takes minutes per pair); a cell past it is an error row.
DEFAULT_CELL_TIMEOUT = 3600.0
#: Seconds one scenario's generation may take, every seed (--generation-timeout): a day, generous so
#: that only a hang reaches it, training included (the suite's networks are cached as each is built: a rerun resumes);
#: a scenario past it is an error.
DEFAULT_GENERATION_TIMEOUT = 24 * 3600.0


@dataclass(frozen=True)
class TimeLimits:
    """The run's time limits in seconds (None: no limit)."""

    cell: float | None
    generation: float | None


def seconds(value: str) -> float:
    """A time limit in seconds: a finite number >= 0 (0: no limit)."""
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(value)
    return number


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
        "--cell-timeout", type=seconds, default=DEFAULT_CELL_TIMEOUT, metavar="SECONDS",
        help=f"a measure still running on one case after this long is stopped and its cell is an error "
        f"(default {DEFAULT_CELL_TIMEOUT:g}; 0: no limit)",
    )
    group.addoption(
        "--generation-timeout", type=seconds, default=DEFAULT_GENERATION_TIMEOUT, metavar="SECONDS",
        help=f"a scenario (a factory, a generator) still generating its cases after this long is stopped and its "
        f"cells are errors (default {DEFAULT_GENERATION_TIMEOUT:g}; 0: no limit)",
    )
    group.addoption(
        "--update-baseline",
        action="store_true",
        help=f"rewrite the baseline (--baseline PATH, default {DEFAULT_BASELINE}) from this run",
    )
    group.addoption(
        "--recompute",
        action="store_true",
        help="measure every cell again instead of taking the values kept from earlier runs (runner.value_cache)",
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


def time_limits(config) -> TimeLimits:
    """--cell-timeout and --generation-timeout (0 read as no limit)."""
    return TimeLimits(config.getoption("--cell-timeout") or None, config.getoption("--generation-timeout") or None)


def _check(config) -> None:
    """Every option and file of the run (module docstring); raises pytest.UsageError naming the problem."""
    tolerance = config.getoption("--baseline-tolerance")
    if not math.isfinite(tolerance) or tolerance < 0:
        raise pytest.UsageError(f"--baseline-tolerance: expected a number >= 0, got {tolerance}")
    report_dir = under_root(config, config.getoption("--report-dir"))
    problem = replaceable_problem(report_dir) or writable_problem(report_dir.parent)  # the set is staged beside it
    if problem:
        raise pytest.UsageError(f"--report-dir: {problem}")
    option, update = config.getoption("--baseline"), config.getoption("--update-baseline")
    path = under_root(config, option or DEFAULT_BASELINE)
    if option is not None and path.exists():
        try:
            run_of(config).baseline = read_baseline(path)
        except BaselineError as err:
            raise pytest.UsageError(f"--baseline: {err}") from None
    elif option is not None and not update:
        raise pytest.UsageError(f"--baseline: {path} does not exist (record one with --update-baseline)")
    if update:
        problem = (f"{path} is not a file" if path.exists() and not path.is_file()
                   else f"{path} cannot be written" if path.exists() and not os.access(path, os.W_OK)
                   else writable_problem(path.parent))  # fmt: skip
        if problem:
            raise pytest.UsageError(f"--update-baseline: {problem}")


def pytest_configure(config):
    if not is_worker(config):
        _check(config)
