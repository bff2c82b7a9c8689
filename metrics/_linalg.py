"""Linear-algebra building blocks shared by the measures (torch, any device, float32 or float64)."""
from __future__ import annotations

from typing import NamedTuple

import torch

from metrics._inputs import InputError


def center(x: torch.Tensor) -> torch.Tensor:
    """Column-mean subtraction, Xc = X - 1 mean(X); returns a new tensor."""
    return x - x.mean(dim=0, keepdim=True)


def center_unit(x: torch.Tensor) -> torch.Tensor:
    """Centered and divided by a power of two near its largest magnitude (exact in floating point).

    For the scale-free measures: their squares and fourth powers can then neither overflow nor underflow.
    """
    xc = center(x)
    _, exponent = torch.frexp(xc.abs().max())
    return xc.ldexp_(-exponent)


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
