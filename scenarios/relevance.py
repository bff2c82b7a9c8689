"""Relevance family: the "relevance of relevance" hypotheses.

Data. Task signal S [n, k] ~ N(0, I) is labelled by a fixed labeling (linear or radial). Both
representations carry S in k signal channels, each through its own rotation (X: a S Q_x, Y: a S Q_y,
``a`` = signal_amplitude), followed by task-irrelevant channels of amplitude b (noise_amplitude):

    X = [a S Q_x, b N_x]        Y = [a S Q_y, b N_y]        (noise_in = "both")
    X = [a S Q_x]               Y = [a S Q_y, b N_y]        (noise_in = "y")

N_x, N_y are independent of S and of the labels: isotropic noise (H1), or structured (clustered or
low-rank, H2); with shared_noise = r, N_y = sqrt(r) N_x Q + sqrt(1 - r) N'_y (noise correlated between X
and Y, H2). H3 sweeps a, b and the number of noise channels.

Ground truth. Each readout decodes S exactly from the signal channels (decoder Q^T / a, zero weight on
every irrelevant channel) and applies the labeling, so the readout ignores N. The signal channels of Y
are an exact linear function of those of X (and back), so least-squares stitching is 1 in both
directions in every case: function never changes, and a measure that moves with the irrelevant channels
disagrees with function.
"""
from __future__ import annotations

import numpy as np

from scenarios._data import IRRELEVANT_STRUCTURES, irrelevant_channels, random_orthogonal, rng_for
from scenarios._registry import generator, sweep_points
from scenarios.readout import LABELINGS, Readout, make_labeling
from scenarios.stitching import TRAIN_FRACTION, Pair, make_case
from scenarios.types import Scenario

__all__ = ["SIGNAL_PARAMS", "check_signal_params", "signal_pair"]

SIGNAL_PARAMS = {
    "n": 500,
    "signal_dims": 8,
    "classes": 4,
    "labeling": "linear",
    "signal_amplitude": 1.0,
    "noise_channels": 16,
    "noise_amplitude": 1.0,
    "noise_in": "both",
    "structure": "isotropic",
    "shared_noise": 0.0,
}
SIGNAL_CHOICES = {"labeling": LABELINGS, "noise_in": ("both", "y"), "structure": IRRELEVANT_STRUCTURES}


def check_signal_params(params: dict) -> None:
    """Raise ValueError unless stitching can be exact: amplitudes > 0, shared_noise in [0, 1] (only with
    noise in both), and more training samples than X has columns."""
    if params["signal_amplitude"] <= 0 or params["noise_amplitude"] <= 0:
        raise ValueError("signal_amplitude and noise_amplitude must be > 0")
    if not 0.0 <= params["shared_noise"] <= 1.0:
        raise ValueError(f"shared_noise must be in [0, 1], got {params['shared_noise']}")
    if params["shared_noise"] > 0 and params["noise_in"] != "both":
        raise ValueError("shared_noise needs noise_in = 'both'")
    if params["signal_dims"] < 1 or params["classes"] < 2 or params["noise_channels"] < 0:
        raise ValueError("need signal_dims >= 1, classes >= 2, noise_channels >= 0")
    width = params["signal_dims"] + params["noise_channels"] + 1
    if TRAIN_FRACTION * params["n"] <= width:
        raise ValueError(f"n = {params['n']} leaves fewer training samples than the {width} columns "
                         f"(with intercept) of the widest representation")


def signal_pair(scenario: Scenario, seed: int, params: dict) -> Pair:
    """The (X, Y) pair described in the module docstring, channels ordered [signal, irrelevant]."""
    n, k, a, b = params["n"], params["signal_dims"], params["signal_amplitude"], params["noise_amplitude"]
    signal_rng = rng_for(scenario.name, seed, "signal")
    signal = signal_rng.standard_normal((n, k))
    rotation_x, rotation_y = random_orthogonal(signal_rng, k), random_orthogonal(signal_rng, k)
    labeling = make_labeling(params["labeling"], rng_for(scenario.name, seed, "labeling"), signal,
                             params["classes"])

    noise_rng = rng_for(scenario.name, seed, "irrelevant")
    channels, structure, shared = params["noise_channels"], params["structure"], params["shared_noise"]
    noise_x = irrelevant_channels(noise_rng, n, channels, structure)
    noise_y = irrelevant_channels(noise_rng, n, channels, structure)
    if shared > 0:
        rotated = noise_x @ random_orthogonal(noise_rng, channels)
        noise_y = np.sqrt(shared) * rotated + np.sqrt(1 - shared) * noise_y
    if params["noise_in"] == "y":
        noise_x = noise_x[:, :0]

    def representation(rotation: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, Readout]:
        readout = Readout.linear(rotation.T / a, labeling).ignoring(noise.shape[1])
        return np.hstack([a * signal @ rotation, b * noise]), readout

    (x, readout_x), (y, readout_y) = representation(rotation_x, noise_x), representation(rotation_y, noise_y)
    return Pair(x, y, readout_x, readout_y)


@generator("relevance.signal_and_irrelevant", family="relevance", params=SIGNAL_PARAMS,
           choices=SIGNAL_CHOICES, check=check_signal_params, use_case="synthetic")
def signal_and_irrelevant(scenario: Scenario, seed: int):
    """One case per sweep point of :func:`signal_pair`; stitching is 1 in both directions in all."""
    for point in sweep_points(scenario.params, scenario.sweep):
        pair = signal_pair(scenario, seed, point.params)
        yield make_case(scenario, seed, point.case, point.param, pair,
                        signal_channels=point.params["signal_dims"],
                        irrelevant_channels_x=pair.x.shape[1] - point.params["signal_dims"],
                        irrelevant_channels_y=pair.y.shape[1] - point.params["signal_dims"])
