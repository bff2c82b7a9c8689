"""The tidy results table: one row per (measure, case), and how a row is measured.

Columns: metric, family, scenario, case, param, seed, value, stitch, stitch_reverse, time, error, meta.
``value`` is NaN and ``error`` holds the message when the measure raised or returned a non-finite
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

__all__ = ["COLUMNS", "measure_cases", "read_results", "results_table", "write_results"]

COLUMNS = (
    "metric", "family", "scenario", "case", "param", "seed", "value", "stitch", "stitch_reverse", "time", "error",
    "meta",
)  # fmt: skip


def measure_cases(metric: str, measure: Callable[..., float], cases: Iterable) -> list[dict]:
    """Compute ``measure(case.x, case.y)`` on every case, timing each call; never raises for the measure.

    A measure that raises (any ``Exception``: plugins are isolated here) or returns NaN/Inf gets a row
    with ``value`` NaN and the message in ``error``, and the next case is measured as usual.

    Args:
        metric: the measure's registered name (recorded in each row).
        measure: callable ``m(X, Y) -> float``.
        cases: ``scenarios.Case`` objects.
    """
    rows = []
    for case in cases:
        start = time.perf_counter()
        try:
            value, error = float(measure(case.x, case.y)), ""
            if not math.isfinite(value):
                value, error = math.nan, f"{metric}: returned {value} (not a finite number)"
        except Exception as err:  # noqa: BLE001 - a plugin's failure is data, not a crash of the run
            value, error = math.nan, f"{type(err).__name__}: {err}"
        elapsed = time.perf_counter() - start
        rows.append(
            {
                "metric": metric,
                "family": case.family,
                "scenario": case.scenario,
                "case": case.case,
                "param": case.param,
                "seed": case.seed,
                "value": value,
                "stitch": _float_or_nan(case.stitch),
                "stitch_reverse": _float_or_nan(case.stitch_reverse),
                "time": elapsed,
                "error": error,
                "meta": scalar_meta(case.meta),
            }
        )
    return rows


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
    for column in ("value", "stitch", "stitch_reverse", "time"):
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
        na_values={c: [""] for c in ("param", "value", "stitch", "stitch_reverse", "time")},
    )
    return results_table(table.to_dict("records"))
