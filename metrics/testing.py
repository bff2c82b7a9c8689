"""The measure contract as a function, for the built-ins and for plugin authors alike.

:func:`check_measure` runs every check of :data:`CHECKS` on one measure and raises :class:`ContractError`
(an ``AssertionError``) naming the measure, the check and what failed, like scikit-learn's
``check_estimator``. Each check is a small function of its own (``check_symmetry``, ``check_bounds``...)
that a test may also call alone. The data are seeded numpy arrays (no hypothesis needed at run time),
small (n = 40 by default) so that the whole contract takes about a second for an O(n^2) measure, and
shaped to what the measure declares it accepts (``min_samples``, ``min_features``, ``needs_n_above_p``,
a ``k`` parameter).

In a plugin's own tests::

    from metrics.testing import check_measure

    def test_my_measure_meets_the_contract():
        check_measure("my_measure")

The checks:

- ``info``: the declarations are well formed (vocabulary, closure, bounds low < high, a docstring).
- ``bounds``: values on correlated, identical, negated and independent pairs lie in the declared bounds
  (checked on the finite side only; the registry already returns a value within rounding at the bound,
  and refuses one further out with a MeasureError, which this check reports).
- ``identity``: m(X, X) is at least as similar as m(X, Y) for correlated and independent Y.
- ``returns_float``: the result is a Python float.
- ``symmetry``: m(X, Y) == m(Y, X) to 1e-8 when declared symmetric; otherwise they differ on generic data.
- ``invariances``: each declared invariance (of both inputs, and of X alone or Y alone) holds to 1e-8
  relative; each undeclared one moves the value by more than 1e-5 on data built so that it must.
- ``extreme_scales``: where isotropic scaling is declared (of X, of Y, of both), the value at every scale
  of :data:`EXTREME_SCALES` (1e-150 ... 1e150) is the value at scale 1 to 1e-8 relative: squares and
  fourth powers of such data overflow or underflow unless the measure rescales first.
- ``bad_input``: NaN, Inf, different n, 1-D input, constant input, too few samples (and n = k + 1 for a
  ``k``-neighbour parameter), too few features, p >= n where the measure declares it degenerate, an
  unknown parameter: each a ``ValueError`` whose message starts with the measure's name.

Any check reports a ``MeasureError`` or ``ValueError`` on input the measure declares it accepts as its
own failure.
- ``determinism``: the same input twice gives the same float bit for bit; permuting the rows of both
  inputs together changes nothing beyond 1e-10 (unless the measure declares ``order_dependent``).
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np

from metrics._registry import INVARIANCES, MeasureError, Metric, MetricInfo, closure, get

__all__ = [
    "CHECKS",
    "ContractError",
    "EXTREME_SCALES",
    "RTOL",
    "SHAPE",
    "TRANSFORMS",
    "VIOLATION",
    "apply_transform",
    "check_bad_input",
    "check_bounds",
    "check_declared_invariances",
    "check_determinism",
    "check_extreme_scales",
    "check_identity",
    "check_info",
    "check_invariances",
    "check_measure",
    "check_returns_float",
    "check_symmetry",
    "check_undeclared_invariances",
    "contract_shape",
    "correlated_pair",
    "random_invertible",
    "random_orthogonal",
    "relative_difference",
    "violation_case",
]

#: Relative tolerance for "the same number" in float64 (DESIGN section 3).
RTOL = 1e-8
#: A value that moves by less than this (relative) under a transformation counts as unchanged; an
#: undeclared invariance must move the value by more (far above float64 rounding, far below real effects).
VIOLATION = 1e-5
#: Relative tolerance of the row-permutation check (sums taken in another order round differently).
ORDER_RTOL = 1e-10
#: Factors of the ``extreme_scales`` check: far beyond where squares (1e+-154) and fourth powers (1e+-77)
#: of the data leave the float64 range.
EXTREME_SCALES = (1e-150, 1e-100, 1e-50, 1e50, 1e100, 1e150)
#: (n, p1, p2) of the contract's data before a measure's declarations widen it.
SHAPE = (40, 5, 7)
TRANSFORMS = tuple(sorted(INVARIANCES))
SIDES = ("x", "y")


class ContractError(AssertionError):
    """A measure broke its contract; the message reads "<measure>: <check>: <what failed>"."""


def _fail(info: MetricInfo, check: str, detail: str) -> ContractError:
    return ContractError(f"{info.name}: {check}: {detail}")


def relative_difference(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|), 0 for two zeros."""
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def _close(a: float, b: float, rtol: float) -> bool:
    return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-14)


# ----------------------------------------------------------------------------------------------------
# Transformations of the invariance vocabulary and data
# ----------------------------------------------------------------------------------------------------
def random_orthogonal(rng: np.random.Generator, p: int) -> np.ndarray:
    """Haar-distributed p x p orthogonal matrix (QR of a Gaussian matrix with the signs of R fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(p, p)))
    return q * np.sign(np.diag(r))


def random_invertible(rng: np.random.Generator, p: int, condition: float = 100.0) -> np.ndarray:
    """Q1 diag(s) Q2 with s log-uniform between 1 and ``condition`` (anisotropic but well conditioned)."""
    s = np.exp(rng.uniform(0, np.log(condition), size=p))
    s[0], s[-1] = 1.0, condition if p > 1 else 1.0
    return random_orthogonal(rng, p) * s @ random_orthogonal(rng, p)


def apply_transform(name: str, a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random instance of transformation ``name`` (of :data:`TRANSFORMS`) applied to ``a`` [n, p]."""
    p = a.shape[1]
    if name == "permutation":
        order = rng.permutation(p)
        if p > 1 and np.all(order == np.arange(p)):
            order = np.roll(order, 1)
        return a[:, order]
    if name == "orthogonal":
        return a @ random_orthogonal(rng, p)
    if name == "isotropic_scaling":
        return a * float(10 ** rng.choice([-3.0, -1.3, 0.7, 3.0]))
    if name == "translation":
        return a + 10 * np.abs(a).max() * rng.normal(size=p)
    if name == "invertible_linear":
        return a @ random_invertible(rng, p)
    raise ValueError(f"unknown transformation {name!r}")


def on_side(side: str, fn: Callable, x, y) -> tuple:
    """(fn(X), Y) for side "x", (X, fn(Y)) for side "y": one input transformed, the other untouched."""
    return (fn(x), y) if side == "x" else (x, fn(y))


def correlated_pair(rng: np.random.Generator, n: int, p1: int, p2: int) -> tuple[np.ndarray, np.ndarray]:
    """Generic X [n, p1], Y [n, p2] sharing a latent signal, with unequal column scales and offsets."""
    latent = rng.normal(size=(n, max(p1, p2)))
    x = latent[:, :p1] @ random_invertible(rng, p1, 10.0) + 0.5 * rng.normal(size=(n, p1))
    y = latent @ rng.normal(size=(latent.shape[1], p2)) + rng.normal(size=(n, p2))
    return x + rng.normal(size=p1), y + 3 * rng.normal(size=p2)


def violation_case(transform: str, side: str, rng: np.random.Generator, n: int, p1: int, p2: int):
    """(X, Y, T): data on which transformation T of one side must change any measure not invariant to it.

    The transformed side S = Z D (Q) has a strongly anisotropic spectrum D (1 down to 1e-2 over its
    columns); half of the other side's columns measure only the LOW-variance latent directions of S, the
    rest is noise. So a measure that weighs directions by their variance sees little in common, and one
    that does not sees a lot:

    - invertible_linear: T = (D Q)^{-1} whitens S (condition number 100) and exposes the shared part;
    - orthogonal: S is axis-aligned (no Q) and T a random rotation, which mixes its columns;
    - translation: T adds a vector 100 times the data's magnitude; here the other side measures ALL of
      S's directions (a count such as mutual kNN sits at chance on the low-variance half alone, where
      the shift can leave it exactly unchanged);
    - permutation: S is axis-aligned and T reverses its columns; isotropic_scaling: T multiplies by 10.
    """
    p_s, p_o = (p1, p2) if side == "x" else (p2, p1)
    latent = rng.normal(size=(n, p_s))
    spectrum = np.geomspace(1.0, 1e-2, p_s)
    mixing = random_orthogonal(rng, p_s) if transform == "invertible_linear" else np.eye(p_s)  # axis-aligned
    s = (latent * spectrum) @ mixing
    low = latent[:, p_s // 2 :]
    shared = (p_o + 1) // 2  # the other half of O is noise: canonical correlations high and low
    o = np.hstack([low @ rng.normal(size=(low.shape[1], shared)), np.zeros((n, p_o - shared))])
    if transform == "translation":  # a shift moves the neighbours only where both sides share structure
        o = s @ rng.normal(size=(p_s, p_o))
    o += 0.3 * rng.normal(size=(n, p_o))
    if transform == "invertible_linear":
        matrix = mixing.T / spectrum
    elif transform == "orthogonal":
        matrix = random_orthogonal(rng, p_s)
    elif transform == "translation":
        shift = 100 * np.abs(s).max() * rng.normal(size=p_s)
    elif transform not in ("permutation", "isotropic_scaling"):
        raise ValueError(f"unknown transformation {transform!r}")

    def t(a: np.ndarray) -> np.ndarray:
        if transform in ("invertible_linear", "orthogonal"):
            return a @ matrix
        if transform == "translation":
            return a + shift
        if transform == "permutation":  # reversed columns: the variances change places
            return a[:, ::-1]
        return 10.0 * a

    return (s, o, t) if side == "x" else (o, s, t)


def contract_shape(info: MetricInfo) -> tuple[int, int, int]:
    """(n, p1, p2) the measure accepts: :data:`SHAPE` widened to ``min_features``, n raised to
    ``min_samples``, to k + 2 for a ``k`` parameter and above p1 + p2 + 1 where p >= n is degenerate."""
    n, p1, p2 = SHAPE
    p1, p2 = max(p1, info.min_features), max(p2, info.min_features + 2)
    k = info.params.get("k")
    n = max(n, info.min_samples, (k + 2) if isinstance(k, int) else 0)
    if info.needs_n_above_p is not None:
        n = max(n, p1 + p2 + 2)
    return n, p1, p2


def _pair(info: MetricInfo, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return correlated_pair(np.random.default_rng(seed), *contract_shape(info))


def _call(m: Metric, check: str, x, y, **params) -> float:
    """m(x, y) on valid input; a failure there (a MeasureError, e.g. a value beyond the declared bounds,
    or a ValueError on input the measure declares it accepts) is a failure of ``check``."""
    try:
        return m(x, y, **params)
    except (MeasureError, ValueError) as err:
        raise _fail(m.info, check, f"failed on valid input {x.shape}, {y.shape}: {err}") from err


def _metric(metric_or_name: Metric | str) -> Metric:
    return get(metric_or_name) if isinstance(metric_or_name, str) else metric_or_name


# ----------------------------------------------------------------------------------------------------
# The checks
# ----------------------------------------------------------------------------------------------------
def check_info(m: Metric) -> None:
    """The declarations are well formed."""
    info = m.info

    def need(ok: bool, detail: str) -> None:
        if not ok:
            raise _fail(info, "info", detail)

    need(isinstance(info, MetricInfo), f"info is {type(info).__name__}, not MetricInfo")
    need(isinstance(info.symmetric, bool) and isinstance(info.higher_is_more_similar, bool), "flags must be bools")
    low, high = info.bounds
    need(isinstance(low, float) and isinstance(high, float) and low < high, f"bounds {info.bounds} are not low < high")
    need(isinstance(info.reference, str), "reference must be a string")
    need(isinstance(info.summary, str) and bool(info.summary.strip()), "no summary: give the function a docstring")
    for declared in (info.invariances, info.x_invariances, info.y_invariances):
        need(declared <= INVARIANCES.keys(), f"invariances outside the vocabulary: {sorted(declared)}")
        need(closure(declared) == declared, f"invariances {sorted(declared)} not closed under containment")
    need(info.invariances <= info.x_invariances and info.invariances <= info.y_invariances,
         "one-sided invariances must contain the two-sided ones")  # fmt: skip
    if info.symmetric:
        need(info.x_invariances == info.y_invariances == info.invariances, "a symmetric measure has one set")
    need(info.backend in ("numpy", "torch"), f"backend {info.backend!r}")
    need(info.needs_n_above_p in (None, "x", "both"), f"needs_n_above_p {info.needs_n_above_p!r}")
    need(isinstance(info.min_samples, int) and info.min_samples >= 2, f"min_samples {info.min_samples!r}")
    need(isinstance(info.min_features, int) and info.min_features >= 1, f"min_features {info.min_features!r}")


def check_returns_float(m: Metric) -> None:
    """The result is a Python float."""
    value = _call(m, "returns_float", *_pair(m.info, 0))
    if type(value) is not float:
        raise _fail(m.info, "returns_float", f"returned {type(value).__name__}, not float")


def check_symmetry(m: Metric) -> None:
    """Symmetric as declared; an asymmetric measure must differ when the arguments swap."""
    x, y = _pair(m.info, 1)
    forward, backward = _call(m, "symmetry", x, y), _call(m, "symmetry", y, x)
    if m.info.symmetric and not _close(forward, backward, RTOL):
        raise _fail(m.info, "symmetry", f"declared symmetric, but m(X, Y) = {forward!r} != m(Y, X) = {backward!r}")
    if not m.info.symmetric and relative_difference(forward, backward) <= VIOLATION:
        raise _fail(m.info, "symmetry", f"declared asymmetric, but m(X, Y) == m(Y, X) = {forward!r} on generic data")


def check_bounds(m: Metric) -> None:
    """Values on correlated, identical, negated and independent pairs lie inside the declared bounds."""
    x, y = _pair(m.info, 2)
    rng = np.random.default_rng(2)
    low, high = m.info.bounds
    cases = {
        "correlated": (x, y),
        "identical": (x, x),
        "negated": (x, -x),
        "independent Y": (x, rng.normal(size=y.shape)),
        "independent X": (rng.normal(size=x.shape), y),
    }
    for case, (a, b) in cases.items():
        value = _call(m, "bounds", a, b)
        if not low <= value <= high:
            raise _fail(m.info, "bounds", f"{value!r} on the {case} pair, outside the declared bounds {[low, high]}")


def check_identity(m: Metric) -> None:
    """m(X, X) is at least as similar as m(X, Y) for a correlated and for an independent Y (in the
    measure's own orientation). Not necessarily the bound: a regularized or cross-validated estimator
    (ridge_predictivity) stays just below it."""
    x, y = _pair(m.info, 6)
    same = _call(m, "identity", x, x)
    sign = 1.0 if m.info.higher_is_more_similar else -1.0
    for case, other in (("correlated", y), ("independent", np.random.default_rng(6).normal(size=y.shape))):
        value = _call(m, "identity", x, other)
        if sign * same < sign * value:
            raise _fail(
                m.info, "identity", f"m(X, X) = {same!r} is less similar than m(X, Y) = {value!r} for a {case} Y"
            )


def check_invariances(m: Metric) -> None:
    """Each declared (transformation, side) holds to 1e-8 relative; each undeclared one moves the value."""
    check_declared_invariances(m)
    check_undeclared_invariances(m)


def _transforms(m: Metric, declared: bool):
    return [(t, side) for t in TRANSFORMS for side in SIDES if m.info.invariant_to(t, side) is declared]


def check_declared_invariances(m: Metric) -> None:
    """Each declared (transformation, side) holds to 1e-8 relative on a correlated pair."""
    shape = contract_shape(m.info)
    for transform, side in _transforms(m, declared=True):
        rng = np.random.default_rng(3)
        x, y = correlated_pair(np.random.default_rng(3), *shape)
        before = _call(m, "invariances", x, y)
        after = _call(m, "invariances", *on_side(side, lambda a: apply_transform(transform, a, rng), x, y))
        if not _close(after, before, RTOL):
            raise _fail(
                m.info,
                "invariances",
                f"declared invariance {transform} of {side.upper()} does not hold: {before!r} -> "
                f"{after!r} (relative {relative_difference(before, after):.3g} > {RTOL})",
            )


def check_undeclared_invariances(m: Metric) -> None:
    """Each undeclared (transformation, side) moves the value by more than 1e-5 on the data of
    :func:`violation_case`, built so that it must."""
    shape = contract_shape(m.info)
    for transform, side in _transforms(m, declared=False):
        x, y, t = violation_case(transform, side, np.random.default_rng(3), *shape)
        before, after = _call(m, "invariances", x, y), _call(m, "invariances", *on_side(side, t, x, y))
        if relative_difference(before, after) <= VIOLATION:
            raise _fail(
                m.info,
                "invariances",
                f"undeclared invariance {transform} of {side.upper()} holds ({before!r} -> {after!r}): "
                "declare it, or the measure is wrong",
            )


def check_extreme_scales(m: Metric) -> None:
    """A declared isotropic scaling invariance holds at every factor of :data:`EXTREME_SCALES`, for X
    alone, Y alone and both, as declared (to 1e-8 relative, like the other invariances)."""
    x, y = _pair(m.info, 7)
    before = _call(m, "extreme_scales", x, y)
    sides = [side for side in SIDES if m.info.invariant_to("isotropic_scaling", side)]
    if len(sides) == 2:
        sides.append("both")
    for side in sides:
        for scale in EXTREME_SCALES:
            a, b = (x * scale if side in ("x", "both") else x), (y * scale if side in ("y", "both") else y)
            after = _call(m, "extreme_scales", a, b)
            if not _close(after, before, RTOL):
                raise _fail(
                    m.info,
                    "extreme_scales",
                    f"declared invariance isotropic_scaling of {side.upper() if side != 'both' else 'X and Y'} "
                    f"does not hold at scale {scale:g}: {before!r} -> {after!r} (rescale the data before "
                    "squaring: metrics._linalg.center_unit, unit_scaled)",
                )


def _refused(m: Metric, case: str, x, y, match: str | None = None, **params) -> None:
    """``m(x, y)`` raises a ValueError whose message starts with the measure's name (and holds ``match``)."""
    try:
        value = m(x, y, **params)
    except ValueError as err:
        message = str(err)
        if not message.startswith(f"{m.info.name}: "):
            raise _fail(m.info, "bad_input", f"{case}: the message does not name the measure: {message!r}") from err
        if match is not None and match.lower() not in message.lower():
            raise _fail(m.info, "bad_input", f"{case}: the message does not say {match!r}: {message!r}") from err
        return
    except Exception as err:
        raise _fail(m.info, "bad_input", f"{case}: raised {type(err).__name__} ({err}), not ValueError") from err
    raise _fail(m.info, "bad_input", f"{case}: accepted, returned {value!r}; it must raise ValueError")


def check_bad_input(m: Metric) -> None:
    """Each bad input raises a ValueError naming the measure (and the problem)."""
    info = m.info
    x, y = _pair(info, 4)
    n = x.shape[0]
    with_nan, with_inf = x.copy(), y.copy()
    with_nan[3, 1], with_inf[5, 0] = np.nan, np.inf
    _refused(m, "NaN in X", with_nan, y, "NaN")
    _refused(m, "Inf in Y", x, with_inf, "Inf")
    _refused(m, "different n", x, y[:-1], "same samples")
    _refused(m, "1-D X", x[:, 0], y, "2-D")
    _refused(m, "constant Y", x, np.full_like(y, 2.5), "constant")
    few = info.min_samples - 1
    _refused(m, f"n = {few} < min_samples", x[:few], y[:few], "samples")
    k = info.params.get("k")
    if isinstance(k, int) and not isinstance(k, bool):  # k neighbours of n = k + 1 points are all the others
        _refused(m, f"n = k + 1 = {k + 1} for k = {k} neighbours", x[: k + 1], y[: k + 1], "samples")
    if info.min_features > 1:
        narrow = info.min_features - 1
        _refused(m, f"p1 = {narrow} < min_features", x[:, :narrow], y, "feature")
    if info.needs_n_above_p is not None:
        wide = np.random.default_rng(4).normal(size=(n, n))
        _refused(m, "p1 >= n", wide, y, "p >= n")
    _refused(m, "unknown parameter", x, y, "unknown parameter", no_such_parameter=1)


def check_determinism(m: Metric) -> None:
    """Bit-identical on repeated input; unchanged when the rows of both inputs are permuted together."""
    x, y = _pair(m.info, 5)
    first, second = _call(m, "determinism", x, y), _call(m, "determinism", x.copy(), y.copy())
    if first.hex() != second.hex():
        raise _fail(m.info, "determinism", f"the same input gave {first!r} and then {second!r}")
    if m.info.order_dependent:
        return
    order = np.random.default_rng(5).permutation(x.shape[0])
    permuted = _call(m, "determinism", x[order], y[order])
    if not _close(permuted, first, ORDER_RTOL):
        raise _fail(
            m.info,
            "determinism",
            f"permuting the rows of both inputs together moved the value {first!r} -> {permuted!r} (declare "
            "order_dependent=True if the measure depends on row order by design)",
        )


#: Every check, by the name that a failure reports.
CHECKS: dict[str, Callable[[Metric], None]] = {
    "info": check_info,
    "bounds": check_bounds,
    "identity": check_identity,
    "returns_float": check_returns_float,
    "symmetry": check_symmetry,
    "invariances": check_invariances,
    "extreme_scales": check_extreme_scales,
    "bad_input": check_bad_input,
    "determinism": check_determinism,
}


def check_measure(metric_or_name: Metric | str, checks: str | Iterable[str] | None = None) -> None:
    """Run the contract (every check of :data:`CHECKS`, or the names in ``checks``) on one measure.

    Args:
        metric_or_name: a registered :class:`metrics.Metric` or its name.
        checks: a check's name, or names of the checks to run (default: all, in the order of :data:`CHECKS`).

    Raises:
        ContractError: (an ``AssertionError``) the first check that failed, naming the measure and the check.
        KeyError: an unknown measure or check name.

    Example:
        >>> check_measure("cka_linear")
    """
    m = _metric(metric_or_name)
    for name in CHECKS if checks is None else [checks] if isinstance(checks, str) else checks:
        if name not in CHECKS:
            raise KeyError(f"unknown check {name!r}; the checks are {list(CHECKS)}")
        CHECKS[name](m)
