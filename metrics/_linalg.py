"""Linear-algebra building blocks shared by the measures (torch, any device, float32 or float64)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from metrics._inputs import InputError


def center(x: torch.Tensor) -> torch.Tensor:
    """Column-mean subtraction, Xc = X - 1 mean(X); returns a new tensor.

    On the CPU through numpy, like the products below: alternating torch's and the BLAS's thread pools
    on a 2-core machine made small measures 10x slower than either alone.
    """
    if x.device.type == "cpu":
        a = x.numpy()
        return torch.from_numpy(a - a.mean(axis=0))
    return x - x.mean(dim=0, keepdim=True)


def center_unit(x: torch.Tensor) -> torch.Tensor:
    """Centered and multiplied by a power of two that brings its largest magnitude into [0.5, 1).

    Exact in floating point; for the scale-free measures, whose squares and fourth powers can then
    neither overflow nor underflow.
    """
    xc = center(x)
    if xc.device.type == "cpu":
        a = xc.numpy()
        exponent = int(np.frexp(max(-a.min(), a.max()))[1])
    else:
        exponent = int(torch.frexp(xc.abs().max())[1])
    if abs(exponent) >= 1000:  # 2.0 ** -exponent would not be a normal float
        return xc.ldexp_(torch.tensor(-exponent, dtype=torch.int32, device=xc.device))
    if xc.device.type == "cpu":
        np.multiply(a, 2.0**-exponent, out=a)
        return xc
    return xc.mul_(2.0**-exponent)


def gram(x: torch.Tensor) -> torch.Tensor:
    """X^T X. On the CPU numpy's matmul recognises the transpose and calls BLAS syrk (half the flops)."""
    if x.device.type == "cpu":
        a = x.numpy()
        return torch.from_numpy(a.T @ a)
    return x.T @ x


def cross(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """X^T Y (on the CPU through numpy's BLAS, measured faster here than torch's for tall operands)."""
    if x.device.type == "cpu":
        return torch.from_numpy(x.numpy().T @ y.numpy())
    return x.T @ y


def double_center(k: torch.Tensor) -> torch.Tensor:
    """H K H with H = I - 11^T/n: subtract row means, column means, add back the grand mean."""
    return k - k.mean(dim=0, keepdim=True) - k.mean(dim=1, keepdim=True) + k.mean()


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
