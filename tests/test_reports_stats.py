"""reports.stats on inputs whose answer is known: coverage of the bootstrap, power and size of the
permutation test, and reproducibility from the seed."""
import numpy as np
import pytest

from reports.stats import bootstrap_mean, rank_correlation, rank_correlation_test


def test_bootstrap_interval_covers_the_true_mean_at_about_its_confidence():
    truth, covered = 0.3, 0
    for seed in range(200):
        sample = np.random.default_rng(seed).normal(truth, 1.0, size=40)
        ci = bootstrap_mean(sample, confidence=0.9, n_resamples=1000, seed=seed)
        covered += ci.low <= truth <= ci.high
    assert 0.80 <= covered / 200 <= 0.97


def test_bootstrap_interval_shrinks_with_more_seeds_and_is_reproducible():
    rng = np.random.default_rng(0)
    few, many = rng.normal(size=5), rng.normal(size=500)
    wide, narrow = bootstrap_mean(few), bootstrap_mean(many)
    assert narrow.high - narrow.low < wide.high - wide.low
    assert bootstrap_mean(few, seed=3) == bootstrap_mean(few, seed=3)


def test_bootstrap_of_one_value_has_no_spread_and_empty_input_is_refused():
    ci = bootstrap_mean([0.7])
    assert (ci.estimate, ci.low, ci.high) == (0.7, 0.7, 0.7)
    with pytest.raises(ValueError, match="bootstrap_mean"):
        bootstrap_mean([])


def test_rank_correlation_is_spearman_and_zero_for_a_constant_series():
    assert rank_correlation([1, 2, 3, 4], [1, 4, 9, 16]) == pytest.approx(1.0)
    assert rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert rank_correlation([1, 2, 3, 4], [5, 5, 5, 5]) == 0.0
    assert rank_correlation([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)


def test_permutation_p_value_is_small_for_a_perfect_monotone_relation():
    x = np.arange(10.0)
    test = rank_correlation_test([x], [np.exp(x)], n_permutations=999)
    assert test.rho.estimate == pytest.approx(1.0)
    assert test.p_greater == pytest.approx(1 / 1000)
    assert test.p_less == pytest.approx(1.0)
    assert test.p_two_sided < 0.01


def test_permutation_p_value_is_large_for_noise_and_about_uniform_under_the_null():
    p_values = []
    for seed in range(60):
        rng = np.random.default_rng(seed)
        test = rank_correlation_test([rng.normal(size=20)], [rng.normal(size=20)], n_permutations=400, seed=seed)
        p_values.append(test.p_two_sided)
    p_values = np.array(p_values)
    assert np.median(p_values) > 0.25
    assert np.mean(p_values < 0.05) <= 0.15


def test_stratified_test_ignores_differences_between_groups():
    # x and y both jump between the groups (a pooled correlation is strong); within each group they are unrelated
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=12), 10 + rng.normal(size=12)]
    ys = [rng.permutation(12).astype(float), 10 + rng.permutation(12).astype(float)]
    pooled = rank_correlation(np.concatenate(xs), np.concatenate(ys))
    stratified = rank_correlation_test(xs, ys, n_permutations=999)
    assert pooled > 0.6
    assert stratified.p_two_sided > 0.05


def test_rank_correlation_test_is_seeded_and_checks_its_input():
    rng = np.random.default_rng(2)
    xs, ys = [rng.normal(size=8) for _ in range(3)], [rng.normal(size=8) for _ in range(3)]
    assert rank_correlation_test(xs, ys, seed=5) == rank_correlation_test(xs, ys, seed=5)
    with pytest.raises(ValueError, match="length"):
        rank_correlation_test([np.arange(3)], [np.arange(4)])
