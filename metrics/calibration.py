"""Null-calibrated measures (Groger, Wen & Brbic 2026): every measure's score against its permutation null.

A raw score carries its own chance level: biased CKA of independent data is about p / (n + p), so wider
representations score higher with nothing in common, and the maximum over layer pairs grows with the
number of pairs. Calibration reports a score relative to the null of the exact statistic reported:

Algorithm 1 (one pair; ``calibrate``): s = m(X, Y) and the null s_k = m(X, P_k Y) for K random row
permutations P_k (sample correspondence broken, everything else kept), all oriented so that higher is
more similar (a distance d enters as -d). tau is the ceil((1 - alpha)(K + 1))-th smallest of the K + 1
values {s, s_1, ..., s_K}; the calibrated score is

- clamp((s - tau) / (s_max - tau), 0, 1) when the measure's most similar value s_max is finite (the upper
  bound of a similarity, minus the lower bound of a distance: a distance with lower bound 0 gives
  (tau_d - d) / tau_d with tau_d the alpha-quantile of the null distances);
- relu(s - tau) otherwise (``cknna``, which has no bound);

and the p-value is (1 + #{k: s_k >= s}) / (K + 1). Under the null (no correspondence) the score is 0 with
probability at least 1 - alpha. Null values within rounding of s count as ties with it (:func:`as_ties`):
a measure blind to the correspondence gets p = 1 and the score 0.

Algorithm 2 (layer pairs; ``calibrate_layers``): the aggregate T = agg_ij s(X_i, Y_j) over every pair of
layers ("max": the most similar pair; "mean"), calibrated the same way against T_k computed with ONE
permutation P_k applied to every layer of Y, so the null is that of the maximum itself.

Cost: K + 1 evaluations of the measure (Algorithm 2: (K + 1) L_X L_Y), so about K times the measure's own
time (K = 200 by default), and one permuted copy of Y in memory at a time. The inputs are validated and
converted once; every evaluation is checked like the measure's own values (finite, within its bounds).
Everything is float64 (the published package ``calibrated-similarity`` computes the scores in float32).

Use: ``metrics.get("cka_linear@calibrated")(X, Y)`` (a measure like any other, opt-in in ``pytest
benchmarks/ --metrics cka_linear@calibrated``), with ``permutations``, ``significance`` (alpha) and
``permutation_seed`` as parameters beside the measure's own; :func:`calibrate` and :func:`calibrate_layers`
return the whole :class:`Calibration` (score, p-value, tau, the null values).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import numpy as np
import torch

from metrics._inputs import InputError
from metrics._registry import Metric, MetricInfo, aggregate_layer_values, get, register_modifier, snap_tolerance

__all__ = [
    "CALIBRATION_PARAMS",
    "GROGER_2026",
    "Calibration",
    "CalibratedMetric",
    "calibrate",
    "calibrate_layers",
    "calibrated",
    "as_ties",
    "calibrated_score",
    "null_threshold",
    "permutation_p_value",
]

GROGER_2026 = (
    "Groger, Wen & Brbic 2026, Revisiting the Platonic Representation Hypothesis: An Aristotelian View (ICML), "
    "Algorithms 1 and 2; calibrated-similarity 0.1.1's calibrate() and calibrate_layers() given the same "
    "permutations (which compute in float32)"
)
#: The calibration's own parameters and their defaults (those of calibrated-similarity: K = 200, alpha = 0.05).
CALIBRATION_PARAMS = {"permutations": 200, "significance": 0.05, "permutation_seed": 0}


class Calibration(NamedTuple):
    """A calibrated score and what it came from, all oriented so that higher is more similar (a
    distance's values negated): ``observed`` s, ``null`` [K] the permutation values, ``threshold`` tau,
    ``best`` s_max (None when the measure has no finite most similar value)."""

    score: float
    p_value: float
    threshold: float
    observed: float
    null: np.ndarray
    best: float | None


# ----------------------------------------------------------------------------------------------------
# The statistics (pure functions of the observed and null values)
# ----------------------------------------------------------------------------------------------------
def null_threshold(observed: float, null: np.ndarray, significance: float) -> float:
    """tau: the ceil((1 - alpha)(K + 1))-th smallest of the observed value and the K null values together
    (Groger et al., Algorithm 1; the index as calibrated-similarity computes it)."""
    combined = np.sort(np.append(np.asarray(null, dtype=np.float64), observed))
    index = math.ceil((1.0 - significance) * len(combined)) - 1
    return float(combined[min(max(index, 0), len(combined) - 1)])


def permutation_p_value(observed: float, null: np.ndarray) -> float:
    """The add-one permutation p-value (1 + #{null >= observed}) / (K + 1)."""
    null = np.asarray(null, dtype=np.float64)
    return float((1 + np.count_nonzero(null >= observed)) / (len(null) + 1))


def calibrated_score(observed: float, threshold: float, best: float | None) -> float:
    """clamp((s - tau) / (s_max - tau), 0, 1), or relu(s - tau) without a finite s_max; 0 whenever s <= tau
    (then s_max - tau may be 0: every value at the maximum, nothing beyond the null)."""
    if observed <= threshold:
        return 0.0
    if best is None:
        return observed - threshold
    return min(1.0, (observed - threshold) / (best - threshold))


def _check_settings(permutations: Any, significance: Any, permutation_seed: Any) -> None:
    if isinstance(permutations, bool) or not isinstance(permutations, int) or permutations < 1:
        raise InputError(f"permutations must be a positive integer, got {permutations!r}")
    if not (isinstance(significance, (int, float)) and 0.0 < significance < 1.0):
        raise InputError(f"significance (alpha) must be in (0, 1), got {significance!r}")
    if isinstance(permutation_seed, bool) or not isinstance(permutation_seed, int) or permutation_seed < 0:
        raise InputError(f"permutation_seed must be a nonnegative integer, got {permutation_seed!r}")


def _orientation(info: MetricInfo) -> tuple[float, float | None]:
    """(sign, s_max): values times sign grow with similarity; s_max the oriented most similar bound."""
    sign = 1.0 if info.higher_is_more_similar else -1.0
    best = sign * (info.bounds[1] if info.higher_is_more_similar else info.bounds[0])
    return sign, best if math.isfinite(best) else None


def _permutations(n: int, permutations: int, seed: int) -> list[np.ndarray]:
    """K row permutations of range(n) from numpy's PCG64 stream of ``seed``: the same for every pair of
    inputs with n rows (common random numbers across the cases of a sweep)."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(permutations)]


def _permuted(y: Any, order: np.ndarray) -> Any:
    """Y with its rows in ``order`` (numpy array or tensor on its device)."""
    return y[order] if isinstance(y, np.ndarray) else y[torch.as_tensor(order, device=y.device)]


def as_ties(observed: float, null: np.ndarray, dtype: Any, n: int) -> np.ndarray:
    """The null values within rounding of the observed value set to it: |s_k - s| at most the registry's
    :func:`metrics._registry.snap_tolerance` at the values' magnitude (SNAP_ULPS sqrt(n) eps max(1, |s|,
    max |s_k|)).

    A measure blind to which sample is which (``magnitude_difference`` compares the two sides' means,
    ``imd`` their intrinsic geometries) gives the observed value again under every permutation, up to the
    rounding of sums taken in another order; counted as ties, such a measure gets p = 1 and the score 0,
    instead of a p-value that the rounding decides. The floor of 1 (values are rounded like the O(1)
    terms they come from) means that a measure in the data's units loses the differences between values
    below about 1e-12 (data scaled far below 1)."""
    tolerance = snap_tolerance(max(abs(observed), float(np.max(np.abs(null)))), dtype, n)
    return np.where(np.abs(null - observed) <= tolerance, observed, null)


def _calibration(observed: float, null: np.ndarray, significance: float, best: float | None) -> Calibration:
    threshold = null_threshold(observed, null, significance)
    return Calibration(calibrated_score(observed, threshold, best), permutation_p_value(observed, null),
                       threshold, observed, null, best)  # fmt: skip


# ----------------------------------------------------------------------------------------------------
# The calibrated measure
# ----------------------------------------------------------------------------------------------------
class CalibratedMetric(Metric):
    """``base`` calibrated against its permutation null: a :class:`metrics.Metric` named
    ``<base>@calibrated`` whose value is Algorithm 1's score (module docstring); its ``over_layers`` is
    Algorithm 2. Parameters: the base measure's, plus :data:`CALIBRATION_PARAMS` (``settings`` changes
    their defaults)."""

    def __init__(self, base: Metric, **settings):
        self.base = base
        clash = CALIBRATION_PARAMS.keys() & base.info.params.keys()
        if clash:
            raise ValueError(f"{base.info.name}: its parameter(s) {sorted(clash)} clash with the calibration's")
        unknown = settings.keys() - CALIBRATION_PARAMS.keys()
        if unknown:
            raise ValueError(f"unknown calibration setting(s) {sorted(unknown)}; they are {list(CALIBRATION_PARAMS)}")
        self.settings = {**CALIBRATION_PARAMS, **settings}
        _check_settings(**self.settings)
        sign, best = _orientation(base.info)
        info = dataclasses.replace(
            base.info,
            name=f"{base.info.name}@calibrated",
            symmetric=False,  # the null permutes Y's rows: swapped arguments draw another null
            bounds=(0.0, 1.0 if best is not None else math.inf),
            higher_is_more_similar=True,
            reference=f"{GROGER_2026}; of {base.info.name}: {base.info.reference or 'no reference'}",
            params={**base.info.params, **self.settings},
            summary=f"{base.info.name} calibrated against its permutation null (Groger, Wen & Brbic 2026).",
            streaming=None,
            speed_bound=(),
            order_dependent=True,  # the permutations act on row indices
            opt_in=True,  # K + 1 evaluations of the measure: not in the default run
            reference_route=None,  # the base's route computes the base, not its calibration
        )

        def calibrated_value(x, y, **params) -> float:
            return self._calibrate_prepared(x, y, **params).score

        calibrated_value.__doc__ = f"{info.summary}\n\n{__doc__}"
        calibrated_value.__module__ = __name__
        super().__init__(calibrated_value, info)

    def _split(self, params: dict) -> tuple[dict, dict]:
        settings = {key: params.pop(key, default) for key, default in self.settings.items()}
        _check_settings(**settings)
        return settings, params

    def _oriented(self, x: Any, y: Any, params: dict) -> float:
        return _orientation(self.base.info)[0] * self.base.value(x, y, **params)

    def _calibrate_prepared(self, x: Any, y: Any, **params) -> Calibration:
        """Algorithm 1 on inputs prepared as the base measure takes them."""
        settings, params = self._split(params)
        observed = self._oriented(x, y, params)
        orders = _permutations(x.shape[0], settings["permutations"], settings["permutation_seed"])
        null = np.array([self._oriented(x, _permuted(y, order), params) for order in orders])
        null = as_ties(observed, null, x.dtype, x.shape[0])
        return _calibration(observed, null, settings["significance"], _orientation(self.base.info)[1])

    def calibrate(self, x: Any, y: Any, *, conv: str = "flatten", dtype: str = "float64", **params) -> Calibration:
        """Algorithm 1: the whole :class:`Calibration` of (X, Y); the measure's value is its ``score``."""
        return self.guarded(x, y, conv, dtype, params, lambda a, b: self._calibrate_prepared(a, b, **params))

    def calibrate_layers(self, xs, ys, aggregate: str = "max", *, conv: str = "flatten", dtype: str = "float64",
                         **params) -> Calibration:  # fmt: skip
        """Algorithm 2: the aggregate over every layer pair (``"max"``: the most similar pair, ``"mean"``)
        calibrated against the same aggregate with one permutation of the rows shared by all of Y's
        layers. (K + 1) L_X L_Y evaluations."""
        xs, ys = list(xs), list(ys)
        self.check_params(params)
        with self.named_errors():
            if not xs or not ys:
                raise InputError("calibrate_layers needs at least one layer on each side")
            settings, base_params = self._split(dict(params))
            pairs = [[self.prepare(x, y, conv, dtype) for y in ys] for x in xs]  # same n everywhere, checked here
            sign, best = _orientation(self.base.info)

            def aggregated(order: np.ndarray | None) -> float:
                values = np.array([[self.base.value(a, b if order is None else _permuted(b, order), **base_params)
                                    for a, b in row] for row in pairs])  # fmt: skip
                return sign * aggregate_layer_values(values, aggregate, self.base.info)

            observed = aggregated(None)
            orders = _permutations(pairs[0][0][0].shape[0], settings["permutations"], settings["permutation_seed"])
            x = pairs[0][0][0]
            null = as_ties(observed, np.array([aggregated(order) for order in orders]), x.dtype, x.shape[0])
            return _calibration(observed, null, settings["significance"], best)

    def over_layers(self, xs, ys, aggregate: str = "max", **params) -> float:
        """Algorithm 2's score (:meth:`calibrate_layers`)."""
        return self.calibrate_layers(xs, ys, aggregate, **params).score


register_modifier("calibrated")(CalibratedMetric)


def calibrated(measure: Metric | str, **settings) -> CalibratedMetric:
    """The calibrated variant of a registered measure (its name or its :class:`metrics.Metric`): without
    ``settings`` the object ``metrics.get("<name>@calibrated")``; with them (``permutations=1000``...) a
    variant whose calibration parameters default to those."""
    if not settings:
        return get(f"{_name(measure)}@calibrated")
    return CalibratedMetric(get(_name(measure)), **settings)


def calibrate(measure: Metric | str, x: Any, y: Any, **params) -> Calibration:
    """Algorithm 1 for ``measure`` on (X, Y): score, p-value, tau and the null (see the module docstring).

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(60, 5))
        >>> result = calibrate("cka_linear", x, x @ np.random.default_rng(1).normal(size=(5, 5)), permutations=99)
        >>> result.score > 0.5, result.p_value
        (True, 0.01)
    """
    return get(f"{_name(measure)}@calibrated").calibrate(x, y, **params)


def calibrate_layers(measure: Metric | str, xs, ys, aggregate: str = "max", **params) -> Calibration:
    """Algorithm 2 for ``measure`` over every pair of layers of ``xs`` and ``ys`` (see the module docstring)."""
    return get(f"{_name(measure)}@calibrated").calibrate_layers(xs, ys, aggregate, **params)


def _name(measure: Metric | str) -> str:
    return measure if isinstance(measure, str) else measure.info.name
