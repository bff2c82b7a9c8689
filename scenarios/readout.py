"""Readouts: the function each generated representation computes.

A readout is ``labels = labeling((z - offset) @ decoder)``: a linear decoder from the representation's
coordinates z to task features s, followed by a labeling of s into classes. Generators know how their
data were made, so they give each representation the exact readout of the task in its own coordinates
(not a classifier fitted to it): a channel that the decoder gives zero weight is ignored exactly, and
the tests check it by redrawing such channels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LABELINGS", "Labeling", "Readout", "make_labeling"]

LABELINGS = ("linear", "radial")


@dataclass(frozen=True)
class Labeling:
    """A fixed labeling of task features s [n, k] into classes 0..c-1.

    ``linear``: argmax_c (s W)_c with W [k, c] of unit-norm random columns (a linear multi-class rule).
    ``radial``: the bin of ||s|| between fixed thresholds (a nonlinear rule: shells around the origin).
    """

    kind: str
    weights: np.ndarray | None = None
    thresholds: np.ndarray | None = None

    def __call__(self, s: np.ndarray) -> np.ndarray:
        if self.kind == "linear":
            return np.argmax(s @ self.weights, axis=1)
        return np.searchsorted(self.thresholds, np.linalg.norm(s, axis=1))


def make_labeling(kind: str, rng: np.random.Generator, s: np.ndarray, classes: int) -> Labeling:
    """A labeling of kind ``kind`` for features like ``s``; radial thresholds are the quantiles j/c of
    ||s|| over ``s`` so the classes are balanced on the generated data."""
    if kind == "linear":
        weights = rng.standard_normal((s.shape[1], classes))
        return Labeling("linear", weights=weights / np.linalg.norm(weights, axis=0))
    if kind == "radial":
        quantiles = np.arange(1, classes) / classes
        return Labeling("radial", thresholds=np.quantile(np.linalg.norm(s, axis=1), quantiles))
    raise ValueError(f"unknown labeling {kind!r}; expected one of {LABELINGS}")


@dataclass(frozen=True)
class Readout:
    """labels(z) = labeling((z - offset) @ decoder) for a representation z [n, p]; decoder [p, k]."""

    decoder: np.ndarray
    offset: np.ndarray
    labeling: Labeling

    @classmethod
    def linear(cls, decoder: np.ndarray, labeling: Labeling) -> Readout:
        """The readout with zero offset."""
        return cls(decoder, np.zeros(decoder.shape[0]), labeling)

    def features(self, z: np.ndarray) -> np.ndarray:
        """The task features s = (z - offset) @ decoder."""
        return (z - self.offset) @ self.decoder

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.labeling(self.features(z))

    def after_affine(self, matrix: np.ndarray, shift: np.ndarray) -> Readout:
        """The same function read from y = z @ matrix + shift (matrix invertible):
        z = (y - shift) matrix^-1, so offset' = shift + offset @ matrix and decoder' = matrix^-1 decoder."""
        return Readout(np.linalg.solve(matrix, self.decoder), shift + self.offset @ matrix, self.labeling)

    def ignoring(self, channels: int) -> Readout:
        """The same function on [z, extra] where the ``channels`` extra columns are ignored (zero weight)."""
        zeros = np.zeros((channels, self.decoder.shape[1]))
        return Readout(np.vstack([self.decoder, zeros]), np.concatenate([self.offset, np.zeros(channels)]),
                       self.labeling)
