"""The contract every registered measure must meet (like scikit-learn's test_common), plugins included.

The list of measures comes from ``metrics.available()`` at collection time, so a newly registered measure,
built-in or installed through the ``stitchbench.metrics`` entry point, runs through every check of
``metrics.testing.check_measure`` with no test written for it; one whose declarations are wrong (an
invariance it lacks, a symmetry it lacks, bounds it leaves, bad input it accepts) fails, and so does a
built-in measure that declares no independent reference route (``reference_route``).
``test_plugin_distance_cosine`` comes from tests/plugins through the entry point (how measures are found:
test_metrics_discovery.py). The checks themselves are shown to catch broken measures in
test_metrics_testing.py; the hypothesis versions of the invariance, symmetry and bounds checks are in
test_metrics_properties.py. This file also tests the registry: names, declarations, result conversion and
bound snapping.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

import metrics
from metrics.testing import CHECKS, check_measure
from strategies import standard_pair

NAMES = metrics.available()
_data = standard_pair


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("name", NAMES)
def test_contract(name, check):
    """``metrics.testing.check_measure``, one check at a time so that a failure names its cell."""
    check_measure(name, [check])


@pytest.mark.parametrize("name", [n for n in NAMES if metrics.get(n).fn.__module__.startswith("metrics.")])
def test_every_builtin_measure_has_an_independent_reference_route(name):
    """Like scikit-learn's test_common failing an unclassified metric: a built-in measure (a module under
    metrics/) that declares no independent reference route has nothing to be checked against
    (test_metrics_reference.py compares every declared route with its measure)."""
    assert callable(metrics.get(name).info.reference_route), (
        f"{name} ({metrics.get(name).fn.__module__}) declares no independent reference route: define one in its "
        "module and declare it, @register(..., reference_route=route) (explicit matrices, a library or brute "
        "force, built from metrics._naive and libraries; never the measure's own helpers)"
    )


# ----------------------------------------------------------------------------------------------------
# The registry: names, declarations, errors
# ----------------------------------------------------------------------------------------------------
def test_available_is_sorted_and_includes_the_canonical_measures():
    canonical = {
        "cka_linear", "cka_linear_debiased", "cka_rbf", "cca_mean", "cca_mean_sq", "svcca", "pwcca",
        "procrustes", "nbs", "ols_r2", "rsa", "knn_jaccard",
    }  # fmt: skip
    assert NAMES == sorted(NAMES)
    assert canonical <= set(NAMES)


def test_unknown_name_lists_close_names():
    with pytest.raises(metrics.UnknownMetricError) as info:
        metrics.get("cka_lineer")
    assert isinstance(info.value, KeyError)
    assert "did you mean" in str(info.value) and "cka_linear" in str(info.value)
    assert "cka_linear_debiased" in str(info.value)


def test_duplicate_registration_is_refused(isolated_registry):
    original = metrics.get("cka_linear")
    with pytest.raises(ValueError, match="already registered"):
        metrics.register("cka_linear", symmetric=True, bounds=(0.0, 1.0), reference="x")(lambda x, y: 0.0)
    assert metrics.get("cka_linear") is original


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(invariances={"rotation"}), "unknown invariance"),
        (dict(x_invariances={"rotation"}), "unknown invariance"),
        (dict(bounds=(1.0, 0.0)), "low < high"),
        (dict(bounds=(0.0, math.nan)), "low < high"),
        (dict(bounds=(math.inf, math.inf)), "low < high"),
        (dict(bounds=("zero", 1.0)), "two numbers"),
        (dict(backend="jax"), "backend"),
        (dict(needs_n_above_p="y"), "needs_n_above_p"),
        (dict(speed_bound=("XtX", "X^T X")), r"unknown speed_bound primitive\(s\) \['X\^T X'\]"),
        (dict(speed_bound="XXX"), "unknown speed_bound"),
        (dict(min_features=0), "min_features must be an integer >= 1"),
        (dict(min_features=2.5), "min_features"),
        (dict(min_samples=1), "min_samples must be an integer >= 2"),
        (dict(streaming="cka_linear"), "streaming must be a formula"),
        (dict(reference_route="cka_linear"), "reference_route must be a function"),
        (dict(reference=None), "reference must be a string"),
    ],
    ids=lambda value: None if isinstance(value, str) else "-".join(f"{k}={v}" for k, v in value.items()),
)
def test_invalid_declarations_are_refused_naming_the_measure(isolated_registry, bad, match):
    declared = dict(symmetric=True, bounds=(0.0, 1.0), reference="x") | bad
    with pytest.raises(ValueError, match=match) as info:
        metrics.register("test_invalid_declaration", **declared)(lambda x, y: 0.0)
    assert str(info.value).startswith("register('test_invalid_declaration'): ")
    assert "test_invalid_declaration" not in metrics.available()


def test_optional_and_new_declarations_are_stored(isolated_registry):
    """No reference, an unbounded side, minimum features, a streaming formula and a speed bound."""

    def formula(derived):
        return 0.0

    m = metrics.register(
        "test_declarations", symmetric=False, bounds=(0.0, math.inf), higher_is_more_similar=False,
        min_features=3, streaming=formula, speed_bound=("sqdist(X)", "sqdist(Y)"), order_dependent=True,
    )(lambda x, y: float(np.linalg.norm(x[:, :3] - y[:, :3])))  # fmt: skip
    info = m.info
    assert info.reference == "" and info.bounds == (0.0, math.inf)
    assert (info.min_features, info.streaming, info.speed_bound, info.order_dependent) == (
        3, formula, ("sqdist(X)", "sqdist(Y)"), True
    )
    x, y = _data(7)
    assert m(x, y) > 1.0  # no clipping at an infinite bound
    with pytest.raises(ValueError, match=r"test_declarations: X has 2 feature\(s\).*at least 3"):
        m(x[:, :2], y)


def test_every_declared_speed_bound_and_formula_is_usable():
    """The twelve first measures declare what test_speed.py and SufficientStats used to look up by name."""
    from metrics._bounds import PRIMITIVES
    from metrics.streaming import STREAMABLE

    linear = {"cka_linear", "cka_linear_debiased", "cca_mean", "cca_mean_sq", "svcca", "pwcca", "procrustes",
              "nbs", "ols_r2"}  # fmt: skip
    assert linear <= set(STREAMABLE)
    for name in linear | {"rsa", "cka_rbf", "knn_jaccard"}:
        bound = metrics.get(name).info.speed_bound
        assert bound and set(bound) <= PRIMITIVES.keys(), name
    assert metrics.get("rsa").info.min_features == 3


# ----------------------------------------------------------------------------------------------------
# Bound snapping: rounding beyond a finite bound is returned at the bound; more is an error
# ----------------------------------------------------------------------------------------------------
def _returning(value, bounds=(0.0, 1.0), backend="numpy"):
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"test_returns_{value!r}_{bounds}_{backend}")  # a registrable name
    return metrics.register(name, symmetric=True, bounds=bounds, backend=backend)(lambda x, y: value)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_rounding_beyond_a_finite_bound_is_snapped_to_the_bound(isolated_registry, backend):
    x, y = _data(8)  # n = 40: the tolerance is 64 sqrt(40) eps ~ 9e-14 relative
    eps = np.finfo(np.float64).eps
    assert _returning(1 + 4 * eps, backend=backend)(x, y) == 1.0
    assert _returning(-1e-15, backend=backend)(x, y) == 0.0
    assert _returning(-3 - 2e-14, bounds=(-3.0, 5.0), backend=backend)(x, y) == -3.0
    assert _returning(0.999, backend=backend)(x, y) == 0.999  # inside: untouched


@pytest.mark.parametrize("value, bounds", [(1 + 1e-9, (0.0, 1.0)), (-1e-6, (0.0, 1.0)), (-2.0, (0.0, math.inf))])
def test_a_value_further_beyond_a_bound_is_a_measure_error(isolated_registry, value, bounds):
    m = _returning(value, bounds)
    with pytest.raises(metrics.MeasureError, match="outside its declared bounds") as info:
        m(*_data(8))
    assert str(info.value).startswith(f"{m.info.name}: ")


def test_snapping_tolerance_follows_the_dtype_and_the_sample_count():
    from metrics._registry import SNAP_ULPS, snap_tolerance

    eps64, eps32 = np.finfo(np.float64).eps, np.finfo(np.float32).eps
    assert snap_tolerance(1.0) == SNAP_ULPS * eps64
    assert snap_tolerance(1.0, np.float32, 100) == pytest.approx(SNAP_ULPS * 10 * eps32)
    assert snap_tolerance(-50.0, n=4) == pytest.approx(SNAP_ULPS * 2 * 50 * eps64)


@pytest.mark.parametrize("name", ["cca_mean", "cca_mean_sq", "svcca", "procrustes", "ols_r2"])
def test_identical_inputs_never_exceed_the_upper_bound(name):
    """cca_mean of X with itself gave 1 + 9e-16 before the registry snapped rounding to the bound."""
    rng = np.random.default_rng(9)
    for n, p in [(50, 5), (300, 40), (2000, 60)]:
        x = rng.normal(size=(n, p)) * rng.uniform(0.1, 10, size=p) + 5
        for y in (x, 3 * x - 2):
            assert metrics.get(name)(x, y) <= 1.0


@pytest.mark.parametrize(
    "result, match",
    [
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        (np.array([0.5, 0.5]), "shape"),
        ("0.5x", "not a scalar"),
        (None, "not a scalar"),
    ],
    ids=["nan", "inf", "vector", "string", "none"],
)
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_non_finite_or_non_scalar_result_is_a_measure_error(isolated_registry, result, match, backend):
    import torch

    value = torch.as_tensor(result) if backend == "torch" and isinstance(result, (float, np.ndarray)) else result
    name = f"test_returns_{type(result).__name__}_{backend}"
    m = metrics.register(name, symmetric=True, bounds=(0.0, 1.0), reference="none", backend=backend)(
        lambda x, y: value
    )
    with pytest.raises(metrics.MeasureError, match=match) as info:
        m(*_data())
    assert str(info.value).startswith(f"{name}: ")
