"""Verdicts: each scenario expectation, evaluated for each measure over the scenario's seeds.

A verdict is ``pass``, ``fail``, ``undecided`` (the seeds' spread cannot support either) or ``error``
(the measure gave no usable value). Which measure should pass is never written here: the expectation
comes from the scenario spec, the numbers from the results table, and the rule is the same for every
measure. Each kind reduces the (case x seed) values to one number per seed, then decides with a
bootstrap interval over seeds (and a permutation test for correlations):

- ``invariant``: spread = (max - min over cases) / bound width; pass if CI high <= tolerance, fail if
  CI low > tolerance;
- ``sensitive``: the same spread; pass if CI low > tolerance, fail if CI high <= tolerance;
- ``equals``: value - target per case, in absolute units; pass if every case's CI lies within
  +-tolerance, fail if some case's CI lies outside it;
- ``ordering``: (value[higher] - value[lower]) / bound width; pass if CI low > tolerance, fail if CI
  high <= tolerance;
- ``monotone``: direction x Spearman(value, sweep parameter); pass if p < alpha and CI low > 0, fail
  if CI high <= 0;
- ``tracks_stitching``: Spearman(value, stitching score X -> Y); pass and fail as for ``monotone``.

Everything else is ``undecided``, and so is every verdict on fewer than ``min_seeds`` seeds. Values
of a distance (``higher_is_more_similar=False``) are negated for the ordering and correlation kinds,
so "higher" always reads "more similar". A seed whose values vary by less than the tolerance counts
as constant (Spearman 0), so rounding noise is not read as a trend. Cases where the measure failed in
any seed are left out (and counted); a verdict with nothing left to judge is ``error``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from reports.scales import MeasureScale
from reports.stats import Interval, bootstrap_mean, rank_correlation_test

__all__ = [
    "MARKS",
    "STATISTICS",
    "VERDICT_COLUMNS",
    "ScenarioValues",
    "VerdictSettings",
    "evaluate",
    "evaluate_expectation",
    "expectation_labels",
    "scenario_values",
]

#: what each kind's estimate and interval are about
STATISTICS = {
    "invariant": "spread",
    "sensitive": "spread",
    "equals": "value - target",
    "ordering": "difference / width",
    "monotone": "spearman with sweep",
    "tracks_stitching": "spearman with stitching",
}
MARKS = {"pass": "✓", "fail": "✗", "undecided": "?", "error": "!"}
VERDICT_COLUMNS = (
    "metric", "family", "scenario", "expectation", "kind", "verdict", "statistic", "estimate",
    "ci_low", "ci_high", "p_value", "threshold", "n_seeds", "n_cases", "n_failed_cases", "detail", "reason",
)  # fmt: skip


@dataclass(frozen=True)
class VerdictSettings:
    """The statistical settings of every verdict (recorded in the scorecard header)."""

    confidence: float = 0.95
    alpha: float = 0.05
    min_seeds: int = 3
    n_resamples: int = 2000
    n_permutations: int = 2000
    seed: int = 0


@dataclass(frozen=True)
class ScenarioValues:
    """One measure's usable values on one scenario, as (case x seed) matrices.

    ``failed`` maps each case left out (the measure failed in some seed, or the case is missing in
    some seed) to the reason.
    """

    cases: tuple[str, ...]
    seeds: tuple[int, ...]
    values: np.ndarray  # [cases, seeds]
    params: np.ndarray  # [cases], NaN where the case has no numeric sweep value
    stitch: np.ndarray  # [cases, seeds]
    failed: Mapping[str, str]


@dataclass(frozen=True)
class _Outcome:
    verdict: str
    estimate: float = np.nan
    ci_low: float = np.nan
    ci_high: float = np.nan
    p_value: float = np.nan
    threshold: float = np.nan
    detail: str = ""


def scenario_values(rows: pd.DataFrame) -> ScenarioValues:
    """Results rows of one measure on one scenario -> :class:`ScenarioValues` (failed cases set aside)."""
    seeds = tuple(sorted(rows["seed"].unique()))
    failed: dict[str, str] = {}
    kept = []
    for case, group in rows.groupby("case", sort=False):
        errors = group.loc[group["error"] != "", "error"]
        if len(errors):
            failed[case] = errors.iloc[0]
        elif set(group["seed"]) != set(seeds):
            failed[case] = f"missing in seed(s) {sorted(set(seeds) - set(group['seed']))}"
        else:
            kept.append(case)
    usable = rows[rows["case"].isin(kept)]
    values = usable.pivot(index="case", columns="seed", values="value").reindex(index=kept, columns=seeds)
    stitch = usable.pivot(index="case", columns="seed", values="stitch").reindex(index=kept, columns=seeds)
    params = pd.to_numeric(usable.groupby("case", sort=False)["param"].first(), errors="coerce").reindex(kept)
    return ScenarioValues(
        cases=tuple(kept),
        seeds=seeds,
        values=values.to_numpy(float),
        params=params.to_numpy(float),
        stitch=stitch.to_numpy(float),
        failed=failed,
    )


def expectation_labels(expectations: Sequence) -> list[str]:
    """Readable, unique labels for a scenario's expectations ("ordering(a > b)", "monotone(-)"...)."""
    labels = []
    for expectation in expectations:
        label = {
            "monotone": f"monotone({'+' if expectation.direction > 0 else '-'})",
            "ordering": f"ordering({expectation.higher} > {expectation.lower})",
            "equals": f"equals({expectation.target:g})" if expectation.target is not None else "equals",
        }.get(expectation.kind, expectation.kind)
        count = sum(1 for earlier in labels if earlier.split("#")[0] == label)
        labels.append(f"{label}#{count + 1}" if count else label)
    return labels


def _interval(values, settings: VerdictSettings) -> Interval:
    return bootstrap_mean(values, settings.confidence, settings.n_resamples, settings.seed)


def _spread(data: ScenarioValues, expectation, scale: MeasureScale, settings: VerdictSettings) -> _Outcome:
    """invariant / sensitive: per-seed (max - min) over cases, relative to the bound width."""
    tolerance = expectation.tolerance
    if len(data.cases) < 2:
        return _Outcome("undecided", detail=f"{len(data.cases)} usable case(s); a spread needs 2")
    spreads = np.ptp(data.values, axis=0) / scale.width
    ci = _interval(spreads, settings)
    within, beyond = ci.high <= tolerance, ci.low > tolerance
    if expectation.kind == "invariant":
        verdict = "pass" if within else "fail" if beyond else "undecided"
    else:
        verdict = "pass" if beyond else "fail" if within else "undecided"
    return _Outcome(verdict, ci.estimate, ci.low, ci.high, threshold=tolerance)


def _equals(data: ScenarioValues, expectation, scale: MeasureScale, settings: VerdictSettings) -> _Outcome:
    """equals: every case's mean value within +-tolerance of the target (absolute units)."""
    if expectation.target is None:
        return _Outcome("error", detail="the expectation has no target")
    tolerance = expectation.tolerance
    intervals = [_interval(row - expectation.target, settings) for row in data.values]
    worst = max(range(len(intervals)), key=lambda i: abs(intervals[i].estimate))
    outside = [c for c, ci in zip(data.cases, intervals) if ci.low > tolerance or ci.high < -tolerance]
    inside = all(-tolerance <= ci.low and ci.high <= tolerance for ci in intervals)
    verdict = "fail" if outside else "pass" if inside else "undecided"
    ci = intervals[worst]
    detail = f"worst case {data.cases[worst]}" + (f"; off target: {', '.join(outside)}" if outside else "")
    return _Outcome(verdict, ci.estimate, ci.low, ci.high, threshold=tolerance, detail=detail)


def _ordering(data: ScenarioValues, expectation, scale: MeasureScale, settings: VerdictSettings) -> _Outcome:
    """ordering: (value[higher] - value[lower]) / width per seed, similarity-oriented."""
    absent = [c for c in (expectation.higher, expectation.lower) if c not in data.cases]
    if absent:
        reasons = [f"{c}: {data.failed.get(c, 'not in the results')}" for c in absent]
        return _Outcome("error", detail="; ".join(reasons))
    higher = data.values[data.cases.index(expectation.higher)]
    lower = data.values[data.cases.index(expectation.lower)]
    ci = _interval(scale.orientation * (higher - lower) / scale.width, settings)
    tolerance = expectation.tolerance
    verdict = "pass" if ci.low > tolerance else "fail" if ci.high <= tolerance else "undecided"
    return _Outcome(verdict, ci.estimate, ci.low, ci.high, threshold=tolerance)


def _trend(reference: np.ndarray, data: ScenarioValues, direction: int, tolerance: float,
           scale: MeasureScale, settings: VerdictSettings, what: str) -> _Outcome:  # fmt: skip
    """monotone / tracks_stitching: mean within-seed Spearman of the value against ``reference``."""
    if len(data.cases) < 2:
        return _Outcome("undecided", detail=f"{len(data.cases)} usable case(s); a trend needs 2")
    usable = ~np.isnan(reference).any(axis=0)
    if not usable.any() or np.all(np.ptp(reference[:, usable], axis=0) == 0):
        return _Outcome("undecided", detail=f"the {what} does not vary across the cases")
    oriented = scale.orientation * direction * data.values[:, usable]
    flat = np.ptp(oriented, axis=0) <= tolerance * scale.width
    oriented[:, flat] = 0.0  # rounding noise is no trend
    test = rank_correlation_test(
        list(reference[:, usable].T), list(oriented.T), settings.confidence,
        settings.n_resamples, settings.n_permutations, settings.seed,
    )  # fmt: skip
    ci = test.rho
    if test.p_greater < settings.alpha and ci.low > 0:
        verdict = "pass"
    else:
        verdict = "fail" if ci.high <= 0 else "undecided"
    detail = f"{int(flat.sum())} seed(s) flat within tolerance" if flat.any() else ""
    return _Outcome(verdict, ci.estimate, ci.low, ci.high, test.p_greater, settings.alpha, detail)


def _monotone(data: ScenarioValues, expectation, scale: MeasureScale, settings: VerdictSettings) -> _Outcome:
    if expectation.direction not in (1, -1):
        return _Outcome("error", detail=f"direction must be +1 or -1, got {expectation.direction}")
    sweep = np.repeat(data.params[:, None], len(data.seeds), axis=1)
    return _trend(sweep, data, expectation.direction, expectation.tolerance, scale, settings, "sweep")


def _tracks_stitching(data: ScenarioValues, expectation, scale: MeasureScale, settings: VerdictSettings) -> _Outcome:
    return _trend(data.stitch, data, 1, expectation.tolerance, scale, settings, "stitching")


_KINDS = {
    "invariant": _spread,
    "sensitive": _spread,
    "equals": _equals,
    "ordering": _ordering,
    "monotone": _monotone,
    "tracks_stitching": _tracks_stitching,
}


def evaluate_expectation(
    expectation, data: ScenarioValues, scale: MeasureScale, settings: VerdictSettings = VerdictSettings()
) -> dict:
    """Judge one expectation on one measure's values; returns the verdict fields (see module docstring)."""
    if expectation.kind not in _KINDS:
        outcome = _Outcome("error", detail=f"unknown expectation kind {expectation.kind!r}")
    elif not data.cases:
        first = next(iter(data.failed.values()), "no results")
        outcome = _Outcome("error", detail=f"no usable case ({first})")
    else:
        outcome = _KINDS[expectation.kind](data, expectation, scale, settings)
        if outcome.verdict in ("pass", "fail") and len(data.seeds) < settings.min_seeds:
            note = f"{len(data.seeds)} seed(s) < {settings.min_seeds}: too few to decide"
            outcome = _Outcome(**{**_fields(outcome), "verdict": "undecided", "detail": _join(note, outcome.detail)})
    if data.failed and outcome.verdict != "error":
        note = f"{len(data.failed)} case(s) left out, e.g. {next(iter(data.failed.items()))}"
        outcome = _Outcome(**{**_fields(outcome), "detail": _join(outcome.detail, note)})
    return {
        **_fields(outcome),
        "kind": expectation.kind,
        "statistic": STATISTICS.get(expectation.kind, ""),
        "n_seeds": len(data.seeds),
        "n_cases": len(data.cases),
        "n_failed_cases": len(data.failed),
        "reason": expectation.reason,
    }


def _fields(outcome: _Outcome) -> dict:
    return {f.name: getattr(outcome, f.name) for f in fields(outcome)}


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def evaluate(
    table: pd.DataFrame,
    expectations: Mapping[str, Sequence],
    scales: Mapping[str, MeasureScale],
    settings: VerdictSettings = VerdictSettings(),
) -> pd.DataFrame:
    """Every expectation of every scenario in ``table``, for every measure in it: the verdict table.

    Args:
        table: the tidy results table (:mod:`reports.results`).
        expectations: scenario name -> its ``Expectation`` objects.
        scales: measure name -> its :class:`MeasureScale`.
        settings: statistical settings.

    Returns:
        One row per (metric, scenario, expectation), columns :data:`VERDICT_COLUMNS`.
    """
    records = []
    for (metric, family, scenario), rows in table.groupby(["metric", "family", "scenario"], sort=True):
        data = scenario_values(rows)
        specs = expectations.get(scenario, ())
        for label, expectation in zip(expectation_labels(specs), specs):
            verdict = evaluate_expectation(expectation, data, scales[metric], settings)
            records.append({**verdict, "metric": metric, "family": family, "scenario": scenario, "expectation": label})
    return pd.DataFrame(records, columns=list(VERDICT_COLUMNS))
