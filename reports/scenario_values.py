"""One measure's values on one scenario reshaped for judging: (case x seed) matrices of the measure and of
every functional reference, the cases left out and why (:class:`ScenarioValues`), from the rows of the
results table (:func:`scenario_values`), and a reference read as a pseudo-measure
(:func:`reference_values`) for judging an expectation's premise on it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from runner.schema import REFERENCE_COLUMNS

__all__ = ["ScenarioValues", "covering", "own_reference", "reference_values", "scenario_values"]


@dataclass(frozen=True)
class ScenarioValues:
    """One measure's usable values on one scenario, as (case x seed) matrices.

    ``references`` maps each functional reference (``runner.schema.REFERENCE_COLUMNS``) to its
    [cases, seeds] matrix (NaN where it does not apply). ``failed`` maps each case left out (the measure
    failed in some seed, or the case is missing in some seed) to the reason. ``positions`` [cases, 2]
    holds each case's layer indices (meta ``index_x``, ``index_y``; NaN where absent).
    """

    cases: tuple[str, ...]
    seeds: tuple[int, ...]
    values: np.ndarray  # [cases, seeds]
    params: np.ndarray  # [cases], NaN where the case has no numeric sweep value
    references: Mapping[str, np.ndarray]  # name -> [cases, seeds]
    failed: Mapping[str, str]
    positions: np.ndarray | None = None  # [cases, 2], NaN where a case has no layer indices

    @property
    def stitch(self) -> np.ndarray:
        """The trained stitch X -> Y, [cases, seeds]."""
        return self.references["stitch"]


def scenario_values(rows: pd.DataFrame) -> ScenarioValues:
    """Results rows of one measure on one scenario -> :class:`ScenarioValues` (failed cases set aside)."""
    seeds = tuple(sorted(rows["seed"].unique()))
    cases = pd.unique(rows["case"])
    case_index = pd.Index(cases).get_indexer(rows["case"])
    seed_index = pd.Index(seeds).get_indexer(rows["seed"])
    columns = ["value", *(name for name in REFERENCE_COLUMNS if name in rows)]
    cube = np.full((len(cases), len(seeds), len(columns)), np.nan)  # case x seed x column
    cube[case_index, seed_index] = rows[columns].to_numpy(float)
    present = np.zeros((len(cases), len(seeds)), dtype=bool)
    present[case_index, seed_index] = True
    errors = rows.loc[rows["error"] != ""].drop_duplicates("case").set_index("case")["error"]
    failed: dict[str, str] = {}
    for i, case in enumerate(cases):
        if case in errors.index:
            failed[case] = errors[case]
        elif not present[i].all():
            failed[case] = f"missing in seed(s) {[s for s, here in zip(seeds, present[i]) if not here]}"
    keep = np.array([case not in failed for case in cases], dtype=bool)
    first = rows.drop_duplicates("case").set_index("case")
    params = pd.to_numeric(first["param"], errors="coerce")
    positions = np.array([_positions(text) for text in first["meta"]] if "meta" in first else
                         np.full((len(first), 2), np.nan), dtype=float).reshape(len(first), 2)
    positions = pd.DataFrame(positions, index=first.index).reindex(cases[keep]).to_numpy(float)

    def matrix(column: str) -> np.ndarray:
        if column not in columns:
            return np.full((int(keep.sum()), len(seeds)), np.nan)
        return cube[keep, :, columns.index(column)]

    return ScenarioValues(
        cases=tuple(case for case, kept in zip(cases, keep) if kept),
        seeds=seeds,
        values=matrix("value"),
        params=params.reindex(cases[keep]).to_numpy(float),
        references={name: matrix(name) for name in REFERENCE_COLUMNS},
        failed=failed,
        positions=positions,
    )


def _positions(meta: dict) -> tuple[float, float]:
    """A case's layer indices (``index_x``, ``index_y``) from its meta; NaN where absent."""
    return tuple(float(v) if isinstance(v := meta.get(k), (int, float)) else np.nan for k in ("index_x", "index_y"))


def reference_values(rows: pd.DataFrame, reference: str) -> ScenarioValues:
    """A scenario's functional ``reference`` as a pseudo-measure: its values per (case, seed), taken once
    from the rows of any measure; cases where it is not recorded in every seed are left out."""
    if reference not in REFERENCE_COLUMNS:
        raise ValueError(f"unknown functional reference {reference!r}; expected one of {REFERENCE_COLUMNS}")
    cells = rows.drop_duplicates(["case", "seed"])
    values = cells[reference] if reference in cells else pd.Series(np.nan, index=cells.index)
    missing = values.isna()
    pseudo = cells.assign(value=values, error=np.where(missing, f"{reference} not recorded", ""))
    return scenario_values(pseudo)


def covering(data: ScenarioValues, name: str) -> ScenarioValues:
    """``data`` restricted to the cases that record the reference ``name`` in every seed (all of them
    when none does: the premise is then undecided, and the measure's own numbers are kept on every case)."""
    keep = np.isfinite(data.references[name]).all(axis=1)
    if not keep.any():
        return data
    return dataclasses.replace(
        data, cases=tuple(case for case, kept in zip(data.cases, keep) if kept), values=data.values[keep],
        params=data.params[keep], references={k: v[keep] for k, v in data.references.items()},
        positions=None if data.positions is None else data.positions[keep],
    )  # fmt: skip


def own_reference(data: ScenarioValues, name: str) -> ScenarioValues:
    """The reference ``name`` over ``data``'s own cases, as :func:`reference_values` reads it."""
    keep = np.isfinite(data.references[name]).all(axis=1)
    return ScenarioValues(
        cases=tuple(case for case, kept in zip(data.cases, keep) if kept),
        seeds=data.seeds,
        values=data.references[name][keep],
        params=data.params[keep],
        references={k: v[keep] for k, v in data.references.items()},
        failed={case: f"{name} not recorded" for case, kept in zip(data.cases, keep) if not kept},
        positions=None if data.positions is None else data.positions[keep],
    )
