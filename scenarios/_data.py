"""Data-making helpers shared by the scenario families: seeded streams, random orthogonal maps,
spectra, generic representations with their readout, and task-irrelevant channels. Every function is
pure given its ``rng``."""
from __future__ import annotations

import hashlib

import numpy as np

from scenarios.readout import Readout, make_labeling

__all__ = [
    "IRRELEVANT_STRUCTURES",
    "anisotropic_representation",
    "irrelevant_channels",
    "log_spectrum",
    "random_orthogonal",
    "rms_spread",
    "rng_for",
]

IRRELEVANT_STRUCTURES = ("isotropic", "clusters", "low_rank")
_CLUSTERS = 6
_LOW_RANK = 2
_STRUCTURED_SHARE = 0.9  # share of each structured channel's variance carried by its structure


def rng_for(scenario: str, seed: int, *stream: str) -> np.random.Generator:
    """A numpy Generator determined by (scenario name, seed, stream names) alone.

    The entropy is the SHA-256 digest of the names (never Python's salted ``hash()``), so the data are
    the same in every process and on every platform. Distinct ``stream`` names give independent streams;
    generators draw their shared base data from a fixed stream so that the cases of a sweep differ only
    in the swept parameter (common random numbers).
    """
    key = "\x1f".join((scenario, str(int(seed)), *stream)).encode()
    entropy = int.from_bytes(hashlib.sha256(key).digest()[:16], "little")
    return np.random.default_rng(np.random.SeedSequence(entropy))


def random_orthogonal(rng: np.random.Generator, p: int) -> np.ndarray:
    """A Haar-distributed p x p orthogonal matrix: QR of a Gaussian matrix with the signs of R's
    diagonal moved into Q (Mezzadri 2007, "How to generate random matrices from the classical compact
    groups")."""
    q, r = np.linalg.qr(rng.standard_normal((p, p)))
    return q * np.sign(np.diag(r))


def log_spectrum(p: int, condition: float) -> np.ndarray:
    """p values decreasing geometrically from 1 to 1 / condition (all ones when p == 1)."""
    return np.logspace(0.0, -np.log10(condition), p)


def rms_spread(x: np.ndarray) -> float:
    """sqrt(mean_i ||x_i - mean(x)||^2): the typical distance of a row from the centroid."""
    return float(np.sqrt(((x - x.mean(axis=0)) ** 2).sum(axis=1).mean()))


def irrelevant_channels(rng: np.random.Generator, n: int, channels: int, structure: str) -> np.ndarray:
    """n x channels task-irrelevant features with expected variance 1 per channel.

    ``isotropic``: i.i.d. N(0, 1). ``clusters``: each row is one of 6 Gaussian cluster centres (drawn
    N(0, 1), rows assigned uniformly at random, independently of any label) carrying 90 % of the
    variance, plus isotropic noise. ``low_rank``: a rank-2 factor model F G / sqrt(2) carrying 90 % of
    the variance, plus isotropic noise. Structure is independent of the task by construction.
    """
    noise = rng.standard_normal((n, channels))
    if structure == "isotropic":
        return noise
    if structure == "clusters":
        centres = rng.standard_normal((_CLUSTERS, channels))
        structured = centres[rng.integers(0, _CLUSTERS, size=n)]
    elif structure == "low_rank":
        factors = rng.standard_normal((n, _LOW_RANK))
        loadings = rng.standard_normal((_LOW_RANK, channels))
        structured = factors @ loadings / np.sqrt(_LOW_RANK)
    else:
        raise ValueError(f"unknown structure {structure!r}; expected one of {IRRELEVANT_STRUCTURES}")
    return np.sqrt(_STRUCTURED_SHARE) * structured + np.sqrt(1.0 - _STRUCTURED_SHARE) * noise


def anisotropic_representation(rng: np.random.Generator, n: int, p: int, condition: float, signal_dims: int,
                               classes: int, labeling: str) -> tuple[np.ndarray, Readout]:
    """x = Z diag(sigma) R with Z [n, p] i.i.d. N(0, 1), sigma = log_spectrum(p, condition) and R a random
    rotation (generic data: no invariance holds by accident), and its readout: task features
    s = x W (W [p, signal_dims] Gaussian / sqrt(p)) labelled by ``labeling`` into ``classes`` classes."""
    x = rng.standard_normal((n, p)) * log_spectrum(p, condition) @ random_orthogonal(rng, p)
    decoder = rng.standard_normal((p, signal_dims)) / np.sqrt(p)
    return x, Readout.linear(decoder, make_labeling(labeling, rng, x @ decoder, classes))
