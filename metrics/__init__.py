"""stitchbench measures: a registry of representational-similarity measures with declared properties.

>>> import numpy as np, metrics
>>> x = np.random.default_rng(0).normal(size=(100, 8))
>>> round(metrics.get("cka_linear")(x, 2 * x + 1), 12)
1.0
"""
from metrics._inputs import CONVENTIONS, InputError, prepare_pair, reshape_activations
from metrics._registry import (
    ENTRY_POINT_GROUP,
    INVARIANCES,
    MeasureError,
    Metric,
    MetricInfo,
    UnknownMetricError,
    available,
    closure,
    discover,
    get,
    load_errors,
    modifiers,
    register,
    register_modifier,
)
from metrics.calibration import Calibration, calibrate, calibrate_layers, calibrated

__all__ = [
    "CONVENTIONS",
    "Calibration",
    "ENTRY_POINT_GROUP",
    "INVARIANCES",
    "InputError",
    "MeasureError",
    "Metric",
    "MetricInfo",
    "UnknownMetricError",
    "available",
    "calibrate",
    "calibrate_layers",
    "calibrated",
    "closure",
    "discover",
    "get",
    "load_errors",
    "modifiers",
    "prepare_pair",
    "register",
    "register_modifier",
    "reshape_activations",
]
