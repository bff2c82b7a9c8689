"""scorecard.html: the scorecard as one self-contained, interactive page.

The page loads nothing from elsewhere and opens from disk: CSS and JavaScript are inline, figures are
PNG data URIs, and the evidence behind every verdict is one JSON document in a ``<script
type="application/json">`` element that the page's script reads (so 35 measures x 35 scenarios stay a
few megabytes, not thousands of HTML nodes). It is rendered from the jinja2 template
``reports/templates/scorecard.html.j2`` and shows:

- the overview (one row per measure), sortable by any column and filterable by family and measure;
- per family, the verdict grid (measures x expectations); a cell opens its evidence: the statistic,
  its interval and p-value, the premise judged on the functional reference, and the per-case values
  (mean and range over seeds) against every reference the cases record, drawn and tabulated;
- the set-aside verdicts (premise failed), the errors (plugin modules that failed to import, cases a
  measure failed on), the differences from the regression baseline, the ranking figure and the other
  figures of the run, the run's settings.

The baseline comparison is made by the runner after the reports are written; it leaves it in
:data:`COMPARISON_FILE` (:class:`BaselineComparison`) so that ``python -m reports DIR`` rebuilds the
same page.
"""
from __future__ import annotations

import base64
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import jinja2
import numpy as np
import pandas as pd

from runner.atomic import write_text
from reports.baseline import Difference
from reports.ranking import write_ranking
from reports.scorecard import (
    COUNT_MARKS, COUNTS, HEADER_PLUGIN_ERRORS, HEADER_REFERENCES, MEDIAN_RANK, SET_ASIDE, SUMMARY, header_items,
    measure_reference, overview_rows, rank_table, set_aside_table, verdict_mark,
)  # fmt: skip
from runner.schema import REFERENCE_COLUMNS

__all__ = ["COMPARISON_FILE", "BaselineComparison", "html_data", "read_comparison", "render_html", "write_html"]

COMPARISON_FILE = "baseline_comparison.json"
#: figures of the run embedded beyond the ranking figure, at most this many bytes in all (the rest are linked)
FIGURE_BUDGET = 6_000_000
#: the CSS class of each verdict
VERDICT_CLASSES = {"fail": "fail", "error": "error", "undecided": "undecided", SET_ASIDE: "aside", "pass": "pass"}
_MARK_CLASSES = {verdict_mark(verdict): css for verdict, css in VERDICT_CLASSES.items()}
_DIGITS = 6

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("reports", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class BaselineComparison:
    """A run compared with a baseline file: the differences (:func:`reports.baseline.compare`) and a note
    ("written", "does not exist"...). ``baseline`` is "" when the run was not compared."""

    baseline: str = ""
    tolerance: float | None = None
    differences: tuple[Difference, ...] = ()
    note: str = ""

    def to_json(self) -> str:
        """The comparison as a JSON document."""
        document = {
            "baseline": self.baseline,
            "tolerance": self.tolerance,
            "note": self.note,
            "differences": [{"kind": d.kind, "key": d.key, "baseline": d.baseline, "current": d.current,
                             "fails": d.fails} for d in self.differences],  # fmt: skip
        }
        return json.dumps(document, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> BaselineComparison:
        """Inverse of :meth:`to_json`."""
        document = json.loads(text)
        return cls(
            baseline=document.get("baseline", ""),
            tolerance=document.get("tolerance"),
            differences=tuple(Difference(**d) for d in document.get("differences", ())),
            note=document.get("note", ""),
        )

    def write(self, out_dir: str | Path) -> Path:
        """Write :data:`COMPARISON_FILE` into ``out_dir`` (atomically)."""
        return write_text(Path(out_dir) / COMPARISON_FILE, self.to_json())


def read_comparison(out_dir: str | Path) -> BaselineComparison:
    """The comparison the runner left in ``out_dir``; an empty one (not compared) when there is none."""
    path = Path(out_dir) / COMPARISON_FILE
    return BaselineComparison.from_json(path.read_text(encoding="utf-8")) if path.is_file() else BaselineComparison()


def _number(value):
    """A JSON-ready number: rounded to 6 significant digits, None for NaN / missing."""
    if value is None or isinstance(value, str):
        return value
    value = float(value)
    return float(f"{value:.{_DIGITS}g}") if math.isfinite(value) else None


def _plain(value):
    """Numpy and pandas scalars (and NaN) -> JSON-ready Python values."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _number(value)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value


def _cases(results: pd.DataFrame, sweeps: Mapping[str, str]) -> dict:
    """Per scenario: its family, cases (in the table's order), sweep values and mean references."""
    references = [c for c in REFERENCE_COLUMNS if c in results.columns]
    first = results.drop_duplicates(["scenario", "case"])
    means = results.groupby(["scenario", "case"], sort=False)[references].mean()
    scenarios = {}
    for scenario, rows in first.groupby("scenario", sort=True):
        cases = list(rows["case"])
        block = means.loc[scenario].reindex(cases)
        scenarios[scenario] = {
            "family": rows["family"].iloc[0],
            "cases": cases,
            "params": [_number(p) for p in pd.to_numeric(rows["param"], errors="coerce")],
            "sweep": sweeps.get(scenario, ""),
            "references": {c: [_number(v) for v in block[c]] for c in references if block[c].notna().any()},
        }
    return scenarios


def _values(results: pd.DataFrame, scenarios: Mapping[str, dict]) -> tuple[dict, dict]:
    """Per scenario and measure: [mean, min, max] over seeds per case (None where it failed in a seed),
    and the first error message of each failed case."""
    failures: dict = {}
    for (scenario, metric, case), message in (
        results[results["error"] != ""].groupby(["scenario", "metric", "case"])["error"].first().items()
    ):
        failures.setdefault(scenario, {}).setdefault(metric, {})[case] = message
    stats = results.groupby(["scenario", "metric", "case"], sort=False)["value"].agg(["mean", "min", "max"])
    position = {scenario: {case: i for i, case in enumerate(s["cases"])} for scenario, s in scenarios.items()}
    values: dict = {}
    for (scenario, metric, case), mean, low, high in stats.itertuples(name=None):
        cells = values.setdefault(scenario, {}).setdefault(metric, [None] * len(position[scenario]))
        if case not in failures.get(scenario, {}).get(metric, {}) and not math.isnan(mean):
            cells[position[scenario][case]] = [_number(mean), _number(low), _number(high)]
    return values, failures


def _overview_cell(cells: pd.DataFrame, metric: str, family: str) -> dict:
    """One overview cell: its text, the value it sorts by, and its verdict's CSS class."""
    if (metric, family) not in cells.index:
        return {"text": "", "sort": "", "verdict": ""}
    row = cells.loc[(metric, family)]
    text = f"{row['score']:.2f} {row['mark']}" if pd.notna(row["score"]) else row["mark"]
    return {"text": text, "sort": _plain(row["score"]), "verdict": _MARK_CLASSES.get(row["mark"], "")}


def _overview(scores: pd.DataFrame) -> tuple[list[str], list[dict]]:
    """The overview's families and rows (measures by summary score, as in scorecard.md)."""
    headers, rows = overview_rows(scores)
    families = headers[2 : headers.index("summary")]
    cells = scores.set_index(["metric", "family"])
    ranks = rank_table(scores)
    table = []
    for position, metric, *_ in rows:
        total = cells.loc[(metric, SUMMARY)]
        table.append({
            "position": position,
            "metric": metric,
            "families": [(family, _overview_cell(cells, metric, family)) for family in families],
            "summary": _overview_cell(cells, metric, SUMMARY),
            "counts": [(count, int(total[count])) for count in COUNTS],
            "median_rank": _plain(ranks.at[metric, MEDIAN_RANK]),
        })  # fmt: skip
    return families, table


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _figures(figure_dir: Path, ranking: Path | None) -> tuple[dict | None, list[dict], list[str]]:
    """The ranking figure, the other figures embedded within :data:`FIGURE_BUDGET`, and those left out."""
    ranking_figure = {"name": ranking.name, "src": _data_uri(ranking.read_bytes())} if ranking else None
    embedded, linked, used = [], [], 0
    for path in sorted(figure_dir.glob("*.png")) if figure_dir.is_dir() else []:
        if ranking is not None and path.name == ranking.name:
            continue
        size = path.stat().st_size
        if used + size > FIGURE_BUDGET:
            linked.append(f"figures/{path.name}")
            continue
        used += size
        embedded.append({"name": path.name, "src": _data_uri(path.read_bytes())})
    return ranking_figure, embedded, linked


def html_data(
    results: pd.DataFrame,
    verdicts: pd.DataFrame,
    header: Mapping[str, object],
    sweeps: Mapping[str, str],
    comparison: BaselineComparison,
) -> dict:
    """The JSON document the page's script reads: scenarios and their cases, per-case values, failures,
    every verdict (column-oriented), the measures' references and the baseline differences."""
    scenarios = _cases(results, sweeps)
    values, failures = _values(results, scenarios)
    references = header.get(HEADER_REFERENCES)
    references = references if isinstance(references, Mapping) else {}
    order = verdicts.sort_values(["family", "scenario"], kind="stable")
    return {
        "measures": sorted(results["metric"].unique()),
        "references": {m: measure_reference(references, m) for m in sorted(results["metric"].unique())}
        if references else {},
        "scenarios": scenarios,
        "values": values,
        "failures": failures,
        "verdicts": {
            "columns": list(order.columns),
            "rows": [[_plain(v) for v in row] for row in order.itertuples(index=False, name=None)],
        },
        "marks": {verdict: verdict_mark(verdict) for verdict in VERDICT_CLASSES},
        "classes": VERDICT_CLASSES,
        "differences": [{"kind": d.kind, "key": d.key, "baseline": _plain(d.baseline), "current": _plain(d.current),
                         "fails": d.fails} for d in comparison.differences],  # fmt: skip
    }


def render_html(
    results: pd.DataFrame,
    verdicts: pd.DataFrame,
    scores: pd.DataFrame,
    errors: pd.DataFrame,
    header: Mapping[str, object],
    sweeps: Mapping[str, str] | None = None,
    comparison: BaselineComparison | None = None,
    figure_dir: str | Path | None = None,
    ranking: Path | None = None,
) -> str:
    """scorecard.html as text (see the module docstring); figures come from ``figure_dir`` when given."""
    comparison = comparison or BaselineComparison()
    families, overview = _overview(scores)
    ranking_figure, figures, linked = _figures(Path(figure_dir), ranking) if figure_dir else (None, [], [])
    plugin_errors = header.get(HEADER_PLUGIN_ERRORS) or {}
    aside = set_aside_table(verdicts)
    template = _ENVIRONMENT.get_template("scorecard.html.j2")
    return template.render(
        header=header_items(header),
        families=families,
        overview=overview,
        counts=list(COUNT_MARKS.items()),
        median_rank=MEDIAN_RANK,
        set_aside=aside.to_dict("records"),
        set_aside_total=int((verdicts["verdict"] == SET_ASIDE).sum()),
        errors=errors.to_dict("records"),
        plugin_errors=sorted(plugin_errors.items()),
        comparison=comparison,
        difference_kinds=sorted(Counter(d.kind for d in comparison.differences).items()),
        failing=sum(d.fails for d in comparison.differences),
        ranking=ranking_figure,
        figures=figures,
        linked_figures=linked,
        data=html_data(results, verdicts, header, sweeps or {}, comparison),
    )


def write_html(
    results: pd.DataFrame,
    verdicts: pd.DataFrame,
    scores: pd.DataFrame,
    errors: pd.DataFrame,
    record,
    out_dir: str | Path,
    figures: bool = True,
    comparison: BaselineComparison | None = None,
) -> list[Path]:
    """Write scorecard.html into ``out_dir`` (and, with ``figures``, figures/ranking.png, embedded in it
    with the other figures already in figures/); ``comparison`` defaults to :func:`read_comparison`.

    ``record`` is the run's :class:`reports.run.RunRecord` (its header and sweeps are read).
    """
    out_dir = Path(out_dir)
    comparison = comparison if comparison is not None else read_comparison(out_dir)
    ranking = write_ranking(scores, out_dir / "figures") if figures else None
    text = render_html(results, verdicts, scores, errors, record.header, record.sweeps, comparison,
                       out_dir / "figures" if figures else None, ranking)  # fmt: skip
    return [*([ranking] if ranking else []), write_text(out_dir / "scorecard.html", text)]
