"""The ranking figures: every measure's rank per scenario family and per test, with the median rank.

Like ReSi's ranking figure (Klabunde et al. 2025): one row per measure, best median rank at the top, one
column per family or test and a last column with the median; each cell holds the rank (1 = best; ties
share the mean rank) on a colour scale from dark (best) to light (worst).

- ``ranking.png``: ranks by score in each family (:func:`reports.scorecard.rank_table`).
- ``ranking_tests.png`` and ``ranking_tests.md``: ranks by each test's own statistic (:func:`ranks_per_test`),
  as ReSi ranks by its tests' numbers rather than by pass or fail. The tests are ReSi's and Ding's: the
  expectations judged by ``separates_groups`` (AUPRC, higher is better) and
  ``monotone_in_layer_distance`` (violation rate, lower is better), and those that track a functional
  difference of two whole models or probes, ``accuracy_difference`` or ``agreement`` (Spearman, higher
  is better); then the family ranks, and the median over the tests.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from runner.atomic import write_text
from reports.figures import plt, save
from reports.scorecard import MEDIAN_RANK, markdown_table, rank_table, verdict_mark
from scenarios.kinds import KINDS

__all__ = ["ranking_figure", "ranks_per_test", "table_per_test", "write_ranking", "write_ranking_per_test"]


def _figure(ranks: pd.DataFrame, title: str, blocks: int = 0):
    """Measures (rows) x columns of ranks as a heat map; white lines set apart the last column (the
    median) and, with ``blocks``, the ``blocks`` columns before it."""
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
    for position in {len(columns) - 1.5, len(columns) - 1.5 - blocks}:
        ax.axvline(position, color="white", linewidth=3)
    ax.set_title(title, fontsize=9)
    ax.tick_params(length=0)
    bar = figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("rank", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    figure.tight_layout()
    return figure


def ranking_figure(scores: pd.DataFrame):
    """The ranking figure of a score table (:func:`reports.scorecard.score_table`) as a matplotlib figure."""
    return _figure(rank_table(scores), "measures ranked by score per family (1 = best); last column: " + MEDIAN_RANK)


def write_ranking(scores: pd.DataFrame, out_dir: str | Path) -> Path:
    """Write ``ranking.png`` into ``out_dir`` and return its path."""
    return save(ranking_figure(scores), Path(out_dir) / "ranking.png")


def _tests(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The verdicts of the tests with an estimate: those judged by a kind whose statistic ranks measures
    (``scenarios.kinds.Kind.ranks_for`` their reference; ``direction`` +1 when higher is better), one name
    per (scenario, expectation): the scenario without its ``networks_`` prefix, with the reference in
    brackets when the scenario has several tests."""
    judged = verdicts["became"].where(verdicts["became"].isin(list(KINDS)), verdicts["kind"])
    direction = pd.Series([KINDS[kind].ranks_for(reference) if kind in KINDS else 0
                           for kind, reference in zip(judged, verdicts["reference"])], index=verdicts.index)
    chosen = direction.ne(0) & verdicts["estimate"].notna()
    rows = verdicts[chosen].assign(direction=direction[chosen])
    several = rows.groupby("scenario")["expectation"].transform("nunique") > 1
    name = rows["scenario"].str.removeprefix("networks_")
    return rows.assign(test=np.where(several, name + " [" + rows["reference"] + "]", name))


def ranks_per_test(verdicts: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Measures x (tests, families, :data:`MEDIAN_RANK`): the rank by each test's statistic (see the
    module docstring), the rank by score per family (:func:`rank_table`), and the median over the
    tests; rows sorted by that median, then name. Empty when no verdict is of a test kind."""
    rows = _tests(verdicts)
    if rows.empty:
        return pd.DataFrame()
    estimates = rows.pivot_table(index="metric", columns="test", values="estimate", sort=True)
    direction = rows.drop_duplicates("test").set_index("test")["direction"]
    ranks = pd.DataFrame({test: estimates[test].rank(ascending=direction[test] < 0, method="average")
                          for test in estimates.columns})
    median = ranks.median(axis=1)
    families = rank_table(scores).drop(columns=MEDIAN_RANK).reindex(ranks.index)
    table = pd.concat([ranks, families.add_prefix("family: "), median.rename(MEDIAN_RANK)], axis=1)
    order = pd.DataFrame({"median": median, "name": ranks.index}).sort_values(["median", "name"])
    return table.loc[order.index]


def table_per_test(verdicts: pd.DataFrame, scores: pd.DataFrame) -> str:
    """Markdown: per measure and test, the statistic with its verdict mark and rank, and the median rank."""
    rows = _tests(verdicts)
    ranks = ranks_per_test(verdicts, scores)
    if ranks.empty:
        return ""
    cells = rows.set_index(["metric", "test"])
    tests = sorted(rows["test"].unique())
    statistics = rows.drop_duplicates("test").set_index("test")["statistic"]
    body = []
    for metric in ranks.index:
        line = [metric]
        for test in tests:
            if (metric, test) in cells.index:
                cell = cells.loc[(metric, test)]
                line.append(f"{cell['estimate']:.3f} {verdict_mark(cell['verdict'])} ({ranks.at[metric, test]:g})")
            else:
                line.append("")
        body.append([*line, f"{ranks.at[metric, MEDIAN_RANK]:g}"])
    headers = ["measure", *(f"{test} ({statistics[test]})" for test in tests), MEDIAN_RANK]
    return markdown_table(headers, body)


def write_ranking_per_test(verdicts: pd.DataFrame, scores: pd.DataFrame, out_dir: str | Path,
                       figure: bool = True) -> list[Path]:
    """``ranking_tests.md`` into ``out_dir`` and (with ``figure``) ``figures/ranking_tests.png``."""
    ranks = ranks_per_test(verdicts, scores)
    if ranks.empty:
        return []
    out = Path(out_dir)
    text = ("# Measures ranked per test\n\nEach cell: the test's statistic (mean over seeds), the verdict mark and "
            "the rank among the measures (1 = best). Higher AUPRC and Spearman are better, a lower violation "
            "rate is better.\n\n" + table_per_test(verdicts, scores) + "\n")
    paths = [write_text(out / "ranking_tests.md", text)]
    if figure:
        families = sum(column.startswith("family: ") for column in ranks.columns)
        title = "measures ranked per test, then per family (1 = best); last column: " + MEDIAN_RANK + " over the tests"
        paths.append(save(_figure(ranks, title, blocks=families), out / "figures" / "ranking_tests.png"))
    return paths
