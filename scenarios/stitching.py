"""The functional reference of generated cases: linear stitching scored against the target's readout.

stitch(X -> Y) = fraction of held-out samples i with readout_Y(f(x_i)) == readout_Y(y_i), where
f(x) = [x, 1] B and B minimizes ||[X_train, 1] B - Y_train||_F (least squares with intercept, on a
training split). It is the "direct matching" stitch of Csiszarik et al. 2021 (least-squares
initialization, no task-loss training) on synthetic data, and it is directional (Bansal, Nakkiran &
Barak 2021): X -> Y asks whether Y's function can be computed from X. 1 means no loss of function;
for independent representations it is at chance: no more than max_c P(c), the rate of Y's most
frequent class (the agreement of the best constant guess).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scenarios._data import rng_for
from scenarios.readout import Readout
from scenarios.types import Case, Scenario

__all__ = ["TRAIN_FRACTION", "Pair", "chance_agreement", "fit_linear_map", "make_case", "split_indices",
           "stitch_score"]

TRAIN_FRACTION = 0.5


@dataclass(frozen=True)
class Pair:
    """Two representations of the same n stimuli, each with the readout it computes."""

    x: np.ndarray
    y: np.ndarray
    readout_x: Readout
    readout_y: Readout

    def swapped(self) -> Pair:
        return Pair(self.y, self.x, self.readout_y, self.readout_x)


def split_indices(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A random (train, test) split of range(n), TRAIN_FRACTION of the samples for training."""
    order = rng.permutation(n)
    cut = int(round(TRAIN_FRACTION * n))
    return np.sort(order[:cut]), np.sort(order[cut:])


def fit_linear_map(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """B [p1 + 1, p2] minimizing ||[source, 1] B - target||_F (minimum-norm solution when p1 + 1 > n)."""
    design = np.column_stack([source, np.ones(len(source))])
    return np.linalg.lstsq(design, target, rcond=None)[0]


def stitch_score(source: np.ndarray, target: np.ndarray, target_readout: Readout,
                 split: tuple[np.ndarray, np.ndarray]) -> float:
    """Held-out agreement of target_readout on stitched source with target_readout on target, in [0, 1]."""
    train, test = split
    coef = fit_linear_map(source[train], target[train])
    stitched = source[test] @ coef[:-1] + coef[-1]
    return float(np.mean(target_readout(stitched) == target_readout(target[test])))


def chance_agreement(labels: np.ndarray) -> float:
    """max_c P(c): the most a predictor independent of ``labels`` agrees with them in expectation
    (sum_c P(c) Q(c) <= max_c P(c) for any prediction frequencies Q)."""
    return float(np.max(np.bincount(labels)) / len(labels))


def make_case(scenario: Scenario, seed: int, case: str, param: float | None, pair: Pair,
              **meta: Any) -> Case:
    """A Case from ``pair`` with both stitching directions scored on the seed's split (the same split
    for every case of a (scenario, seed)); ``meta['chance']`` is the chance level of X -> Y stitching
    (:func:`chance_agreement` of Y's held-out labels)."""
    split = split_indices(rng_for(scenario.name, seed, "split"), len(pair.x))
    return Case(
        family=scenario.family,
        scenario=scenario.name,
        case=case,
        seed=seed,
        x=pair.x,
        y=pair.y,
        param=param,
        stitch=stitch_score(pair.x, pair.y, pair.readout_y, split),
        stitch_reverse=stitch_score(pair.y, pair.x, pair.readout_x, split),
        meta={"chance": chance_agreement(pair.readout_y(pair.y[split[1]])), **meta},
    )
