"""Subspace measures: eigenspace overlap (May et al. 2019) and GULP (Boix-Adsera et al. 2022).

Both compare the column spaces of the two representations (the spans of their sample vectors' features)
through orthonormal bases from the rank-revealing factorization of :func:`metrics._linalg.factor` (thin
QR, then the SVD of the small R): no n x n matrix is ever formed.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from metrics import _naive
from metrics._inputs import InputError, check_not_saturated
from metrics._linalg import GRAM_ROUTE_ERROR, Factor, center_unit, factor, gram_basis, gram_cross
from metrics._registry import register

MAY_2019 = (
    "May, Zhang, Dao, Re 2019, On the Downstream Performance of Compressed Word Embeddings (NeurIPS), "
    "the eigenspace overlap score"
)
BOIX_ADSERA_2022 = (
    "Boix-Adsera, Lawrence, Stepaniants, Rigollet 2022, GULP: a prediction-based metric between "
    "representations (NeurIPS)"
)


def _basis_cross(fx: Factor, fy: Factor) -> torch.Tensor:
    """G = B_X^T B_Y for the orthonormal bases B = q u[:, :rank] of the two column spaces (r_X x r_Y)."""
    return fx.basis_coordinates().T @ (fx.q.T @ fy.q) @ fy.basis_coordinates()


def _reference_eigenspace_overlap(x, y) -> float:
    """Independent route: tr(P_X P_Y) / max(r_X, r_Y), uncentered, with the n x n orthogonal projections
    P = U_r U_r^T from numpy's full SVD and r = numpy.linalg.matrix_rank (its default tolerance)."""

    def projection(a):
        a = _naive.as_float(a)
        r = int(np.linalg.matrix_rank(a))
        u = np.linalg.svd(a, full_matrices=True)[0][:, :r]
        return u @ u.T, r

    (px, rx), (py, ry) = projection(x), projection(y)
    return float(np.trace(px @ py) / max(rx, ry))


@register(
    "eigenspace_overlap",
    reference_route=_reference_eigenspace_overlap,
    symmetric=True,
    invariances={"invertible_linear"},
    bounds=(0.0, 1.0),
    reference=MAY_2019,
    backend="torch",
    needs_n_above_p="both",
    speed_bound=("QR(X)", "QR(Y)", "Qx^T Qy", "svd(Rx)", "svd(Ry)"),
)
def eigenspace_overlap(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Eigenspace overlap score ||U_X^T U_Y||_F^2 / max(r_X, r_Y) (May et al. 2019).

    U_X, U_Y are orthonormal bases of the column spaces of the raw (uncentered) X and Y, of dimensions
    r_X, r_Y: the ranks by numpy's default ``matrix_rank`` tolerance (s_max max(n, p) eps). The bases come
    from a thin QR and the SVD of R: n x r, never the full n x n U of a complete SVD (ReSi's
    implementation forms that). Invariant to any invertible linear map of either side (the column space
    does not change), not to translation. A sum of r_min squared cosines of principal angles over
    max(r_X, r_Y), so in [0, 1]. Refused for p >= n, where a side can span all n dimensions (and then
    overlaps everything completely).
    """
    fx, fy = factor(x), factor(y)
    return _basis_cross(fx, fy).square().sum() / max(fx.rank, fy.rank)


def _ridge_weights(s, lam: float):
    """Eigenvalues s_i^2 / (s_i^2 + lam sum_j s_j^2) of H = A (A^T A + n lam I)^-1 A^T, A = Xc scaled to
    ||A||_F^2 = n (then A's squared singular values are n s_i^2 / sum_j s_j^2), from the nonzero singular
    values s of Xc."""
    s_sq = s**2
    return s_sq / (s_sq + lam * s_sq.sum())


def _orthogonal_part_gram(fx: Factor, fy: Factor, g: torch.Tensor) -> torch.Tensor:
    """S = R^T R for the part R = B_Y - B_X G of Y's basis orthogonal to X's column space (r_Y x r_Y).

    Formed from the explicit residual, not as I - G^T G, which would cancel to rounding noise when the
    two spaces nearly coincide (GULP of X with itself would be sqrt(eps), not 0).
    """
    residual = fy.q @ fy.basis_coordinates() - fx.q @ (fx.basis_coordinates() @ g)
    return residual.T @ residual


def _reference_gulp(x, y, lam: float = 0.0) -> float:
    """Independent route: ||H_X - H_Y||_F with the explicit n x n matrices H = A (A^T A + n lam I)^-1 A^T for
    A centered and scaled to ||A||_F = sqrt(n); at lam = 0 the projection A A^+ (numpy's pseudo-inverse)."""

    def hat(a):
        a = _naive.centered(a)
        n = a.shape[0]
        a = a * np.sqrt(n) / np.linalg.norm(a)
        if lam == 0:
            return a @ np.linalg.pinv(a)
        return a @ np.linalg.solve(a.T @ a + n * lam * np.eye(a.shape[1]), a.T)

    return float(np.linalg.norm(hat(x) - hat(y)))


@register(
    "gulp",
    reference_route=_reference_gulp,
    symmetric=True,
    invariances={"invertible_linear", "translation"},
    bounds=(0.0, float("inf")),
    higher_is_more_similar=False,
    reference=BOIX_ADSERA_2022 + " (the paper's distance; GULP's code, predictor_dist, and ReSi's copy of it return "
    "its square)",
    backend="torch",
    needs_n_above_p="both",
    # the Gram route the well-conditioned inputs of the speed benchmark take (lam = 0: Cholesky bases)
    speed_bound=("XtX", "YtY", "XtY", "eigvalsh(XtX)", "eigvalsh(YtY)", "cholesky(XtX)", "cholesky(YtY)"),
)
def gulp(x: torch.Tensor, y: torch.Tensor, lam: float = 0.0) -> torch.Tensor | float:
    """GULP distance ||H_X - H_Y||_F (Boix-Adsera et al. 2022), H = A (A^T A + n lam I)^-1 A^T for each
    side A = Xc centered and scaled to ||A||_F = sqrt(n).

    With B_X the orthonormal basis of Xc's column space and f_i = s_i^2 / (s_i^2 + lam sum_j s_j^2) (s the
    singular values of Xc), H_X = B_X diag(f) B_X^T. Writing B_Y = B_X G + R (G = B_X^T B_Y, R orthogonal
    to X's space, S = R^T R), in the orthonormal basis [B_X, R S^-1/2]:
    ||H_X - H_Y||_F^2 = ||diag(f_X) - G F_Y G^T||_F^2 + 2 tr(G F_Y S F_Y G^T) + tr(F_Y S F_Y S),
    every term small when the spaces are close (no cancellation; GULP(X, X) = 0 to rounding).
    At lam = 0, H is the projection on the column space and GULP = sqrt(r_X + r_Y - 2 sum_i rho_i^2) with
    rho the canonical correlations. A distance: 0 for identical inputs, at most sqrt(r_X + r_Y).

    The paper's distance, a metric. GULP's released code (``predictor_dist`` in sgstepaniants/GULP, which
    ReSi copies) returns ||H_X - H_Y||_F^2, the square of this value; ReSi also normalizes as here
    (centred, ||A||_F = sqrt(n)).

    Routes: where X and Y are well conditioned (kappa <= 64, p < n) from X^T X, Y^T Y, X^T Y and p x p
    factorizations (:func:`_gulp_from_gram`), as GULP's own code does, with an error estimate that hands
    over to the rank-revealing QR route of both sides wherever it cannot promise 1.5e-11 relative.

    Declared invariances are those of the default lam = 0 (invertible linear maps, translation); for
    lam > 0 they shrink to orthogonal maps, isotropic scaling and translation. Refused for p >= n (and, at
    lam = 0, for a side spanning all n - 1 centered dimensions), where the projections coincide whatever
    the data.
    """
    if not lam >= 0:
        raise InputError(f"lam must be >= 0, got {lam}")
    xc, yc = center_unit(x), center_unit(y)  # each times a power of two: exact, and GULP does not see it
    fast = _gulp_from_gram(xc, yc, lam)
    if fast is not None:
        return fast
    fx, fy = factor(xc), factor(yc)
    if lam == 0:
        check_not_saturated("X", fx.rank, x.shape[0])
        check_not_saturated("Y", fy.rank, x.shape[0])
    g = _basis_cross(fx, fy)
    return _gulp_squared(_ridge_weights(fx.s[: fx.rank], lam), _ridge_weights(fy.s[: fy.rank], lam), g,
                         _orthogonal_part_gram(fx, fy, g)).clamp(min=0).sqrt()  # fmt: skip


def _gulp_squared(wx, wy, g, s):
    """||H_X - H_Y||_F^2 = ||diag(f_X) - G F_Y G^T||_F^2 + 2 tr(G F_Y S F_Y G^T) + tr(F_Y S F_Y S) (see ``gulp``;
    torch tensors or numpy arrays)."""
    g_fy = g * wy  # G F_Y
    within = -(g_fy @ g.T)
    within[range(len(wx)), range(len(wx))] += wx  # diag(f_X) - G F_Y G^T
    s_fy = s * wy  # S F_Y
    return (within**2).sum() + 2 * (g_fy @ s * g_fy).sum() + (s_fy * s_fy.T).sum()


def _gulp_from_gram(xc: torch.Tensor, yc: torch.Tensor, lam: float) -> float | None:
    """GULP by the Gram route (:func:`metrics._linalg.gram_basis`: X^T X, Y^T Y, X^T Y and p x p
    factorizations, no n x p basis); None where the route cannot promise
    :data:`metrics._linalg.GRAM_ROUTE_ERROR`. At lam = 0 the projections' distance is
    r_X + r_Y - 2 ||B_X^T B_Y||_F^2 in any orthonormal bases (Cholesky ones); for lam > 0 the formula of
    ``gulp`` in the singular bases, with S = I - G^T G. G carries the relative error e_X + e_Y of the two
    bases, so the squared distance moves by at most about 4 (e_X + e_Y) (sum f_X^2 + sum f_Y^2); it cancels
    where the spaces nearly coincide, so near 0 (GULP(X, X)) the QR route decides."""
    bx, by = gram_basis(xc, singular=lam > 0), gram_basis(yc, singular=lam > 0)
    if bx is None or by is None:
        return None
    if lam == 0:
        check_not_saturated("X", bx.s.size, xc.shape[0])
        check_not_saturated("Y", by.s.size, xc.shape[0])
    g = gram_cross(bx, by, xc, yc)
    wx, wy = _ridge_weights(bx.s, lam), _ridge_weights(by.s, lam)
    total = float(wx @ wx + wy @ wy)
    if lam == 0:
        squared = total - 2 * float(np.vdot(g, g))
    else:
        squared = float(_gulp_squared(wx, wy, g, np.eye(g.shape[1]) - g.T @ g))
    if not 4 * (bx.error + by.error) * total <= 2 * GRAM_ROUTE_ERROR * squared:  # d's relative error: half d^2's
        return None
    return math.sqrt(squared)
