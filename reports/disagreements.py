"""Where measures and the functional references disagree, and where the references disagree with each
other.

disagreements.md has five sections:

- **Rank correlation with every functional reference**, one table per family: measures as rows, the
  references recorded in the family as columns (``runner.schema.REFERENCE_COLUMNS``: the trained
  stitch X -> Y and Y -> X, the direct-matching stitch both ways, prediction agreement and accuracy
  difference of whole models). A cell is the Spearman correlation of the measure (similarity-oriented)
  with the reference (similarity-oriented: ``accuracy_difference`` negated) over every usable case and
  seed of the family, with a two-sided permutation p-value; n/a where the reference does not vary.
- **Where the references disagree with each other**: per family, their pairwise rank correlations
  over the cells that record both, and the cases (means over seeds) where two references differ
  most, on the 0..1 similarity scale (accuracy difference read as 1 - difference).
- **Controls**: the scenarios of generator ``networks.controls`` stitch senders that carry no learned function
  (``meta["sender"]``: ``random_init``, ``shuffled_labels``, ``clustered_noise``) and a ``trained`` one
  into the same receiver, case ids ``"<sender>/<layer>"``; a table per scenario of how every measure
  and every reference rates each sender (mean over seeds and layers), and per layer where that fits
  in twelve columns.
- **Most discordant cases** per measure: the measure's value on a 0 (dissimilar) .. 1 (identical)
  scale (:meth:`MeasureScale.similarity`, from its bounds; an unbounded measure relative to the
  farthest value it takes on the family) against the trained stitch: the measure says dissimilar
  while stitching loses nothing, or similar while stitching fails.
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from tabulate import tabulate

from runner.atomic import write_text
from reports.scales import MeasureScale
from reports.scorecard import header_lines, markdown_text
from reports.stats import rank_correlation, rank_correlation_test
from runner.schema import DISTANCE_REFERENCES, REFERENCE_COLUMNS

__all__ = [
    "CONTROLS",
    "case_means",
    "control_ratings",
    "discordant_cases",
    "disagreements_markdown",
    "reference_case_gaps",
    "reference_correlations",
    "reference_pair_correlations",
    "write_disagreements",
]

UNDERRATES = "measure says dissimilar, stitching works"
OVERRATES = "measure says similar, stitching fails"
#: The generator of the controls (results rows carry their generator).
CONTROLS = "networks.controls"
CELL = ["family", "scenario", "case", "seed"]


def _oriented_reference(rows: pd.DataFrame, reference: str) -> np.ndarray:
    """The reference's values, similarity-oriented (a distance reference negated)."""
    values = rows[reference].to_numpy(float)
    return -values if reference in DISTANCE_REFERENCES else values


def _similarity_reference(rows: pd.DataFrame, reference: str) -> pd.Series:
    """The reference on the 0..1 similarity scale (a distance in [0, 1] read as 1 - distance)."""
    return 1.0 - rows[reference] if reference in DISTANCE_REFERENCES else rows[reference]


def _recorded(rows: pd.DataFrame) -> list[str]:
    return [name for name in REFERENCE_COLUMNS if name in rows and rows[name].notna().any()]


def reference_correlations(
    results: pd.DataFrame, scales: Mapping[str, MeasureScale], n_permutations: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Spearman correlation of (similarity-oriented) value with every recorded reference, per measure
    and family, pooled over the family's usable cells; two-sided permutation p-values.

    Returns columns ``metric, family, reference, rho, p_value, n``; ``rho`` is NaN where the reference
    does not vary over the cells (or fewer than 3 record it).
    """
    records = []
    usable = results[results["error"] == ""]
    for (metric, family), rows in usable.groupby(["metric", "family"], sort=True):
        for reference in _recorded(rows):
            known = rows[rows[reference].notna()]
            against = _oriented_reference(known, reference)
            record = {"metric": metric, "family": family, "reference": reference, "rho": np.nan,
                      "p_value": np.nan, "n": len(known)}
            if len(known) >= 3 and np.ptp(against) > 0:
                oriented = scales[metric].orientation * known["value"].to_numpy(float)
                test = rank_correlation_test([against], [oriented], n_permutations=n_permutations, seed=seed)
                record.update(rho=test.rho.estimate, p_value=test.p_two_sided)
            records.append(record)
    return pd.DataFrame(records, columns=["metric", "family", "reference", "rho", "p_value", "n"])


def _cells(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (family, scenario, case, seed): the references are properties of the case."""
    return results.drop_duplicates(CELL)


def reference_pair_correlations(results: pd.DataFrame) -> pd.DataFrame:
    """Per family, the Spearman correlation of every pair of references over the cells recording both
    (similarity-oriented). Columns ``family, first, second, rho, n``; ``rho`` NaN where one is constant."""
    records = []
    for family, cells in _cells(results).groupby("family", sort=True):
        for first, second in itertools.combinations(_recorded(cells), 2):
            both = cells[cells[first].notna() & cells[second].notna()]
            a, b = _oriented_reference(both, first), _oriented_reference(both, second)
            rho = np.nan
            if len(both) >= 3 and np.ptp(a) > 0 and np.ptp(b) > 0:
                rho = rank_correlation(a, b)
            records.append({"family": family, "first": first, "second": second, "rho": rho, "n": len(both)})
    return pd.DataFrame(records, columns=["family", "first", "second", "rho", "n"])


def reference_case_gaps(results: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """For every pair of references recorded together, the ``top`` cases (means over seeds) where they
    differ most on the 0..1 similarity scale. Columns ``family, scenario, case, first, second,
    first_value, second_value, difference, seeds``; ``difference`` = first - second."""
    cells = _cells(results)
    picks = []
    for first, second in itertools.combinations(_recorded(cells), 2):
        both = cells[cells[first].notna() & cells[second].notna()]
        if both.empty:
            continue
        both = both.assign(first_value=_similarity_reference(both, first),
                           second_value=_similarity_reference(both, second))
        means = both.groupby(["family", "scenario", "case"], sort=True).agg(
            first_value=("first_value", "mean"), second_value=("second_value", "mean"), seeds=("seed", "nunique"))
        means = means.assign(difference=means["first_value"] - means["second_value"]).reset_index()
        largest = means.reindex(means["difference"].abs().sort_values(ascending=False, kind="stable").index)
        picks.append(largest.head(top).assign(first=first, second=second))
    columns = ["family", "scenario", "case", "first", "second", "first_value", "second_value", "difference", "seeds"]
    return pd.concat(picks, ignore_index=True)[columns] if picks else pd.DataFrame(columns=columns)


def _sender_and_layer(rows: pd.DataFrame) -> pd.DataFrame:
    parts = rows["case"].str.split("/", n=1)
    senders = [fields.get("sender", part[0]) for fields, part in zip(rows["meta"], parts)]
    layers = [part[1] if len(part) > 1 else "" for part in parts]
    return rows.assign(sender=senders, layer=layers)


def control_ratings(results: pd.DataFrame, scales: Mapping[str, MeasureScale]) -> dict[str, pd.DataFrame]:
    """Per controls scenario, how every measure and every recorded reference rates each sender.

    Returns scenario -> a table with one row per measure (then per reference, named ``reference:
    <name>``) and columns ``(sender, layer)``, the mean over seeds; layer ``"all"`` is the mean over
    layers too. A distance keeps its own orientation (lower is more similar); its row is named
    ``<measure> (distance)``.
    """
    controls = results[(results["generator"] == CONTROLS) & (results["error"] == "")]
    tables = {}
    for scenario, rows in controls.groupby("scenario", sort=True):
        rows = _sender_and_layer(rows)
        cells = rows.drop_duplicates(["case", "seed"])
        long = [rows.assign(rated=rows["metric"], score=rows["value"])]
        long += [cells.assign(rated=f"reference: {name}", score=cells[name]) for name in _recorded(cells)]
        long = pd.concat(long, ignore_index=True)
        per_layer = long.groupby(["rated", "sender", "layer"])["score"].mean()
        overall = long.groupby(["rated", "sender"])["score"].mean()
        overall.index = pd.MultiIndex.from_tuples([(rated, sender, "all") for rated, sender in overall.index],
                                                  names=per_layer.index.names)
        table = pd.concat([overall, per_layer]).unstack(["sender", "layer"])
        distances = {m: f"{m} (distance)" for m in table.index if m in scales and not scales[m].higher_is_more_similar}
        tables[scenario] = table.rename(index=distances)
    return tables


def case_means(results: pd.DataFrame, scales: Mapping[str, MeasureScale]) -> pd.DataFrame:
    """Per (metric, family, scenario, case): means over seeds of value, similarity and the stitches.

    The similarity of an unbounded measure is read relative to its values on the family."""
    rows = results[(results["error"] == "") & results["stitch"].notna()]
    similarity = pd.Series(np.nan, index=rows.index)
    for (metric, _), group in rows.groupby(["metric", "family"]):
        similarity[group.index] = scales[metric].similarity(group["value"].to_numpy(float))
    rows = rows.assign(similarity=similarity)
    stitches = {name: (name, "mean") for name in ("stitch", "stitch_reverse", "stitch_direct") if name in rows}
    return (
        rows.groupby(["metric", "family", "scenario", "case"], sort=True, dropna=False)
        .agg(param=("param", "first"), seeds=("seed", "nunique"), value=("value", "mean"),
             similarity=("similarity", "mean"), **stitches)
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
    return "n/a" if np.isnan(rho) else f"{rho:+.2f} (p={p_value:.2g})"


def _table(frame: pd.DataFrame, **options) -> str:
    def escaped(value):
        return markdown_text(value) if isinstance(value, str) else value

    shown = (frame.apply(lambda column: column.map(escaped)) if len(frame) else frame).rename(columns=escaped)
    return tabulate(shown, headers="keys", tablefmt="github", showindex=False, **options)


def _correlation_sections(correlations: pd.DataFrame) -> list[str]:
    lines = []
    cells = [_correlation_cell(rho, p) for rho, p in zip(correlations["rho"], correlations["p_value"])]
    table = correlations.assign(cell=cells)
    for family, group in table.groupby("family", sort=True):
        order = [r for r in REFERENCE_COLUMNS if r in set(group["reference"])]
        wide = group.pivot(index="metric", columns="reference", values="cell").reindex(columns=order).fillna("")
        lines += [f"### {family}", "", _table(wide.rename_axis(columns=None).reset_index().rename(
            columns={"metric": "measure"})), ""]
    return lines


def _reference_sections(pairs: pd.DataFrame, gaps: pd.DataFrame) -> list[str]:
    if pairs.empty:
        return ["Only one functional reference is recorded in this run.", ""]
    lines = []
    for family, group in pairs.groupby("family", sort=True):
        names = list(dict.fromkeys([*group["first"], *group["second"]]))
        matrix = pd.DataFrame("", index=names, columns=names)
        for row in group.itertuples():
            cell = "n/a" if np.isnan(row.rho) else f"{row.rho:+.2f} (n={row.n})"
            matrix.loc[row.first, row.second] = matrix.loc[row.second, row.first] = cell
        lines += [f"### {family}: rank correlations between the references", "",
                  _table(matrix.rename_axis("reference").reset_index()), ""]
    if not gaps.empty:
        lines += ["### Cases where two references differ most", "",
                  "Means over seeds on the 0..1 similarity scale (accuracy difference as 1 - difference); "
                  "difference = first - second.", ""]
        for (first, second), group in gaps.groupby(["first", "second"], sort=False):
            shown = group.drop(columns=["first", "second"]).rename(
                columns={"first_value": first, "second_value": second})
            lines += [f"*{first} vs {second}*", "", _table(shown, floatfmt=".3f"), ""]
    return lines


def _control_sections(controls: Mapping[str, pd.DataFrame], max_columns: int = 12) -> list[str]:
    if not controls:
        return [f"No controls scenario (generator `{CONTROLS}`) in this run.", ""]
    lines = []
    for scenario, table in controls.items():
        overall = table.xs("all", axis=1, level="layer")
        lines += [f"### {scenario}", "", "Mean over seeds and layers.", "",
                  _table(overall.rename_axis(columns=None).rename_axis("rated").reset_index(), floatfmt=".3f"), ""]
        per_layer = table.drop(columns="all", level="layer")
        if 0 < per_layer.shape[1] <= max_columns:
            flat = per_layer.copy()
            flat.columns = [f"{sender}/{layer}" for sender, layer in flat.columns]
            lines += ["Per layer (mean over seeds).", "",
                      _table(flat.rename_axis("rated").reset_index(), floatfmt=".3f"), ""]
    return lines


def disagreements_markdown(
    correlations: pd.DataFrame,
    discordant: pd.DataFrame,
    header: Mapping[str, str],
    min_gap: float,
    pairs: pd.DataFrame | None = None,
    gaps: pd.DataFrame | None = None,
    controls: Mapping[str, pd.DataFrame] | None = None,
) -> str:
    """Render disagreements.md (see the module docstring)."""
    lines = ["# Where measures disagree with function", ""]
    lines += header_lines(header)
    lines += [
        "",
        "## Rank correlation with each functional reference, per family",
        "",
        "Spearman correlation of the measure (similarity-oriented) with each reference over every case and "
        "seed of the family that records it, with a two-sided permutation p-value; n/a where the reference "
        "does not vary in the family (there, the verdicts' invariance checks say whether the measure moves "
        "while function does not). stitch: trained stitch X -> Y; stitch_reverse: Y -> X; stitch_direct(_reverse): "
        "least-squares stitch without training; agreement: fraction of test inputs with the same prediction; "
        "accuracy_difference: |acc(X) - acc(Y)|, negated so that higher reads more similar.",
        "",
        *_correlation_sections(correlations),
        "## Where the references disagree with each other",
        "",
        *_reference_sections(pd.DataFrame() if pairs is None else pairs, pd.DataFrame() if gaps is None else gaps),
        "## Controls: senders without a learned function",
        "",
        "How every measure and reference rates a trained sender and the controls (a random-init network, one "
        "trained on shuffled labels, class-clustered noise shaped like the layer) against the same receiver. "
        "A measure or reference that rates a control like the trained sender is fooled by it.",
        "",
        *_control_sections(controls or {}),
        "## Most discordant cases",
        "",
        f"Means over seeds; similarity is the value on a 0..1 scale from the measure's bounds (an unbounded "
        f"measure: relative to the farthest value it takes on the family); gap = stitch - similarity (shown "
        f"when |gap| > {min_gap}).",
        "",
    ]
    for metric in sorted(correlations["metric"].unique()):
        lines += [f"### {metric}", ""]
        mine = discordant[discordant["metric"] == metric]
        if mine.empty:
            lines += ["No case beyond the gap threshold.", ""]
        for direction, group in mine.groupby("direction", sort=False):
            columns = ["scenario", "case", "value", "similarity", "stitch", "stitch_reverse", "stitch_direct", "gap",
                       "seeds"]
            columns = [c for c in columns if c in group and group[c].notna().any()]
            lines += [f"*{direction}*", "", _table(group[columns], floatfmt=".3f"), ""]
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
    """Compute every section and write ``out_dir/disagreements.md`` atomically."""
    correlations = reference_correlations(results, scales, seed=seed)
    discordant = discordant_cases(case_means(results, scales), top=top, min_gap=min_gap)
    text = disagreements_markdown(correlations, discordant, header, min_gap, reference_pair_correlations(results),
                                  reference_case_gaps(results), control_ratings(results, scales))
    return write_text(Path(out_dir) / "disagreements.md", text)
