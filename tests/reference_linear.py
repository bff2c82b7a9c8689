"""Independent reference routes for cka_linear_lange, cka_linear_minibatch, eigenspace_overlap, gulp, ridge_predictivity, imd, rtd.

Nothing here imports ``metrics``; numpy float64, explicit and slow on purpose: explicit n x n kernels and
hat matrices from the definitions, full-matrix projections from numpy's SVD, scikit-learn's Ridge fitted
once per alpha on explicit folds, scipy's dense matrix exponential for the heat traces, and gudhi's
persistent homology (a different library from the measure's giotto-ph) on the explicit cross matrix.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.spatial.distance import cdist
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.neighbors import NearestNeighbors


def centered(a: np.ndarray) -> np.ndarray:
    """Xc = (I - 11^T/n) X with the explicit centering matrix."""
    a = np.asarray(a, dtype=np.float64)
    n = a.shape[0]
    return (np.eye(n) - np.ones((n, n)) / n) @ a


# ----------------------------------------------------------------------------------------------------
# Lange et al.'s CKA
# ----------------------------------------------------------------------------------------------------
def cka_linear_lange(x: np.ndarray, y: np.ndarray) -> float:
    """cos(K~, L~): K~ = H X X^T H with its diagonal set to zero, explicit n x n matrices."""
    k, l = (centered(a) @ centered(a).T for a in (x, y))
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l, 0.0)
    return float(np.sum(k * l) / (np.linalg.norm(k) * np.linalg.norm(l)))


# ----------------------------------------------------------------------------------------------------
# Minibatch CKA
# ----------------------------------------------------------------------------------------------------
def u_centered_inner(k: np.ndarray, l: np.ndarray) -> float:
    """Szekely & Rizzo's U-centered inner product (K~ . L~) = sum_{i != j} K~_ij L~_ij / (n (n-3)), with
    A~_ij = a_ij - row_i / (n-2) - col_j / (n-2) + total / ((n-1)(n-2)) of A's diagonal zeroed: Song et
    al.'s unbiased HSIC by another formula."""
    n = k.shape[0]

    def u_center(a):
        a = a - np.diag(np.diag(a))
        out = a - a.sum(1, keepdims=True) / (n - 2) - a.sum(0, keepdims=True) / (n - 2) + a.sum() / ((n - 1) * (n - 2))
        np.fill_diagonal(out, 0.0)
        return out

    return float(np.sum(u_center(k) * u_center(l)) / (n * (n - 3)))


def cka_linear_minibatch(x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> float:
    """Nguyen et al. 2021: mean over batches of the U-centered HSIC of the raw (uncentered) linear kernels
    of each batch, then the ratio. Batches: rows [0, b), [b, 2b), ...; a last batch of fewer than 4 rows
    is appended to the one before it."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    bounds = list(range(0, n, batch_size)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < 4:
        del bounds[-2]
    terms = []
    for start, stop in zip(bounds, bounds[1:]):
        k, l = x[start:stop] @ x[start:stop].T, y[start:stop] @ y[start:stop].T
        terms.append((u_centered_inner(k, l), u_centered_inner(k, k), u_centered_inner(l, l)))
    xy, xx, yy = np.mean(terms, axis=0)
    return float(xy / np.sqrt(xx * yy))


# ----------------------------------------------------------------------------------------------------
# Subspaces
# ----------------------------------------------------------------------------------------------------
def column_space_projection(a: np.ndarray) -> tuple[np.ndarray, int]:
    """(P, r): the n x n orthogonal projection U_r U_r^T on the column space of A, from numpy's full SVD,
    r = numpy.linalg.matrix_rank(A) (its default tolerance)."""
    a = np.asarray(a, dtype=np.float64)
    r = int(np.linalg.matrix_rank(a))
    u = np.linalg.svd(a, full_matrices=True)[0][:, :r]
    return u @ u.T, r


def eigenspace_overlap(x: np.ndarray, y: np.ndarray) -> float:
    """tr(P_X P_Y) / max(r_X, r_Y) = ||U_X^T U_Y||_F^2 / max(r_X, r_Y), uncentered, full projections."""
    (px, rx), (py, ry) = column_space_projection(x), column_space_projection(y)
    return float(np.trace(px @ py) / max(rx, ry))


def gulp_hat(a: np.ndarray, lam: float) -> np.ndarray:
    """H = A (A^T A + n lam I)^-1 A^T for A centered and scaled to ||A||_F = sqrt(n); at lam = 0 the
    projection A A^+ (numpy's pseudo-inverse)."""
    a = centered(a)
    n = a.shape[0]
    a = a * np.sqrt(n) / np.linalg.norm(a)
    if lam == 0:
        return a @ np.linalg.pinv(a)
    return a @ np.linalg.solve(a.T @ a + n * lam * np.eye(a.shape[1]), a.T)


def gulp(x: np.ndarray, y: np.ndarray, lam: float = 0.0) -> float:
    """||H_X - H_Y||_F with the explicit n x n matrices of :func:`gulp_hat`."""
    return float(np.linalg.norm(gulp_hat(x, lam) - gulp_hat(y, lam)))


# ----------------------------------------------------------------------------------------------------
# Ridge predictivity
# ----------------------------------------------------------------------------------------------------
#: The alphas of ridge_predictivity, relative to the training fold's ||Xc||_F^2 / p1.
RIDGE_ALPHAS = np.logspace(-4, 4, 17)


def ridge_gcv(x: np.ndarray, y: np.ndarray, alpha: float) -> float:
    """Generalized cross-validation m ||Y - Y_hat||_F^2 / (m - tr H)^2 of sklearn's Ridge (with intercept),
    H = 11^T/m + Xc (Xc^T Xc + alpha I)^-1 Xc^T the explicit m x m hat matrix."""
    m = x.shape[0]
    residual = y - Ridge(alpha=alpha).fit(x, y).predict(x)
    xc = centered(x)
    hat = np.ones((m, m)) / m + xc @ np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T)
    return float(m * np.sum(residual**2) / (m - np.trace(hat)) ** 2)


def pearson_or_none(truth: np.ndarray, prediction: np.ndarray) -> float | None:
    """Pearson r (numpy.corrcoef); None when the truth is constant, 0 when only the prediction is."""
    if np.ptp(truth) == 0:
        return None
    if np.ptp(prediction) == 0:
        return 0.0
    return float(np.corrcoef(truth, prediction)[0, 1])


def ridge_predictivity(x: np.ndarray, y: np.ndarray, folds: int = 5) -> float:
    """Per contiguous fold (sklearn KFold, no shuffle): alpha from the grid minimizing :func:`ridge_gcv` on
    the training part, sklearn Ridge refitted there, Pearson r per unit of Y on the held-out part; the
    mean over the (fold, unit) pairs whose held-out truth varies."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    scores = []
    for train, test in KFold(folds).split(x):
        scale = np.sum(centered(x[train]) ** 2) / x.shape[1]
        errors = [ridge_gcv(x[train], y[train], a * scale) for a in RIDGE_ALPHAS]
        alpha = RIDGE_ALPHAS[int(np.argmin(errors))] * scale
        prediction = Ridge(alpha=alpha).fit(x[train], y[train]).predict(x[test])
        for j in range(y.shape[1]):
            r = pearson_or_none(y[test, j], prediction[:, j])
            if r is not None:
                scores.append(r)
    return float(np.mean(scores))


# ----------------------------------------------------------------------------------------------------
# IMD: heat-kernel traces of kNN graphs
# ----------------------------------------------------------------------------------------------------
#: The temperatures of Tsitsulin et al.'s reference code, 256 log-spaced values in [0.1, 10].
IMD_TEMPERATURES = np.logspace(-1, 1, 256)


def knn_normalized_laplacian(a: np.ndarray, k: int = 5) -> np.ndarray:
    """I - D^-1/2 W D^-1/2 (dense) of the symmetrized k-nearest-neighbour graph (sklearn NearestNeighbors,
    Euclidean, self excluded): w_ij = 1 if j is among the k neighbours of i or i among those of j."""
    a = np.asarray(a, dtype=np.float64)
    n = a.shape[0]
    _, idx = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(a).kneighbors(a)
    w = np.zeros((n, n))
    for i, row in enumerate(idx):
        for j in [j for j in row if j != i][:k]:
            w[i, j] = w[j, i] = 1.0
    root = 1 / np.sqrt(w.sum(axis=1))
    return np.eye(n) - root[:, None] * w * root[None, :]


def heat_trace(laplacian: np.ndarray, ts: np.ndarray = IMD_TEMPERATURES) -> np.ndarray:
    """tr exp(-t L) / n for each t, by scipy.linalg.expm of the dense matrix."""
    return np.array([np.trace(scipy.linalg.expm(-t * laplacian)) for t in ts]) / laplacian.shape[0]


def imd(x: np.ndarray, y: np.ndarray, k: int = 5) -> float:
    """max_t exp(-2 (t + 1/t)) |hkt_X(t) - hkt_Y(t)| with the exact heat traces of :func:`heat_trace`."""
    ts = IMD_TEMPERATURES
    hx, hy = (heat_trace(knn_normalized_laplacian(a, k), ts) for a in (x, y))
    return float(np.max(np.exp(-2 * (ts + 1 / ts)) * np.abs(hx - hy)))


# ----------------------------------------------------------------------------------------------------
# RTD: the R-Cross-Barcode by gudhi
# ----------------------------------------------------------------------------------------------------
def normalized_distances(a: np.ndarray, quantile: float = 0.9) -> np.ndarray:
    """Euclidean distances (scipy cdist) divided by their 0.9 quantile over the pairs i < j."""
    d = cdist(a, a)
    return d / np.quantile(d[np.triu_indices(d.shape[0], k=1)], quantile)


def cross_barcode_h1_sum(r1: np.ndarray, r2: np.ndarray) -> float:
    """Sum of the H1 bar lengths of the Vietoris-Rips filtration on 2n points with distance matrix
    [[0, r1^T], [r1, min(r1, r2)]] (Barannikov et al. 2022), by gudhi's RipsComplex (float64)."""
    import gudhi

    n = r1.shape[0]
    d = np.zeros((2 * n, 2 * n))
    d[n:, :n], d[:n, n:], d[n:, n:] = r1, r1.T, np.minimum(r1, r2)
    tree = gudhi.RipsComplex(distance_matrix=d).create_simplex_tree(max_dimension=2)
    tree.compute_persistence(persistence_dim_max=True)
    bars = tree.persistence_intervals_in_dimension(1)
    return float(np.sum(bars[:, 1] - bars[:, 0])) if len(bars) else 0.0


def rtd(x: np.ndarray, y: np.ndarray) -> float:
    """(H1 sum of the cross-barcode of (X, Y) + that of (Y, X)) / 2 on all samples (n <= the batch)."""
    r1, r2 = normalized_distances(x), normalized_distances(y)
    return (cross_barcode_h1_sum(r1, r2) + cross_barcode_h1_sum(r2, r1)) / 2


#: Reference routes by measure name, merged into ``reference.REFERENCES``.
REFERENCES: dict = {
    "cka_linear_lange": cka_linear_lange,
    "cka_linear_minibatch": cka_linear_minibatch,
    "eigenspace_overlap": eigenspace_overlap,
    "gulp": gulp,
    "ridge_predictivity": ridge_predictivity,
    "imd": imd,
    "rtd": rtd,
}
