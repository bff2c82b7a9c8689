"""Topological and manifold measures: IMD (Tsitsulin et al. 2020) and RTD (Barannikov et al. 2022).

Both compare the two point clouds through structures built from distances within each one (a kNN graph,
a Vietoris-Rips filtration), so neither needs the features to correspond; both are distances (0 for
identical inputs, lower is more similar) and deterministic: any randomness comes from a seeded generator.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse
import torch
from scipy.spatial.distance import cdist, pdist, squareform

from metrics import _naive
from metrics._inputs import InputError
from metrics._registry import register
from metrics.neighbors import neighbour_pair

TSITSULIN_2020 = (
    "Tsitsulin, Munkhoeva, Mottin, Karras, Bronstein, Oseledets, Mueller 2020, The Shape of Data: "
    "Intrinsic Distance for Data Distributions (ICLR)"
)
BARANNIKOV_2022 = (
    "Barannikov, Trofimov, Balabin, Burnaev 2022, Representation Topology Divergence: A Method for "
    "Comparing Neural Network Representations (ICML)"
)

def _check_counts(**counts: tuple[int, int]) -> None:
    """Each parameter ``name=(value, lowest)`` must be an integer >= lowest."""
    for name, (value, low) in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(f"{name} must be an integer >= {low}, got {value!r}")


# ----------------------------------------------------------------------------------------------------
# IMD
# ----------------------------------------------------------------------------------------------------
#: The temperatures of the reference implementation (xgfs/imd): 256 log-spaced values in [0.1, 10].
IMD_TEMPERATURES = np.logspace(-1, 1, 256)


def knn_laplacian(neighbours: torch.Tensor) -> scipy.sparse.csr_matrix:
    """Normalized Laplacian I - D^-1/2 W D^-1/2 of the symmetrized kNN graph: w_ij = 1 when j is among the
    k neighbours of i or i among those of j (``neighbours`` [n, k], every degree >= k)."""
    n, k = neighbours.shape
    rows = np.repeat(np.arange(n), k)
    directed = scipy.sparse.csr_matrix((np.ones(n * k), (rows, neighbours.cpu().numpy().ravel())), shape=(n, n))
    w = directed.maximum(directed.T)
    root = scipy.sparse.diags(1 / np.sqrt(np.asarray(w.sum(axis=1)).ravel()))
    return (scipy.sparse.identity(n) - root @ w @ root).tocsr()


def exact_heat_trace(laplacian: scipy.sparse.csr_matrix, ts: np.ndarray) -> np.ndarray:
    """tr exp(-t L) / n from the full spectrum of L (scipy.linalg.eigvalsh of the dense matrix, O(n^3))."""
    eigenvalues = scipy.linalg.eigvalsh(laplacian.toarray())
    return np.exp(-np.outer(ts, eigenvalues)).mean(axis=1)


def _lanczos(laplacian: scipy.sparse.csr_matrix, start: np.ndarray, steps: int) -> np.ndarray:
    """Tridiagonal matrices T [probes, steps, steps] of ``steps`` Lanczos iterations from each unit
    column of ``start`` [n, probes], all probes at once, with full reorthogonalization (twice) against
    the Krylov basis; a probe whose Krylov space is exhausted continues with zero vectors (T decouples)."""
    n, probes = start.shape
    basis = np.zeros((steps, n, probes))
    basis[0] = start
    alpha, beta = np.zeros((steps, probes)), np.zeros((steps - 1, probes))
    tiny = n * np.finfo(np.float64).eps
    for j in range(steps):
        w = laplacian @ basis[j]
        alpha[j] = np.einsum("ij,ij->j", w, basis[j])
        if j == steps - 1:
            break
        for _ in range(2):
            w -= np.einsum("sij,sj->ij", basis[: j + 1], np.einsum("sij,ij->sj", basis[: j + 1], w))
        beta[j] = np.linalg.norm(w, axis=0)
        np.divide(w, beta[j], out=basis[j + 1], where=beta[j] > tiny)
    t = np.zeros((probes, steps, steps))
    diagonal = np.arange(steps)
    t[:, diagonal, diagonal] = alpha.T
    t[:, diagonal[:-1], diagonal[1:]] = t[:, diagonal[1:], diagonal[:-1]] = beta.T
    return t


def slq_heat_trace(
    laplacian: scipy.sparse.csr_matrix, ts: np.ndarray, steps: int, probes: int, seed: int
) -> np.ndarray:
    """tr exp(-t L) / n by stochastic Lanczos quadrature (Ubaru, Chen, Saad 2017), the estimator of the
    IMD paper: Hutchinson's trace estimate over ``probes`` normalized Gaussian vectors, each quadratic
    form v^T f(L) v by the Gauss quadrature of ``steps`` Lanczos steps (nodes theta, weights tau^2 from
    the eigenvectors of T), with the control variate of the reference code: the same quadrature of
    tr L, whose exact value is n (the Laplacian's diagonal is 1), corrects the estimate by
    t e^-t (estimate(tr L) - n)."""
    n = laplacian.shape[0]
    start = np.random.default_rng(seed).standard_normal((n, probes))
    start /= np.linalg.norm(start, axis=0)
    nodes, vectors = np.linalg.eigh(_lanczos(laplacian, start, steps))
    weights = vectors[:, 0, :] ** 2  # [probes, steps]
    heat = np.einsum("pj,tpj->t", weights, np.exp(-ts[:, None, None] * nodes[None])) / probes
    trace_l = np.einsum("pj,pj->", weights, nodes) / probes
    return heat + ts * np.exp(-ts) * (trace_l - 1)


def _reference_imd(x, y, k: int = 5) -> float:
    """Independent route: max_t exp(-2 (t + 1/t)) |hkt_X(t) - hkt_Y(t)| over the 256 log-spaced temperatures
    of Tsitsulin et al.'s code in [0.1, 10], with the exact heat traces tr exp(-t L) / n by scipy's dense
    matrix exponential of the normalized Laplacian of the symmetrized kNN graph (sklearn's neighbours)."""
    ts = np.logspace(-1, 1, 256)
    hx, hy = (
        np.array([np.trace(scipy.linalg.expm(-t * laplacian)) for t in ts]) / laplacian.shape[0]
        for laplacian in (_naive.knn_normalized_laplacian(a, k) for a in (x, y))
    )
    return float(np.max(np.exp(-2 * (ts + 1 / ts)) * np.abs(hx - hy)))


@register(
    "imd",
    reference_route=_reference_imd,
    symmetric=True,
    invariances={"orthogonal", "isotropic_scaling", "translation"},
    bounds=(0.0, float("inf")),
    higher_is_more_similar=False,
    reference=TSITSULIN_2020,
    backend="torch",
    min_samples=7,
)
def imd(
    x: torch.Tensor,
    y: torch.Tensor,
    k: int = 5,
    exact_up_to: int = 1000,
    lanczos_steps: int = 10,
    probes: int = 100,
    seed: int = 0,
) -> float:
    """Multi-scale intrinsic distance (Tsitsulin et al. 2020):
    max_t exp(-2 (t + 1/t)) |hkt_X(t) - hkt_Y(t)| over the 256 temperatures t of :data:`IMD_TEMPERATURES`.

    hkt(t) = tr exp(-t L) / n (the reference code's "empty graph" normalization) of the normalized
    Laplacian L of each side's symmetrized k-nearest-neighbour graph (k = 5, Euclidean, unweighted; the
    neighbour search and its tie rule are ``metrics.neighbors``'). For n <= ``exact_up_to`` the heat
    traces come from the exact spectrum (dense eigvalsh, O(n^3): about 0.6 s per pair at n = 500 and
    9 s at n = 2000 on a busy 2-core machine); above, from the
    paper's estimator, stochastic Lanczos quadrature with its defaults (10 Lanczos steps, 100 Gaussian
    probes, the control variate; :func:`slq_heat_trace`), seeded by ``seed`` (the same probes for both
    sides, so the value is symmetric and IMD(X, X) = 0). That estimate is noisy (ReSi raises the probes
    to 8000); ``exact_up_to`` trades time for it. Unlike the reference code, the value is not multiplied
    by 1e6. The kNN graph only sees neighbour ranks: invariant to rotation, isotropic scaling and
    translation. Uses all n samples (the reference code does not subsample either).
    """
    _check_counts(exact_up_to=(exact_up_to, 0), lanczos_steps=(lanczos_steps, 2), probes=(probes, 1))
    pair = neighbour_pair(x, y, k, "euclidean")
    n = x.shape[0]
    traces = []
    for neighbours in (pair.nx, pair.ny):
        laplacian = knn_laplacian(neighbours)
        if n <= exact_up_to:
            traces.append(exact_heat_trace(laplacian, IMD_TEMPERATURES))
        else:
            traces.append(slq_heat_trace(laplacian, IMD_TEMPERATURES, lanczos_steps, probes, seed))
    ts = IMD_TEMPERATURES
    return float(np.max(np.exp(-2 * (ts + 1 / ts)) * np.abs(traces[0] - traces[1])))


# ----------------------------------------------------------------------------------------------------
# RTD
# ----------------------------------------------------------------------------------------------------
def _ripser():
    try:
        from gph import ripser_parallel
    except ImportError as err:  # a dependency of the distribution; a clear message if it is missing
        raise ImportError(
            "rtd needs the persistent-homology library giotto-ph: pip install giotto-ph"
        ) from err
    return ripser_parallel


def normalized_distances(a: np.ndarray, quantile: float) -> np.ndarray:
    """The n x n Euclidean distance matrix (scipy pdist) divided by its ``quantile`` over the pairs i < j."""
    condensed = pdist(a)
    scale = float(np.quantile(condensed, quantile))
    if not scale > 0:
        raise InputError(f"the {quantile} quantile of the pairwise distances is 0: most samples coincide")
    return squareform(condensed / scale)


def cross_barcode_h1_length(r1: np.ndarray, r2: np.ndarray) -> float:
    """Total length of the H1 bars of the R-Cross-Barcode (Barannikov et al. 2022): the Vietoris-Rips
    filtration on 2n vertices with distances [[0, r1^T], [r1, min(r1, r2)]] (the first copy of the
    points collapsed to one point at 0, the second carrying the smaller of the two distances).

    giotto-ph orders the filtration in float32; each bar's length is taken in float64 from the edges
    that create and destroy it (its generators), so it is exact wherever no two distances round to the
    same float32 value (otherwise the pairing among those, and the sum, may move by one float32 ulp).
    """
    n = r1.shape[0]
    d = np.zeros((2 * n, 2 * n))
    d[n:, :n], d[:n, n:], d[n:, n:] = r1, r1.T, np.minimum(r1, r2)
    result = _ripser()(d, metric="precomputed", maxdim=1, return_generators=True, n_threads=1)
    edges = result["gens"][1][0]  # [bars, 4]: birth edge (i, j), death edge (k, l)
    if not len(edges):
        return 0.0
    return float(np.sum(d[edges[:, 2], edges[:, 3]] - d[edges[:, 0], edges[:, 1]]))


def _reference_rtd(x, y) -> float:
    """Independent route: (H1 sum of the cross-barcode of (X, Y) + that of (Y, X)) / 2 on all samples (n <=
    the batch), the barcode by gudhi's RipsComplex (another library than the measure's giotto-ph) on the
    2n points with distance matrix [[0, r1^T], [r1, min(r1, r2)]] (Barannikov et al. 2022), r the
    Euclidean distances (scipy cdist) divided by their 0.9 quantile over the pairs i < j."""
    import gudhi

    def normalized(a):
        d = cdist(a, a)
        return d / np.quantile(d[np.triu_indices(d.shape[0], k=1)], 0.9)

    def h1_sum(r1, r2):
        n = r1.shape[0]
        d = np.zeros((2 * n, 2 * n))
        d[n:, :n], d[:n, n:], d[n:, n:] = r1, r1.T, np.minimum(r1, r2)
        tree = gudhi.RipsComplex(distance_matrix=d).create_simplex_tree(max_dimension=2)
        tree.compute_persistence(persistence_dim_max=True)
        bars = tree.persistence_intervals_in_dimension(1)
        return float(np.sum(bars[:, 1] - bars[:, 0])) if len(bars) else 0.0

    r1, r2 = normalized(x), normalized(y)
    return (h1_sum(r1, r2) + h1_sum(r2, r1)) / 2


@register(
    "rtd",
    reference_route=_reference_rtd,
    symmetric=True,
    invariances={"orthogonal", "isotropic_scaling", "translation"},
    bounds=(0.0, float("inf")),
    higher_is_more_similar=False,
    reference=BARANNIKOV_2022,
    backend="numpy",
    min_samples=4,
    order_dependent=True,
    opt_in=True,  # seconds to minutes per pair (see the docstring): run it with --metrics rtd
)
def rtd(x: np.ndarray, y: np.ndarray, batch: int = 500, trials: int = 10, seed: int = 0) -> float:
    """Representation topology divergence (Barannikov et al. 2022): the mean over subsamples of
    (H1 length of R-Cross-Barcode(X, Y) + that of (Y, X)) / 2, see :func:`cross_barcode_h1_length`.

    Distances are Euclidean, each side divided by its 0.9 quantile over the pairs i < j (the reference
    code, IlyaTrofimov/RTD, takes the quantile over the full matrix, diagonal zeros included; the
    difference is below 1 % of the scale at n = 500). Subsampling as the reference code: ``trials`` (10)
    random subsets of ``batch`` (500) samples, the same rows on both sides, from a generator seeded by
    ``seed``; for n <= batch every subset is the whole set and one computation gives the value exactly.
    Persistent homology by giotto-ph, one thread, on the 2 x batch vertices of the cross filtration: slow, slower the
    higher the data's intrinsic dimension (on a busy 2-core machine: 4 s per pair at n = 200 with 64
    and 32 features; at n = 500, 12 s with 20 features but over 140 s per direction with 64), and ten
    times that for n > batch. Invariant to rotation, translation and (normalized distances) isotropic
    scaling.
    """
    n = x.shape[0]
    _check_counts(batch=(batch, 4), trials=(trials, 1))
    if n <= batch:
        subsets = [np.arange(n)]
    else:
        rng = np.random.default_rng(seed)
        subsets = [rng.choice(n, size=batch, replace=False) for _ in range(trials)]
    values = []
    for rows in subsets:
        r1, r2 = normalized_distances(x[rows], 0.9), normalized_distances(y[rows], 0.9)
        values.append((cross_barcode_h1_length(r1, r2) + cross_barcode_h1_length(r2, r1)) / 2)
    return float(np.mean(values))
