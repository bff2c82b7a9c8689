"""Exact streaming measures: accumulate co-moments batch by batch, compute the full-data value at the end.

The linear measures are functions of the centered second moments Xc^T Xc, Xc^T Yc, Yc^T Yc (debiased CKA
also of a few per-sample sums of squared norms), so one pass over any number of samples in
O(p1^2 + p2^2 + p1 p2) memory gives the same number as the in-memory measure on all the data (DESIGN
section 7). Batches are combined with the pairwise update of Chan, Golub, LeVeque 1979 (see
:mod:`metrics._stats`), in float64 on the inputs' device, so a large mean costs no digits.

>>> import numpy as np, metrics
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(1000, 8)); y = x @ rng.normal(size=(8, 5)) + rng.normal(size=(1000, 5))
>>> stats = SufficientStats()
>>> for start in range(0, 1000, 300):
...     _ = stats.update(x[start:start + 300], y[start:start + 300])
>>> abs(stats.compute("cka_linear") - metrics.get("cka_linear")(x, y)) < 1e-12
True
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import functools

import torch

from metrics._inputs import CONVENTIONS, InputError, prepare_pair
from metrics._registry import MeasureError, _as_finite_float, _check_sample_to_feature_ratio, get
from metrics._stats import Moments, batch_moments, combine
from metrics.cca import _check_not_saturated, kept_directions
from metrics.cka import debiased_ratio, unbiased_hsic

__all__ = ["STREAMABLE", "NotStreamableError", "SufficientStats", "check_streamable"]

_PRECISIONS = {"float64": torch.float64, "float32": torch.float32}


class NotStreamableError(ValueError):
    """The measure is not a function of the co-moments, so no exact streaming value exists."""


# The measures as functions of the moments, through the quantities they share.


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


def cka_linear(d: Derived) -> torch.Tensor:
    """||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) (Kornblith et al. 2019)."""
    return d.xy.square().sum() / (torch.linalg.matrix_norm(d.xx) * torch.linalg.matrix_norm(d.yy))


def cka_linear_debiased(d: Derived) -> torch.Tensor:
    """HSIC_u(K, L) / sqrt(HSIC_u(K, K) HSIC_u(L, L)) for linear kernels (Song et al. 2012), from the sums
    of :func:`metrics.cka.unbiased_hsic`: d_i = ||x_i - mean(x)||^2, e_i likewise, the mean over all n
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
    _check_not_saturated("X", kx, int(d.n))
    _check_not_saturated("Y", ky, int(d.n))
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
    _check_not_saturated("X", sx.rank, int(d.n))
    return (sx.whitener(sx.rank).T @ d.xy).square().sum()


#: Every measure that has an exact streaming form, with its formula on the moments.
FORMULAS: dict[str, Callable[..., torch.Tensor]] = {
    "cka_linear": cka_linear,
    "cka_linear_debiased": cka_linear_debiased,
    "cca_mean": cca_mean,
    "cca_mean_sq": cca_mean_sq,
    "svcca": svcca,
    "pwcca": pwcca,
    "procrustes": procrustes,
    "nbs": procrustes,
    "ols_r2": ols_r2,
}
STREAMABLE = tuple(sorted(FORMULAS))


def check_streamable(name: str) -> None:
    """Raise unless ``name`` has an exact streaming form.

    Raises:
        UnknownMetricError: no measure of that name is registered.
        NotStreamableError: the measure needs all samples at once.
    """
    if name in FORMULAS:
        return
    get(name)  # an unknown name gets the registry's error with close names
    raise NotStreamableError(
        f"{name} cannot be streamed exactly: it is not a function of the sums over samples (it needs all "
        f"samples at once: n x n kernels, ranks or neighbours). Compute it in memory, or on a subsample. "
        f"Streamable measures: {', '.join(STREAMABLE)}"
    )


# Input of one batch.


def _batch_pair(x: Any, y: Any, conv: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch as float64 tensors [b, p1], [b, p2] on one device; a batch may be a single sample."""
    return prepare_pair(x, y, conv=conv, dtype="float64", backend="torch", min_samples=1, check_constant=False)


def _check_compatible(old: Moments, new: Moments) -> None:
    for which, before, now in (("X", old.mean_x, new.mean_x), ("Y", old.mean_y, new.mean_y)):
        if before.shape != now.shape:
            raise InputError(
                f"{which} has {now.shape[0]} features here but {before.shape[0]} in the data accumulated so far"
            )
        if before.device != now.device:
            raise InputError(f"{which} is on {now.device} but was accumulated on {before.device}")


def _check_not_constant(m: Moments) -> None:
    """Zero variance: mean squared deviation at most (8 eps max |mean|)^2, as ``prepare_pair`` judges it."""
    for which, c, mean in (("X", m.xx, m.mean_x), ("Y", m.yy, m.mean_y)):
        floor = (8 * torch.finfo(c.dtype).eps * float(mean.abs().max())) ** 2 * c.shape[0] * m.count
        if not float(torch.trace(c)) > floor:
            raise InputError(f"{which} is constant (zero variance across samples); no similarity is defined")


class SufficientStats:
    """Co-moments of two representations, accumulated one batch at a time in float64.

    Memory is O(p1^2 + p2^2 + p1 p2) whatever the number of samples; the state lives on the device of
    the first batch. ``compute`` returns the value the in-memory measure has on all samples seen.

    Args:
        conv: how [b, c, h, w] batches become 2-D (see ``metrics.CONVENTIONS``); ``"positions"`` makes
            every (sample, position) a row.
        precision: ``"float64"`` (default) or ``"float32"``: the O(b p^2) products of each batch in
            float32 (faster, ~1e-7 relative per batch); means, centering and accumulation stay float64.

    Raises:
        ValueError: unknown ``conv`` or ``precision``.

    Example:
        >>> import torch
        >>> stats = SufficientStats()
        >>> for _ in range(3):
        ...     x = torch.randn(50, 6)
        ...     _ = stats.update(x, 2 * x + 1)
        >>> stats.n, round(stats.compute("cca_mean"), 12)
        (150, 1.0)
    """

    def __init__(self, *, conv: str = "flatten", precision: str = "float64"):
        if conv not in CONVENTIONS:
            raise ValueError(f"conv must be one of {sorted(CONVENTIONS)}, got {conv!r}")
        if precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(_PRECISIONS)}, got {precision!r}")
        self.conv, self.precision = conv, precision
        self._moments: Moments | None = None
        self._derived: Derived | None = None  # shared by the computes until the next update or merge

    @classmethod
    def from_moments(cls, moments: Moments | None, *, conv: str = "flatten", precision: str = "float64"):
        """Statistics holding given moments (used by :mod:`metrics.distributed`)."""
        stats = cls(conv=conv, precision=precision)
        stats._moments = moments
        return stats

    def __repr__(self) -> str:
        widths = "" if self._moments is None else f", p1={self.widths[0]}, p2={self.widths[1]}"
        return f"SufficientStats(n={self.n}{widths}, conv={self.conv!r}, precision={self.precision!r})"

    @property
    def moments(self) -> Moments | None:
        """The accumulated :class:`metrics._stats.Moments` (None before the first batch)."""
        return self._moments

    @property
    def n(self) -> int:
        """Number of samples (rows after reshaping) accumulated so far."""
        return 0 if self._moments is None else int(self._moments.count)

    @property
    def widths(self) -> tuple[int, int]:
        """(p1, p2), the feature counts; raises before the first batch."""
        if self._moments is None:
            raise ValueError("no batch accumulated yet")
        return self._moments.mean_x.shape[0], self._moments.mean_y.shape[0]

    def update(self, x: Any, y: Any) -> SufficientStats:
        """Add one batch of paired samples.

        Args:
            x, y: [b, p1] and [b, p2] (or [b, c, ...] activations), numpy arrays or torch tensors; any
                float or integer dtype (float32 is accumulated in float64).

        Returns:
            self, so that updates chain.

        Raises:
            ValueError: empty batch, different row counts, widths or device unlike earlier batches,
                NaN/Inf, complex or uncastable dtype.
        """
        try:
            batch = batch_moments(*_batch_pair(x, y, self.conv), _PRECISIONS[self.precision])
            self._absorb(batch)
        except InputError as err:
            raise InputError(f"SufficientStats.update: {err}") from None
        return self

    def merge(self, other: SufficientStats) -> SufficientStats:
        """Add the samples accumulated in ``other`` (which is left unchanged), exactly.

        Returns:
            self.

        Raises:
            ValueError: different feature widths or devices.
        """
        if other._moments is not None:
            try:
                self._absorb(other._moments)
            except InputError as err:
                raise InputError(f"SufficientStats.merge: {err}") from None
        return self

    def _absorb(self, moments: Moments) -> None:
        if self._moments is not None:
            _check_compatible(self._moments, moments)
            moments = combine(self._moments, moments)
        self._moments, self._derived = moments, None

    def compute(self, name: str, **params) -> float:
        """The measure ``name`` on all samples accumulated, as ``metrics.get(name)(X, Y, **params)``.

        Args:
            name: one of :data:`STREAMABLE`.
            **params: the measure's parameters (``svcca``: ``threshold``).

        Raises:
            NotStreamableError: the measure has no exact streaming form (cka_rbf, rsa, plugins...).
            ValueError: too few samples, p >= n for the CCA family and OLS, constant input, an unknown
                parameter; the message names the measure, like the in-memory errors.
            MeasureError: the linear algebra failed.
        """
        check_streamable(name)
        info = get(name).info
        unknown = params.keys() - info.params.keys()
        if unknown:
            raise ValueError(
                f"{name}: unknown parameter(s) {sorted(unknown)}; it takes {sorted(info.params) or 'none'}"
            )
        m = self._moments
        try:
            if m is None or m.count < info.min_samples:
                raise InputError(f"needs at least {info.min_samples} samples, got n = {self.n}")
            _check_not_constant(m)
            _check_sample_to_feature_ratio(info, (self.n, self.widths[0]), (self.n, self.widths[1]))
            if self._derived is None:
                self._derived = Derived(m)
            value = FORMULAS[name](self._derived, **params)
        except InputError as err:
            raise InputError(f"{name}: {err}") from None
        except (torch.linalg.LinAlgError, ArithmeticError) as err:
            raise MeasureError(f"{name}: the computation failed ({err}); no value is reported") from err
        return _as_finite_float(name, value)
