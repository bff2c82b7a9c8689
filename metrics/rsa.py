"""Representational similarity analysis (Kriegeskorte, Mur, Bandettini 2008)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from metrics import _naive
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
    distances = upper_triangle(corr)
    return np.subtract(1.0, distances, out=distances)  # in place: no second array of n(n-1)/2 values


def upper_triangle(square: np.ndarray) -> np.ndarray:
    """The entries i < j of an n x n matrix, row-major (as ``square[np.triu_indices(n, 1)]``), copied
    one row slice at a time: contiguous copies instead of an n x n mask and a gather."""
    n = square.shape[0]
    if n < 2:
        return np.empty(0, dtype=square.dtype)
    return np.concatenate([square[i, i + 1 :] for i in range(n - 1)])


#: From this many values on, ``torch.sort`` (all threads) beats ``np.argsort`` and a gather, and the two
#: sides are ranked side by side in two threads (measured on 2 cores: equal at 5e5 values, torch 25 %
#: faster at 5e6; below 1e6, threads and torch's per-call cost made RSA at n = 300 three times slower).
LARGE = 1 << 20


def _sorted(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values of ``a`` sorted, and the permutation that sorts them."""
    if a.size >= LARGE:
        ordered, order = torch.sort(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64)))
        return ordered.numpy(), order.numpy()
    order = np.argsort(a)
    return a[order], order


def average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..m of a 1-D array, tied values sharing the mean of their ranks (scipy's "average").

    One sort (:func:`_sorted`), then each run of equal sorted values [s, e) gets the rank
    (s + 1 + e) / 2, exact in float64. The order the sort leaves tied values in does not matter: they
    all get the same rank.
    """
    ordered, order = _sorted(a)
    new_run = np.empty(ordered.shape, dtype=bool)
    new_run[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new_run[1:])
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], ordered.size)
    ranks = np.empty(a.shape, dtype=np.float64)
    if starts.size == ordered.size:  # no ties (the usual case): rank = position + 1
        ranks[order] = np.arange(1, a.size + 1, dtype=np.float64)
    else:
        ranks[order] = ((starts + 1 + ends) / 2)[np.cumsum(new_run) - 1]
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation with average ranks for ties; refuses a constant vector."""
    if a.size >= LARGE:  # two sorts side by side keep both cores busier than one after the other
        with ThreadPoolExecutor(2) as pool:
            ra, rb = pool.map(average_ranks, (a, b))
    else:
        ra, rb = average_ranks(a), average_ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = np.sqrt((ra @ ra) * (rb @ rb))
    if not denominator > 0:
        raise InputError("all dissimilarities are equal; their rank correlation is undefined")
    return float(ra @ rb / denominator)


def _reference_rsa(x, y) -> float:
    """Independent route: scipy.stats.spearmanr of the condensed RDMs 1 - Pearson correlation of the rows,
    scipy's pdist(X, "correlation")."""
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr

    rdm_x, rdm_y = (pdist(_naive.as_float(a), "correlation") for a in (x, y))
    return float(spearmanr(rdm_x, rdm_y).statistic)


@register(
    "rsa",
    reference_route=_reference_rsa,
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
