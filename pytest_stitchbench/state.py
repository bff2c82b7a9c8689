"""The run's shared state (one :class:`Run` per process, in ``config.stash``) and small helpers."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

import scenarios
from runner.atomic import staging_folder
from runner.isolation import USER_FAULTS, time_limit

__all__ = ["RUN", "Run", "is_worker", "run_of", "split", "under_root"]


class Run:
    """This process's share of the run: the selected grid, the cases generated, the rows measured, and the
    summary to print."""

    def __init__(self) -> None:
        self.specs: list | None = None
        self.rows: list[dict] = []
        self.rows_dir: Path | None = None
        self.started = time.perf_counter()
        self.summary: list[str] = []
        self.speed: dict[str, dict[str, float]] = {}  # measure -> shape id -> time over own bound
        self.cases: dict[str, list] = {}  # scenario -> its cases, every seed (generated once per process)
        self.generation_errors: dict[str, BaseException] = {}  # scenario -> why it could not be generated
        self.scenario_order: list | None = None  # the collected tests' scenarios, in run order
        self.families_ready: set[str] = set()
        self.benchmark_reports: list[tuple[Path, str]] = []  # printed in the terminal summary
        self.rebuild = None  # --rebuild-networks: the bank.Rebuild under way
        self.baseline: dict | None = None  # the --baseline document, read and checked before the run
        self.staging: Path | None = None  # the report set being written (runner.atomic.staging_folder)

    def staged(self, report_dir: Path) -> Path:
        """The run's staging folder beside ``report_dir`` (made when first needed): the run's report set,
        published whole at the end (``session``)."""
        if self.staging is None:
            self.staging = staging_folder(report_dir)
        return self.staging

    def report_folder(self, report_dir: Path) -> Path:
        """Where this process writes a benchmark's report: the staging folder (:meth:`staged`); in an
        xdist worker, ``reports/`` of the rows' folder, which the controller moves into its staging folder
        (``rows.worker_reports``)."""
        return self.rows_dir / "reports" if self.rows_dir is not None else self.staged(report_dir)

    def generate(self, spec, seconds: float | None) -> None:
        """Generate the cases of ``spec`` (every seed) into :attr:`cases`, or keep why it could not be
        generated in :attr:`generation_errors`: whatever the generator or the user's factory raises,
        ``SystemExit`` included, or running past ``seconds`` (``--generation-timeout``)."""
        try:
            with time_limit(seconds, f"scenario {spec.name!r}: generating its cases"):
                self.cases[spec.name] = list(scenarios.cases(spec))
        except USER_FAULTS as err:  # the scenario's tests report it; the run goes on
            self.generation_errors[spec.name] = err


RUN = pytest.StashKey[Run]()


def run_of(config) -> Run:
    return config.stash[RUN]


def is_worker(config) -> bool:
    """Whether this process is a pytest-xdist worker."""
    return hasattr(config, "workerinput")


def under_root(config, path: str | Path) -> Path:
    """``path``, relative paths taken from the rootdir."""
    path = Path(path)
    return path if path.is_absolute() else Path(config.rootpath) / path


def split(value: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when the option was not given)."""
    return None if value is None else [item.strip() for item in value.split(",") if item.strip()]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "xdist_group(name): run with --dist loadgroup to keep a scenario on one worker")
    config.stash[RUN] = Run()
