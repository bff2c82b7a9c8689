"""Analyses of the results table: layer identification across seeds (Kornblith et al. 2019, section 6.1):
for every layer of one network, is the most similar layer of another seed its counterpart (the layer of
the same name)?

Kornblith et al. report, for 10 seeds of a CIFAR-10 CNN: linear CKA 99.3 %, RBF CKA up to 99.3 %,
linear regression 45.4 %, PWCCA 11.1 %, SVCCA 9.9-15.1 %, CCA 1.4-10.6 %.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["REFERENCE_NAMES", "layer_identification"]

GROUP = ["metric", "scenario", "seed", "layer_x"]
#: the similarity references judged like measures, and the names they get in the table
REFERENCE_NAMES = {"stitch": "stitching", "stitch_direct": "stitching (direct)"}


def layer_identification(table: pd.DataFrame, *, include_stitching: bool = True,
                         lower_is_similar: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Per measure and scenario, the fraction of layers identified across seeds.

    Args:
        table: one row per (metric, case) with columns ``metric, scenario, seed, layer_x, layer_y,
            value`` (and the references of :data:`REFERENCE_NAMES` present in ``table`` when
            ``include_stitching``): the cases of ``networks.layer_pairs``.
        include_stitching: add each recorded stitch (trained: ``stitching``; direct matching:
            ``stitching (direct)``, where the table has it) as a pseudo-measure.
        lower_is_similar: measures whose smaller values mean more similar (distances).

    Returns:
        Columns ``metric, scenario, accuracy, layers`` (``layers``: the (seed, layer) rows judged).
        A layer whose row of values has ties at the top counts 1/k when its counterpart is one of the
        k best (the expected accuracy of breaking ties at random); a layer with no finite value is
        not judged.
    """
    columns = GROUP + ["layer_y", "value"]
    frames = [table[columns]]
    if include_stitching:
        cells = table.drop_duplicates(["scenario", "seed", "layer_x", "layer_y"])
        frames += [cells.assign(metric=name, value=cells[column])[columns]
                   for column, name in REFERENCE_NAMES.items() if column in cells and cells[column].notna().any()]
    frame = pd.concat(frames, ignore_index=True)
    flip = frame["metric"].isin(lower_is_similar)
    frame.loc[flip, "value"] = -frame.loc[flip, "value"]
    frame = frame.dropna(subset=["value"])
    best = frame.groupby(GROUP)["value"].transform("max")
    top = frame[frame["value"] == best]
    scores = top.groupby(GROUP).apply(
        lambda rows: float((rows["layer_y"] == rows.name[-1]).sum()) / len(rows), include_groups=False)
    scores = scores.rename("score").reset_index()
    summary = scores.groupby(["metric", "scenario"])["score"].agg(accuracy="mean", layers="size").reset_index()
    return summary.sort_values(["scenario", "accuracy"], ascending=[True, False], ignore_index=True)
