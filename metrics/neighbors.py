"""Nearest-neighbour overlap (Jaccard similarity of k-NN sets), as in ReSi (Klabunde et al.)."""
from __future__ import annotations

import torch

from metrics._inputs import InputError
from metrics._linalg import center, row_sq_norms
from metrics._registry import register

KLABUNDE = "Klabunde et al. 2024, ReSi: A Comprehensive Benchmark for Representational Similarity Measures (ICLR 2025)"

_BLOCK_ELEMENTS = 1 << 24  # rows per block x n entries of the distance matrix held at once


def nearest_neighbors(x: torch.Tensor, k: int) -> torch.Tensor:
    """Indices [n, k] of each sample's k nearest other samples (Euclidean, self excluded), row blocks of
    the distance matrix at a time so that memory stays O(n k + block)."""
    xc = center(x)
    n = xc.shape[0]
    sq_norms = row_sq_norms(xc)
    block = max(1, _BLOCK_ELEMENTS // n)
    out = torch.empty((n, k), dtype=torch.long, device=x.device)
    for start in range(0, n, block):
        stop = min(start + block, n)
        # ||a - b||^2 up to ||a||^2, which is constant along a row and cannot change the ranking
        dist = torch.addmm(sq_norms[None, :], xc[start:stop], xc.T, alpha=-2)
        rows = torch.arange(stop - start, device=x.device)
        dist[rows, rows + start] = float("inf")
        out[start:stop] = torch.topk(dist, k, dim=1, largest=False).indices
    return out


@register(
    "knn_jaccard",
    symmetric=True,
    invariances={"orthogonal", "isotropic_scaling", "translation"},
    bounds=(0.0, 1.0),
    reference=KLABUNDE,
    backend="torch",
)
def knn_jaccard(x: torch.Tensor, y: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Mean over samples of |N_X(i) & N_Y(i)| / |N_X(i) | N_Y(i)| with N(i) the k = 10 nearest other
    samples by Euclidean distance. Needs n >= k + 2 (with n = k + 1 every set is everything).
    """
    n = x.shape[0]
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}")
    if n < k + 2:
        raise InputError(f"needs at least k + 2 = {k + 2} samples for k = {k} neighbours, got n = {n}")
    nx, ny = nearest_neighbors(x, k), nearest_neighbors(y, k)
    shared = (nx[:, :, None] == ny[:, None, :]).sum(dim=(1, 2)).to(x.dtype)
    return (shared / (2 * k - shared)).mean()
