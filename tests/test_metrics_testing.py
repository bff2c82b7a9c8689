"""``metrics.testing.check_measure`` catches broken measures, and each failure names the measure and the
check that caught it; a correct measure (built-in or a plugin written here) passes."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import metrics
from metrics import testing
from metrics.testing import CHECKS, ContractError, check_measure


def _centered_gram(a):
    """Xc Xc^T of Xc scaled to a largest entry of 1 (else its squares overflow at the contract's 1e150)."""
    a = a - a.mean(0)
    a = a / np.abs(a).max()
    return a @ a.T


def unscaled_centered_cosine(x, y):
    """Linear CKA from the raw centered kernels: the fourth powers underflow at small scales (0 / 0)
    and overflow at large ones."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    with np.errstate(all="ignore"):
        return _kernel_cosine(xc @ xc.T, yc @ yc.T)


def _kernel_cosine(k, l):
    return float(np.sum(k * l) / (np.linalg.norm(k) * np.linalg.norm(l)))


def raw_cosine(x, y):
    """Cosine of the uncentered linear kernels (not invariant to translation)."""
    return _kernel_cosine(x @ x.T, y @ y.T)


def centered_cosine(x, y):
    """Cosine of the centered linear kernels: linear CKA (a correct measure)."""
    return _kernel_cosine(_centered_gram(x), _centered_gram(y))


def explained_fraction(x, y):
    """Fraction of Y's variance that X's column space explains (directional)."""
    q, _ = np.linalg.qr(x - x.mean(0))
    yc = y - y.mean(0)
    return float(np.sum((q.T @ yc) ** 2) / np.sum(yc**2))


def doubled_cosine(x, y):
    """Cosine of centered kernels, doubled (leaves [0, 1])."""
    return 2 * centered_cosine(x, y)


def one_minus_cosine(x, y):
    """1 - linear CKA: a dissimilarity (declared below as a similarity: the wrong orientation)."""
    return 1 - centered_cosine(x, y)


def mean_abs_cosine_of_first_neighbour(x, y, k: int = 3):
    """Broken on purpose: no check of n >= k + 2, so n = k + 1 gives a NaN (0 / 0)."""
    n = x.shape[0]
    kept = n - k - 1  # 0 at n = k + 1
    return centered_cosine(x[:kept], y[:kept]) if kept > 2 else float("nan")


def first_rows_cosine(x, y):
    """Depends on row order: the cosine of the first 20 rows' centered kernels only."""
    return centered_cosine(x[:20], y[:20])


def unnamed_error(x, y, k: int = 3):
    """Refuses n < k + 2 with a plain ValueError, which does not name the measure."""
    if x.shape[0] < k + 2:
        raise ValueError(f"needs k + 2 samples, got {x.shape[0]}")
    return centered_cosine(x, y)


_CALLS = itertools.count(1)


def nondeterministic(x, y):
    """Moves the value by a few ulps more on every call: no two calls agree bit for bit."""
    return centered_cosine(x, y) * (1 - 4 * next(_CALLS) * np.finfo(float).eps)


CKA_INVARIANCES = {"orthogonal", "isotropic_scaling", "translation"}

BROKEN = [
    pytest.param(raw_cosine, dict(invariances=CKA_INVARIANCES), "invariances",
                 "declared invariance translation of X does not hold", id="claims-translation"),
    pytest.param(raw_cosine, dict(invariances={"orthogonal"}), "invariances",
                 "undeclared invariance isotropic_scaling of X holds", id="forgets-isotropic-scaling"),
    pytest.param(explained_fraction, dict(invariances={"translation"}), "symmetry",
                 "declared symmetric, but", id="claims-symmetry"),
    pytest.param(centered_cosine, dict(symmetric=False, invariances=CKA_INVARIANCES), "symmetry",
                 "declared asymmetric", id="claims-asymmetry"),
    pytest.param(explained_fraction, dict(symmetric=False, invariances={"translation"},
                 x_invariances={"invertible_linear"}, y_invariances={"invertible_linear"}), "invariances",
                 "declared invariance invertible_linear of Y does not hold", id="claims-one-sided-invariance"),
    pytest.param(doubled_cosine, dict(invariances=CKA_INVARIANCES), "bounds", "outside its declared bounds",
                 id="leaves-bounds"),
    pytest.param(centered_cosine, dict(invariances=CKA_INVARIANCES, bounds=(0.0, 0.5)), "bounds",
                 "outside its declared bounds", id="bounds-too-narrow"),
    pytest.param(one_minus_cosine, dict(invariances=CKA_INVARIANCES), "identity",
                 "is less similar than m(X, Y)", id="wrong-orientation"),
    pytest.param(unscaled_centered_cosine, dict(invariances=CKA_INVARIANCES), "extreme_scales",
                 "failed on valid input", id="overflows-at-extreme-scales"),
    pytest.param(mean_abs_cosine_of_first_neighbour, dict(invariances=CKA_INVARIANCES), "bad_input",
                 "n = k + 1 = 4 for k = 3 neighbours: raised MeasureError", id="nan-on-too-few-samples"),
    pytest.param(unnamed_error, dict(invariances=CKA_INVARIANCES), "bad_input",
                 "does not name the measure", id="error-without-the-name"),
    pytest.param(first_rows_cosine, dict(invariances=CKA_INVARIANCES), "determinism",
                 "permuting the rows", id="depends-on-row-order"),
    pytest.param(nondeterministic, dict(invariances=CKA_INVARIANCES), "determinism", "the same input gave",
                 id="not-bit-identical"),
]  # fmt: skip


@pytest.mark.parametrize("fn, declared, check, match", BROKEN)
def test_check_measure_catches_a_broken_measure_and_names_the_check(isolated_registry, fn, declared, check, match):
    name = f"test_broken_{fn.__name__}"
    m = metrics.register(name, **(dict(symmetric=True, bounds=(0.0, 1.0)) | declared))(fn)
    with pytest.raises(ContractError) as caught:
        check_measure(m)
    message = str(caught.value)
    assert message.startswith(f"{name}: {check}: "), message
    assert match in message
    assert isinstance(caught.value, AssertionError)
    with pytest.raises(ContractError, match=f"^{name}: {check}: "):
        CHECKS[check](m)  # the named check alone catches it too


def test_a_correct_plugin_passes_every_check(isolated_registry):
    m = metrics.register("test_correct_cka", symmetric=True, invariances=CKA_INVARIANCES, bounds=(0.0, 1.0))(
        centered_cosine
    )
    check_measure(m)
    check_measure("test_correct_cka")  # by name as well


def test_an_order_dependent_measure_may_declare_it(isolated_registry):
    m = metrics.register(
        "test_first_rows", symmetric=True, invariances=CKA_INVARIANCES, bounds=(0.0, 1.0), order_dependent=True
    )(first_rows_cosine)
    check_measure(m)


def test_unbounded_distance_is_checked_on_its_finite_side(isolated_registry):
    def kernel_distance(x, y):
        """Frobenius distance of the centered, unit-norm linear kernels."""
        k, l = _centered_gram(x), _centered_gram(y)
        return float(np.linalg.norm(k / np.linalg.norm(k) - l / np.linalg.norm(l)))

    m = metrics.register(
        "test_kernel_distance", symmetric=True, invariances=CKA_INVARIANCES, bounds=(0.0, np.inf),
        higher_is_more_similar=False,
    )(kernel_distance)  # fmt: skip
    check_measure(m)
    shifted = metrics.register(
        "test_kernel_distance_shifted", symmetric=True, invariances=CKA_INVARIANCES, bounds=(0.0, np.inf),
        higher_is_more_similar=False,
    )(lambda x, y: kernel_distance(x, y) - 0.5)  # fmt: skip
    with pytest.raises(ContractError, match="^test_kernel_distance_shifted: bounds: "):
        check_measure(shifted, ["bounds"])


def test_missing_summary_is_an_info_failure(isolated_registry):
    m = metrics.register("test_no_docstring", symmetric=True, bounds=(0.0, 1.0))(lambda x, y: 0.5)
    with pytest.raises(ContractError, match="^test_no_docstring: info: no summary"):
        check_measure(m)


def test_the_contract_shape_follows_the_declarations(isolated_registry):
    def wide_cosine(x, y, k: int = 50):
        """Centered-kernel cosine (its k only widens the contract's n)."""
        return centered_cosine(x, y)

    m = metrics.register(
        "test_wide", symmetric=True, bounds=(0.0, 1.0), min_features=9, min_samples=5, needs_n_above_p="both"
    )(wide_cosine)
    n, p1, p2 = testing.contract_shape(m.info)
    assert (p1, p2) == (9, 11) and n == 52  # k + 2; above p1 + p2 + 1 as well
    assert testing.contract_shape(metrics.get("rsa").info) == testing.SHAPE


def test_checks_by_name_and_unknown_names():
    check_measure("cka_linear", "bounds")
    check_measure(metrics.get("cka_linear"), ["symmetry", "determinism"])
    with pytest.raises(KeyError, match="unknown check 'speed'"):
        check_measure("cka_linear", ["speed"])


def test_violation_data_moves_a_measure_lacking_the_invariance():
    """The undeclared-invariance data are built so that the violation is certain (raw cosine, not
    translation invariant, moves by far more than VIOLATION)."""
    rng = np.random.default_rng(0)
    x, y, t = testing.violation_case("translation", "x", rng, *testing.SHAPE)
    assert testing.relative_difference(raw_cosine(x, y), raw_cosine(t(x), y)) > 100 * testing.VIOLATION
