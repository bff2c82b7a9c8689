"""The ranking figures: the one ranking with its spread, and the measures on ReSi's and Ding's tests.

- ``ranking.png``: the one ranking of the run (``reports.answers.ranking``): per measure, best at the
  top, the distribution of its rank over the bootstrap resamples of the scenarios (box: the middle half,
  whiskers: the 95 % interval, dot: the median) beside the share of counted verdicts it passed with its
  95 % interval, as ReSi shows each measure's rank distribution rather than one number.
- ``ranking_tests.png`` and ``ranking_tests.md``: each measure's statistic and rank on each of ReSi's and
  Ding's tests (:func:`ranks_per_test`): the expectations judged by ``separates_groups`` (AUPRC, higher
  is better), ``monotone_in_layer_distance`` (violation rate, lower is better) and those that track a
  functional difference of two whole models or probes, ``accuracy_difference`` or ``agreement``
  (Spearman, higher is better). Rows follow the one ranking; these are the tests' own numbers, not a
  second ranking.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from runner.atomic import write_text
from reports.answers import rank_draws
from reports.figures import Figure, plt, save
from reports.scorecard import markdown_table, verdict_mark
from scenarios.kinds import KINDS

__all__ = ["ranked_verdicts", "ranking_figure", "ranks_per_test", "table_per_test", "write_ranking",
           "write_ranking_per_test"]


def ranking_figure(ranked: pd.DataFrame, draws: np.ndarray):
    """The one ranking (:func:`reports.answers.ranking`, best first) with the bootstrap ranks ``draws``
    [resamples, measures] (:func:`reports.answers.rank_draws`, the same order) as a matplotlib figure."""
    count = len(ranked)
    figure, (left, right) = plt.subplots(1, 2, figsize=(9.5, 0.24 * count + 1.4), sharey=True,
                                         gridspec_kw={"width_ratios": [3, 2]})  # fmt: skip
    columns = [column[np.isfinite(column)] for column in draws.T] if draws.size else [[] for _ in range(count)]
    positions = np.arange(count)
    kept = [i for i, column in enumerate(columns) if len(column)]
    if kept:
        left.boxplot([columns[i] for i in kept], positions=positions[kept], orientation="horizontal", whis=(2.5, 97.5),
                     showfliers=False, widths=0.6, patch_artist=True, medianprops={"color": "black"},
                     boxprops={"facecolor": "#cfe2f3", "edgecolor": "#3d6b99"})  # fmt: skip
    left.scatter(ranked["rank"].astype(float), positions, marker="D", s=12, color="#cf222e", zorder=3)
    left.set_xlim(0.5, count + 0.5)
    left.set_xlabel("rank (1 = best; red diamond: this run): box the middle half, whiskers 95 % of the bootstrap "
                    "over scenarios", fontsize=7)  # no legend: nothing is drawn over the data
    share = ranked["share"].to_numpy(float)
    errors = np.vstack([share - ranked["share_low"].to_numpy(float), ranked["share_high"].to_numpy(float) - share])
    right.errorbar(share, positions, xerr=np.nan_to_num(errors), fmt="o", markersize=3, color="#1a7f37",
                   ecolor="#8fd1a0", capsize=0)  # fmt: skip
    right.set_xlim(0, 1)
    right.set_xlabel("share of counted verdicts passed (95 % interval)", fontsize=7)
    left.set_yticks(positions, ranked["metric"], fontsize=7)
    left.invert_yaxis()
    for ax in (left, right):
        ax.tick_params(labelsize=7)
        ax.grid(axis="x", color="0.9")
    figure.suptitle("the one ranking: every counted verdict of the run, with its spread", fontsize=9)
    figure.tight_layout()
    return figure


def write_ranking(ranked: pd.DataFrame, verdicts: pd.DataFrame, out_dir: str | Path) -> Figure:
    """Write ``ranking.png`` (and its PDF) into ``out_dir``."""
    draws = rank_draws(verdicts, list(ranked["metric"]))
    path = save(ranking_figure(ranked, draws), Path(out_dir) / "ranking.png")
    return Figure(path, "The one ranking of the run, best at the top: each measure's share of the counted verdicts "
                        "it passed (right, with its 95 % Wilson interval; set-aside verdicts never count) and the "
                        "spread of its rank when the scenarios are drawn again with replacement (left: box the "
                        "middle half, whiskers 95 %, line the median; diamond the rank in this run). Measures whose "
                        "boxes overlap are not told apart by this run.")


def ranked_verdicts(verdicts: pd.DataFrame) -> pd.DataFrame:
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


def ranks_per_test(verdicts: pd.DataFrame, order: Sequence[str] = ()) -> pd.DataFrame:
    """Measures x tests: the rank by each test's statistic (see the module docstring; 1 = best, ties
    share the mean rank); rows in ``order`` (the one ranking), measures it lacks after them by name.
    Empty when no verdict is of a test kind."""
    rows = ranked_verdicts(verdicts)
    if rows.empty:
        return pd.DataFrame()
    estimates = rows.pivot_table(index="metric", columns="test", values="estimate", sort=True)
    direction = rows.drop_duplicates("test").set_index("test")["direction"]
    ranks = pd.DataFrame({test: estimates[test].rank(ascending=direction[test] < 0, method="average")
                          for test in estimates.columns})  # fmt: skip
    index = [m for m in order if m in ranks.index] + sorted(set(ranks.index) - set(order))
    return ranks.loc[index]


def table_per_test(verdicts: pd.DataFrame, order: Sequence[str] = ()) -> str:
    """Markdown: per measure (in ``order``) and test, the statistic with its verdict mark and rank."""
    rows = ranked_verdicts(verdicts)
    ranks = ranks_per_test(verdicts, order)
    if ranks.empty:
        return ""
    cells = rows.set_index(["metric", "test"])
    tests = list(ranks.columns)
    statistics = rows.drop_duplicates("test").set_index("test")["statistic"]
    body = []
    for metric in ranks.index:
        line = [metric]
        for test in tests:
            if (metric, test) in cells.index:
                cell = cells.loc[(metric, test)]
                design = cell.get("design", "") if isinstance(cell.get("design", ""), str) else ""
                mark = verdict_mark(cell["verdict"], design)
                line.append(f"{cell['estimate']:.3f} {mark} ({ranks.at[metric, test]:g})")
            else:
                line.append("")
        body.append(line)
    headers = ["measure", *(f"{test} ({statistics[test]})" for test in tests)]
    return markdown_table(headers, body)


def write_ranking_per_test(verdicts: pd.DataFrame, out_dir: str | Path, order: Sequence[str] = (),
                           figure: bool = True, appendix: str = "") -> tuple[list[Path], list[Figure]]:  # fmt: skip
    """``ranking_tests.md`` into ``out_dir`` (``appendix``, markdown, after the table: the comparison with
    ReSi's ranking, ``reports.resi_ranking``) and (with ``figure``) ``figures/ranking_tests.png``: (the
    table's paths, the figures)."""
    ranks = ranks_per_test(verdicts, order)
    if ranks.empty:
        return [], []
    out = Path(out_dir)
    text = ("# Measures on ReSi's and Ding's tests\n\nEach cell: the test's statistic (mean over seeds), the verdict "
            "mark and the measure's rank on that test (1 = best). Higher AUPRC and Spearman are better, a lower "
            "violation rate is better. Rows follow the scorecard's one ranking (scorecard.md, Ranking): these are "
            "the tests' own numbers, not a second ranking.\n\n" + table_per_test(verdicts, order) + "\n"
            + (f"\n{appendix.rstrip()}\n" if appendix else ""))
    paths = [write_text(out / "ranking_tests.md", text)]
    if not figure:
        return paths, []
    count = len(ranks)
    drawn, ax = plt.subplots(figsize=(0.9 * ranks.shape[1] + 2.6, 0.26 * count + 1.6))
    image = ax.imshow(np.ma.masked_invalid(ranks.to_numpy(float)), cmap="viridis_r", vmin=1, vmax=max(count, 2),
                      aspect="auto")  # fmt: skip
    for (row, column), rank in np.ndenumerate(ranks.to_numpy(float)):
        if np.isfinite(rank):
            ax.text(column, row, f"{rank:g}", ha="center", va="center", fontsize=6,
                    color="white" if image.norm(rank) > 0.55 else "black")  # fmt: skip
    ax.set_xticks(range(ranks.shape[1]), ranks.columns, fontsize=7, rotation=30, ha="right")
    ax.set_yticks(range(count), ranks.index, fontsize=7)
    ax.tick_params(length=0)
    ax.set_title("rank on each of ReSi's and Ding's tests (1 = best); rows in the order of the one ranking", fontsize=8)
    bar = drawn.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("rank", fontsize=7)
    drawn.tight_layout()
    path = save(drawn, out / "figures" / "ranking_tests.png")
    caption = ("Each measure's rank on each of ReSi's and Ding's tests by the test's own statistic (AUPRC of the "
               "group tests, violation rate of layer monotonicity, Spearman with the accuracy difference or the "
               "output agreement, and with the probe's accuracy under principal-component deletion), dark = best. "
               "Rows follow the one ranking, so a row that is dark where its neighbours are light is a measure "
               "that does better on these tests than over all verdicts.")
    return paths, [Figure(path, caption)]
