"""Distance correlation, the RSM norm difference and the statistics differences (magnitude,
concentricity, uniformity): exact against their declared reference routes and dcor over several row blocks,
the defects of ReSi's versions, closed forms, measure-specific invariances, bad input.

The generic contract (declared invariances hold, undeclared ones are violated, symmetry, bounds) is
tests/test_metrics_contract.py; here are the properties particular to these measures.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import metrics
import metrics._linalg as linalg
from metrics import _naive
from reference import route
from strategies import (
    PLATFORM_RTOL,
    apply_transform,
    assert_close,
    assert_refused,
    correlated_pair,
    independent_pair,
    random_orthogonal,
    seeds,
)

DISTANCE_MEASURES = ("distance_correlation", "rsm_norm_difference", "uniformity_difference")
STATISTICS = ("magnitude_difference", "concentricity_difference")
MEASURES = DISTANCE_MEASURES + STATISTICS
#: "The same number" here: these measures are sums and ratios of well-conditioned terms.
#: (n, p1, p2): unequal widths both ways, one feature, wide (p > n); no n a multiple of 16.
SHAPES = [(70, 5, 9), (53, 12, 3), (37, 1, 4), (41, 60, 90), (90, 2, 2)]


@pytest.fixture(scope="module")
def dcor():
    """The dcor package (a dev dependency), imported only by the tests that compare with it.

    Importing it starts numba's OpenMP layer, which sets the OpenMP thread count that torch shares to
    the number of cores (1 -> 2 here, against OMP_NUM_THREADS=1): torch's count is restored, or every
    later test in the session runs oversubscribed (our measure ran 3-10x slower on 2 busy cores).
    """
    threads = torch.get_num_threads()
    module = pytest.importorskip("dcor")
    torch.set_num_threads(threads)
    return module


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 16 rows: every shape above runs through several blocks and a partial last one."""
    monkeypatch.setattr(linalg, "BLOCK_ROWS", 16)
    return 16


def _pair(seed, n, p1, p2):
    return correlated_pair(np.random.default_rng(seed), n, p1, p2)


def _unit_spread(x: np.ndarray) -> np.ndarray:
    """X scaled so that its mean squared pairwise distance is 1 (uniformity at t = 2 is informative there)."""
    xc = x - x.mean(axis=0)
    return x / math.sqrt(2 * np.mean(np.sum(xc**2, axis=1)))


# ----------------------------------------------------------------------------------------------------
# Exact against the references, over several row blocks
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "n{}-p{}-p{}".format(*s))
@pytest.mark.parametrize("name", MEASURES)
def test_matches_reference_over_several_blocks(name, shape, small_blocks):
    assert shape[0] > 2 * small_blocks and shape[0] % small_blocks, "the shape must span partial blocks"
    x, y = _pair(sum(shape), *shape)
    if name == "uniformity_difference":
        x, y = _unit_spread(x), _unit_spread(y)
    assert_close(metrics.get(name)(x, y), route(name)(x, y), PLATFORM_RTOL, what=name)


@pytest.mark.parametrize("name", DISTANCE_MEASURES)
def test_block_size_does_not_change_the_value(name, monkeypatch):
    x, y = _pair(1, 100, 6, 8)
    x, y = _unit_spread(x), _unit_spread(y)
    values = []
    for rows in (16, 33, 100, 256):
        monkeypatch.setattr(linalg, "BLOCK_ROWS", rows)
        values.append(metrics.get(name)(x, y))
    for value in values[1:]:
        assert_close(value, values[0], PLATFORM_RTOL, what=f"{name} by blocks")


@pytest.mark.parametrize("t", [0.1, 1.0, 2.0, 25.0])
def test_uniformity_parameter_t(t, small_blocks):
    x, y = _pair(2, 60, 4, 7)
    x, y = _unit_spread(x), _unit_spread(y)
    value = metrics.get("uniformity_difference")(x, y, t=t)
    assert_close(value, route("uniformity_difference")(x, y, t), PLATFORM_RTOL, what=f"t={t}")


@pytest.mark.parametrize("shape", [(70, 5, 9), (120, 30, 2), (45, 80, 80)])
def test_distance_correlation_matches_dcor(shape, small_blocks, dcor):
    """dcor's ``distance_correlation`` is the same V-statistic, returned as the square root."""
    x, y = _pair(3, *shape)
    value = metrics.get("distance_correlation")(x, y)
    assert_close(value, float(dcor.distance_correlation(x, y)), PLATFORM_RTOL, what="dcor.distance_correlation")
    assert_close(value**2, float(dcor.distance_correlation_sqr(x, y)), PLATFORM_RTOL, what="dcor, squared form")


@pytest.mark.parametrize("name", DISTANCE_MEASURES)
def test_duplicated_rows_are_exactly_zero_apart(name, small_blocks):
    """Near-duplicate rows cancel in the Gram route ||x_i||^2 + ||x_j||^2 - 2 x_i.x_j; those distances
    are recomputed from the differences, so duplicates (and a far offset) cost no accuracy."""
    rng = np.random.default_rng(4)
    base = rng.normal(size=(30, 6))
    x = np.vstack([base, base[:12], base[:5] + 1e-9]) + 1e3
    y = np.vstack([base[:, :4], base[:12, :4], base[:5, :4]]) @ rng.normal(size=(4, 4)) + rng.normal(size=(47, 4))
    if name == "uniformity_difference":
        x, y = _unit_spread(x), _unit_spread(y)
    assert_close(metrics.get(name)(x, y), route(name)(x, y), PLATFORM_RTOL, what=f"{name} with duplicates")


def test_distance_blocks_cover_the_upper_triangle_exactly(small_blocks):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 7))
    x[40:] = x[:10]  # duplicated rows: exact zeros
    xc = torch.from_numpy(x - x.mean(axis=0))
    covered, upper, starts = np.zeros((50, 50), dtype=int), np.zeros((50, 50)), []
    for start, stop, d2 in linalg.sq_distance_blocks(xc):
        assert d2.shape == (stop - start, 50 - start) and stop - start <= small_blocks
        covered[start:stop, start:] += 1
        upper[start:stop, start:] = d2.numpy()
        starts.append(start)
    assert starts == [0, 16, 32, 48]
    assert np.array_equal(np.triu(covered), np.triu(np.ones_like(covered))), "each pair i <= j exactly once"
    expected = _naive.distance_matrix(x, "sqeuclidean")
    np.testing.assert_allclose(np.triu(upper), np.triu(expected), rtol=PLATFORM_RTOL, atol=0)
    assert np.all(np.diagonal(upper) == 0.0) and np.all(upper[np.arange(10), np.arange(40, 50)] == 0.0)


# ----------------------------------------------------------------------------------------------------
# Defects of other implementations (ReSi, Klabunde et al. 2025)
# ----------------------------------------------------------------------------------------------------
def resi_rsm_norm_diff(x: np.ndarray, y: np.ndarray) -> float:
    """ReSi's ``rsm_norm_diff``: ``np.linalg.norm(S - Sp, ord=2)`` of the full n x n distance matrices,
    which for a 2-D array is the largest singular value (spectral norm), not the Frobenius norm."""
    return float(np.linalg.norm(_naive.distance_matrix(x) - _naive.distance_matrix(y), ord=2))


def test_rsm_norm_difference_is_the_frobenius_norm_not_resi_spectral_norm():
    x, y = _pair(6, 80, 5, 9)
    n = len(x)
    difference = _naive.distance_matrix(x) - _naive.distance_matrix(y)
    value = metrics.get("rsm_norm_difference")(x, y)
    assert_close(value * math.sqrt(n * (n - 1)), float(np.linalg.norm(difference, "fro")), PLATFORM_RTOL, what="Frobenius")
    spectral = resi_rsm_norm_diff(x, y)
    assert spectral == pytest.approx(float(np.linalg.svd(difference, compute_uv=False)[0]), rel=1e-10)
    # the spectral norm is a different number: not a multiple of ours that a normalization would fix
    other_x, other_y = _pair(7, 80, 5, 9)
    ratio, other_ratio = spectral / value, resi_rsm_norm_diff(other_x, other_y) / metrics.get(
        "rsm_norm_difference"
    )(other_x, other_y)
    assert spectral < 0.99 * float(np.linalg.norm(difference, "fro"))
    assert abs(ratio - other_ratio) > 1e-3 * ratio


def test_rsm_norm_difference_is_translation_invariant_though_resi_declares_it_not():
    x, y = _pair(8, 60, 4, 6)
    rng = np.random.default_rng(8)
    m = metrics.get("rsm_norm_difference")
    assert m.info.invariant_to("translation")
    assert_close(m(apply_transform("translation", x, rng), y), m(x, y), 1e-10, what="translated X")


@given(seed=seeds, cx=st.floats(1e-3, 1e3), cy=st.floats(1e-3, 1e3), negative=st.booleans())
def test_distance_correlation_is_scale_invariant_though_resi_declares_it_not(seed, cx, cy, negative):
    """dCov^2(cX, c'Y) = |c c'| dCov^2(X, Y) and dVar^2(cX) = c^2 dVar^2(X): each side may be scaled
    by its own factor, of either sign."""
    x, y = _pair(seed % 1000, 40, 3, 5)
    m = metrics.get("distance_correlation")
    assert_close(m((-cx if negative else cx) * x, cy * y), m(x, y), 1e-10, what=f"scaled by {cx}, {cy}")


# ----------------------------------------------------------------------------------------------------
# Closed forms and known values
# ----------------------------------------------------------------------------------------------------
def test_distance_correlation_of_a_similarity_transform_is_one():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(60, 5))
    m = metrics.get("distance_correlation")
    assert m(x, x) == 1.0
    assert_close(m(x, -3.5 * x @ random_orthogonal(rng, 5) + 7.0), 1.0, PLATFORM_RTOL, what="similarity transform")
    assert_close(m(x, np.hstack([x, np.zeros((60, 2))])), 1.0, PLATFORM_RTOL, what="zero-padded copy (p1 != p2)")


def test_distance_correlation_sees_dependence_that_correlation_misses():
    """Independent samples: dCor ~ 1/sqrt(n), near 0 at n = 2,000; Y = X^2 is uncorrelated with the
    symmetric X but dependent on it, and dCor says so."""
    rng = np.random.default_rng(10)
    x, y = independent_pair(rng, 2000, 3, 4)
    m = metrics.get("distance_correlation")
    assert m(x, y) < 0.1
    assert abs(np.corrcoef(x[:, 0], x[:, 0] ** 2)[0, 1]) < 0.1
    assert m(x, x**2) > 0.3


def test_rsm_norm_difference_of_a_scaled_copy_is_the_rms_distance():
    """d_{cX} - d_X = (c - 1) d_X, so the value is |c - 1| sqrt(mean_{i<j} d_ij^2) =
    |c - 1| sqrt(2n/(n-1) mean_i ||x_i - x_bar||^2)."""
    x, _ = _pair(11, 57, 6, 6)
    n = len(x)
    rms = math.sqrt(2 * n / (n - 1) * np.mean(np.sum((x - x.mean(axis=0)) ** 2, axis=1)))
    m = metrics.get("rsm_norm_difference")
    assert m(x, x) == 0.0
    assert_close(m(x, 3.0 * x), 2.0 * rms, PLATFORM_RTOL, what="rsm(X, 3X)")


@given(seed=seeds, c=st.floats(1e-2, 1e2))
def test_scaling_both_sides_scales_the_distances(seed, c):
    """rsm and magnitude are homogeneous of degree 1: not invariant to scaling, but in the data's units."""
    x, y = _pair(seed % 1000, 30, 4, 3)
    for name in ("rsm_norm_difference", "magnitude_difference"):
        m = metrics.get(name)
        assert_close(m(c * x, c * y), c * m(x, y), 1e-10, what=f"{name} at scale {c}")


@given(seed=seeds, c=st.floats(0.1, 10.0), t=st.floats(0.1, 10.0))
def test_uniformity_of_scaled_data_is_uniformity_at_another_t(seed, c, t):
    """exp(-t ||c x_i - c x_j||^2) = exp(-(c^2 t) ||x_i - x_j||^2): scaling the data rescales t."""
    x, y = _pair(seed % 1000, 30, 3, 4)
    x, y = _unit_spread(x), _unit_spread(y)
    m = metrics.get("uniformity_difference")
    assert_close(m(c * x, c * y, t=t), m(x, y, t=c * c * t), 1e-10, what=f"scale {c}, t {t}")


def test_uniformity_known_values():
    """U(X) lies in [-log n, 0]: the difference of n mutually far points and a tight cluster is log n."""
    rng = np.random.default_rng(12)
    n = 40
    m = metrics.get("uniformity_difference")
    x = rng.normal(size=(n, 3))
    assert m(x, x) == 0.0
    spread = 1e3 * np.eye(n)  # every pair 1e3 * sqrt(2) apart: exp(-2e6) = 0
    cluster = 1e-9 * rng.normal(size=(n, 2))
    assert_close(m(spread, cluster), math.log(n), 1e-9, what="spread vs cluster")
    # tiny off-diagonal terms are not lost against the n diagonal ones
    far, farther = 6.0 * np.eye(n), 6.5 * np.eye(n)  # exp(-2 * 72) ~ 3e-63 per pair
    expected = math.log1p((n - 1) * math.exp(-2 * 72.0)) - math.log1p((n - 1) * math.exp(-2 * 84.5))
    assert_close(m(far, farther), expected, 1e-10, what="off-diagonal terms of 1e-63")


def test_magnitude_and_concentricity_known_values():
    rng = np.random.default_rng(13)
    z = rng.normal(size=(50, 4))
    z -= z.mean(axis=0)
    shift = np.array([3.0, 0.0, -4.0, 0.0])  # length 5
    magnitude, concentricity = metrics.get("magnitude_difference"), metrics.get("concentricity_difference")
    assert_close(magnitude(z + shift, z[:, :2] + [0.0, 2.0]), 3.0, PLATFORM_RTOL, what="|5 - 2|")
    # rows that are positive multiples of one vector all have cosine 1 with their mean
    ray = rng.uniform(0.5, 2.0, size=(50, 1)) * np.array([[1.0, 2.0, 2.0]])
    mixed = np.vstack([ray[:25], -0.1 * ray[25:]])  # 25 rows at cosine 1, 25 at -1 (their mean points along ray)
    assert_close(concentricity(ray, ray * 3), 0.0, what="two rays")
    assert_close(concentricity(ray, mixed), 1.0, PLATFORM_RTOL, what="1 - 0")


@given(seed=seeds, negative=st.booleans())
def test_magnitude_and_concentricity_with_a_translated_side(seed, negative):
    """Translation moves both statistics, in a way their formulas fix: with a centered X, ||mean(X + a)||
    = ||a||; a far translation makes every cosine with the mean 1."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(30, 3))
    x -= x.mean(axis=0)
    y = rng.normal(size=(30, 5)) + 2.0
    a = rng.normal(size=3) * (-1 if negative else 1)
    m_y = np.linalg.norm(y.mean(axis=0))
    assert_close(metrics.get("magnitude_difference")(x + a, y), abs(np.linalg.norm(a) - m_y), 1e-10, what="magnitude")
    far = x + 1e8 * a / np.linalg.norm(a)
    assert_close(
        metrics.get("concentricity_difference")(far, y), abs(1 - _naive.concentricity(y)), 1e-9, what="concentricity"
    )


@given(seed=seeds, c=st.floats(1e-3, 1e3), negative=st.booleans())
def test_concentricity_is_invariant_to_scaling_of_either_sign(seed, c, negative):
    x, y = _pair(seed % 1000, 30, 4, 6)
    m = metrics.get("concentricity_difference")
    assert_close(m((-c if negative else c) * x, y), m(x, y), 1e-10, what=f"X scaled by {c}")


@pytest.mark.parametrize("name", MEASURES)
def test_float32_is_close_to_float64(name):
    x, y = _pair(14, 80, 6, 9)
    if name == "uniformity_difference":
        x, y = _unit_spread(x), _unit_spread(y)
    m = metrics.get(name)
    assert m(x, y, dtype="float32") == pytest.approx(m(x, y), rel=1e-4)


@pytest.mark.parametrize("name", MEASURES)
def test_torch_tensors_give_the_numpy_value(name):
    x, y = _pair(15, 40, 3, 5)
    m = metrics.get(name)
    assert m(torch.from_numpy(x), torch.from_numpy(y)) == m(x, y)


# ----------------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------------
def test_concentricity_refuses_zero_rows_and_a_zero_mean():
    x, y = _pair(16, 30, 4, 5)
    m = metrics.get("concentricity_difference")
    with_zero = x.copy()
    with_zero[7] = 0.0
    assert_refused(m, with_zero, y, match="X has 1 zero row.*first: row 7")
    assert_refused(m, x, y - y.mean(axis=0), match="mean row of Y is zero up to rounding")


@pytest.mark.parametrize("t", [0.0, -1.0, math.inf, math.nan, "2"])
def test_uniformity_refuses_a_bad_t(t):
    x, y = _pair(17, 30, 4, 5)
    assert_refused(metrics.get("uniformity_difference"), x, y, match="t must be a positive finite number", t=t)


@pytest.mark.parametrize("name", MEASURES)
def test_too_few_samples_are_refused(name):
    m = metrics.get(name)
    n = m.info.min_samples - 1
    assert_refused(m, np.arange(n * 2.0).reshape(n, 2), np.ones((n, 3)), match="samples")
