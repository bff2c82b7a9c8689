"""Canonical correlation analysis and its descendants: mean CCA, Yanai's R^2, SVCCA and PWCCA.

The canonical correlations rho_i of X and Y are the cosines of the principal angles between the column
spaces of Xc and Yc: the singular values of Qx^T Qy for orthonormal bases Qx, Qy. The bases come from a
thin QR followed by an SVD of R, which is rank-revealing: directions of numerically zero variance (dead
units, duplicated channels) are dropped instead of producing spurious correlations.
"""
from __future__ import annotations

import numpy as np
import torch

from metrics import _formulas, _naive
from metrics._formulas import kept_directions
from metrics._inputs import InputError, check_not_saturated
from metrics._linalg import GRAM_ROUTE_ERROR, Factor, center, center_unit, factor, gram_basis, gram_cross
from metrics._registry import register

RAGHU_2017 = "Raghu et al. 2017, SVCCA: Singular Vector Canonical Correlation Analysis (NeurIPS)"
KORNBLITH_2019 = "Kornblith et al. 2019, Similarity of Neural Network Representations Revisited (ICML)"
MORCOS_2018 = "Morcos, Raghu, Bengio 2018, Insights on representational similarity in neural networks (NeurIPS)"


def _factors(x: torch.Tensor, y: torch.Tensor) -> tuple[Factor, Factor, torch.Tensor]:
    """Rank-revealing factors of Xc and Yc and the cross product of their orthonormal bases Qx^T Qy."""
    fx, fy = factor(center(x)), factor(center(y))
    return fx, fy, fx.q.T @ fy.q


def _canonical_correlations(fx: Factor, fy: Factor, qxqy: torch.Tensor, kx: int, ky: int, n: int):
    """SVD of the cross matrix of the top-kx and top-ky singular directions: (U, rho) with rho descending."""
    check_not_saturated("X", kx, n)
    check_not_saturated("Y", ky, n)
    m = fx.basis_coordinates(kx).T @ qxqy @ fy.basis_coordinates(ky)
    u, rho, _ = torch.linalg.svd(m, full_matrices=False)
    return u, rho


def _all_correlations(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    fx, fy, qxqy = _factors(x, y)
    return _canonical_correlations(fx, fy, qxqy, fx.rank, fy.rank, x.shape[0])[1]


_CCA = dict(
    symmetric=True,
    invariances={"invertible_linear", "translation"},
    bounds=(0.0, 1.0),
    backend="torch",
    needs_n_above_p="both",
)
#: QR of both sides, the product of the bases and its singular values.
_CCA_BOUND = ("QR(X)", "QR(Y)", "Qx^T Qy", "svdvals(Qx^T Qy)")


def _reference_cca_mean(x, y) -> float:
    """Independent route: (1/m) sum_i rho_i, rho the singular values of Sxx^{-1/2} Sxy Syy^{-1/2} with the
    inverse square roots of the covariances from scipy.linalg.sqrtm (no QR)."""
    return float(np.mean(_naive.canonical_correlations(x, y)))


@register(
    "cca_mean",
    reference_route=_reference_cca_mean,
    reference=RAGHU_2017,
    streaming=_formulas.cca_mean,
    speed_bound=_CCA_BOUND,
    **_CCA,
)
def cca_mean(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean canonical correlation, (1/m) sum_i rho_i over the m = min(rank Xc, rank Yc) correlations.

    rho_i are the singular values of Qx^T Qy (thin QR of Xc and Yc). Refused for p >= n - 1.
    """
    return _all_correlations(x, y).mean()


def _reference_cca_mean_sq(x, y) -> float:
    """Independent route: (1/m) sum_i rho_i^2 from the whitened cross-covariance (see ``cca_mean``'s)."""
    return float(np.mean(_naive.canonical_correlations(x, y) ** 2))


@register(
    "cca_mean_sq",
    reference_route=_reference_cca_mean_sq,
    reference=KORNBLITH_2019 + " (Yanai's R^2_CCA)",
    streaming=_formulas.cca_mean_sq,
    speed_bound=_CCA_BOUND,
    **_CCA,
)
def cca_mean_sq(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared canonical correlation, (1/m) sum_i rho_i^2 (Yanai's R^2_CCA)."""
    return _all_correlations(x, y).square().mean()


def _reference_svcca(x, y, threshold: float = 0.99) -> float:
    """Independent route: U_k S_k of numpy's SVD of each centered side, k counted by a loop over the squared
    singular values, then the mean canonical correlation from the whitened cross-covariance."""

    def truncated(a):
        u, s, _ = np.linalg.svd(_naive.centered(a), full_matrices=False)
        k = _naive.svd_truncation_count(s, threshold)
        return u[:, :k] * s[:k]

    return float(np.mean(_naive.canonical_correlations(truncated(x), truncated(y))))


@register(
    "svcca",
    reference_route=_reference_svcca,
    symmetric=True,
    invariances={"orthogonal", "isotropic_scaling", "translation"},
    bounds=(0.0, 1.0),
    reference=RAGHU_2017,
    backend="torch",
    streaming=_formulas.svcca,
    speed_bound=_CCA_BOUND + ("svd(Rx)", "svd(Ry)"),  # the singular directions of each side
)
def svcca(x: torch.Tensor, y: torch.Tensor, threshold: float = 0.99) -> torch.Tensor:
    """SVCCA: per side keep the top-k singular directions U_k S_k of the centered data, k the fewest whose
    squared singular values reach ``threshold`` (99 %) of the total, then the mean canonical correlation.

    We follow the paper (Raghu et al. 2017: keep the directions that explain 99 % of the variance).
    Published code differs: Google's svcca tutorials keep a fixed number of directions the user picks
    (e.g. 20 or 50), and platonic-rep's ``svcca`` z-scores every unit and keeps ``cca_dim = 10``.
    """
    if not 0 < threshold <= 1:
        raise InputError(f"threshold must be in (0, 1], got {threshold}")
    fx, fy, qxqy = _factors(x, y)
    kx = min(kept_directions(fx.s, threshold), fx.rank)
    ky = min(kept_directions(fy.s, threshold), fy.rank)
    return _canonical_correlations(fx, fy, qxqy, kx, ky, x.shape[0])[1].mean()


def _reference_pwcca(x, y) -> float:
    """Independent route, Morcos et al.'s recipe: canonical variates of X (Xc A) orthonormalized by numpy's
    QR into H; weights a_i = sum_j |<h_i, x_j>| over the columns x_j of Xc, normalized to sum 1;
    sum_i a_i rho_i."""
    xc = _naive.centered(x)
    rho, a = _naive.cca_whitened(x, y)
    h, _ = np.linalg.qr(xc @ a)
    weights = np.abs(h.T @ xc).sum(axis=1)
    return float(np.sum(weights / weights.sum() * rho))


@register(
    "pwcca",
    reference_route=_reference_pwcca,
    symmetric=False,
    invariances={"permutation", "isotropic_scaling", "translation"},
    y_invariances={"invertible_linear"},
    bounds=(0.0, 1.0),
    reference=MORCOS_2018,
    backend="torch",
    needs_n_above_p="both",
    streaming=_formulas.pwcca,
    # the Gram route of well-conditioned inputs: Cholesky bases, the canonical directions for the weights
    # (the SVD of the p1 x p2 basis product, the size of svd(Xc^T Yc))
    speed_bound=("XtX", "YtY", "XtY", "eigvalsh(XtX)", "eigvalsh(YtY)", "cholesky(XtX)", "cholesky(YtY)",
                 "svd(Xc^T Yc)"),
)
def pwcca(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Projection-weighted CCA: sum_i a_i rho_i with a_i = sum_j |<h_i, x_j>| normalized to sum 1.

    h_i are the orthonormal canonical variates of X (the first argument), x_j the columns of Xc. With
    Xc = Q R and the canonical directions U of X in Q's coordinates, H^T Xc = U^T R.

    Routes: where X and Y are well conditioned from the p x p products and two Cholesky factors
    (:func:`_pwcca_from_gram`), else, and for correlations near 1, by the QR route below.

    We follow the paper (Morcos et al. 2018): the weights come from the first argument, on centred data.
    Google's released ``compute_pwcca`` (google/svcca, pwcca.py) instead weights by whichever side keeps
    fewer neurons after its epsilon filter, so its direction depends on the widths; in that branch it
    builds the second side's canonical directions from ``acts1`` (the wrong matrix when the widths
    differ), and it adds the neuron means back before orthonormalizing.
    """
    fast = _pwcca_from_gram(center_unit(x), center_unit(y))
    if fast is not None:
        return fast
    fx, fy, qxqy = _factors(x, y)
    n = x.shape[0]
    u, rho = _canonical_correlations(fx, fy, qxqy, fx.rank, fy.rank, n)
    one = 1 - 8 * n * torch.finfo(rho.dtype).eps  # correlations above this are 1 up to rounding
    shared = int((rho >= one).sum())
    if shared >= 2 and float(rho[-1]) < one:
        # X and Y share a subspace of dimension >= 2 exactly (p1 + p2 > n - 1 forces one). Any basis of it
        # is a set of canonical variates; the weights, and so the value, would be whatever the rounding
        # picks (a rescaled input moved it by 1e-2). With every correlation 1 the value is 1 regardless.
        raise InputError(
            f"X and Y share a {shared}-dimensional subspace exactly (canonical correlations of 1) while "
            "other correlations are below 1: the canonical variates of the shared part, and so the "
            "projection weights, are arbitrary (p1 + p2 > n - 1 forces this). Use more samples, cca_mean "
            "or svcca"
        )
    projections = (fx.basis_coordinates() @ u).T @ fx.r
    weights = projections.abs().sum(dim=1)
    return (weights * rho).sum() / weights.sum()


#: Canonical correlations within this of 1 are left to the QR route, which tells an exactly shared subspace
#: (refused by ``pwcca``) from rounding; the Gram route's correlations carry errors of e_X + e_Y.
GRAM_ROUTE_MAX_CORRELATION = 1 - 2.0**-20


def _pwcca_from_gram(xc: torch.Tensor, yc: torch.Tensor) -> float | None:
    """PWCCA by the Gram route (:func:`metrics._linalg.gram_basis`: X^T X, Y^T Y, X^T Y and two Cholesky
    factors, no n x p basis): with Xc = B_X T_X and B_X^T B_Y = U diag(rho) V^T, the canonical variates of
    X are H = B_X U and H^T Xc = U^T T_X. None where the route cannot promise
    :data:`metrics._linalg.GRAM_ROUTE_ERROR` (the weights and correlations carry relative errors of about
    e_X + e_Y, the value at most 4 (e_X + e_Y)) or a correlation is near 1."""
    bx, by = gram_basis(xc), gram_basis(yc)
    if bx is None or by is None:
        return None
    n = xc.shape[0]
    check_not_saturated("X", bx.s.size, n)
    check_not_saturated("Y", by.s.size, n)
    u, rho, _ = np.linalg.svd(gram_cross(bx, by, xc, yc), full_matrices=False)
    if rho[0] >= GRAM_ROUTE_MAX_CORRELATION:
        return None
    weights = np.abs(u.T @ bx.t).sum(axis=1)
    value = float(weights @ rho / weights.sum())
    return value if 4 * (bx.error + by.error) <= GRAM_ROUTE_ERROR * value else None
