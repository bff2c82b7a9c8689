"""Figures (matplotlib, Agg backend): measure vs sweep parameter per family, and measure vs stitching.

``figures/sweeps_<family>.png``: one panel per swept scenario, one line per measure (mean over seeds,
bars from min to max), the stitching score X -> Y as a dashed black line. ``figures/stitching_scatter.png``:
one panel per measure, every usable cell, value against stitching, colored by family.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import pandas as pd  # noqa: E402

from reports.atomic import atomic_path  # noqa: E402

__all__ = ["stitching_scatter", "sweep_figures", "write_figures"]


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


def write_figures(
    results: pd.DataFrame, out_dir: str | Path, sweep_names: Mapping[str, str] | None = None
) -> list[Path]:
    """Write every figure into ``out_dir`` (created if needed); returns their paths."""
    scatter = stitching_scatter(results, out_dir)
    return sweep_figures(results, out_dir, sweep_names) + ([scatter] if scatter else [])
