"""Bad and unusual input, for every registered measure: each error is a ValueError whose message starts
with the measure's name; accepted conversions (integers, torch tensors, float32, [n, c, h, w]
activations) give the same number as the plain float64 call."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import metrics
from strategies import PLATFORM_RTOL, STANDARD_SHAPE, assert_close, assert_refused, min_features, smallest_n, standard_pair

NAMES = metrics.available()
each_measure = pytest.mark.parametrize("name", NAMES)


@each_measure
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("side", ["x", "y"])
def test_non_finite_values_are_refused(name, bad, side):
    x, y = standard_pair()
    target = x if side == "x" else y
    target[7, 2] = bad
    err = assert_refused(metrics.get(name), x, y, match="NaN or Inf")
    assert side.upper() in str(err)


@each_measure
def test_different_numbers_of_samples_are_refused(name):
    x, y = standard_pair()
    assert_refused(metrics.get(name), x[:-3], y, match="same samples")
    assert_refused(metrics.get(name), x, y[:-1], match="same samples")


@each_measure
def test_too_few_samples_are_refused(name):
    m = metrics.get(name)
    x, y = standard_pair()
    n = m.info.min_samples - 1
    assert_refused(m, x[:n], y[:n], match="at least")
    assert_refused(m, x[:1], y[:1])
    assert_refused(m, x[:0], y[:0])
    n, p = smallest_n(m), min_features(m)
    assert isinstance(m(x[:n, :p], y[:n, :p]), float), "the smallest accepted n should give a value"


def test_knn_jaccard_needs_k_plus_two_samples():
    x, y = standard_pair()
    assert_refused(metrics.get("knn_jaccard"), x[:11], y[:11], match="k \\+ 2")
    assert_refused(metrics.get("knn_jaccard"), x[:5], y[:5], k=4, match="k \\+ 2")
    assert isinstance(metrics.get("knn_jaccard")(x[:6], y[:6], k=4), float)


@each_measure
@pytest.mark.parametrize("side", ["x", "y"])
def test_constant_input_is_refused(name, side):
    x, y = standard_pair()
    constant = np.full_like(x if side == "x" else y, 3.25)
    pair = (constant, y) if side == "x" else (x, constant)
    assert_refused(metrics.get(name), *pair, match="constant")


@each_measure
def test_constant_columns_beside_varying_ones_are_accepted(name):
    """Dead units (constant columns) are common in real networks and do not make the input constant."""
    x, y = standard_pair()
    dead = np.hstack([x, np.zeros((x.shape[0], 2)), np.full((x.shape[0], 1), 4.0)])
    assert isinstance(metrics.get(name)(dead, y), float)


@pytest.mark.parametrize("name", [n for n in NAMES if metrics.get(n).info.needs_n_above_p])
def test_p_at_least_n_is_refused_where_degenerate(name):
    m = metrics.get(name)
    rng = np.random.default_rng(0)
    n = 20
    narrow, wide = rng.normal(size=(n, 3)), rng.normal(size=(n, n + 5))
    assert_refused(m, wide, narrow, match="p >= n")
    assert_refused(m, rng.normal(size=(n, n)), narrow, match="p >= n")
    if m.info.needs_n_above_p == "both":
        assert_refused(m, narrow, wide, match="p >= n")
    else:  # only X must be narrow (ols_r2: the map from X to Y)
        assert isinstance(m(narrow, wide), float)


@pytest.mark.parametrize("name", [n for n in NAMES if not metrics.get(n).info.needs_n_above_p])
def test_p_above_n_is_accepted_where_defined(name):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 50))
    y = x[:, :30] @ rng.normal(size=(30, 60)) + rng.normal(size=(20, 60))
    assert isinstance(metrics.get(name)(x, y), float)


@each_measure
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16, np.uint8, np.float16])
def test_integer_and_half_precision_data_are_cast(name, dtype):
    rng = np.random.default_rng(2)
    high = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1000
    x = rng.integers(0, min(high, 1000), size=(40, 5)).astype(dtype)
    y = rng.integers(0, min(high, 1000), size=(40, 7)).astype(dtype)
    m = metrics.get(name)
    assert m(x, y) == m(x.astype(np.float64), y.astype(np.float64))


@each_measure
def test_nested_lists_and_object_arrays_of_numbers_are_accepted(name):
    x, y = standard_pair()
    m = metrics.get(name)
    expected = m(x, y)
    assert m(x.tolist(), y.tolist()) == expected
    assert m(x.astype(object), y) == expected


@each_measure
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda a: a.astype(np.complex128), "complex"),
        (lambda a: torch.from_numpy(a).to(torch.complex64), "complex"),
        (lambda a: a.astype(str), "cannot be cast"),
        (lambda a: np.array([["a"] * a.shape[1]] * a.shape[0], dtype=object), "cannot be cast"),
        (lambda a: a.astype("datetime64[s]"), "cannot be cast"),
    ],
    ids=["complex", "torch-complex", "str", "object-str", "datetime"],
)
def test_non_real_dtypes_are_refused(name, make, match):
    x, y = standard_pair()
    assert_refused(metrics.get(name), make(x.round()), y, match=match)
    assert_refused(metrics.get(name), x, make(y.round()), match=match)


@each_measure
@pytest.mark.parametrize(
    "make",
    [lambda a: a[:, 0], lambda a: np.float64(a[0, 0]), lambda a: torch.tensor(1.5)],
    ids=["1d", "0d", "torch-0d"],
)
def test_fewer_than_two_dimensions_are_refused(name, make):
    x, y = standard_pair()
    assert_refused(metrics.get(name), make(x), y, match="2-D")
    assert_refused(metrics.get(name), x, make(y), match="2-D")


@each_measure
def test_no_features_is_refused(name):
    x, y = standard_pair()
    assert_refused(metrics.get(name), x[:, :0], y, match="no features")


def _activations(seed: int, channels: int):
    """[n, c, h, w] activations with n = 40, h = w = 2 (flattened: 4 c features)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(40, channels, 2, 2)) + rng.normal(size=(1, channels, 1, 1))


def _by_convention(a: np.ndarray, conv: str) -> np.ndarray:
    """The conventions written out with numpy: flatten, positions as samples, global average pooling."""
    if conv == "flatten":
        return a.reshape(a.shape[0], -1)
    if conv == "positions":
        return np.transpose(a, (0, 2, 3, 1)).reshape(-1, a.shape[1])
    return a.mean(axis=(2, 3))


@each_measure
@pytest.mark.parametrize("conv", sorted(metrics.CONVENTIONS))
def test_activations_are_reshaped_by_the_convention(name, conv):
    m = metrics.get(name)
    x, y = _activations(3, 3), _activations(4, 4)
    y[:, :3] += x  # related, so that every measure is far from its degenerate values
    expected = m(_by_convention(x, conv), _by_convention(y, conv))
    # the same numbers in another memory layout may take another BLAS route: equal to rounding
    assert m(x, y, conv=conv) == pytest.approx(expected, rel=PLATFORM_RTOL)
    assert m(torch.from_numpy(x), torch.from_numpy(y), conv=conv) == pytest.approx(expected, rel=PLATFORM_RTOL)
    if conv == "flatten":
        assert m(x, y) == pytest.approx(expected, rel=PLATFORM_RTOL), "flatten is the default"


@pytest.mark.parametrize("conv", sorted(metrics.CONVENTIONS))
@pytest.mark.parametrize("shape", [(6, 3, 4, 5), (6, 3, 7), (6, 2, 3, 2, 2)], ids=["4d", "3d", "5d"])
def test_reshape_activations_numpy_and_torch(conv, shape):
    a = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    expected = (
        a.reshape(shape[0], -1)
        if conv == "flatten"
        else np.moveaxis(a, 1, -1).reshape(-1, shape[1])
        if conv == "positions"
        else a.reshape(shape[0], shape[1], -1).mean(-1)
    )
    np.testing.assert_array_equal(metrics.reshape_activations(a, conv), expected)
    np.testing.assert_array_equal(metrics.reshape_activations(torch.from_numpy(a), conv).numpy(), expected)
    two_d = a.reshape(shape[0], -1)
    assert metrics.reshape_activations(two_d, conv) is two_d


@each_measure
def test_unknown_convention_is_refused(name):
    x, y = _activations(5, 3), _activations(6, 3)
    assert_refused(metrics.get(name), x, y, conv="channels_last", match="conv")


@each_measure
def test_torch_and_numpy_give_the_same_value(name):
    m = metrics.get(name)
    x, y = standard_pair(7)
    expected = m(x, y)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    assert_close(m(tx, ty), expected, rtol=PLATFORM_RTOL, what="torch")
    assert_close(m(tx, y), expected, rtol=PLATFORM_RTOL, what="torch X, numpy Y")
    assert_close(m(x.astype(np.float32), ty.float()), m(x.astype(np.float32), y.astype(np.float32)), rtol=PLATFORM_RTOL)
    assert_close(m(np.asfortranarray(x), y[::-1][::-1]), expected, rtol=PLATFORM_RTOL, what="layouts")


@each_measure
def test_tensors_requiring_grad_are_accepted(name):
    x, y = standard_pair(8)
    tx = torch.from_numpy(x).requires_grad_(True)
    assert_close(metrics.get(name)(tx, y), metrics.get(name)(x, y), rtol=PLATFORM_RTOL, what="requires_grad")


@each_measure
def test_float32_opt_in_is_close_to_float64(name):
    m = metrics.get(name)
    x, y = standard_pair(9)
    value64, value32 = m(x, y), m(x, y, dtype="float32")
    assert isinstance(value32, float)
    assert abs(value32 - value64) < 1e-4, (value32, value64)


@each_measure
def test_unknown_dtype_and_parameter_are_refused(name):
    x, y = standard_pair()
    assert_refused(metrics.get(name), x, y, dtype="float16", match="dtype")
    assert_refused(metrics.get(name), x, y, match="unknown parameter", threshhold=0.9)


@each_measure
def test_inputs_are_not_modified(name):
    x, y = standard_pair(10)
    x_copy, y_copy = x.copy(), y.copy()
    tx = torch.from_numpy(x.copy())
    metrics.get(name)(x, y)
    metrics.get(name)(tx, y)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(y, y_copy)
    np.testing.assert_array_equal(tx.numpy(), x_copy)


@pytest.mark.parametrize(
    "name, params",
    [
        ("svcca", dict(threshold=0.0)),
        ("svcca", dict(threshold=1.5)),
        ("cka_rbf", dict(sigma_scale=0.0)),
        ("cka_rbf", dict(sigma_scale=-1.0)),
        ("knn_jaccard", dict(k=0)),
        ("knn_jaccard", dict(k=2.5)),
        ("knn_jaccard", dict(k=True)),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={p}" for k, p in v.items()),
)
def test_bad_parameter_values_are_refused(name, params):
    x, y = standard_pair()
    assert_refused(metrics.get(name), x, y, **params)


def test_rsa_refuses_constant_rows():
    """A sample with the same value in every feature has no correlation distance."""
    x, y = standard_pair()
    x[4] = 1.5
    assert_refused(metrics.get("rsa"), x, y, match="same value in every feature")


def test_standard_shape_fits_every_measure():
    n, p1, p2 = STANDARD_SHAPE
    for name in NAMES:
        m = metrics.get(name)
        assert n >= smallest_n(m) and min(p1, p2) >= min_features(m) and p1 + p2 < n - 1


def test_constant_check_looks_past_equal_first_and_last_rows():
    """The O(p) shortcut compares the first and last rows only; equal ones leave the decision to every
    column: varying in between is not constant, rounding-level spread is."""
    x = np.ones((6, 3))
    x[2, 1] = 2.0
    assert metrics.get("cka_linear")(x, np.random.default_rng(0).normal(size=(6, 2))) >= 0.0
    almost = np.ones((6, 3)) + np.finfo(float).eps * np.arange(6)[:, None]
    with pytest.raises(ValueError, match="constant"):
        metrics.get("cka_linear")(almost, np.random.default_rng(0).normal(size=(6, 2)))


def test_constant_check_decides_spreads_between_one_and_two_tolerances_by_every_column():
    """A spread of 12 eps (between the exact rule's 8 eps and the O(p) shortcut's 16 eps) is not constant."""
    spread = np.ones((6, 3)) + 12 * np.finfo(float).eps * np.arange(6)[:, None] / 5
    assert metrics.get("cka_linear")(spread, np.random.default_rng(0).normal(size=(6, 2))) >= 0.0


def test_finite_inputs_whose_column_sums_overflow_are_accepted():
    """The finiteness check's column sums overflow on finite entries near the largest float; the extremes
    then decide, and the input is finite."""
    x = np.random.default_rng(0).normal(size=(10, 3))
    x[:2, 0] = 1.5e308
    tx, _ = metrics.prepare_pair(x, x[:, :2])
    assert tx.shape == (10, 3)


def test_column_means_of_a_checked_input_follow_in_place_changes():
    """The column sums the edge check remembers serve the measure's means only while the tensor is unchanged."""
    from metrics._linalg import column_means

    x, y = standard_pair()
    means = x.mean(axis=0)
    tx, _ = metrics.prepare_pair(x, y)  # shares x's memory
    np.testing.assert_allclose(column_means(tx).numpy(), means, rtol=PLATFORM_RTOL)  # two summation orders
    tx.add_(1.0)
    np.testing.assert_allclose(column_means(tx).numpy(), means + 1.0, rtol=PLATFORM_RTOL)
