"""Shared test data: random transformations of the invariance vocabulary, data generators, shapes that a
measure accepts, hypothesis strategies, and the assertion helpers used by several test modules."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import strategies as st

import metrics

#: Relative tolerance for "the same number" in float64 (DESIGN section 3).
RTOL = 1e-8
#: A value that moves by less than this (relative) under a transformation counts as unchanged; an
#: undeclared invariance must move the value by more (far above float64 rounding, far below real effects).
VIOLATION = 1e-5

TRANSFORMS = tuple(sorted(metrics.INVARIANCES))
#: The measure that tests/plugins/stitchbench_testplugin.py registers through its entry point.
PLUGIN_MEASURE = "test_plugin_distance_cosine"
SIDES = ("x", "y")


# ----------------------------------------------------------------------------------------------------
# Comparisons
# ----------------------------------------------------------------------------------------------------
def relative_difference(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|), 0 for two zeros."""
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


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


def assert_in_bounds(metric, value: float, slack: float = 1e-12) -> None:
    low, high = metric.info.bounds
    assert low - slack <= value <= high + slack, f"{metric.info.name} = {value!r} outside {metric.info.bounds}"


# ----------------------------------------------------------------------------------------------------
# Transformations of the vocabulary (each applied to one input, acting on its columns or rows)
# ----------------------------------------------------------------------------------------------------
def random_orthogonal(rng: np.random.Generator, p: int) -> np.ndarray:
    """Haar-distributed p x p orthogonal matrix (QR of a Gaussian matrix with the signs of R fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(p, p)))
    return q * np.sign(np.diag(r))


def random_invertible(rng: np.random.Generator, p: int, condition: float = 100.0) -> np.ndarray:
    """Q1 diag(s) Q2 with s log-uniform between 1 and ``condition`` (anisotropic but well conditioned)."""
    s = np.exp(rng.uniform(0, np.log(condition), size=p))
    s[0], s[-1] = 1.0, condition if p > 1 else 1.0
    return random_orthogonal(rng, p) * s @ random_orthogonal(rng, p)


def apply_transform(name: str, a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random instance of transformation ``name`` applied to representation ``a`` [n, p]."""
    p = a.shape[1]
    if name == "permutation":
        order = rng.permutation(p)
        if p > 1 and np.all(order == np.arange(p)):
            order = np.roll(order, 1)
        return a[:, order]
    if name == "orthogonal":
        return a @ random_orthogonal(rng, p)
    if name == "isotropic_scaling":
        return a * float(10 ** rng.choice([-3.0, -1.3, 0.7, 3.0]))
    if name == "translation":
        return a + 10 * np.abs(a).max() * rng.normal(size=p)
    if name == "invertible_linear":
        return a @ random_invertible(rng, p)
    raise ValueError(f"unknown transformation {name!r}")


def on_side(side: str, fn, x, y) -> tuple:
    """(fn(X), Y) for side "x", (X, fn(Y)) for side "y": one input transformed, the other untouched."""
    return (fn(x), y) if side == "x" else (x, fn(y))


# ----------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------
def correlated_pair(rng: np.random.Generator, n: int, p1: int, p2: int) -> tuple[np.ndarray, np.ndarray]:
    """Generic X [n, p1], Y [n, p2] sharing a latent signal, with unequal column scales and offsets."""
    latent = rng.normal(size=(n, max(p1, p2)))
    x = latent[:, :p1] @ random_invertible(rng, p1, 10.0) + 0.5 * rng.normal(size=(n, p1))
    y = latent @ rng.normal(size=(latent.shape[1], p2)) + rng.normal(size=(n, p2))
    return x + rng.normal(size=p1), y + 3 * rng.normal(size=p2)


def violation_case(transform: str, side: str, rng: np.random.Generator, n: int, p1: int, p2: int):
    """(X, Y, T): data on which transformation T of one side must change any measure not invariant to it.

    The transformed side S = Z D (Q) has a strongly anisotropic spectrum D (1 down to 1e-2 over its
    columns); half of the other side's columns measure only the LOW-variance latent directions of S, the
    rest is noise. So a measure that
    weighs directions by their variance sees little in common, and one that does not sees a lot:
    - invertible_linear: T = (D Q)^{-1} whitens S (condition number 100) and exposes the shared part;
    - orthogonal: S is axis-aligned (no Q) and T a random rotation, which mixes its columns;
    - translation: T adds a vector 100 times the data's magnitude;
    - permutation: S is axis-aligned and T reverses its columns; isotropic_scaling: T multiplies by 10.
    """
    p_s, p_o = (p1, p2) if side == "x" else (p2, p1)
    latent = rng.normal(size=(n, p_s))
    spectrum = np.geomspace(1.0, 1e-2, p_s)
    mixing = random_orthogonal(rng, p_s) if transform == "invertible_linear" else np.eye(p_s)  # axis-aligned
    s = (latent * spectrum) @ mixing
    low = latent[:, p_s // 2 :]
    shared = (p_o + 1) // 2  # the other half of O is noise: canonical correlations high and low
    o = np.hstack([low @ rng.normal(size=(low.shape[1], shared)), np.zeros((n, p_o - shared))])
    o += 0.3 * rng.normal(size=(n, p_o))
    if transform == "invertible_linear":
        whitening = mixing.T / spectrum

        def t(a):
            return a @ whitening

    elif transform == "orthogonal":
        rotation = random_orthogonal(rng, p_s)

        def t(a):
            return a @ rotation

    elif transform == "translation":
        shift = 100 * np.abs(s).max() * rng.normal(size=p_s)

        def t(a):
            return a + shift

    elif transform == "permutation":  # reversed columns: the variances change places

        def t(a):
            return a[:, ::-1]

    elif transform == "isotropic_scaling":

        def t(a):
            return 10.0 * a

    else:
        raise ValueError(f"unknown transformation {transform!r}")
    return (s, o, t) if side == "x" else (o, s, t)


#: A shape every registered measure accepts (p1 + p2 < n - 1, p >= 3, n >= k + 2 for knn_jaccard).
STANDARD_SHAPE = (40, 5, 7)


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
    """Samples a measure needs at the least (knn_jaccard: k + 2 with its default k)."""
    k = metric.info.params.get("k")
    return max(metric.info.min_samples, (k + 2) if isinstance(k, int) else 0, 4)


def max_width(metric, n: int) -> int:
    """Widest input the measure takes at n samples (p <= n - 2 where p >= n - 1 is degenerate)."""
    return n - 2 if metric.info.needs_n_above_p else 4 * n


#: Features a measure needs at the least where that is more than one (rsa: correlations across features).
MIN_FEATURES = {"rsa": 3}


def min_features(metric) -> int:
    return MIN_FEATURES.get(metric.info.name, 1)


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
