"""Estimator family: where finite samples, outliers and variance weighting mislead a measure.

- ``estimator.independent``: X and Y independent, isotropic Gaussian [n, p]. Truth: no shared
  information, similarity 0; stitching is at chance in both directions. Biased linear CKA of such data
  is about p / (n + p) (Kornblith et al. 2019), so a sweep over p shows the estimator's bias.
- ``estimator.outliers``: X and Y carry the same signal and the same irrelevant channels up to a
  rotation (``relevance.signal_pair`` with shared_noise = 1), then a fraction of Y's samples is moved by
  ``outlier_distance`` x (Y's spread) along one direction of its irrelevant channels (Davari et al. 2022:
  moving a few samples far away drives CKA toward 0). Readouts ignore those channels and Y's signal
  channels are untouched: stitching stays 1 in both directions.
- ``estimator.low_variance_pcs``: Y = Z diag(sigma) R (sigma decreasing geometrically by ``condition``),
  whose readout labels the ``signal_dims`` LOWEST-variance components. X keeps Y's top p - ``deleted``
  components (X = Z[:, :p-m] diag(sigma[:p-m]) Q). Stitching X -> Y falls as deleted components take
  the task with them, while they carry a tiny share of the variance (``meta['deleted_variance']``);
  Y -> X stays 1 (X is a linear function of Y).
"""
from __future__ import annotations

import numpy as np

from scenarios._data import anisotropic_representation, log_spectrum, random_orthogonal, rms_spread, rng_for
from scenarios._registry import generator, sweep_points
from scenarios.readout import LABELINGS, Readout, make_labeling
from scenarios.relevance import SIGNAL_PARAMS, check_signal_params, signal_pair
from scenarios.stitching import Pair, make_case
from scenarios.types import Scenario

__all__ = ["independent_pair", "low_variance_pair", "outlier_pair"]

TASK_PARAMS = {"n": 500, "signal_dims": 4, "classes": 4, "labeling": "linear"}
TASK_CHOICES = {"labeling": LABELINGS}


def _check_task(params: dict) -> None:
    if params["n"] < 8 or params["signal_dims"] < 1 or params["classes"] < 2:
        raise ValueError("need n >= 8, signal_dims >= 1, classes >= 2")


def _generate(scenario: Scenario, seed: int, make_pair):
    """One case per sweep point: make_pair(scenario, seed, params) -> (Pair, meta)."""
    for point in sweep_points(scenario.params, scenario.sweep):
        pair, meta = make_pair(scenario, seed, point.params)
        yield make_case(scenario, seed, point.case, point.param, pair, **meta)


def independent_pair(scenario: Scenario, seed: int, params: dict) -> tuple[Pair, dict]:
    """Independent isotropic X, Y [n, p], each with a random linear readout."""
    x, readout_x = anisotropic_representation(rng_for(scenario.name, seed, "x"), params["n"], params["p"], 1.0,
                                              params["signal_dims"], params["classes"], params["labeling"])
    y, readout_y = anisotropic_representation(rng_for(scenario.name, seed, "y"), params["n"], params["p"], 1.0,
                                              params["signal_dims"], params["classes"], params["labeling"])
    return Pair(x, y, readout_x, readout_y), {"p_over_n": params["p"] / params["n"]}


@generator("estimator.independent", family="estimator", params={**TASK_PARAMS, "n": 256, "p": 64},
           choices=TASK_CHOICES, check=_check_task)
def independent(scenario: Scenario, seed: int):
    """Independent representations; stitching at chance (``meta['chance']``)."""
    yield from _generate(scenario, seed, independent_pair)


OUTLIER_PARAMS = {**TASK_PARAMS, "signal_dims": 8, "noise_channels": 24, "outlier_fraction": 0.02,
                  "outlier_distance": 10.0}


def _signal_params(params: dict) -> dict:
    """relevance.signal_pair's parameters for identical (up to rotation) X and Y."""
    shared = {key: params[key] for key in ("n", "signal_dims", "classes", "labeling", "noise_channels")}
    return {**SIGNAL_PARAMS, **shared, "shared_noise": 1.0}


def _check_outliers(params: dict) -> None:
    _check_task(params)
    check_signal_params(_signal_params(params))
    if params["noise_channels"] < 1:
        raise ValueError("noise_channels must be >= 1 (outliers move along irrelevant channels)")
    if not 0.0 <= params["outlier_fraction"] < 0.5 or params["outlier_distance"] < 0:
        raise ValueError("need 0 <= outlier_fraction < 0.5 and outlier_distance >= 0")


def outlier_pair(scenario: Scenario, seed: int, params: dict) -> tuple[Pair, dict]:
    """X, Y equal up to a rotation, then round(fraction n) rows of Y moved along one irrelevant direction."""
    pair = signal_pair(scenario, seed, _signal_params(params))
    rng = rng_for(scenario.name, seed, "outliers")
    n, k = pair.y.shape[0], params["signal_dims"]
    rows = rng.choice(n, size=int(round(params["outlier_fraction"] * n)), replace=False)
    direction = rng.standard_normal(pair.y.shape[1] - k)
    y = pair.y.copy()
    y[rows, k:] += params["outlier_distance"] * rms_spread(pair.y) * direction / np.linalg.norm(direction)
    return Pair(pair.x, y, pair.readout_x, pair.readout_y), {"outliers": len(rows)}


@generator("estimator.outliers", family="estimator", params=OUTLIER_PARAMS, choices=TASK_CHOICES,
           check=_check_outliers)
def outliers(scenario: Scenario, seed: int):
    """Outliers in Y along irrelevant channels; stitching stays 1 in both directions."""
    yield from _generate(scenario, seed, outlier_pair)


LOW_VARIANCE_PARAMS = {**TASK_PARAMS, "p": 32, "condition": 100.0, "deleted": 0}


def _check_low_variance(params: dict) -> None:
    _check_task(params)
    if not 0 <= params["deleted"] < params["p"] or params["signal_dims"] > params["p"]:
        raise ValueError("need 0 <= deleted < p and signal_dims <= p")
    if params["condition"] < 1:
        raise ValueError("condition must be >= 1")


def low_variance_pair(scenario: Scenario, seed: int, params: dict) -> tuple[Pair, dict]:
    """X = Y's top p - deleted components; Y's readout labels its signal_dims lowest-variance components.

    X's readout is the same labeling of the same components read in X, deleted ones set to 0.
    """
    rng = rng_for(scenario.name, seed, "base")
    n, p, k, kept = params["n"], params["p"], params["signal_dims"], params["p"] - params["deleted"]
    sigma = log_spectrum(p, params["condition"])
    scores = rng.standard_normal((n, p))
    rotation_y, rotation_x = random_orthogonal(rng, p), random_orthogonal(rng, kept)
    y = scores * sigma @ rotation_y
    x = scores[:, :kept] * sigma[:kept] @ rotation_x
    task = np.arange(p - k, p)  # the components the readout uses (Z[:, task] are the task features)
    labeling = make_labeling(params["labeling"], rng_for(scenario.name, seed, "labeling"), scores[:, task],
                             params["classes"])
    decoder_y = rotation_y.T[:, task] / sigma[task]
    decoder_x = np.zeros((kept, k))
    visible = task < kept
    decoder_x[:, visible] = rotation_x.T[:, task[visible]] / sigma[task[visible]]
    deleted_variance = float(np.sum(sigma[kept:] ** 2) / np.sum(sigma**2))
    return (Pair(x, y, Readout.linear(decoder_x, labeling), Readout.linear(decoder_y, labeling)),
            {"deleted_variance": deleted_variance})


@generator("estimator.low_variance_pcs", family="estimator", params=LOW_VARIANCE_PARAMS, choices=TASK_CHOICES,
           check=_check_low_variance)
def low_variance_pcs(scenario: Scenario, seed: int):
    """X lacks Y's ``deleted`` lowest-variance components; stitching X -> Y falls, Y -> X stays 1."""
    yield from _generate(scenario, seed, low_variance_pair)
