"""Shape metrics: orthogonal Procrustes similarity and the normalized Bures similarity; the Procrustes
distances (size-and-shape, angular, permutation), the partially whitened angular shape metric, and the
aligned cosine.

For linear kernels both similarities reduce to the nuclear norm of the cross-covariance,
tr((K^1/2 L K^1/2)^1/2) = ||Xc^T Yc||_* with K = Xc Xc^T, L = Yc Yc^T, and tr K = ||Xc||_F^2,
so the two names give one number (checked against independent routes in the tests). The distances of
Williams et al. 2021 are built on the same nuclear norm (size-and-shape, angular), on partial whitening
(shape_metric, between the Procrustes and the CCA angle) or on an assignment of units (permutation).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from metrics import _formulas, _naive
from metrics._inputs import InputError, check_not_saturated
from metrics._linalg import (
    GRAM_ROUTE_ERROR,
    center,
    center_unit,
    cross,
    factor,
    gram_basis,
    gram_cross,
    row_sq_norms,
    squares_in_range,
    sum_sq,
    take_columns,
    unit_scaled,
)
from metrics._registry import register, snap_tolerance

DING_2021 = "Ding, Denain, Steinhardt 2021, Grounding Representation Similarity with Statistical Testing (NeurIPS)"
WILLIAMS_2021 = "Williams et al. 2021, Generalized Shape Metrics on Neural Representations (NeurIPS)"
TANG_2020 = "Tang et al. 2020, Similarity of Neural Networks with Gradients (arXiv:2003.11498)"


def _compress(xc: torch.Tensor) -> torch.Tensor:
    """An n x min(n, p) matrix with the same inner products Xc Xc^T: Xc itself, or R^T of QR(Xc^T)."""
    n, p = xc.shape
    if p <= n:
        return xc
    return torch.linalg.qr(xc.T, mode="r")[1].T


def bures_fidelity(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(||Xc^T Yc||_*, ||Xc||_F ||Yc||_F) for centered data, in feature space, compressing p > n first."""
    xc, yc = _compress(center_unit(x)), _compress(center_unit(y))
    nuclear = float(torch.linalg.svdvals(cross(xc, yc)).sum())
    return nuclear, math.sqrt(sum_sq(xc)) * math.sqrt(sum_sq(yc))


_SHAPE = dict(
    symmetric=True,
    invariances={"orthogonal", "isotropic_scaling", "translation"},
    bounds=(0.0, 1.0),
    backend="torch",
)
#: The cross product and its singular values (its nuclear norm).
_NUCLEAR = dict(streaming=_formulas.procrustes, speed_bound=("XtY", "svdvals(Xc^T Yc)"))


def _reference_procrustes(x, y) -> float:
    """Independent route: <Xc R, Yc>_F / (||Xc||_F ||Yc||_F) with R = argmin_{R^T R = I} ||Xc R - Yc||_F from
    scipy.linalg.orthogonal_procrustes (the narrower input padded with zero columns), no nuclear norm."""
    return _naive.procrustes_cosine(_naive.centered(x), _naive.centered(y))


@register(
    "procrustes", reference_route=_reference_procrustes, reference=f"{DING_2021}; {WILLIAMS_2021}", **_SHAPE, **_NUCLEAR
)
def procrustes(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Orthogonal Procrustes similarity ||Xc^T Yc||_* / (||Xc||_F ||Yc||_F) in [0, 1].

    It is max over orthogonal Q of <Xc / ||Xc||, Yc Q / ||Yc||>; the Procrustes distance of the unit-norm
    representations is 2 - 2 s, the angle arccos s.
    """
    nuclear, norms = bures_fidelity(x, y)
    return nuclear / norms


def _reference_nbs(x, y) -> float:
    """Independent route: tr((K^{1/2} L K^{1/2})^{1/2}) / sqrt(tr K tr L), K = H X X^T H, L = H Y Y^T H, with
    K^{1/2} from scipy.linalg.sqrtm of the n x n matrix."""
    k, l = _naive.double_centered(_naive.linear_gram(x)), _naive.double_centered(_naive.linear_gram(y))
    root = _naive.psd_sqrtm(k)
    return _naive.trace_sqrt_psd(root @ l @ root) / np.sqrt(np.trace(k) * np.trace(l))


@register("nbs", reference_route=_reference_nbs, reference=TANG_2020, **_SHAPE, **_NUCLEAR)
def nbs(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Normalized Bures similarity tr((K^1/2 L K^1/2)^1/2) / sqrt(tr K tr L) of K = Xc Xc^T, L = Yc Yc^T.

    The fidelity of the linear kernels equals ||Xc^T Yc||_*, computed without any n x n matrix square root.
    """
    nuclear, norms = bures_fidelity(x, y)
    return nuclear / norms


# ----------------------------------------------------------------------------------------------------
# Procrustes distances, the angular shape metric and its partially whitened family, aligned cosine.
# Each streamable one has its formula on the co-moments beside it (``_stream_*``, :mod:`metrics._formulas`).
# ----------------------------------------------------------------------------------------------------
HAMILTON_2016 = (
    "Hamilton, Leskovec, Jurafsky 2016, Diachronic Word Embeddings Reveal Statistical Laws of Semantic Change (ACL)"
)


def angle(cosine: torch.Tensor | float, dtype: torch.dtype, n: int) -> float:
    """arccos of a cosine, with a cosine within rounding of 1 returned as the angle 0.

    Near 1, arccos(1 - d) ~ sqrt(2 d): a cosine 1e-15 short of 1 (rounding) would read as an angle of
    4e-8, far above the rounding of an angle. A cosine within the registry's rounding of 1
    (:func:`metrics._registry.snap_tolerance`, SNAP_ULPS sqrt(n) eps) gives 0: angles below
    sqrt(2 snap_tolerance) (1.7e-7 n^(1/4) in float64) are below what a cosine can resolve.
    """
    c = float(cosine)
    return 0.0 if c >= 1.0 - snap_tolerance(1.0, dtype, n) else math.acos(max(c, -1.0))


def distance_from_squares(squared: float, scale: float, dtype: torch.dtype, n: int) -> float:
    """sqrt of a squared distance computed as a difference of terms of size ``scale`` (||X||^2 + ||Y||^2
    - 2 ...): within rounding of 0 (the registry's snap_tolerance relative to ``scale``) it is 0."""
    return 0.0 if squared <= snap_tolerance(1.0, dtype, n) * scale else math.sqrt(squared)


def _procrustes_terms(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, float]:
    """(||Xc||_F^2, ||Yc||_F^2, ||Xc^T Yc||_*) of the centered data, unscaled (p > n compressed first)."""
    xc, yc = _compress(center(x)), _compress(center(y))
    return sum_sq(xc), sum_sq(yc), float(torch.linalg.svdvals(cross(xc, yc)).sum())


def _size_shape(xx: float, yy: float, nuclear: float, dtype: torch.dtype, n: int) -> float:
    return distance_from_squares(xx + yy - 2.0 * nuclear, xx + yy, dtype, n)


def _stream_procrustes_size_shape(d: _formulas.Derived) -> float:
    """From the co-moments: ||Xc^T Yc||_* = sqrt(tx ty) ||d.xy||_* (d.xy is scaled by the total variances)."""
    tx, ty = float(d.tx), float(d.ty)
    return _size_shape(tx, ty, math.sqrt(tx * ty) * float(_formulas.procrustes(d)), d.xy.dtype, int(d.n))


def _reference_procrustes_size_shape(x, y) -> float:
    """Independent route: ||Xc R - Yc||_F, the residual of scipy's orthogonal Procrustes fit itself (no
    nuclear-norm formula)."""
    xp, yp, r = _naive.procrustes_rotation(_naive.centered(x), _naive.centered(y))
    return float(np.linalg.norm(xp @ r - yp))


@register(
    "procrustes_size_shape",
    reference_route=_reference_procrustes_size_shape,
    symmetric=True,
    invariances={"orthogonal", "translation"},
    bounds=(0.0, math.inf),
    higher_is_more_similar=False,
    reference=WILLIAMS_2021 + " (the size-and-shape Procrustes distance; Klabunde et al. 2023 survey)",
    backend="torch",
    streaming=_stream_procrustes_size_shape,
    speed_bound=("XtY", "svdvals(Xc^T Yc)"),
)
def procrustes_size_shape(x: torch.Tensor, y: torch.Tensor) -> float:
    """Size-and-shape Procrustes distance min_Q ||Xc Q - Yc||_F over orthogonal Q (narrower side padded).

    d = sqrt(max(0, ||Xc||_F^2 + ||Yc||_F^2 - 2 ||Xc^T Yc||_*)) (Williams et al. 2021; Kendall's
    size-and-shape distance). Invariant to rotations and translations of either side, not to scaling: it
    is in the units of the data. The difference cancels when X and Y nearly coincide; a squared distance
    within rounding of ||Xc||^2 + ||Yc||^2 (:func:`distance_from_squares`) is 0, so distances below about
    sqrt(SNAP_ULPS sqrt(n) eps (||Xc||^2 + ||Yc||^2)) are not resolved.
    """
    return _size_shape(*_procrustes_terms(x, y), x.dtype, x.shape[0])


def _stream_procrustes_angular(d: _formulas.Derived) -> float:
    return angle(_formulas.procrustes(d), d.xy.dtype, int(d.n))


def _reference_procrustes_angular(x, y) -> float:
    """Independent route: arccos(<Xc R, Yc> / (||Xc|| ||Yc||)) with scipy's rotation R."""
    return _naive.arccos_clipped(_naive.procrustes_cosine(_naive.centered(x), _naive.centered(y)))


@register(
    "procrustes_angular",
    reference_route=_reference_procrustes_angular,
    symmetric=True,
    invariances={"orthogonal", "isotropic_scaling", "translation"},
    bounds=(0.0, math.pi / 2),
    higher_is_more_similar=False,
    reference=WILLIAMS_2021,
    backend="torch",
    streaming=_stream_procrustes_angular,
    speed_bound=("XtY", "svdvals(Xc^T Yc)"),
)
def procrustes_angular(x: torch.Tensor, y: torch.Tensor) -> float:
    """Angular Procrustes distance arccos(||Xc^T Yc||_* / (||Xc||_F ||Yc||_F)) in [0, pi/2].

    The angle between the centered, unit-norm representations after the best rotation (Williams et al.
    2021): arccos of ``procrustes``. A metric (it satisfies the triangle inequality). A cosine within
    rounding of 1 gives the angle 0 (:func:`angle`).
    """
    nuclear, norms = bures_fidelity(x, y)
    return angle(nuclear / norms, x.dtype, x.shape[0])


def _check_alpha(alpha: float) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be in [0, 1] (1: Procrustes angle, 0: CCA angle), got {alpha!r}")


def _partial_whitening(s: torch.Tensor, alpha: float) -> torch.Tensor:
    """Singular values alpha s_i / s_rms + (1 - alpha) of the partially whitened centered data, from the
    rank-many nonzero singular values s of Xc.

    s_rms = ||Xc||_F / sqrt(rank) is their root mean square: Xc / s_rms = U diag(s / s_rms) V^T and its
    whitened form U V^T have the same norm, sqrt(rank), and the partially whitened data is their mix
    alpha Xc / s_rms + (1 - alpha) U V^T.
    """
    return alpha * s / torch.sqrt(s.square().mean()) + (1.0 - alpha)


def _shape_angle(bases: torch.Tensor, sx: torch.Tensor, sy: torch.Tensor, alpha: float, n: int) -> float:
    """The angle of the partially whitened sides, from the cross product of their orthonormal column-space
    bases (U_x^T U_y, in the coordinates of the singular directions) and their singular values."""
    wx, wy = _partial_whitening(sx, alpha), _partial_whitening(sy, alpha)
    nuclear = torch.linalg.svdvals(wx[:, None] * bases * wy[None, :]).sum()
    return angle(nuclear / (torch.linalg.vector_norm(wx) * torch.linalg.vector_norm(wy)), bases.dtype, n)


def _check_alpha_zero_not_saturated(alpha: float, rank_x: int, rank_y: int, n: int) -> None:
    if alpha == 0.0:
        check_not_saturated("X", rank_x, n)
        check_not_saturated("Y", rank_y, n)


def _stream_shape_metric(d: _formulas.Derived, alpha: float = 0.5) -> float:
    """From the two covariance spectra: Xc W_x (W = V_r diag(values_r)^(-1/2)) are the left singular
    vectors of Xc, so W_x^T Xc^T Yc W_y = U_x^T U_y; the singular values of Xc are sqrt(values) (up to the
    common factor of d's scaling, which s / s_rms removes). Ranks by the covariance rule of
    :class:`metrics._formulas.Spectrum` (the same as the in-memory QR route on well-conditioned data)."""
    _check_alpha(alpha)
    sx, sy = d.spectrum_x, d.spectrum_y
    _check_alpha_zero_not_saturated(alpha, sx.rank, sy.rank, int(d.n))
    bases = sx.whitener(sx.rank).T @ d.xy @ sy.whitener(sy.rank)
    return _shape_angle(bases, torch.sqrt(sx.values[: sx.rank]), torch.sqrt(sy.values[: sy.rank]), alpha, int(d.n))


def _reference_shape_metric(x, y, alpha: float = 0.5) -> float:
    """Independent route: arccos of the Procrustes cosine (scipy's rotation, padded) of the partially
    whitened sides U_r diag(alpha s_r + 1 - alpha) V_r^T from numpy's SVD of Xc / s_rms."""
    return _naive.arccos_clipped(
        _naive.procrustes_cosine(_naive.partially_whitened_svd(x, alpha), _naive.partially_whitened_svd(y, alpha))
    )


@register(
    "shape_metric",
    reference_route=_reference_shape_metric,
    symmetric=True,
    invariances={"orthogonal", "isotropic_scaling", "translation"},
    bounds=(0.0, math.pi / 2),
    higher_is_more_similar=False,
    reference=WILLIAMS_2021 + " (each side scaled to unit RMS singular value first: netrep's "
    "LinearMetric(alpha, score_method='angular') on inputs so scaled; on raw inputs netrep differs for 0 < alpha < 1)",
    backend="torch",
    streaming=_stream_shape_metric,
    # the Gram route of well-conditioned inputs: the singular directions from the p x p eigendecompositions,
    # the singular values of the p1 x p2 whitened cross product (the size of svdvals(Xc^T Yc))
    speed_bound=("XtX", "YtY", "XtY", "eigh(XtX)", "eigh(YtY)", "svdvals(Xc^T Yc)"),
)
def shape_metric(x: torch.Tensor, y: torch.Tensor, alpha: float = 0.5) -> float:
    """Angular shape metric of the partially whitened representations (Williams et al. 2021).

    Each side is centered and scaled to unit mean squared singular value, X~ = Xc / s_rms with
    s_rms = ||Xc||_F / sqrt(rank Xc), then partially whitened, phi(X) = X~ (alpha I + (1 - alpha) C^(-1/2))
    with C = X~^T X~ (on the column space of Xc; directions of numerically zero variance are dropped).
    The value is the angle arccos(||phi(X)^T phi(Y)||_* / (||phi(X)||_F ||phi(Y)||_F)) after the best
    rotation, the narrower side zero-padded (padding does not change the nuclear norm). With
    Xc = U diag(s) V^T, phi(X) = U diag(alpha s / s_rms + 1 - alpha) V^T; only the Us and the weights
    enter, through the SVD of the QR factor of Xc (no covariance is formed, no condition number squared).

    Where both sides are well conditioned the singular directions come from X^T X, Y^T Y and X^T Y
    (:func:`_shape_metric_from_gram`), else, and for angles too small for that route, from the QR factor.

    - alpha = 1: the angular Procrustes distance (``procrustes_angular``, whose route it then takes).
    - alpha = 0: arccos(sum_i rho_i / sqrt(rank Xc rank Yc)), rho the canonical correlations: arccos of
      ``cca_mean`` when both ranks are equal, and refused, like CCA, when a side spans all n - 1 centered
      dimensions (every rho is then 1).

    Williams et al. and netrep whiten with C = Xc^T Xc unscaled, so that their value for 0 < alpha < 1
    changes when the data is multiplied by a constant or the samples are duplicated (singular values
    alpha s_i + 1 - alpha mix the data's units with 1). Scaling each side by s_rms first keeps the metric
    invariant to isotropic scaling at every alpha; at alpha = 0 and 1 both definitions agree. So this
    value is netrep's ``LinearMetric(alpha=alpha, score_method="angular")`` on Xc / s_rms and Yc / s_rms,
    and differs from netrep on raw inputs at the default alpha = 0.5.

    Args:
        alpha: regularization in [0, 1]; 1 keeps the data (rotations only), 0 whitens it fully.
    """
    _check_alpha(alpha)
    if alpha == 1.0:  # nothing is whitened: the nuclear norm of Xc^T Yc, without the two QRs (4x faster)
        return procrustes_angular.fn(x, y)
    xc, yc = center_unit(x), center_unit(y)  # each times a power of two: exact, and the angle does not see it
    fast = _shape_metric_from_gram(xc, yc, alpha)
    if fast is not None:
        return fast
    fx, fy = factor(xc), factor(yc)
    _check_alpha_zero_not_saturated(alpha, fx.rank, fy.rank, x.shape[0])
    bases = fx.basis_coordinates().T @ cross(fx.q, fy.q) @ fy.basis_coordinates()
    return _shape_angle(bases, fx.s[: fx.rank], fy.s[: fy.rank], alpha, x.shape[0])


def _shape_metric_from_gram(xc: torch.Tensor, yc: torch.Tensor, alpha: float) -> float | None:
    """The shape metric by the Gram route (:func:`metrics._linalg.gram_basis` with the singular directions:
    X^T X, Y^T Y, X^T Y and two p x p eigendecompositions, no n x p basis). None where the route cannot
    promise :data:`metrics._linalg.GRAM_ROUTE_ERROR`: the cosine carries an error of about 4 (e_X + e_Y),
    the angle that error over sin(angle), so small angles are left to the QR route."""
    bx, by = gram_basis(xc, singular=True), gram_basis(yc, singular=True)
    if bx is None or by is None:
        return None
    _check_alpha_zero_not_saturated(alpha, bx.s.size, by.s.size, xc.shape[0])
    bases = torch.from_numpy(gram_cross(bx, by, xc, yc))
    value = _shape_angle(bases, torch.from_numpy(bx.s), torch.from_numpy(by.s), alpha, xc.shape[0])
    if not 4 * (bx.error + by.error) <= GRAM_ROUTE_ERROR * value * math.sin(value):
        return None
    return value


def _best_matching(cross_product: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The column matching maximizing tr(P^T X^T Y) with the narrower side zero-padded (scipy's
    ``linear_sum_assignment`` on the p1 x p2 X^T Y): (partners, unmatched), unit j = 0..min(p1, p2)-1 of
    the narrower side (Y when p1 > p2) paired with unit partners[j] of the wider side, whose other
    (``unmatched``) units meet zero columns."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cross_product, maximize=True)
    p1, p2 = cross_product.shape
    # every unit of the narrower side is matched: rows is 0..p1-1 (p1 <= p2), or cols sorts to 0..p2-1
    partners = cols if p1 <= p2 else rows[np.argsort(cols)]
    unmatched = np.ones(max(p1, p2), dtype=bool)
    unmatched[partners] = False
    return partners, np.flatnonzero(unmatched)


def _stream_procrustes_permutation(d: _formulas.Derived) -> float:
    """From the co-moments and means: X^T Y = Xc^T Yc + n m_x m_y^T and ||x_j||^2 = (Xc^T Xc)_jj + n m_xj^2;
    ||X P - Y||^2 = ||X||^2 + ||Y||^2 - 2 tr(P^T X^T Y), with the rounding rule of the distances."""
    m = d.moments
    raw = m.xy + m.count * torch.outer(m.mean_x, m.mean_y)
    partners, _ = _best_matching(raw.cpu().numpy())
    narrow, wide = torch.arange(len(partners), device=raw.device), torch.as_tensor(partners, device=raw.device)
    pairs = raw[narrow, wide] if raw.shape[0] <= raw.shape[1] else raw[wide, narrow]
    norms = float(torch.diagonal(m.xx).sum() + m.count * m.mean_x.square().sum())
    norms += float(torch.diagonal(m.yy).sum() + m.count * m.mean_y.square().sum())
    return distance_from_squares(norms - 2.0 * float(pairs.sum()), norms, raw.dtype, int(m.count))


def _reference_procrustes_permutation(x, y) -> float:
    """Independent route: ||Xp P - Yp||_F with Xp, Yp zero-padded and the permutation matrix P from scipy's
    assignment on the square padded Xp^T Yp (maximizing), formed explicitly."""
    from scipy.optimize import linear_sum_assignment

    xp, yp = _naive.padded(_naive.as_float(x), _naive.as_float(y))
    rows, cols = linear_sum_assignment(xp.T @ yp, maximize=True)
    p = np.zeros((xp.shape[1], xp.shape[1]))
    p[rows, cols] = 1.0
    return float(np.linalg.norm(xp @ p - yp))


@register(
    "procrustes_permutation",
    reference_route=_reference_procrustes_permutation,
    symmetric=True,
    invariances={"permutation"},
    bounds=(0.0, math.inf),
    higher_is_more_similar=False,
    reference=WILLIAMS_2021 + " (permutation Procrustes distance; Klabunde et al. 2023 survey), uncentered as "
    "ReSi computes it; netrep's PermutationMetric centres the columns by default",
    backend="torch",
    streaming=_stream_procrustes_permutation,
    speed_bound=("XtY", "assignment(XtY)"),
)
def procrustes_permutation(x: torch.Tensor, y: torch.Tensor) -> float:
    """Permutation Procrustes distance min_P ||X P - Y||_F over column matchings, uncentered and unscaled.

    The narrower side is padded with zero columns and P is the permutation maximizing tr(P^T X^T Y)
    (scipy's ``linear_sum_assignment`` on the p1 x p2 matrix X^T Y: min(p1, p2) matched pairs, every
    other column of the wider side meets a zero column). The distance is then computed from the
    matched columns themselves, ||X_matched - Y_matched||_F^2 + ||unmatched columns||_F^2, not from
    ||X||^2 + ||Y||^2 - 2 tr, which would cancel: identical inputs give exactly 0 (the streaming form
    has only the sums, and the rounding rule of :func:`distance_from_squares`). Invariant to
    permuting the units of either side only; in the data's units, not centered (Williams et al. 2021).

    Uncentered, as ReSi computes it. netrep's ``PermutationMetric`` centres the columns by default
    (``center_columns=True``) and so gives a different, translation-invariant number: centre both inputs
    first to get it.
    """
    partners, unmatched = _best_matching(cross(x, y).cpu().numpy())
    narrow, wide = (x, y) if x.shape[1] <= y.shape[1] else (y, x)
    rest = sum_sq(take_columns(wide, unmatched)) if unmatched.size else 0.0
    return math.sqrt(sum_sq(narrow - take_columns(wide, partners)) + rest)


def _reference_aligned_cosine(x, y) -> float:
    """Independent route: mean_i cos((Xp R)_i, (Yp)_i), R from scipy.linalg.orthogonal_procrustes on the
    padded uncentered data, the cosines by a loop over the rows."""
    xp, yp, r = _naive.procrustes_rotation(x, y)
    rotated = xp @ r
    return float(np.mean([a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for a, b in zip(rotated, yp)]))


@register(
    "aligned_cosine",
    reference_route=_reference_aligned_cosine,
    symmetric=True,
    invariances={"orthogonal", "isotropic_scaling"},
    bounds=(-1.0, 1.0),
    reference=HAMILTON_2016,
    backend="torch",
    speed_bound=("XtY", "svd(Xc^T Yc)", "XtY"),
)
def aligned_cosine(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean over samples of cos((X Q)_i, y_i), Q the orthogonal Procrustes rotation of uncentered X onto Y.

    The narrower side is padded with zero columns and Q = argmin ||X Q - Y||_F (Hamilton et al. 2016).
    With X^T Y = U S V^T (thin SVD), the part of Q that meets the unpadded columns is W = U V^T
    (p1 x p2), so (X Q)_i . y_i = (X W)_i . y_i and ||(X Q)_i|| = ||x_i||. Symmetric (Y onto X uses W^T),
    invariant to rotations and to isotropic scaling of either side (ReSi declares no scale invariance
    for it: cosines do not see scale), not to translation (nothing is centered). Where X^T Y has rank
    below min(p1, p2) the rotation, and with it the value, is not unique. A sample whose row is zero in
    X or in Y (every ReLU off) has no cosine and is left out of the mean, as ReSi does; it adds nothing
    to X^T Y, so the rotation is that of the other samples. Where a side's squared row norms leave the
    range of :func:`metrics._linalg.squares_in_range`, it is first multiplied by the power of two that
    brings its largest entry into [0.5, 1) (exact), so that scales from 1e-150 to 1e150 give the same
    value (unscaled, the product of row norms overflowed from 1e80 on and underflowed below 1e-90). Not
    streamable: it needs every sample's cosine.
    """
    sq_x, sq_y = row_sq_norms(x), row_sq_norms(y)
    if not (squares_in_range(float(sq_x.max()), x.dtype) and squares_in_range(float(sq_y.max()), y.dtype)):
        x, y = unit_scaled(x), unit_scaled(y)  # unscaled, the product of row norms overflowed at 1e80 (value 0.0)
        sq_x, sq_y = row_sq_norms(x), row_sq_norms(y)
    norms = torch.sqrt(sq_x) * torch.sqrt(sq_y)
    u, _, vh = torch.linalg.svd(cross(x, y), full_matrices=False)
    rotated = cross(x.T, u @ vh)  # X W, through the same BLAS route as X^T Y
    cosines = (rotated * y).sum(dim=1) / norms
    defined = norms > 0
    if not bool(defined.all()):
        if not bool(defined.any()):
            raise InputError("every sample is a zero row of X or of Y: no cosine is defined")
        cosines = cosines[defined]
    return float(cosines.mean())
