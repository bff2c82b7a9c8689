"""Linear regression (R^2_LR) from one representation to the other."""
from __future__ import annotations

import torch

from metrics._linalg import center, center_unit, cross, factor, sum_sq
from metrics.cca import KORNBLITH_2019, _check_not_saturated
from metrics._registry import register


@register(
    "ols_r2",
    symmetric=False,
    invariances={"orthogonal", "isotropic_scaling", "translation"},
    x_invariances={"invertible_linear"},
    bounds=(0.0, 1.0),
    reference=KORNBLITH_2019 + " (R^2_LR)",
    backend="torch",
    needs_n_above_p="x",
)
def ols_r2(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fraction of Y's variance that a least-squares linear map from X explains (directional, X -> Y):
    1 - ||Yc - Xc B||_F^2 / ||Yc||_F^2 = ||P_X Yc||_F^2 / ||Yc||_F^2, with P_X the projection onto the
    column space of Xc (rank-revealing QR; refused for p1 >= n - 1, where every Y is fitted exactly).
    """
    fx = factor(center(x))
    _check_not_saturated("X", fx.rank, x.shape[0])
    yc = center_unit(y)
    explained = fx.basis_coordinates().T @ cross(fx.q, yc)
    return sum_sq(explained) / sum_sq(yc)
