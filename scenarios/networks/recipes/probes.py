"""Probe recipes: a layer's activations on the training images, linear probes fitted on them, and the
class-discriminant (task-relevant) subspace of a layer.

:class:`TrainingActivations` (a layer on the training images, one row per image), :class:`DeletionProbe`
(a linear probe with principal components deleted: Ding et al.'s test), :class:`RelevantBasis` (the
class-discriminant subspace, ``subspaces.relevant_basis``); :func:`relevance_fields` splits any model's
layer into its relevant and irrelevant parts (what ``plan.PlannedCase.relevance`` records in a case's
meta), :func:`relevance_recipes` lists what it reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from scenarios.networks.activations import as_matrix, record
from scenarios.networks.recipes.base import ModelRecipe, Recipe, Setup
from scenarios.networks.recipes.references import Activations
from scenarios.networks.subspaces import delete_components, linear_probe, relevant_basis, split, total_variance

__all__ = ["ROW_CONVENTIONS", "check_row_convention", "TrainingActivations", "DeletionProbe", "RelevantBasis",
           "probe_matrix", "probe_labels", "relevance_recipes", "relevance_fields"]

#: The conv conventions that keep one row per image (the probes need each row's label).
ROW_CONVENTIONS = ("pool", "flatten")


def check_row_convention(conv: str) -> None:
    """ValueError unless ``conv`` keeps one row per image (:data:`ROW_CONVENTIONS`)."""
    if conv not in ROW_CONVENTIONS:
        raise ValueError(f"conv must be one of {ROW_CONVENTIONS} (one row per image, for the probes' labels), "
                         f"got {conv!r}")


@dataclass(frozen=True)
class TrainingActivations(Recipe):
    """Activations of ``layer`` of ``model`` on the training images, as the float64 [n, p] matrix of conv
    convention ``conv`` (``activations.as_matrix``)."""

    kind: ClassVar[str] = "training_activations"
    action: ClassVar[str] = "recording"
    banked: ClassVar[bool] = False
    model: ModelRecipe
    layer: str
    conv: str

    def __post_init__(self):
        check_row_convention(self.conv)

    def describe(self) -> str:
        return f"{self.model.describe()}:{self.layer} on the training images ({self.conv})"

    def build(self, setup):
        net, _ = self.model.load(setup)
        acts = record(net, self.model.data.load().x_train, [self.layer], setup.device, dtype=torch.float64)[self.layer]
        return {"activations": torch.from_numpy(as_matrix(acts, self.conv))}

    def matrix(self, setup: Setup) -> np.ndarray:
        """The entry's activations, float64 [n_train, p]."""
        return self.fetch(setup)["activations"].numpy()

    def labels(self) -> np.ndarray:
        """The training labels of the model's data."""
        return self.model.data.load().y_train.numpy()


def probe_matrix(setup: Setup, probe: Activations, conv: str) -> np.ndarray:
    """The probe set's activations ``probe`` as the float64 [n, p] matrix of conv convention ``conv``."""
    return as_matrix(probe.fetch(setup)["activations"], conv)


def probe_labels(probe: Activations, n: int) -> np.ndarray:
    """The labels of the first ``n`` test images (the probe set's rows)."""
    return probe.source.data.load().y_test[:n].numpy()


@dataclass(frozen=True)
class DeletionProbe(Recipe):
    """The linear probe (``subspaces.linear_probe``) fitted on ``train`` with its ``k`` ``which`` principal
    components deleted (``subspaces.delete_components``; k = 0: none), scored on ``probe`` (the probe set's
    activations of the same layer) with the same deletion: its accuracy and predictions."""

    kind: ClassVar[str] = "deletion_probe"
    action: ClassVar[str] = "probing"
    train: TrainingActivations
    probe: Activations
    which: str
    k: int

    def describe(self) -> str:
        return f"{self.probe.describe()}, {self.which} {self.k} principal components deleted"

    def build(self, setup):
        test = probe_matrix(setup, self.probe, self.train.conv)
        train, test = delete_components(self.train.matrix(setup), test, self.k, self.which)
        predictions = linear_probe(train, self.train.labels()).predict(test)
        accuracy = float(np.mean(predictions == probe_labels(self.probe, len(test))))
        return {"accuracy": accuracy, "predictions": torch.from_numpy(predictions)}


@dataclass(frozen=True)
class RelevantBasis(Recipe):
    """The orthonormal basis Q [p, r] of the class-discriminant subspace of ``train``
    (``subspaces.relevant_basis``), float64."""

    kind: ClassVar[str] = "relevant_basis"
    action: ClassVar[str] = "fitting"
    train: TrainingActivations

    def describe(self) -> str:
        return f"the relevant subspace of {self.train.describe()}"

    def build(self, setup):
        basis = relevant_basis(self.train.matrix(setup), self.train.labels(), self.train.model.data.load().num_classes)
        return {"basis": torch.from_numpy(basis)}

    def matrix(self, setup: Setup) -> np.ndarray:
        return self.fetch(setup)["basis"].numpy()


def relevance_recipes(setup: Setup, model: ModelRecipe, layer: str, conv: str = "pool") -> dict[str, Recipe]:
    """What :func:`relevance_fields` reads (to ``prefetch`` with a scenario's other recipes)."""
    return {"basis": RelevantBasis(TrainingActivations(model, layer, conv)),
            "probe": Activations(model, layer, setup.probe_size)}


def relevance_fields(setup: Setup, model: ModelRecipe, layer: str, conv: str = "pool") -> dict:
    """The variance of the relevant and the irrelevant part of ``model``'s ``layer`` on the probe set:
    ``relevant_variance`` = tr(cov(X P)), ``irrelevant_variance`` = tr(cov(X (I - P))) (they sum to
    tr(cov(X))), ``relevant_rank`` = rank P, with P the projector onto the class-discriminant subspace of the
    model's own training activations (:class:`RelevantBasis`; built and cached when missing)."""
    recipes = relevance_recipes(setup, model, layer, conv)
    basis = recipes["basis"].matrix(setup)
    relevant, irrelevant = split(probe_matrix(setup, recipes["probe"], conv), basis)
    return {"relevant_variance": total_variance(relevant), "irrelevant_variance": total_variance(irrelevant),
            "relevant_rank": int(basis.shape[1])}
