"""A run's record and the one function that turns a results table into every report.

``run.json`` (the record) holds what the reports need beyond the results table: the header (settings
and versions), each measure's scale and declared design (symmetry, invariances), each scenario's
expectations, swept parameter, generator and use case, the statistical settings, the code the run ran
(``code``: ``runner.provenance.code_record``, with the bank version, the options that shape the values and
a digest of each scenario's definition), and the row count and SHA-256 of the ``results.csv`` written
beside it (``results``). With ``results.csv`` it is enough to rebuild every report (``python -m reports
reports/out``); :func:`read_run` refuses a ``results.csv`` that lacks a column or does not match its
record.

The reports of a run are one set: :func:`write_reports` writes them into a staging folder beside the
report folder and puts it in the folder's place whole (``runner.atomic.publish_folder``), so that a
run that fails or is interrupted while writing leaves the previous run's set untouched.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import pandas as pd

from runner.atomic import discard_folder, publish_folder, staging_folder, write_text
from runner.schema import RESULT_COLUMNS
from reports.disagreements import write_disagreements
from reports.answers import answers_markdown, ranking_markdown, summarise, write_exports
from reports.figures import Figure, write_figures, write_index
from reports.denoising import write_denoising
from reports.design import MeasureDesign, mark_design
from reports.trust import trust_items, trust_markdown
from reports.networks import write_models, write_networks
from reports.ranking import write_ranking, write_ranking_per_test
from reports.resi_ranking import (Comparison, comparison_figure, comparison_markdown, comparison_of, comparison_summary,
                                  write_comparison)
from reports.results import read_results, write_results
from reports.scales import MeasureScale
from reports.html import BaselineComparison, read_comparison, write_html
from reports.scorecard import HEADER_REFERENCES, error_summary, header_items, score_table, write_scorecard
from reports.verdicts import VerdictSettings, evaluate
from scenarios.types import Expectation

__all__ = ["Reports", "RunFolderError", "RunRecord", "describe_run", "read_run", "write_reports"]


class RunFolderError(ValueError):
    """A run's report folder cannot be read as it was written: results.csv or run.json missing, unreadable,
    lacking columns, or not matching the record's row count and checksum."""


@dataclass(frozen=True)
class RunRecord:
    """Everything besides the results table that the reports read."""

    header: dict[str, str]
    scales: dict[str, MeasureScale]
    expectations: dict[str, tuple[Expectation, ...]]
    sweeps: dict[str, str] = field(default_factory=dict)
    settings: VerdictSettings = VerdictSettings()
    generators: dict[str, str] = field(default_factory=dict)  # scenario -> its generator (reports select by it)
    code: dict = field(default_factory=dict)  # what the run ran (module docstring; reports.merge compares it)
    use_cases: dict[str, str] = field(default_factory=dict)  # scenario -> its generator's use case
    designs: dict[str, MeasureDesign] = field(default_factory=dict)  # measure -> what it declares of itself

    def to_json(self, results: Mapping | None = None) -> str:
        """The record as a JSON document (with ``results``: the row count and checksum of the results.csv
        written beside it)."""
        document = {
            "header": self.header,
            "scales": {name: scale.to_dict() for name, scale in self.scales.items()},
            "expectations": {s: [dataclasses.asdict(e) for e in exps] for s, exps in self.expectations.items()},
            "sweeps": self.sweeps,
            "settings": dataclasses.asdict(self.settings),
            "generators": self.generators,
            "code": self.code,
            **({"results": dict(results)} if results is not None else {}),
            "use_cases": self.use_cases,
            "designs": {name: design.to_dict() for name, design in self.designs.items()},
        }
        return json.dumps(document, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        """Inverse of :meth:`to_json`."""
        document = json.loads(text)
        return cls(
            header=document["header"],
            scales={name: MeasureScale.from_dict(s) for name, s in document["scales"].items()},
            expectations={s: tuple(Expectation(**e) for e in exps) for s, exps in document["expectations"].items()},
            sweeps=document["sweeps"],
            settings=VerdictSettings(**document["settings"]),
            generators=document.get("generators", {}),  # absent from run.json files of earlier runs
            code=document.get("code", {}),
            use_cases=document.get("use_cases", {}),
            designs={name: MeasureDesign.from_dict(d) for name, d in document.get("designs", {}).items()},
        )


@dataclass(frozen=True)
class Reports:
    """What :func:`write_reports` computed and wrote."""

    verdicts: pd.DataFrame
    scores: pd.DataFrame
    errors: pd.DataFrame
    paths: list[Path]


def describe_run(results: pd.DataFrame, settings: VerdictSettings, extra: Mapping[str, str]) -> dict[str, str]:
    """The report header: ``extra`` (profile, versions...) then what the results table holds."""
    seeds = results.groupby("scenario")["seed"].nunique()
    seed_counts = ", ".join(f"{count} seeds: {n} scenario(s)" for count, n in seeds.value_counts().sort_index().items())
    per_metric = results.groupby("metric").size()
    return {
        **extra,
        "measures": ", ".join(sorted(results["metric"].unique())),
        "scenarios": f"{results['scenario'].nunique()} in {results['family'].nunique()} families "
        f"({', '.join(sorted(results['family'].unique()))})",
        "seeds": seed_counts,
        "cells": f"{len(results)} ({per_metric.max() if len(per_metric) else 0} cases x seeds per measure), "
        f"{int((results['error'] != '').sum())} failed",
        "verdict settings": f"confidence {settings.confidence}, alpha {settings.alpha}, at least "
        f"{settings.min_seeds} seeds, {settings.n_resamples} bootstrap resamples, "
        f"{settings.n_permutations} permutations, seed {settings.seed}",
    }


def write_reports(
    results: pd.DataFrame,
    record: RunRecord,
    out_dir: str | Path,
    figures: bool = True,
    html: bool = True,
    compare: Callable[[pd.DataFrame, Comparison | None], BaselineComparison] | None = None,
    staging: str | Path | None = None,
) -> Reports:
    """Judge the run and write every report once: results.csv, run.json, verdicts.csv,
    scorecard.{md,csv,json}, disagreements.md, the networks tables (networks_models.csv,
    networks_denoising.md), ranking_tests.md, resi_ranking.json, figures/, the baseline comparison and (with
    ``html``) scorecard.html.

    The comparison is ``compare(verdicts, resi)`` (the runner compares with its baseline once the verdicts
    and the comparison with ReSi's ranking, ``reports.resi_ranking``, are known, before anything is
    written; the baseline records the latter) or, without ``compare``, the one an earlier run left in
    ``out_dir`` (``python -m reports`` rebuilding a run's reports).

    Everything is written into ``staging`` (default: a new staging folder beside ``out_dir``;
    ``runner.atomic.staging_folder``, which may already hold the run's other reports) and then put in
    ``out_dir``'s place whole; on an error the staging folder is removed and ``out_dir`` left as it was.
    The paths returned are those in ``out_dir``.
    """
    out_dir = Path(out_dir)
    staging = staging_folder(out_dir) if staging is None else Path(staging)
    try:
        reports = _write_reports(results, record, staging, out_dir, figures, html, compare)
        publish_folder(staging, out_dir)
    except BaseException:
        discard_folder(staging)
        raise
    return dataclasses.replace(reports, paths=[out_dir / path.relative_to(staging) for path in reports.paths])


def results_check(path: Path, rows: int) -> dict:
    """The row count and SHA-256 of a results.csv of ``rows`` rows, as run.json records them."""
    return {"rows": int(rows), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def _write_reports(results, record, out_dir: Path, comparison_dir: Path, figures: bool, html: bool,
                   compare) -> Reports:
    with contextlib.ExitStack() as stack:
        drawn = None
        if figures:  # drawn in another process (they need only the results) while this one judges
            pool = stack.enter_context(ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")))
            drawn = pool.submit(_write_figures, results, out_dir, record.sweeps, record.scales, record.use_cases)
        verdicts = evaluate(results, record.expectations, record.scales, record.settings)
        verdicts = mark_design(verdicts, results, record.designs, record.expectations)
        scores = score_table(verdicts)
        errors = error_summary(results)
        resi = comparison_of(results, verdicts, record.expectations, record.scales, seed=record.settings.seed)
        comparison = compare(verdicts, resi) if compare is not None else read_comparison(comparison_dir)
        summary = summarise(verdicts, record.use_cases, seed=record.settings.seed)
        trust = trust_items(record.header, comparison, verdicts)
        opening = "\n".join([trust_markdown(trust), "", answers_markdown(summary.table), ranking_markdown(summary.ranked),
                             *([comparison_summary(resi)] if resi is not None else [])])  # fmt: skip
        written = write_results(results, out_dir / "results.csv")
        paths = [written, write_text(out_dir / "run.json", record.to_json(results_check(written, len(results)))),
                 comparison.write(out_dir)]
        paths += write_scorecard(scores, verdicts, record.header, errors, out_dir, opening)
        paths += write_exports(summary.ranked, summary.scores, summary.table, _references(record.header), out_dir)
        paths += write_models(results, out_dir) + write_denoising(results, out_dir)
        tables, captioned = write_ranking_per_test(verdicts, out_dir, list(summary.ranked["metric"]), figure=figures,
                                                   appendix=comparison_markdown(resi) if resi is not None else "")
        paths += tables + write_comparison(resi, out_dir)
        if figures:
            captioned.append(write_ranking(summary.ranked, verdicts, out_dir / "figures"))
            captioned += [comparison_figure(resi, out_dir / "figures")] if resi is not None and len(resi.cells) else []
        paths.append(write_disagreements(results, record.scales, header_items(record.header), out_dir,
                                         seed=record.settings.seed))  # fmt: skip
        if drawn is not None:
            drawn_figures, drawn_tables = drawn.result()
            captioned += drawn_figures
            paths += drawn_tables
        if captioned:
            paths += [path for figure in captioned for path in (figure.path, figure.path.with_suffix(".pdf"))]
            paths.append(write_index(captioned, out_dir / "figures"))
    if html:
        paths += write_html(results, verdicts, scores, errors, record, out_dir, figures=figures, comparison=comparison,
                            summary=summary, trust=trust, resi=resi)  # fmt: skip
    return Reports(verdicts, scores, errors, paths)


def _references(header: Mapping[str, object]) -> Mapping[str, str]:
    references = header.get(HEADER_REFERENCES)
    return references if isinstance(references, Mapping) else {}


def _write_figures(results: pd.DataFrame, out_dir: Path, sweeps, scales, use_cases) -> tuple[list[Figure], list[Path]]:
    """Every figure of a run, and the networks figures and layer-identification table: (figures, tables)."""
    figures, tables = write_networks(results, out_dir, scales)
    return write_figures(results, out_dir / "figures", sweeps, scales, use_cases) + figures, tables


def read_run(out_dir: str | Path) -> tuple[pd.DataFrame, RunRecord]:
    """The results table and run record saved in ``out_dir`` by :func:`write_reports`.

    Raises:
        RunFolderError: a file is missing or unreadable, results.csv lacks a column, or its row count
            or checksum differs from the record's (a truncated or edited file); the message names the
            folder and the problem.
    """
    out_dir = Path(out_dir)
    try:
        text = (out_dir / "run.json").read_text(encoding="utf-8")
        document = json.loads(text)
        record = RunRecord.from_json(text)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise RunFolderError(f"{out_dir}: run.json cannot be read ({type(err).__name__}: {err})") from None
    path = out_dir / "results.csv"
    try:
        header = path.read_text(encoding="utf-8").partition("\n")[0]
        missing = [column for column in RESULT_COLUMNS if column not in header.split(",")]
        if missing:
            raise RunFolderError(f"{out_dir}: results.csv lacks the column(s) {missing}")
        results = read_results(path)
        found = results_check(path, len(results))
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as err:
        if isinstance(err, RunFolderError):
            raise
        raise RunFolderError(f"{out_dir}: results.csv cannot be read ({type(err).__name__}: {err})") from None
    recorded = document.get("results")
    if isinstance(recorded, Mapping) and recorded != found:
        raise RunFolderError(f"{out_dir}: results.csv has {found['rows']} rows (SHA-256 {found['sha256'][:12]}), "
                             f"its run.json recorded {recorded.get('rows')} rows (SHA-256 "
                             f"{str(recorded.get('sha256'))[:12]}): a truncated or edited file")
    return results, record

