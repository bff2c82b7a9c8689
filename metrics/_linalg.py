"""Linear-algebra building blocks shared by the measures (torch, any device, float32 or float64)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from metrics._inputs import InputError


# Products of at least this many multiply-adds run through numpy's BLAS on the CPU; smaller ones, and
# everything else, through torch. numpy computes X^T X with syrk (half the flops of torch's gemm) and was
# about 2x faster from 2^28 on (2 cores). Below that the switch costs more than it saves: each library
# leaves its threads spinning after a call, and a 500 x 64 procrustes took 12 ms instead of 1 ms while
# torch's and the BLAS's thread pools competed for the cores.
NUMPY_MIN_MULTIPLY_ADDS = 1 << 28
# The same rule for a reduction over one matrix, by its number of entries.
NUMPY_MIN_ENTRIES = 1 << 18


def _numpy_path(x: torch.Tensor, multiply_adds: int) -> bool:
    return x.device.type == "cpu" and multiply_adds >= NUMPY_MIN_MULTIPLY_ADDS


def center(x: torch.Tensor) -> torch.Tensor:
    """Column-mean subtraction, Xc = X - 1 mean(X); returns a new tensor (numpy when X^T X would be)."""
    n, p = x.shape
    if _numpy_path(x, n * p * p):
        a = x.numpy()
        return torch.from_numpy(a - a.mean(axis=0))
    return x - x.mean(dim=0, keepdim=True)


def center_unit(x: torch.Tensor) -> torch.Tensor:
    """Centered and multiplied by a power of two that brings its largest magnitude into [0.5, 1).

    Exact in floating point; for the scale-free measures, whose squares and fourth powers can then
    neither overflow nor underflow.
    """
    xc = center(x)
    n, p = x.shape
    on_numpy = _numpy_path(x, n * p * p)
    if on_numpy:
        a = xc.numpy()
        exponent = int(np.frexp(max(-a.min(), a.max()))[1])
    else:
        low, high = torch.aminmax(xc)
        exponent = int(torch.frexp(torch.maximum(-low, high))[1])
    if abs(exponent) >= 1000:  # 2.0 ** -exponent would not be a normal float
        return xc.ldexp_(torch.tensor(-exponent, dtype=torch.int32, device=xc.device))
    if on_numpy:
        np.multiply(a, 2.0**-exponent, out=a)
        return xc
    return xc.mul_(2.0**-exponent)


def row_sq_norms(x: torch.Tensor) -> torch.Tensor:
    """||x_i||^2 for every row (numpy when X^T X would be, without a temporary the size of X)."""
    n, p = x.shape
    if _numpy_path(x, n * p * p):
        a = x.numpy()
        return torch.from_numpy(np.einsum("ij,ij->i", a, a))
    return x.square().sum(dim=1)


def gram(x: torch.Tensor) -> torch.Tensor:
    """X^T X (through numpy's syrk for large CPU operands, see ``NUMPY_MIN_MULTIPLY_ADDS``)."""
    n, p = x.shape
    if _numpy_path(x, n * p * p):
        a = x.numpy()
        return torch.from_numpy(a.T @ a)
    return x.T @ x


def cross(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """X^T Y (through numpy's BLAS for large CPU operands, see ``NUMPY_MIN_MULTIPLY_ADDS``)."""
    if _numpy_path(x, x.shape[0] * x.shape[1] * y.shape[1]):
        return torch.from_numpy(x.numpy().T @ y.numpy())
    return x.T @ y


def sum_sq(x: torch.Tensor) -> float:
    """sum of x_ij^2 as a Python float. Large CPU matrices (from 2^18 entries: the products of the numpy
    path) go through numpy's BLAS, so that torch's thread pool does not wake up between those products."""
    if x.device.type == "cpu" and x.numel() >= NUMPY_MIN_ENTRIES:
        a = x.numpy().reshape(-1)
        return float(np.vdot(a, a))
    return float(x.square().sum())


def double_center_symmetric_(k: torch.Tensor) -> torch.Tensor:
    """H K H with H = I - 11^T/n for a symmetric K, in place: K - r 1^T - 1 r^T + mean(r), r its row means
    (which, K being symmetric, are also its column means)."""
    row_means = k.mean(dim=1)
    return k.sub_(row_means[:, None]).sub_(row_means[None, :]).add_(row_means.mean())


def rank_tolerance(s: torch.Tensor, shape: tuple[int, int]) -> float:
    """Singular values below this are numerically zero (numpy.linalg.matrix_rank's default)."""
    return float(s.max()) * max(shape) * torch.finfo(s.dtype).eps


class Factor(NamedTuple):
    """Xc = q @ r with orthonormal columns q [n, m], and r = u diag(s) vh its SVD (s descending).

    The column space of Xc is spanned by ``q @ u[:, :rank]``; ``s`` are the singular values of Xc.
    """

    q: torch.Tensor
    r: torch.Tensor
    u: torch.Tensor
    s: torch.Tensor
    rank: int

    def basis_coordinates(self, k: int | None = None) -> torch.Tensor:
        """Coordinates in q of the top-k (default: all numerically nonzero) left singular directions."""
        return self.u[:, : self.rank if k is None else k]


def factor(xc: torch.Tensor) -> Factor:
    """Rank-revealing factorization of a centered matrix: thin QR, then the SVD of the small R.

    Accurate to float precision (no squared condition number); O(n p^2). For p >= n the SVD is taken
    directly. Raises :class:`InputError` if Xc is numerically zero.
    """
    n, p = xc.shape
    if n >= p:
        q, r = torch.linalg.qr(xc)
    else:
        q, s, vh = torch.linalg.svd(xc, full_matrices=False)
        r = s[:, None] * vh
    u, s, _ = torch.linalg.svd(r)
    rank = int((s > rank_tolerance(s, (n, p))).sum()) if s.numel() and float(s.max()) > 0 else 0
    if rank == 0:
        raise InputError("input has zero variance")
    return Factor(q, r, u, s, rank)
