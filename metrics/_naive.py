"""Naive building blocks of the independent reference routes, written from the definitions.

Every built-in measure declares an independent second route to its number, ``@register(...,
reference_route=route)``, which the test suite compares it with (tests/test_metrics_reference.py); the
measures never call it. A route is numpy float64, explicit and slow on purpose (n <= a few hundred):
explicit n x n matrices and the explicit centering matrix H = I - 11^T/n, scipy's matrix square root,
orthogonal Procrustes and assignment solvers, numpy's SVD and least squares, neighbour lists from the
full distance matrix. This module holds the pieces several routes share. It imports nothing from
``metrics``, and no measure may use it: a route reaches only this module and libraries, a measure
never reaches a route or this module (both checked by tests/test_metrics_reference.py), so a route
never shares code with what it checks.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
from scipy.spatial.distance import cdist, pdist, squareform

EPS = np.finfo(np.float64).eps


def as_float(a) -> np.ndarray:
    """``a`` as a numpy float64 array."""
    return np.asarray(a, dtype=np.float64)


# ----------------------------------------------------------------------------------------------------
# Centering, kernels, distances
# ----------------------------------------------------------------------------------------------------
def centering_matrix(n: int) -> np.ndarray:
    """H = I_n - 1 1^T / n, the projection that removes the mean of a length-n vector."""
    return np.eye(n) - np.ones((n, n)) / n


def centered(x: np.ndarray) -> np.ndarray:
    """Xc = H X (column means removed), with H the explicit centering matrix."""
    x = as_float(x)
    return centering_matrix(x.shape[0]) @ x


def linear_gram(x: np.ndarray) -> np.ndarray:
    """K = X X^T (uncentered linear kernel)."""
    x = as_float(x)
    return x @ x.T


def double_centered(k: np.ndarray) -> np.ndarray:
    """H K H."""
    h = centering_matrix(k.shape[0])
    return h @ k @ h


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """<A, B>_F / (||A||_F ||B||_F)."""
    return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def distance_matrix(x: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """The full n x n matrix of pairwise distances, squareform(pdist(X, metric))."""
    return squareform(pdist(as_float(x), metric))


def cosine_matrix(x: np.ndarray) -> np.ndarray:
    """cos(x_i, x_j) for every pair (scipy's cosine distance)."""
    return 1.0 - cdist(x, x, metric="cosine")


def concentricity(x: np.ndarray) -> float:
    """mean_i (1 - cosine distance(x_i, x_bar)), the cosine distance from scipy's cdist."""
    x = as_float(x)
    return float(np.mean(1 - cdist(x, x.mean(axis=0, keepdims=True), "cosine")))


# ----------------------------------------------------------------------------------------------------
# Unbiased HSIC
# ----------------------------------------------------------------------------------------------------
def hsic_unbiased_song(k: np.ndarray, l: np.ndarray) -> float:
    """Song et al. 2012, eq. (5): with K~, L~ the kernels with zeroed diagonals,

    HSIC_u = [tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1] / (n (n-3)).
    Written for any square matrices (platonic-rep applies it to asymmetric masked kernels too).
    """
    n = k.shape[0]
    kt = k - np.diag(np.diag(k))
    lt = l - np.diag(np.diag(l))
    ones = np.ones(n)
    return float(
        (
            np.trace(kt @ lt)
            + (ones @ kt @ ones) * (ones @ lt @ ones) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * (ones @ kt @ lt @ ones)
        )
        / (n * (n - 3))
    )


def u_centered(a: np.ndarray) -> np.ndarray:
    """Szekely & Rizzo (2014) U-centering of a symmetric matrix with its diagonal set to zero:

    A~_ij = a_ij - (1/(n-2)) sum_l a_il - (1/(n-2)) sum_k a_kj + (1/((n-1)(n-2))) sum_kl a_kl  (i != j),
    A~_ii = 0.
    """
    n = a.shape[0]
    a = a - np.diag(np.diag(a))
    rows = a.sum(axis=1, keepdims=True)
    cols = a.sum(axis=0, keepdims=True)
    out = a - rows / (n - 2) - cols / (n - 2) + a.sum() / ((n - 1) * (n - 2))
    np.fill_diagonal(out, 0.0)
    return out


def u_inner(a: np.ndarray, b: np.ndarray) -> float:
    """The U-centered inner product (A~ . B~) = 1/(n(n-3)) sum_{i != j} A~_ij B~_ij: Song et al.'s
    unbiased HSIC by another formula."""
    n = a.shape[0]
    return float(np.sum(u_centered(a) * u_centered(b)) / (n * (n - 3)))


# ----------------------------------------------------------------------------------------------------
# Canonical correlations, truncation, matrix square roots
# ----------------------------------------------------------------------------------------------------
def inverse_sqrt(s: np.ndarray) -> np.ndarray:
    """S^{-1/2} of a symmetric positive definite matrix, by scipy.linalg.sqrtm and inversion."""
    root = np.real(scipy.linalg.sqrtm(s))
    return np.linalg.inv(root)


def cca_whitened(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical correlations and X's canonical directions from the whitened cross-covariance.

    With Sxx = Xc^T Xc, Syy = Yc^T Yc, Sxy = Xc^T Yc: rho = singular values of
    Sxx^{-1/2} Sxy Syy^{-1/2} = U diag(rho) V^T; X's canonical directions are A = Sxx^{-1/2} U, so the
    canonical variates Xc A have orthonormal columns. Both covariances must be invertible.
    Returns (rho [m], A [p1, m]) with m = min(p1, p2), rho descending.
    """
    xc, yc = centered(x), centered(y)
    wx, wy = inverse_sqrt(xc.T @ xc), inverse_sqrt(yc.T @ yc)
    u, rho, _ = np.linalg.svd(wx @ (xc.T @ yc) @ wy, full_matrices=False)
    return rho, wx @ u


def canonical_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """rho_i, the singular values of Sxx^{-1/2} Sxy Syy^{-1/2} (see :func:`cca_whitened`)."""
    return cca_whitened(x, y)[0]


def svd_truncation_count(singular_values: np.ndarray, threshold: float = 0.99) -> int:
    """The fewest k with sum_{i<=k} s_i^2 >= threshold * sum_i s_i^2 (s sorted descending), by a loop."""
    energy = as_float(singular_values) ** 2
    total = energy.sum()
    running = 0.0
    for k, e in enumerate(energy, start=1):
        running += e
        if running >= threshold * total:
            return k
    return len(energy)


def psd_sqrtm(a: np.ndarray) -> np.ndarray:
    """A^{1/2} of a symmetric positive semidefinite matrix by scipy.linalg.sqrtm (real part, symmetrized)."""
    with warnings.catch_warnings():  # singular input: sqrtm warns, the square root is still right
        warnings.simplefilter("ignore")
        root = np.real(scipy.linalg.sqrtm(a))
    return (root + root.T) / 2


def trace_sqrt_psd(m: np.ndarray) -> float:
    """tr(M^{1/2}) = sum_i sqrt(lambda_i) over the eigenvalues of a symmetric PSD matrix; eigenvalues
    below n eps lambda_max are rounding noise of exact zeros (their square roots would add ~1e-8)."""
    w = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(w[w > m.shape[0] * EPS * w.max()]).sum())


# ----------------------------------------------------------------------------------------------------
# Procrustes, whitening, unit correlations
# ----------------------------------------------------------------------------------------------------
def padded(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """X and Y with zero columns appended to the narrower one, so both have max(p1, p2) columns."""
    width = max(x.shape[1], y.shape[1])
    return tuple(np.pad(a, ((0, 0), (0, width - a.shape[1]))) for a in (x, y))


def procrustes_rotation(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X padded, Y padded, R) with R = argmin_{R^T R = I} ||X R - Y||_F from scipy.linalg.orthogonal_procrustes."""
    xp, yp = padded(as_float(x), as_float(y))
    r, _ = scipy.linalg.orthogonal_procrustes(xp, yp)
    return xp, yp, r


def procrustes_cosine(x: np.ndarray, y: np.ndarray) -> float:
    """<X R, Y>_F / (||X||_F ||Y||_F) after the best rotation R (no centering here)."""
    xp, yp, r = procrustes_rotation(x, y)
    return float(np.sum((xp @ r) * yp) / (np.linalg.norm(xp) * np.linalg.norm(yp)))


def arccos_clipped(c: float) -> float:
    """arccos of ``c`` clipped to [-1, 1] (a cosine rounded beyond 1 is an angle of 0)."""
    return float(np.arccos(np.clip(c, -1.0, 1.0)))


def rms_normalized(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Xc / s_rms with s_rms = ||Xc||_F / sqrt(rank Xc) (numpy's matrix_rank), and that rank."""
    xc = centered(x)
    rank = int(np.linalg.matrix_rank(xc))
    return xc / (np.linalg.norm(xc) / np.sqrt(rank)), rank


def partially_whitened_svd(x: np.ndarray, alpha: float) -> np.ndarray:
    """phi(X) = U_r diag(alpha s_r + 1 - alpha) V_r^T of X~ = Xc / s_rms, from numpy's SVD of X~ itself
    (any width; the r = rank directions only)."""
    xn, rank = rms_normalized(x)
    u, s, vt = np.linalg.svd(xn, full_matrices=False)
    return (u[:, :rank] * (alpha * s[:rank] + 1 - alpha)) @ vt[:rank]


def unit_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The X-by-Y block of numpy.corrcoef over the units, constant units (np.ptp == 0) left out."""
    x, y = as_float(x), as_float(y)
    x, y = x[:, np.ptp(x, axis=0) > 0], y[:, np.ptp(y, axis=0) > 0]
    return np.corrcoef(x.T, y.T)[: x.shape[1], x.shape[1] :]


# ----------------------------------------------------------------------------------------------------
# Neighbour lists with the suite's tie rule
# ----------------------------------------------------------------------------------------------------
#: scipy's names of the neighbour metrics (squared Euclidean ranks as Euclidean does).
NEIGHBOUR_METRICS = {"euclidean": "sqeuclidean", "cosine": "cosine"}


def tie_ranks(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rank of each sample in the order that breaks ties on both sides: among samples at the same
    distance, both sides list first the sample whose pair of rows comes first lexicographically
    (``numpy.lexsort``), the pair being (x_j, y_j) when X's sorted rows come first as Python tuples (the
    narrower side first) and (y_j, x_j) otherwise."""
    x_first = (x.shape[1], sorted(map(tuple, x))) <= (y.shape[1], sorted(map(tuple, y)))
    rows = np.hstack([x, y] if x_first else [y, x])
    order = np.lexsort(tuple(rows[:, c] for c in reversed(range(rows.shape[1]))))  # last key sorts first
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order))
    return ranks


def neighbor_lists(z: np.ndarray, k: int, metric: str, ranks: np.ndarray) -> np.ndarray:
    """[n, k]: each sample's k nearest other rows of z in rank order, ties to the lower ``ranks``; the
    distances from scipy's ``cdist`` (one pair at a time, so duplicated rows get bitwise equal distances)."""
    distances = cdist(z, z, metric=NEIGHBOUR_METRICS[metric])
    n = len(z)
    lists = np.empty((n, k), dtype=np.int64)
    for i in range(n):
        others = np.array([j for j in range(n) if j != i])
        by_distance_then_rank = np.lexsort((ranks[others], distances[i, others]))
        lists[i] = others[by_distance_then_rank[:k]]
    return lists


def pair_lists(x, y, k: int, metric: str, by_index: bool = False):
    """N_X and N_Y as [n, k] arrays (original sample numbers); ``by_index=True`` breaks ties by index,
    the rule that made values depend on the order of the rows."""
    x, y = as_float(x), as_float(y)
    ranks = np.arange(len(x)) if by_index else tie_ranks(x, y)
    return neighbor_lists(x, k, metric, ranks), neighbor_lists(y, k, metric, ranks)


def jaccard_of_lists(nx: np.ndarray, ny: np.ndarray) -> float:
    """mean_i |N_X(i) & N_Y(i)| / |N_X(i) | N_Y(i)| over the rows of two [n, k] neighbour lists."""
    return float(np.mean([len(set(a) & set(b)) / len(set(a) | set(b)) for a, b in zip(nx, ny)]))


def neighbour_mask(lists: np.ndarray) -> np.ndarray:
    """n x n: 1 where j is one of i's neighbours."""
    mask = np.zeros((len(lists), len(lists)))
    np.put_along_axis(mask, lists, 1.0, axis=1)
    return mask


def knn_normalized_laplacian(a: np.ndarray, k: int = 5) -> np.ndarray:
    """I - D^-1/2 W D^-1/2 (dense) of the symmetrized k-nearest-neighbour graph (sklearn NearestNeighbors,
    Euclidean, self excluded): w_ij = 1 if j is among the k neighbours of i or i among those of j."""
    from sklearn.neighbors import NearestNeighbors

    a = as_float(a)
    n = a.shape[0]
    _, idx = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(a).kneighbors(a)
    w = np.zeros((n, n))
    for i, row in enumerate(idx):
        for j in [j for j in row if j != i][:k]:
            w[i, j] = w[j, i] = 1.0
    root = 1 / np.sqrt(w.sum(axis=1))
    return np.eye(n) - root[:, None] * w * root[None, :]
