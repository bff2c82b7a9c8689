"""Networks-family figures and tables from the tidy results table with the cases' meta joined in.

- ``layer_heatmaps``: per layer-pairs scenario, a layer x layer heat map per measure (mean over seeds)
  beside the trained-stitching and direct-matching matrices (``figures/networks_layers_<scenario>.png``);
- ``sparsity_curves``: per pruning method, each measure and stitching against the sparsity reached
  (``figures/networks_sparsity.png``);
- ``layer_identification_table``: how often each measure (and stitching) picks a layer's counterpart in
  another seed as its most similar layer (Kornblith et al. 2019), measures x scenarios;
- ``models_table``: every model the run used, one row per recipe hash (``networks_models.csv``).

The results table (``reports.results``) holds each case's meta as a JSON column; :func:`with_meta`
spreads the fields the figures need into columns.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import matplotlib
import numpy as np
import pandas as pd

from runner.atomic import write_text
from reports.figures import grid, save
from reports.results import meta_table
from reports.scales import MeasureScale
from reports.analysis import layer_identification

__all__ = ["MODEL_COLUMNS", "bank_summary", "with_meta", "layer_heatmaps", "sparsity_curves", "layer_identification_table",
           "models_table", "write_models", "write_networks"]

KEYS = ["scenario", "case", "seed"]
META = ["layer_x", "layer_y", "index_x", "index_y", "arch", "pair", "method", "step", "sparsity", "student",
        "model_x", "model_y", "conv", "sender"]

#: The columns of ``networks_models.csv`` (``scenarios.networks.plan.model_fields`` per side of a case,
#: plus the data set and the scenarios that used the model).
MODEL_COLUMNS = ["recipe", "kind", "arch", "seed", "data", "variant", "epoch", "pruning", "sparsity", "accuracy",
                 "accuracy_before_retraining", "scenarios"]
_MODEL_FIELDS = [c for c in MODEL_COLUMNS if c not in ("data", "scenarios")]


def with_meta(results: pd.DataFrame) -> pd.DataFrame:
    """The networks rows of ``results`` with the meta fields of :data:`META` as columns."""
    rows = results[results["family"] == "networks"]
    return pd.concat([rows, meta_table(rows, META)], axis=1)


def bank_summary(results: pd.DataFrame) -> tuple[str | None, str]:
    """Which network bank the networks cases read (their meta ``bank``: the bank's version, "" where a
    recipe the case reads was built by the run): the one version every such case read (None when some
    were built, or none read a bank), and a line for the report header. Empty line without such cases."""
    rows = results[results["family"] == "networks"].drop_duplicates(["scenario", "case", "seed"])
    banks = pd.Series([meta.get("bank") for meta in rows["meta"]], dtype=object).dropna()
    if banks.empty:
        return None, ""
    counts = banks.value_counts()
    read = {version: int(count) for version, count in counts.items() if version}
    built = int(counts.get("", 0))
    parts = [f"{version} ({count} of {len(banks)} networks cases)" for version, count in sorted(read.items())]
    if built:
        parts.append(f"{built} of {len(banks)} networks cases built by this run (the bank lacks what they read)")
    return (next(iter(read)) if len(read) == 1 and not built else None), "; ".join(parts)


def _layer_pairs(table: pd.DataFrame) -> pd.DataFrame:
    usable = table[(table["family"] == "networks") & table.get("index_x", pd.Series(dtype=float)).notna()]
    return usable[usable["error"].fillna("") == ""] if "error" in usable else usable


def _matrix(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    grid = rows.groupby(["index_x", "index_y", "layer_x", "layer_y"])[column].mean().reset_index()
    return grid.pivot(index=["index_x", "layer_x"], columns=["index_y", "layer_y"], values=column)


def layer_heatmaps(table: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """One figure per layer-pairs scenario: a heat map per measure, then stitching (trained, direct).

    Every panel shares one color scale (at least [0, 1]) and one color bar, so that the panels compare;
    layer names label the first column and the bottom panel of each column.
    """
    paths = []
    rows = _layer_pairs(table)
    for scenario, group in rows.groupby("scenario"):
        first = group.drop_duplicates(["case", "seed"])
        stitching = _matrix(first, "stitch")
        panels = [(m, _matrix(g, "value").reindex(index=stitching.index, columns=stitching.columns))
                  for m, g in group.groupby("metric")]
        panels += [("stitching (trained)", stitching), ("stitching (direct)", _matrix(first, "stitch_direct"))]
        values = [matrix.to_numpy(dtype=float) for _, matrix in panels]
        low = min(0.0, *(np.nanmin(v) for v in values if np.isfinite(v).any()))
        high = max(1.0, *(np.nanmax(v) for v in values if np.isfinite(v).any()))
        columns = 4
        figure, axes = grid(len(panels), columns, size=4.0)
        names_x = [name for _, name in stitching.index]
        names_y = [name for _, name in stitching.columns]
        for i, (ax, (title, _), value) in enumerate(zip(axes, panels, values)):
            image = ax.imshow(value, cmap="viridis", origin="upper", vmin=low, vmax=high)
            bottom = i + columns >= len(panels)
            ax.set_xticks(range(len(names_y)), names_y if bottom else [], rotation=90, fontsize=7)
            ax.set_yticks(range(len(names_x)), names_x if i % columns == 0 else [], fontsize=7)
            ax.set_title(title, fontsize=9)
        figure.colorbar(image, ax=axes[: len(panels)], fraction=0.02)
        figure.suptitle(f"{scenario}: X layer (rows, seed s) x Y layer (columns, seed s + 1)")
        paths.append(save(figure, Path(out_dir) / f"networks_layers_{scenario}.png"))
    return paths


def sparsity_curves(table: pd.DataFrame, out_dir: str | Path) -> Path | None:
    """One panel per pruning method: each measure's mean (over seeds) against the sparsity reached,
    stitching (trained) dashed black, direct matching dotted black."""
    rows = table[(table["family"] == "networks") & table.get("method", pd.Series(dtype=object)).notna()]
    if rows.empty:
        return None
    methods = sorted(rows["method"].unique())
    figure, axes = grid(len(methods), 3, size=4.5)
    for ax, method in zip(axes, methods):
        group = rows[rows["method"] == method]
        ax.set_prop_cycle(color=matplotlib.colormaps["tab20"].colors)
        for metric, curve in group.groupby("metric"):
            mean = curve.groupby("step")[["param", "value"]].mean()
            ax.plot(mean["param"], mean["value"], marker="o", markersize=3, label=metric)
        reference = group.drop_duplicates(["case", "seed"]).groupby("step")[
            ["param", "stitch", "stitch_direct"]].mean()
        ax.plot(reference["param"], reference["stitch"], "k--", label="stitching (trained)")
        ax.plot(reference["param"], reference["stitch_direct"], "k:", label="stitching (direct)")
        ax.set_title(f"{method} ({group['arch'].iloc[0]}, {group['layer_x'].iloc[0]})", fontsize=9)
        ax.set_xlabel("sparsity")
    axes[0].legend(fontsize=6, loc="lower left")
    return save(figure, Path(out_dir) / "networks_sparsity.png")


def layer_identification_table(table: pd.DataFrame, scales: Mapping[str, MeasureScale] | None = None) -> pd.DataFrame:
    """Layer-identification accuracy, measures (rows, stitching included) x layer-pairs scenarios;
    ``scales`` tells which measures are distances (smaller is more similar)."""
    rows = _layer_pairs(table)
    rows = rows[rows["pair"] == "dense"] if "pair" in rows else rows
    if rows.empty:
        return pd.DataFrame()
    distances = frozenset(name for name, scale in (scales or {}).items() if not scale.higher_is_more_similar)
    summary = layer_identification(rows, lower_is_similar=distances)
    return summary.pivot(index="metric", columns="scenario", values="accuracy").sort_values(
        list(summary["scenario"].unique()), ascending=False)


def write_networks(results: pd.DataFrame, out_dir: str | Path,
                   scales: Mapping[str, MeasureScale] | None = None) -> list[Path]:
    """All networks figures under ``out_dir/figures`` and ``out_dir/networks_layer_identification.md``."""
    table = with_meta(results)
    if table.empty:
        return []
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    paths = layer_heatmaps(table, out / "figures")
    curve = sparsity_curves(table, out / "figures")
    identification = layer_identification_table(table, scales)
    if not identification.empty:
        paths.append(write_text(out / "networks_layer_identification.md",
                                "# Layer identification across seeds (Kornblith et al. 2019)\n\n"
                                + identification.to_markdown(floatfmt=".3f") + "\n"))
    return paths + ([curve] if curve else [])


def models_table(results: pd.DataFrame) -> pd.DataFrame:
    """Every model the networks cases of ``results`` used (either side), one row per recipe hash, sorted
    by architecture, data, variant, pruning and seed; ``accuracy`` is the test accuracy (after retraining
    for a pruned model). Senders that are no model (controls) have no recipe and are left out."""
    rows = results[results["family"] == "networks"].drop_duplicates(["scenario", "case", "seed"])
    records = []
    for scenario, meta in zip(rows["scenario"], rows["meta"]):
        for side in ("x", "y"):
            if meta.get(f"recipe_{side}"):
                records.append({**{k: meta.get(f"{k}_{side}") for k in _MODEL_FIELDS}, "data": meta.get("data"),
                                "scenarios": scenario})
    if not records:
        return pd.DataFrame(columns=MODEL_COLUMNS)
    table = pd.DataFrame(records)
    used = table.groupby("recipe")["scenarios"].agg(lambda names: " ".join(sorted(set(names))))
    table = table.drop_duplicates("recipe").drop(columns="scenarios").join(used, on="recipe")
    table = table.sort_values(["arch", "data", "variant", "pruning", "epoch", "seed"], na_position="first",
                              kind="stable")
    return table[MODEL_COLUMNS].reset_index(drop=True)


def write_models(results: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """``out_dir/networks_models.csv`` (:func:`models_table`) when the run used any model."""
    table = models_table(results)
    if table.empty:
        return []
    return [write_text(Path(out_dir) / "networks_models.csv", table.to_csv(index=False, float_format="%.6g"))]
