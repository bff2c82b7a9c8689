"""Measuring and timing cells: one row per (measure, case) of the results table
(:data:`runner.schema.RESULT_COLUMNS`).

``value`` is NaN and ``error`` holds the message when the measure raised or returned a non-finite
number; ``error`` is the empty string otherwise. ``time`` is the wall-clock seconds of the one call.
``meta`` is the case's scalar meta fields (layers, sparsity, models...), so that every report, the
networks figures included, can be rebuilt from the results table alone. A measure's failure is data,
never a crash of the run: one broken plugin leaves error rows and every other cell is measured. A case
its generator could not make (``case.error`` set: a layer pair of a user's model that failed) is an
error row for every measure, its message the case's error.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Iterable

from runner.isolation import USER_FAULTS, describe, time_limit
from runner.schema import REFERENCE_COLUMNS
from runner.value_cache import ValueCache, decode, encode, measure_fingerprint

__all__ = ["NOT_GENERATED", "generation_error_rows", "measure_cases", "scalar_meta"]


def measure_cases(metric: str, measure: Callable[..., float], cases: Iterable, values: ValueCache | None = None,
                  generator: str = "", seconds: float | None = None) -> list[dict]:
    """Compute ``measure(case.x, case.y)`` on every case (``measure.over_layers`` where the case holds stacks
    of layers, ``case.aggregate``), timing each call; never raises for the measure. The rows' columns are
    :data:`runner.schema.RESULT_COLUMNS` (and ``cached``); ``meta`` is the case's scalar meta fields.

    A measure that raises (any ``Exception``, or ``SystemExit``: plugins are isolated here), runs past
    ``seconds`` (``runner.isolation.time_limit``) or returns NaN/Inf gets a row with ``value`` NaN and
    the message in ``error``, and the next case is measured as usual.

    Args:
        metric: the measure's registered name (recorded in each row).
        measure: callable ``m(X, Y) -> float`` (a registered ``Metric``: its ``fn`` is fingerprinted).
        cases: ``scenarios.Case`` objects, of one scenario when ``values`` is given.
        values: kept values (``runner.value_cache``): a case whose inputs and measure code are unchanged
            since a run that measured it gets that run's value, error and time (``cached`` True in its
            row), and what is measured here is kept for the next run.
        generator: the name of the generator that made the cases (a column of every row).
        seconds: the time limit of one call (None or 0: none).
    """
    cases = list(cases)
    fingerprint = measure_fingerprint(getattr(measure, "fn", measure)) if values is not None and cases else None
    scenario = cases[0].scenario if cases else ""
    kept = values.load(metric, scenario, fingerprint) if fingerprint else {}
    measured = {}
    rows = []
    for case in cases:
        digest = values.digest(case) if fingerprint and not case.error else None
        cached = digest in kept
        if case.error:
            value, elapsed, error = math.nan, 0.0, case.error
        elif cached:
            value, elapsed, error = decode(kept[digest])
        else:
            value, elapsed, error = _measure_one(metric, measure, case, seconds)
        if digest is not None:
            measured[digest] = encode(value, elapsed, error)
        rows.append(
            {
                "metric": metric,
                "family": case.family,
                "scenario": case.scenario,
                "generator": generator,
                "case": case.case,
                "param": case.param,
                "seed": case.seed,
                "value": value,
                **{reference: _float_or_nan(getattr(case, reference)) for reference in REFERENCE_COLUMNS},
                "time": elapsed,
                "error": error,
                "meta": scalar_meta(case.meta),
                "cached": cached,
            }
        )
    if fingerprint and measured != kept:
        values.save(metric, scenario, fingerprint, measured)
    return rows


def _measure_one(metric: str, measure: Callable[..., float], case, seconds: float | None) -> tuple[float, float, str]:
    """(value, seconds, error) of one call; NaN and the message where it raised, ran past ``seconds`` or
    was not finite."""
    start = time.perf_counter()
    try:
        with time_limit(seconds, f"{metric} on case {case.case!r} of {case.scenario}"):
            if case.aggregate is None:
                value = float(measure(case.x, case.y))
            else:  # stacks of layers: the aggregate over every layer pair (calibrated measures: Algorithm 2)
                value = float(measure.over_layers(case.x, case.y, case.aggregate))
        error = ""
        if not math.isfinite(value):
            value, error = math.nan, f"{metric}: returned {value} (not a finite number)"
    except USER_FAULTS as err:  # a plugin's failure is data, not a crash of the run
        value, error = math.nan, describe(err)
    return value, time.perf_counter() - start, error


#: The case id of the error rows of a scenario that could not be generated.
NOT_GENERATED = "(not generated)"


def generation_error_rows(metric: str, scenario, error: BaseException) -> list[dict]:
    """One error row per seed of ``scenario`` (a ``scenarios.Scenario``) for ``metric`` when the
    scenario's generator raised ``error``: its cells show as errors in the scorecard (case
    :data:`NOT_GENERATED`), and the other scenarios' rows are untouched."""
    return [{"metric": metric, "family": scenario.family, "scenario": scenario.name, "generator": scenario.generator,
             "case": NOT_GENERATED, "param": None, "seed": seed, "value": math.nan,
             **{reference: math.nan for reference in REFERENCE_COLUMNS}, "time": 0.0,
             "error": describe(error), "meta": {}}
            for seed in scenario.seeds]


def scalar_meta(meta: dict) -> dict:
    """A case's meta fields that are plain scalars (lists and arrays are left out), sorted by key."""
    return {k: v for k, v in sorted(meta.items()) if isinstance(v, (str, int, float, bool))}


def _float_or_nan(x) -> float:
    return math.nan if x is None else float(x)
