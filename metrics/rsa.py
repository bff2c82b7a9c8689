"""Representational similarity analysis (Kriegeskorte, Mur, Bandettini 2008)."""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from metrics._inputs import InputError
from metrics._registry import register

KRIEGESKORTE_2008 = "Kriegeskorte, Mur, Bandettini 2008, Representational similarity analysis (Front. Syst. Neurosci.)"


def correlation_rdm_upper(x: np.ndarray) -> np.ndarray:
    """Upper triangle (i < j, row-major) of the correlation RDM, 1 - Pearson(x_i, x_j) across features."""
    if x.shape[1] < 3:
        # two centered values are (d, -d): every correlation is +1 or -1, and the ranks of the tied
        # distances would be decided by rounding
        raise InputError(
            f"correlation distances need at least 3 features, got p = {x.shape[1]} (with 2 every "
            "correlation is +1 or -1)"
        )
    z = x - x.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(z, axis=1)
    flat = norms <= 8 * np.finfo(x.dtype).eps * np.sqrt(x.shape[1]) * np.abs(x).max(axis=1)
    if flat.any():
        raise InputError(
            f"{int(flat.sum())} sample(s) (first: row {int(np.argmax(flat))}) have the same value in every "
            "feature; their correlation distance is undefined (rsa needs p >= 3 and no constant rows)"
        )
    z /= norms[:, None]
    corr = z @ z.T
    return 1 - corr[np.triu(np.ones(corr.shape, dtype=bool), k=1)]


def average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..m of a 1-D array, tied values sharing the mean of their ranks (scipy's "average").

    One unstable sort; only when it finds equal neighbours is the tie-aware (stable, slower) ranking
    needed, and distances between real-valued representations are almost never tied.
    """
    order = np.argsort(a)
    ordered = a[order]
    if np.any(ordered[1:] == ordered[:-1]):
        return rankdata(a)
    ranks = np.empty(a.shape, dtype=np.float64)
    ranks[order] = np.arange(1, a.size + 1, dtype=np.float64)
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation with average ranks for ties; refuses a constant vector."""
    ra, rb = average_ranks(a), average_ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = np.sqrt((ra @ ra) * (rb @ rb))
    if not denominator > 0:
        raise InputError("all dissimilarities are equal; their rank correlation is undefined")
    return float(ra @ rb / denominator)


@register(
    "rsa",
    symmetric=True,
    invariances={"permutation", "isotropic_scaling"},
    bounds=(-1.0, 1.0),
    reference=KRIEGESKORTE_2008,
    backend="numpy",
    min_features=3,
    speed_bound=("XXt", "YYt", "argsort(pairs)", "argsort(pairs)"),  # both RDMs, both rankings
)
def rsa(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman correlation of the upper triangles of the correlation-distance RDMs of X and Y,
    RDM_ij = 1 - corr(x_i, x_j) with the correlation taken across features. O(n^2) memory.
    """
    return spearman(correlation_rdm_upper(x), correlation_rdm_upper(y))
