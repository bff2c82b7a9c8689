"""Combine the reports of several shares of one grid into the reports of the whole grid.

A grid split over machines (``pytest benchmarks/ --splits 3 --group 2`` with pytest-split, or one
cluster job per group) leaves one report folder per share, each with its ``results.csv`` and
``run.json``. :func:`merge_runs` concatenates the results, unites the run records, and writes every
report again from the union, so the merged folder holds what a single run of the same grid writes
(up to the ``time`` column and the header's ``execution`` line). Shares must come from the same
code (``run.json``'s ``code``: the sources' digest, the numerical dependencies' versions, the network
bank, the options that shape the values, and the definition of every scenario two shares both ran),
profile and statistical settings; each share's ``results.csv`` must have every column and match the row
count and checksum its ``run.json`` recorded (``reports.run.read_run``); and no two shares may measure
the same (measure, scenario). A share that fails any of these is refused with a message naming it and
the problem.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import pandas as pd

from reports.results import results_table
from reports.run import Reports, RunFolderError, RunRecord, describe_run, read_run, write_reports

__all__ = ["MergeError", "merge_runs"]

class MergeError(ValueError):
    """The shares cannot be merged: code or settings differ, a share's files are damaged, or two shares
    measured the same cells."""


#: The entries of a run's ``code`` record that must be equal in every share (``scenarios``, a digest per
#: scenario, is compared where two shares ran the same scenario; ``bank`` where both read one).
CODE_ENTRIES = ("sources", "dependencies", "options")


def _check_code(folders: Sequence[Path], records: Sequence[RunRecord]) -> None:
    for folder, record in zip(folders, records):
        if not record.code:
            raise MergeError(f"{folder}: its run.json records no code (a run of an earlier stitchbench): run the "
                             f"share again")
    first = records[0].code
    for folder, record in zip(folders[1:], records[1:]):
        code = record.code
        for entry in CODE_ENTRIES:
            if code.get(entry) != first.get(entry):
                raise MergeError(f"{folder}: ran other code than {folders[0]} ({entry} differ: "
                                 f"{_difference(code.get(entry), first.get(entry))}; commits {code.get('commit')} and "
                                 f"{first.get('commit')})")
        if code.get("bank") and first.get("bank") and code["bank"] != first["bank"]:
            raise MergeError(f"{folder}: read network bank {code['bank']}, {folders[0]} read {first['bank']}")


def _difference(mine, theirs) -> str:
    """What differs between two entries (the keys of two dicts, else both values)."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        keys = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
        return ", ".join(f"{k} {mine.get(k)} vs {theirs.get(k)}" for k in keys)
    return f"{mine} vs {theirs}"


def _check_compatible(folders: Sequence[Path], records: Sequence[RunRecord]) -> None:
    _check_code(folders, records)
    first = records[0]
    for folder, record in zip(folders[1:], records[1:]):
        if record.settings != first.settings:
            raise MergeError(f"{folder}: verdict settings {record.settings} differ from {folders[0]}'s {first.settings}")
        if record.header.get("profile") != first.header.get("profile"):
            raise MergeError(f"{folder}: profile {record.header.get('profile')!r} differs from "
                             f"{folders[0]}'s {first.header.get('profile')!r}")
        for field, mine, theirs in [*((f, getattr(record, f), getattr(first, f))
                                      for f in ("scales", "expectations", "sweeps", "generators")),
                                    ("scenario definitions", record.code.get("scenarios", {}),
                                     first.code.get("scenarios", {}))]:  # fmt: skip
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
        MergeError: fewer than one folder, a folder whose files are missing, damaged or do not match their
            record, other code or settings, or overlapping cells.
    """
    folders = [Path(f) for f in folders]
    if not folders:
        raise MergeError("name at least one report folder to merge")
    try:
        runs = [read_run(folder) for folder in folders]
    except RunFolderError as err:
        raise MergeError(str(err)) from None
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
        code={**first.code, "bank": next((r.code["bank"] for r in records if r.code.get("bank")), None),
              "scenarios": {k: v for r in records for k, v in r.code.get("scenarios", {}).items()}},
    )
    return write_reports(results, record, out_dir, figures=figures)
