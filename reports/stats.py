"""Seeded statistics for verdicts: bootstrap confidence intervals and permutation tests of rank correlation.

Everything is a pure function of its inputs and a seed, so a run's verdicts are reproducible, and
vectorized over resamples so that thousands of resamples cost milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

__all__ = ["GroupTest", "Interval", "RankTest", "average_precision", "bootstrap_mean", "group_separation_test",
           "rank_correlation", "rank_correlation_test"]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval ``[low, high]``."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class RankTest:
    """A (mean) Spearman correlation, its bootstrap interval over groups, and permutation p-values.

    ``p_greater`` tests for a positive relation, ``p_less`` for a negative one (one-sided each);
    ``p_two_sided`` for any.
    """

    rho: Interval
    p_greater: float
    p_less: float
    p_two_sided: float


@dataclass(frozen=True)
class GroupTest:
    """How well scores separate positive pairs (within a group) from negative ones (across groups), one
    sample per seed: the mean AUPRC with its bootstrap interval over seeds, the chance level (the mean
    fraction of positives), the mean violation rate (a negative pair scored above a positive one, ties
    counting half: 1 - AUROC) and the permutation p-value of the mean AUPRC (labels permuted within
    each seed)."""

    auprc: Interval
    chance: float
    violation_rate: float
    p_value: float


def bootstrap_mean(values, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> Interval:
    """Percentile bootstrap interval of the mean of ``values`` (one value per independent seed).

    With a single value the interval is that value: there is no spread to estimate, which callers
    must treat as "too few seeds", not as certainty.

    Example:
        >>> ci = bootstrap_mean([1.0, 1.0, 1.0])
        >>> (ci.estimate, ci.low, ci.high)
        (1.0, 1.0, 1.0)
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"bootstrap_mean: expected a non-empty 1-D sample, got shape {values.shape}")
    estimate = float(values.mean())
    if values.size == 1:
        return Interval(estimate, estimate, estimate)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(n_resamples, values.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(estimate, float(low), float(high))


def _row_correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of matching rows of ``a`` [r, k] and ``b`` [r, k]; 0 where a row is constant."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    norms = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    dots = (a * b).sum(axis=-1)
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def rank_correlation(x, y) -> float:
    """Spearman correlation of ``x`` and ``y`` (average ranks for ties); 0 when either is constant.

    A constant series has no order, so it is reported as "no relation" rather than NaN.

    Example:
        >>> rank_correlation([1, 2, 3, 4], [10, 20, 30, 45])
        1.0
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"rank_correlation: expected two 1-D series of one length, got {x.shape}, {y.shape}")
    return float(_row_correlations(rankdata(x)[None], rankdata(y)[None])[0])


def rank_correlation_test(
    x_groups,
    y_groups,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    n_permutations: int = 2000,
    seed: int = 0,
) -> RankTest:
    """Mean within-group Spearman correlation of x and y, with a bootstrap interval and permutation p-values.

    Each group (one seed of a scenario, say) holds paired series ``x_groups[g]``, ``y_groups[g]`` of
    equal length (groups may differ in length). The statistic is the mean over groups of the
    within-group Spearman correlation. The null distribution permutes y within each group (a
    stratified permutation test), so differences between groups cannot create a correlation. The
    interval resamples groups (seeds) with replacement. p-values are ``(1 + #{null >= observed}) /
    (1 + n_permutations)``, never 0.

    Args:
        x_groups, y_groups: sequences of 1-D series (a single pooled group is ``[x], [y]``).
        confidence: coverage of the interval.
        n_resamples, n_permutations: Monte Carlo sizes.
        seed: the seed of every random draw.
    """
    if len(x_groups) != len(y_groups) or not len(x_groups):
        raise ValueError("rank_correlation_test: x_groups and y_groups must be non-empty and of one length")
    rng = np.random.default_rng(seed)
    observed = []
    null = np.zeros(n_permutations)
    for xs, ys in zip(x_groups, y_groups):
        rx = rankdata(np.asarray(xs, dtype=float))
        ry = rankdata(np.asarray(ys, dtype=float))
        if rx.shape != ry.shape:
            raise ValueError(f"rank_correlation_test: paired series differ in length ({rx.size} vs {ry.size})")
        observed.append(_row_correlations(rx[None], ry[None])[0])
        shuffled = rng.permuted(np.broadcast_to(ry, (n_permutations, ry.size)), axis=1)
        null += _row_correlations(np.broadcast_to(rx, shuffled.shape), shuffled)
    null /= len(observed)
    statistic = float(np.mean(observed))
    slack = 1e-12  # the observed order itself must count as "at least as extreme" despite rounding
    p_greater = (1 + np.count_nonzero(null >= statistic - slack)) / (1 + n_permutations)
    p_less = (1 + np.count_nonzero(null <= statistic + slack)) / (1 + n_permutations)
    p_two_sided = (1 + np.count_nonzero(np.abs(null) >= abs(statistic) - slack)) / (1 + n_permutations)
    interval = bootstrap_mean(observed, confidence=confidence, n_resamples=n_resamples, seed=seed)
    return RankTest(interval, float(p_greater), float(p_less), float(p_two_sided))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Average precision (area under the precision-recall curve, as scikit-learn's
    ``average_precision_score``: precision at each distinct score, tied scores one threshold, weighted by
    the recall gained there) of each row of boolean ``labels`` [r, n] against one ``scores`` [n]."""
    labels = np.atleast_2d(np.asarray(labels, dtype=bool))
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])  # last index of each block of ties
    hits = np.cumsum(labels[:, order], axis=1)[:, ends]  # true positives at each threshold
    positives = hits[:, -1]
    gained = np.diff(hits, axis=1, prepend=0)
    precision = hits / (ends + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (gained * precision).sum(axis=1) / positives


def _violation_rate(labels: np.ndarray, scores: np.ndarray) -> float:
    """The fraction of (positive, negative) pairs whose negative scores higher (ties count half)."""
    pos, neg = scores[labels], scores[~labels]
    return float(np.mean((neg[None, :] > pos[:, None]) + 0.5 * (neg[None, :] == pos[:, None])))


def group_separation_test(labels, scores, confidence: float = 0.95, n_resamples: int = 2000,
                          n_permutations: int = 2000, seed: int = 0) -> GroupTest:
    """:class:`GroupTest` of per-seed boolean ``labels`` and ``scores`` (sequences of 1-D arrays, one per
    seed; higher scores mean "same group"). Every seed needs a positive and a negative pair.

    Example:
        >>> test = group_separation_test([np.array([True, False, False])], [np.array([0.9, 0.2, 0.1])])
        >>> (test.auprc.estimate, test.chance, test.violation_rate)
        (1.0, 0.3333333333333333, 0.0)
    """
    labels = [np.asarray(a, dtype=bool) for a in labels]
    scores = [np.asarray(s, dtype=float) for s in scores]
    if any(a.all() or not a.any() for a in labels):
        raise ValueError("group_separation_test: every seed needs a within-group and a cross-group pair")
    observed = np.array([average_precision(a, s)[0] for a, s in zip(labels, scores)])
    rng = np.random.default_rng(seed)
    null = np.zeros(n_permutations)
    for a, s in zip(labels, scores):
        null += average_precision(rng.permuted(np.broadcast_to(a, (n_permutations, a.size)), axis=1), s)
    null /= len(labels)
    p_value = (1 + np.count_nonzero(null >= observed.mean() - 1e-12)) / (n_permutations + 1)
    return GroupTest(
        auprc=bootstrap_mean(observed, confidence, n_resamples, seed),
        chance=float(np.mean([a.mean() for a in labels])),
        violation_rate=float(np.mean([_violation_rate(a, s) for a, s in zip(labels, scores)])),
        p_value=float(p_value),
    )
