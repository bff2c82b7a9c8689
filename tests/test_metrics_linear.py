"""cka_linear_lange, eigenspace_overlap, gulp, ridge_predictivity, imd, rtd: closed forms, the numbers of
the literature, the internal paths against their declared reference routes, parameters and bad input.

(test_metrics_reference.py already compares each measure's default with its reference route at the
standard shapes; test_metrics_contract.py runs the contract on each.)
"""
from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.linalg

import metrics
from metrics import _naive
from reference import route
from metrics.cka import _feature_space_is_cheaper
from metrics.topology import IMD_TEMPERATURES, exact_heat_trace, knn_laplacian, slq_heat_trace
from strategies import PLATFORM_RTOL, assert_close, assert_refused, correlated_pair, random_invertible

lange, overlap, gulp, ridge, imd, rtd = (
    metrics.get(name)
    for name in ("cka_linear_lange", "eigenspace_overlap", "gulp", "ridge_predictivity", "imd", "rtd")
)


def _pair(seed: int, n: int, p1: int, p2: int):
    return correlated_pair(np.random.default_rng(seed), n, p1, p2)


# ----------------------------------------------------------------------------------------------------
# Lange et al.'s CKA
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, feature_space", [((200, 5, 9), True), ((120, 30, 2), True), ((20, 90, 150), False), ((40, 200, 3), False)])
def test_lange_cka_both_paths_match_explicit_kernels(shape, feature_space):
    assert _feature_space_is_cheaper(*shape) is feature_space, "the shape no longer exercises the intended path"
    x, y = _pair(1, *shape)
    assert_close(lange(x, y), route("cka_linear_lange")(x, y), rtol=1e-10, what="cka_linear_lange")


@pytest.mark.parametrize(
    "n, p, biased, song, lange_value",
    [(32, 64, 0.666, 0.003, 0.064), (128, 1024, 0.889, -0.001, 0.060)],
    ids=["n32-p64", "n128-p1024"],
)
def test_lange_cka_on_independent_gaussians_matches_the_recipes_numbers(n, p, biased, song, lange_value):
    """RECIPES: biased, Song's and Lange's CKA of independent Gaussians (means over 20 seeds). Each of our
    means must lie within 3 standard errors (their spread over the seeds, our seeds being others) of the
    published one; the three estimators must stay apart."""
    values = {"cka_linear": [], "cka_linear_debiased": [], "cka_linear_lange": []}
    for seed in range(20):
        rng = np.random.default_rng(seed)
        x, y = rng.normal(size=(n, p)), rng.normal(size=(n, p))
        for name, found in values.items():
            found.append(metrics.get(name)(x, y))
    for name, expected in (("cka_linear", biased), ("cka_linear_debiased", song), ("cka_linear_lange", lange_value)):
        found = np.array(values[name])
        standard_error = found.std(ddof=1) / np.sqrt(len(found))
        assert abs(found.mean() - expected) <= 3 * standard_error + 1e-3, (name, found.mean(), expected, standard_error)
    assert np.mean(values["cka_linear_lange"]) > np.mean(values["cka_linear_debiased"]) + 0.04  # not Song's


def test_lange_cka_refuses_samples_orthogonal_after_centering():
    """Two samples: K~ has the single off-diagonal pair, but centered rows x_1 = -x_2 (fine); three
    samples at the corners of a centered simplex still give K~ != 0. Zero off-diagonal kernel needs
    orthogonal centered rows, impossible for n >= 2 unless Xc = 0: a constant input, refused earlier."""
    x = np.ones((6, 3))
    assert_refused(lange, x, np.random.default_rng(0).normal(size=(6, 2)), match="constant")


# ----------------------------------------------------------------------------------------------------
# Eigenspace overlap
# ----------------------------------------------------------------------------------------------------
def test_eigenspace_overlap_ranks_by_matrix_rank_and_ignores_duplicated_columns():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 4))
    x_dup = np.hstack([x, x[:, :2] * 3.0, x[:, :1] - x[:, 1:2]])  # rank still 4
    y = x[:, :2] + 0.1 * rng.normal(size=(50, 2))
    assert np.linalg.matrix_rank(x_dup) == 4
    assert_close(overlap(x_dup, y), overlap(x, y), rtol=1e-10, what="duplicated columns")
    assert_close(overlap(x_dup, y), route("eigenspace_overlap")(x_dup, y), rtol=1e-10, what="reference")


def test_eigenspace_overlap_of_nested_spaces_is_the_dimension_ratio():
    """span(Y) inside span(X): ||U_X^T U_Y||_F^2 = r_Y, so the score is r_Y / r_X."""
    x = np.random.default_rng(3).normal(size=(40, 6))
    y = x[:, :2] @ random_invertible(np.random.default_rng(4), 2)
    assert_close(overlap(x, y), 2 / 6, rtol=PLATFORM_RTOL, what="nested")


def test_eigenspace_overlap_never_forms_an_n_by_n_basis():
    """ReSi forms the full n x n U; at n = 200,000 that would be 320 GB. Thin factors take milliseconds."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200_000, 3))
    y = x[:, :2] + rng.normal(size=(200_000, 2))
    assert 0.0 < overlap(x, y) < 1.0


def test_eigenspace_overlap_is_not_translation_invariant_but_is_invertible_linear_invariant():
    x, y = _pair(6, 60, 5, 4)
    base = overlap(x, y)
    assert_close(overlap(x @ random_invertible(np.random.default_rng(7), 5), y), base, rtol=1e-10, what="X A")
    assert abs(overlap(x + 50.0, y) - base) > 1e-3


def test_eigenspace_overlap_accepts_rank_n_minus_one_where_it_is_not_saturated():
    """Uncentered spaces saturate at rank n (refused with p >= n). Two 29-dimensional subspaces of R^30
    share at least 28 dimensions, so the overlap is at least 28/29, but not forced to 1."""
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(30, 29)), rng.normal(size=(30, 29))
    value = overlap(x, y)
    assert 28 / 29 - 1e-12 <= value < 1 - 1e-6
    assert_close(value, route("eigenspace_overlap")(x, y), rtol=1e-10, what="rank n - 1")
    assert_refused(overlap, rng.normal(size=(30, 30)), y, match="p >= n")


# ----------------------------------------------------------------------------------------------------
# GULP
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(60, 5, 8), (90, 12, 12), (40, 3, 1)])
def test_gulp_at_lambda_zero_is_the_canonical_correlation_formula(shape):
    """RECIPES: GULP(lam = 0) = sqrt(r_X + r_Y - 2 sum rho_i^2), rho from metrics' cca (mean rho^2 over
    the min(r_X, r_Y) correlations): an independent route through the canonical correlations."""
    x, y = _pair(10, *shape)
    _, p1, p2 = shape
    sum_rho_sq = min(p1, p2) * metrics.get("cca_mean_sq")(x, y)
    assert_close(gulp(x, y), np.sqrt(p1 + p2 - 2 * sum_rho_sq), rtol=1e-10, what="GULP vs CCA")
    assert gulp(x, y) <= np.sqrt(p1 + p2)


@pytest.mark.parametrize("lam", [1e-4, 1e-2, 0.3, 10.0])
def test_gulp_with_ridge_matches_explicit_hat_matrices(lam):
    x, y = _pair(11, 70, 6, 9)
    assert_close(gulp(x, y, lam=lam), route("gulp")(x, y, lam), rtol=1e-10, what=f"lam={lam}")


def test_gulp_with_ridge_is_not_invertible_linear_invariant_but_is_scale_invariant():
    x, y = _pair(12, 70, 6, 9)
    base = gulp(x, y, lam=0.1)
    assert_close(gulp(1e3 * x, y, lam=0.1), base, rtol=1e-10, what="scaled X")
    assert abs(gulp(x @ random_invertible(np.random.default_rng(13), 6), y, lam=0.1) - base) > 1e-3


def test_gulp_of_nearly_identical_inputs_has_no_cancellation_floor():
    """||H_X - H_Y|| computed as sqrt(tr H_X^2 + tr H_Y^2 - 2 tr H_X H_Y) bottoms out at sqrt(eps) ~ 1e-8;
    the residual route follows the explicit matrices down to a perturbation of 1e-12."""
    x = _pair(14, 50, 4, 4)[0]
    assert gulp(x, x) <= 1e-14
    noise = np.random.default_rng(15).normal(size=x.shape)
    for size in (1e-6, 1e-9, 1e-12):
        y = x + size * noise
        assert_close(gulp(x, y), route("gulp")(x, y), rtol=1e-3, what=f"perturbation {size}")


def test_gulp_bad_parameters_and_saturation():
    x, y = _pair(16, 30, 4, 3)
    assert_refused(gulp, x, y, match="lam", lam=-0.1)
    wide = np.random.default_rng(17).normal(size=(12, 11))  # p = n - 1: every centered direction
    assert_refused(gulp, wide, y[:12], match="dimensions")
    assert gulp(wide, y[:12], lam=0.1) > 0  # ridge is not saturated there


# ----------------------------------------------------------------------------------------------------
# Ridge predictivity
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("folds", [2, 3, 7])
def test_ridge_predictivity_matches_sklearn_ridge_per_alpha_on_explicit_folds(folds):
    x, y = _pair(20, 63, 6, 4)
    assert_close(ridge(x, y, folds=folds), route("ridge_predictivity")(x, y, folds), rtol=1e-10, what=f"{folds} folds")


def test_ridge_predictivity_of_an_exact_linear_map_is_one_and_directional():
    rng = np.random.default_rng(21)
    x = rng.normal(size=(80, 6))
    y = x[:, :3] @ rng.normal(size=(3, 4))
    assert ridge(x, y) > 0.999  # Y is a linear function of X
    assert ridge(y, x) < 0.9  # X is not of Y (rank 3)


def test_ridge_predictivity_leaves_out_constant_held_out_units():
    rng = np.random.default_rng(22)
    x = rng.normal(size=(50, 4))
    y = np.column_stack([x @ rng.normal(size=4) + 0.5 * rng.normal(size=50), rng.normal(size=50)])
    y[:10, 1] = 3.0  # constant on the first fold (rows 0-9)
    assert_close(ridge(x, y), route("ridge_predictivity")(x, y), rtol=1e-10, what="constant held-out unit")
    assert np.isfinite(ridge(x, y))


def test_ridge_predictivity_depends_on_row_order_by_design():
    x, y = _pair(23, 60, 5, 5)
    order = np.random.default_rng(23).permutation(60)
    assert ridge(x[order], y[order]) != ridge(x, y)
    assert ridge.info.order_dependent


def test_ridge_predictivity_bad_parameters():
    x, y = _pair(24, 40, 4, 3)
    assert_refused(ridge, x, y, match="folds", folds=1)
    assert_refused(ridge, x, y, match="per fold", folds=20)
    constant_training = np.repeat(np.r_[np.zeros(32), np.ones(8)][:, None], 2, axis=1)  # fold 5 = rows 32-39
    assert_refused(ridge, constant_training, y, match="constant", folds=5)


# ----------------------------------------------------------------------------------------------------
# IMD
# ----------------------------------------------------------------------------------------------------
def _laplacian(x: np.ndarray, k: int = 5):
    import torch

    from metrics.neighbors import neighbour_pair

    t = torch.from_numpy(np.asarray(x, dtype=np.float64))
    return knn_laplacian(neighbour_pair(t, t, k, "euclidean").nx)


def test_imd_laplacian_spectrum_matches_the_reference_graph():
    x = _pair(30, 70, 5, 5)[0]
    ours = np.sort(scipy.linalg.eigvalsh(_laplacian(x).toarray()))
    theirs = np.sort(scipy.linalg.eigvalsh(_naive.knn_normalized_laplacian(x)))
    np.testing.assert_allclose(ours, theirs, atol=PLATFORM_RTOL)


@pytest.mark.parametrize("k", [3, 8])
def test_imd_neighbourhood_parameter(k):
    x, y = _pair(31, 60, 4, 6)
    assert_close(imd(x, y, k=k), route("imd")(x, y, k), rtol=1e-8, what=f"k={k}")


def test_slq_with_a_full_krylov_space_is_hutchinson_on_the_dense_exponential():
    """With as many Lanczos steps as samples, each quadrature is exact: the estimate must equal
    (1/P) sum_v v^T expm(-t L) v (same seeded unit probes) plus the control variate t e^-t (v^T L v - 1)."""
    x = _pair(32, 24, 3, 3)[0]
    laplacian = _laplacian(x)
    n, probes, ts = 24, 7, IMD_TEMPERATURES[::32]
    v = np.random.default_rng(3).standard_normal((n, probes))
    v /= np.linalg.norm(v, axis=0)
    dense = laplacian.toarray()
    quadratic = np.array([np.mean(np.einsum("ip,ij,jp->p", v, scipy.linalg.expm(-t * dense), v)) for t in ts])
    linear = np.mean(np.einsum("ip,ij,jp->p", v, dense, v))
    np.testing.assert_allclose(slq_heat_trace(laplacian, ts, n, probes, 3), quadratic + ts * np.exp(-ts) * (linear - 1), atol=1e-10)


def test_slq_estimate_approaches_the_exact_heat_trace_with_more_probes():
    laplacian = _laplacian(_pair(33, 600, 6, 6)[0])
    exact = exact_heat_trace(laplacian, IMD_TEMPERATURES)
    few = np.abs(slq_heat_trace(laplacian, IMD_TEMPERATURES, 10, 100, 0) - exact).max()
    many = np.abs(slq_heat_trace(laplacian, IMD_TEMPERATURES, 10, 3000, 0) - exact).max()
    assert few < 2e-2 and many < few / 2, (few, many)


def test_imd_slq_path_is_seeded_symmetric_and_zero_on_identical_inputs():
    x, y = _pair(34, 150, 5, 7)
    value = imd(x, y, exact_up_to=0)
    assert value == imd(x, y, exact_up_to=0) == imd(y, x, exact_up_to=0)
    assert value != imd(x, y, exact_up_to=0, seed=1)
    assert imd(x, x, exact_up_to=0) == 0.0 == imd(x, x)
    assert imd(x[:9], y[:9], exact_up_to=0, lanczos_steps=12) >= 0  # more steps than samples: no NaN


def test_imd_bad_parameters():
    x, y = _pair(35, 30, 3, 3)
    for params, match in ((dict(k=0), "k"), (dict(k=29), "at least k"), (dict(probes=0), "probes"),
                          (dict(lanczos_steps=1), "lanczos_steps"), (dict(exact_up_to=-1), "exact_up_to")):  # fmt: skip
        assert_refused(imd, x, y, match=match, **params)


# ----------------------------------------------------------------------------------------------------
# RTD
# ----------------------------------------------------------------------------------------------------
def test_rtd_of_a_path_against_a_square_by_hand():
    """X: 4 points on a line, normalized distances |i - j| / 2.5 (the 0.9 quantile of 1,1,1,2,2,3);
    Y: a unit square, sides 1/sqrt(2) and diagonals 1 after dividing by sqrt(2).
    Cross(Y, X): the second copy carries min(d_Y, d_X); the three path edges (0.4) each close a cycle
    with the collapsed first copy that dies when the Y distance 1/sqrt(2) fills it; the two diagonals
    (0.8) are filled at once by triangles of the path. Cross(X, Y): only the pair (0, 3), closer in Y
    (1/sqrt(2)) than in X (1.2), opens a cycle, killed at 0.8 by the triangles through 1 and 2.
    RTD = (3 (1/sqrt(2) - 0.4) + (0.8 - 1/sqrt(2))) / 2 = (sqrt(2) - 0.4) / 2; gudhi agrees."""
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    assert_close(rtd(x, y), (np.sqrt(2) - 0.4) / 2, rtol=PLATFORM_RTOL, what="by hand")
    assert_close(rtd(x, y), route("rtd")(x, y), rtol=PLATFORM_RTOL, what="gudhi")
    assert rtd(x, x) == 0.0


def test_rtd_subsampling_is_seeded_and_averages_the_subsets():
    x, y = _pair(40, 60, 4, 5)
    value = rtd(x, y, batch=25, trials=3, seed=7)
    assert value == rtd(x, y, batch=25, trials=3, seed=7)
    assert value != rtd(x, y, batch=25, trials=3, seed=8)
    rng = np.random.default_rng(7)
    subsets = [rng.choice(60, size=25, replace=False) for _ in range(3)]
    assert_close(value, float(np.mean([route("rtd")(x[s], y[s]) for s in subsets])), rtol=1e-10, what="subsets")
    assert rtd(x, y, batch=60) == rtd(x, y, batch=500)  # n <= batch: all samples, once


def test_rtd_is_symmetric_and_scale_free():
    x, y = _pair(41, 50, 4, 6)
    assert_close(rtd(x, y), rtd(y, x), rtol=PLATFORM_RTOL, what="swap")
    assert_close(rtd(1e-3 * x, y), rtd(x, y), rtol=1e-10, what="scaled")


def test_rtd_bad_parameters_and_missing_library(monkeypatch):
    x, y = _pair(42, 20, 3, 3)
    assert_refused(rtd, x, y, match="batch", batch=2)
    assert_refused(rtd, x, y, match="trials", trials=0)
    monkeypatch.setitem(sys.modules, "gph", None)  # as if giotto-ph were not installed
    with pytest.raises(ImportError, match="pip install giotto-ph"):
        rtd(x, y)
