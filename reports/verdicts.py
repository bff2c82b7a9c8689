"""Verdicts: each scenario expectation, judged first on its functional reference (the premise), then for
each measure over the scenario's seeds.

A verdict is ``pass``, ``fail``, ``undecided`` (the seeds' spread cannot support either), ``error``
(the measure gave no usable value) or ``premise failed`` (the functional reference itself did not do
what the expectation presumes, so the measure is not judged by it). Which measure should pass is never
written here: the expectation comes from the scenario spec, the numbers from the results table, and
the rule is the same for every measure. Each kind reduces the (case x seed) values to one number per
seed, then decides with a bootstrap interval over seeds (and a permutation test for correlations):

- ``invariant``: spread = (max - min over cases) / unit; pass if CI high <= tolerance, fail if CI low
  > tolerance;
- ``sensitive``: the same spread; pass if CI low > tolerance, fail if CI high <= tolerance;
- ``equals``: value - target per case, in absolute units; pass if every case's CI lies within
  +-tolerance, fail if some case's CI lies outside it;
- ``ordering``: (value[higher] - value[lower]) / unit; pass if CI low > tolerance, fail if CI high <=
  tolerance;
- ``monotone``: direction x Spearman(value, sweep parameter); pass if p < alpha and CI low > 0, fail
  if CI high <= 0;
- ``tracks_stitching``: Spearman(value, the reference); pass and fail as for ``monotone``;
- ``separates_groups`` (ReSi's grouping tests, Klabunde et al. 2025): the cases are pairs of models from
  groups built to differ (``param`` 0: both from the same group, > 0: from different groups). Per seed,
  the AUPRC of the similarity-oriented values for telling within-group pairs from cross-group ones,
  and the violation rate (a cross-group pair rated above a within-group one, ties half: 1 - AUROC);
  pass if the permutation p-value of the mean AUPRC (labels permuted within each seed) < alpha and
  its CI low > chance + tolerance (chance: the fraction of within-group pairs), fail if CI high <=
  chance + tolerance;
- ``monotone_in_layer_distance`` (ReSi's layer monotonicity): the cases are layer pairs (i, j) of one
  model (meta ``index_x``, ``index_y``). Per seed, the violation rate over ordered triples i < j < k:
  sim(i, k) > sim(i, j) and sim(i, k) > sim(j, k) each count one violation (ties half), of two per
  triple; pass if CI high <= tolerance, fail if CI low > tolerance. The detail adds the mean Spearman
  of the value with -(j - i);
- ``follows_reference``: derived from the reference (below), then judged as what it became.

The unit of a measure is its bound width; for a measure with an infinite bound it is the scale-free
extent of :meth:`MeasureScale.unit` (the largest ``|value - finite bound|`` over the scenario's cases and
seeds, floored at 1e-6 times the same over the whole run: rounding never decides a verdict), so a
spread is a relative change.

**Premises.** Every expectation names a functional reference (``Expectation.reference``, one of
``runner.schema.REFERENCE_COLUMNS``, default ``stitch``). Before any measure is judged, the
expectation's premise is judged on that reference, as a pseudo-measure with bounds [0, 1] (unit 1;
``accuracy_difference`` oriented as a distance), with the same rule, seeds, bootstrap, permutation
test and minimum seed count as the measures, once per scenario over every case that records the
reference in every seed. What the premise of each kind is:

==================  ==========================================================================
kind                premise (judged on the reference)
==================  ==========================================================================
invariant           the reference is invariant: its spread's CI high <= tolerance
sensitive           the reference is sensitive: its spread's CI low > tolerance
ordering            the reference orders the two cases the same way (higher > lower)
monotone            the reference moves with the sweep in that direction (the monotone rule)
tracks_stitching    the reference varies across the cases (the sensitive rule): tracking a
                    reference by itself is trivially perfect, so what must hold is that there is
                    something to track
separates_groups    the reference separates the groups by the same rule
monotone_in_layer_  the reference falls with layer distance by the same rule
distance
equals              none (premise ""): ``equals`` states a truth about the measure's value that
                    holds by the data's construction (0 for independent data), not a pattern of
                    function across cases. What function could back is a level ("stitching is at
                    chance"), which no reference column carries; a flatness test instead is ruled
                    by the held-out split's sampling noise at chance level (independent_p_over_n,
                    n = 256: the stitch spans 0.18..0.43 over its cases, spread CI 0.06..0.19
                    against a tolerance of 0.1), so it would set aside a verdict that the
                    construction decides
follows_reference   the reference's behaviour is decided (flat, ordered or varying; see below)
==================  ==========================================================================

**Premises on their edge.** A premise decided by an interval whose deciding end lies closer to the
threshold than :data:`EDGE_SLACK` times the tolerance, or than half the interval's own width, is *on its
edge* (``premise_edge``): a retrained network bank can flip it. The bootstrap interval over seeds alone
understates what a retrain moves: retrained under other CPU kernels, the quick profile's premises moved
by up to 7.7 of their half-widths (the spread of ``networks_progression_magnitude_layer``'s stitch went
from 0.009 to 0.021 against a tolerance of 0.02, and that premise flipped), but by at most 0.014 on the
spreads (0.7 tolerance) and 0.17 on AUPRCs (1.7 tolerance, away from the threshold);
``benchmarks/test_retrain.py`` and a rebuild measure it again. The verdict's detail says so, with the
margin; the verdict itself is decided as usual.

A measure verdict whose premise did not hold (``fail`` or ``undecided``) becomes ``premise failed``
(mark ⊘): it keeps its own statistic, interval and p-value, its detail says what the measure alone
would have got, and it counts neither as a pass nor as a fail. An ``error`` stays an error whatever the
premise (the measure gave no value). A reference that never varies (exactly 1 in every case) passes an
invariance premise: its spread is 0 in every seed, and so is its interval.

**follows_reference** names only the reference and a tolerance (in the reference's units and, for the
measure, relative to its unit). The run decides: the reference's spread CI high <= tolerance (flat) ->
``invariant``; otherwise, with exactly two cases, a difference beyond the tolerance either way ->
``ordering(a > b)``; otherwise, with more cases, a spread CI low > tolerance -> the measure must track
the reference (Spearman with its permutation test, as ``tracks_stitching``). Any other outcome (noise
straddling the tolerance, too few seeds) leaves the premise ``undecided`` and the verdict ``premise
failed``. The row records what it ``became``.

Everything else is ``undecided``, and so is every verdict (and premise) on fewer than ``min_seeds``
seeds (there the verdict stays ``undecided`` rather than ``premise failed``: too few seeds are no
failure of the reference). Values of a distance (``higher_is_more_similar=False``) are negated for the ordering and
correlation kinds, so "higher" always reads "more similar". A seed whose values vary by less than the
tolerance counts as constant (Spearman 0), so rounding noise is not read as a trend. Cases where the
measure failed in any seed are left out (and counted); a verdict with nothing left to judge is
``error``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from reports.scales import MeasureScale
from reports.scenario_values import ScenarioValues, covering, own_reference, reference_values, scenario_values
from reports.stats import (Interval, average_precision, bootstrap_mean, group_separation_test, rank_correlation,
                           rank_correlation_test)
from runner.schema import DISTANCE_REFERENCES, REFERENCE_COLUMNS
from scenarios.kinds import DERIVED, KINDS
from scenarios.kinds import label as kind_label

__all__ = [
    "MARKS",
    "PREMISE_FAILED",
    "RULES",
    "VERDICT_COLUMNS",
    "Premise",
    "VerdictSettings",
    "evaluate",
    "evaluate_expectation",
    "expectation_labels",
    "judge_premise",
    "EDGE_SLACK",
    "on_edge",
    "seed_statistics",
]

PREMISE_FAILED = "premise failed"
MARKS = {"pass": "✓", "fail": "✗", "undecided": "?", "error": "!", PREMISE_FAILED: "⊘"}
VERDICT_COLUMNS = (
    "metric", "family", "scenario", "expectation", "kind", "reference", "became", "premise", "premise_estimate",
    "premise_ci_low", "premise_ci_high", "premise_edge", "verdict", "design", "statistic", "estimate", "ci_low", "ci_high",
    "p_value", "threshold", "n_seeds", "n_cases", "n_failed_cases", "detail", "reason",
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
class _Outcome:
    verdict: str
    estimate: float = np.nan
    ci_low: float = np.nan
    ci_high: float = np.nan
    p_value: float = np.nan
    threshold: float = np.nan
    detail: str = ""
    #: the value the interval is held against, where it is not ``threshold`` (a trend's interval against 0,
    #: its p-value against the threshold alpha)
    boundary: float = np.nan


@dataclass(frozen=True)
class _Reading:
    """How a kind reads a series: the unit of its tolerances and its orientation (+1 similarity)."""

    unit: float
    orientation: int


@dataclass(frozen=True)
class Premise:
    """An expectation judged on its functional reference.

    ``outcome`` is ``pass`` / ``fail`` / ``undecided`` ("" for a kind without a premise: ``equals``);
    ``judged`` is the expectation the measures are then judged by (for ``follows_reference``, what it
    became; None while that is undecided).
    """

    outcome: str
    estimate: float = np.nan
    ci_low: float = np.nan
    ci_high: float = np.nan
    detail: str = ""
    judged: object = None
    became: str = ""
    edge: bool = False


def expectation_labels(expectations: Sequence) -> list[str]:
    """Readable, unique labels for a scenario's expectations ("ordering(a > b)", "monotone(-)"...); a
    reference other than ``stitch`` is named in brackets ("follows_reference [stitch_direct]")."""
    labels = []
    for expectation in expectations:
        label = kind_label(expectation)
        if expectation.reference != "stitch":
            label += f" [{expectation.reference}]"
        count = sum(1 for earlier in labels if earlier.split("#")[0] == label)
        labels.append(f"{label}#{count + 1}" if count else label)
    return labels


def _interval(values, settings: VerdictSettings) -> Interval:
    return bootstrap_mean(values, settings.confidence, settings.n_resamples, settings.seed)


def _spread(data: ScenarioValues, expectation, reading: _Reading, settings: VerdictSettings) -> _Outcome:
    """invariant / sensitive: per-seed (max - min) over cases, relative to the unit."""
    tolerance = expectation.tolerance
    if len(data.cases) < 2:
        return _Outcome("undecided", detail=f"{len(data.cases)} usable case(s); a spread needs 2")
    spreads = np.ptp(data.values, axis=0) / reading.unit
    ci = _interval(spreads, settings)
    within, beyond = ci.high <= tolerance, ci.low > tolerance
    if expectation.kind == "invariant":
        verdict = "pass" if within else "fail" if beyond else "undecided"
    else:
        verdict = "pass" if beyond else "fail" if within else "undecided"
    return _Outcome(verdict, ci.estimate, ci.low, ci.high, threshold=tolerance)


def _equals(data: ScenarioValues, expectation, reading: _Reading, settings: VerdictSettings) -> _Outcome:
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


def _ordering(data: ScenarioValues, expectation, reading: _Reading, settings: VerdictSettings) -> _Outcome:
    """ordering: (value[higher] - value[lower]) / unit per seed, similarity-oriented."""
    absent = [c for c in (expectation.higher, expectation.lower) if c not in data.cases]
    if absent:
        reasons = [f"{c}: {data.failed.get(c, 'not in the results')}" for c in absent]
        return _Outcome("error", detail="; ".join(reasons))
    higher = data.values[data.cases.index(expectation.higher)]
    lower = data.values[data.cases.index(expectation.lower)]
    ci = _interval(reading.orientation * (higher - lower) / reading.unit, settings)
    tolerance = expectation.tolerance
    verdict = "pass" if ci.low > tolerance else "fail" if ci.high <= tolerance else "undecided"
    return _Outcome(verdict, ci.estimate, ci.low, ci.high, threshold=tolerance)


def _trend_inputs(against: np.ndarray, data: ScenarioValues, direction: int, tolerance: float,
                  reading: _Reading) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What a trend correlates, over the cases where ``against`` is known in every seed: ``against``, the
    oriented values (a seed flat within the tolerance made constant: rounding noise is no trend) and which
    seeds were flat, [cases, seeds] each but the last [seeds]."""
    known = np.isfinite(against).all(axis=1)
    oriented = reading.orientation * direction * data.values[known]
    flat = np.ptp(oriented, axis=0) <= tolerance * reading.unit
    oriented[:, flat] = 0.0
    return against[known], oriented, flat


def _trend(against: np.ndarray, data: ScenarioValues, direction: int, tolerance: float,
           reading: _Reading, settings: VerdictSettings, what: str) -> _Outcome:  # fmt: skip
    """monotone / tracks: mean within-seed Spearman of the value against ``against`` [cases, seeds],
    over the cases where ``against`` is known in every seed."""
    known = np.isfinite(against).all(axis=1)
    if known.sum() < 2:
        return _Outcome("undecided", detail=f"{int(known.sum())} case(s) with a known {what}; a trend needs 2")
    against, oriented, flat = _trend_inputs(against, data, direction, tolerance, reading)
    if np.all(np.ptp(against, axis=0) == 0):
        return _Outcome("undecided", detail=f"the {what} does not vary across the cases")
    test = rank_correlation_test(
        list(against.T), list(oriented.T), settings.confidence,
        settings.n_resamples, settings.n_permutations, settings.seed,
    )  # fmt: skip
    ci = test.rho
    if test.p_greater < settings.alpha and ci.low > 0:
        verdict = "pass"
    else:
        verdict = "fail" if ci.high <= 0 else "undecided"
    notes = [f"{int(flat.sum())} seed(s) flat within tolerance" if flat.any() else "",
             f"{int((~known).sum())} case(s) without a {what}" if not known.all() else ""]
    return _Outcome(verdict, ci.estimate, ci.low, ci.high, test.p_greater, settings.alpha, _join(*notes), boundary=0.0)


def _monotone(data: ScenarioValues, expectation, reading: _Reading, settings: VerdictSettings) -> _Outcome:
    if expectation.direction not in (1, -1):
        return _Outcome("error", detail=f"direction must be +1 or -1, got {expectation.direction}")
    sweep = np.repeat(data.params[:, None], len(data.seeds), axis=1)
    return _trend(sweep, data, expectation.direction, expectation.tolerance, reading, settings, "sweep")


def _tracks(data: ScenarioValues, expectation, reading: _Reading, settings: VerdictSettings) -> _Outcome:
    name = expectation.reference
    against = _REFERENCE_READINGS[name].orientation * data.references[name]
    return _trend(against, data, 1, expectation.tolerance, reading, settings, f"reference {name}")


def _oriented(data: ScenarioValues, tolerance: float, reading: _Reading) -> tuple[np.ndarray, np.ndarray]:
    """Similarity-oriented values [cases, seeds], a seed flat within the tolerance made constant (rounding
    noise is no signal), and which seeds were flat."""
    oriented = reading.orientation * data.values
    flat = np.ptp(oriented, axis=0) <= tolerance * reading.unit
    oriented[:, flat] = 0.0
    return oriented, flat


def _groups(data: ScenarioValues, expectation, reading: _Reading, settings: VerdictSettings) -> _Outcome:
    """separates_groups: AUPRC of within-group (param 0) against cross-group (param > 0) pairs."""
    within = data.params == 0
    if not np.isfinite(data.params).all() or within.all() or not within.any():
        return _Outcome("error", detail="separates_groups needs within-group cases (param 0) and cross-group "
                                        "cases (param > 0)")
    oriented, flat = _oriented(data, 1e-12, reading)
    test = group_separation_test([within] * len(data.seeds), list(oriented.T), settings.confidence,
                                 settings.n_resamples, settings.n_permutations, settings.seed)
    ci, threshold = test.auprc, test.chance + expectation.tolerance
    if test.p_value < settings.alpha and ci.low > threshold:
        verdict = "pass"
    else:
        verdict = "fail" if ci.high <= threshold else "undecided"
    detail = _join(f"violation rate {test.violation_rate:.3f}, chance AUPRC {test.chance:.3f}",
                   f"{int(flat.sum())} seed(s) constant" if flat.any() else "")
    return _Outcome(verdict, ci.estimate, ci.low, ci.high, test.p_value, threshold, detail)


_NO_TRIPLES = ("monotone_in_layer_distance needs cases of layer pairs i < j (meta index_x, index_y) that form a "
               "triple i < j < k")


def _layer_triples(data: ScenarioValues) -> tuple[dict, list[tuple[int, int, int]]]:
    """The layer pairs (i, j) -> case index, and the ordered triples i < j < k as case indices of the
    pairs (i, j), (j, k), (i, k)."""
    positions = data.positions if data.positions is not None else np.full((len(data.cases), 2), np.nan)
    index = {(int(i), int(j)): n for n, (i, j) in enumerate(positions) if np.isfinite([i, j]).all() and i < j}
    triples = [(index[i, j], index[j, k], index[i, k]) for (i, j) in index for (j2, k) in index
               if j2 == j and (i, k) in index]
    return index, triples


def _violation_rates(oriented: np.ndarray, triples: list[tuple[int, int, int]]) -> np.ndarray:
    """Per seed, the violation rate over the ``triples`` of the oriented values [cases, seeds]: sim(i, k)
    above sim(i, j) and above sim(j, k) each count one violation (ties half), of two per triple."""
    near_a, near_b, far = (oriented[list(t)] for t in zip(*triples))  # [triples, seeds] each

    def violated(near):
        return (far > near) + 0.5 * (far == near)

    return (violated(near_a) + violated(near_b)).mean(axis=0) / 2


def _layer_distance(data: ScenarioValues, expectation, reading: _Reading, settings: VerdictSettings) -> _Outcome:
    """monotone_in_layer_distance: violation rate over ordered layer triples of one model."""
    index, triples = _layer_triples(data)
    if not triples:
        return _Outcome("error", detail=_NO_TRIPLES)
    oriented, flat = _oriented(data, 1e-12, reading)
    rates = _violation_rates(oriented, triples)
    ci = _interval(rates, settings)
    positions = data.positions
    tolerance = expectation.tolerance
    verdict = "pass" if ci.high <= tolerance else "fail" if ci.low > tolerance else "undecided"
    pairs = np.array(list(index.values()))
    distance = -np.diff(positions[pairs], axis=1)[:, 0]
    rho = np.mean([rank_correlation(distance, oriented[pairs, s]) for s in range(len(data.seeds))])
    detail = _join(f"{len(triples)} triple(s); Spearman with -distance {rho:.3f}",
                   f"{int(flat.sum())} seed(s) constant" if flat.any() else "")
    return _Outcome(verdict, ci.estimate, ci.low, ci.high, threshold=tolerance, detail=detail)


#: The rule of every kind with a statistic (``follows_reference`` becomes one of them in the run).
RULES = {
    "invariant": _spread,
    "sensitive": _spread,
    "equals": _equals,
    "ordering": _ordering,
    "monotone": _monotone,
    "tracks_stitching": _tracks,
    "separates_groups": _groups,
    "monotone_in_layer_distance": _layer_distance,
}
_UNRULED = sorted(name for name, kind in KINDS.items() if kind.premise != DERIVED and name not in RULES)
if _UNRULED or set(RULES) - set(KINDS):  # a kind of scenarios.kinds without its rule, found at import
    raise ImportError(f"reports.verdicts: no rule for the expectation kind(s) {_UNRULED}, or rules for unknown "
                      f"kinds {sorted(set(RULES) - set(KINDS))}")
def seed_statistics(expectation, data: ScenarioValues, scale: MeasureScale, context=None) -> np.ndarray:
    """Per seed, the statistic of a kind that ranks measures (``scenarios.kinds.Kind.ranks``), whose mean
    over the seeds is the verdict's estimate (:func:`evaluate_expectation`, on the same cases and unit):
    the AUPRC of ``separates_groups``, the violation rate of ``monotone_in_layer_distance`` and the
    Spearman correlation with the reference of ``tracks_stitching`` (what a ``follows_reference`` became:
    pass the judged expectation). Reports that resample the seeds (``reports.resi_ranking``) read this.

    Raises:
        ValueError: the kind ranks no measures, or the cases cannot give its statistic (one line).
    """
    covered = covering(data, expectation.reference)
    reading = _Reading(scale.unit(covered.values, context), scale.orientation)
    kind = expectation.kind
    if kind == "separates_groups":
        within = covered.params == 0
        if not np.isfinite(covered.params).all() or within.all() or not within.any():
            raise ValueError("separates_groups needs within-group cases (param 0) and cross-group cases (param > 0)")
        oriented, _ = _oriented(covered, 1e-12, reading)
        return np.array([average_precision(within, column)[0] for column in oriented.T])
    if kind == "monotone_in_layer_distance":
        _, triples = _layer_triples(covered)
        if not triples:
            raise ValueError(_NO_TRIPLES)
        return _violation_rates(_oriented(covered, 1e-12, reading)[0], triples)
    if kind == "tracks_stitching":
        name = expectation.reference
        against = _REFERENCE_READINGS[name].orientation * covered.references[name]
        if np.isfinite(against).all(axis=1).sum() < 2:
            raise ValueError(f"fewer than 2 cases with a known reference {name}: no correlation")
        against, oriented, _ = _trend_inputs(against, covered, 1, expectation.tolerance, reading)
        return np.array([rank_correlation(a, o) for a, o in zip(against.T, oriented.T)])
    raise ValueError(f"the expectation kind {kind!r} ranks no measures: no per-seed statistic")


#: premise outcomes under which a measure's verdict counts ("": the kind has no premise)
_HOLDS = ("pass", "")
#: each reference read as a pseudo-measure with bounds [0, 1]
_REFERENCE_READINGS = {name: _Reading(1.0, -1 if name in DISTANCE_REFERENCES else 1) for name in REFERENCE_COLUMNS}


def _seeded(outcome: _Outcome, data: ScenarioValues, settings: VerdictSettings) -> _Outcome:
    """``outcome``, made ``undecided`` when there are fewer seeds than ``settings.min_seeds``."""
    if outcome.verdict in ("pass", "fail") and len(data.seeds) < settings.min_seeds:
        note = f"{len(data.seeds)} seed(s) < {settings.min_seeds}: too few to decide"
        return dataclasses.replace(outcome, verdict="undecided", detail=_join(note, outcome.detail))
    return outcome


#: A premise whose interval ends within this fraction of its tolerance of the threshold is on its edge.
EDGE_SLACK = 0.5


def on_edge(ci_low: float, ci_high: float, threshold: float, slack: float = 0.0) -> tuple[bool, float]:
    """Whether an interval that decided against ``threshold`` ends closer to it than ``slack`` or than
    half its own width (a retrain can flip the decision: module docstring), and that margin."""
    if not np.isfinite([ci_low, ci_high, threshold]).all():
        return False, np.nan
    margin = min(abs(ci_low - threshold), abs(ci_high - threshold))
    return bool(margin < max(slack, (ci_high - ci_low) / 2)), float(margin)


def _premise(outcome: _Outcome, judged, became: str = "", detail: str = "", tolerance: float = 0.0) -> Premise:
    """The premise of an outcome judged on the reference; ``tolerance`` the expectation's, where the
    interval is held against a threshold made from it (a trend's interval is held against 0: no slack)."""
    verdict = "undecided" if outcome.verdict == "error" else outcome.verdict
    trend = np.isfinite(outcome.boundary)
    boundary = outcome.boundary if trend else outcome.threshold
    edge, margin = on_edge(outcome.ci_low, outcome.ci_high, boundary, 0.0 if trend else EDGE_SLACK * tolerance)
    edge = edge and verdict in ("pass", "fail")
    if edge:
        detail = _join(detail, f"on its edge: the interval ends {margin:.3g} from {boundary:.3g}, so a retrain "
                               f"can flip it")
    return Premise(verdict, outcome.estimate, outcome.ci_low, outcome.ci_high, _join(detail, outcome.detail),
                   judged, became, edge)


def _follow(reference: ScenarioValues, expectation, reading: _Reading, settings: VerdictSettings) -> Premise:
    """follows_reference: what the reference did across the cases -> the expectation it becomes."""
    derive = lambda kind, **extra: dataclasses.replace(expectation, kind=kind, **extra)  # noqa: E731
    if len(reference.cases) < 2:
        return Premise("undecided", detail=f"{len(reference.cases)} case(s) record the reference; it needs 2")
    flat = _seeded(_spread(reference, derive("invariant"), reading, settings), reference, settings)
    if flat.verdict == "pass":
        return _premise(flat, derive("invariant"), "invariant", "the reference is flat", expectation.tolerance)
    if len(reference.cases) == 2:
        first, second = reference.cases
        for higher, lower in ((first, second), (second, first)):
            ordering = derive("ordering", higher=higher, lower=lower)
            ordered = _seeded(_ordering(reference, ordering, reading, settings), reference, settings)
            if ordered.verdict == "pass":
                return _premise(ordered, ordering, kind_label(ordering), "the reference orders the two cases",
                                expectation.tolerance)
        return _premise(dataclasses.replace(ordered, verdict="undecided"), None, "",
                        "the reference is neither flat nor ordered beyond the tolerance")
    varies = _seeded(_spread(reference, derive("sensitive"), reading, settings), reference, settings)
    if varies.verdict == "pass":
        return _premise(varies, derive("tracks_stitching"), "tracks_stitching", "the reference varies",
                        expectation.tolerance)
    return _premise(dataclasses.replace(varies, verdict="undecided"), None, "",
                    "the reference is neither flat nor varying beyond the tolerance")


def judge_premise(expectation, reference: ScenarioValues, settings: VerdictSettings = VerdictSettings()) -> Premise:
    """The expectation's premise judged on its functional reference (see the module docstring).

    Args:
        expectation: the scenario's ``Expectation``.
        reference: the reference as a pseudo-measure (:func:`reference_values`).
        settings: statistical settings (the measures' own).
    """
    reading = _REFERENCE_READINGS[expectation.reference]
    kind = expectation.kind
    if kind not in KINDS:
        return Premise("undecided", detail=f"unknown expectation kind {kind!r}", judged=expectation)
    if not reference.cases:
        first = next(iter(reference.failed.values()), "no results")
        judged = None if kind == "follows_reference" else expectation
        return Premise("undecided", detail=f"no case records the reference ({first})", judged=judged)
    premise = KINDS[kind].premise
    if premise == DERIVED:
        return _follow(reference, expectation, reading, settings)
    if not premise:
        return Premise("", judged=expectation)
    rule = dataclasses.replace(expectation, kind=premise)
    outcome = _seeded(RULES[premise](reference, rule, reading, settings), reference, settings)
    return _premise(outcome, expectation, tolerance=expectation.tolerance)


def evaluate_expectation(
    expectation,
    data: ScenarioValues,
    scale: MeasureScale,
    settings: VerdictSettings = VerdictSettings(),
    premise: Premise | None = None,
    context=None,
) -> dict:
    """Judge one expectation on one measure's values; returns the verdict fields (see module docstring).

    Args:
        expectation: the scenario's ``Expectation``.
        data: the measure's values on the scenario (:func:`scenario_values`).
        scale: the measure's declared scale.
        settings: statistical settings.
        premise: the expectation's premise (:func:`judge_premise`); by default judged on the references
            of ``data``'s own cases.
        context: the measure's values over the whole run (the floor of an unbounded measure's unit).
    """
    if premise is None:
        premise = judge_premise(expectation, own_reference(data, expectation.reference), settings)
    judged = premise.judged
    # too few seeds leave the premise and the verdict undecided alike: that is no failure of the premise
    set_aside = "undecided" if len(data.seeds) < settings.min_seeds else PREMISE_FAILED
    if not data.cases:
        first = next(iter(data.failed.values()), "no results")
        outcome = _Outcome("error", detail=f"no usable case ({first})")
    elif judged is None:  # follows_reference, undecided: nothing to judge the measure by
        outcome = _Outcome(set_aside)
    elif judged.kind not in RULES:
        outcome = _Outcome("error", detail=f"unknown expectation kind {judged.kind!r}")
    else:
        # the measure is judged on the cases its reference covers (equals, without a premise: on all)
        covered = data if judged.kind == "equals" else covering(data, expectation.reference)
        reading = _Reading(scale.unit(covered.values, context), scale.orientation)
        outcome = _seeded(RULES[judged.kind](covered, judged, reading, settings), covered, settings)
        if premise.outcome not in _HOLDS and outcome.verdict not in ("error", set_aside):
            note = f"the measure alone: {outcome.verdict}"
            outcome = dataclasses.replace(outcome, verdict=set_aside, detail=_join(note, outcome.detail))
        if len(covered.cases) < len(data.cases):
            note = f"{len(data.cases) - len(covered.cases)} case(s) without {expectation.reference} left out"
            outcome = dataclasses.replace(outcome, detail=_join(outcome.detail, note))
        data = covered
    if premise.outcome not in _HOLDS or premise.edge:
        premise_note = f"premise {premise.outcome} on {expectation.reference}"
        if premise.detail:  # in brackets: the reference's numbers, apart from the measure's own
            premise_note += f" ({premise.detail})"
        outcome = dataclasses.replace(outcome, detail=_join(premise_note, outcome.detail))
    if data.failed and outcome.verdict != "error":
        note = f"{len(data.failed)} case(s) left out, e.g. {next(iter(data.failed.items()))}"
        outcome = dataclasses.replace(outcome, detail=_join(outcome.detail, note))
    statistic = "" if judged is None else KINDS[judged.kind].statistic
    return {
        **{f.name: getattr(outcome, f.name) for f in fields(outcome)},
        "kind": expectation.kind,
        "reference": expectation.reference,
        "became": premise.became,
        "premise": premise.outcome,
        "premise_estimate": premise.estimate,
        "premise_ci_low": premise.ci_low,
        "premise_ci_high": premise.ci_high,
        "premise_edge": premise.edge,
        "design": "",  # filled by reports.design.mark_design: why a failure holds by the measure's design
        "statistic": statistic,
        "n_seeds": len(data.seeds),
        "n_cases": len(data.cases),
        "n_failed_cases": len(data.failed),
        "reason": expectation.reason,
    }


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def evaluate(
    table: pd.DataFrame,
    expectations: Mapping[str, Sequence],
    scales: Mapping[str, MeasureScale],
    settings: VerdictSettings = VerdictSettings(),
) -> pd.DataFrame:
    """Every expectation of every scenario in ``table``, for every measure in it: the verdict table.

    Each expectation's premise is judged once per scenario, on the reference of every case.

    Args:
        table: the tidy results table (:mod:`reports.results`).
        expectations: scenario name -> its ``Expectation`` objects.
        scales: measure name -> its :class:`MeasureScale`.
        settings: statistical settings.

    Returns:
        One row per (metric, scenario, expectation), columns :data:`VERDICT_COLUMNS`.
    """
    usable = table[table["error"] == ""]
    context = {metric: rows["value"].to_numpy(float) for metric, rows in usable.groupby("metric")}
    records = []
    for (family, scenario), scenario_rows in table.groupby(["family", "scenario"], sort=True):
        specs = expectations.get(scenario, ())
        premises = [judge_premise(e, reference_values(scenario_rows, e.reference), settings) for e in specs]
        for metric, rows in scenario_rows.groupby("metric", sort=True):
            data = scenario_values(rows)
            for label, expectation, premise in zip(expectation_labels(specs), specs, premises):
                verdict = evaluate_expectation(expectation, data, scales[metric], settings, premise,
                                               context.get(metric))
                records.append({**verdict, "metric": metric, "family": family, "scenario": scenario,
                                "expectation": label})
    verdicts = pd.DataFrame(records, columns=list(VERDICT_COLUMNS))
    return verdicts.sort_values(["metric", "family", "scenario"], kind="stable", ignore_index=True)
