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
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import jinja2
import numpy as np
import pandas as pd

from runner.atomic import write_text
from reports.baseline import Difference
from reports.figures import read_index
from reports.scorecard import (
    COUNT_MARKS, COUNTS, DESIGN_MARK, HEADER_PLUGIN_ERRORS, HEADER_REFERENCES, LEGEND, SET_ASIDE, SUMMARY,
    edge_table, header_items, measure_reference, overview_rows, set_aside_table, verdict_mark,
)  # fmt: skip
from reports.resi_ranking import CAVEATS
from reports.trust import STATE_MARKS, difference_counts
from runner.schema import REFERENCE_COLUMNS

__all__ = ["COMPARISON_FILE", "BaselineComparison", "html_data", "read_comparison", "render_html", "write_html"]

COMPARISON_FILE = "baseline_comparison.json"
#: figures of the run embedded, at most this many bytes in all (the rest are linked)
FIGURE_BUDGET = 6_000_000
#: the CSS class of each verdict
VERDICT_CLASSES = {"fail": "fail", "error": "error", "undecided": "undecided", SET_ASIDE: "aside", "pass": "pass"}
#: the CSS class of a failure by design
DESIGN_CLASS = "design"
#: the figure the Figures section shows first
RANKING_FIGURE = "ranking.png"
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


def share_colour(share: float, low: float, high: float) -> str:
    """A cell's background: the share placed between the column's lowest and highest share (as
    pytest-benchmark colours each column from its best to its worst), red (worst) .. green (best); ""
    without a share.

    Example:
        >>> share_colour(1.0, 0.5, 1.0), share_colour(0.5, 0.5, 1.0)
        ('hsl(120 55% 85%)', 'hsl(0 55% 85%)')
    """
    if share is None or not math.isfinite(share):
        return ""
    position = 0.5 if not high > low else (share - low) / (high - low)
    return f"hsl({round(120 * position)} 55% 85%)"


def _overview_cell(cells: pd.DataFrame, metric: str, family: str, bounds: tuple[float, float]) -> dict:
    """One overview cell: its text (share and k/n), the value it sorts by, its colour and its counts."""
    if (metric, family) not in cells.index:
        return {"text": "", "sort": "", "colour": "", "counts": []}
    row = cells.loc[(metric, family)]
    text = f"{row['score']:.2f} ({row['passed']}/{row['expectations']})" if pd.notna(row["score"]) else row["mark"]
    return {"text": text, "sort": _plain(row["score"]), "colour": share_colour(_plain(row["score"]), *bounds),
            "counts": [int(row[count]) for count in COUNTS]}  # fmt: skip


def _overview(scores: pd.DataFrame) -> tuple[list[str], list[dict]]:
    """The overview's families and rows (measures in the order of the one ranking, as in scorecard.md)."""
    headers, rows = overview_rows(scores)
    families = headers[2 : headers.index("summary")]
    cells = scores.set_index(["metric", "family"])
    bounds = {family: (float(group["score"].min()), float(group["score"].max()))
              for family, group in scores.groupby("family")}  # fmt: skip
    table = []
    for position, metric, *_ in rows:
        table.append({
            "position": position,
            "metric": metric,
            "families": [(family, _overview_cell(cells, metric, family, bounds[family])) for family in families],
            "summary": _overview_cell(cells, metric, SUMMARY, bounds[SUMMARY]),
        })  # fmt: skip
        table[-1]["counts"] = {"": table[-1]["summary"]["counts"],
                               **{family: cell["counts"] for family, cell in table[-1]["families"]}}  # fmt: skip
    return families, table


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _figures(figure_dir: Path) -> tuple[list[dict], list[str]]:
    """The figures embedded within :data:`FIGURE_BUDGET` (the ranking first), each with its caption
    (``figures/index.json``), and those left out."""
    captions = read_index(figure_dir)
    paths = sorted(figure_dir.glob("*.png"), key=lambda p: (p.name != RANKING_FIGURE, p.name))
    embedded, linked, used = [], [], 0
    for path in paths:
        size = path.stat().st_size
        if used + size > FIGURE_BUDGET:
            linked.append(f"figures/{path.name}")
            continue
        used += size
        pdf = path.with_suffix(".pdf")
        embedded.append({"name": path.name, "src": _data_uri(path.read_bytes()), "caption": captions.get(path.name, ""),
                         "pdf": f"figures/{pdf.name}" if pdf.is_file() else ""})  # fmt: skip
    return embedded, linked


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
        "marks": {**{verdict: verdict_mark(verdict) for verdict in VERDICT_CLASSES}, DESIGN_CLASS: DESIGN_MARK},
        "classes": {**VERDICT_CLASSES, DESIGN_CLASS: DESIGN_CLASS},
        "counts": list(COUNTS),
        "differences": [{"kind": d.kind, "key": d.key, "baseline": _plain(d.baseline), "current": _plain(d.current),
                         "fails": d.fails} for d in comparison.differences],  # fmt: skip
    }


def _resi(resi) -> dict:
    """The comparison with ReSi's ranking, ready for the template (empty without one or without cells)."""
    if resi is None or not len(resi.cells):
        return {}
    shared = resi.table[resi.table["resi_position"].notna()].sort_values(["shared_median", "resi_position"],
                                                                          kind="stable")  # fmt: skip
    return {**resi.to_dict(), "rows": json.loads(shared.to_json(orient="records")), "caveats": list(CAVEATS),
            "aside": [f"{r.test} on {r.arch}" for r in resi.cells.itertuples() if not r.premise_held],
            "held": int(resi.cells["premise_held"].sum())}


def _answers(summary) -> dict:
    """The answers and the ranking's first rows, ready for the template (empty without a summary)."""
    if summary is None:
        return {"rows": [], "ranking": [], "measures": 0}
    # a measure with no counted verdict (every premise failed) has no rank: None, shown as a dash
    ranking = [{"rank": _plain(r.rank), "metric": r.metric, "passed": int(r.passed), "counted": int(r.counted),
                "share": _plain(r.share), "share_low": _plain(r.share_low), "share_high": _plain(r.share_high),
                "rank_median": _plain(r.rank_median), "rank_low": _plain(r.rank_low), "rank_high": _plain(r.rank_high)}
               for r in summary.ranked.head(10).itertuples()]  # fmt: skip
    return {"rows": summary.table.to_dict("records"), "ranking": ranking, "measures": len(summary.ranked)}


def render_html(
    results: pd.DataFrame,
    verdicts: pd.DataFrame,
    scores: pd.DataFrame,
    errors: pd.DataFrame,
    header: Mapping[str, object],
    sweeps: Mapping[str, str] | None = None,
    comparison: BaselineComparison | None = None,
    figure_dir: str | Path | None = None,
    summary=None,
    trust=(),
    resi=None,
) -> str:
    """scorecard.html as text (see the module docstring); figures come from ``figure_dir`` when given,
    the answers and the ranking from ``summary`` (``reports.answers.Answers``), the trust line from
    ``trust`` (``reports.trust.trust_items``), the comparison with ReSi's published ranking from ``resi``
    (``reports.resi_ranking.Comparison``, None: no section)."""
    comparison = comparison or BaselineComparison()
    families, overview = _overview(scores)
    figures, linked = _figures(Path(figure_dir)) if figure_dir else ([], [])
    plugin_errors = header.get(HEADER_PLUGIN_ERRORS) or {}
    aside = set_aside_table(verdicts)
    template = _ENVIRONMENT.get_template("scorecard.html.j2")
    return template.render(
        header=header_items(header),
        families=families,
        overview=overview,
        counts=list(COUNT_MARKS.items()),
        legend=LEGEND,
        trust=[{"label": t.label, "text": t.text, "state": t.state, "mark": STATE_MARKS[t.state], "anchor": t.anchor}
               for t in trust],  # fmt: skip
        answers=_answers(summary),
        resi=_resi(resi),
        set_aside=aside.to_dict("records"),
        set_aside_total=int((verdicts["verdict"] == SET_ASIDE).sum()),
        edge=edge_table(verdicts).to_dict("records"),
        errors=errors.to_dict("records"),
        plugin_errors=sorted(plugin_errors.items()),
        comparison=comparison,
        difference_kinds=difference_counts(comparison.differences),
        failing=sum(d.fails for d in comparison.differences),
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
    summary=None,
    trust=(),
    resi=None,
) -> list[Path]:
    """Write scorecard.html into ``out_dir``, with (``figures``) the figures already in figures/ embedded;
    ``comparison`` defaults to :func:`read_comparison`; ``summary``, ``trust`` and ``resi`` as
    :func:`render_html` takes them.

    ``record`` is the run's :class:`reports.run.RunRecord` (its header and sweeps are read).
    """
    out_dir = Path(out_dir)
    comparison = comparison if comparison is not None else read_comparison(out_dir)
    text = render_html(results, verdicts, scores, errors, record.header, record.sweeps, comparison,
                       out_dir / "figures" if figures else None, summary, trust, resi)  # fmt: skip
    return [write_text(out_dir / "scorecard.html", text)]
