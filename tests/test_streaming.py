"""Streaming statistics give the in-memory value of every streamable measure, whatever the batching."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import metrics
import metrics.streaming
from metrics._stats import batch_moments, combine
from metrics.streaming import STREAMABLE, NotStreamableError, SufficientStats
from strategies import PLATFORM_RTOL

RELATIVE = 1e-10


def correlated_pair(seed: int, n: int, p1: int = 6, p2: int = 5, offset: float = 0.0):
    """X and a noisy linear map of part of it: every measure is away from its bounds."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p1)) * rng.uniform(0.5, 2.0, size=p1)
    y = x[:, :4] @ rng.normal(size=(4, p2)) + rng.normal(size=(n, p2))
    return x + offset, y - 2 * offset


def in_memory(x, y) -> dict[str, float]:
    return {name: metrics.get(name)(x, y) for name in STREAMABLE}


def assert_matches(stats: SufficientStats, expected: dict[str, float], rel: float = RELATIVE):
    got = {name: stats.compute(name) for name in expected}
    assert got == pytest.approx(expected, rel=rel, abs=0)


def split(n: int, cuts: list[int]) -> list[slice]:
    bounds = [0, *sorted({c for c in cuts if 0 < c < n}), n]
    return [slice(lo, hi) for lo, hi in zip(bounds, bounds[1:])]


def merge_in_groups(parts: list[SufficientStats], grouping: list[int]) -> SufficientStats:
    """Merge neighbours repeatedly at the positions ``grouping`` picks: any binary merge tree."""
    parts = list(parts)
    for pick in grouping:
        if len(parts) == 1:
            break
        i = pick % (len(parts) - 1)
        parts[i : i + 2] = [parts[i].merge(parts[i + 1])]
    while len(parts) > 1:
        parts[:2] = [parts[0].merge(parts[1])]
    return parts[0]


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(20, 80),
    cuts=st.lists(st.integers(1, 79), max_size=8),
    data=st.data(),
)
def test_any_batching_and_merge_tree_equals_in_memory(seed, n, cuts, data):
    x, y = correlated_pair(seed, n)
    pieces = split(n, cuts)
    order = data.draw(st.permutations(range(len(pieces))), label="batch order")
    grouping = data.draw(st.lists(st.integers(0, 100), max_size=len(pieces)), label="merge tree")
    parts = [SufficientStats().update(x[pieces[i]], y[pieces[i]]) for i in order]
    assert_matches(merge_in_groups(parts, grouping), in_memory(x, y))


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(1, 59), max_size=6))
def test_float32_input_accumulates_in_float64(seed, cuts):
    x, y = (a.astype(np.float32) for a in correlated_pair(seed, 60))
    stats = SufficientStats()
    for piece in split(60, cuts):
        stats.update(torch.from_numpy(x[piece]), y[piece])
    assert stats.moments.xx.dtype == torch.float64
    assert_matches(stats, in_memory(x, y))  # the registry casts the same float32 values to float64


@pytest.mark.parametrize("offset, rel", [(1e3, 1e-10), (1e6, 1e-8)])
def test_offset_data_loses_no_digits(offset, rel):
    """A mean large against the spread: raw sums lose ~offset^4 eps in the debiased terms (DESIGN
    section 7); the centered pairwise merge loses only the rounding of the shifted data itself."""
    x, y = correlated_pair(1, 400)
    stats = SufficientStats()
    for piece in split(400, [1, 2, 50, 51, 300]):
        stats.update(x[piece] + offset, y[piece] - 2 * offset)
    invariant = [name for name in STREAMABLE if metrics.get(name).info.invariant_to("translation")]
    expected = {name: metrics.get(name)(x, y) for name in invariant}  # the offset-free values
    assert_matches(stats, expected, rel=rel)
    others = [name for name in STREAMABLE if name not in invariant]  # functions of the means too
    assert_matches(stats, {name: metrics.get(name)(x + offset, y - 2 * offset) for name in others}, rel=rel)


def test_debiased_moments_are_exact_against_a_two_pass_reference():
    x, y = correlated_pair(2, 50, offset=1e3)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    merged = combine(batch_moments(tx[:17], ty[:17]), batch_moments(tx[17:], ty[17:]))
    d = ((x - x.mean(0)) ** 2).sum(1)
    e = ((y - y.mean(0)) ** 2).sum(1)
    assert float(merged.rs) == pytest.approx(d @ e, rel=PLATFORM_RTOL)
    assert float(merged.rr) == pytest.approx(d @ d, rel=PLATFORM_RTOL)
    assert merged.ry.numpy() == pytest.approx((y - y.mean(0)).T @ d, rel=1e-9, abs=1e-9 * np.abs(d).max())


def test_svcca_threshold_parameter_is_passed_through():
    x, y = correlated_pair(3, 200, p1=10)
    stats = SufficientStats().update(x, y)
    assert stats.compute("svcca", threshold=0.9) == pytest.approx(metrics.get("svcca")(x, y, threshold=0.9), rel=1e-10)
    with pytest.raises(ValueError, match="unknown parameter"):
        stats.compute("svcca", thresh=0.9)


def test_float32_products_are_close():
    x, y = correlated_pair(4, 3000, p1=20, p2=12)
    stats = SufficientStats(precision="float32")
    for piece in split(3000, list(range(256, 3000, 256))):
        stats.update(x[piece], y[piece])
    assert_matches(stats, in_memory(x, y), rel=1e-5)


def test_conv_maps_flatten_like_the_registry():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(40, 2, 2, 2)), rng.normal(size=(40, 3, 2, 2))
    for conv in ("flatten", "positions", "pool"):
        stats = SufficientStats(conv=conv).update(x[:25], y[:25]).update(x[25:], y[25:])
        assert stats.compute("cka_linear") == pytest.approx(metrics.get("cka_linear")(x, y, conv=conv), rel=1e-10)


def test_streamable_measures_are_those_that_declare_a_formula():
    declared = {name for name in metrics.available() if metrics.get(name).info.streaming is not None}
    assert set(STREAMABLE) == declared
    assert {"cka_linear", "cka_linear_debiased", "cca_mean", "cca_mean_sq", "svcca", "pwcca", "procrustes",
            "nbs", "ols_r2"} <= declared  # fmt: skip


def test_a_plugin_declaring_a_formula_streams(isolated_registry):
    """A formula on the moments (here the squared distance of the two means, p1 = p2) is all it takes."""

    def mean_distance_formula(derived):
        return (derived.moments.mean_x - derived.moments.mean_y).square().sum()

    m = metrics.register(
        "test_mean_distance", symmetric=True, invariances={"permutation"}, bounds=(0.0, float("inf")),
        higher_is_more_similar=False, streaming=mean_distance_formula,
    )(lambda x, y: float(np.sum((x.mean(0) - y.mean(0)) ** 2)))  # fmt: skip
    x, y = correlated_pair(9, 60, p1=5, p2=5)
    stats = SufficientStats().update(x[:25], y[:25]).update(x[25:], y[25:])
    assert "test_mean_distance" in metrics.streaming.streamable()
    assert stats.compute("test_mean_distance") == pytest.approx(m(x, y), rel=PLATFORM_RTOL)


@pytest.mark.parametrize("name", ["cka_rbf", "rsa", "knn_jaccard", "test_plugin_distance_cosine"])
def test_non_streamable_measure_says_so(name):
    stats = SufficientStats().update(*correlated_pair(0, 30))
    with pytest.raises(NotStreamableError, match="cannot be streamed exactly"):
        stats.compute(name)


def test_unknown_measure_gets_the_registry_error():
    with pytest.raises(metrics.UnknownMetricError, match="cka_linear"):
        SufficientStats().update(*correlated_pair(0, 30)).compute("cka_lineer")


@pytest.mark.parametrize(
    "x, y, match",
    [
        (np.zeros((0, 3)), np.zeros((0, 2)), "empty"),
        (np.ones((4, 3)), np.ones((5, 2)), "same samples"),
        (np.ones((4, 0)), np.ones((4, 2)), "no features"),
        (np.full((4, 3), np.nan), np.ones((4, 2)), "NaN"),
        (np.ones((4, 3), dtype=complex), np.ones((4, 2)), "complex"),
        (np.ones(4), np.ones((4, 2)), "2-D"),
    ],
    ids=["empty", "rows", "no-features", "nan", "complex", "1-d"],
)
def test_bad_batches_raise(x, y, match):
    with pytest.raises(ValueError, match=match):
        SufficientStats().update(x, y)


def test_width_change_between_batches_raises():
    stats = SufficientStats().update(np.ones((3, 4)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="X has 5 features here but 4"):
        stats.update(np.ones((3, 5)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="Y has 3 features"):
        stats.merge(SufficientStats().update(np.ones((3, 4)), np.ones((3, 3))))


def test_one_sample_batches_are_fine():
    x, y = correlated_pair(6, 30)
    stats = SufficientStats()
    for i in range(30):
        stats.update(x[i : i + 1], y[i : i + 1])
    assert_matches(stats, in_memory(x, y))


@pytest.mark.parametrize("name", ["cca_mean", "pwcca", "ols_r2"])
def test_p_at_least_n_is_refused_like_in_memory(name):
    x, y = correlated_pair(7, 8, p1=10, p2=5)
    stats = SufficientStats().update(x, y)
    with pytest.raises(ValueError, match=rf"{name}: X has p = 10 features for n = 8") as streamed:
        stats.compute(name)
    with pytest.raises(ValueError) as direct:
        metrics.get(name)(x, y)
    assert str(streamed.value) == str(direct.value)


def test_compute_errors_match_in_memory():
    x = np.ones((10, 3))
    y = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match="cka_linear: X is constant"):
        SufficientStats().update(x, y).compute("cka_linear")
    with pytest.raises(ValueError, match="cka_linear_debiased: needs at least 4 samples, got n = 3"):
        SufficientStats().update(y[:3], y[:3]).compute("cka_linear_debiased")
    with pytest.raises(ValueError, match="needs at least 3 samples, got n = 0"):
        SufficientStats().compute("procrustes")


def test_constructor_arguments_are_checked():
    with pytest.raises(ValueError, match="precision"):
        SufficientStats(precision="float16")
    with pytest.raises(ValueError, match="conv"):
        SufficientStats(conv="channels")


def test_rank_deficient_input_drops_the_same_directions():
    """Duplicated and dead units: the eigen route and the QR route keep the same subspace."""
    x, y = correlated_pair(8, 200)
    x = np.hstack([x, x[:, :2], np.zeros((200, 1))])
    stats = SufficientStats().update(x[:90], y[:90]).update(x[90:], y[90:])
    for name in ("cca_mean", "pwcca", "ols_r2", "svcca"):
        assert stats.compute(name) == pytest.approx(metrics.get(name)(x, y), rel=1e-10), name
