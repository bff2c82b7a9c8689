"""The contract every registered measure must meet (like scikit-learn's test_common), plugins included.

The list of measures comes from ``metrics.available()`` at collection time, so a newly registered measure,
built-in or installed through the ``stitchbench.metrics`` entry point, runs through every check here with
no test written for it; one whose declarations are wrong (an invariance it lacks, a symmetry it lacks,
bounds it leaves) fails. ``test_plugin_distance_cosine`` comes from tests/plugins through the entry point.
"""
from __future__ import annotations

import importlib.metadata
import math
import sys
import textwrap

import numpy as np
import pytest

import metrics
from strategies import (
    PLUGIN_MEASURE,
    RTOL,
    SIDES,
    STANDARD_SHAPE,
    TRANSFORMS,
    VIOLATION,
    apply_transform,
    assert_close,
    assert_in_bounds,
    assert_refused,
    on_side,
    relative_difference,
    standard_pair,
    violation_case,
)

NAMES = metrics.available()
SHAPE = STANDARD_SHAPE
_data = standard_pair


# ----------------------------------------------------------------------------------------------------
# The checks, as functions: the per-measure tests run them, and the meta-tests show that they can fail.
# ----------------------------------------------------------------------------------------------------
def check_info(m) -> None:
    info = m.info
    assert isinstance(info, metrics.MetricInfo)
    assert isinstance(info.symmetric, bool) and isinstance(info.higher_is_more_similar, bool)
    low, high = info.bounds
    assert isinstance(low, float) and isinstance(high, float) and math.isfinite(low) and math.isfinite(high)
    assert low < high, f"bounds {info.bounds}"
    assert isinstance(info.reference, str) and info.reference.strip(), "no reference (paper) given"
    assert isinstance(info.summary, str) and info.summary.strip(), "no summary: give the function a docstring"
    for declared in (info.invariances, info.x_invariances, info.y_invariances):
        assert declared <= metrics.INVARIANCES.keys(), f"outside the vocabulary: {sorted(declared)}"
        assert metrics.closure(declared) == declared, "not closed under containment"
    assert info.invariances <= info.x_invariances and info.invariances <= info.y_invariances
    if info.symmetric:
        assert info.x_invariances == info.y_invariances == info.invariances, "a symmetric measure has one set"
    assert info.backend in ("numpy", "torch")
    assert info.needs_n_above_p in (None, "x", "both")
    assert isinstance(info.min_samples, int) and info.min_samples >= 2


def check_returns_float(m) -> None:
    assert type(m(*_data())) is float


def check_symmetry(m) -> None:
    x, y = _data(1)
    forward, backward = m(x, y), m(y, x)
    if m.info.symmetric:
        assert_close(forward, backward, RTOL, what=f"{m.info.name} symmetry")
    else:
        assert relative_difference(forward, backward) > VIOLATION, "declared asymmetric, but m(X, Y) == m(Y, X)"


def check_bounds(m) -> None:
    x, y = _data(2)
    rng = np.random.default_rng(2)
    for a, b in [(x, y), (x, x), (x, -x), (x, rng.normal(size=y.shape)), (rng.normal(size=x.shape), y)]:
        assert_in_bounds(m, m(a, b))


def check_invariances(m) -> None:
    """Each declared (transformation, side) holds to 1e-8; each undeclared one moves the value."""
    for transform in TRANSFORMS:
        for side in SIDES:
            rng = np.random.default_rng(3)
            if m.info.invariant_to(transform, side):
                x, y = _data(3)
                before = m(x, y)
                after = m(*on_side(side, lambda a: apply_transform(transform, a, rng), x, y))
                assert_close(after, before, RTOL, what=f"declared invariance {transform} of {side.upper()}")
            else:
                x, y, t = violation_case(transform, side, rng, *SHAPE)
                after = m(*on_side(side, t, x, y))
                assert relative_difference(m(x, y), after) > VIOLATION, (
                    f"undeclared invariance {transform} of {side.upper()} holds: declare it"
                )


def check_bad_input(m) -> None:
    x, y = _data(4)
    with_nan = x.copy()
    with_nan[3, 1] = np.nan
    assert_refused(m, with_nan, y, match="NaN")
    assert_refused(m, x, y[:-1], match="same samples")
    assert_refused(m, x, np.full_like(y, 2.5), match="constant")
    assert_refused(m, x, y, match="unknown parameter", no_such_parameter=1)


CHECKS = {
    "info": check_info,
    "returns_float": check_returns_float,
    "symmetry": check_symmetry,
    "bounds": check_bounds,
    "invariances": check_invariances,
    "bad_input": check_bad_input,
}


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("name", NAMES)
def test_contract(name, check):
    CHECKS[check](metrics.get(name))


@pytest.mark.parametrize("name", NAMES)
def test_identical_inputs_give_the_maximum(name):
    m = metrics.get(name)
    x = _data(5)[0]
    assert_close(m(x, x), m.info.bounds[1], rtol=1e-10, what=f"{name}(X, X)")


# ----------------------------------------------------------------------------------------------------
# The checks can fail: measures with wrong declarations are caught
# ----------------------------------------------------------------------------------------------------
def _raw_cosine(x, y):
    """Cosine of the uncentered linear kernels (not invariant to translation)."""
    k, l = x @ x.T, y @ y.T
    return float(np.sum(k * l) / (np.linalg.norm(k) * np.linalg.norm(l)))


def _explained_fraction(x, y):
    """Fraction of Y's variance that X's column space explains (directional)."""
    q, _ = np.linalg.qr(x - x.mean(0))
    yc = y - y.mean(0)
    return float(np.sum((q.T @ yc) ** 2) / np.sum(yc**2))


def _scaled_cosine(x, y):
    """Cosine of centered kernels, doubled (leaves [0, 1])."""
    k, l = (x - x.mean(0)) @ (x - x.mean(0)).T, (y - y.mean(0)) @ (y - y.mean(0)).T
    return 2 * float(np.sum(k * l) / (np.linalg.norm(k) * np.linalg.norm(l)))


LIARS = [
    pytest.param(
        "invariances", _raw_cosine, {"orthogonal", "isotropic_scaling", "translation"}, True,
        "declared invariance translation", id="claims-translation",
    ),
    pytest.param(
        "invariances", _raw_cosine, {"orthogonal"}, True, "undeclared invariance isotropic_scaling",
        id="forgets-isotropic-scaling",
    ),
    pytest.param("symmetry", _explained_fraction, {"translation"}, True, "symmetry", id="claims-symmetry"),
    pytest.param(
        "symmetry", _scaled_cosine, {"orthogonal"}, False, "declared asymmetric", id="claims-asymmetry",
    ),
    pytest.param("bounds", _scaled_cosine, {"orthogonal"}, True, "outside", id="leaves-bounds"),
]  # fmt: skip


@pytest.mark.parametrize("check, fn, invariances, symmetric, match", LIARS)
def test_contract_catches_wrong_declarations(isolated_registry, check, fn, invariances, symmetric, match):
    name = f"test_liar_{check}_{fn.__name__}"
    m = metrics.register(
        name, symmetric=symmetric, invariances=invariances, bounds=(0.0, 1.0), reference="none (test)"
    )(fn)
    with pytest.raises(AssertionError, match=match):
        CHECKS[check](m)


def test_info_check_catches_missing_summary(isolated_registry):
    m = metrics.register("test_no_docstring", symmetric=True, bounds=(0.0, 1.0), reference="none")(
        lambda x, y: 0.5
    )
    with pytest.raises(AssertionError, match="summary"):
        check_info(m)


# ----------------------------------------------------------------------------------------------------
# The registry: plugins through entry points, names, errors
# ----------------------------------------------------------------------------------------------------
def test_plugin_registered_through_its_entry_point():
    entries = importlib.metadata.entry_points(group=metrics.ENTRY_POINT_GROUP)
    assert "stitchbench_testplugin" in {entry.value for entry in entries}
    assert PLUGIN_MEASURE in NAMES
    assert metrics.get(PLUGIN_MEASURE).fn.__module__ == "stitchbench_testplugin"
    assert not metrics.load_errors()


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
    "bad",
    [
        dict(invariances={"rotation"}),
        dict(bounds=(1.0, 0.0)),
        dict(backend="jax"),
        dict(needs_n_above_p="y"),
    ],
    ids=["unknown-invariance", "empty-bounds", "unknown-backend", "bad-needs_n_above_p"],
)
def test_invalid_declarations_are_refused(isolated_registry, bad):
    declared = dict(symmetric=True, bounds=(0.0, 1.0), reference="x") | bad
    with pytest.raises(ValueError):
        metrics.register("test_invalid_declaration", **declared)(lambda x, y: 0.0)
    assert "test_invalid_declaration" not in metrics.available()


def _write_distribution(root, dist: str, entries: dict[str, str], modules: dict[str, str]) -> None:
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "\n".join(f"{key} = {value}" for key, value in entries.items())
    (info / "entry_points.txt").write_text(f"[{metrics.ENTRY_POINT_GROUP}]\n{lines}\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


def test_broken_plugin_is_recorded_and_does_not_break_the_others(isolated_registry, tmp_path, monkeypatch):
    _write_distribution(
        tmp_path,
        "stitchbench_tmpplugins",
        {"broken": "stitchbench_tmp_broken", "good": "stitchbench_tmp_good"},
        {
            "stitchbench_tmp_broken": "raise RuntimeError('this plugin is broken on purpose')\n",
            "stitchbench_tmp_good": '''
                from metrics import register

                @register("test_tmp_good", symmetric=True, invariances={"isotropic_scaling"},
                          bounds=(0.0, 1.0), reference="none (test)")
                def good(x, y):
                    """A constant."""
                    return 0.5
            ''',
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in ("stitchbench_tmp_broken", "stitchbench_tmp_good"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.warns(UserWarning, match="could not load measure plugin"):
        names = metrics.discover()
    errors = metrics.load_errors()
    assert errors == {"broken = stitchbench_tmp_broken": "RuntimeError: this plugin is broken on purpose"}
    assert "test_tmp_good" in names and set(NAMES) <= set(names)
    x, y = _data(6)
    assert metrics.get("test_tmp_good")(x, y) == 0.5
    assert_close(metrics.get("cka_linear")(x, y), metrics.get("cka_linear")(x, y))


def test_plugin_registering_a_taken_name_is_a_load_error(isolated_registry, tmp_path, monkeypatch):
    _write_distribution(
        tmp_path,
        "stitchbench_tmpduplicate",
        {"duplicate": "stitchbench_tmp_duplicate"},
        {
            "stitchbench_tmp_duplicate": '''
                from metrics import register

                @register("cka_linear", symmetric=True, bounds=(0.0, 1.0), reference="impostor")
                def impostor(x, y):
                    """Not CKA."""
                    return 1.0
            '''
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "stitchbench_tmp_duplicate", raising=False)
    with pytest.warns(UserWarning):
        metrics.discover()
    assert "already registered" in metrics.load_errors()["duplicate = stitchbench_tmp_duplicate"]
    assert metrics.get("cka_linear").info.reference != "impostor"


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
