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
- ``estimator.width_null`` (the width confound, Groger, Wen & Brbic 2026): X and Y [n, p] with no sample
  correspondence at any width p: independent (``correspondence = "independent"``), or Y a rotation of X
  whose rows are then shuffled (``"permuted"``: the same samples and geometry, the correspondence
  destroyed). Stitching is at chance (balanced classes: 1 / classes) in both directions at every width,
  so a measure's value should not move with p; biased CKA rises like p / (n + p), a calibrated measure
  stays at 0.
- ``estimator.depth_null`` (the depth confound): L independent layers on each side, the value the
  maximum over the L x L layer pairs (``Case.aggregate = "max"``); the maximum of a noisy statistic rises
  with the number of pairs, though every pair is at chance. Layers are drawn from fixed streams, so a case
  with more layers holds those of the smaller ones.

Both null generators score stitching on ``stitch_samples`` rows of the same representations (the measures
see the first n), so that the chance level of the reference is measured to about 1 %, well inside the
expectations' tolerance; :func:`null_case` builds such a case from any pair with readouts (network
activations included).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from scenarios._data import anisotropic_representation, log_spectrum, random_orthogonal, rms_spread, rng_for
from scenarios._registry import generator, sweep_points
from scenarios.readout import LABELINGS, Readout, make_labeling
from scenarios.relevance import SIGNAL_PARAMS, check_signal_params, signal_pair
from scenarios.stitching import Pair, chance_agreement, make_case, split_indices, stitch_score
from scenarios.types import Case, Scenario

__all__ = ["break_correspondence", "independent_pair", "low_variance_pair", "null_case", "outlier_pair",
           "width_null_pair"]

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
           choices=TASK_CHOICES, check=_check_task, use_case="synthetic")
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
           check=_check_outliers, use_case="synthetic")
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
           check=_check_low_variance, use_case="synthetic")
def low_variance_pcs(scenario: Scenario, seed: int):
    """X lacks Y's ``deleted`` lowest-variance components; stitching X -> Y falls, Y -> X stays 1."""
    yield from _generate(scenario, seed, low_variance_pair)


# ----------------------------------------------------------------------------------------------------
# The width and depth confounds: no correspondence, by construction
# ----------------------------------------------------------------------------------------------------
CORRESPONDENCES = ("independent", "permuted")
NULL_PARAMS = {**TASK_PARAMS, "n": 256, "p": 64, "labeling": "radial", "stitch_samples": 4096,
               "correspondence": "independent"}


def _check_null(params: dict) -> None:
    _check_task(params)
    if params["p"] < 1 or params["stitch_samples"] < 2 * params["n"]:
        raise ValueError("need p >= 1 and stitch_samples >= 2 n (the measures see the first n of them)")


def break_correspondence(pair: Pair, n: int, rng: np.random.Generator) -> Pair:
    """Y's rows shuffled within the first n and, apart, within the rest: the measured block keeps the
    same samples on both sides (the same set, the same geometry), in an order unrelated to X's."""
    order = np.concatenate([rng.permutation(n), n + rng.permutation(len(pair.y) - n)])
    return Pair(pair.x, pair.y[order], pair.readout_x, pair.readout_y)


def null_case(scenario: Scenario, seed: int, case: str, param: float | None, pair: Pair, n: int, **meta) -> Case:
    """A case of X, Y = the first n rows of ``pair``, with both stitching directions scored on all of its
    rows (:func:`scenarios.stitching.make_case`): any pair with readouts, network activations included."""
    full = make_case(scenario, seed, case, param, pair, **meta)
    return dataclasses.replace(full, x=np.ascontiguousarray(pair.x[:n]), y=np.ascontiguousarray(pair.y[:n]))


def _representation(scenario: Scenario, seed: int, params: dict, *stream: str):
    """An isotropic representation [stitch_samples, p] and its readout, from the stream ``stream``."""
    return anisotropic_representation(rng_for(scenario.name, seed, *stream), params["stitch_samples"], params["p"],
                                      1.0, params["signal_dims"], params["classes"], params["labeling"])


def width_null_pair(scenario: Scenario, seed: int, params: dict) -> Pair:
    """Independent X and Y, or Y = X Q (Q a random rotation) with its rows shuffled (:func:`break_correspondence`)."""
    x, readout_x = _representation(scenario, seed, params, "x")
    if params["correspondence"] == "independent":
        y, readout_y = _representation(scenario, seed, params, "y")
        return Pair(x, y, readout_x, readout_y)
    rotation = random_orthogonal(rng_for(scenario.name, seed, "rotation"), params["p"])
    rotated = Pair(x, x @ rotation, readout_x, readout_x.after_affine(rotation, np.zeros(params["p"])))
    return break_correspondence(rotated, params["n"], rng_for(scenario.name, seed, "permutation"))


@generator("estimator.width_null", family="estimator", params=NULL_PARAMS,
           choices={**TASK_CHOICES, "correspondence": CORRESPONDENCES}, check=_check_null,
           use_case="synthetic")
def width_null(scenario: Scenario, seed: int):
    """No correspondence between X and Y at any width; stitching at chance."""
    for point in sweep_points(scenario.params, scenario.sweep):
        params = point.params
        pair = width_null_pair(scenario, seed, params)
        yield null_case(scenario, seed, point.case, point.param, pair, params["n"], p_over_n=params["p"] / params["n"])


DEPTH_PARAMS = {**NULL_PARAMS, "n": 48, "p": 8, "layers": 4}


def _check_depth(params: dict) -> None:
    _check_null(params)
    if params["layers"] < 1:
        raise ValueError("layers must be >= 1")


@generator("estimator.depth_null", family="estimator", params=DEPTH_PARAMS, choices=TASK_CHOICES, check=_check_depth,
           use_case="synthetic")
def depth_null(scenario: Scenario, seed: int):
    """L independent layers per side; the value is the maximum over the L x L pairs; every pair's
    stitching is at chance, and the case records the mean over pairs (no selection, no bias)."""
    for point in sweep_points(scenario.params, scenario.sweep):
        params, layers = point.params, point.params["layers"]
        xs = [_representation(scenario, seed, params, "x", str(layer)) for layer in range(layers)]
        ys = [_representation(scenario, seed, params, "y", str(layer)) for layer in range(layers)]
        split = split_indices(rng_for(scenario.name, seed, "split"), params["stitch_samples"])
        n = params["n"]
        yield Case(
            family=scenario.family,
            scenario=scenario.name,
            case=point.case,
            seed=seed,
            x=np.stack([x[:n] for x, _ in xs]),
            y=np.stack([y[:n] for y, _ in ys]),
            param=point.param,
            stitch=float(np.mean([stitch_score(x, y, readout_y, split) for x, _ in xs for y, readout_y in ys])),
            stitch_reverse=float(np.mean([stitch_score(y, x, readout_x, split) for x, readout_x in xs for y, _ in ys])),
            meta={"chance": float(np.mean([chance_agreement(readout(y[split[1]])) for y, readout in ys])),
                  "layer_pairs": layers * layers},
            aggregate="max",
        )
