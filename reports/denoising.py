"""Does pruning denoise? How much of a layer's relevant and irrelevant variance pruning keeps, along each
pruning progression (the scenarios of generator ``networks.pruning_progression``).

Each progression case compares a dense model's layer (X) with the same layer after pruning (Y); its meta
carries ``relevant_variance_x`` / ``irrelevant_variance_x`` and ``relevant_variance_y`` /
``irrelevant_variance_y``: tr(cov(Z P)) and tr(cov(Z (I - P))) on the probe set, P the projector onto the
class-discriminant subspace of that model's own training activations
(``scenarios.networks.recipes.relevance_fields``). :func:`denoising_table` gives per (architecture, method,
step) the mean over seeds of each part's variance relative to the dense model's: pruning that removes
irrelevant variance faster than relevant variance (irrelevant kept < relevant kept) denoises the layer.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from runner.atomic import write_text

__all__ = ["DENOISING_COLUMNS", "PROGRESSION", "denoising_table", "write_denoising"]

#: The scenarios read: the pruning progressions.
#: The generator of the pruning progressions (results rows carry their generator).
PROGRESSION = "networks.pruning_progression"
_FIELDS = ("relevant_variance_x", "irrelevant_variance_x", "relevant_variance_y", "irrelevant_variance_y")
#: The columns of :func:`denoising_table`.
DENOISING_COLUMNS = ["arch", "method", "step", "sparsity", "relevant_kept", "irrelevant_kept", "n_seeds"]


def denoising_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per (arch, method, step) of the pruning progressions' cases whose meta records the four variances:
    the mean sparsity, the mean over seeds of relevant_variance_y / relevant_variance_x (``relevant_kept``)
    and of irrelevant_variance_y / irrelevant_variance_x (``irrelevant_kept``), and the number of seeds.
    Sorted by arch, method and step; empty (with :data:`DENOISING_COLUMNS`) when no case records them."""
    rows = results[results["generator"] == PROGRESSION]
    rows = rows.drop_duplicates(["scenario", "case", "seed"])  # one row per measure: the meta is the case's
    records = []
    for seed, meta in zip(rows["seed"], rows["meta"]):
        if all(isinstance(meta.get(name), (int, float)) for name in _FIELDS):
            records.append({"arch": meta.get("arch", ""), "method": meta.get("method", ""), "step": meta.get("step"),
                            "seed": seed, "sparsity": meta.get("sparsity"),
                            "relevant_kept": meta["relevant_variance_y"] / meta["relevant_variance_x"],
                            "irrelevant_kept": meta["irrelevant_variance_y"] / meta["irrelevant_variance_x"]})
    if not records:
        return pd.DataFrame(columns=DENOISING_COLUMNS)
    table = pd.DataFrame(records).groupby(["arch", "method", "step"], sort=True).agg(
        sparsity=("sparsity", "mean"), relevant_kept=("relevant_kept", "mean"),
        irrelevant_kept=("irrelevant_kept", "mean"), n_seeds=("seed", "nunique"))
    return table.reset_index()[DENOISING_COLUMNS]


def write_denoising(results: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """``out_dir/networks_denoising.md`` (:func:`denoising_table`) when any progression case records the
    variances; the written paths."""
    table = denoising_table(results)
    if table.empty:
        return []
    text = ("# Does pruning denoise? Variance kept along the pruning progressions\n\n"
            "Per pruning method and step: the mean over seeds of the pruned layer's relevant variance "
            "tr(cov(Y P)) and irrelevant variance tr(cov(Y (I - P))) relative to the dense layer's (P: the "
            "class-discriminant subspace of each model's own training activations). Irrelevant variance "
            "kept below relevant variance kept means pruning removed more of what the readout ignores.\n\n"
            + table.to_markdown(index=False, floatfmt=".3f") + "\n")
    return [write_text(Path(out_dir) / "networks_denoising.md", text)]
