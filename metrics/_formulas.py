"""The streaming formulas: each linear measure as a function of the centered co-moments.

A streamable measure declares its formula in its registration, ``@register(..., streaming=formula)``,
where ``formula(derived, **params)`` takes a :class:`Derived` (the accumulated :class:`metrics._stats.Moments`
of all samples and the quantities several formulas share) and returns the full-data value;
:class:`metrics.streaming.SufficientStats` calls it. This module is light on purpose (torch and the
moments only), so that the measure modules can import it at load time to declare their formulas,
while :mod:`metrics.streaming` (batches, input checks, the registry) imports the measure modules.

The pieces that a formula and its in-memory measure share live here too (Song's unbiased HSIC from
four sums and the debiased ratio, for ``metrics.cka``; SVCCA's truncation rule, for ``metrics.cca``), and the
saturation check in :mod:`metrics._inputs`: the measure modules import this module, and it imports none
of them.
A plugin's formula may use anything here: ``d.n``, ``d.moments.mean_x``, ``d.xx`` (Xc^T Xc / tr Xc^T Xc),
``d.xy``, ``d.yy``, ``d.tx``, ``d.ty`` (the total variances times n), ``d.spectrum_x``...
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch

from metrics._inputs import InputError, check_not_saturated
from metrics._stats import Moments

__all__ = [
    "Derived",
    "Spectrum",
    "canonical_correlations",
    "cca_mean",
    "cca_mean_sq",
    "cka_linear",
    "cka_linear_debiased",
    "debiased_ratio",
    "kept_directions",
    "ols_r2",
    "procrustes",
    "pwcca",
    "spectrum",
    "svcca",
    "unbiased_hsic",
]


class Spectrum(NamedTuple):
    """Eigendecomposition of a covariance C = V diag(values) V^T, values descending and clipped at 0.

    ``rank`` counts values above values[0] * max(n, p) * eps: numpy's matrix_rank rule applied to the
    squared singular values, whose noise floor after forming C is eps * values[0] (forming Xc^T Xc squares
    the condition number; Golub & Van Loan, Matrix Computations, on the normal equations). Well-conditioned data gets the same rank as the in-memory QR route; singular values
    between s_max * max(n, p) * eps and s_max * sqrt(max(n, p) * eps) are kept there and dropped here.
    """

    vectors: torch.Tensor
    values: torch.Tensor
    rank: int

    def whitener(self, k: int) -> torch.Tensor:
        """W_k = V_k diag(values_k)^(-1/2): Xc W_k are the top-k left singular vectors of Xc."""
        return self.vectors[:, :k] / torch.sqrt(self.values[:k])


def spectrum(c: torch.Tensor, n: float) -> Spectrum:
    """Eigendecomposition of the (normalized) covariance ``c`` of n samples, with its numerical rank."""
    values, vectors = torch.linalg.eigh(c)
    values, vectors = values.flip(0).clamp(min=0), vectors.flip(1)
    tolerance = float(values[0]) * max(n, c.shape[0]) * torch.finfo(c.dtype).eps
    return Spectrum(vectors, values, int((values > tolerance).sum()))


class Derived:
    """The moments of one data set and the quantities several measures share, each computed once:
    the scale-free second moments and the eigendecompositions of the two covariances.

    Everything is divided by the total variances tx = tr Xc^T Xc, ty = tr Yc^T Yc (the measures are
    scale-free, and squares can then neither overflow nor underflow).
    """

    def __init__(self, moments: Moments):
        self.moments, self.n = moments, moments.count
        self.tx, self.ty = torch.trace(moments.xx), torch.trace(moments.yy)
        self.xx, self.yy = moments.xx / self.tx, moments.yy / self.ty
        self.xy = moments.xy / torch.sqrt(self.tx * self.ty)

    @functools.cached_property
    def spectrum_x(self) -> Spectrum:
        return spectrum(self.xx, self.n)

    @functools.cached_property
    def spectrum_y(self) -> Spectrum:
        return spectrum(self.yy, self.n)


def unbiased_hsic(cross_sq, de, sum_d, sum_e, n: float):
    """Song et al.'s unbiased HSIC of centered linear kernels from four feature-space sums.

    With K = Xc Xc^T, K~ = K with its diagonal zeroed, d = diag(K), and likewise L, e:
    tr(K~ L~) = ||Xc^T Yc||_F^2 - d.e, 1^T K~ 1 = -sum(d), 1^T K~ L~ 1 = d.e (the columns of Xc sum to 0),
    HSIC_u = [tr(K~L~) + 1^T K~ 1 1^T L~ 1 / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1] / (n(n-3)).
    ``cross_sq`` is ||Xc^T Yc||_F^2, ``de`` is d.e; the streaming measures pass the same sums.
    """
    return (cross_sq - de + sum_d * sum_e / ((n - 1) * (n - 2)) - 2 * de / (n - 2)) / (n * (n - 3))


def debiased_ratio(hsic_xy, hsic_xx, hsic_yy, k_sq, l_sq, n: float, dtype: torch.dtype):
    """HSIC_u(K, L) / sqrt(HSIC_u(K, K) HSIC_u(L, L)), refusing a self-HSIC that is 0 up to rounding.

    HSIC_u(K, K) is a difference of terms of size ||K||_F^2 / (n (n-3)) (``k_sq`` is ||K||_F^2). Within a
    few n eps of that it is the rounding of an exact 0 (e.g. all samples equal but one: the U-centered K
    vanishes), and HSIC_u(K, L) is rounding too: 0/0, not a value.
    """
    rounding = 4 * n * torch.finfo(dtype).eps / (n * (n - 3))
    for which, value, size in (("X", hsic_xx, k_sq), ("Y", hsic_yy, l_sq)):
        if not float(value) > rounding * float(size):
            raise InputError(
                f"the unbiased HSIC of {which} with itself is {float(value):.3g} (not positive beyond "
                "rounding): too few samples or a degenerate input for the debiased estimator"
            )
    return float(hsic_xy) / math.sqrt(float(hsic_xx) * float(hsic_yy))


def kept_directions(s: torch.Tensor, threshold: float) -> int:
    """Fewest top singular directions whose squared singular values reach ``threshold`` of the total."""
    energy = torch.cumsum(s.square(), dim=0)
    fraction = energy / energy[-1]
    return int(torch.searchsorted(fraction, torch.tensor([threshold], dtype=s.dtype, device=s.device))) + 1


def cka_linear(d: Derived) -> torch.Tensor:
    """||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) (Kornblith et al. 2019)."""
    return d.xy.square().sum() / (torch.linalg.matrix_norm(d.xx) * torch.linalg.matrix_norm(d.yy))


def cka_linear_debiased(d: Derived) -> torch.Tensor:
    """HSIC_u(K, L) / sqrt(HSIC_u(K, K) HSIC_u(L, L)) for linear kernels (Song et al. 2012), from the sums
    of :func:`unbiased_hsic`: d_i = ||x_i - mean(x)||^2, e_i likewise, the mean over all n
    samples; the moments hold d.e = rs, d.d = rr, e.e = ss and sum d = tr Xc^T Xc, combined exactly
    across batches. After the division by tx, ty the sums of d and e are 1."""
    m, one = d.moments, torch.ones((), dtype=d.xx.dtype, device=d.xx.device)
    k_sq, l_sq = d.xx.square().sum(), d.yy.square().sum()
    hsic_xy = unbiased_hsic(d.xy.square().sum(), m.rs / (d.tx * d.ty), one, one, d.n)
    hsic_xx = unbiased_hsic(k_sq, m.rr / d.tx**2, one, one, d.n)
    hsic_yy = unbiased_hsic(l_sq, m.ss / d.ty**2, one, one, d.n)
    return debiased_ratio(hsic_xy, hsic_xx, hsic_yy, k_sq, l_sq, d.n, d.xx.dtype)


def procrustes(d: Derived) -> torch.Tensor:
    """||Xc^T Yc||_* / (||Xc||_F ||Yc||_F); also the normalized Bures similarity of linear kernels."""
    return torch.linalg.svdvals(d.xy).sum()


def canonical_correlations(d: Derived, kx: int, ky: int):
    """(U, rho): SVD of W_kx^T (Xc^T Yc) W_ky, the cross product of the orthonormal bases Xc W_kx, Yc W_ky
    (Hotelling 1936); rho descending, U in the coordinates of the top-kx singular directions of X."""
    check_not_saturated("X", kx, int(d.n))
    check_not_saturated("Y", ky, int(d.n))
    u, rho, _ = torch.linalg.svd(d.spectrum_x.whitener(kx).T @ d.xy @ d.spectrum_y.whitener(ky), full_matrices=False)
    return u, rho


def _all_correlations(d: Derived) -> torch.Tensor:
    return canonical_correlations(d, d.spectrum_x.rank, d.spectrum_y.rank)[1]


def cca_mean(d: Derived) -> torch.Tensor:
    """Mean canonical correlation over min(rank Xc, rank Yc) correlations (Raghu et al. 2017)."""
    return _all_correlations(d).mean()


def cca_mean_sq(d: Derived) -> torch.Tensor:
    """Mean squared canonical correlation, Yanai's R^2_CCA (Kornblith et al. 2019)."""
    return _all_correlations(d).square().mean()


def svcca(d: Derived, threshold: float = 0.99) -> torch.Tensor:
    """Mean canonical correlation of the top-k singular directions per side, k the fewest whose squared
    singular values (covariance eigenvalues) reach ``threshold`` of the total (Raghu et al. 2017)."""
    if not 0 < threshold <= 1:
        raise InputError(f"threshold must be in (0, 1], got {threshold}")
    sx, sy = d.spectrum_x, d.spectrum_y
    kx = min(kept_directions(torch.sqrt(sx.values), threshold), sx.rank)
    ky = min(kept_directions(torch.sqrt(sy.values), threshold), sy.rank)
    return canonical_correlations(d, kx, ky)[1].mean()


def pwcca(d: Derived) -> torch.Tensor:
    """sum_i a_i rho_i / sum_i a_i with a_i = sum_j |<h_i, x_j>| (Morcos et al. 2018).

    The canonical variates of X are H = Xc W U, so H^T Xc = U^T W^T Xc^T Xc = U^T diag(values)^(1/2) V^T:
    the projections come from the covariance of X alone.
    """
    sx = d.spectrum_x
    u, rho = canonical_correlations(d, sx.rank, d.spectrum_y.rank)
    projections = u.T @ (torch.sqrt(sx.values[: sx.rank])[:, None] * sx.vectors[:, : sx.rank].T)
    weights = projections.abs().sum(dim=1)
    return (weights * rho).sum() / weights.sum()


def ols_r2(d: Derived) -> torch.Tensor:
    """||P_X Yc||_F^2 / ||Yc||_F^2 = ||W^T Xc^T Yc||_F^2 / tr(Yc^T Yc), W the whitener of X's
    column space (Kornblith et al. 2019, R^2_LR)."""
    sx = d.spectrum_x
    check_not_saturated("X", sx.rank, int(d.n))
    return (sx.whitener(sx.rank).T @ d.xy).square().sum()
