"""Networks-family figures and tables from the tidy results table with the cases' meta joined in.

- ``layer_heatmaps``: per layer-pairs scenario, a layer x layer heat map per measure (mean over seeds),
  each on its own colour scale, beside the trained stitch (``figures/networks_layers_<scenario>.png``);
  the pruning progressions are drawn with every other swept scenario (``reports.figures``: measure and
  stitching against the sparsity reached);
- ``layer_identification_table``: how often each measure (and stitching) picks a layer's counterpart in
  another seed as its most similar layer (Kornblith et al. 2019), measures x scenarios;
- ``models_table``: every model the run used, one row per recipe hash (``networks_models.csv``).

The results table (``reports.results``) holds each case's meta as a JSON column; :func:`with_meta`
spreads the fields the figures need into columns.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import math

import pandas as pd

from runner.atomic import write_text
from reports.figures import Figure, panel_range, save
from reports.multiples import Grid, scale_into, value_range
from reports.results import meta_table
from reports.scales import MeasureScale
from reports.analysis import layer_identification

__all__ = ["HEATMAP_COLUMNS", "MODEL_COLUMNS", "bank_summary", "with_meta", "layer_heatmaps", "layer_identification_table",
           "models_table", "write_models", "write_networks"]

KEYS = ["scenario", "case", "seed"]
META = ["layer_x", "layer_y", "index_x", "index_y", "arch", "pair", "method", "step", "sparsity", "student",
        "model_x", "model_y", "conv", "sender"]

#: panels per row of a layer heat-map figure: the trained stitch, then three measures
HEATMAP_COLUMNS = 4
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


def layer_heatmaps(table: pd.DataFrame, out_dir: str | Path,
                   scales: Mapping[str, MeasureScale] | None = None) -> list[Figure]:
    """One figure per layer-pairs scenario: a heat map per measure, each on its own colour scale (its range
    above it), in rows of panels that each begin with the trained stitch, so that every measure sits beside
    the function it is held against; direct matching is the first measure-like panel. Distances are drawn
    with the colours reversed, so that bright always reads "more similar"."""
    figures = []
    rows = _layer_pairs(table)
    scales = scales or {}
    for scenario, group in rows.groupby("scenario"):
        first = group.drop_duplicates(["case", "seed"])
        stitching = _matrix(first, "stitch")
        panels = [("stitching (direct)", _matrix(first, "stitch_direct").reindex_like(stitching), True)]
        panels += [(m, _matrix(g, "value").reindex(index=stitching.index, columns=stitching.columns),
                    scales[m].higher_is_more_similar if m in scales else True)
                   for m, g in group.groupby("metric")]  # fmt: skip
        per_row = HEATMAP_COLUMNS - 1
        grid = Grid(math.ceil(len(panels) / per_row), HEATMAP_COLUMNS, panel_width=1.5, panel_height=1.5,
                    gap=0.35, left=0.9)  # fmt: skip
        names_x = [name for _, name in stitching.index]
        names_y = [name for _, name in stitching.columns]
        stitch = stitching.to_numpy(dtype=float)
        low, high = value_range(stitch)
        for row in range(grid.rows):
            grid.image(row, 0, scale_into(stitch, low, high))
            grid.frame(row, 0)
            grid.title(row, 0, f"stitching (trained)\n{grid.range_label(low, high)}")
            grid.row_names(row, names_x)
        for i, (title, matrix, similarity) in enumerate(panels):
            row, column = divmod(i, per_row)
            values = matrix.to_numpy(dtype=float)
            low, high = panel_range(scales.get(title), values)
            scaled = scale_into(values, low, high)
            grid.image(row, column + 1, scaled if similarity else 1 - scaled)
            grid.frame(row, column + 1)
            grid.title(row, column + 1, f"{title}{'' if similarity else ' (distance)'}\n{grid.range_label(low, high)}")
        for column in range(HEATMAP_COLUMNS):
            grid.below(grid.rows - 1, column, names_y[0], names_y[-1])
        drawn = grid.finish(f"{scenario}: X layer (rows, top first) x Y layer (columns, left first); each panel on "
                            f"its own colour scale, bright = more similar")
        path = save(drawn, Path(out_dir) / f"networks_layers_{scenario}.png")
        figures.append(Figure(path, (
            f"{scenario}: every layer pair, the X layer in rows ({', '.join(names_x)}; top first) and the Y layer "
            f"in columns ({', '.join(names_y)}; left first), mean over seeds. Each row of panels begins with the "
            f"trained stitch, the function every measure is held against; each panel has its own colour scale "
            f"(its range above it; bright = its most similar value, distances reversed), so a measure agrees with "
            f"stitching where its pattern matches the stitch's, whatever its values.")))
    return figures


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
                   scales: Mapping[str, MeasureScale] | None = None) -> tuple[list[Figure], list[Path]]:
    """The networks figures under ``out_dir/figures`` and ``out_dir/networks_layer_identification.md``:
    (the figures, the tables' paths)."""
    table = with_meta(results)
    if table.empty:
        return [], []
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    figures = layer_heatmaps(table, out / "figures", scales)
    identification = layer_identification_table(table, scales)
    tables = []
    if not identification.empty:
        tables.append(write_text(out / "networks_layer_identification.md",
                                 "# Layer identification across seeds (Kornblith et al. 2019)\n\n"
                                 + identification.to_markdown(floatfmt=".3f") + "\n"))
    return figures, tables


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
