"""The tidy results table: one row per (measure, case, seed), as ``runner.cells`` measured it.

Columns (:data:`runner.schema.RESULT_COLUMNS`): metric, family, scenario, generator, case, param, seed,
value, the functional references (stitch, stitch_reverse, stitch_direct, stitch_direct_reverse,
agreement, accuracy_difference: :data:`runner.schema.REFERENCE_COLUMNS`, NaN where a reference does not
apply), time, error, meta. ``meta`` holds each case's scalar meta fields, parsed once: a dict per row in
memory (:func:`meta_table` spreads them into columns), a JSON object per row in ``results.csv``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import pandas as pd

from runner.atomic import atomic_path
from runner.schema import REFERENCE_COLUMNS, RESULT_COLUMNS

__all__ = ["COLUMNS", "meta_table", "read_results", "results_table", "write_results"]

COLUMNS = RESULT_COLUMNS
_FLOATS = ("value", *REFERENCE_COLUMNS, "time")


def _meta(value) -> dict:
    """A row's meta as a dict: parsed once from its JSON text (``results.csv``), or kept as it came."""
    if isinstance(value, dict):
        return value
    return json.loads(value) if isinstance(value, str) and value else {}


def results_table(rows: Iterable[dict]) -> pd.DataFrame:
    """Rows -> the tidy table, in a canonical order (so serial and parallel runs give the same table)."""
    table = pd.DataFrame(list(rows), columns=list(COLUMNS))
    for column in ("error", "generator"):  # text columns: "" where a row has none
        table[column] = [value if isinstance(value, str) else "" for value in table[column]]
    table["meta"] = [_meta(m) for m in table["meta"]]
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


def meta_table(results: pd.DataFrame, keys: Iterable[str] | None = None) -> pd.DataFrame:
    """The rows' meta fields as columns (index aligned with ``results``): ``keys`` (None where a row has
    none), or every key any row has."""
    records = list(results["meta"])
    keys = sorted({key for meta in records for key in meta}) if keys is None else list(keys)
    return pd.DataFrame([{key: meta.get(key) for key in keys} for meta in records], index=results.index,
                        columns=keys)


def write_results(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the table as CSV (atomically, ``meta`` as JSON objects); :func:`read_results` reads it back."""
    with atomic_path(path) as tmp:
        table.assign(meta=[json.dumps(meta, sort_keys=True) for meta in table["meta"]]).to_csv(tmp, index=False)
    return Path(path)


def read_results(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_results` (case ids stay strings, no error is "")."""
    table = pd.read_csv(
        path,
        dtype={"metric": str, "family": str, "scenario": str, "generator": str, "case": str, "error": str,
               "meta": str},
        keep_default_na=False,
        na_values={c: [""] for c in ("param", *_FLOATS)},
    )
    return results_table(table.to_dict("records"))
