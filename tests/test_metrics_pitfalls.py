"""One regression test per known pitfall of other implementations (DESIGN section 3), plus the two
degenerate cases this suite found (PWCCA with an exactly shared subspace, RSA with two features)."""
from __future__ import annotations

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given
from scipy.stats import rankdata, spearmanr

import metrics
from metrics import _naive
from metrics._formulas import kept_directions
from metrics._linalg import double_center_symmetric_
from metrics.rsa import average_ranks, spearman
from reference import route
from strategies import (
    PLATFORM_RTOL,
    assert_close,
    assert_refused,
    correlated_pair,
    independent_pair,
    random_invertible,
    random_orthogonal,
)

NAMES = metrics.available()


# ----------------------------------------------------------------------------------------------------
# Kernel centering with the wrong broadcast axis
# ----------------------------------------------------------------------------------------------------
def test_double_centering_is_h_k_h():
    """H K H of a symmetric kernel: its rows and columns sum to 0 and it equals the explicit product."""
    rng = np.random.default_rng(0)
    k = rng.normal(size=(9, 9)) + np.arange(9)[:, None] * 3.0 - np.arange(9)[None, :]
    k = k @ k.T
    out = double_center_symmetric_(torch.from_numpy(k.copy())).numpy()
    np.testing.assert_allclose(out, _naive.double_centered(k), rtol=0, atol=PLATFORM_RTOL * np.abs(k).max())
    np.testing.assert_allclose(out.sum(axis=0), 0, atol=PLATFORM_RTOL * np.abs(k).max())
    np.testing.assert_allclose(out.sum(axis=1), 0, atol=PLATFORM_RTOL * np.abs(k).max())


def test_rbf_cka_centers_kernels_on_both_axes():
    """End to end: a wrong axis changes RBF CKA (its kernels are not centered by the data's centering)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 4)) * [1.0, 5.0, 0.2, 2.0] + 7.0
    y = np.tanh(x @ rng.normal(size=(4, 6))) + 0.1 * rng.normal(size=(50, 6))
    assert_close(metrics.get("cka_rbf")(x, y), route("cka_rbf")(x, y), what="cka_rbf")


# ----------------------------------------------------------------------------------------------------
# SVCCA keeping one component
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "squared, threshold, expected",
    [
        ([1.0] * 10, 0.99, 10),  # flat spectrum: every direction is needed
        ([0.50, 0.30, 0.15, 0.045, 0.005], 0.99, 4),  # cumulative .5 .8 .95 .995 1
        ([0.50, 0.30, 0.15, 0.045, 0.005], 0.9, 3),
        ([0.50, 0.30, 0.15, 0.045, 0.005], 0.5, 1),  # reached exactly by the first
        ([0.999, 0.0005, 0.0005], 0.99, 1),
        ([5.0, 4.0, 1.0, 0.0, 0.0], 0.99, 3),  # trailing zeros are never kept
        ([2.0, 1.0], 1.0, 2),
    ],
)
def test_svcca_keeps_the_right_number_of_directions(squared, threshold, expected):
    s = torch.tensor(np.sqrt(squared), dtype=torch.float64)
    assert kept_directions(s, threshold) == expected
    assert _naive.svd_truncation_count(s.numpy(), threshold) == expected


def test_svcca_on_isotropic_data_keeps_everything():
    """Isotropic data needs nearly all directions for 99 %: SVCCA is then plain mean CCA, not one
    canonical correlation (which a one-component truncation would return)."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 6)) @ random_orthogonal(rng, 6)
    y = x @ rng.normal(size=(6, 6)) + 2 * rng.normal(size=(400, 6))
    s = np.linalg.svd(_naive.centered(x), compute_uv=False)
    assert _naive.svd_truncation_count(s) == 6
    svcca = metrics.get("svcca")(x, y)
    assert_close(svcca, route("svcca")(x, y), what="svcca")
    rho = _naive.canonical_correlations(x, y)
    if _naive.svd_truncation_count(np.linalg.svd(_naive.centered(y), compute_uv=False)) == 6:
        assert_close(svcca, metrics.get("cca_mean")(x, y), what="svcca == cca_mean")
    assert abs(svcca - rho[0]) > 0.05, "SVCCA returned the top canonical correlation alone"


# ----------------------------------------------------------------------------------------------------
# PWCCA indexing the wrong matrix when widths differ
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p1, p2", [(3, 15), (15, 3), (4, 9)])
def test_pwcca_weights_come_from_the_first_argument_at_unequal_widths(p1, p2):
    x, y = correlated_pair(np.random.default_rng(3), 80, p1, p2)
    m = metrics.get("pwcca")
    assert_close(m(x, y), route("pwcca")(x, y), what="pwcca(X, Y)")
    assert_close(m(y, x), route("pwcca")(y, x), what="pwcca(Y, X)")
    assert abs(m(x, y) - m(y, x)) > 1e-3


def test_pwcca_refuses_an_exactly_shared_subspace_beside_weaker_correlations():
    """X = [A, B], Y = [A, C]: the directions of A all have canonical correlation 1, so any basis of A is
    a set of canonical variates and the weights were decided by rounding (the value moved by 1e-2 when the
    input was rescaled; Morcos et al.'s recipe gave yet another number). p1 + p2 > n - 1 forces this."""
    rng = np.random.default_rng(4)
    a = rng.normal(size=(200, 3))
    x, y = np.hstack([a, rng.normal(size=(200, 4))]), np.hstack([a, rng.normal(size=(200, 5))])
    m = metrics.get("pwcca")
    assert_refused(m, x, y, match="3-dimensional subspace exactly")
    assert_refused(m, y, x, match="3-dimensional subspace exactly")
    x, y = correlated_pair(np.random.default_rng(4), 16, 6, 12)  # p1 + p2 - (n - 1) = 3 shared
    assert_refused(m, x, y, match="subspace exactly")


def test_pwcca_is_defined_when_every_correlation_is_one_or_one_is_forced():
    rng = np.random.default_rng(5)
    m = metrics.get("pwcca")
    x, z = rng.normal(size=(16, 9)), rng.normal(size=(16, 4))
    assert_close(m(x, x), 1.0, rtol=PLATFORM_RTOL, what="pwcca(X, X) with p1 + p2 > n")
    assert_close(m(x, x @ random_invertible(rng, 9)), 1.0, rtol=1e-10, what="pwcca(X, XA)")
    big = rng.normal(size=(100, 5))
    wider = np.hstack([big, rng.normal(size=(100, 4))])
    assert_close(m(big, wider), 1.0, rtol=PLATFORM_RTOL, what="X contained in Y")
    assert_close(m(wider, big), 1.0, rtol=PLATFORM_RTOL, what="Y contained in X")
    x, y = correlated_pair(rng, 16, 6, 10)  # exactly one forced shared direction: unique
    assert_close(m(1e3 * x, y), m(x, y), what="pwcca with one forced shared direction")
    assert_close(m(x, y), route("pwcca")(x, y), what="pwcca vs reference")


# ----------------------------------------------------------------------------------------------------
# CCA silently returning ~1 when p >= n
# ----------------------------------------------------------------------------------------------------
SATURATING = [name for name in NAMES if metrics.get(name).info.needs_n_above_p]
#: eigenspace_overlap compares uncentered column spaces: they saturate at rank n, not n - 1 (p >= n is refused).
SATURATING_AT_N_MINUS_ONE = [name for name in SATURATING if name != "eigenspace_overlap"]


@pytest.mark.parametrize(
    "name, p",
    [(name, p) for name in SATURATING for p in (29, 30, 45) if p >= 30 or name in SATURATING_AT_N_MINUS_ONE],
    ids=lambda value: f"p{value}" if isinstance(value, int) else value,
)
def test_cca_family_refuses_p_at_least_n_minus_one(name, p):
    """Independent 30 x 30 data has every canonical correlation equal to 1 (Kornblith et al. 2019)."""
    x, y = independent_pair(np.random.default_rng(5), 30, p, p)
    err = assert_refused(metrics.get(name), x, y)
    assert "n - 1" in str(err) or "p >= n" in str(err)
    assert "svcca" in str(err) or "debiased" in str(err), "the message should point to an alternative"


@pytest.mark.parametrize("name", SATURATING_AT_N_MINUS_ONE)
def test_cca_family_refuses_rank_n_minus_one_below_p_n(name):
    """p < n but the centered data spans all n - 1 dimensions (p = n - 1): still saturated."""
    x, y = independent_pair(np.random.default_rng(6), 30, 29, 29)
    x, y = x[:, :29], y[:, :3]
    assert_refused(metrics.get(name), x, y, match="n - 1")


def test_ols_r2_only_needs_x_narrow():
    x, y = independent_pair(np.random.default_rng(7), 30, 5, 60)
    assert 0 <= metrics.get("ols_r2")(x, y) < 1
    assert_refused(metrics.get("ols_r2"), y, x)


# ----------------------------------------------------------------------------------------------------
# Unbiased HSIC going negative into a sqrt
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [5, 8, 20, 60, 150])
@pytest.mark.parametrize("p", [1, 3, 200])
def test_debiased_cka_refuses_zero_self_hsic(n, p):
    """All samples equal but one: K's U-centered form is exactly 0, so HSIC_u(K, K) = 0 and the
    estimator is 0/0. Rounding leaves +-1e-18 there; it must be an error, never NaN or a number."""
    rng = np.random.default_rng(n + p)
    x = np.zeros((n, p))
    x[n // 2] = rng.normal(size=p)
    y = rng.normal(size=(n, 4))
    k = _naive.linear_gram(_naive.centered(x))
    assert abs(_naive.hsic_unbiased_song(k, k)) < 1e-12 * np.sum(k**2)
    for a, b in ((x, y), (y, x)):
        assert_refused(metrics.get("cka_linear_debiased"), a, b, match="unbiased HSIC")


def test_debiased_cka_may_be_negative_and_is_not_clipped():
    m = metrics.get("cka_linear_debiased")
    values = [m(*independent_pair(np.random.default_rng(seed), 40, 3, 3)) for seed in range(10)]
    assert min(values) < 0
    assert all(np.isfinite(values))


def test_debiased_cka_smallest_sample():
    x, y = correlated_pair(np.random.default_rng(8), 4, 2, 2)
    m = metrics.get("cka_linear_debiased")
    assert_close(m(x, y), route("cka_linear_debiased")(x, y), what="n = 4")
    assert_refused(m, x[:3], y[:3], match="at least 4")


# ----------------------------------------------------------------------------------------------------
# A failed SVD reported as a perfect score
# ----------------------------------------------------------------------------------------------------
def _fail(*args, **kwargs):
    raise torch.linalg.LinAlgError("linalg.svd: The algorithm failed to converge (simulated)")


@pytest.mark.parametrize("name", NAMES)
def test_failed_decomposition_is_a_measure_error_never_a_score(name, monkeypatch):
    """Every decomposition torch offers fails: a measure that needs one raises MeasureError naming
    itself; one that needs none returns the same value as before."""
    m = metrics.get(name)
    x, y = correlated_pair(np.random.default_rng(9), 40, 5, 7)
    expected = m(x, y)
    for routine in ("svd", "svdvals", "qr", "eigh", "eigvalsh", "cholesky", "lstsq", "solve", "inv"):
        monkeypatch.setattr(torch.linalg, routine, _fail)
    _fail_numpy_decompositions(monkeypatch)
    try:
        value = m(x, y)
    except metrics.MeasureError as err:
        assert str(err).startswith(f"{name}: ") and "failed" in str(err)
    else:
        assert value == expected, f"{name} returned {value} while the decompositions fail"


def _fail_numpy_decompositions(monkeypatch) -> None:
    """numpy's and scipy's decompositions fail too (the Gram route of metrics._linalg.gram_basis takes them)."""
    for routine in ("svd", "eigh", "eigvalsh", "cholesky"):
        monkeypatch.setattr(np.linalg, routine, _fail)
    monkeypatch.setattr(scipy.linalg, "cholesky", _fail)


@pytest.mark.parametrize("name", ["cca_mean", "svcca", "pwcca", "procrustes", "nbs", "ols_r2", "gulp", "shape_metric"])
def test_measures_built_on_svd_report_its_failure(name, monkeypatch):
    x, y = correlated_pair(np.random.default_rng(10), 40, 5, 7)
    monkeypatch.setattr(torch.linalg, "svd", _fail)
    monkeypatch.setattr(torch.linalg, "svdvals", _fail)
    _fail_numpy_decompositions(monkeypatch)
    with pytest.raises(metrics.MeasureError, match=f"^{name}: "):
        metrics.get(name)(x, y)


# ----------------------------------------------------------------------------------------------------
# NBS returning a vector
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(30, 4, 4), (30, 1, 1), (20, 40, 60), (50, 7, 2)])
def test_nbs_returns_one_float(shape):
    x, y = correlated_pair(np.random.default_rng(11), *shape)
    for convert in (np.asarray, torch.from_numpy):
        value = metrics.get("nbs")(convert(x), convert(y))
        assert type(value) is float
        assert_close(value, route("nbs")(x, y), what="nbs")


# ----------------------------------------------------------------------------------------------------
# RSA with two features (found by this suite)
# ----------------------------------------------------------------------------------------------------
def test_rsa_refuses_two_features():
    """With p = 2 every correlation across features is +1 or -1: the RDM is binary and the ranks of its
    ties came from rounding (rescaling the input moved the value from -0.004 to 0.24)."""
    x, y = correlated_pair(np.random.default_rng(12), 30, 2, 5)
    assert_refused(metrics.get("rsa"), x, y, match="at least 3 features")
    assert_refused(metrics.get("rsa"), y, x, match="at least 3 features")


# ----------------------------------------------------------------------------------------------------
# Ranks of tied dissimilarities (rsa's fast path sorts once and must notice ties)
# ----------------------------------------------------------------------------------------------------
@given(
    hnp.arrays(np.float64, st.integers(1, 60), elements=st.sampled_from([-1.5, 0.0, 0.25, 2.0, 7.0]))
    | hnp.arrays(np.float64, st.integers(1, 60), elements=st.floats(-1e6, 1e6), unique=True)
)
def test_average_ranks_equal_scipy_with_and_without_ties(a):
    np.testing.assert_array_equal(average_ranks(a), rankdata(a))


def test_spearman_of_tied_dissimilarities_matches_scipy():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 6, size=200).astype(float), rng.integers(0, 4, size=200).astype(float)
    b[:100] = a[:100]
    assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=PLATFORM_RTOL)
