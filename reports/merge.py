"""Combine the reports of several shares of one grid into the reports of the whole grid.

A grid split over machines (``pytest benchmarks/ --splits 3 --group 2`` with pytest-split, or one
cluster job per group) leaves one report folder per share, each with its ``results.csv`` and
``run.json``. :func:`merge_runs` concatenates the results, unites the run records, and writes every
report again from the union, so the merged folder holds what a single run of the same grid writes
(up to the ``time`` column and the header's ``execution`` line). Shares must come from the same
profile and statistical settings and must not measure the same (measure, scenario) twice.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import pandas as pd

from reports.results import results_table
from reports.run import Reports, RunRecord, describe_run, read_run, write_reports

__all__ = ["MergeError", "merge_runs"]

class MergeError(ValueError):
    """The shares cannot be merged: settings differ, or two shares measured the same cells."""


def _check_compatible(folders: Sequence[Path], records: Sequence[RunRecord]) -> None:
    first = records[0]
    for folder, record in zip(folders[1:], records[1:]):
        if record.settings != first.settings:
            raise MergeError(f"{folder}: verdict settings {record.settings} differ from {folders[0]}'s {first.settings}")
        if record.header.get("profile") != first.header.get("profile"):
            raise MergeError(f"{folder}: profile {record.header.get('profile')!r} differs from "
                             f"{folders[0]}'s {first.header.get('profile')!r}")
        for field in ("scales", "expectations", "sweeps", "generators"):
            mine, theirs = getattr(record, field), getattr(first, field)
            clash = sorted(k for k in mine.keys() & theirs.keys() if mine[k] != theirs[k])
            if clash:
                raise MergeError(f"{folder}: {field} of {clash} differ from {folders[0]}'s (different code or specs)")


def _check_disjoint(folders: Sequence[Path], tables: Sequence[pd.DataFrame]) -> None:
    seen: dict[tuple[str, str], Path] = {}
    for folder, table in zip(folders, tables):
        for cell in table[["metric", "scenario"]].drop_duplicates().itertuples(index=False, name=None):
            if cell in seen:
                raise MergeError(f"{folder} and {seen[cell]} both measured {cell[0]} on {cell[1]}")
            seen[cell] = folder


def merge_runs(folders: Sequence[str | Path], out_dir: str | Path, figures: bool = True) -> Reports:
    """Merge the report folders ``folders`` (each from one share of a grid) into ``out_dir``.

    Raises:
        MergeError: fewer than one folder, incompatible settings, or overlapping cells.
        FileNotFoundError: a folder without results.csv or run.json.
    """
    folders = [Path(f) for f in folders]
    if not folders:
        raise MergeError("name at least one report folder to merge")
    runs = [read_run(folder) for folder in folders]
    tables, records = [table for table, _ in runs], [record for _, record in runs]
    _check_compatible(folders, records)
    _check_disjoint(folders, tables)
    results = results_table(pd.concat(tables, ignore_index=True).to_dict("records"))
    first = records[0]
    described = describe_run(results, first.settings, {"execution": f"merged from {len(folders)} shares"})
    header = {key: described.get(key, value) for key, value in first.header.items()}  # the same key order
    for record in records:  # per-measure entries (references, plugin errors): the union of the shares
        for key, value in record.header.items():
            if isinstance(value, dict):
                header[key] = {**header.get(key, {}), **value}
    record = dataclasses.replace(
        first,
        header=header,
        scales={k: v for r in records for k, v in r.scales.items()},
        expectations={k: v for r in records for k, v in r.expectations.items()},
        sweeps={k: v for r in records for k, v in r.sweeps.items()},
        generators={k: v for r in records for k, v in r.generators.items()},
    )
    return write_reports(results, record, out_dir, figures=figures)
