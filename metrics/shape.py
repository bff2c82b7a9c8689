"""Shape metrics: orthogonal Procrustes similarity and the normalized Bures similarity.

For linear kernels both reduce to the nuclear norm of the cross-covariance,
tr((K^1/2 L K^1/2)^1/2) = ||Xc^T Yc||_* with K = Xc Xc^T, L = Yc Yc^T, and tr K = ||Xc||_F^2,
so the two names give one number (checked against independent routes in the tests).
"""
from __future__ import annotations

import math

import torch

from metrics._linalg import center_unit, cross, sum_sq
from metrics._registry import register

DING_2021 = "Ding, Denain, Steinhardt 2021, Grounding Representation Similarity with Statistical Testing (NeurIPS)"
WILLIAMS_2021 = "Williams et al. 2021, Generalized Shape Metrics on Neural Representations (NeurIPS)"
TANG_2020 = "Tang et al. 2020, Similarity of Neural Networks with Gradients (arXiv:2003.11498)"


def _compress(xc: torch.Tensor) -> torch.Tensor:
    """An n x min(n, p) matrix with the same inner products Xc Xc^T: Xc itself, or R^T of QR(Xc^T)."""
    n, p = xc.shape
    if p <= n:
        return xc
    return torch.linalg.qr(xc.T, mode="r")[1].T


def bures_fidelity(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(||Xc^T Yc||_*, ||Xc||_F ||Yc||_F) for centered data, in feature space, compressing p > n first."""
    xc, yc = _compress(center_unit(x)), _compress(center_unit(y))
    nuclear = float(torch.linalg.svdvals(cross(xc, yc)).sum())
    return nuclear, math.sqrt(sum_sq(xc)) * math.sqrt(sum_sq(yc))


_SHAPE = dict(
    symmetric=True,
    invariances={"orthogonal", "isotropic_scaling", "translation"},
    bounds=(0.0, 1.0),
    backend="torch",
)


@register("procrustes", reference=f"{DING_2021}; {WILLIAMS_2021}", **_SHAPE)
def procrustes(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Orthogonal Procrustes similarity ||Xc^T Yc||_* / (||Xc||_F ||Yc||_F) in [0, 1].

    It is max over orthogonal Q of <Xc / ||Xc||, Yc Q / ||Yc||>; the Procrustes distance of the unit-norm
    representations is 2 - 2 s, the angle arccos s.
    """
    nuclear, norms = bures_fidelity(x, y)
    return nuclear / norms


@register("nbs", reference=TANG_2020, **_SHAPE)
def nbs(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Normalized Bures similarity tr((K^1/2 L K^1/2)^1/2) / sqrt(tr K tr L) of K = Xc Xc^T, L = Yc Yc^T.

    The fidelity of the linear kernels equals ||Xc^T Yc||_*, computed without any n x n matrix square root.
    """
    nuclear, norms = bures_fidelity(x, y)
    return nuclear / norms
