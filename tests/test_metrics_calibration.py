"""Null calibration (Groger, Wen & Brbic 2026; metrics.calibration): the statistics by hand, the variant
of every measure, the contract on representative variants, the null level, Algorithm 2, bad input, and
agreement with the authors' package ``calibrated-similarity`` given the same permutations (skipped,
with the reason, where that package is not installed: ``pip install -e ".[dev]"`` installs it)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import metrics
from metrics.calibration import (
    CALIBRATION_PARAMS,
    calibrate,
    calibrate_layers,
    calibrated,
    calibrated_score,
    null_threshold,
    permutation_p_value,
)
from metrics.calibration import _permutations
from metrics.testing import CHECKS, check_declared_invariances, check_measure, contract_shape
from strategies import assert_close, assert_refused, correlated_pair, independent_pair

NAMES = metrics.available()


# ----------------------------------------------------------------------------------------------------
# The statistics, by hand
# ----------------------------------------------------------------------------------------------------
def test_threshold_is_the_order_statistic_of_observed_and_null_together():
    # K = 4, alpha = 0.25: the ceil(0.75 * 5) = 4th smallest of {5, 1, 2, 3, 4}
    assert null_threshold(5.0, np.array([3.0, 1.0, 4.0, 2.0]), 0.25) == 4.0
    # K = 19, alpha = 0.05: the 19th of 20 values; the observed value counts among them
    assert null_threshold(0.5, np.arange(19.0), 0.05) == 17.0
    assert null_threshold(100.0, np.arange(19.0), 0.05) == 18.0


def test_add_one_p_value_counts_null_values_at_least_the_observed():
    assert permutation_p_value(2.0, np.array([1.0, 2.0, 3.0])) == 3 / 4
    assert permutation_p_value(9.0, np.zeros(99)) == 1 / 100


@pytest.mark.parametrize("observed, threshold, best, expected", [
    (0.8, 0.4, 1.0, (0.8 - 0.4) / (1.0 - 0.4)),  # bounded: (s - tau) / (s_max - tau)
    (0.3, 0.4, 1.0, 0.0),  # below the null: 0
    (1.0, 1.0, 1.0, 0.0),  # everything at the maximum: nothing beyond the null (no 0 / 0)
    (-0.2, -0.5, 0.0, (-0.2 + 0.5) / 0.5),  # a distance 0.2 against a null quantile 0.5
    (2.5, 1.0, None, 1.5),  # unbounded: relu(s - tau)
])  # fmt: skip
def test_calibrated_score(observed, threshold, best, expected):
    assert calibrated_score(observed, threshold, best) == pytest.approx(expected, rel=1e-15)


# ----------------------------------------------------------------------------------------------------
# A variant of every measure
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_every_measure_has_a_calibrated_variant(name):
    base, variant = metrics.get(name), metrics.get(f"{name}@calibrated")
    assert variant is calibrated(name) is calibrated(base)
    info = variant.info
    best = base.info.bounds[1] if base.info.higher_is_more_similar else -base.info.bounds[0]
    assert info.bounds == ((0.0, 1.0) if math.isfinite(best) else (0.0, math.inf))
    assert info.higher_is_more_similar and info.opt_in and info.order_dependent and not info.symmetric
    assert info.params == {**base.info.params, **CALIBRATION_PARAMS}
    assert (info.invariances, info.x_invariances, info.y_invariances) == (
        base.info.invariances, base.info.x_invariances, base.info.y_invariances)
    assert info.name == f"{name}@calibrated" and name in info.reference and "Groger" in info.reference
    x, y = correlated_pair(np.random.default_rng(0), *contract_shape(base.info))
    value = variant(x, y, permutations=9)
    assert type(value) is float and info.bounds[0] <= value <= info.bounds[1]


#: One of each kind: bounded similarity, bounded distance (angle), distance with only a lower bound,
#: no bound at all (relu), a similarity with negative values, neighbour counts (ties in the null).
CONTRACT = ["cka_linear", "procrustes_angular", "rsm_norm_difference", "cknna", "correlation_match_soft",
            "knn_jaccard"]  # fmt: skip


#: Every check but the undeclared invariances: a calibrated score is 0 wherever the measure does not
#: beat its null, and the contract's violation data (built to move a raw value) may not beat it, so a
#: clamped 0 -> 0 says nothing about the invariance.
CALIBRATED_CHECKS = [check for check in CHECKS if check != "invariances"] + ["declared_invariances"]


@pytest.mark.parametrize("check", CALIBRATED_CHECKS)
@pytest.mark.parametrize("name", CONTRACT)
def test_calibrated_variants_meet_the_contract(name, check):
    m = calibrated(name, permutations=39)  # 39: the contract calls each variant dozens of times
    if check == "declared_invariances":
        check_declared_invariances(m)
    else:
        check_measure(m, [check])


def test_calibration_settings_change_the_defaults():
    m = calibrated("cka_linear", permutations=39, significance=0.1)
    assert m.info.params["permutations"] == 39 and m.info.name == "cka_linear@calibrated"
    x, y = correlated_pair(np.random.default_rng(13), 50, 4, 5)
    assert m(x, y) == metrics.get("cka_linear@calibrated")(x, y, permutations=39, significance=0.1)
    with pytest.raises(ValueError, match="unknown calibration setting"):
        calibrated("cka_linear", alpha=0.1)


def test_calibrated_is_zero_under_the_null_at_the_rate_alpha():
    """Independent data: the observed value is exchangeable with the null values, so it exceeds tau (the
    19th of 20 values) only when it is the largest: probability 1 / 20 = alpha. 60 seeds: expect 3."""
    m = metrics.get("cka_linear@calibrated")
    scores = [m(*independent_pair(np.random.default_rng(seed), 50, 20, 20), permutations=19) for seed in range(60)]
    assert sum(score > 0 for score in scores) <= 9  # binomial(60, 0.05): P(>= 10) < 1e-3
    assert max(scores) < 0.2


def test_calibration_removes_the_width_confound_of_biased_cka():
    """Biased CKA of independent data is about p / (n + p); its calibrated score is 0 at every width."""
    rng = np.random.default_rng(3)
    raw, cal = metrics.get("cka_linear"), metrics.get("cka_linear@calibrated")
    for p in (8, 64, 256):
        x, y = independent_pair(rng, 64, p, p)
        assert raw(x, y) > 0.8 * p / (64 + p)
        assert cal(x, y, permutations=49) < 0.05  # 0, or a false positive just above tau


@pytest.mark.parametrize("name", ["magnitude_difference", "concentricity_difference", "uniformity_difference", "imd"])
def test_a_measure_blind_to_the_correspondence_gets_p_one_and_score_zero(name):
    """These compare each side's own statistics: every permutation gives the observed value up to the
    rounding of sums in another order, which counts as a tie (as_ties), not as evidence either way."""
    x, y = correlated_pair(np.random.default_rng(14), *contract_shape(metrics.get(name).info))
    result = calibrate(name, x, y, permutations=19)
    assert result.p_value == 1.0 and result.score == 0.0
    assert np.all(result.null == result.observed)


def test_the_same_seed_gives_the_same_permutations_and_value():
    x, y = correlated_pair(np.random.default_rng(4), 60, 5, 6)
    m = metrics.get("cka_linear_debiased@calibrated")
    assert m(x, y, permutations=30).hex() == m(x.copy(), y.copy(), permutations=30).hex()
    first, second = (calibrate("cka_linear_debiased", x, y, permutations=30, permutation_seed=s) for s in (1, 2))
    assert not np.array_equal(first.null, second.null)


def test_torch_input_gives_the_numpy_value():
    x, y = correlated_pair(np.random.default_rng(5), 60, 5, 6)
    m = metrics.get("procrustes@calibrated")
    assert_close(m(torch.from_numpy(x), torch.from_numpy(y), permutations=20), m(x, y, permutations=20),
                 rtol=1e-12, what="torch vs numpy")  # fmt: skip


def test_algorithm_2_with_one_layer_each_is_algorithm_1():
    x, y = correlated_pair(np.random.default_rng(6), 50, 4, 5)
    one = calibrate("cka_linear", x, y, permutations=30)
    layered = calibrate_layers("cka_linear", [x], [y], "max", permutations=30)
    np.testing.assert_array_equal(layered.null, one.null)
    assert layered.score == one.score and layered.p_value == one.p_value


def test_algorithm_2_removes_the_depth_confound_of_the_maximum():
    """The maximum of debiased CKA over 6 x 6 independent layers is well above 0; calibrated, it is 0."""
    rng = np.random.default_rng(7)
    xs, ys = ([rng.normal(size=(40, 10)) for _ in range(6)] for _ in range(2))
    raw = metrics.get("cka_linear_debiased").over_layers(xs, ys, "max")
    result = calibrate_layers("cka_linear_debiased", xs, ys, "max", permutations=19)
    assert raw > 0.05
    assert result.score == 0.0 and result.p_value > 0.05


def test_over_layers_orients_the_maximum_for_distances():
    rng = np.random.default_rng(8)
    xs, ys = [rng.normal(size=(30, 4)) for _ in range(3)], [rng.normal(size=(30, 4)) for _ in range(2)]
    m = metrics.get("procrustes_angular")
    values = m.layer_values(xs, ys)
    assert m.over_layers(xs, ys, "max") == values.min()  # the most similar pair: the smallest angle
    assert m.over_layers(xs, ys, "mean") == pytest.approx(values.mean(), rel=1e-15)
    with pytest.raises(ValueError, match="procrustes_angular: aggregate must be one of"):
        m.over_layers(xs, ys, "median")


# ----------------------------------------------------------------------------------------------------
# Names and bad input
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, match", [
    (dict(permutations=0), "permutations must be a positive integer"),
    (dict(permutations=2.5), "permutations must be a positive integer"),
    (dict(significance=1.0), "significance"),
    (dict(significance=0.0), "significance"),
    (dict(permutation_seed=-1), "permutation_seed"),
    (dict(no_such_parameter=1), "unknown parameter"),
])  # fmt: skip
def test_bad_settings_are_refused_naming_the_variant(params, match):
    x, y = correlated_pair(np.random.default_rng(9), 40, 4, 4)
    assert_refused(metrics.get("cka_linear@calibrated"), x, y, match=match, **params)


def test_the_base_measures_parameters_pass_through():
    x, y = correlated_pair(np.random.default_rng(10), 60, 5, 6)
    m = metrics.get("knn_jaccard@calibrated")
    assert m(x, y, k=5, permutations=20) == calibrate("knn_jaccard", x, y, k=5, permutations=20).score
    assert_refused(m, x, y, k=0, permutations=5, match="k must be a positive integer")


def test_unknown_modifier_or_base_lists_what_exists():
    with pytest.raises(metrics.UnknownMetricError, match="Modifiers.*calibrated"):
        metrics.get("cka_linear@calibrate")
    with pytest.raises(metrics.UnknownMetricError, match="did you mean cka_linear"):
        metrics.get("cka_lineer@calibrated")
    assert "calibrated" in metrics.modifiers()


def test_modifier_names_are_reserved_and_clashing_parameters_refused(isolated_registry):
    with pytest.raises(ValueError, match="reserved for modified measures"):
        metrics.register("my@measure", symmetric=True, bounds=(0.0, 1.0))(lambda x, y: 0.5)

    def resampled(x, y, permutations: int = 3):
        """A measure with a parameter named like the calibration's."""
        return 0.5

    metrics.register("test_resampled", symmetric=True, bounds=(0.0, 1.0))(resampled)
    with pytest.raises(ValueError, match=r"test_resampled: its parameter\(s\) \['permutations'\] clash"):
        metrics.get("test_resampled@calibrated")


def test_a_base_registered_again_gets_a_new_variant(isolated_registry):
    def half(x, y):
        """A constant."""
        return 0.5

    first = metrics.register("test_again", symmetric=True, bounds=(0.0, 1.0))(half)
    variant = metrics.get("test_again@calibrated")
    assert variant.base is first
    isolated_registry._REGISTRY.pop("test_again")
    second = metrics.register("test_again", symmetric=True, bounds=(0.0, 1.0))(half)
    assert metrics.get("test_again@calibrated").base is second


# ----------------------------------------------------------------------------------------------------
# The authors' package, given the same permutations
# ----------------------------------------------------------------------------------------------------
def _package():
    return pytest.importorskip(
        "calibrated_similarity",
        reason="calibrated-similarity (Groger et al.'s package) is not installed: pip install -e '.[dev]'",
    )


def _feeding(orders):
    """calibrated-similarity's perm_fn, handing out our permutations in order."""
    queue = iter(orders)
    return lambda n, device: torch.as_tensor(next(queue), device=device)


def _oriented(name):
    info = metrics.get(name).info
    sign = 1.0 if info.higher_is_more_similar else -1.0
    best = sign * (info.bounds[1] if info.higher_is_more_similar else info.bounds[0])
    # the package takes a positive s_max or none (relu); a distance's s_max is -lower bound <= 0
    return sign, (best if math.isfinite(best) and best > 0 else None)


#: float32 (the package) against float64 (ours): tau and scores to float32 rounding of values of order 1
FLOAT32 = 1e-6
K = 19


@pytest.mark.parametrize("kind", ["correlated", "independent"])
@pytest.mark.parametrize("name", NAMES)
def test_agrees_with_calibrated_similarity(name, kind):
    package = _package()
    base = metrics.get(name)
    shape = contract_shape(base.info)
    rng = np.random.default_rng(11)
    x, y = correlated_pair(rng, *shape) if kind == "correlated" else independent_pair(rng, *shape)
    ours = calibrate(name, x, y, permutations=K)
    sign, smax = _oriented(name)
    score, p_value, tau = package.calibrate(
        torch.from_numpy(x), torch.from_numpy(y), lambda a, b: sign * base(a, b), K=K, alpha=0.05, smax=smax,
        perm_fn=_feeding(_permutations(x.shape[0], K, 0)),
    )  # fmt: skip
    assert float(tau) == pytest.approx(ours.threshold, rel=FLOAT32, abs=FLOAT32)
    assert float(p_value) == pytest.approx(ours.p_value, rel=1e-6)
    if smax is not None or ours.best is None:  # the same formula: normalized, or relu without a bound
        assert float(score) == pytest.approx(ours.score, rel=1e-5, abs=1e-5)
    else:  # a distance: the package's relu(tau - d) is our score times (tau - d_best)
        assert float(score) == pytest.approx(ours.score * (ours.best - ours.threshold), rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("aggregate", ["max", "mean"])
@pytest.mark.parametrize("name", ["cka_linear", "cka_linear_debiased", "cknna", "procrustes_angular"])
def test_layer_calibration_agrees_with_calibrate_layers(name, aggregate):
    package = _package()
    rng = np.random.default_rng(12)
    latent = rng.normal(size=(50, 4))
    xs = [latent @ rng.normal(size=(4, 6)) + rng.normal(size=(50, 6)) for _ in range(3)]
    ys = [latent @ rng.normal(size=(4, 5)) + 2 * rng.normal(size=(50, 5)) for _ in range(2)]
    ours = calibrate_layers(name, xs, ys, aggregate, permutations=K)
    base = metrics.get(name)
    sign, smax = _oriented(name)
    score, p_value, tau = package.calibrate_layers(  # the package aggregates oriented values: max = most similar
        [torch.from_numpy(x) for x in xs], [torch.from_numpy(y) for y in ys], lambda a, b: sign * base(a, b),
        agg=aggregate, K=K, alpha=0.05, smax=smax, perm_fn=_feeding(_permutations(50, K, 0)),
    )  # fmt: skip
    assert float(tau) == pytest.approx(ours.threshold, rel=FLOAT32, abs=FLOAT32)
    assert float(p_value) == pytest.approx(ours.p_value, rel=1e-6)
    if smax is not None or ours.best is None:
        assert float(score) == pytest.approx(ours.score, rel=1e-5, abs=1e-5)
