"""Independent reference routes for distance_correlation, rsm_norm_difference and the magnitude,
concentricity and uniformity differences.

Nothing here imports ``metrics``; numpy float64, explicit and slow on purpose: full n x n distance
matrices from scipy's ``pdist`` (differences, not the Gram route), the explicit centering matrix
H = I - 11^T / n, scipy's cosine distance and ``logsumexp``. ``dcor`` is a third route for distance
correlation, used in tests/test_metrics_distance.py.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist, pdist, squareform
from scipy.special import logsumexp


def _float(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def distance_matrix(x: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """The full n x n matrix of pairwise distances, squareform(pdist(X, metric))."""
    return squareform(pdist(_float(x), metric))


def double_centered_distances(x: np.ndarray) -> np.ndarray:
    """A = H D H with D the Euclidean distance matrix and H = I - 11^T / n."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    return h @ distance_matrix(x) @ h


def distance_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """sqrt(dCov^2(X, Y) / sqrt(dVar^2(X) dVar^2(Y))) with dCov^2 = mean_ij A_ij B_ij (V-statistic)."""
    a, b = double_centered_distances(x), double_centered_distances(y)
    return float(np.sqrt(np.mean(a * b) / np.sqrt(np.mean(a * a) * np.mean(b * b))))


def rsm_norm_difference(x: np.ndarray, y: np.ndarray) -> float:
    """sqrt(mean over pairs i < j of (d_X(i, j) - d_Y(i, j))^2), from the condensed pdist vectors."""
    return float(np.sqrt(np.mean((pdist(_float(x)) - pdist(_float(y))) ** 2)))


def mean_length(x: np.ndarray) -> float:
    """||mean_i x_i|| by another formula: sqrt(1^T X X^T 1) / n."""
    x = _float(x)
    return float(np.sqrt((x @ x.T).sum()) / len(x))


def magnitude_difference(x: np.ndarray, y: np.ndarray) -> float:
    return abs(mean_length(x) - mean_length(y))


def concentricity(x: np.ndarray) -> float:
    """mean_i (1 - cosine distance(x_i, x_bar)), the cosine distance from scipy's cdist."""
    x = _float(x)
    return float(np.mean(1 - cdist(x, x.mean(axis=0, keepdims=True), "cosine")))


def concentricity_difference(x: np.ndarray, y: np.ndarray) -> float:
    return abs(concentricity(x) - concentricity(y))


def uniformity(x: np.ndarray, t: float = 2.0) -> float:
    """log((1/n^2) sum_{i,j} exp(-t ||x_i - x_j||^2)) over all n^2 pairs (diagonal included), by logsumexp."""
    return float(logsumexp(-t * distance_matrix(x, "sqeuclidean")) - 2 * np.log(len(x)))


def uniformity_difference(x: np.ndarray, y: np.ndarray, t: float = 2.0) -> float:
    return abs(uniformity(x, t) - uniformity(y, t))


#: Reference routes by measure name, merged into ``reference.REFERENCES``.
REFERENCES: dict = {
    "distance_correlation": distance_correlation,
    "rsm_norm_difference": rsm_norm_difference,
    "magnitude_difference": magnitude_difference,
    "concentricity_difference": concentricity_difference,
    "uniformity_difference": uniformity_difference,
}
