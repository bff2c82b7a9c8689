"""Second and third routes that particular tests compare a measure with, beside the independent route
every measure declares in its own registration (``@register(..., reference_route=...)``, read here by
:func:`route`).

Built like the declared routes: numpy float64, explicit and slow on purpose, from the naive pieces of
:mod:`metrics._naive` and from libraries (scikit-learn's neighbours, brute force over permutations,
scipy's matrix square root), never from what a measure computes with.
"""
from __future__ import annotations

import itertools

import numpy as np
import scipy.linalg
from sklearn.neighbors import NearestNeighbors

import metrics
from metrics import _naive


def route(name: str):
    """The independent reference route that measure ``name`` declares (``info.reference_route``)."""
    declared = metrics.get(name).info.reference_route
    assert declared is not None, f"{name} declares no reference_route"
    return declared


# ----------------------------------------------------------------------------------------------------
# CKA: the feature-space definition, the raw kernels, U-centering
# ----------------------------------------------------------------------------------------------------
def cka_linear_features(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA in feature space: ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F), Xc = H X."""
    xc, yc = _naive.centered(x), _naive.centered(y)
    return float(np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)))


def cka_debiased_raw_kernels(x: np.ndarray, y: np.ndarray) -> float:
    """Song's eq. (5) on the raw kernels X X^T: HSIC_u is unchanged by adding a_i + a_j to k_ij, which is
    what a translation of the data does to a linear kernel, so this is debiased CKA without centering."""
    k, l = _naive.linear_gram(x), _naive.linear_gram(y)
    hsic = _naive.hsic_unbiased_song
    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


def cka_debiased_u_centering(x: np.ndarray, y: np.ndarray) -> float:
    """(K~ . L~) / sqrt((K~ . K~)(L~ . L~)) with Szekely & Rizzo's U-centered inner product."""
    k, l = _naive.linear_gram(_naive.centered(x)), _naive.linear_gram(_naive.centered(y))
    return _naive.u_inner(k, l) / np.sqrt(_naive.u_inner(k, k) * _naive.u_inner(l, l))


# ----------------------------------------------------------------------------------------------------
# Neighbours by scikit-learn (data without ties)
# ----------------------------------------------------------------------------------------------------
def sklearn_neighbor_lists(x: np.ndarray, k: int, metric: str) -> np.ndarray:
    """[n, k] by scikit-learn's brute-force NearestNeighbors, self removed (no tie rule: tie-free data)."""
    _, index = NearestNeighbors(n_neighbors=k + 1, algorithm="brute", metric=metric).fit(x).kneighbors(x)
    return np.array([[j for j in row if j != i][:k] for i, row in enumerate(index)])


# ----------------------------------------------------------------------------------------------------
# Shape metrics: the angle from the chord, the square-root whitening, brute force
# ----------------------------------------------------------------------------------------------------
def procrustes_angle_from_chord(x: np.ndarray, y: np.ndarray) -> float:
    """2 arcsin(||A R - B||_F / 2) for the unit-norm centered A, B and scipy's rotation R: the angle from
    the residual itself, which keeps its digits where arccos of a cosine near 1 does not."""
    a, b = _naive.centered(x), _naive.centered(y)
    ap, bp, r = _naive.procrustes_rotation(a / np.linalg.norm(a), b / np.linalg.norm(b))
    return float(2 * np.arcsin(np.linalg.norm(ap @ r - bp) / 2))


def partially_whitened_sqrtm(x: np.ndarray, alpha: float) -> np.ndarray:
    """phi(X) = X~ (alpha I + (1 - alpha) C^(-1/2)), C = X~^T X~, C^(-1/2) the inverse of scipy.linalg.sqrtm(C)
    (full column rank only: p < n and no collinear units)."""
    xn, rank = _naive.rms_normalized(x)
    if rank < xn.shape[1]:
        raise ValueError("the sqrtm route needs full column rank")
    root = np.real(scipy.linalg.sqrtm(xn.T @ xn))
    return xn @ (alpha * np.eye(xn.shape[1]) + (1 - alpha) * np.linalg.inv(root))


def shape_metric_sqrtm(x: np.ndarray, y: np.ndarray, alpha: float = 0.5) -> float:
    """arccos of the Procrustes cosine of the sides whitened by :func:`partially_whitened_sqrtm`."""
    whitened_x, whitened_y = partially_whitened_sqrtm(x, alpha), partially_whitened_sqrtm(y, alpha)
    return _naive.arccos_clipped(_naive.procrustes_cosine(whitened_x, whitened_y))


def procrustes_permutation_brute_force(x: np.ndarray, y: np.ndarray) -> float:
    """min over every permutation of the padded columns of ||Xp[:, perm] - Yp||_F (tiny widths only)."""
    xp, yp = _naive.padded(_naive.as_float(x), _naive.as_float(y))
    return min(float(np.linalg.norm(xp[:, list(perm)] - yp)) for perm in itertools.permutations(range(xp.shape[1])))


def correlation_match_hard_brute_force(x: np.ndarray, y: np.ndarray) -> float:
    """max over every injective map of the narrower side's units into the wider side's of the mean C."""
    c = _naive.unit_correlations(x, y)
    if c.shape[0] > c.shape[1]:
        c = c.T
    rows = np.arange(c.shape[0])
    return max(float(c[rows, list(cols)].mean()) for cols in itertools.permutations(range(c.shape[1]), c.shape[0]))


def soft_matching_brute_force(x: np.ndarray, y: np.ndarray) -> float:
    """Equal widths: the optimal plan is a permutation / p (Birkhoff-von Neumann), so the distance is
    min over permutations of sqrt(sum_j ||x_j - y_perm(j)||^2 / p) (tiny p only)."""
    xc, yc = _naive.centered(x), _naive.centered(y)
    p = xc.shape[1]
    if yc.shape[1] != p:
        raise ValueError("the permutation route needs equal widths")
    return min(
        float(np.sqrt(np.sum((xc[:, list(perm)] - yc) ** 2) / p)) for perm in itertools.permutations(range(p))
    )
