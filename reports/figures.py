"""Figures (matplotlib, Agg backend): measure vs sweep parameter per family, and measure vs stitching.

``figures/sweeps_<family>.png``: one panel per swept scenario, one line per measure (mean over seeds,
bars from min to max), the stitching score X -> Y as a dashed black line. ``figures/stitching_scatter.png``:
one panel per measure, every usable cell, value against stitching, colored by family.
``figures/references.png``: the functional references against each other over every network case
(trained vs direct stitching both ways, stitching vs prediction agreement, agreement vs accuracy
difference), colored by scenario.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import pandas as pd  # noqa: E402

from runner.atomic import atomic_path  # noqa: E402

__all__ = ["REFERENCE_PAIRS", "references_figure", "stitching_scatter", "sweep_figures", "write_figures"]

#: the (x, y) pairs of functional references that ``references_figure`` compares
REFERENCE_PAIRS = (
    ("stitch", "stitch_direct"), ("stitch_reverse", "stitch_direct_reverse"), ("stitch", "stitch_reverse"),
    ("stitch", "agreement"), ("stitch_direct", "agreement"), ("agreement", "accuracy_difference"),
)


def save(figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def grid(count: int, columns: int, size: float = 3.2):
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


def _styles(names) -> dict[str, dict]:
    """One color and marker per name, the same in every panel (tab20 colors, then markers, cycle)."""
    colors, markers = plt.get_cmap("tab20").colors, "os^Dv<>ph*"
    return {
        name: {"color": colors[i % len(colors)], "marker": markers[i % len(markers)]} for i, name in enumerate(names)
    }


def sweep_figures(
    results: pd.DataFrame, out_dir: str | Path, sweep_names: Mapping[str, str] | None = None
) -> list[Path]:
    """One figure per family: the measures' mean value against the sweep parameter, per scenario.

    ``sweep_names`` (scenario -> swept parameter's name) labels the x axes.
    """
    swept = _swept(results)
    paths = []
    for family, rows in swept.groupby("family", sort=True):
        scenarios = sorted(rows["scenario"].unique())
        styles = _styles(sorted(rows["metric"].unique()))
        figure, axes = grid(len(scenarios), columns=min(3, len(scenarios)))
        for ax, scenario in zip(axes, scenarios):
            data = rows[rows["scenario"] == scenario]
            for metric, curve in data.groupby("metric", sort=True):
                stats = curve.groupby("x")["value"].agg(["mean", "min", "max"])
                errors = [(stats["mean"] - stats["min"]).clip(lower=0), (stats["max"] - stats["mean"]).clip(lower=0)]
                ax.errorbar(
                    stats.index, stats["mean"], yerr=errors, markersize=3, capsize=2, label=metric, **styles[metric]
                )
            reference = data.groupby("x")["stitch"].mean()
            if reference.notna().any():
                ax.plot(reference.index, reference, "k--", linewidth=2, label="stitching X->Y")
            x = data["x"]
            if (x > 0).all() and x.max() / x.min() >= 100:
                ax.set_xscale("log")
            ax.set_title(scenario, fontsize=9)
            ax.set_xlabel((sweep_names or {}).get(scenario, "sweep parameter"), fontsize=8)
            ax.tick_params(labelsize=7)
        figure.suptitle(f"{family}: measure vs sweep (mean over seeds, bars min..max)", fontsize=10)
        figure.tight_layout()
        figure.legend(*axes[0].get_legend_handles_labels(), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
        paths.append(save(figure, Path(out_dir) / f"sweeps_{family}.png"))
    return paths


def stitching_scatter(results: pd.DataFrame, out_dir: str | Path) -> Path | None:
    """One panel per measure: value against the stitching score X -> Y, colored by family."""
    usable = results[(results["error"] == "") & results["stitch"].notna()]
    if usable.empty:
        return None
    metrics = sorted(usable["metric"].unique())
    families = sorted(usable["family"].unique())
    colors = dict(zip(families, plt.get_cmap("tab10").colors))
    figure, axes = grid(len(metrics), columns=min(4, len(metrics)))
    for ax, metric in zip(axes, metrics):
        for family, rows in usable[usable["metric"] == metric].groupby("family", sort=True):
            ax.scatter(rows["stitch"], rows["value"], s=8, alpha=0.6, color=colors[family], label=family)
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("stitching X->Y", fontsize=8)
        ax.tick_params(labelsize=7)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=colors[f], label=f) for f in families]
    figure.suptitle("measure vs stitching score, every case and seed", fontsize=10)
    figure.tight_layout()
    figure.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    return save(figure, Path(out_dir) / "stitching_scatter.png")


def references_figure(results: pd.DataFrame, out_dir: str | Path, family: str = "networks") -> Path | None:
    """One panel per pair of :data:`REFERENCE_PAIRS` recorded together on ``family``'s cases: every
    (case, seed) once, colored by scenario, with the diagonal where both are similarities."""
    cells = results[results["family"] == family].drop_duplicates(["scenario", "case", "seed"])
    pairs = [(x, y) for x, y in REFERENCE_PAIRS
             if x in cells and y in cells and (cells[x].notna() & cells[y].notna()).any()]
    if not pairs:
        return None
    scenarios = sorted(cells["scenario"].unique())
    colors = {s: plt.get_cmap("tab20").colors[i % 20] for i, s in enumerate(scenarios)}
    figure, axes = grid(len(pairs), columns=min(3, len(pairs)), size=4.0)
    for ax, (x, y) in zip(axes, pairs):
        both = cells[cells[x].notna() & cells[y].notna()]
        for scenario, rows in both.groupby("scenario", sort=True):
            ax.scatter(rows[x], rows[y], s=10, alpha=0.7, color=colors[scenario], label=scenario)
        if y != "accuracy_difference":
            low = min(both[x].min(), both[y].min(), 0.0)
            high = max(both[x].max(), both[y].max(), 1.0)
            ax.plot([low, high], [low, high], color="0.6", linewidth=1, linestyle="--")
        ax.set_xlabel(x, fontsize=8)
        ax.set_ylabel(y, fontsize=8)
        ax.tick_params(labelsize=7)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=colors[s], label=s) for s in scenarios]
    figure.suptitle(f"functional references against each other, every {family} case and seed", fontsize=10)
    figure.tight_layout()
    figure.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
    return save(figure, Path(out_dir) / "references.png")


def write_figures(
    results: pd.DataFrame, out_dir: str | Path, sweep_names: Mapping[str, str] | None = None
) -> list[Path]:
    """Write every figure into ``out_dir`` (created if needed); returns their paths."""
    extra = [stitching_scatter(results, out_dir), references_figure(results, out_dir)]
    return sweep_figures(results, out_dir, sweep_names) + [path for path in extra if path]
