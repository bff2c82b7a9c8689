"""Values at extreme magnitudes (1e-150 ... 1e150): the defects an outside check found (issue 22).

- D1: ``soft_matching`` is in the data's units, so soft_matching(s X, s Y) = s soft_matching(X, Y); POT's
  network simplex compared reduced costs with an absolute epsilon and stopped short of optimal on
  small-magnitude data (2 % off at s = 1e-8, 13-45 % at s <= 1e-10), the streaming formula included.
- D2: ``aligned_cosine`` returned 0.0 from s = 1e80 on (the product of row norms overflowed) and refused
  at s <= 1e-90 ("every sample is a zero row").
- D3: ``ridge_predictivity`` returned 0.0 for Y scaled by 1e80 and NaN at 1e-90.

Every declared isotropic scaling invariance is also checked at these scales for every measure by the
contract (``metrics.testing.check_extreme_scales``).
"""
from __future__ import annotations

import numpy as np
import pytest

import metrics
from metrics.streaming import SufficientStats
from strategies import assert_close, correlated_pair

SCALES = [1e-150, 1e-100, 1e-50, 1e-10, 1e-8, 1e8, 1e50, 1e80, 1e100, 1e150]
#: float64 rounding of a few hundred products and a square root: far below what the defects moved
RTOL = 1e-10


def _pair(seed: int, n: int = 60, p1: int = 7, p2: int = 9):
    return correlated_pair(np.random.default_rng(seed), n, p1, p2)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("shape", [(60, 7, 9), (50, 12, 12)])
def test_soft_matching_is_homogeneous_at_every_scale(scale, shape):
    x, y = _pair(1, *shape)
    m = metrics.get("soft_matching")
    assert_close(m(scale * x, scale * y) / scale, m(x, y), RTOL, what=f"soft_matching at scale {scale:g}")


@pytest.mark.parametrize("scale", [1e-10, 1e-8, 1e8])
def test_streamed_soft_matching_is_homogeneous(scale):
    """The streaming formula shares the solver call (its moments stay in range at these scales)."""
    x, y = _pair(2)
    stats = SufficientStats()
    stats.update(scale * x, scale * y)
    assert_close(stats.compute("soft_matching") / scale, metrics.get("soft_matching")(x, y), 1e-8,
                 what=f"streamed soft_matching at scale {scale:g}")  # fmt: skip


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("side", ["x", "y", "both"])
@pytest.mark.parametrize("name", ["aligned_cosine", "ridge_predictivity", "cka_linear"])
def test_scale_invariant_measures_keep_their_value_at_every_scale(name, side, scale):
    x, y = _pair(3)
    a = x * scale if side in ("x", "both") else x
    b = y * scale if side in ("y", "both") else y
    m = metrics.get(name)
    assert_close(m(a, b), m(x, y), RTOL, what=f"{name} with {side} scaled by {scale:g}")


def test_magnitude_difference_is_homogeneous_up_to_1e150_at_a_thousand_samples():
    """The mean row is formed before its square: the column sums' squares overflowed at s = 1e150 for n = 1000,
    p = 512 (n^2 times sooner than the means')."""
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((1000, 512)) + 1.0, rng.standard_normal((1000, 512))
    m = metrics.get("magnitude_difference")
    assert_close(m(1e150 * x, 1e150 * y) / 1e150, m(x, y), RTOL, what="magnitude_difference at scale 1e150")
