"""Independent reference routes for the kNN family: knn_jaccard, mutual_knn, cknna, rank_similarity,
second_order_cosine.

Nothing here imports ``metrics``; numpy float64, explicit n x n matrices and loops, slow on purpose.
Neighbours come from the full distance matrix (``scipy.spatial.distance.cdist``, one pair at a time, so
duplicated rows get bitwise equal distances) with the suite's tie rule: among samples at the same
distance, both sides list first the sample whose pair of rows comes first lexicographically
(``numpy.lexsort``), the pair being (x_j, y_j) when X's sorted rows come first as Python tuples (the
narrower side first) and (y_j, x_j) otherwise. ``sklearn_neighbor_lists`` is a second route
(scikit-learn's NearestNeighbors) for data without ties; ``by_index=True`` breaks ties by index, the
rule that made values depend on the order of the rows.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors

METRICS = {"euclidean": "sqeuclidean", "cosine": "cosine"}


def tie_ranks(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rank of each sample in the order that breaks ties on both sides."""
    x_first = (x.shape[1], sorted(map(tuple, x))) <= (y.shape[1], sorted(map(tuple, y)))
    rows = np.hstack([x, y] if x_first else [y, x])
    order = np.lexsort(tuple(rows[:, c] for c in reversed(range(rows.shape[1]))))  # last key sorts first
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order))
    return ranks


def neighbor_lists(z: np.ndarray, k: int, metric: str, ranks: np.ndarray) -> np.ndarray:
    """[n, k]: each sample's k nearest other rows of z in rank order, ties to the lower ``ranks``."""
    distances = cdist(z, z, metric=METRICS[metric])
    n = len(z)
    lists = np.empty((n, k), dtype=np.int64)
    for i in range(n):
        others = np.array([j for j in range(n) if j != i])
        by_distance_then_rank = np.lexsort((ranks[others], distances[i, others]))
        lists[i] = others[by_distance_then_rank[:k]]
    return lists


def sklearn_neighbor_lists(x: np.ndarray, k: int, metric: str) -> np.ndarray:
    """[n, k] by scikit-learn's brute-force NearestNeighbors, self removed (no tie rule: tie-free data)."""
    _, index = NearestNeighbors(n_neighbors=k + 1, algorithm="brute", metric=metric).fit(x).kneighbors(x)
    return np.array([[j for j in row if j != i][:k] for i, row in enumerate(index)])


def pair_lists(x, y, k: int, metric: str, by_index: bool = False):
    """N_X and N_Y as [n, k] arrays (original sample numbers)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ranks = np.arange(len(x)) if by_index else tie_ranks(x, y)
    return neighbor_lists(x, k, metric, ranks), neighbor_lists(y, k, metric, ranks)


def jaccard_of_lists(nx: np.ndarray, ny: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(set(a) | set(b)) for a, b in zip(nx, ny)]))


def knn_jaccard(x, y, k: int = 10, neighbours: str = "euclidean") -> float:
    """mean_i |N_X(i) & N_Y(i)| / |N_X(i) | N_Y(i)|, Euclidean (or cosine) neighbours."""
    return jaccard_of_lists(*pair_lists(x, y, k, neighbours))


def mutual_knn(x, y, k: int = 10) -> float:
    """mean_i |N_X(i) & N_Y(i)| / k, cosine neighbours."""
    nx, ny = pair_lists(x, y, k, "cosine")
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(nx, ny)]))


def rank_similarity(x, y, k: int = 10) -> float:
    """Wang et al. 2022: per point, sum over shared neighbours j of 2 / ((1 + |r_X - r_Y|)(r_X + r_Y)),
    over sum_{l <= |shared|} 1 / l (0 if none is shared); mean over points. Cosine neighbours."""
    nx, ny = pair_lists(x, y, k, "cosine")
    values = []
    for a, b in zip(nx, ny):
        rank_x = {int(j): r for r, j in enumerate(a, start=1)}
        rank_y = {int(j): r for r, j in enumerate(b, start=1)}
        shared = rank_x.keys() & rank_y.keys()
        if not shared:
            values.append(0.0)
            continue
        total = sum(2.0 / ((1 + abs(rank_x[j] - rank_y[j])) * (rank_x[j] + rank_y[j])) for j in shared)
        values.append(total / sum(1.0 / l for l in range(1, len(shared) + 1)))
    return float(np.mean(values))


def cosine_matrix(x: np.ndarray) -> np.ndarray:
    """cos(x_i, x_j) for every pair."""
    return 1.0 - cdist(x, x, metric="cosine")


def second_order_cosine(x, y, k: int = 10) -> float:
    """Hamilton et al. 2016: per point, over U = N_X(i) | N_Y(i), the cosine between the vectors
    (cos(x_i, x_j))_{j in U} and (cos(y_i, y_j))_{j in U}; mean over points. Cosine neighbours."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    nx, ny = pair_lists(x, y, k, "cosine")
    cx, cy = cosine_matrix(x), cosine_matrix(y)
    values = []
    for i, (a, b) in enumerate(zip(nx, ny)):
        union = sorted(set(a) | set(b))
        u, v = cx[i, union], cy[i, union]
        values.append(u @ v / np.sqrt((u @ u) * (v @ v)))
    return float(np.mean(values))


def hsic_unbiased(k: np.ndarray, l: np.ndarray) -> float:
    """The unbiased HSIC of Song et al. 2012 (eq. 5) on two n x n matrices, as platonic-rep applies it
    (also to the asymmetric masked kernels): diagonals set to zero, then
    (tr(K L) + 1'K1 1'L1 / ((n-1)(n-2)) - 2/(n-2) 1'K L 1) / (n(n-3))."""
    n = len(k)
    k, l = k.copy(), l.copy()
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l, 0.0)
    ones = np.ones(n)
    return float(
        (np.trace(k @ l) + k.sum() * l.sum() / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * (ones @ k @ l @ ones))
        / (n * (n - 3))
    )


def neighbour_mask(lists: np.ndarray) -> np.ndarray:
    """n x n: 1 where j is one of i's neighbours."""
    mask = np.zeros((len(lists), len(lists)))
    np.put_along_axis(mask, lists, 1.0, axis=1)
    return mask


def cknna(x, y, k: int = 10) -> float:
    """Huh et al. 2024 (platonic-rep's AlignmentMetrics.cknna on L2-normalized rows, unbiased=True):
    K, L the cosine kernels; M_K, M_L the kNN masks (self excluded), M = M_K * M_L;
    HSIC_u(M K, M L) / sqrt(HSIC_u(M_K K, M_K K) HSIC_u(M_L L, M_L L)), every product elementwise."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    nx, ny = pair_lists(x, y, k, "cosine")
    kx, ly = cosine_matrix(x), cosine_matrix(y)
    mask_x, mask_y = neighbour_mask(nx), neighbour_mask(ny)
    mutual = mask_x * mask_y
    across = hsic_unbiased(mutual * kx, mutual * ly)
    return across / np.sqrt(hsic_unbiased(mask_x * kx, mask_x * kx) * hsic_unbiased(mask_y * ly, mask_y * ly))


#: Reference routes by measure name, merged into ``reference.REFERENCES``.
REFERENCES: dict = {
    "knn_jaccard": knn_jaccard,
    "mutual_knn": mutual_knn,
    "cknna": cknna,
    "rank_similarity": rank_similarity,
    "second_order_cosine": second_order_cosine,
}
