"""The scorecard: a score and a mark per (measure, family), every verdict's numbers, in tables that fit.

A cell's score is the fraction of the family's counted expectations the measure passed (undecided,
errors and failures of either kind count as not passed). A verdict set aside because its premise failed
(the functional reference itself did not do what the expectation says: verdict ``"premise failed"``,
mark ⊘) counts neither as a pass nor as a failure: it is left out of the score and counted apart
(``set_aside``). A failure is counted apart as ``by_design`` (mark ◇) when the measure's declarations
alone decide it (``reports.design``: an invariance it does not claim, a direction a symmetric measure
cannot give), as ``failed`` (✗) otherwise. The score table's mark is the worst verdict (✗, ◇, !, ?, ✓,
⊘ in that order); the overview shows the share instead (scorecard.html colours it per column). The
summary row (family :data:`SUMMARY`) does the same over all families, and orders the overview as the
one ranking of the run does (``reports.answers.ranking``: share, then more counted verdicts, then name).

scorecard.md puts measures in rows everywhere and splits any table wider than :data:`MAX_COLUMNS`, so it
stays readable at 35 measures and 20 scenarios per family. scorecard.csv and scorecard.json hold the
one tidy table the markdown is rendered from.

Two header entries are mappings rather than strings (the runner fills them; both are optional):
:data:`HEADER_REFERENCES` (measure -> the paper its registration names, "" for none) and
:data:`HEADER_PLUGIN_ERRORS` (plugin module that failed to import -> the error). They are rendered as
the Measures and Errors sections, not as header lines.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd
from tabulate import tabulate

from runner.atomic import atomic_path, write_text
from reports.verdicts import MARKS

__all__ = [
    "COUNT_MARKS", "DESIGN_MARK", "HEADER_PLUGIN_ERRORS", "HEADER_REFERENCES", "LEGEND", "MAX_COLUMNS",
    "SCORE_COLUMNS", "SET_ASIDE", "SUMMARY", "by_design", "edge_table", "error_summary", "header_items",
    "header_lines", "mark", "markdown_table", "markdown_text", "measure_reference",
    "overview_rows", "overview_table", "rank_table", "score_table", "scorecard_markdown", "set_aside_table",
    "verdict_mark", "write_scorecard",
]  # fmt: skip

SUMMARY = "all"
SET_ASIDE = "premise failed"
SET_ASIDE_MARK = MARKS.get(SET_ASIDE, "⊘")
NO_REFERENCE = "no reference"
HEADER_REFERENCES = "measure references"
HEADER_PLUGIN_ERRORS = "plugins not loaded"
#: no markdown table of the scorecard has more columns than this (wider ones are split)
MAX_COLUMNS = 12
COUNTS = ("passed", "failed", "by_design", "undecided", "errors", "set_aside")
SCORE_COLUMNS = ("metric", "family", "score", "mark", *COUNTS, "expectations")
_COUNTED = {"passed": "pass", "failed": "fail", "undecided": "undecided", "errors": "error", "set_aside": SET_ASIDE}


#: the mark of a failure the measure has by its declared design (``reports.design``), not empirically
DESIGN_MARK = "◇"


def verdict_mark(verdict: str, design: str = "") -> str:
    """The mark of one verdict (✓ ✗ ? ! ⊘), and ◇ for a failure by design (``design``: its reason)."""
    if verdict == "fail" and isinstance(design, str) and design:
        return DESIGN_MARK
    return MARKS.get(verdict, SET_ASIDE_MARK if verdict == SET_ASIDE else "?")


#: the mark each count of the score table counts
COUNT_MARKS = {**{count: verdict_mark(verdict) for count, verdict in _COUNTED.items()}, "by_design": DESIGN_MARK}
COUNT_MARKS = {count: COUNT_MARKS[count] for count in COUNTS}


def by_design(verdicts: pd.DataFrame) -> pd.Series:
    """Which verdicts are failures by the measure's declared design (``design`` column, ``reports.design``)."""
    design = verdicts["design"] if "design" in verdicts else pd.Series("", index=verdicts.index)
    return verdicts["verdict"].eq("fail") & design.fillna("").astype(str).ne("")


def mark(passed: int, failed: int, by_design: int, undecided: int, errors: int, set_aside: int = 0) -> str:
    """The cell's mark from its verdict counts (see the module docstring)."""
    if failed:
        return MARKS["fail"]
    if by_design:
        return DESIGN_MARK
    if errors:
        return MARKS["error"]
    if undecided:
        return MARKS["undecided"]
    if passed:
        return MARKS["pass"]
    return SET_ASIDE_MARK if set_aside else ""


def score_table(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Verdict table -> one row per (metric, family), plus a row per metric with family :data:`SUMMARY`.

    ``expectations`` counts the verdicts that enter the score (every one but the set-aside ones).
    """
    designed = by_design(verdicts)
    counted = verdicts.assign(**{count: verdicts["verdict"].eq(v) for count, v in _COUNTED.items()})
    counted = counted.assign(failed=counted["failed"] & ~designed, by_design=designed)
    totals = list(COUNTS)
    per_family = counted.groupby(["metric", "family"], sort=True)[totals].sum().reset_index()
    overall = counted.groupby("metric", sort=True)[totals].sum().reset_index().assign(family=SUMMARY)
    table = pd.concat([per_family, overall], ignore_index=True)
    table[totals] = table[totals].astype(int)
    table["expectations"] = table[totals].sum(axis=1) - table["set_aside"]
    table["score"] = table["passed"] / table["expectations"].where(table["expectations"] > 0)
    table["mark"] = [mark(*counts) for counts in table[totals].itertuples(index=False)]
    return table[list(SCORE_COLUMNS)].sort_values(["metric", "family"], ignore_index=True)


def rank_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Measures x families: each measure's rank by score within the family (1 = best, ties share the mean
    rank, NaN where it has no counted expectation); rows in the order of the overview. The one ranking of
    the run, with its spread, is ``reports.answers.ranking``."""
    families = scores[scores["family"] != SUMMARY]
    wide = families.pivot(index="metric", columns="family", values="score")
    return wide.rank(ascending=False, method="average").reindex(_order(scores))


def _cell(score: float, cell_mark: str) -> str:
    return f"{score:.2f} {cell_mark}" if pd.notna(score) else cell_mark


def _counts(row) -> str:
    return " ".join(f"{getattr(row, count)}{COUNT_MARKS[count]}" for count in COUNTS)


_UNESCAPED_BAR = re.compile(r"(?<!\\)\|")


def markdown_text(text) -> str:
    """``text`` safe in a markdown table cell or line: ``<`` and ``>`` as HTML entities (a name or message
    holding markup is shown, never rendered) and ``|`` escaped (it would end a cell)."""
    text = str(text).replace("<", "&lt;").replace(">", "&gt;")
    return _UNESCAPED_BAR.sub("\\|", text)


def header_lines(items: Mapping[str, object]) -> list[str]:
    """A report's header as markdown list lines (``- **key**: value``), escaped (:func:`markdown_text`)."""
    return [f"- **{markdown_text(key)}**: {markdown_text(value)}" for key, value in items.items()]


def _md_text(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return markdown_text(text if len(text) <= limit else text[: limit - 1] + "…")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence], keep: int = 1,
                   max_columns: int = MAX_COLUMNS) -> str:  # fmt: skip
    """A github-style table (text cells through :func:`markdown_text`); wider than ``max_columns``, it is
    split into several tables that each repeat the first ``keep`` columns (the row labels)."""
    headers = [markdown_text(header) for header in headers]
    rows = [[markdown_text(cell) if isinstance(cell, str) else cell for cell in row] for row in rows]
    width = max_columns - keep
    if len(headers) <= max_columns or width < 1:
        return tabulate(rows, headers=list(headers), tablefmt="github")
    parts = []
    for start in range(keep, len(headers), width):
        columns = [*range(keep), *range(start, min(start + width, len(headers)))]
        parts.append(tabulate([[row[i] for i in columns] for row in rows], headers=[headers[i] for i in columns],
                              tablefmt="github"))  # fmt: skip
    return "\n\n".join(parts)


def _families(scores: pd.DataFrame) -> list[str]:
    return sorted(set(scores["family"]) - {SUMMARY})


def _order(scores: pd.DataFrame, family: str = SUMMARY) -> list[str]:
    """Measures by score in ``family`` (best first), then more counted verdicts, then name (the order of
    ``reports.answers.ranking``)."""
    rows = scores[scores["family"] == family]
    return list(rows.sort_values(["score", "expectations", "metric"], ascending=[False, False, True],
                                 na_position="last", kind="stable")["metric"])  # fmt: skip


def overview_rows(scores: pd.DataFrame, top: int | None = None) -> tuple[list[str], list[list]]:
    """Headers and rows of the overview: measures by summary score (the one ranking's order), a cell per
    family (the share of its counted verdicts passed), the summary share and the counts; the first
    ``top`` measures only, when given."""
    families = _families(scores)
    order = _order(scores)[:top]
    cells = {(r.metric, r.family): r for r in scores.itertuples()}
    rows = []
    for position, metric in enumerate(order, start=1):
        per_family = [_share(cells[metric, f]) if (metric, f) in cells else "" for f in families]
        total = cells[metric, SUMMARY]
        rows.append([position, metric, *per_family, _share(total), _counts(total)])
    return ["#", "measure", *families, "summary", "counts"], rows


def _share(row) -> str:
    """An overview cell: the share passed and k/n (no mark: the share, not the worst verdict, is the cell)."""
    return f"{row.score:.2f} ({row.passed}/{row.expectations})" if pd.notna(row.score) else row.mark


def overview_table(scores: pd.DataFrame, top: int | None = None) -> str:
    """The overview (markdown): one row per measure, sorted by summary score."""
    headers, rows = overview_rows(scores, top)
    return markdown_table(headers, rows, keep=2)


def _design(row) -> str:
    design = getattr(row, "design", "")
    return design if isinstance(design, str) else ""


def _verdict_cell(row) -> str:
    symbol = verdict_mark(row.verdict, _design(row))
    if row.verdict in ("error", SET_ASIDE) or pd.isna(row.estimate):
        return symbol
    return f"{symbol} {row.estimate:.3g}"


def _label(row) -> str:
    return f"{row.scenario}: {row.expectation}"


def _family_table(scores: pd.DataFrame, ranks: pd.DataFrame, verdicts: pd.DataFrame, family: str) -> str:
    """Measures of one family (``verdicts`` holds the family's verdicts): score, counts, rank, and the
    first failed expectations with their statistic."""
    cells = scores[scores["family"] == family].set_index("metric").to_dict("index")
    failures: dict[str, list[str]] = {}
    for r in verdicts[(verdicts["verdict"] == "fail") & ~by_design(verdicts)].itertuples():
        text = f"{_label(r)} ({r.estimate:.3g})" if pd.notna(r.estimate) else _label(r)
        failures.setdefault(r.metric, []).append(text)
    rows = []
    for metric in _order(scores, family):
        row, failed = cells[metric], failures.get(metric, [])
        shown = "; ".join(failed[:2]) + (f"; +{len(failed) - 2} more" if len(failed) > 2 else "")
        rank = ranks.at[metric, family] if family in ranks.columns else float("nan")
        rows.append([metric, _cell(row["score"], row["mark"]), *(row[c] for c in COUNTS),
                     f"{rank:g}" if pd.notna(rank) else "", _md_text(shown, 120)])  # fmt: skip
    headers = ["measure", "score", *(COUNT_MARKS[c] for c in COUNTS), "rank", "failed empirically (statistic)"]
    return markdown_table(headers, rows)


def _premise(row) -> str:
    premise = getattr(row, "premise", "")
    if not isinstance(premise, str) or not premise:
        return ""
    estimate = getattr(row, "premise_estimate", float("nan"))
    return f"{premise} ({estimate:.3g})" if pd.notna(estimate) else premise


def _scenario_tables(verdicts: pd.DataFrame) -> str:
    """One table per scenario: measures x the scenario's expectations, each cell mark and statistic."""
    cells = {(r.scenario, r.metric, r.expectation): _verdict_cell(r) for r in verdicts.itertuples()}
    metrics = sorted(verdicts["metric"].unique())
    parts = []
    for scenario, first in verdicts.drop_duplicates(["scenario", "expectation"]).groupby("scenario", sort=True):
        labels = list(first["expectation"])
        notes = []
        for row in first.itertuples():
            against = getattr(row, "reference", "")
            extra = [f"against {against}" if isinstance(against, str) and against else "",
                     f"premise {_premise(row)}" if _premise(row) else "", row.statistic]  # fmt: skip
            notes.append(f"- `{row.expectation}` ({', '.join(e for e in extra if e)}): {_md_text(row.reason, 200)}")
        rows = [[metric, *(cells.get((scenario, metric, label), "") for label in labels)] for metric in metrics
                if any((scenario, metric, label) in cells for label in labels)]  # fmt: skip
        parts.append(f"#### {scenario}\n\n" + "\n".join(notes) + "\n\n" + markdown_table(["measure", *labels], rows))
    return "\n\n".join(parts)


def set_aside_table(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The set-aside verdicts grouped by expectation: family, scenario, expectation, reference, premise,
    premise estimate and how many measures were set aside there."""
    aside = verdicts[verdicts["verdict"] == SET_ASIDE]
    columns = ["family", "scenario", "expectation", "reference", "premise", "premise_estimate"]
    defaults = {"reference": "", "premise": "", "premise_estimate": float("nan")}
    aside = aside.assign(**{c: aside[c] if c in aside else default for c, default in defaults.items()})
    return (
        aside.fillna({"reference": "", "premise": ""})
        .groupby(columns[:3], sort=True)
        .agg(reference=("reference", "first"), premise=("premise", "first"),
             premise_estimate=("premise_estimate", "first"), measures=("metric", "nunique"))  # fmt: skip
        .reset_index()
    )


def _set_aside_section(verdicts: pd.DataFrame) -> list[str]:
    table = set_aside_table(verdicts)
    if table.empty:
        return []
    total = int((verdicts["verdict"] == SET_ASIDE).sum())
    rows = [[r.family, r.scenario, r.expectation, r.reference, r.premise,
             f"{r.premise_estimate:.3g}" if pd.notna(r.premise_estimate) else "",
             r.measures] for r in table.itertuples()]  # fmt: skip
    headers = ["family", "scenario", "expectation", "reference", "premise", "premise estimate", "measures"]
    return [
        f"## Set aside ({SET_ASIDE_MARK}: premise failed)", "",
        f"{total} verdict(s) in {len(table)} expectation(s) were set aside: judged by the same rule on the "
        "functional reference itself, the expectation did not hold, so no measure is scored on it "
        "(neither pass nor fail).", "",
        markdown_table(headers, rows), "",
    ]  # fmt: skip


def edge_table(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The expectations whose premise sits on its edge (``premise_edge``: a retrain of the network bank
    can flip it): family, scenario, expectation, reference, premise, what it became, its estimate and
    interval."""
    columns = ["family", "scenario", "expectation", "reference", "premise", "became", "premise_estimate",
               "premise_ci_low", "premise_ci_high"]
    if "premise_edge" not in verdicts:
        return pd.DataFrame(columns=columns)
    edge = verdicts[verdicts["premise_edge"].eq(True)]
    return edge.drop_duplicates(["scenario", "expectation"])[columns].sort_values(columns[:3], ignore_index=True)


def _edge_section(verdicts: pd.DataFrame) -> list[str]:
    table = edge_table(verdicts)
    if table.empty:
        return []
    rows = [[r.family, r.scenario, r.expectation, r.reference, r.premise, r.became,
             f"{r.premise_estimate:.3g} [{r.premise_ci_low:.3g}, {r.premise_ci_high:.3g}]"]
            for r in table.itertuples()]  # fmt: skip
    headers = ["family", "scenario", "expectation", "reference", "premise", "became", "estimate [interval]"]
    return [
        "## Premises on their edge", "",
        f"{len(table)} premise(s) are decided by an interval that ends within half its width of the threshold: "
        "a retrain of the network bank can flip them (and the verdicts judged under them). Their verdicts "
        "count as usual; read them with that in mind.", "",
        markdown_table(headers, rows), "",
    ]  # fmt: skip


def error_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Failed cells per (metric, scenario): how many and the first message."""
    failed = results[results["error"] != ""]
    return (
        failed.groupby(["metric", "scenario"], sort=True)
        .agg(failed_cells=("error", "size"), first_message=("error", "first"))
        .reset_index()
    )


def _errors_section(errors: pd.DataFrame, plugin_errors: Mapping[str, str]) -> list[str]:
    if not len(errors) and not plugin_errors:
        return []
    lines = ["## Errors", ""]
    if plugin_errors:
        rows = [[origin, _md_text(message)] for origin, message in sorted(plugin_errors.items())]
        lines += ["### Plugin modules that failed to import", "",
                  "Their measures are missing from every table above.", "",
                  markdown_table(["plugin", "error"], rows), ""]  # fmt: skip
    if len(errors):
        rows = [[r.metric, r.scenario, r.failed_cells, _md_text(r.first_message)] for r in errors.itertuples()]
        lines += ["### Cases a measure failed on", "",
                  markdown_table(["measure", "scenario", "failed cells", "first message"], rows), ""]  # fmt: skip
    return lines


def header_items(header: Mapping[str, object]) -> dict[str, str]:
    """The header's plain settings (the mapping entries are rendered as sections instead)."""
    items = {key: str(value) for key, value in header.items() if not isinstance(value, Mapping)}
    plugin_errors = header.get(HEADER_PLUGIN_ERRORS) or {}
    if plugin_errors:
        items[HEADER_PLUGIN_ERRORS] = f"{len(plugin_errors)} (see Errors)"
    return items


#: the legend of the marks, in three lines (scorecard.md, scorecard.html and README show it)
LEGEND = (
    f"{MARKS['pass']} pass · {MARKS['fail']} fails empirically · {DESIGN_MARK} fails by the measure's declared design "
    f"(an invariance it does not claim, a direction a symmetric measure cannot give)",
    f"{MARKS['undecided']} undecided (the spread over seeds cannot decide; never a pass) · {MARKS['error']} error "
    f"(no usable value)",
    f"{SET_ASIDE_MARK} set aside: the functional reference itself broke the expectation, so it counts neither way",
)

HOW_TO_READ = f"""\
## How to read this

- Each scenario states what its functional reference (stitching) does across its cases; every expectation
  is judged for every measure over the scenario's seeds, by one rule per kind, the same for every measure.
""" + "".join(f"- {line}\n" for line in LEGEND) + f"""\
- **Overview**: one row per measure in the order of the one ranking. A cell is the share of the family's
  counted verdicts passed (k/n); the counts are {" ".join(COUNT_MARKS.values())}.
- **Families**: per family, the measures by score with their first empirical failures, then (folded) per
  scenario the mark and statistic of every verdict. Intervals, p-values and the cases: scorecard.html
  (click a cell), verdicts.csv.
"""


def measure_reference(references: Mapping[str, str], metric: str) -> str:
    """The paper a measure's registration names, "no reference" where it names none, and "not recorded"
    where the run did not record the measure's reference."""
    if metric not in references:
        return "not recorded"
    return references[metric] or NO_REFERENCE


def _measures_section(header: Mapping[str, object], scores: pd.DataFrame) -> list[str]:
    references = header.get(HEADER_REFERENCES)
    if not isinstance(references, Mapping):
        return []
    rows = [[metric, _md_text(measure_reference(references, metric), 120)] for metric in sorted(set(scores["metric"]))]
    return ["## Measures", "", markdown_table(["measure", "reference"], rows), ""]


def scorecard_markdown(scores: pd.DataFrame, verdicts: pd.DataFrame, header: Mapping[str, object],
                       errors: pd.DataFrame, opening: str = "") -> str:  # fmt: skip
    """Render scorecard.md: ``opening`` (the trust line, the answers and the ranking: ``reports.run``
    renders them), how to read it, overview, families, set-aside, on the edge, errors, measures, the run."""
    lines = ["# stitchbench scorecard", ""]
    if opening:
        lines += [opening, ""]
    lines += [HOW_TO_READ, "## Overview", "", overview_table(scores), "", "## Families", ""]
    ranks = rank_table(scores)
    for family, group in verdicts.groupby("family", sort=True):
        expectations = len(group.drop_duplicates(["scenario", "expectation"]))
        counts = f"{group['scenario'].nunique()} scenarios, {expectations} expectations"
        lines += [f"### {family} ({counts})", "", _family_table(scores, ranks, group, family), "",
                  f"<details><summary>{family}: every verdict, per scenario</summary>", "",
                  _scenario_tables(group), "", "</details>", ""]  # fmt: skip
    lines += _set_aside_section(verdicts)
    lines += _edge_section(verdicts)
    lines += _errors_section(errors, header.get(HEADER_PLUGIN_ERRORS) or {})
    lines += _measures_section(header, scores)
    lines += ["## Run", ""] + header_lines(header_items(header))
    aside = int((verdicts["verdict"] == SET_ASIDE).sum())
    if aside:
        lines.append(f"- **set aside**: {aside} verdict(s) whose premise failed (see Set aside)")
    return "\n".join(lines) + "\n"


def write_scorecard(
    scores: pd.DataFrame,
    verdicts: pd.DataFrame,
    header: Mapping[str, object],
    errors: pd.DataFrame,
    out_dir: str | Path,
    opening: str = "",
) -> list[Path]:
    """Write scorecard.md (``opening`` first, :func:`scorecard_markdown`), scorecard.csv, scorecard.json and
    verdicts.csv into ``out_dir`` (atomically)."""
    out_dir = Path(out_dir)
    paths = [write_text(out_dir / "scorecard.md", scorecard_markdown(scores, verdicts, header, errors, opening))]
    for name, table in (("scorecard.csv", scores), ("verdicts.csv", verdicts)):
        with atomic_path(out_dir / name) as tmp:
            table.to_csv(tmp, index=False)
        paths.append(out_dir / name)
    document = {"header": dict(header), "scorecard": json.loads(scores.to_json(orient="records"))}
    paths.append(write_text(out_dir / "scorecard.json", json.dumps(document, indent=1, ensure_ascii=False) + "\n"))
    return paths
