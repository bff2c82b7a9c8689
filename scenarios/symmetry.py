"""Symmetry family: Y = T(X) for the transformations of the invariance vocabulary, and containment.

Ground truth. For an invertible affine T(x) = x M + t, Y computes exactly X's function (its readout is
X's read through T^-1, see ``Readout.after_affine``), and a least-squares stitch recovers T exactly:
stitching is 1 in both directions for every transform, the identity included. Each transform scenario
yields an ``identity`` case (Y = X) and the transformed case(s), so an ``invariant`` expectation asks
whether a measure sees what stitching sees: no change.

Containment (Bansal, Nakkiran & Barak 2021): Y = [X, Z] where Z carries task features X lacks and Y's
readout uses both. Y -> X stitching is 1 (drop Z); X -> Y is below 1 (Z cannot be predicted from X).
A symmetric measure gives both directions the same value, so it cannot order them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.linalg import block_diag

from scenarios._data import anisotropic_representation, log_spectrum, random_orthogonal, rms_spread, rng_for
from scenarios._registry import SweepPoint, default_case_ids, generator, sweep_points
from scenarios.readout import LABELINGS, Readout, make_labeling
from scenarios.stitching import Pair, make_case
from scenarios.types import Scenario, Sweep

__all__ = ["TRANSFORMS", "Transform", "containment_pair", "transformed_pair"]

BASE_PARAMS = {"n": 500, "p": 32, "condition": 10.0, "signal_dims": 4, "classes": 4, "labeling": "linear"}
BASE_CHOICES = {"labeling": LABELINGS}

Affine = Callable[[np.random.Generator, np.ndarray, float], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Transform:
    """An affine transformation family x -> x M + t drawn by ``affine(rng, x, strength)``.

    ``invariance`` is the smallest invariance of the measures' vocabulary (``metrics.INVARIANCES``) that
    contains it; its cases record it (``meta["invariance"]``), so the reports can tell a measure that does
    not declare that invariance, and fails by design, from one that fails empirically.
    ``strength`` names its parameter (None when it has none), with its ``default``, the ``neutral``
    value that leaves x unchanged, and the ``minimum`` it must exceed (or equal, when ``inclusive``).
    """

    affine: Affine
    invariance: str
    strength: str | None = None
    default: float | None = None
    neutral: float | None = None
    minimum: float = 0.0
    inclusive: bool = False


def _no_shift(x: np.ndarray) -> np.ndarray:
    return np.zeros(x.shape[1])


def _permutation(rng, x, _strength):
    order = rng.permutation(x.shape[1])
    if np.all(order == np.arange(len(order))):
        order = np.roll(order, 1)
    return np.eye(x.shape[1])[:, order], _no_shift(x)


def _orthogonal(rng, x, _strength):
    return random_orthogonal(rng, x.shape[1]), _no_shift(x)


def _isotropic_scaling(rng, x, scale):
    return scale * np.eye(x.shape[1]), _no_shift(x)


def _translation(rng, x, distance):
    direction = rng.standard_normal(x.shape[1])
    return np.eye(x.shape[1]), distance * rms_spread(x) * direction / np.linalg.norm(direction)


def _anisotropic_scaling(rng, x, condition):
    return np.diag(rng.permutation(log_spectrum(x.shape[1], condition))), _no_shift(x)


def _invertible_linear(rng, x, condition):
    p = x.shape[1]
    matrix = random_orthogonal(rng, p) * log_spectrum(p, condition) @ random_orthogonal(rng, p)
    return matrix, _no_shift(x)


#: name -> transformation. Strengths: ``scale`` multiplies X; ``distance`` is the length of the
#: translation in units of X's spread (rms distance of a row to the centroid); ``condition`` is the
#: ratio of the largest to the smallest scale factor (anisotropic) or singular value (invertible).
TRANSFORMS = {
    "permutation": Transform(_permutation, "permutation"),
    "orthogonal": Transform(_orthogonal, "orthogonal"),
    "isotropic_scaling": Transform(_isotropic_scaling, "isotropic_scaling", "scale", 3.0, 1.0, 0.0),
    "translation": Transform(_translation, "translation", "distance", 1.0, 0.0, 0.0, inclusive=True),
    "anisotropic_scaling": Transform(_anisotropic_scaling, "invertible_linear", "condition", 10.0, 1.0, 1.0,
                                     inclusive=True),
    "invertible_linear": Transform(_invertible_linear, "invertible_linear", "condition", 10.0, 1.0, 1.0,
                                   inclusive=True),
}


def transformed_pair(x: np.ndarray, readout: Readout, matrix: np.ndarray, shift: np.ndarray) -> Pair:
    """(x, y = x @ matrix + shift), y's readout being x's read through the inverse map."""
    return Pair(x, x @ matrix + shift, readout, readout.after_affine(matrix, shift))


def _base(scenario: Scenario, seed: int, params: dict) -> tuple[np.ndarray, Readout]:
    return anisotropic_representation(rng_for(scenario.name, seed, "base"), params["n"], params["p"],
                                      params["condition"], params["signal_dims"], params["classes"],
                                      params["labeling"])


def _transform_points(name: str, transform: Transform, params: dict, sweep: Sweep | None) -> list[SweepPoint]:
    """The transformed cases: one per sweep value, or one named after the transform."""
    if sweep is not None:
        return sweep_points(params, sweep)
    return [SweepPoint(name, params.get(transform.strength), params)]


def _register_transform(name: str, transform: Transform) -> None:
    params = dict(BASE_PARAMS)
    if transform.strength:
        params[transform.strength] = transform.default

    def check(values: dict) -> None:
        if transform.strength is None:
            return
        strength = values[transform.strength]
        if strength < transform.minimum or (strength == transform.minimum and not transform.inclusive):
            bound = ">=" if transform.inclusive else ">"
            raise ValueError(f"{transform.strength} must be {bound} {transform.minimum}, got {strength}")

    def case_ids(values: dict, sweep: Sweep | None) -> list[str]:
        return ["identity"] + [point.case for point in _transform_points(name, transform, values, sweep)]

    @generator(f"symmetry.{name}", family="symmetry", params=params, choices=BASE_CHOICES, check=check,
               case_ids=case_ids, use_case="synthetic")
    def generate(scenario: Scenario, seed: int):
        x, readout = _base(scenario, seed, scenario.params)
        yield make_case(scenario, seed, "identity", transform.neutral, Pair(x, x, readout, readout),
                        transform="identity")
        for point in _transform_points(name, transform, scenario.params, scenario.sweep):
            x, readout = _base(scenario, seed, point.params)
            matrix, shift = transform.affine(rng_for(scenario.name, seed, "transform"), x,
                                             point.params.get(transform.strength))
            yield make_case(scenario, seed, point.case, point.param, transformed_pair(x, readout, matrix, shift),
                            transform=name, invariance=transform.invariance)

    generate.__doc__ = f"An ``identity`` case and {name} case(s) of generic data; stitching is 1 in all."


for _name, _transform in TRANSFORMS.items():
    _register_transform(_name, _transform)


CONTAINMENT_ROLES = ("superset_to_subset", "subset_to_superset")


def containment_pair(scenario: Scenario, seed: int, params: dict) -> Pair:
    """(X, Y = [X, Z]): X and Z generic, independent; Y's readout labels the joint task features
    [s_X, s_Z] with its own labeling, so it needs Z; X's readout labels s_X."""
    x, readout_x = _base(scenario, seed, params)
    z, readout_z = anisotropic_representation(
        rng_for(scenario.name, seed, "extra"), params["n"], params["extra_channels"], params["condition"],
        params["signal_dims"], params["classes"], params["labeling"])
    decoder = block_diag(readout_x.decoder, readout_z.decoder)
    y = np.hstack([x, z])
    labeling = make_labeling(params["labeling"], rng_for(scenario.name, seed, "labeling_y"), y @ decoder,
                             params["classes"])
    return Pair(x, y, readout_x, Readout.linear(decoder, labeling))


def _containment_ids(params: dict, sweep: Sweep | None) -> list[str]:
    if sweep is None:
        return list(CONTAINMENT_ROLES)
    return [f"{case}:{role}" for case in default_case_ids(params, sweep) for role in CONTAINMENT_ROLES]


def _check_containment(params: dict) -> None:
    if params["extra_channels"] < 1:
        raise ValueError("extra_channels must be >= 1")


@generator("symmetry.containment", family="symmetry", params={**BASE_PARAMS, "extra_channels": 16},
           choices=BASE_CHOICES, check=_check_containment, case_ids=_containment_ids, use_case="synthetic")
def containment(scenario: Scenario, seed: int):
    """Two cases per point: ``superset_to_subset`` (x = [X, Z], y = X: stitch 1) and
    ``subset_to_superset`` (x = X, y = [X, Z]: stitch < 1), each the other one reversed
    (``meta["reverse"]``: a symmetric measure gives both the same value by its design)."""
    for point in sweep_points(scenario.params, scenario.sweep):
        pair = containment_pair(scenario, seed, point.params)
        prefix = f"{point.case}:" if scenario.sweep else ""
        for role, reverse, oriented in zip(CONTAINMENT_ROLES, CONTAINMENT_ROLES[::-1], (pair.swapped(), pair)):
            yield make_case(scenario, seed, prefix + role, point.param, oriented, role=role,
                            reverse=prefix + reverse, extra_channels=point.params["extra_channels"])
