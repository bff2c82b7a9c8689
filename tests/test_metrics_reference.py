"""Every measure against the independent second route to the same number that it declares in its
registration (``reference_route``), in float64 to 1e-8 relative; that route's independence (it uses
nothing the measure computes with, and the measure never calls it); second and third routes of
tests/reference.py; closed forms the mathematics fixes."""
from __future__ import annotations

import dis
import types

import numpy as np
import pytest

import metrics
import metrics._linalg as linalg
import reference
from metrics import _naive
from metrics.cka import _feature_space_is_cheaper
from reference import route
from strategies import (
    PLATFORM_RTOL,
    assert_close,
    correlated_pair,
    independent_pair,
    min_features,
    random_invertible,
    random_orthogonal,
)

#: (n, p1, p2): narrow, unequal widths both ways, one feature, and wide (p > n) where the measure allows.
NARROW = [(60, 7, 7), (80, 12, 5), (50, 3, 20), (40, 1, 6)]
WIDE = [(30, 50, 80), (25, 120, 4)]


def _pair(seed: int, n: int, p1: int, p2: int):
    return correlated_pair(np.random.default_rng(seed), n, p1, p2)


def _cases(name: str):
    m = metrics.get(name)
    shapes = NARROW + ([] if m.info.needs_n_above_p else WIDE)
    shapes = [s for s in shapes if min(s[1:]) >= min_features(m)]
    return [pytest.param(name, shape, id=f"{name}-n{shape[0]}-p{shape[1]}-p{shape[2]}") for shape in shapes]


#: Every registered measure that declares a reference route, plugins included (a built-in must:
#: test_metrics_contract.py).
ROUTED = [name for name in metrics.available() if metrics.get(name).info.reference_route is not None]


@pytest.mark.parametrize("name, shape", [case for name in ROUTED for case in _cases(name)])
def test_measure_matches_reference(name, shape):
    x, y = _pair(sum(shape), *shape)
    assert_close(metrics.get(name)(x, y), route(name)(x, y), what=name)


# ----------------------------------------------------------------------------------------------------
# The routes are independent: a route uses only metrics._naive and libraries; a measure never reaches a
# route or metrics._naive. (A route that called the measure would compare a function with itself.)
# ----------------------------------------------------------------------------------------------------
NAIVE = "metrics._naive"


def _package_module(value) -> str | None:
    """The module of ``metrics`` that ``value`` (a module, function, class or Metric) comes from, else None."""
    if isinstance(value, metrics.Metric):
        value = value.fn
    name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
    return name if isinstance(name, str) and (name == "metrics" or name.startswith("metrics.")) else None


def _loads(fn) -> tuple[dict, set[str]]:
    """({name: value} of the globals that ``fn``'s code (nested functions included) loads, with the values of
    the names it reads from a module of the package; the modules it imports inside its body)."""
    codes, values, imports = [fn.__code__], {}, set()
    while codes:
        code = codes.pop()
        codes += [const for const in code.co_consts if isinstance(const, types.CodeType)]
        for instruction in dis.get_instructions(code):
            if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME") and instruction.argval in fn.__globals__:
                values[instruction.argval] = fn.__globals__[instruction.argval]
            elif instruction.opname == "IMPORT_NAME":
                imports.add(instruction.argval)
        for module in [v for v in values.values() if isinstance(v, types.ModuleType) and _package_module(v)]:
            values |= {f"{module.__name__}.{a}": getattr(module, a) for a in code.co_names if hasattr(module, a)}
    return values, imports


def _measure_side(m: metrics.Metric) -> dict:
    """Everything of the package or of the measure's own module that the measure's function and its
    streaming formula reach, following such functions (and the names they read from the package's
    modules) transitively."""
    home = m.fn.__module__
    reached, todo = {}, [m.fn] + ([m.info.streaming] if m.info.streaming else [])
    while todo:
        fn = todo.pop()
        for name, value in _loads(fn)[0].items():
            value = value.fn if isinstance(value, metrics.Metric) else value
            if (_package_module(value) or getattr(value, "__module__", None) == home) and name not in reached:
                reached[name] = value
                if isinstance(value, types.FunctionType):
                    todo.append(value)
    return reached


ROUTES = {metrics.get(name).info.reference_route for name in ROUTED}


@pytest.mark.parametrize("name", ROUTED)
def test_reference_route_uses_nothing_the_measure_computes_with(name):
    m = metrics.get(name)
    values, imports = _loads(m.info.reference_route)
    used = {key: _package_module(value) for key, value in values.items() if _package_module(value)}
    used |= {module: module for module in imports if _package_module(types.ModuleType(module))}
    foreign = {key: module for key, module in used.items() if module != NAIVE}
    assert not foreign, f"{name}'s reference route uses {foreign}: only {NAIVE} and libraries (numpy, scipy...)"
    reached = _measure_side(m).items()
    assert not [key for key, value in reached if value in ROUTES or _package_module(value) == NAIVE], (
        f"{name} reaches a reference route or {NAIVE}: the measure must never compute with them"
    )


def test_the_naive_pieces_import_nothing_from_the_package():
    assert not [key for key, value in vars(_naive).items() if _package_module(value) not in (None, NAIVE)]


SCRATCH_ROUTES = '''
from metrics import register
from metrics._linalg import center


def route_of_helpers(x, y):
    return float(center(x).sum())


@register("test_calls_its_route", symmetric=True, bounds=(0.0, 1.0), reference_route=route_of_helpers)
def calls_its_route(x, y):
    """Compares nothing."""
    return route_of_helpers(x, y)
'''


def test_independence_scan_catches_a_route_of_helpers_and_a_measure_that_calls_its_route(isolated_registry):
    """The two checks above fail a route that uses the measure's helpers (here metrics._linalg.center) and
    a measure that calls its route; and they see what a real measure calls."""
    module = types.ModuleType("scratch_routes")
    exec(SCRATCH_ROUTES, vars(module))
    assert _package_module(_loads(module.route_of_helpers)[0]["center"]) == "metrics._linalg"
    assert module.route_of_helpers in _measure_side(module.calls_its_route).values()
    assert linalg.center_unit in _measure_side(metrics.get("cka_linear")).values()


# ----------------------------------------------------------------------------------------------------
# CKA: both internal paths, both debiased formulations
# ----------------------------------------------------------------------------------------------------
#: The implementation works in feature space when p1, p2 << n and with n x n Gram matrices otherwise.
FEATURE_PATH = [(200, 5, 9), (120, 30, 2)]
GRAM_PATH = [(20, 90, 150), (40, 200, 3)]
BOTH_PATHS = [(s, True) for s in FEATURE_PATH] + [(s, False) for s in GRAM_PATH]


@pytest.mark.parametrize("shape, feature_space", BOTH_PATHS)
def test_linear_cka_paths_agree_with_feature_and_gram_definitions(shape, feature_space):
    assert _feature_space_is_cheaper(*shape) is feature_space, "the shape no longer exercises the intended path"
    x, y = _pair(1, *shape)
    value = metrics.get("cka_linear")(x, y)
    assert_close(value, reference.cka_linear_features(x, y), what="feature space")
    assert_close(value, route("cka_linear")(x, y), what="Gram space")


@pytest.mark.parametrize("shape, feature_space", BOTH_PATHS)
def test_debiased_cka_paths_agree_with_song_and_u_centering(shape, feature_space):
    assert _feature_space_is_cheaper(*shape) is feature_space, "the shape no longer exercises the intended path"
    x, y = _pair(2, *shape)
    value = metrics.get("cka_linear_debiased")(x, y)
    assert_close(value, route("cka_linear_debiased")(x, y), what="Song eq. 5, centered kernels")
    assert_close(value, reference.cka_debiased_raw_kernels(x, y), what="raw kernels")
    assert_close(value, reference.cka_debiased_u_centering(x, y), what="U-centering")


def test_song_estimator_equals_u_centered_inner_product():
    rng = np.random.default_rng(3)
    k, l = (_naive.linear_gram(rng.normal(size=(15, 4))) for _ in range(2))
    assert_close(_naive.hsic_unbiased_song(k, l), _naive.u_inner(k, l), what="HSIC_u")


@pytest.mark.parametrize("sigma_scale", [0.4, 0.8, 2.0])
def test_rbf_cka_bandwidth_parameter(sigma_scale):
    x, y = _pair(4, 70, 6, 9)
    value = metrics.get("cka_rbf")(x, y, sigma_scale=sigma_scale)
    assert_close(value, route("cka_rbf")(x, y, sigma_scale), what=f"sigma_scale={sigma_scale}")


def test_rbf_median_is_over_distinct_pairs():
    """With duplicated samples many distances are zero; the median over i != j still counts them once
    per ordered pair, and never the n zeros of the diagonal."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=(12, 4))
    x = np.vstack([base, base[:5]])  # five duplicated rows: zero off-diagonal distances
    y = rng.normal(size=(17, 3))
    assert_close(metrics.get("cka_rbf")(x, y), route("cka_rbf")(x, y), what="cka_rbf with duplicates")


# ----------------------------------------------------------------------------------------------------
# CCA family
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(50, 4, 9), (90, 20, 20), (40, 15, 2)])
def test_canonical_correlations_qr_route_matches_whitened_cross_covariance(shape):
    x, y = _pair(6, *shape)
    rho = _naive.canonical_correlations(x, y)
    assert_close(metrics.get("cca_mean")(x, y), float(rho.mean()), what="cca_mean")
    assert_close(metrics.get("cca_mean_sq")(x, y), float((rho**2).mean()), what="cca_mean_sq")


def _anisotropic(rng, n, p, decay):
    """Data whose singular values decay geometrically by ``decay`` (so a 99 % truncation bites)."""
    return (rng.normal(size=(n, p)) * decay ** np.arange(p)) @ random_orthogonal(rng, p) + rng.normal(size=p)


@pytest.mark.parametrize("threshold", [0.5, 0.9, 0.99, 1.0])
def test_svcca_matches_explicit_truncation(threshold):
    rng = np.random.default_rng(7)
    x, y = _anisotropic(rng, 120, 14, 0.6), _anisotropic(rng, 120, 9, 0.8)
    y = y + 0.5 * x[:, :9]
    kept_x = _naive.svd_truncation_count(np.linalg.svd(_naive.centered(x), compute_uv=False), threshold)
    if threshold < 1:
        assert kept_x < x.shape[1], "the truncation does not bite: the test would not tell"
    value = metrics.get("svcca")(x, y, threshold=threshold)
    assert_close(value, route("svcca")(x, y, threshold), what=f"svcca threshold={threshold}")


@pytest.mark.parametrize("shape", [(60, 5, 12), (60, 12, 5), (45, 8, 8)])
def test_pwcca_matches_morcos_recipe(shape):
    x, y = _pair(8, *shape)
    assert_close(metrics.get("pwcca")(x, y), route("pwcca")(x, y), what="pwcca")


# ----------------------------------------------------------------------------------------------------
# Shape measures, regression, RSA, neighbours
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(40, 6, 6), (60, 3, 11), (20, 35, 50)])
def test_nbs_from_gram_square_roots_equals_procrustes_from_orthogonal_solution(shape):
    x, y = _pair(9, *shape)
    nbs, procrustes = metrics.get("nbs")(x, y), metrics.get("procrustes")(x, y)
    assert_close(nbs, route("nbs")(x, y), what="nbs vs sqrtm route")
    assert_close(procrustes, route("procrustes")(x, y), what="procrustes vs orthogonal_procrustes")
    assert_close(nbs, procrustes, rtol=PLATFORM_RTOL, what="nbs == procrustes for linear kernels")


@pytest.mark.parametrize("shape", [(50, 10, 3), (50, 3, 10), (200, 40, 40)])
def test_ols_r2_matches_lstsq_with_intercept(shape):
    x, y = _pair(10, *shape)
    assert_close(metrics.get("ols_r2")(x, y), route("ols_r2")(x, y), what="ols_r2")


# ----------------------------------------------------------------------------------------------------
# Closed forms
# ----------------------------------------------------------------------------------------------------
SIMILARITY_TRANSFORM_INVARIANT = [
    name
    for name in metrics.available()
    if {"orthogonal", "isotropic_scaling", "translation"} <= metrics.get(name).info.invariances
]


@pytest.mark.parametrize("name", SIMILARITY_TRANSFORM_INVARIANT)
def test_orthogonal_copy_scaled_and_shifted_gives_the_maximum(name):
    rng = np.random.default_rng(13)
    x = rng.normal(size=(60, 8))
    copy = 3.7 * x @ random_orthogonal(rng, 8) + 5.0
    info = metrics.get(name).info
    most_similar = info.bounds[1] if info.higher_is_more_similar else info.bounds[0]  # a distance: 0
    assert_close(metrics.get(name)(x, copy), most_similar, rtol=1e-10, what=name)


@pytest.mark.parametrize("name", ["cca_mean", "cca_mean_sq", "ols_r2", "pwcca"])
def test_invertible_linear_map_gives_perfect_correlation(name):
    rng = np.random.default_rng(14)
    x = rng.normal(size=(60, 8))
    mapped = x @ random_invertible(rng, 8, 1e3) - 2.0
    assert_close(metrics.get(name)(x, mapped), 1.0, rtol=1e-10, what=f"{name}(X, XA)")
    assert_close(metrics.get(name)(mapped, x), 1.0, rtol=1e-10, what=f"{name}(XA, X)")


@pytest.mark.parametrize("n, p", [(256, 64), (128, 512)])
def test_biased_cka_of_independent_data_is_about_p_over_n_plus_p(n, p):
    m = metrics.get("cka_linear")
    values = [m(*independent_pair(np.random.default_rng(seed), n, p, p)) for seed in range(8)]
    assert abs(np.mean(values) - p / (n + p)) < 0.01, values


@pytest.mark.parametrize("n, p", [(256, 64), (128, 512)])
def test_debiased_cka_of_independent_data_is_about_zero(n, p):
    m = metrics.get("cka_linear_debiased")
    values = [m(*independent_pair(np.random.default_rng(seed), n, p, p)) for seed in range(8)]
    assert abs(np.mean(values)) < 0.01, values
    assert min(values) < 0 < max(values), "an unbiased estimator of 0 lands on both sides (never clipped)"


def test_cca_of_independent_data_is_near_its_chance_level_not_one():
    """With p well below n, CCA of independent data is far from 1 (p >= n - 1 is refused instead)."""
    x, y = independent_pair(np.random.default_rng(15), 300, 5, 5)
    assert metrics.get("cca_mean")(x, y) < 0.2


# ----------------------------------------------------------------------------------------------------
# Both CPU runtimes: large products and reductions go through numpy, small ones through torch
# ----------------------------------------------------------------------------------------------------
@pytest.fixture
def numpy_path_forced(monkeypatch) -> list[bool]:
    """The numpy route of ``metrics._linalg`` (taken from 2^28 multiply-adds on) forced on small data; the
    list records each dispatch decision, so a test sees whether a measure's products went through it."""
    monkeypatch.setattr(linalg, "NUMPY_MIN_MULTIPLY_ADDS", 0)
    monkeypatch.setattr(linalg, "NUMPY_MIN_ENTRIES", 0)
    taken: list[bool] = []
    original = linalg._numpy_path
    monkeypatch.setattr(linalg, "_numpy_path", lambda *args: taken.append(original(*args)) or taken[-1])
    return taken


@pytest.mark.parametrize("name", ROUTED)
def test_numpy_path_for_large_operands_matches_reference(name, numpy_path_forced):
    """What the measure calls decides whether there is a numpy route to check: a measure whose products
    do not go through ``metrics._linalg``'s dispatch (two means, QR and SVD only, numpy or scipy
    throughout) is skipped, saying so; its one route is checked by test_measure_matches_reference."""
    shape = (70, 9, 6) if min_features(metrics.get(name)) <= 6 else (70, 9, 9)
    x, y = _pair(5, *shape)
    value = metrics.get(name)(x, y)
    if not any(numpy_path_forced):
        pytest.skip(f"{name} takes no product through metrics._linalg's dispatch")
    assert_close(value, route(name)(x, y), what=name)


def test_forcing_the_numpy_path_reaches_the_products_of_cka(numpy_path_forced):
    """The forcing above works (else every measure above would be skipped): cka_linear's Gram and cross
    products (metrics._linalg) take the numpy route."""
    metrics.get("cka_linear")(*_pair(5, 70, 9, 6))
    assert numpy_path_forced and all(numpy_path_forced)
