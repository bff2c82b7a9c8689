"""A run's record and the one function that turns a results table into every report.

``run.json`` (the record) holds what the reports need beyond the results table: the header (settings
and versions), each measure's scale, each scenario's expectations, swept parameter and generator, and
the statistical settings. With ``results.csv`` it is enough to rebuild every report
(``python -m reports reports/out``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import pandas as pd

from runner.atomic import write_text
from reports.disagreements import write_disagreements
from reports.figures import write_figures
from reports.denoising import write_denoising
from reports.networks import write_models, write_networks
from reports.ranking import write_ranking_per_test
from reports.results import read_results, write_results
from reports.scales import MeasureScale
from reports.html import BaselineComparison, read_comparison, write_html
from reports.scorecard import error_summary, header_items, score_table, write_scorecard
from reports.verdicts import VerdictSettings, evaluate
from scenarios.types import Expectation

__all__ = ["Reports", "RunRecord", "describe_run", "read_run", "write_reports"]


@dataclass(frozen=True)
class RunRecord:
    """Everything besides the results table that the reports read."""

    header: dict[str, str]
    scales: dict[str, MeasureScale]
    expectations: dict[str, tuple[Expectation, ...]]
    sweeps: dict[str, str] = field(default_factory=dict)
    settings: VerdictSettings = VerdictSettings()
    generators: dict[str, str] = field(default_factory=dict)  # scenario -> its generator (reports select by it)

    def to_json(self) -> str:
        """The record as a JSON document."""
        document = {
            "header": self.header,
            "scales": {name: scale.to_dict() for name, scale in self.scales.items()},
            "expectations": {s: [dataclasses.asdict(e) for e in exps] for s, exps in self.expectations.items()},
            "sweeps": self.sweeps,
            "settings": dataclasses.asdict(self.settings),
            "generators": self.generators,
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
    compare: Callable[[pd.DataFrame], BaselineComparison] | None = None,
) -> Reports:
    """Judge the run and write every report once: results.csv, run.json, verdicts.csv,
    scorecard.{md,csv,json}, disagreements.md, the networks tables (networks_models.csv,
    networks_denoising.md), ranking_tests.md, figures/, the baseline comparison and (with ``html``)
    scorecard.html.

    The comparison is ``compare(verdicts)`` (the runner compares with its baseline once the verdicts are
    known, before anything is written) or, without ``compare``, the one an earlier run left in
    ``out_dir`` (``python -m reports`` rebuilding a run's reports).
    """
    out_dir = Path(out_dir)
    with contextlib.ExitStack() as stack:
        drawn = None
        if figures:  # drawn in another process (they need only the results) while this one judges
            pool = stack.enter_context(ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")))
            drawn = pool.submit(_write_figures, results, out_dir, record.sweeps, record.scales)
        verdicts = evaluate(results, record.expectations, record.scales, record.settings)
        scores = score_table(verdicts)
        errors = error_summary(results)
        comparison = compare(verdicts) if compare is not None else read_comparison(out_dir)
        paths = [write_results(results, out_dir / "results.csv"), write_text(out_dir / "run.json", record.to_json()),
                 comparison.write(out_dir)]
        paths += write_scorecard(scores, verdicts, record.header, errors, out_dir)
        paths += write_models(results, out_dir) + write_denoising(results, out_dir)
        paths += write_ranking_per_test(verdicts, scores, out_dir, figure=figures)
        paths.append(write_disagreements(results, record.scales, header_items(record.header), out_dir,
                                         seed=record.settings.seed))  # fmt: skip
        if drawn is not None:
            paths += drawn.result()
    if html:
        paths += write_html(results, verdicts, scores, errors, record, out_dir, figures=figures, comparison=comparison)
    return Reports(verdicts, scores, errors, paths)


def _write_figures(results: pd.DataFrame, out_dir: Path, sweeps, scales) -> list[Path]:
    """Every figure of a run, and the networks figures and layer-identification table."""
    return write_figures(results, out_dir / "figures", sweeps) + write_networks(results, out_dir, scales)


def read_run(out_dir: str | Path) -> tuple[pd.DataFrame, RunRecord]:
    """The results table and run record saved in ``out_dir`` by :func:`write_reports`."""
    out_dir = Path(out_dir)
    record = RunRecord.from_json((out_dir / "run.json").read_text(encoding="utf-8"))
    return read_results(out_dir / "results.csv"), record
