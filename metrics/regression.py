"""Linear regression from one representation to the other: least squares (R^2_LR) and cross-validated
ridge predictivity."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.model_selection import KFold

from metrics import _formulas, _naive
from metrics._inputs import InputError, check_not_saturated
from metrics._linalg import center, center_unit, cross, factor, sum_sq, unit_scaled
from metrics.cca import KORNBLITH_2019
from metrics._registry import register


def _reference_ols_r2(x, y) -> float:
    """Independent route: 1 - ||Y - [1 X] B||_F^2 / ||Y - mean(Y)||_F^2 with B = numpy.linalg.lstsq([1 X], Y)
    (an intercept column instead of centering)."""
    x, y = _naive.as_float(x), _naive.as_float(y)
    design = np.hstack([np.ones((x.shape[0], 1)), x])
    b, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ b
    return float(1 - np.sum(residual**2) / np.sum((y - y.mean(axis=0)) ** 2))


@register(
    "ols_r2",
    reference_route=_reference_ols_r2,
    symmetric=False,
    invariances={"orthogonal", "isotropic_scaling", "translation"},
    x_invariances={"invertible_linear"},
    bounds=(0.0, 1.0),
    reference=KORNBLITH_2019 + " (R^2_LR)",
    backend="torch",
    needs_n_above_p="x",
    streaming=_formulas.ols_r2,
    speed_bound=("QR(X)", "Qx^T Y"),
)
def ols_r2(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fraction of Y's variance that a least-squares linear map from X explains (directional, X -> Y):
    1 - ||Yc - Xc B||_F^2 / ||Yc||_F^2 = ||P_X Yc||_F^2 / ||Yc||_F^2, with P_X the projection onto the
    column space of Xc (rank-revealing QR; refused for p1 >= n - 1, where every Y is fitted exactly).
    """
    fx = factor(center(x))
    check_not_saturated("X", fx.rank, x.shape[0])
    yc = center_unit(y)
    explained = fx.basis_coordinates().T @ cross(fx.q, yc)
    return sum_sq(explained) / sum_sq(yc)


BO_2024 = (
    "Bo, Soni, Srivastava, Khosla 2024, Evaluating Representational Similarity Measures from the Lens of "
    "Functional Correspondence (arXiv), the measure, by a procedure of our own (contiguous folds, GCV over a "
    "relative penalty grid) that differs from their released code; Golub, Heath, Wahba 1979 (GCV)"
)
#: The ridge penalties tried per training fold, as multiples of that fold's ||Xc||_F^2 / p1 (the mean
#: squared singular value for p1 <= n): 17 values, two per decade, from 1e-4 to 1e4. Relative, so the
#: choice and the value do not depend on X's units.
RIDGE_ALPHAS = np.logspace(-4, 4, 17)


def _pearson_per_unit(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Pearson r of each column; NaN where the truth is constant (nothing to predict), 0 where only the
    prediction is (no predictive signal)."""
    t, p = truth - truth.mean(axis=0), prediction - prediction.mean(axis=0)
    t_sq, p_sq = np.einsum("ij,ij->j", t, t), np.einsum("ij,ij->j", p, p)
    varying, predicted = np.ptp(truth, axis=0) > 0, np.ptp(prediction, axis=0) > 0
    r = np.zeros(truth.shape[1])
    both = varying & predicted
    r[both] = np.einsum("ij,ij->j", t[:, both], p[:, both]) / np.sqrt(t_sq[both] * p_sq[both])
    r[~varying] = np.nan
    return r


def _ridge_gcv_fit(xc: np.ndarray, yc: np.ndarray) -> np.ndarray:
    """Ridge coefficients B (p1 x p2) of centered training data with the alpha of :data:`RIDGE_ALPHAS`
    (times ||Xc||_F^2 / p1) that minimizes generalized cross-validation (Golub, Heath, Wahba 1979):

    GCV(alpha) = m ||Yc - Xc B_alpha||_F^2 / (m - tr H_alpha)^2, H the hat matrix with the intercept,
    tr H = 1 + sum_k s_k^2 / (s_k^2 + alpha), from one thin SVD Xc = U S V^T for all alphas:
    with C = U^T Yc and g_k = alpha / (s_k^2 + alpha), ||Yc - Xc B||_F^2 = ||Yc||_F^2 - ||C||_F^2 +
    sum_k g_k^2 ||C_k||^2 and m - tr H = (m - 1 - r) + sum_k g_k. The first alpha of the grid wins ties.
    """
    m = xc.shape[0]
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    rank = int((s > s[0] * max(xc.shape) * np.finfo(s.dtype).eps).sum())
    u, s, vt = u[:, :rank], s[:rank], vt[:rank]
    c = u.T @ yc
    outside = max(float(np.vdot(yc, yc)) - float(np.vdot(c, c)), 0.0)  # the part of Yc no alpha fits
    alphas = RIDGE_ALPHAS * (float(np.vdot(xc, xc)) / xc.shape[1])
    g = alphas[:, None] / (s[None, :] ** 2 + alphas[:, None])  # [alphas, rank]
    residual = outside + (g**2) @ np.einsum("ij,ij->i", c, c)
    gcv = m * residual / ((m - 1 - rank) + g.sum(axis=1)) ** 2
    alpha = alphas[int(np.argmin(gcv))]
    return vt.T @ ((s / (s**2 + alpha))[:, None] * c)


def _reference_ridge_predictivity(x, y, folds: int = 5) -> float:
    """Independent route: per contiguous fold (sklearn KFold, no shuffle), alpha from the grid
    logspace(-4, 4, 17) times the training part's ||Xc||_F^2 / p1 minimizing the generalized
    cross-validation m ||Y - Y_hat||_F^2 / (m - tr H)^2 of sklearn's Ridge (with intercept), H the explicit
    m x m hat matrix 11^T/m + Xc (Xc^T Xc + alpha I)^-1 Xc^T; sklearn's Ridge refitted there; numpy's
    Pearson r per unit of Y on the held-out part (0 for a constant prediction); the mean over the
    (fold, unit) pairs whose held-out truth varies."""
    from sklearn.linear_model import Ridge

    def gcv(a, b, alpha):
        m = a.shape[0]
        residual = b - Ridge(alpha=alpha).fit(a, b).predict(a)
        ac = _naive.centered(a)
        hat = np.ones((m, m)) / m + ac @ np.linalg.solve(ac.T @ ac + alpha * np.eye(a.shape[1]), ac.T)
        return float(m * np.sum(residual**2) / (m - np.trace(hat)) ** 2)

    x, y = _naive.as_float(x), _naive.as_float(y)
    grid = np.logspace(-4, 4, 17)
    scores = []
    for train, test in KFold(folds).split(x):
        scale = np.sum(_naive.centered(x[train]) ** 2) / x.shape[1]
        alpha = grid[int(np.argmin([gcv(x[train], y[train], a * scale) for a in grid]))] * scale
        prediction = Ridge(alpha=alpha).fit(x[train], y[train]).predict(x[test])
        for truth, predicted in zip(y[test].T, prediction.T):
            if np.ptp(truth) > 0:  # a constant held-out unit has no correlation; a constant prediction has 0
                scores.append(float(np.corrcoef(truth, predicted)[0, 1]) if np.ptp(predicted) > 0 else 0.0)
    return float(np.mean(scores))


@register(
    "ridge_predictivity",
    reference_route=_reference_ridge_predictivity,
    symmetric=False,
    invariances={"permutation", "isotropic_scaling", "translation"},
    x_invariances={"orthogonal"},
    bounds=(-1.0, 1.0),
    reference=BO_2024,
    backend="numpy",
    min_samples=15,
    order_dependent=True,
    speed_bound=("svd(X)",) * 4 + ("XtY",) * 5,
)
def ridge_predictivity(x: np.ndarray, y: np.ndarray, folds: int = 5) -> float:
    """Cross-validated linear predictivity X -> Y (Bo et al. 2024): the mean held-out Pearson r between
    each unit of Y and its ridge-regression prediction from X (directional).

    Folds: ``folds`` (5) contiguous blocks of rows (scikit-learn's KFold without shuffling, so the value
    depends on the row order, by design: shuffle the rows first for a random split). Per fold, ridge
    with an intercept is fitted on the other folds, its penalty chosen on those alone by generalized
    cross-validation over :data:`RIDGE_ALPHAS` (one SVD per fold serves every alpha), and each unit's
    prediction on the held-out fold is correlated with the truth. The value is the mean r over the
    (fold, unit) pairs whose held-out truth varies; a constant held-out unit has nothing to predict and
    is left out (a constant prediction of a varying unit scores 0). Invariant to rotations and scaling
    of X (the alpha grid is relative to X's variance), to translation of either side, to permutation
    and scaling of Y's units; not to rotations of Y (the mean is over its units).

    Bo et al.'s released code (``compute_linear_predictivity``) computes the same statistic by another
    procedure, so its numbers differ slightly: shuffled folds (``KFold(shuffle=True, random_state=42)``),
    each split's X z-scored with its own mean and deviation, and scikit-learn's ``RidgeCV`` over the
    absolute penalties 1e-8 ... 1e8 (its efficient leave-one-out choice). Ours keeps X's geometry
    (centred, not z-scored: invariant to rotations of X), chooses the penalty relative to X's variance,
    and splits contiguously (shuffle the rows for random folds).
    """
    n = x.shape[0]
    if not (isinstance(folds, int) and folds >= 2):
        raise InputError(f"folds must be an integer >= 2, got {folds!r}")
    if n < 3 * folds:
        raise InputError(f"needs at least 3 samples per fold: n = {n} for {folds} folds")
    # each side times a power of two (exact, and the value is invariant to it) that brings its largest
    # entry into [0.5, 1): before, Y's squares overflowed from 1e80 on (value 0.0) and underflowed below 1e-90
    x, y = (unit_scaled(torch.from_numpy(a)).numpy() for a in (x, y))
    scores = []
    for train, test in KFold(folds).split(x):
        x_mean, y_mean = x[train].mean(axis=0), y[train].mean(axis=0)
        xc = x[train] - x_mean
        if not np.any(xc):
            raise InputError(f"X is constant on the training part of fold {len(scores) + 1}")
        coefficients = _ridge_gcv_fit(xc, y[train] - y_mean)
        scores.append(_pearson_per_unit(y[test], (x[test] - x_mean) @ coefficients + y_mean))
    scores = np.concatenate(scores)
    if np.all(np.isnan(scores)):
        raise InputError("every unit of Y is constant on every held-out fold: nothing to predict")
    return float(np.nanmean(scores))
