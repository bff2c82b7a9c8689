"""Where measures and stitching disagree: rank correlation with stitching per family, and the most
discordant cases.

The functional reference is the stitching score X -> Y (1: the stitched model loses nothing). A
measure's values are put on a 0 (dissimilar) .. 1 (identical) scale by its declared bounds
(:meth:`MeasureScale.similarity`); a case is discordant when that similarity and the stitching score
are far apart: the measure says dissimilar while stitching loses nothing, or the measure says similar
while stitching fails.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from tabulate import tabulate

from reports.atomic import write_text
from reports.scales import MeasureScale
from reports.stats import rank_correlation_test

__all__ = ["case_means", "discordant_cases", "disagreements_markdown", "stitching_correlations", "write_disagreements"]

UNDERRATES = "measure says dissimilar, stitching works"
OVERRATES = "measure says similar, stitching fails"


def _usable(results: pd.DataFrame) -> pd.DataFrame:
    return results[(results["error"] == "") & results["stitch"].notna()]


def stitching_correlations(
    results: pd.DataFrame, scales: Mapping[str, MeasureScale], n_permutations: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Spearman correlation of (similarity-oriented) value with the stitching score, per measure and family.

    All usable cells of the family are pooled (every scenario, case and seed); the p-value is a
    two-sided permutation test. ``rho`` is NaN where stitching does not vary within the family.
    """
    records = []
    for (metric, family), rows in _usable(results).groupby(["metric", "family"], sort=True):
        stitch = rows["stitch"].to_numpy(float)
        record = {"metric": metric, "family": family, "rho": np.nan, "p_value": np.nan, "n": len(rows)}
        if len(rows) >= 3 and np.ptp(stitch) > 0:
            oriented = scales[metric].orientation * rows["value"].to_numpy(float)
            test = rank_correlation_test([stitch], [oriented], n_permutations=n_permutations, seed=seed)
            record.update(rho=test.rho.estimate, p_value=test.p_two_sided)
        records.append(record)
    return pd.DataFrame(records, columns=["metric", "family", "rho", "p_value", "n"])


def case_means(results: pd.DataFrame, scales: Mapping[str, MeasureScale]) -> pd.DataFrame:
    """Per (metric, family, scenario, case): means over seeds of value, similarity and stitching scores."""
    rows = _usable(results)
    similarity = pd.Series(np.nan, index=rows.index)
    for metric, group in rows.groupby("metric"):
        similarity[group.index] = scales[metric].similarity(group["value"].to_numpy(float))
    rows = rows.assign(similarity=similarity)
    return (
        rows.groupby(["metric", "family", "scenario", "case"], sort=True, dropna=False)
        .agg(
            param=("param", "first"),
            seeds=("seed", "nunique"),
            value=("value", "mean"),
            similarity=("similarity", "mean"),
            stitch=("stitch", "mean"),
            stitch_reverse=("stitch_reverse", "mean"),
        )
        .reset_index()
        .assign(gap=lambda t: t["stitch"] - t["similarity"])
    )


def discordant_cases(means: pd.DataFrame, top: int = 3, min_gap: float = 0.2) -> pd.DataFrame:
    """The ``top`` cases per measure and direction where similarity and stitching differ by > ``min_gap``.

    ``gap`` = stitching - similarity: positive when the measure underrates a pair that stitches well.
    """
    picks = []
    for _, group in means.groupby("metric", sort=True):
        under = group[group["gap"] > min_gap].nlargest(top, "gap").assign(direction=UNDERRATES)
        over = group[group["gap"] < -min_gap].nsmallest(top, "gap").assign(direction=OVERRATES)
        picks += [under, over]
    columns = [*means.columns, "direction"]
    return pd.concat(picks, ignore_index=True)[columns] if picks else pd.DataFrame(columns=columns)


def _correlation_cell(rho: float, p_value: float) -> str:
    return "n/a" if np.isnan(rho) else f"{rho:+.2f} (p={p_value:.3g})"


def disagreements_markdown(
    correlations: pd.DataFrame, discordant: pd.DataFrame, header: Mapping[str, str], min_gap: float
) -> str:
    """Render disagreements.md."""
    families = sorted(correlations["family"].unique())
    cells = [_correlation_cell(rho, p) for rho, p in zip(correlations["rho"], correlations["p_value"])]
    table = correlations.assign(cell=cells)
    wide = table.pivot(index="metric", columns="family", values="cell").reindex(columns=families).fillna("")
    lines = ["# Where measures disagree with stitching", ""]
    lines += [f"- **{key}**: {value}" for key, value in header.items()]
    lines += [
        "",
        "## Rank correlation with stitching, per family",
        "",
        "Spearman correlation of the measure (similarity-oriented) with the stitching score X -> Y over "
        "every case and seed of the family, with a two-sided permutation p-value; n/a where stitching "
        "does not vary in the family (there, the verdicts' invariance checks say whether the measure "
        "moves while function does not).",
        "",
        tabulate(wide.reset_index(), headers=["measure", *families], tablefmt="github", showindex=False),
        "",
        "## Most discordant cases",
        "",
        f"Means over seeds; similarity is the value on a 0..1 scale from the measure's bounds; gap = "
        f"stitch - similarity (shown when |gap| > {min_gap}).",
        "",
    ]
    columns = ["scenario", "case", "value", "similarity", "stitch", "stitch_reverse", "gap", "seeds"]
    for metric in sorted(correlations["metric"].unique()):
        lines += [f"### {metric}", ""]
        mine = discordant[discordant["metric"] == metric]
        if mine.empty:
            lines += ["No case beyond the gap threshold.", ""]
        for direction, group in mine.groupby("direction", sort=False):
            rendered = tabulate(group[columns], headers="keys", tablefmt="github", showindex=False, floatfmt=".3f")
            lines += [f"*{direction}*", "", rendered, ""]
    return "\n".join(lines)


def write_disagreements(
    results: pd.DataFrame,
    scales: Mapping[str, MeasureScale],
    header: Mapping[str, str],
    out_dir: str | Path,
    top: int = 3,
    min_gap: float = 0.2,
    seed: int = 0,
) -> Path:
    """Compute the correlations and discordant cases and write ``out_dir/disagreements.md`` atomically."""
    correlations = stitching_correlations(results, scales, seed=seed)
    discordant = discordant_cases(case_means(results, scales), top=top, min_gap=min_gap)
    text = disagreements_markdown(correlations, discordant, header, min_gap)
    return write_text(Path(out_dir) / "disagreements.md", text)
