"""Figures (matplotlib, Agg backend), each saved as PNG with a PDF beside it and listed with its caption
in ``figures/index.json`` (the reports show the caption under the figure).

- ``sweeps_<family>.png`` (``_2``, ``_3``... when a family has more swept scenarios than fit one
  figure): small multiples, one row per measure and one column per swept scenario, each panel on the
  measure's own scale (its range printed in the panel): the mean over seeds against the swept
  parameter, a band from the minimum to the maximum over seeds; the first row draws the functional
  references on their 0..1 scale.
- ``stitching_scatter.png``: one panel per measure, its value (own scale) against the trained stitch
  X -> Y, every usable case and seed (at most :data:`SCATTER_POINTS` per panel), coloured by family.
- ``references.png``: the functional references against each other over every network case, coloured by
  the scenario's use case.

:func:`write_figures` draws them all; the networks figures are in ``reports.networks``, the ranking
figures in ``reports.ranking``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from reports.multiples import Grid, plt, scale_into, value_range, widened
from runner.atomic import atomic_path, write_text
from scenarios.use_cases import question

__all__ = ["INDEX", "MIN_SPAN", "REFERENCE_PAIRS", "REFERENCE_STYLES", "SCATTER_POINTS", "Figure", "panel_range",
           "read_index", "references_figure", "save", "stitching_scatter", "sweep_figures", "write_figures", "write_index"]

#: the figures' captions, by file name, in the figure folder
INDEX = "index.json"
#: the (x, y) pairs of functional references that ``references_figure`` compares
REFERENCE_PAIRS = (
    ("stitch", "stitch_direct"), ("stitch_reverse", "stitch_direct_reverse"), ("stitch", "stitch_reverse"),
    ("stitch", "agreement"), ("stitch_direct", "agreement"), ("agreement", "accuracy_difference"),
)
#: how each functional reference is drawn (colour, line style) wherever the figures show several
REFERENCE_STYLES = {
    "stitch": ("black", "-"), "stitch_reverse": ("black", ":"), "stitch_direct": ("tab:orange", "--"),
    "stitch_direct_reverse": ("tab:orange", ":"), "agreement": ("tab:green", "-"),
    "accuracy_difference": ("tab:purple", "--"),
}
#: at most this many (case, seed) points per panel of the scatter (a seeded sample beyond)
SCATTER_POINTS = 1500
#: at most this many swept scenarios per sweep figure
SWEEP_COLUMNS = 7


@dataclass(frozen=True)
class Figure:
    """A figure written to ``path`` (PNG; a PDF with the same stem beside it) and its caption."""

    path: Path
    caption: str


def save(figure, path: Path) -> Path:
    """Write ``figure`` as ``path`` (PNG) and as PDF beside it (atomically), close it; the PNG's path."""
    path = Path(path)
    for target, kind in ((path, "png"), (path.with_suffix(".pdf"), "pdf")):
        with atomic_path(target) as tmp:
            figure.savefig(tmp, format=kind, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def write_index(figures: Iterable[Figure], out_dir: str | Path) -> Path:
    """``figures/index.json``: file name -> caption, merged into what an earlier writer of the same run
    left there (the figures are drawn by several writers)."""
    path = Path(out_dir) / INDEX
    index = read_index(out_dir)
    index.update({figure.path.name: figure.caption for figure in figures})
    return write_text(path, json.dumps(dict(sorted(index.items())), indent=1, ensure_ascii=False) + "\n")


def read_index(out_dir: str | Path) -> dict[str, str]:
    """The captions of the figures in ``out_dir`` (empty when there are none)."""
    path = Path(out_dir) / INDEX
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def grid(count: int, columns: int, size: float = 3.2):
    """``count`` matplotlib axes in a grid of ``columns`` (the rest hidden): for a few panels."""
    rows = math.ceil(count / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * 0.8 * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return figure, list(axes.flat)


def _swept(results: pd.DataFrame) -> pd.DataFrame:
    usable = results[results["error"] == ""].assign(x=pd.to_numeric(results["param"], errors="coerce"))
    usable = usable[usable["x"].notna()]
    varying = usable.groupby("scenario")["x"].transform("nunique") > 1
    return usable[varying]


def _positions(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """Sweep values -> positions in [0.05, 0.95] of a panel (log scale when positive over two decades)."""
    logarithmic = bool((x > 0).all() and x.max() / x.min() >= 100)
    t = np.log10(x) if logarithmic else x
    span = t.max() - t.min()
    return (0.5 + 0 * t if span == 0 else 0.05 + 0.9 * (t - t.min()) / span), logarithmic


#: a bounded measure's panel spans at least this fraction of its bounds (moves below every tolerance the
#: specs state, 0.02 of the unit, are drawn flat); an unbounded one at least this fraction of its values
MIN_SPAN = 0.01


def panel_range(scale, *values) -> tuple[float, float]:
    """A measure's range over ``values`` for a panel, at least :data:`MIN_SPAN` of its bound width (of its
    largest magnitude when unbounded)."""
    low, high = value_range(*values)
    if scale is not None and scale.bounded:
        return widened(low, high, MIN_SPAN * (scale.high - scale.low))
    return widened(low, high, MIN_SPAN * max(abs(low), abs(high)))


def _label(scales: Mapping, metric: str) -> str:
    scale = scales.get(metric)
    return f"{metric} (distance)" if scale is not None and not scale.higher_is_more_similar else metric


def _sweep_figure(rows: pd.DataFrame, scenarios: list[str], title: str, sweep_names: Mapping[str, str],
                  scales: Mapping) -> object:  # fmt: skip
    metrics = sorted(rows["metric"].unique())
    figure = Grid(len(metrics) + 1, len(scenarios))
    figure.row_label(0, "references (0..1)", fontweight="bold")
    for column, scenario in enumerate(scenarios):
        data = rows[rows["scenario"] == scenario]
        xs = np.sort(data["x"].unique())
        at, logarithmic = _positions(xs)
        position = dict(zip(xs, at))
        figure.column_label(column, f"{scenario}\n({sweep_names.get(scenario, 'sweep')}"
                                    f"{', log' if logarithmic else ''})")  # fmt: skip
        cells = data.drop_duplicates(["case", "seed"])
        refs = {name: cells.groupby("x")[name].mean() for name in REFERENCE_STYLES
                if name in cells and cells[name].notna().any()}  # fmt: skip
        low, high = value_range(*refs.values(), floor=0.0, ceiling=1.0)
        figure.frame(0, column, figure.range_label(low, high))
        for name, mean in refs.items():
            color, dash = REFERENCE_STYLES[name]
            figure.line(0, column, [position[x] for x in mean.index], scale_into(mean.to_numpy(), low, high),
                        color=color, width=1.0, style=dash)  # fmt: skip
        for row, metric in enumerate(metrics, start=1):
            stats = data[data["metric"] == metric].groupby("x")["value"].agg(["mean", "min", "max"])
            low, high = panel_range(scales.get(metric), stats["min"], stats["max"])
            figure.frame(row, column, figure.range_label(low, high))
            x01 = [position[x] for x in stats.index]
            figure.band(row, column, x01, scale_into(stats["min"], low, high), scale_into(stats["max"], low, high))
            figure.line(row, column, x01, scale_into(stats["mean"], low, high), width=1.0)
        figure.below(len(metrics), column, f"{xs[0]:g}", f"{xs[-1]:g}")
    for row, metric in enumerate(metrics, start=1):
        figure.row_label(row, _label(scales, metric))
    return figure.finish(title)


def _references_legend(names: Iterable[str]) -> str:
    words = {"-": "solid", "--": "dashed", ":": "dotted"}
    return "; ".join(f"{name} {REFERENCE_STYLES[name][0].removeprefix('tab:')} {words[REFERENCE_STYLES[name][1]]}"
                     for name in names)


def sweep_figures(results: pd.DataFrame, out_dir: str | Path, sweep_names: Mapping[str, str] | None = None,
                  scales: Mapping | None = None) -> list[Figure]:  # fmt: skip
    """Per family, small multiples of every measure against the sweep of every swept scenario (module
    docstring); ``sweep_names`` (scenario -> swept parameter) labels the columns, ``scales`` (measure ->
    ``MeasureScale``) marks the distances."""
    swept = _swept(results)
    figures = []
    for family, rows in swept.groupby("family", sort=True):
        scenarios = sorted(rows["scenario"].unique())
        parts = [scenarios[i : i + SWEEP_COLUMNS] for i in range(0, len(scenarios), SWEEP_COLUMNS)]
        drawn = [name for name in REFERENCE_STYLES if name in rows and rows[name].notna().any()]
        for number, part in enumerate(parts, start=1):
            suffix = f"_{number}" if len(parts) > 1 else ""
            title = f"{family}: each measure against the swept parameter (panels on their own scale)"
            figure = _sweep_figure(rows[rows["scenario"].isin(part)], part, title, sweep_names or {}, scales or {})
            path = save(figure, Path(out_dir) / f"sweeps_{family}{suffix}.png")
            caption = (f"The {family} family's swept scenarios{f' (part {number} of {len(parts)})' if suffix else ''}: "
                       f"one row per measure, one column per scenario. Each panel is on its own scale (its range at "
                       f"its top left): the mean over seeds (line) and the minimum..maximum over seeds (band) against "
                       f"the swept parameter (first and last value under the bottom row). The first row draws the "
                       f"functional references on one 0..1 scale: {_references_legend(drawn)}. A measure follows "
                       f"function where its curve has the shape of the reference the scenario judges.")
            figures.append(Figure(path, caption))
    return figures


def stitching_scatter(results: pd.DataFrame, out_dir: str | Path, scales: Mapping | None = None,
                      seed: int = 0) -> Figure | None:  # fmt: skip
    """One panel per measure: value (own scale) against the trained stitch X -> Y, coloured by family."""
    usable = results[(results["error"] == "") & results["stitch"].notna()]
    if usable.empty:
        return None
    metrics = sorted(usable["metric"].unique())
    families = sorted(usable["family"].unique())
    colors = dict(zip(families, plt.get_cmap("tab10").colors))
    columns = min(6, len(metrics))
    figure = Grid(math.ceil(len(metrics) / columns), columns, panel_width=1.5, panel_height=1.3, left=0.5)
    stitch_low, stitch_high = value_range(usable["stitch"], floor=0.0, ceiling=1.0)
    rng = np.random.default_rng(seed)
    for i, metric in enumerate(metrics):
        row, column = divmod(i, columns)
        rows = usable[usable["metric"] == metric]
        if len(rows) > SCATTER_POINTS:
            rows = rows.iloc[np.sort(rng.choice(len(rows), SCATTER_POINTS, replace=False))]
        low, high = panel_range((scales or {}).get(metric), rows["value"])
        figure.frame(row, column, figure.range_label(low, high))
        figure.title(row, column, _label(scales or {}, metric))
        for family, group in rows.groupby("family", sort=True):
            figure.points(row, column, scale_into(group["stitch"], stitch_low, stitch_high),
                          scale_into(group["value"], low, high), color=colors[family], size=1.5, alpha=0.5)  # fmt: skip
    legend = [plt.Line2D([], [], marker="o", linestyle="", color=colors[f], label=f) for f in families]
    drawn = figure.finish("each measure (own scale, range at the top left) against the trained stitch X -> Y")
    drawn.legend(handles=legend, loc="upper right", ncol=len(families), fontsize=6, frameon=False)
    path = save(drawn, Path(out_dir) / "stitching_scatter.png")
    return Figure(path, f"Every measure against the trained stitch X -> Y over every case and seed that records it "
                        f"(at most {SCATTER_POINTS} points per panel, a seeded sample), coloured by family. The "
                        f"horizontal axis is the stitch on {stitch_low:.2g}..{stitch_high:.2g} in every panel; each "
                        f"panel's vertical axis is the measure's own range. A measure that tracks function rises "
                        f"from left to right (a distance falls).")


def references_figure(results: pd.DataFrame, out_dir: str | Path, use_cases: Mapping[str, str] | None = None,
                      family: str = "networks") -> Figure | None:  # fmt: skip
    """One panel per pair of :data:`REFERENCE_PAIRS` recorded together on ``family``'s cases: every
    (case, seed) once, coloured by its scenario's use case (``use_cases``: scenario -> use case name),
    with the diagonal where both are similarities."""
    cells = results[results["family"] == family].drop_duplicates(["scenario", "case", "seed"])
    pairs = [(x, y) for x, y in REFERENCE_PAIRS
             if x in cells and y in cells and (cells[x].notna() & cells[y].notna()).any()]
    if not pairs:
        return None
    groups = pd.Series([question((use_cases or {}).get(s, ""), family) for s in cells["scenario"]], index=cells.index)
    names = list(dict.fromkeys(sorted(groups)))
    colors = {name: plt.get_cmap("tab10").colors[i % 10] for i, name in enumerate(names)}
    figure, axes = grid(len(pairs), columns=min(3, len(pairs)), size=4.0)
    for ax, (x, y) in zip(axes, pairs):
        both = cells[cells[x].notna() & cells[y].notna()]
        for name, rows in both.groupby(groups[both.index], sort=True):
            ax.scatter(rows[x], rows[y], s=8, alpha=0.6, color=colors[name], linewidths=0, rasterized=True)
        if y != "accuracy_difference":
            low = min(both[x].min(), both[y].min(), 0.0)
            high = max(both[x].max(), both[y].max(), 1.0)
            ax.plot([low, high], [low, high], color="0.6", linewidth=1, linestyle="--")
        ax.set_xlabel(x, fontsize=8)
        ax.set_ylabel(y, fontsize=8)
        ax.tick_params(labelsize=7)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=colors[n], label=n) for n in names]
    figure.suptitle(f"functional references against each other, every {family} case and seed", fontsize=10)
    figure.tight_layout(rect=(0, 0.12 if len(names) > 3 else 0.07, 1, 1))
    figure.legend(handles=handles, loc="lower center", ncol=min(3, len(names)), fontsize=7, frameon=False)
    path = save(figure, Path(out_dir) / "references.png")
    return Figure(path, f"The functional references against each other over every {family} case and seed, "
                        f"coloured by the scenario's use case; the dashed line is the diagonal. Points below it "
                        f"in the first panel are pairs the trained stitch rates better than direct matching "
                        f"(a trained stitch can make incompatible layers work).")


def write_figures(results: pd.DataFrame, out_dir: str | Path, sweep_names: Mapping[str, str] | None = None,
                  scales: Mapping | None = None, use_cases: Mapping[str, str] | None = None) -> list[Figure]:  # fmt: skip
    """Every figure of this module into ``out_dir`` (created if needed)."""
    extra = [stitching_scatter(results, out_dir, scales), references_figure(results, out_dir, use_cases)]
    return sweep_figures(results, out_dir, sweep_names, scales) + [figure for figure in extra if figure]
