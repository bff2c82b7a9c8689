"""The tidy results table: one row per (measure, case), and how a row is measured.

Columns (:data:`scenarios.types.RESULT_COLUMNS`): metric, family, scenario, case, param, seed, value, the
functional references (stitch, stitch_reverse, stitch_direct, stitch_direct_reverse, agreement,
accuracy_difference: :data:`scenarios.types.REFERENCE_COLUMNS`, NaN where a reference does not apply),
time, error, meta. ``value`` is NaN and ``error`` holds the message when the measure raised or returned a non-finite
number; ``error`` is the empty string otherwise. ``time`` is the wall-clock seconds of the one call.
``meta`` is the case's scalar meta fields as a JSON object (layers, sparsity, direct-matching stitch...),
so that every report, the networks figures included, can be rebuilt from ``results.csv`` alone.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from reports.atomic import atomic_path
from reports.value_cache import ValueCache, decode, encode, measure_fingerprint
from scenarios.types import REFERENCE_COLUMNS, RESULT_COLUMNS

__all__ = ["COLUMNS", "NOT_GENERATED", "generation_error_rows", "measure_cases", "read_results", "results_table", "write_results"]

COLUMNS = RESULT_COLUMNS
_FLOATS = ("value", *REFERENCE_COLUMNS, "time")


def measure_cases(metric: str, measure: Callable[..., float], cases: Iterable, values: ValueCache | None = None) -> list[dict]:
    """Compute ``measure(case.x, case.y)`` on every case (``measure.over_layers`` where the case holds stacks
    of layers, ``case.aggregate``), timing each call; never raises for the measure.

    A measure that raises (any ``Exception``: plugins are isolated here) or returns NaN/Inf gets a row
    with ``value`` NaN and the message in ``error``, and the next case is measured as usual.

    Args:
        metric: the measure's registered name (recorded in each row).
        measure: callable ``m(X, Y) -> float`` (a registered ``Metric``: its ``fn`` is fingerprinted).
        cases: ``scenarios.Case`` objects, of one scenario when ``values`` is given.
        values: kept values (``reports.value_cache``): a case whose inputs and measure code are unchanged
            since a run that measured it gets that run's value, error and time (``cached`` True in its
            row), and what is measured here is kept for the next run.
    """
    cases = list(cases)
    fingerprint = measure_fingerprint(getattr(measure, "fn", measure)) if values is not None and cases else None
    scenario = cases[0].scenario if cases else ""
    kept = values.load(metric, scenario, fingerprint) if fingerprint else {}
    measured = {}
    rows = []
    for case in cases:
        digest = values.digest(case) if fingerprint else None
        cached = digest in kept
        if cached:
            value, elapsed, error = decode(kept[digest])
        else:
            value, elapsed, error = _measure_one(metric, measure, case)
        if digest is not None:
            measured[digest] = encode(value, elapsed, error)
        rows.append(
            {
                "metric": metric,
                "family": case.family,
                "scenario": case.scenario,
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


def _measure_one(metric: str, measure: Callable[..., float], case) -> tuple[float, float, str]:
    """(value, seconds, error) of one call; NaN and the message where it raised or was not finite."""
    start = time.perf_counter()
    try:
        if case.aggregate is None:
            value = float(measure(case.x, case.y))
        else:  # stacks of layers: the aggregate over every layer pair (calibrated measures: Algorithm 2)
            value = float(measure.over_layers(case.x, case.y, case.aggregate))
        error = ""
        if not math.isfinite(value):
            value, error = math.nan, f"{metric}: returned {value} (not a finite number)"
    except Exception as err:  # noqa: BLE001 - a plugin's failure is data, not a crash of the run
        value, error = math.nan, f"{type(err).__name__}: {err}"
    return value, time.perf_counter() - start, error


#: The case id of the error rows of a scenario that could not be generated.
NOT_GENERATED = "(not generated)"


def generation_error_rows(metric: str, scenario, error: BaseException) -> list[dict]:
    """One error row per seed of ``scenario`` (a ``scenarios.Scenario``) for ``metric`` when the
    scenario's generator raised ``error``: its cells show as errors in the scorecard (case
    :data:`NOT_GENERATED`), and the other scenarios' rows are untouched."""
    return [{"metric": metric, "family": scenario.family, "scenario": scenario.name, "case": NOT_GENERATED,
             "param": None, "seed": seed, "value": math.nan, **{reference: math.nan for reference in REFERENCE_COLUMNS},
             "time": 0.0, "error": f"{type(error).__name__}: {error}", "meta": "{}"}
            for seed in scenario.seeds]


def scalar_meta(meta: dict) -> str:
    """The JSON object of a case's meta fields that are plain scalars (lists and arrays are left out)."""
    return json.dumps({k: v for k, v in sorted(meta.items()) if isinstance(v, (str, int, float, bool))})


def _float_or_nan(x) -> float:
    return math.nan if x is None else float(x)


def results_table(rows: Iterable[dict]) -> pd.DataFrame:
    """Rows -> the tidy table, in a canonical order (so serial and parallel runs give the same table)."""
    table = pd.DataFrame(list(rows), columns=list(COLUMNS))
    table["error"] = table["error"].fillna("").astype(str)
    table["meta"] = [m if isinstance(m, str) and m else "{}" for m in table["meta"]]
    table["seed"] = table["seed"].astype(int)
    for column in _FLOATS:
        table[column] = table[column].astype(float)
    numeric_param = pd.to_numeric(table["param"], errors="coerce")
    return (
        table.assign(_param=numeric_param)
        .sort_values(["metric", "family", "scenario", "seed", "_param", "case"], na_position="last", kind="stable")
        .drop(columns="_param")
        .reset_index(drop=True)
    )


def write_results(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the table as CSV (atomically); :func:`read_results` reads it back."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return Path(path)


def read_results(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_results` (case ids stay strings, no error is "")."""
    table = pd.read_csv(
        path,
        dtype={"metric": str, "family": str, "scenario": str, "case": str, "error": str, "meta": str},
        keep_default_na=False,
        na_values={c: [""] for c in ("param", *_FLOATS)},
    )
    return results_table(table.to_dict("records"))
