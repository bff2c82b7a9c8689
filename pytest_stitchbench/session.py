"""The end of a session, in the controller process: the rows of every process made into the results
table, the run's record, the verdicts, the comparison with the baseline (--baseline, --update-baseline),
every report written once after it, and the terminal summary.

The reports are one set (``reports.run.write_reports``): the benchmarks' own reports (speed.md...) are
written into the run's staging folder during the session and published with the scorecard; a run that
measured no cell (the timing benchmarks alone) adds its reports to the folder one file at a time. A run
stopped early (Ctrl-C, ``pytest.exit``) still writes what it measured, its header saying so; a report
or baseline that cannot be written is one line of the summary and fails the run, the previous reports
left as they were.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections import Counter

import pandas as pd
import pytest

import metrics
import scenarios
from pytest_stitchbench.bank import rebuild_bank
from pytest_stitchbench.options import DEFAULT_BASELINE
from pytest_stitchbench.rows import merged_rows, worker_reports
from pytest_stitchbench.selection import selected_specs
from pytest_stitchbench.state import is_worker, run_of, under_root
from reports.baseline import baseline_document, compare, read_baseline, write_baseline
from reports.design import MeasureDesign
from reports.html import BaselineComparison
from reports.networks import bank_summary
from reports.results import results_table
from reports.run import RunRecord, describe_run, write_reports
from reports.scales import MeasureScale
from reports.scorecard import HEADER_PLUGIN_ERRORS, HEADER_REFERENCES, overview_table
from reports.verdicts import VerdictSettings
from runner.atomic import SET_MARKER, discard_folder
from runner.environment import environment, versions_note
from runner.provenance import code_record

__all__ = ["CONTEXT_KINDS", "difference_lines"]

#: Differences that say what the run stands on (another bank, other versions, another platform): one
#: line each, always printed, never failing.
CONTEXT_KINDS = ("bank", "versions", "platform")


def _bank(config, results: pd.DataFrame) -> tuple[str | None, str]:
    """The bank version the networks cases read (the one this run wrote with --rebuild-networks), and the
    header's line about it."""
    rebuild = run_of(config).rebuild
    if rebuild is not None:
        return rebuild.version, f"{rebuild.version}, rebuilt by this run from the seeds (--rebuild-networks)"
    return bank_summary(results)


#: The options that shape what a run measures, recorded in run.json's ``code`` (shares of one grid merge
#: only when they are equal).
VALUE_OPTIONS = ("--profile", "--cell-timeout", "--generation-timeout")


def _definition(spec) -> str:
    """SHA-256 of a scenario's resolved definition (generator, parameters, seeds, sweep, expectations)."""
    document = {key: value for key, value in dataclasses.asdict(spec).items() if key not in ("description", "source")}
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def _record(config, results: pd.DataFrame, interrupted: bool = False) -> RunRecord:
    run = run_of(config)
    ran = set(results["scenario"])
    specs = [s for s in selected_specs(config) if s.name in ran]
    workers = getattr(config.option, "numprocesses", None)
    settings = VerdictSettings()
    execution = f"xdist, {workers} workers" if run.rows_dir else "serial"
    extra = {"profile": config.getoption("--profile"), "execution": execution,
             "numerical dependencies": versions_note()}
    if interrupted:
        extra["interrupted"] = (f"yes: the run was stopped before its end (Ctrl-C); these reports hold the "
                                f"{len(results)} cells measured until then")
    bank_version, bank_line = _bank(config, results)
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
        scales={name: MeasureScale.from_info(metrics.get(name).info) for name in measures},
        expectations={s.name: s.expectations for s in specs},
        sweeps={s.name: s.sweep.name for s in specs if s.sweep is not None},
        settings=settings,
        generators={s.name: s.generator for s in specs},
        code={**code_record(), "bank": bank_version,
              "options": {option: config.getoption(option) for option in VALUE_OPTIONS},
              "scenarios": {s.name: _definition(s) for s in specs}},
        use_cases={s.name: _use_case(s.generator) for s in specs},
        designs={name: MeasureDesign.from_info(metrics.get(name).info) for name in measures},
    )


def _use_case(generator: str) -> str:
    """The use case a spec's generator declares ("" when it is not registered: its cells hold the error)."""
    try:
        return scenarios.lookup(generator).use_case
    except (KeyError, ValueError):
        return ""


def _compare_with_baseline(config, results: pd.DataFrame, verdicts: pd.DataFrame,
                           resi=None) -> tuple[BaselineComparison, list[str], bool]:  # fmt: skip
    """Compare with / update the baseline: the comparison, the summary lines and whether the run fails;
    ``resi`` the run held against ReSi's ranking (``reports.resi_ranking.Comparison``), recorded."""
    path_option = config.getoption("--baseline")
    update = config.getoption("--update-baseline")
    if path_option is None and not update:
        return BaselineComparison(), [], False
    run = run_of(config)
    current = baseline_document(results, verdicts, profile=config.getoption("--profile"), speed=run.speed,
                                bank=_bank(config, results)[0], resi=None if resi is None else resi.to_dict())
    path = under_root(config, path_option or DEFAULT_BASELINE)
    comparison, lines, failing = BaselineComparison(), [], False
    if results.empty and update:  # a speed-only run must not replace the recorded verdicts and values
        update = False
        lines.append("speed benchmark alone: the baseline is compared, not rewritten (run the grid to update it)")
    if run.baseline is not None:  # read and checked when the run was configured (options)
        tolerance = config.getoption("--baseline-tolerance")
        differences = compare(run.baseline, current, tolerance=tolerance,
                              speed_fails=config.getoption("--speed-gate"))
        failing = any(d.fails for d in differences) and not update
        lines.append(f"baseline {path}: {len(differences)} difference(s), {sum(d.fails for d in differences)} failing")
        lines += difference_lines(differences)
        comparison = BaselineComparison(path_option, tolerance, tuple(differences))
    elif path_option is not None:
        lines.append(f"baseline {path} does not exist (write it with --update-baseline)")
        failing = not update
        comparison = BaselineComparison(path_option, note="The baseline file does not exist.")
    if update:
        try:
            write_baseline(current, path)
            lines.append(f"baseline written: {path}")
        except OSError as err:
            lines.append(f"baseline NOT written: {path}: {err.strerror or err}")
            failing = True
    return comparison, lines, failing


def difference_lines(differences, shown: int = 20) -> list[str]:
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


def _fail(session) -> None:
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _publish_benchmark_reports(run, report_dir) -> None:
    """A run without cells: its benchmarks' reports moved into the report folder one file at a time."""
    if run.staging is None:
        return
    report_dir.mkdir(parents=True, exist_ok=True)
    for path in run.staging.iterdir():
        if path.name != SET_MARKER:
            os.replace(path, report_dir / path.name)
    discard_folder(run.staging)


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if is_worker(config):
        return
    run = run_of(config)
    rebuilt = [rebuild_bank(config)] if run.rebuild is not None else []
    report_dir = under_root(config, config.getoption("--report-dir"))
    worker_reports(run, report_dir)
    rows = merged_rows(run)
    if not rows:
        _publish_benchmark_reports(run, report_dir)
        if run.speed:  # the speed benchmark alone: its ratios are still compared with the baseline
            no_verdicts = pd.DataFrame(columns=["metric", "scenario", "expectation", "verdict"])
            _, run.summary, failing = _compare_with_baseline(config, results_table([]), no_verdicts)
            if failing:
                _fail(session)
        return
    kept = [row["time"] for row in rows if row.get("cached")]
    results = results_table(rows)
    outcome = {}

    def compared(verdicts: pd.DataFrame, resi) -> BaselineComparison:
        comparison, outcome["lines"], outcome["failing"] = _compare_with_baseline(config, results, verdicts, resi)
        return comparison

    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    try:
        reports = write_reports(results, _record(config, results, interrupted), report_dir, compare=compared,
                                staging=run.staging)
    except OSError as err:  # a full disk, a folder that became unwritable: the previous reports stay
        run.summary = [*rebuilt, *outcome.get("lines", []), f"reports NOT written to {report_dir}: {err}"]
        _fail(session)
        return
    if outcome["failing"]:
        _fail(session)
    failed = results[results["error"] != ""]
    measures, top = reports.scores["metric"].nunique(), 10
    run.summary = [
        *rebuilt,
        *(["the run was interrupted: the reports hold what it measured until then"] if interrupted else []),
        *outcome["lines"],
        f"{len(results)} cells, {len(failed)} failed ({failed['metric'].nunique()} measure(s); see Errors in the "
        f"scorecard); measures ran {results['time'].sum() - sum(kept):.1f} s, session {time.perf_counter() - run.started:.1f} s",
        *([f"{len(kept)} cells kept from earlier runs (runner.value_cache; they took {sum(kept):.1f} s when measured; "
           "--recompute measures them again)"] if kept else []),
        "",
        f"the {min(top, measures)} best of {measures} measures by summary score (all of them: scorecard.md, .html):",
        overview_table(reports.scores, top=top),
        "",
        f"reports: {report_dir / 'scorecard.html'} (open it in a browser)",
        f"         and scorecard.md, disagreements.md, verdicts.csv, results.csv, figures/ in {report_dir}",
    ]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    run = run_of(config)
    for path, text in run.benchmark_reports:
        terminalreporter.write_sep("=", f"stitchbench {path.name}")
        for line in [*text.rstrip().splitlines(), "", f"written to {path}"]:
            terminalreporter.write_line(line)
    if run.summary:
        terminalreporter.write_sep("=", "stitchbench scorecard")
        for line in run.summary:
            terminalreporter.write_line(line)
