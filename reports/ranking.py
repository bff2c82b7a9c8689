"""The ranking figure: every measure's rank by score in each family and the median rank over families.

Like ReSi's ranking figure (Klabunde et al. 2025): one row per measure, best median rank at the top, one
column per scenario family and a last column with the median; each cell holds the rank (1 = best score
in the family; ties share the mean rank) on a colour scale from dark (best) to light (worst). The ranks
are :func:`reports.scorecard.rank_table`'s.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reports.figures import plt, save
from reports.scorecard import MEDIAN_RANK, rank_table

__all__ = ["ranking_figure", "write_ranking"]


def ranking_figure(scores: pd.DataFrame):
    """The ranking figure of a score table (:func:`reports.scorecard.score_table`) as a matplotlib figure."""
    ranks = rank_table(scores)
    columns = list(ranks.columns)
    values = ranks.to_numpy(float)
    count = len(ranks)
    figure, ax = plt.subplots(figsize=(1.1 * len(columns) + 2.6, 0.28 * count + 1.2))
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=1, vmax=max(count, 2), aspect="auto")
    for (row, column), rank in np.ndenumerate(values):
        if np.isfinite(rank):
            light = image.norm(rank) > 0.6
            ax.text(column, row, f"{rank:g}", ha="center", va="center", fontsize=7,
                    color="black" if light else "white")  # fmt: skip
    ax.set_xticks(range(len(columns)), columns, fontsize=8, rotation=30, ha="right")
    ax.set_yticks(range(count), ranks.index, fontsize=8)
    ax.axvline(len(columns) - 1.5, color="white", linewidth=3)  # the median column stands apart
    ax.set_title("measures ranked by score per family (1 = best); last column: " + MEDIAN_RANK, fontsize=9)
    ax.tick_params(length=0)
    bar = figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("rank", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    figure.tight_layout()
    return figure


def write_ranking(scores: pd.DataFrame, out_dir: str | Path) -> Path:
    """Write ``ranking.png`` into ``out_dir`` and return its path."""
    return save(ranking_figure(scores), Path(out_dir) / "ranking.png")
