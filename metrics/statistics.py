"""Differences of one-sided statistics of each representation: magnitude, concentricity, uniformity
(Wang & Isola 2020; the statistics of ReSi, Klabunde et al. 2025).

Each measure computes one number per representation and reports the absolute difference: a distance
(0 for X = Y, no upper bound unless a statistic has one). They compare summaries, not sample-by-sample
structure, so two very different representations can be at distance 0; p1 != p2 is no obstacle.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from metrics import _naive
from metrics._inputs import InputError, remembered_column_sums
from metrics._linalg import center, row_sq_norms, sq_distance_blocks, symmetric_sum
from metrics._registry import register

KLABUNDE_2025 = (
    "Klabunde et al. 2025, Similarity of Neural Network Models: A Survey of Functional and Representational "
    "Measures (ACM CSUR), representation statistics; ReSi (Klabunde et al., ICLR 2025)"
)
WANG_ISOLA_2020 = (
    "Wang & Isola 2020, Understanding Contrastive Representation Learning through Alignment and Uniformity "
    "on the Hypersphere (ICML); " + KLABUNDE_2025
)


def _magnitude_from_moments(derived) -> torch.Tensor:
    """The streaming form: the means of all samples are part of the accumulated moments."""
    m = derived.moments
    return (torch.linalg.vector_norm(m.mean_x) - torch.linalg.vector_norm(m.mean_y)).abs()


def _reference_magnitude_difference(x, y) -> float:
    """Independent route: | ||mean_i x_i|| - ||mean_i y_i|| | with ||mean_i x_i|| by another formula,
    sqrt(1^T X X^T 1) / n."""
    length_x, length_y = (float(np.sqrt(_naive.linear_gram(a).sum()) / len(a)) for a in (x, y))
    return abs(length_x - length_y)


@register(
    "magnitude_difference",
    reference_route=_reference_magnitude_difference,
    symmetric=True,
    invariances={"orthogonal"},
    bounds=(0.0, math.inf),
    reference=KLABUNDE_2025,
    higher_is_more_similar=False,
    backend="torch",
    min_samples=2,
    streaming=_magnitude_from_moments,
)
def magnitude_difference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """| ||mean_i x_i|| - ||mean_i y_i|| |: the difference of the lengths of the mean rows, each from the
    column sums of the input check.

    Invariant to rotations and permutations of the features; moved by translation and by scaling.
    """
    return abs(_mean_length(x) - _mean_length(y))


def _mean_length(a: torch.Tensor) -> float:
    """||mean_i a_i||, the mean row from the check's column sums divided by n before its square (the sums'
    squares would overflow n^2 times sooner): sqrt(m . m) in numpy on the CPU, where a vector of p entries
    costs less than torch's dispatch."""
    sums = remembered_column_sums(a)
    if sums.is_cpu:
        mean = sums.numpy() / a.shape[0]
        return math.sqrt(mean.dot(mean))
    return float(torch.linalg.vector_norm(sums / a.shape[0]))


def _concentricity(a: torch.Tensor, which: str) -> torch.Tensor:
    """mean_i cos(a_i, a_bar), a_bar the mean row; refuses zero rows and a mean that is zero up to rounding."""
    norms = row_sq_norms(a).sqrt_()
    zero = norms == 0
    if bool(zero.any()):
        raise InputError(
            f"{which} has {int(zero.sum())} zero row(s) (first: row {int(zero.nonzero()[0, 0])}); their "
            "cosine with the mean row is undefined"
        )
    mean = a.mean(dim=0)
    mean_norm = torch.linalg.vector_norm(mean)
    if not float(mean_norm) > a.shape[0] * torch.finfo(a.dtype).eps * float(norms.max()):
        raise InputError(
            f"the mean row of {which} is zero up to rounding (centered data?): the cosine of each row with "
            "it, concentricity, is undefined"
        )
    return ((a @ mean) / norms).mean() / mean_norm


def _reference_concentricity_difference(x, y) -> float:
    """Independent route: |c(X) - c(Y)| with c(X) = mean_i (1 - cosine distance(x_i, x_bar)), the cosine
    distance from scipy's cdist."""
    return abs(_naive.concentricity(x) - _naive.concentricity(y))


@register(
    "concentricity_difference",
    reference_route=_reference_concentricity_difference,
    symmetric=True,
    invariances={"orthogonal", "isotropic_scaling"},
    bounds=(0.0, 2.0),
    reference=KLABUNDE_2025,
    higher_is_more_similar=False,
    backend="torch",
    min_samples=2,
)
def concentricity_difference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """| mean_i cos(x_i, x_bar) - mean_i cos(y_i, y_bar) |, x_bar = mean_i x_i (uncentered data).

    Each mean cosine lies in [-1, 1], so the difference lies in [0, 2]. Invariant to rotations and
    isotropic scaling; moved by translation. Zero rows and a zero mean row are refused (no cosine).
    """
    return (_concentricity(x, "X") - _concentricity(y, "Y")).abs()


def _log_uniformity_excess(xc: torch.Tensor, t: float) -> torch.Tensor:
    """log((1/n^2) sum_ij exp(-t ||x_i - x_j||^2)) + log n = log1p((1/n) sum_{i != j} exp(-t d_ij^2)).

    The n terms i = j are exactly 1 and set the largest exponent, 0: the sum lies in [n, n^2], so no
    log-sum-exp shift is needed, and splitting them off keeps the off-diagonal part at full precision
    even where it is tiny against n (widely spread data, large t).
    """
    n = xc.shape[0]
    off_diagonal = 0.0
    for start, stop, d2 in sq_distance_blocks(xc):
        rows = stop - start
        d2[:, :rows].fill_diagonal_(math.inf)  # exp(-inf) = 0: the diagonal is counted as log n
        off_diagonal += symmetric_sum(d2.mul_(-t).exp_(), rows)
    return torch.log1p(off_diagonal / n)


def _reference_uniformity_difference(x, y, t: float = 2.0) -> float:
    """Independent route: |u(X) - u(Y)| with u(X) = log((1/n^2) sum_{i,j} exp(-t ||x_i - x_j||^2)) over
    all n^2 pairs (diagonal included), by scipy's logsumexp of the full squared-distance matrix."""
    from scipy.special import logsumexp

    u_x, u_y = (float(logsumexp(-t * _naive.distance_matrix(a, "sqeuclidean")) - 2 * np.log(len(a))) for a in (x, y))
    return abs(u_x - u_y)


@register(
    "uniformity_difference",
    reference_route=_reference_uniformity_difference,
    symmetric=True,
    invariances={"orthogonal", "translation"},
    bounds=(0.0, math.inf),
    reference=WANG_ISOLA_2020,
    higher_is_more_similar=False,
    backend="torch",
    min_samples=2,
    speed_bound=("sqdist(X)", "sqdist(Y)", "exp(sqdist)", "exp(sqdist)"),
)
def uniformity_difference(x: torch.Tensor, y: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """| U(X) - U(Y) | with U(X) = log((1/n^2) sum_{i,j} exp(-t ||x_i - x_j||^2)), the pairs i = j
    included (Wang & Isola 2020's uniformity, as ReSi computes it; parameter t > 0, default 2).

    U lies in [-log n, 0], so the difference lies in [0, log n). Invariant to rotations and translations,
    not to scaling. Wang & Isola define U on L2-normalized rows; like ReSi we use the rows as they are,
    so on data whose squared distances are large against 1/t every U is close to -log n and the
    difference close to 0 (rescale the data, or lower t, to make it informative). Computed by row blocks
    in O(n * block) memory; the -log n of both sides cancels exactly.
    """
    if not (isinstance(t, (int, float)) and math.isfinite(t) and t > 0):
        raise InputError(f"t must be a positive finite number, got {t!r}")
    return (_log_uniformity_excess(center(x), t) - _log_uniformity_excess(center(y), t)).abs()
