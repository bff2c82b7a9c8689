"""Seeded statistics for verdicts: bootstrap confidence intervals and permutation tests of rank correlation.

Everything is a pure function of its inputs and a seed, so a run's verdicts are reproducible, and
vectorized over resamples so that thousands of resamples cost milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

__all__ = ["Interval", "RankTest", "bootstrap_mean", "rank_correlation", "rank_correlation_test"]


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
