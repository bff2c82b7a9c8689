"""The scorecard: measures x scenario families, a score and a mark per cell, and every verdict's numbers.

A cell's score is the fraction of the family's expectations the measure passed (undecided and errors
count as not passed); its mark is ✗ if any expectation failed, ! if none failed but the measure
errored on one, ? if none failed or errored but one is undecided, and ✓ when every one passed. The
summary column does the same over all families. scorecard.csv and scorecard.json hold the one tidy
table the markdown is rendered from.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import pandas as pd
from tabulate import tabulate

from reports.atomic import atomic_path, write_text
from reports.verdicts import MARKS

__all__ = [
    "SCORE_COLUMNS", "SUMMARY", "error_summary", "mark", "overview_table", "score_table", "scorecard_markdown",
    "write_scorecard",
]  # fmt: skip

SUMMARY = "all"
SCORE_COLUMNS = ("metric", "family", "score", "mark", "passed", "failed", "undecided", "errors", "expectations")


def mark(passed: int, failed: int, undecided: int, errors: int) -> str:
    """The cell's mark from its verdict counts (see the module docstring)."""
    if failed:
        return MARKS["fail"]
    if errors:
        return MARKS["error"]
    if undecided:
        return MARKS["undecided"]
    return MARKS["pass"] if passed else ""


def score_table(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Verdict table -> one row per (metric, family), plus a row per metric with family :data:`SUMMARY`."""
    counted = verdicts.assign(
        passed=verdicts["verdict"].eq("pass"),
        failed=verdicts["verdict"].eq("fail"),
        undecided=verdicts["verdict"].eq("undecided"),
        errors=verdicts["verdict"].eq("error"),
    )
    totals = ["passed", "failed", "undecided", "errors"]
    per_family = counted.groupby(["metric", "family"], sort=True)[totals].sum().reset_index()
    overall = counted.groupby("metric", sort=True)[totals].sum().reset_index().assign(family=SUMMARY)
    table = pd.concat([per_family, overall], ignore_index=True)
    table[totals] = table[totals].astype(int)
    table["expectations"] = table[totals].sum(axis=1)
    table["score"] = table["passed"] / table["expectations"].where(table["expectations"] > 0)
    table["mark"] = [mark(*counts) for counts in table[totals].itertuples(index=False)]
    return table[list(SCORE_COLUMNS)].sort_values(["metric", "family"], ignore_index=True)


def _cell(score: float, cell_mark: str) -> str:
    return f"{score:.2f} {cell_mark}" if pd.notna(score) else cell_mark


def _md_text(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Failed cells per (metric, scenario): how many and the first message."""
    failed = results[results["error"] != ""]
    return (
        failed.groupby(["metric", "scenario"], sort=True)
        .agg(failed_cells=("error", "size"), first_message=("error", "first"))
        .reset_index()
    )


def overview_table(scores: pd.DataFrame) -> str:
    """The measures x families table (markdown), measures sorted by their summary score."""
    summary = scores[scores["family"] == SUMMARY].set_index("metric")
    order = summary.sort_values(["score", "failed"], ascending=[False, True], kind="stable").index
    families = sorted(set(scores["family"]) - {SUMMARY})
    rows = []
    for metric in order:
        cells = scores[scores["metric"] == metric].set_index("family")
        per_family = [_cell(cells.at[f, "score"], cells.at[f, "mark"]) if f in cells.index else "" for f in families]
        row = [metric, *per_family]
        total = cells.loc[SUMMARY]
        counts = f"{total['passed']}✓ {total['failed']}✗ {total['undecided']}? {total['errors']}!"
        rows.append(row + [f"{_cell(total['score'], total['mark'])} ({counts})"])
    return tabulate(rows, headers=["measure", *families, "summary"], tablefmt="github")


def _verdict_cell(row) -> str:
    if row.verdict == "error" or pd.isna(row.estimate):
        return MARKS[row.verdict]
    return f"{MARKS[row.verdict]} {row.estimate:.3g}"


def _details(verdicts: pd.DataFrame) -> str:
    sections = []
    for family, group in verdicts.groupby("family", sort=True):
        group = group.assign(cell=[_verdict_cell(r) for r in group.itertuples()])
        wide = group.pivot_table(
            index=["scenario", "expectation", "statistic"], columns="metric", values="cell", aggfunc="first"
        ).fillna("").reset_index()
        sections.append(f"### {family}\n\n" + tabulate(wide, headers="keys", tablefmt="github", showindex=False))
    return "\n\n".join(sections)


def scorecard_markdown(
    scores: pd.DataFrame, verdicts: pd.DataFrame, header: Mapping[str, str], errors: pd.DataFrame
) -> str:
    """Render scorecard.md: settings header, overview table, legend, per-family verdicts, errors."""
    lines = ["# stitchbench scorecard", ""]
    lines += [f"- **{key}**: {value}" for key, value in header.items()]
    lines += ["", "## Overview", "", overview_table(scores), ""]
    lines += [
        "Each cell: fraction of the family's expectations passed, and a mark: ✓ all passed, "
        "✗ at least one failed, ! the measure errored (no failure), ? undecided (the seeds' spread "
        "cannot support a verdict; never counted as a pass). Measures are sorted by their summary score.",
        "",
        "## Verdicts",
        "",
        "Each cell: the mark and the verdict's statistic (mean over seeds); intervals, p-values and "
        "details are in verdicts.csv. spread = (max - min over cases) / bound width; difference / width "
        "= value[higher] - value[lower] over the bound width; value - target for the worst case; "
        "Spearman correlations are similarity-oriented.",
        "",
        _details(verdicts),
        "",
    ]
    if len(errors):
        rows = [[r.metric, r.scenario, r.failed_cells, _md_text(r.first_message)] for r in errors.itertuples()]
        headers = ["measure", "scenario", "failed cells", "first message"]
        lines += ["## Errors", "", tabulate(rows, headers=headers, tablefmt="github"), ""]
    return "\n".join(lines)


def write_scorecard(
    scores: pd.DataFrame,
    verdicts: pd.DataFrame,
    header: Mapping[str, str],
    errors: pd.DataFrame,
    out_dir: str | Path,
) -> list[Path]:
    """Write scorecard.md, scorecard.csv, scorecard.json and verdicts.csv into ``out_dir`` (atomically)."""
    out_dir = Path(out_dir)
    paths = [write_text(out_dir / "scorecard.md", scorecard_markdown(scores, verdicts, header, errors))]
    for name, table in (("scorecard.csv", scores), ("verdicts.csv", verdicts)):
        with atomic_path(out_dir / name) as tmp:
            table.to_csv(tmp, index=False)
        paths.append(out_dir / name)
    document = {"header": dict(header), "scorecard": json.loads(scores.to_json(orient="records"))}
    paths.append(write_text(out_dir / "scorecard.json", json.dumps(document, indent=1, ensure_ascii=False) + "\n"))
    return paths
