"""The measure registry: ``register`` (decorator), ``get``, ``available``, ``MetricInfo``.

Built-in measures and third-party plugins register through one path: a module is imported, and the
``@register`` decorators in it add its measures. The built-in modules are found by being there: every
public module of the ``metrics`` package (a name without a leading underscore) is imported, and one that
registers nothing (``testing``, ``streaming``, ``layers``...) registers nothing; no list names them, so a
new file in ``metrics/`` is a built-in plugin with no other edit. The private ``_*.py`` modules are
helpers, imported by the modules that use them. Third-party packages name their modules in the
``stitchbench.metrics`` entry-point group (pluggy's eggsample: built-ins registered directly, entry points
for the rest). A module that fails to import is recorded by :func:`load_errors` and stops nothing else.
"""
from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.metadata
import inspect
import math
import pkgutil
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from metrics._bounds import PRIMITIVES, unknown_primitives
from metrics._inputs import InputError, prepare_pair
from metrics._threads import one_thread_when_small

__all__ = [
    "ENTRY_POINT_GROUP",
    "INVARIANCES",
    "MeasureError",
    "Metric",
    "MetricInfo",
    "SNAP_ULPS",
    "UnknownMetricError",
    "as_value",
    "available",
    "builtin_modules",
    "LAYER_AGGREGATES",
    "MODIFIER_SEPARATOR",
    "aggregate_layer_values",
    "closure",
    "discover",
    "get",
    "load_errors",
    "modifiers",
    "register",
    "register_modifier",
    "snap_tolerance",
]

ENTRY_POINT_GROUP = "stitchbench.metrics"

#: The invariance vocabulary, each with the transformations it contains (DESIGN section 3).
INVARIANCES = {
    "permutation": frozenset(),
    "orthogonal": frozenset({"permutation"}),
    "isotropic_scaling": frozenset(),
    "translation": frozenset(),
    "invertible_linear": frozenset({"orthogonal", "permutation", "isotropic_scaling"}),
}


def closure(invariances) -> frozenset[str]:
    """The declared invariances with every transformation they contain (orthogonal -> permutation...)."""
    names = frozenset(invariances)
    unknown = names - INVARIANCES.keys()
    if unknown:
        raise ValueError(f"unknown invariance(s) {sorted(unknown)}; the vocabulary is {sorted(INVARIANCES)}")
    return names.union(*(INVARIANCES[name] for name in names))


class UnknownMetricError(KeyError):
    """Raised by :func:`get` for a name no plugin registered; the message lists close names."""

    def __str__(self) -> str:
        return str(self.args[0])


class MeasureError(RuntimeError):
    """A measure failed on valid input (a linear-algebra routine did not converge, a NaN result...)."""


@dataclass(frozen=True)
class MetricInfo:
    """What a measure declares about itself; the contract tests check every field.

    ``invariances`` hold when either input alone is transformed; ``x_invariances`` and
    ``y_invariances`` are the (larger) sets that hold when only X, respectively only Y, is transformed.
    All three are closed under containment (``invertible_linear`` implies ``orthogonal``...).

    What the suite needs of a measure is declared here, never in tables keyed by its name elsewhere:
    ``min_samples`` and ``min_features`` (refused below), ``streaming`` (its formula on the sufficient
    statistics, read by :class:`metrics.streaming.SufficientStats`), ``speed_bound`` (primitives of
    :data:`metrics._bounds.PRIMITIVES`, read by ``benchmarks/test_speed.py``), ``order_dependent``
    (read by :func:`metrics.testing.check_determinism`) and ``opt_in`` (left out of the default
    benchmark run) and ``reference_route`` (its independent second route, read by the test suite only).
    Bounds may be infinite on either side.
    """

    name: str
    symmetric: bool
    invariances: frozenset[str]
    x_invariances: frozenset[str]
    y_invariances: frozenset[str]
    bounds: tuple[float, float]
    higher_is_more_similar: bool
    reference: str
    backend: str
    min_samples: int
    needs_n_above_p: str | None
    params: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    min_features: int = 1
    streaming: Callable[..., Any] | None = None
    speed_bound: tuple[str, ...] = ()
    order_dependent: bool = False
    opt_in: bool = False
    reference_route: Callable[..., float] | None = None

    def invariant_to(self, transform: str, side: str = "both") -> bool:
        """Whether the measure declares invariance to ``transform`` applied to ``side`` ("x", "y", "both")."""
        return transform in {"x": self.x_invariances, "y": self.y_invariances}.get(side, self.invariances)


class Metric:
    """A registered measure: call it as ``m(X, Y) -> float``; ``m.info`` holds its declarations."""

    def __init__(self, fn: Callable[..., Any], info: MetricInfo):
        self.fn = fn
        self.info = info
        self.__doc__ = fn.__doc__
        self.__name__ = info.name

    def __repr__(self) -> str:
        return f"<metric {self.info.name}>"

    def __call__(self, x: Any, y: Any, *, conv: str = "flatten", dtype: str = "float64", **params) -> float:
        """Validate and convert X, Y, run the measure, and return a finite Python float.

        Args:
            x, y: [n, p1] and [n, p2] (or [n, c, ...] activations): numpy arrays or torch tensors.
            conv: how 3+-dimensional activations become 2-D (see ``metrics.CONVENTIONS``).
            dtype: ``"float64"`` (default, the reference) or ``"float32"`` (faster, less exact).
            **params: the measure's own parameters (``info.params`` lists them with their defaults).

        Raises:
            ValueError: bad input or parameters, naming the measure and the problem.
            MeasureError: the computation failed on valid input.
        """
        return self.guarded(x, y, conv, dtype, params, lambda a, b: self.value(a, b, **params))

    def value(self, x: Any, y: Any, **params) -> float:
        """The measure on inputs already validated and converted (:meth:`prepare`), as a checked float; on
        small CPU inputs with every thread pool at one thread (:func:`metrics._threads.one_thread_when_small`)."""
        with one_thread_when_small(x, y):
            return as_value(self.info, self.fn(x, y, **params), x.dtype, x.shape[0])

    def prepare(self, x: Any, y: Any, conv: str = "flatten", dtype: str = "float64") -> tuple[Any, Any]:
        """X and Y validated and converted as the measure takes them (:func:`metrics.prepare_pair` with
        its declarations); raises :class:`InputError` without the measure's name."""
        x, y = prepare_pair(
            x,
            y,
            conv=conv,
            dtype=dtype,
            backend=self.info.backend,
            min_samples=self.info.min_samples,
            min_features=self.info.min_features,
        )
        _check_sample_to_feature_ratio(self.info, x.shape, y.shape)
        return x, y

    def guarded(self, x: Any, y: Any, conv: str, dtype: str, params: dict, compute: Callable[[Any, Any], Any]) -> Any:
        """``compute(X, Y)`` on the prepared inputs, after checking the parameters' names, with the errors
        of :meth:`named_errors`."""
        self.check_params(params)
        with self.named_errors():
            return compute(*self.prepare(x, y, conv, dtype))

    def check_params(self, params: dict) -> None:
        """Refuse parameter names the measure does not take (a ValueError naming the measure)."""
        unknown = params.keys() - self.info.params.keys()
        if unknown:
            raise ValueError(
                f"{self.info.name}: unknown parameter(s) {sorted(unknown)}; it takes "
                f"{sorted(self.info.params) or 'none'}"
            )

    @contextlib.contextmanager
    def named_errors(self):
        """Bad input or parameters become a ValueError, a failed computation a :class:`MeasureError`, each
        naming the measure."""
        name = self.info.name
        try:
            yield
        except InputError as err:
            raise InputError(f"{name}: {err}") from None
        except (torch.linalg.LinAlgError, np.linalg.LinAlgError, ArithmeticError) as err:
            raise MeasureError(f"{name}: the computation failed ({err}); no value is reported") from err

    def over_layers(self, xs, ys, aggregate: str = "max", **params) -> float:
        """The measure aggregated over every pair (X_i, Y_j) of two sequences of layers (lists of [n, p_l]
        arrays, or [L, n, p] stacks): ``"max"`` the most similar pair (for a distance the smallest value),
        ``"mean"`` the mean over pairs. L_X L_Y evaluations.

        The maximum over layer pairs rises with the number of pairs even for independent layers
        (Groger, Wen & Brbic 2026); ``metrics.calibrated`` measures calibrate the aggregate instead.
        """
        return aggregate_layer_values(self.layer_values(xs, ys, **params), aggregate, self.info)

    def layer_values(self, xs, ys, **params) -> np.ndarray:
        """[L_X, L_Y]: the measure on every pair of layers (see :meth:`over_layers`)."""
        xs, ys = list(xs), list(ys)
        if not xs or not ys:
            raise ValueError(f"{self.info.name}: over_layers needs at least one layer on each side")
        return np.array([[self(x, y, **params) for y in ys] for x in xs])


#: How :meth:`Metric.over_layers` reduces the matrix of layer-pair values.
LAYER_AGGREGATES = ("max", "mean")


def aggregate_layer_values(values: np.ndarray, aggregate: str, info: MetricInfo) -> float:
    """``"max"``: the most similar value (the largest, or the smallest of a distance); ``"mean"``."""
    if aggregate == "mean":
        return float(np.mean(values))
    if aggregate == "max":
        return float(np.max(values) if info.higher_is_more_similar else np.min(values))
    raise ValueError(f"{info.name}: aggregate must be one of {list(LAYER_AGGREGATES)}, got {aggregate!r}")


def _check_sample_to_feature_ratio(info: MetricInfo, shape_x, shape_y) -> None:
    if info.needs_n_above_p is None:
        return
    n = shape_x[0]
    widths = {"x": shape_x[1]} if info.needs_n_above_p == "x" else {"x": shape_x[1], "y": shape_y[1]}
    for side, p in widths.items():
        if p >= n:
            raise InputError(
                f"{side.upper()} has p = {p} features for n = {n} samples; with p >= n the measure is "
                "degenerate (it reaches its maximum whatever the data). Use more samples, reduce the "
                "features (e.g. svcca), or use a regularized measure such as cka_linear_debiased"
            )


#: A result at most ``SNAP_ULPS * sqrt(n) * eps * max(1, |bound|)`` beyond a finite bound is rounding and
#: is returned at the bound: eps of the computation's dtype (float64, or float32 when asked for), n the
#: number of samples (rounding of sums over samples grows like sqrt(n) eps; Higham, Accuracy and
#: Stability of Numerical Algorithms, 2nd ed., section 2.8). Further beyond is a MeasureError.
SNAP_ULPS = 64


def _eps(dtype: Any) -> float:
    return float(torch.finfo(dtype).eps) if isinstance(dtype, torch.dtype) else float(np.finfo(dtype).eps)


def snap_tolerance(bound: float, dtype: Any = torch.float64, n: int = 1) -> float:
    """How far beyond ``bound`` a result may lie and still be rounding (see :data:`SNAP_ULPS`)."""
    return SNAP_ULPS * math.sqrt(max(1, n)) * _eps(dtype) * max(1.0, abs(bound))


def as_value(info: MetricInfo, value: Any, dtype: Any = torch.float64, n: int = 1) -> float:
    """The measure's result as a finite Python float inside its declared bounds.

    A result beyond a finite bound by at most :func:`snap_tolerance` is returned at the bound (``cca_mean``
    of X with itself could give 1 + 9e-16); a result further out is a :class:`MeasureError` naming the
    measure, never clipped silently: it is a bug in the measure or in its declared bounds.
    """
    name = info.name
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim != 0:
        raise MeasureError(f"{name}: returned an array of shape {tuple(value.shape)}, not a scalar")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise MeasureError(f"{name}: returned {type(value).__name__} {value!r}, not a scalar") from None
    if not math.isfinite(out):
        raise MeasureError(f"{name}: produced {out} on finite input; no value is reported")
    low, high = info.bounds
    bound = low if out < low else high if out > high else None
    if bound is None:
        return out
    if abs(out - bound) <= snap_tolerance(bound, dtype, n):
        return bound
    hint = " (computed in float32: float64 may be within rounding)" if _eps(dtype) > 1e-10 else ""
    raise MeasureError(
        f"{name}: produced {out!r}, outside its declared bounds {list(info.bounds)} by more than rounding{hint}; "
        "a bug in the measure or in its declared bounds; no value is reported"
    )


_REGISTRY: dict[str, Metric] = {}
#: A measure's name: a letter, then letters, digits, ``_``, ``.`` or ``-`` (100 characters at most). Names
#: key cache files and report cells, so nothing that reads as a path (``/``, ``..``) or as markup gets in.
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,99}")
#: Modifiers: ``name@modifier`` is ``modifier(get(name))`` (``metrics.calibration`` adds "calibrated").
MODIFIER_SEPARATOR = "@"
_MODIFIERS: dict[str, Callable[[Metric], Metric]] = {}
_VARIANTS: dict[str, tuple[Metric, Metric]] = {}  # name@modifier -> (the base it was made from, the variant)
_LOAD_ERRORS: dict[str, str] = {}
_LOADED_MODULES: set[str] = set()
_discovered = False


def register(
    name: str,
    *,
    symmetric: bool,
    invariances=(),
    bounds: tuple[float, float],
    reference: str = "",
    higher_is_more_similar: bool = True,
    backend: str = "numpy",
    x_invariances=(),
    y_invariances=(),
    min_samples: int = 3,
    needs_n_above_p: str | None = None,
    min_features: int = 1,
    streaming: Callable[..., Any] | None = None,
    speed_bound=(),
    order_dependent: bool = False,
    opt_in: bool = False,
    reference_route: Callable[..., float] | None = None,
) -> Callable[[Callable[..., Any]], Metric]:
    """Register ``fn(x, y, **params) -> float`` as measure ``name``.

    The registry validates and converts the inputs before calling ``fn`` (finite, same n, 2-D, float64
    unless float32 is asked for; see :func:`metrics.prepare_pair`): ``fn`` receives numpy arrays for
    ``backend="numpy"`` and torch tensors on the inputs' device for ``backend="torch"``. Keyword
    parameters of ``fn`` with defaults become the measure's parameters.

    Args:
        name: canonical name (scorecards and baselines key on it); must be unused.
        symmetric: whether m(X, Y) == m(Y, X).
        invariances: transformations of either input that leave the value unchanged (vocabulary in
            :data:`INVARIANCES`).
        bounds: (low, high) that every value lies in, low < high; either may be infinite (a distance:
            ``(0.0, math.inf)``). A result within rounding of a finite bound is returned at the bound
            (:func:`as_value`).
        reference: the paper that defines the measure ("" when none: the scorecard says "no reference").
        higher_is_more_similar: orientation of the value.
        backend: ``"numpy"`` or ``"torch"``.
        x_invariances, y_invariances: extra invariances when only X (only Y) is transformed.
        min_samples: smallest n the measure accepts.
        needs_n_above_p: ``"both"`` or ``"x"`` when the measure is degenerate for p >= n on both inputs
            or on X; such inputs are refused with an error that points to alternatives.
        min_features: smallest number of features (columns) per input the measure is defined for;
            narrower input is refused before the measure runs.
        streaming: the measure's exact formula on the sufficient statistics, ``formula(derived, **params)``
            with ``derived`` a :class:`metrics._formulas.Derived` (see :mod:`metrics.streaming`), or None
            when it needs all samples at once.
        speed_bound: names from the vocabulary :data:`metrics._bounds.PRIMITIVES` of the products and
            decompositions its exact formula cannot do without (the speed benchmark's yardstick for it; a
            name listed twice counts twice; a single name may be given as a string).
        order_dependent: True when the value depends on the order of the rows by design (cross-validation
            folds or subsamples chosen by index); otherwise the contract checks that permuting the rows
            of both inputs together leaves the value unchanged.
        opt_in: True for a measure too slow for the default run: ``pytest benchmarks/`` (scenarios and
            speed) runs it only when ``--metrics`` names it; it stays in :func:`available` and in the
            contract tests like every other measure.
        reference_route: an independent second route to the same number, ``route(x, y, **params) ->
            float`` on numpy float64 arrays (the measure's parameters with the same defaults, or fewer),
            written from the definition by another method: explicit n x n matrices, a library's solver,
            brute force (helpers in :mod:`metrics._naive`). The test suite compares the measure with it
            (tests/test_metrics_reference.py) and fails a built-in measure without one; the measure never
            calls it, and it uses nothing the measure computes with (checked there too). Defined in the
            measure's own module, so that a new measure is one file.

    Raises:
        ValueError: a declaration is invalid (the message names the measure and the declaration).
    """
    _check_declarations(
        name, backend, needs_n_above_p, bounds, reference, min_samples, min_features, streaming, reference_route
    )
    low, high = bounds
    speed_bound = (speed_bound,) if isinstance(speed_bound, str) else tuple(speed_bound)
    unknown = unknown_primitives(speed_bound)
    if unknown:
        raise ValueError(
            f"register({name!r}): unknown speed_bound primitive(s) {unknown}; the vocabulary "
            f"(metrics._bounds.PRIMITIVES) is {list(PRIMITIVES)}"
        )
    try:
        both = closure(invariances)
        x_only, y_only = closure(x_invariances), closure(y_invariances)
    except ValueError as err:
        raise ValueError(f"register({name!r}): {err}") from None

    def decorator(fn: Callable[..., Any]) -> Metric:
        if name in _REGISTRY:
            raise ValueError(f"a measure named {name!r} is already registered ({_REGISTRY[name].fn.__module__})")
        signature = inspect.signature(fn)
        params = {
            p.name: p.default
            for p in list(signature.parameters.values())[2:]
            if p.default is not inspect.Parameter.empty
        }
        doc = inspect.getdoc(fn) or ""
        info = MetricInfo(
            name=name,
            symmetric=symmetric,
            invariances=both,
            x_invariances=both | x_only,
            y_invariances=both | y_only,
            bounds=(float(low), float(high)),
            higher_is_more_similar=higher_is_more_similar,
            reference=reference,
            backend=backend,
            min_samples=min_samples,
            needs_n_above_p=needs_n_above_p,
            params=params,
            summary=doc.splitlines()[0] if doc else "",
            min_features=min_features,
            streaming=streaming,
            speed_bound=speed_bound,
            order_dependent=bool(order_dependent),
            opt_in=bool(opt_in),
            reference_route=reference_route,
        )
        metric = Metric(fn, info)
        _REGISTRY[name] = metric
        return metric

    return decorator


def _check_declarations(
    name, backend, needs_n_above_p, bounds, reference, min_samples, min_features, streaming, reference_route
):
    """Refuse invalid declarations of ``register(name, ...)`` with a ValueError naming the measure."""

    def refuse(what: str) -> None:
        raise ValueError(f"register({name!r}): {what}")

    if not isinstance(name, str) or not name:
        refuse("the name must be a non-empty string")
    if MODIFIER_SEPARATOR in name:
        refuse(f"{MODIFIER_SEPARATOR!r} is reserved for modified measures (cka_linear@calibrated)")
    if not NAME_PATTERN.fullmatch(name):
        refuse("a name is a letter, then letters, digits, '_', '.' or '-' (at most 100 characters): names key "
               "cache files and report cells")
    if backend not in ("numpy", "torch"):
        refuse(f"backend must be 'numpy' or 'torch', got {backend!r}")
    if needs_n_above_p not in (None, "x", "both"):
        refuse(f"needs_n_above_p must be None, 'x' or 'both', got {needs_n_above_p!r}")
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        refuse(f"bounds must be two numbers (low, high), got {bounds!r}")
    if not low < high:
        refuse(f"bounds must be (low, high) with low < high, got {bounds}")
    if not isinstance(reference, str):
        refuse(f"reference must be a string (the paper, or \"\"), got {type(reference).__name__}")
    for field_name, value, least in (("min_samples", min_samples, 2), ("min_features", min_features, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            refuse(f"{field_name} must be an integer >= {least}, got {value!r}")
    for field_name, value, what in (
        ("streaming", streaming, "a formula (a callable on metrics._formulas.Derived)"),
        ("reference_route", reference_route, "a function route(x, y, **params) -> float"),
    ):
        if value is not None and not callable(value):
            refuse(f"{field_name} must be {what} or None, got {value!r}")


def _load_module(module: str, origin: str) -> None:
    if module in _LOADED_MODULES:
        return
    _LOADED_MODULES.add(module)
    try:
        importlib.import_module(module)
    except Exception as err:  # one broken plugin must not take the others down
        _LOAD_ERRORS[origin] = f"{type(err).__name__}: {err}"
        warnings.warn(f"stitchbench: could not load measure plugin {origin} ({err})", stacklevel=3)


def builtin_modules() -> list[str]:
    """The built-in plugins: every module of the ``metrics`` package whose name has no leading underscore,
    found on the package's path (``pkgutil.iter_modules``), sorted. Nothing lists them."""
    package = importlib.import_module(__package__)
    names = (module.name for module in pkgutil.iter_modules(package.__path__))
    return sorted(f"{__package__}.{name}" for name in names if not name.startswith("_"))


def discover() -> list[str]:
    """Import the built-in modules (:func:`builtin_modules`) and every module of the
    ``stitchbench.metrics`` entry-point group not imported yet (a package installed or a file added since
    the last call is picked up); their ``@register`` decorators add the measures. Returns the names."""
    global _discovered
    _discovered = True
    for module in builtin_modules():
        _load_module(module, module)
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        _load_module(entry.value, f"{entry.name} = {entry.value}")
    return sorted(_REGISTRY)


def _ensure_loaded() -> None:
    if not _discovered:
        discover()


def available() -> list[str]:
    """Sorted canonical names of every registered measure, entry-point plugins included."""
    _ensure_loaded()
    return sorted(_REGISTRY)


def get(name: str) -> Metric:
    """The measure registered as ``name``, or a modified measure ``base@modifier`` (``cka_linear@calibrated``,
    made on first use from the registered ``base``); an unknown name raises an error listing close names."""
    _ensure_loaded()
    if name in _REGISTRY:
        return _REGISTRY[name]
    base_name, separator, modifier = name.rpartition(MODIFIER_SEPARATOR)
    if separator and base_name in _REGISTRY and modifier in _MODIFIERS:
        base = _REGISTRY[base_name]
        made = _VARIANTS.get(name)
        if made is None or made[0] is not base:  # a base registered again (tests) gets a new variant
            made = _VARIANTS[name] = (base, _MODIFIERS[modifier](base))
        return made[1]
    close = difflib.get_close_matches(name, _REGISTRY, n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    modifiers = f" Modifiers (name@modifier): {', '.join(sorted(_MODIFIERS))}." if _MODIFIERS else ""
    raise UnknownMetricError(
        f"no measure named {name!r}{hint} Available: {', '.join(sorted(_REGISTRY))}.{modifiers}"
    ) from None


def register_modifier(name: str) -> Callable[[Callable[[Metric], Metric]], Callable[[Metric], Metric]]:
    """Register ``make(base) -> Metric`` as modifier ``name``: ``get(f"{measure}@{name}")`` is then
    ``make(get(measure))`` for every registered measure (made once, on first use)."""
    if not name.isidentifier():
        raise ValueError(f"register_modifier({name!r}): a modifier's name must be an identifier")

    def decorator(make: Callable[[Metric], Metric]) -> Callable[[Metric], Metric]:
        if name in _MODIFIERS:
            raise ValueError(f"a modifier named {name!r} is already registered")
        _MODIFIERS[name] = make
        return make

    return decorator


def modifiers() -> list[str]:
    """Sorted names of the registered modifiers (``get(f"{measure}@{modifier}")``)."""
    _ensure_loaded()
    return sorted(_MODIFIERS)


def load_errors() -> dict[str, str]:
    """Plugins whose module failed to import, with the error (they are skipped, not fatal): a built-in by
    its module name (``metrics.my_measure``), an entry point as ``name = module``."""
    _ensure_loaded()
    return dict(_LOAD_ERRORS)
