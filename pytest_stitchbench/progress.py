"""Progress on the terminal: before the first test of a scenario family, a serial run generates all the
family's selected scenarios under one status line (what is being generated or trained, n of m, the time
left), rewritten in place with pytest's public terminal-reporter API, so that generation never writes
between the progress dots. Silent under -q, when piped, and in xdist workers."""
from __future__ import annotations

import shutil
import time
from contextlib import contextmanager, nullcontext

import pytest

import scenarios
import scenarios.progress
from pytest_stitchbench.options import time_limits
from pytest_stitchbench.state import is_worker, run_of

__all__ = ["StatusLine", "generate_family", "scenario_of"]


def _reporter(config):
    """pytest's terminal reporter where progress lines are shown (a serial run writing to a terminal, at
    normal verbosity or more), else None."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or is_worker(config) or not reporter.isatty() or config.getoption("verbose") < 0:
        return None
    return reporter


class StatusLine:
    """One line on the terminal between two tests' outputs, rewritten in place. It starts on a line of its
    own and is left for pytest to end: the next test's output starts on a new line with its file name,
    so the dots are never broken. A no-op where progress is not shown."""

    def __init__(self, config) -> None:
        self.reporter = _reporter(config)
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


def scenario_of(item):
    """The scenario of a grid test (measure x scenario); None for other tests."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("scenario") if callspec is not None and "metric_name" in callspec.params else None


def generate_family(config, family: str, specs: list) -> None:
    """Generate ``specs`` (scenarios of one family) into the run's cases under one status line: what is
    being generated or trained (``scenarios.progress`` notes), n of m, and the time left. A scenario that
    cannot be generated is kept as its error: its tests report it, the family goes on."""
    run = run_of(config)
    line = StatusLine(config)
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
                run.generate(spec, time_limits(config).generation)
        finally:
            scenarios.progress.set_listener(previous)
    cases = sum(len(run.cases.get(spec.name, ())) for spec in todo)
    failed = f", {len(run.generation_errors)} failed (see the tests)" if run.generation_errors else ""
    line.show(f"[stitchbench] {family}: {len(todo)} scenario(s) generated, {cases} cases in "
              f"{_duration(time.perf_counter() - started)}{failed}", force=True)  # fmt: skip


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    """Serial runs: generate a scenario family's selected scenarios before its first test."""
    run = run_of(item.config)
    spec = scenario_of(item)
    if spec is None or is_worker(item.config) or spec.family in run.families_ready:
        return None
    run.families_ready.add(spec.family)
    if run.scenario_order is None:
        selected = (scenario_of(other) for other in item.session.items)
        run.scenario_order = list({s.name: s for s in selected if s is not None}.values())
    generate_family(item.config, spec.family, [s for s in run.scenario_order if s.family == spec.family])
    return None
