"""Shared test data: random transformations of the invariance vocabulary, data generators, shapes that a
measure accepts, hypothesis strategies, and the assertion helpers used by several test modules."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import strategies as st

from metrics import testing
from metrics.testing import (  # noqa: F401  (re-exported: the data and transforms of the contract)
    RTOL,
    SIDES,
    VIOLATION,
    apply_transform,
    correlated_pair,
    on_side,
    random_invertible,
    random_orthogonal,
    relative_difference,
    violation_case,
)

TRANSFORMS = testing.TRANSFORMS
#: The tightest relative tolerance for a value computed through BLAS, LAPACK or torch: another CPU,
#: kernel set (AVX2, AVX-512) or thread count sums in another order, and float64 rounding (~1e-16 per
#: operation) grows with the number of terms and the condition of the problem; 1e-10 leaves room for both
#: and still catches any error of the formula.
PLATFORM_RTOL = 1e-10
#: The measure that tests/plugins/stitchbench_testplugin.py registers through its entry point.
PLUGIN_MEASURE = "test_plugin_distance_cosine"


# ----------------------------------------------------------------------------------------------------
# Comparisons
# ----------------------------------------------------------------------------------------------------
def assert_close(actual: float, expected: float, rtol: float = RTOL, what: str = "") -> None:
    """Relative agreement to ``rtol`` (with an absolute floor of 1e-14 for values at zero)."""
    assert math.isclose(actual, expected, rel_tol=rtol, abs_tol=1e-14), (
        f"{what}: {actual!r} != {expected!r} (relative difference {relative_difference(actual, expected):.3g})"
    )


def assert_refused(metric, x, y, *, match: str | None = None, **kwargs) -> ValueError:
    """``metric(x, y)`` raises a ValueError whose message starts with the measure's name."""
    with pytest.raises(ValueError, match=match) as info:
        metric(x, y, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{metric.info.name}: "), f"message does not name the measure: {message!r}"
    return info.value


def assert_in_bounds(metric, value: float, slack: float = 0.0) -> None:
    """Inside the declared bounds (the registry returns rounding beyond a bound at the bound)."""
    low, high = metric.info.bounds
    assert low - slack <= value <= high + slack, f"{metric.info.name} = {value!r} outside {metric.info.bounds}"


# ----------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------
#: The contract's shape (p1 + p2 < n - 1, p >= 3, n >= k + 2 for k = 10 neighbours).
STANDARD_SHAPE = testing.SHAPE


def standard_pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`correlated_pair` at :data:`STANDARD_SHAPE`."""
    return correlated_pair(np.random.default_rng(seed), *STANDARD_SHAPE)


def independent_pair(rng: np.random.Generator, n: int, p1: int, p2: int) -> tuple[np.ndarray, np.ndarray]:
    """Independent standard Gaussian X [n, p1], Y [n, p2]."""
    return rng.normal(size=(n, p1)), rng.normal(size=(n, p2))


# ----------------------------------------------------------------------------------------------------
# Shapes a measure accepts
# ----------------------------------------------------------------------------------------------------
def smallest_n(metric) -> int:
    """Samples a measure needs at the least; 4 k for the kNN measures (parameter ``k``, its default), so
    that a neighbour set is a small part of the sample and a change of the data shows in the sets."""
    k = metric.info.params.get("k")
    return max(metric.info.min_samples, 4 * k if isinstance(k, int) else 0, 4)


def max_width(metric, n: int) -> int:
    """Widest input the measure takes at n samples (p <= n - 2 where p >= n - 1 is degenerate)."""
    return n - 2 if metric.info.needs_n_above_p else 4 * n


def min_features(metric) -> int:
    """Features per input a measure needs at the least (its ``min_features`` declaration; rsa: 3)."""
    return metric.info.min_features


@st.composite
def shapes(draw, metric, *, min_p: int = 2, max_p: int = 12, max_n: int = 60):
    """(n, p1, p2) with n <= max_n samples and widths the measure accepts (at least ``min_p``: with one
    column an invertible map is a mere scaling)."""
    min_p = max(min_p, min_features(metric))
    n = draw(st.integers(max(smallest_n(metric), min_p + 3, 16), max_n))
    top = min(max_p, max_width(metric, n))
    p1 = draw(st.integers(min_p, top))
    if metric.info.needs_n_above_p == "both":  # p1 + p2 <= n: at most one forced shared direction
        top = min(top, n - p1)
    return n, p1, draw(st.integers(min_p, top))


seeds = st.integers(0, 2**32 - 1)
