"""Measures on pairwise Euclidean distances: distance correlation and the RSM norm difference.

Both read the n x n distance matrices of X and Y by row blocks (:func:`metrics._linalg.sq_distance_blocks`):
memory stays O(n * block) whatever n, and only the upper block triangle is computed (half the
multiply-adds of the full matrices).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from metrics import _naive
from metrics._linalg import center, center_unit, row_sq_norms, sq_distance_blocks, symmetric_inner
from metrics._registry import register

SZEKELY_2007 = (
    "Szekely, Rizzo, Bakirov 2007, Measuring and testing dependence by correlation of distances (Ann. Statist.)"
)
SHAHBAZI_2021 = (
    "Shahbazi et al. 2021, Using distance on the Riemannian manifold to compare representations in brain and "
    "in models (NeuroImage); Klabunde et al. 2025, Similarity of Neural Network Models: A Survey (ACM CSUR)"
)


def _distance_blocks(xc: torch.Tensor, yc: torch.Tensor):
    """(start, stop, D_X block, D_Y block): Euclidean distances of both sides over the same row blocks."""
    for (start, stop, dx), (_, _, dy) in zip(sq_distance_blocks(xc), sq_distance_blocks(yc)):
        yield start, stop, dx.sqrt_(), dy.sqrt_()


def _reference_distance_correlation(x, y) -> float:
    """Independent route: sqrt(dCov^2(X, Y) / sqrt(dVar^2(X) dVar^2(Y))) with dCov^2 = mean_ij A_ij B_ij
    (V-statistic), A = H D H from scipy's full Euclidean distance matrix and the explicit H."""
    a, b = (_naive.double_centered(_naive.distance_matrix(z)) for z in (x, y))
    return float(np.sqrt(np.mean(a * b) / np.sqrt(np.mean(a * a) * np.mean(b * b))))


@register(
    "distance_correlation",
    reference_route=_reference_distance_correlation,
    symmetric=True,
    invariances={"orthogonal", "isotropic_scaling", "translation"},
    bounds=(0.0, 1.0),
    reference=SZEKELY_2007,
    backend="torch",
    min_samples=3,
    speed_bound=("sqdist(X)", "sqdist(Y)"),
)
def distance_correlation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Distance correlation, dCor = sqrt(dCov^2(X, Y) / sqrt(dVar^2(X) dVar^2(Y))), with V-statistics.

    With a_ij = ||x_i - x_j||, b_ij = ||y_i - y_j|| and A, B their double-centered matrices
    (A_ij = a_ij - a_i. - a_.j + a_..), dCov^2(X, Y) = (1/n^2) sum_ij A_ij B_ij and dVar^2(X) = dCov^2(X, X)
    (Szekely, Rizzo & Bakirov 2007, the biased estimator of ``dcor.distance_correlation``). In [0, 1];
    1 when Y is a similarity transform of X (rotation, scaling, translation). Like biased CKA it is far
    from 0 for independent data with p >> n (0.97 at n = 400, p = 2000).

    One pass over row blocks: A is never formed, since
    sum_ij A_ij B_ij = sum_ij a_ij b_ij - 2n sum_i a_i. b_i. + n^2 a_.. b_.. (row means a_i., grand mean
    a_..). The distances are first shifted by sqrt(mean squared distance), close to their mean (double
    centering removes any constant), so the three terms do not cancel: within 1e-14 relative of a
    two-pass double-centered sum in extended precision, in half the time of two passes.

    Invariant to rotations, translations and isotropic scaling (dCov^2 scales by |c| |c'|, each dVar^2
    by its square). ReSi (Klabunde et al. 2025) declares it not invariant to isotropic scaling; it is.
    """
    xc, yc = center_unit(x), center_unit(y)  # scale-free: powers of two keep the fourth powers in range
    n = xc.shape[0]
    shift_x = math.sqrt(2 * float(row_sq_norms(xc).mean()))  # sqrt of the mean of all n^2 squared distances
    shift_y = math.sqrt(2 * float(row_sq_norms(yc).mean()))
    row_sums_x = torch.zeros(n, dtype=torch.float64, device=xc.device)
    row_sums_y = torch.zeros_like(row_sums_x)
    sum_xy = sum_xx = sum_yy = 0.0
    for start, stop, dx, dy in _distance_blocks(xc, yc):
        rows = stop - start
        for d, shift, row_sums in ((dx, shift_x, row_sums_x), (dy, shift_y, row_sums_y)):
            d.sub_(shift)
            row_sums[start:stop] += d.sum(dim=1, dtype=torch.float64)
            row_sums[stop:] += d[:, rows:].sum(dim=0, dtype=torch.float64)  # the entries (j, i), j >= stop
        sum_xy += symmetric_inner(dx, dy, rows)
        sum_xx += symmetric_inner(dx, dx, rows)
        sum_yy += symmetric_inner(dy, dy, rows)
    mean_x, mean_y = row_sums_x / n, row_sums_y / n  # row means of the shifted distance matrices

    def dcov_sq(total, a, b):
        return total / n**2 - 2 * torch.dot(a, b) / n + a.mean() * b.mean()

    dcov_xy = dcov_sq(sum_xy, mean_x, mean_y)
    dvar_x, dvar_y = dcov_sq(sum_xx, mean_x, mean_x), dcov_sq(sum_yy, mean_y, mean_y)
    # dCov^2 >= 0 as a V-statistic (a weighted squared distance of characteristic functions, Szekely et
    # al. 2007): a value below 0 is the rounding of a 0. After center_unit every distance is at most
    # 2 sqrt(p), so dVar^2(X) dVar^2(Y) cannot overflow; for X = Y the ratio is exactly 1.
    return torch.sqrt(dcov_xy.clamp(min=0) / torch.sqrt(dvar_x * dvar_y))


def _reference_rsm_norm_difference(x, y) -> float:
    """Independent route: sqrt(mean over pairs i < j of (d_X(i, j) - d_Y(i, j))^2), from scipy's condensed
    pdist vectors (differences, not the Gram route)."""
    from scipy.spatial.distance import pdist

    return float(np.sqrt(np.mean((pdist(_naive.as_float(x)) - pdist(_naive.as_float(y))) ** 2)))


@register(
    "rsm_norm_difference",
    reference_route=_reference_rsm_norm_difference,
    symmetric=True,
    invariances={"orthogonal", "translation"},
    bounds=(0.0, math.inf),
    reference=SHAHBAZI_2021,
    higher_is_more_similar=False,
    backend="torch",
    min_samples=2,
    speed_bound=("sqdist(X)", "sqdist(Y)"),
)
def rsm_norm_difference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Root mean square difference of the Euclidean distance matrices over the pairs i < j,
    sqrt((2 / (n (n-1))) sum_{i<j} (||x_i - x_j|| - ||y_i - y_j||)^2) = ||D_X - D_Y||_F / sqrt(n (n-1)).

    A distance (0 for X = Y, in the units of the data): invariant to rotations and translations, not to
    scaling. ReSi (Klabunde et al. 2025) takes ``np.linalg.norm(D_X - D_Y, ord=2)`` of the n x n matrices,
    which is the spectral norm (an O(n^3) SVD), not the Frobenius norm of the definition; it also declares
    the measure not invariant to translation, which Euclidean distances are.
    """
    xc, yc = center(x), center(y)
    n = xc.shape[0]
    total = 0.0  # over all n^2 entries: twice the sum over i < j
    for start, stop, dx, dy in _distance_blocks(xc, yc):
        difference = dx.sub_(dy)
        total += symmetric_inner(difference, difference, stop - start)
    return torch.sqrt(total / (n * (n - 1)))
