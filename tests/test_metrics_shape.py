"""The shape metrics and unit-matching measures against their declared independent routes
to 1e-10, the identities that tie them to each other and to Procrustes and CCA, the points where other
implementations go wrong, unequal widths both ways, and bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import metrics
import reference
from metrics import _naive
from metrics.streaming import SufficientStats
from reference import route
from strategies import PLATFORM_RTOL, assert_close, assert_refused, correlated_pair, random_orthogonal, seeds

RTOL = 1e-10
#: The measures of the two modules this file tests (metrics/shape.py, metrics/matching.py).
NAMES = [name for name in metrics.available() if metrics.get(name).fn.__module__ in ("metrics.shape", "metrics.matching")]
#: (n, p1, p2): equal widths, unequal both ways, one unit, and more units than samples.
SHAPES = [(60, 6, 6), (80, 11, 4), (50, 3, 17), (40, 1, 5), (30, 45, 70), (24, 90, 3)]


def _pair(seed, n, p1, p2):
    return correlated_pair(np.random.default_rng(seed), n, p1, p2)


def _tiny_pair(seed, p1, p2, n=20):
    return _pair(seed, n, p1, p2)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "n{}-p{}-p{}".format(*s))
@pytest.mark.parametrize("name", NAMES)
def test_matches_reference_route(name, shape):
    x, y = _pair(7, *shape)
    value = metrics.get(name)(x, y)
    assert_close(value, route(name)(x, y), RTOL, what=name)
    assert_close(metrics.get(name)(y, x), value, RTOL, what=f"{name} with the arguments swapped")


# ----------------------------------------------------------------------------------------------------
# Brute force over permutations, and the transport problem at equal widths
# ----------------------------------------------------------------------------------------------------
TINY = [(4, 4), (3, 5), (5, 2), (1, 4)]


@pytest.mark.parametrize("p1, p2", TINY)
def test_permutation_procrustes_is_the_best_permutation(p1, p2):
    x, y = _tiny_pair(1, p1, p2)
    expected = reference.procrustes_permutation_brute_force(x, y)
    assert_close(metrics.get("procrustes_permutation")(x, y), expected, RTOL, what="brute force")


@pytest.mark.parametrize("p1, p2", TINY)
def test_hard_correlation_match_is_the_best_matching(p1, p2):
    x, y = _tiny_pair(2, p1, p2)
    expected = reference.correlation_match_hard_brute_force(x, y)
    assert_close(metrics.get("correlation_match_hard")(x, y), expected, RTOL, what="brute force")


@pytest.mark.parametrize("p", [1, 3, 5])
def test_soft_matching_at_equal_widths_is_a_permutation(p):
    """Birkhoff-von Neumann: with equal widths the optimal plan is a permutation / p, so the distance is
    the centered permutation Procrustes distance over sqrt(p)."""
    x, y = _tiny_pair(3, p, p)
    value = metrics.get("soft_matching")(x, y)
    assert_close(value, reference.soft_matching_brute_force(x, y), RTOL, what="brute force")
    permutation = metrics.get("procrustes_permutation")(x - x.mean(0), y - y.mean(0))
    assert_close(value, permutation / math.sqrt(p), RTOL, what="procrustes_permutation / sqrt(p)")


def test_soft_matching_splits_units_between_unequal_layers():
    """One unit against two copies of it: the plan sends half the mass to each copy, distance 0; against
    one copy and its negation, the mean squared distance is (0 + 4 ||x||^2) / 2."""
    x = np.random.default_rng(4).normal(size=(30, 1))
    assert metrics.get("soft_matching")(x, np.hstack([x, x + 5.0])) < 1e-12 * np.linalg.norm(x)
    xc = x - x.mean()
    expected = math.sqrt(4 * float(np.sum(xc**2)) / 2)
    assert_close(metrics.get("soft_matching")(x, np.hstack([x, -x])), expected, RTOL, what="copy and negation")


def test_soft_matching_of_nearly_equal_units_costs_their_differences():
    """Y = X + 1e-9 D: the plan is the identity, and each pair's cost, ||d_j||^2 (1e-18 against norms of
    1e2), must come from the difference itself; from the norms and the cross product it would be rounding
    (1e-14)."""
    rng = np.random.default_rng(12)
    x, d = rng.normal(size=(200, 10)), 1e-9 * rng.normal(size=(200, 10))
    dc = d - d.mean(axis=0)
    expected = math.sqrt(float(np.sum(dc**2)) / 10)
    assert_close(metrics.get("soft_matching")(x, x + d), expected, 1e-6, what="nearly equal units")  # x + d rounds d to 1e-7 relative


# ----------------------------------------------------------------------------------------------------
# The shape metric: alpha = 1 is the Procrustes angle, alpha = 0 the CCA angle; explicit square roots
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(60, 6, 6), (80, 11, 4), (30, 45, 70)])
def test_shape_metric_at_alpha_one_is_the_procrustes_angle(shape):
    """At alpha = 1 the measure takes procrustes_angular's route; just below 1 it whitens (QR route), and
    both meet the Procrustes angle."""
    x, y = _pair(5, *shape)
    expected = math.acos(route("procrustes")(x, y))
    assert_close(metrics.get("shape_metric")(x, y, alpha=1.0), expected, RTOL, what="alpha = 1")
    whitening_route = metrics.get("shape_metric")(x, y, alpha=1.0 - 1e-13)
    assert_close(whitening_route, metrics.get("procrustes_angular")(x, y), 1e-10, what="alpha = 1 - 1e-13")


def test_shape_metric_at_alpha_zero_is_arccos_of_mean_cca_for_equal_widths():
    x, y = _pair(6, 70, 8, 8)
    rho = _naive.canonical_correlations(x, y)
    value = metrics.get("shape_metric")(x, y, alpha=0.0)
    assert_close(value, math.acos(float(rho.mean())), RTOL, what="arccos(mean rho)")
    assert_close(value, math.acos(metrics.get("cca_mean")(x, y)), RTOL, what="arccos(cca_mean)")


@pytest.mark.parametrize("p1, p2", [(9, 4), (4, 9)])
def test_shape_metric_at_alpha_zero_with_unequal_widths_divides_by_the_geometric_mean_rank(p1, p2):
    """Whitened, each side has norm sqrt(rank); the nuclear norm is sum rho over min(p1, p2) correlations,
    so alpha = 0 gives arccos(sum rho / sqrt(p1 p2)), not arccos(mean rho) (netrep's value too)."""
    x, y = _pair(7, 80, p1, p2)
    rho = _naive.canonical_correlations(x, y)
    value = metrics.get("shape_metric")(x, y, alpha=0.0)
    assert_close(value, math.acos(float(rho.sum()) / math.sqrt(p1 * p2)), RTOL, what="sum rho / sqrt(p1 p2)")
    assert abs(value - math.acos(float(rho.mean()))) > 0.1, "the two CCA angles should differ here"


@pytest.mark.parametrize("alpha", [0.0, 0.2, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("shape", [(60, 6, 6), (80, 11, 4), (50, 3, 17)])
def test_shape_metric_matches_explicit_matrix_square_roots(alpha, shape):
    x, y = _pair(8, *shape)
    expected = reference.shape_metric_sqrtm(x, y, alpha)
    assert_close(metrics.get("shape_metric")(x, y, alpha=alpha), expected, RTOL, what=f"alpha={alpha}")
    svd_route = route("shape_metric")(x, y, alpha)
    assert_close(svd_route, expected, RTOL, what="the two reference routes")


def test_shape_metric_moves_monotonically_from_procrustes_to_cca_on_this_pair():
    """Y is an anisotropic linear map of X plus noise: whitening helps, so the angle falls with alpha -> 0."""
    rng = np.random.default_rng(9)
    x = rng.normal(size=(200, 6))
    y = x @ np.diag(np.geomspace(1, 1e-2, 6)) @ random_orthogonal(rng, 6) + 0.01 * rng.normal(size=(200, 6))
    values = [metrics.get("shape_metric")(x, y, alpha=a) for a in (1.0, 0.75, 0.5, 0.25, 0.0)]
    assert all(a > b for a, b in zip(values, values[1:])), values


@pytest.mark.parametrize("scale", [1e-6, 1e-3, 1e4])
def test_shape_metric_does_not_depend_on_units_or_on_duplicated_samples(scale):
    """Williams et al. / netrep whiten with the unscaled Xc^T Xc, so for 0 < alpha < 1 their value moves
    when the data is rescaled or its samples duplicated (singular values alpha s + 1 - alpha); each side
    is first scaled to unit RMS singular value here."""
    x, y = _pair(10, 60, 7, 5)
    m = metrics.get("shape_metric")
    value = m(x, y, alpha=0.5)
    assert_close(m(scale * x, y, alpha=0.5), value, 1e-9, what=f"X times {scale}")
    assert_close(m(np.vstack([x, x]), np.vstack([y, y]), alpha=0.5), value, 1e-9, what="duplicated samples")


@pytest.mark.parametrize("alpha", [-0.1, 1.5, math.nan])
def test_shape_metric_refuses_alpha_outside_zero_one(alpha):
    x, y = _pair(11, 40, 4, 4)
    assert_refused(metrics.get("shape_metric"), x, y, match="alpha must be in", alpha=alpha)


def test_shape_metric_at_alpha_zero_refuses_saturated_cca_like_cca():
    x, y = _pair(12, 20, 19, 3)
    assert_refused(metrics.get("shape_metric"), x, y, match="all n - 1", alpha=0.0)
    assert 0 < metrics.get("shape_metric")(x, y, alpha=0.5) < math.pi / 2  # partial whitening is defined


# ----------------------------------------------------------------------------------------------------
# The angular measures near their bound, and the Procrustes distances' units
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["procrustes_angular", "shape_metric"])
def test_angle_is_exactly_zero_for_a_rotated_scaled_shifted_copy(name):
    rng = np.random.default_rng(13)
    x = rng.normal(size=(80, 9))
    assert metrics.get(name)(x, 0.3 * x @ random_orthogonal(rng, 9) - 4.0) == 0.0


@pytest.mark.parametrize("epsilon", [1e-5, 1e-4, 1e-2])
def test_procrustes_angle_of_a_small_perturbation_is_resolved(epsilon):
    """arccos near 1 is steep: a perturbation of relative size e gives an angle of order e, which the
    measure still reports (only angles below ~5e-7 are rounding at n = 100)."""
    rng = np.random.default_rng(14)
    x = rng.normal(size=(100, 6))
    y = x + epsilon * rng.normal(size=x.shape)
    value = metrics.get("procrustes_angular")(x, y)
    assert 0.1 * epsilon < value < 10 * epsilon
    # the cosine route loses digits as the angle shrinks: a rounding d of the cosine moves it by d / angle
    resolution = 64 * np.finfo(float).eps / value**2
    assert_close(value, reference.procrustes_angle_from_chord(x, y), resolution, what=f"epsilon={epsilon}")


def test_size_shape_distance_is_in_the_units_of_the_data():
    x, y = _pair(15, 50, 5, 8)
    m = metrics.get("procrustes_size_shape")
    assert_close(m(3.0 * x, 3.0 * y), 3.0 * m(x, y), RTOL, what="d(3X, 3Y) = 3 d(X, Y)")
    xc, yc = x - x.mean(0), y - y.mean(0)
    similarity = metrics.get("procrustes")(x, y)
    squared = np.sum(xc**2) + np.sum(yc**2) - 2 * similarity * np.linalg.norm(xc) * np.linalg.norm(yc)
    assert_close(m(x, y), math.sqrt(squared), 1e-9, what="from the Procrustes similarity")


@pytest.mark.parametrize("name", ["procrustes_size_shape", "procrustes_permutation", "soft_matching"])
def test_distances_of_identical_inputs_are_exactly_zero(name):
    x = _pair(16, 60, 12, 3)[0] * 1e3 + 7.0
    assert metrics.get(name)(x, x) == 0.0


def test_permutation_procrustes_is_uncentered_and_sees_only_column_order():
    rng = np.random.default_rng(17)
    x = rng.normal(size=(40, 6))
    m = metrics.get("procrustes_permutation")
    assert m(x, x[:, rng.permutation(6)]) == 0.0
    shift = rng.normal(size=6)
    assert_close(m(x, x + shift), math.sqrt(40 * float(np.sum(shift**2))), RTOL, what="a translation costs ||shift|| sqrt(n)")
    assert m(x, x @ random_orthogonal(rng, 6)) > 1.0


# ----------------------------------------------------------------------------------------------------
# Aligned cosine: scale-invariant (ReSi says not), uncentered, symmetric with padding
# ----------------------------------------------------------------------------------------------------
@given(seed=seeds, scale_x=st.floats(1e-4, 1e4), scale_y=st.floats(1e-4, 1e4), widths=st.sampled_from([(5, 5), (3, 8), (8, 3)]))
@settings(max_examples=20, deadline=None)
def test_aligned_cosine_is_invariant_to_isotropic_scaling(seed, scale_x, scale_y, widths):
    """ReSi's AlignedCosineSimilarity declares invariant_to_isotropic_scaling=False; the rotation of cX onto
    dY is that of X onto Y, and cosines do not see c or d."""
    x, y = _pair(seed % 2**32, 40, *widths)
    m = metrics.get("aligned_cosine")
    assert_close(m(scale_x * x, scale_y * y), m(x, y), 1e-9, what=f"X times {scale_x}, Y times {scale_y}")


def test_aligned_cosine_is_not_centered():
    x, y = _pair(19, 50, 4, 6)
    m = metrics.get("aligned_cosine")
    assert abs(m(x + 10.0, y) - m(x, y)) > 1e-3
    assert_close(m(x, x + 0.0), 1.0, RTOL, what="aligned_cosine(X, X)")
    assert_close(m(x, -x), 1.0, RTOL, what="a reflection is a rotation")


@pytest.mark.parametrize("side", ["X", "Y"])
def test_aligned_cosine_leaves_out_zero_samples(side):
    """A zero row (every ReLU off) has no cosine; it adds nothing to X^T Y, so the value is that of the
    other samples."""
    x, y = _pair(20, 30, 4, 5)
    (x if side == "X" else y)[[3, 7]] = 0.0
    keep = np.setdiff1d(np.arange(30), [3, 7])
    expected = route("aligned_cosine")(x[keep], y[keep])
    assert_close(metrics.get("aligned_cosine")(x, y), expected, RTOL, what=f"zero rows of {side}")


def test_aligned_cosine_refuses_when_no_sample_has_a_cosine():
    x, y = _pair(21, 6, 3, 3)
    x[:3], y[3:] = 0.0, 0.0
    assert_refused(metrics.get("aligned_cosine"), x, y, match="no cosine is defined")


# ----------------------------------------------------------------------------------------------------
# Correlation matching: per-unit scaling, dead units, sign
# ----------------------------------------------------------------------------------------------------
MATCHING = ["correlation_match_hard", "correlation_match_soft"]


@pytest.mark.parametrize("name", MATCHING)
@given(seed=seeds)
@settings(max_examples=15, deadline=None)
def test_correlation_match_is_invariant_to_positive_per_unit_scaling_and_shifts(name, seed):
    rng = np.random.default_rng(seed)
    x, y = correlated_pair(rng, 40, 6, 4)
    transformed = x * np.exp(rng.uniform(-5, 5, size=6)) + rng.normal(size=6) * 100
    m = metrics.get(name)
    assert_close(m(transformed, y), m(x, y), 1e-9, what="per-unit positive scales and shifts")


@pytest.mark.parametrize("name", MATCHING)
def test_correlation_match_sees_the_sign_of_a_unit(name):
    x, y = _pair(21, 50, 4, 4)
    flipped = x * np.array([-1.0, 1.0, 1.0, 1.0])
    assert abs(metrics.get(name)(flipped, y) - metrics.get(name)(x, y)) > 1e-3


@pytest.mark.parametrize("name", MATCHING)
def test_constant_units_are_left_out(name):
    """A dead unit (constant over the samples) has no correlation; it is left out, not counted as 0 (as
    ReSi's cosine-distance route does silently)."""
    x, y = _pair(22, 50, 5, 6)
    dead = np.hstack([x[:, :2], np.zeros((50, 1)), x[:, 2:], np.full((50, 1), 3.5)])
    m = metrics.get(name)
    assert_close(m(dead, y), m(x, y), RTOL, what="dead units in X")
    assert_close(m(y, dead), m(y, x), RTOL, what="dead units in Y")
    assert_close(m(dead, y), route(name)(dead, y), RTOL, what="reference")


@pytest.mark.parametrize("name", MATCHING)
def test_correlation_match_of_a_permuted_copy_is_one(name):
    x = _pair(23, 40, 7, 7)[0]
    assert_close(metrics.get(name)(x, 2.0 * x[:, ::-1] + 1.0), 1.0, PLATFORM_RTOL, what="permuted, scaled, shifted copy")


def test_hard_matching_is_one_to_one_and_soft_is_not():
    """Y holds one unit of X twice and a noise unit: soft matching pairs both copies with it, the hard
    matching pairs one copy and must use the noise unit for the other."""
    rng = np.random.default_rng(24)
    x = rng.normal(size=(60, 2))
    y = np.hstack([x[:, :1], x[:, :1] + 1e-3 * rng.normal(size=(60, 1)), rng.normal(size=(60, 1))])
    hard, soft = metrics.get("correlation_match_hard")(x, y), metrics.get("correlation_match_soft")(x, y)
    assert hard < 0.55  # (1 + a near-zero correlation) / 2
    assert soft > hard + 0.05  # Y's side of the soft mean counts both copies at ~1


# ----------------------------------------------------------------------------------------------------
# Metric spaces: the distances satisfy the triangle inequality
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["procrustes_angular", "shape_metric", "procrustes_size_shape", "soft_matching"])
@given(seed=seeds)
@settings(max_examples=10, deadline=None)
def test_triangle_inequality(name, seed):
    rng = np.random.default_rng(seed)
    a, b = correlated_pair(rng, 30, 4, 6)
    c = rng.normal(size=(30, 5))
    d = metrics.get(name)
    assert d(a, c) <= d(a, b) + d(b, c) + 1e-9


# ----------------------------------------------------------------------------------------------------
# Streaming: the formulas on the co-moments give the in-memory values (tests/test_streaming.py checks
# every batching); here the cases particular to these measures
# ----------------------------------------------------------------------------------------------------
STREAMED = ["procrustes_size_shape", "procrustes_angular", "shape_metric", "procrustes_permutation",
            "correlation_match_hard", "correlation_match_soft", "soft_matching"]


def _streamed(x, y, name, **params):
    stats = SufficientStats()
    for start in range(0, x.shape[0], 37):
        stats.update(x[start : start + 37], y[start : start + 37])
    return stats.compute(name, **params)


@pytest.mark.parametrize("name", STREAMED)
def test_streamed_value_with_a_constant_unit_and_unequal_widths(name):
    x, y = _pair(26, 150, 7, 4)
    x[:, 2] = 3.25  # a dead unit
    assert_close(_streamed(x, y, name), metrics.get(name)(x, y), 1e-10, what=f"{name} streamed")


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_streamed_shape_metric_passes_alpha(alpha):
    x, y = _pair(27, 120, 5, 6)
    assert_close(_streamed(x, y, "shape_metric", alpha=alpha), metrics.get("shape_metric")(x, y, alpha=alpha), 1e-10, what=f"alpha={alpha}")


@pytest.mark.parametrize("name", ["procrustes_size_shape", "procrustes_angular", "shape_metric", "procrustes_permutation", "soft_matching"])
def test_streamed_distance_of_identical_inputs_is_zero(name):
    x = _pair(28, 100, 6, 6)[0]
    assert _streamed(x, x, name) == 0.0
