"""Naive reference implementations of the measures, written from their definitions.

Each function is a second, independent route to the number a measure in ``metrics`` returns: explicit
n x n matrices, the explicit centering matrix H = I - 11^T/n, scipy's matrix square root, scipy's
orthogonal Procrustes solver, scipy's Spearman correlation and scikit-learn's nearest neighbours. Nothing
here imports ``metrics``; everything is numpy float64 and slow on purpose (n <= a few hundred).
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
from scipy.spatial.distance import pdist, squareform
from scipy.stats import spearmanr

EPS = np.finfo(np.float64).eps


# ----------------------------------------------------------------------------------------------------
# Centering and kernels
# ----------------------------------------------------------------------------------------------------
def centering_matrix(n: int) -> np.ndarray:
    """H = I_n - 1 1^T / n, the projection that removes the mean of a length-n vector."""
    return np.eye(n) - np.ones((n, n)) / n


def centered(x: np.ndarray) -> np.ndarray:
    """Xc = H X (column means removed), with H the explicit centering matrix."""
    x = np.asarray(x, dtype=np.float64)
    return centering_matrix(x.shape[0]) @ x


def linear_gram(x: np.ndarray) -> np.ndarray:
    """K = X X^T (uncentered linear kernel)."""
    x = np.asarray(x, dtype=np.float64)
    return x @ x.T


def double_centered(k: np.ndarray) -> np.ndarray:
    """H K H."""
    h = centering_matrix(k.shape[0])
    return h @ k @ h


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """<A, B>_F / (||A||_F ||B||_F)."""
    return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# ----------------------------------------------------------------------------------------------------
# CKA
# ----------------------------------------------------------------------------------------------------
def cka_linear_features(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA in feature space: ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F), Xc = H X."""
    xc, yc = centered(x), centered(y)
    return float(
        np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))
    )


def cka_linear_gram(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA in Gram space: <HKH, HLH>_F / (||HKH||_F ||HLH||_F), K = X X^T, L = Y Y^T."""
    return cosine(double_centered(linear_gram(x)), double_centered(linear_gram(y)))


def hsic_unbiased_song(k: np.ndarray, l: np.ndarray) -> float:
    """Song et al. 2012, eq. (5): with K~, L~ the kernels with zeroed diagonals,

    HSIC_u = [tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1] / (n (n-3)).
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
    """The U-centered inner product (A~ . B~) = 1/(n(n-3)) sum_{i != j} A~_ij B~_ij."""
    n = a.shape[0]
    return float(np.sum(u_centered(a) * u_centered(b)) / (n * (n - 3)))


def cka_debiased_song(x: np.ndarray, y: np.ndarray, *, center_first: bool = True) -> float:
    """HSIC_u(K, L) / sqrt(HSIC_u(K, K) HSIC_u(L, L)) with Song's eq. (5) on explicit n x n kernels.

    ``center_first=False`` uses the raw kernels X X^T: HSIC_u is unchanged by adding a_i + a_j to
    k_ij, which is what a translation of the data does to a linear kernel, so both give one number.
    """
    k = linear_gram(centered(x) if center_first else x)
    l = linear_gram(centered(y) if center_first else y)
    return hsic_unbiased_song(k, l) / np.sqrt(hsic_unbiased_song(k, k) * hsic_unbiased_song(l, l))


def cka_debiased_u_centering(x: np.ndarray, y: np.ndarray) -> float:
    """(K~ . L~) / sqrt((K~ . K~)(L~ . L~)) with Szekely & Rizzo's U-centered inner product."""
    k, l = linear_gram(centered(x)), linear_gram(centered(y))
    return u_inner(k, l) / np.sqrt(u_inner(k, k) * u_inner(l, l))


def median_squared_distance(x: np.ndarray) -> float:
    """Median of ||x_i - x_j||^2 over the ordered pairs i != j."""
    d = squareform(pdist(np.asarray(x, dtype=np.float64), "sqeuclidean"))
    return float(np.median(d[~np.eye(d.shape[0], dtype=bool)]))


def rbf_kernel(x: np.ndarray, sigma_scale: float = 0.8) -> np.ndarray:
    """K_ij = exp(-||x_i - x_j||^2 / (2 sigma^2)), sigma = sigma_scale sqrt(median_{i != j} ||x_i - x_j||^2)."""
    d = squareform(pdist(np.asarray(x, dtype=np.float64), "sqeuclidean"))
    sigma_sq = sigma_scale**2 * median_squared_distance(x)
    return np.exp(-d / (2 * sigma_sq))


def cka_rbf(x: np.ndarray, y: np.ndarray, sigma_scale: float = 0.8) -> float:
    """<HKH, HLH>_F / (||HKH||_F ||HLH||_F) with the Gaussian kernels of :func:`rbf_kernel`."""
    return cosine(double_centered(rbf_kernel(x, sigma_scale)), double_centered(rbf_kernel(y, sigma_scale)))


# ----------------------------------------------------------------------------------------------------
# CCA family
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


def cca_mean(x: np.ndarray, y: np.ndarray) -> float:
    """(1/m) sum_i rho_i."""
    return float(np.mean(canonical_correlations(x, y)))


def cca_mean_sq(x: np.ndarray, y: np.ndarray) -> float:
    """(1/m) sum_i rho_i^2 (Yanai's R^2_CCA)."""
    return float(np.mean(canonical_correlations(x, y) ** 2))


def svd_truncation_count(singular_values: np.ndarray, threshold: float = 0.99) -> int:
    """The fewest k with sum_{i<=k} s_i^2 >= threshold * sum_i s_i^2 (s sorted descending), by a loop."""
    energy = np.asarray(singular_values, dtype=np.float64) ** 2
    total = energy.sum()
    running = 0.0
    for k, e in enumerate(energy, start=1):
        running += e
        if running >= threshold * total:
            return k
    return len(energy)


def svd_truncate(x: np.ndarray, threshold: float = 0.99) -> np.ndarray:
    """U_k S_k of Xc = U S V^T, k = :func:`svd_truncation_count` (Raghu et al.'s SVD step)."""
    u, s, _ = np.linalg.svd(centered(x), full_matrices=False)
    k = svd_truncation_count(s, threshold)
    return u[:, :k] * s[:k]


def svcca(x: np.ndarray, y: np.ndarray, threshold: float = 0.99) -> float:
    """Mean canonical correlation of the SVD-truncated representations."""
    return cca_mean(svd_truncate(x, threshold), svd_truncate(y, threshold))


def pwcca(x: np.ndarray, y: np.ndarray) -> float:
    """Morcos et al. 2018: canonical variates of X (Xc A), orthonormalized by QR into H; weights
    alpha_i = sum_j |<h_i, x_j>| over the columns x_j of Xc, normalized to sum 1; sum_i alpha_i rho_i.
    """
    xc = centered(x)
    rho, a = cca_whitened(x, y)
    h, _ = np.linalg.qr(xc @ a)
    weights = np.abs(h.T @ xc).sum(axis=1)
    return float(np.sum(weights / weights.sum() * rho))


# ----------------------------------------------------------------------------------------------------
# Shape measures
# ----------------------------------------------------------------------------------------------------
def procrustes(x: np.ndarray, y: np.ndarray) -> float:
    """<Xc R, Yc>_F / (||Xc||_F ||Yc||_F) with R = argmin_{R^T R = I} ||Xc R - Yc||_F from
    scipy.linalg.orthogonal_procrustes (the narrower input is padded with zero columns)."""
    xc, yc = centered(x), centered(y)
    width = max(xc.shape[1], yc.shape[1])
    xp = np.pad(xc, ((0, 0), (0, width - xc.shape[1])))
    yp = np.pad(yc, ((0, 0), (0, width - yc.shape[1])))
    r, _ = scipy.linalg.orthogonal_procrustes(xp, yp)
    return float(np.sum((xp @ r) * yp) / (np.linalg.norm(xc) * np.linalg.norm(yc)))


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


def nbs(x: np.ndarray, y: np.ndarray) -> float:
    """Normalized Bures similarity tr((K^{1/2} L K^{1/2})^{1/2}) / sqrt(tr K tr L), K = H X X^T H,
    L = H Y Y^T H, with K^{1/2} from scipy.linalg.sqrtm of the n x n matrix."""
    k, l = double_centered(linear_gram(x)), double_centered(linear_gram(y))
    root = psd_sqrtm(k)
    return trace_sqrt_psd(root @ l @ root) / np.sqrt(np.trace(k) * np.trace(l))


# ----------------------------------------------------------------------------------------------------
# Regression, RSA, neighbours
# ----------------------------------------------------------------------------------------------------
def ols_r2(x: np.ndarray, y: np.ndarray) -> float:
    """1 - ||Y - [1 X] B||_F^2 / ||Y - mean(Y)||_F^2 with B = numpy.linalg.lstsq([1 X], Y) (an intercept
    column instead of centering)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    design = np.hstack([np.ones((x.shape[0], 1)), x])
    b, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ b
    return float(1 - np.sum(residual**2) / np.sum((y - y.mean(axis=0)) ** 2))


def correlation_rdm(x: np.ndarray) -> np.ndarray:
    """Condensed RDM (upper triangle, i < j), 1 - Pearson correlation of rows: pdist(X, 'correlation')."""
    return pdist(np.asarray(x, dtype=np.float64), "correlation")


def rsa(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman correlation (scipy.stats.spearmanr) of the two correlation-distance RDMs."""
    return float(spearmanr(correlation_rdm(x), correlation_rdm(y)).statistic)


#: Reference routes by measure name (the main one for each; tests add the alternatives explicitly).
REFERENCES = {
    "cka_linear": cka_linear_gram,
    "cka_linear_debiased": cka_debiased_song,
    "cka_rbf": cka_rbf,
    "cca_mean": cca_mean,
    "cca_mean_sq": cca_mean_sq,
    "svcca": svcca,
    "pwcca": pwcca,
    "procrustes": procrustes,
    "nbs": nbs,
    "ols_r2": ols_r2,
    "rsa": rsa,
}


def _merge_family_references() -> None:
    """Add the routes of the per-family reference modules (``reference_<family>.py``) to REFERENCES."""
    import reference_distance, reference_linear, reference_neighbors, reference_shape

    for module in (reference_distance, reference_linear, reference_neighbors, reference_shape):
        overlap = REFERENCES.keys() & module.REFERENCES.keys()
        if overlap:
            raise RuntimeError(f"{module.__name__} redefines the reference route(s) of {sorted(overlap)}")
        REFERENCES.update(module.REFERENCES)


_merge_family_references()
