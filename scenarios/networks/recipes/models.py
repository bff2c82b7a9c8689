"""Model recipes: models trained from a seed, their checkpoints, untrained controls and distilled students.

- :class:`Trained`: architecture, seed, data, schedule, optionally a label-shuffling seed (a control)
  and a training variant (``variants.Variant``: ReSi's groups);
- :class:`RandomInit`: the architecture's initialization, untrained (a control);
- :class:`Checkpoint`: a :class:`Trained` run stopped after some of its epochs (:func:`checkpoint`);
- :class:`Distilled`: a student architecture trained on the distillation loss of a teacher.

Pruned models are in ``recipes.pruning``. A new model kind is one :class:`~base.ModelRecipe` subclass
here: a frozen dataclass with a unique ``kind``, every field that determines the model, and
:meth:`~base.ModelRecipe.make`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from scenarios.networks.distill import distill
from scenarios.networks.models import build, config_for
from scenarios.networks.recipes.base import DataSpec, DerivedModelRecipe, ModelRecipe, Setup
from scenarios.networks.train import Schedule, accuracy, shuffled_labels, train
from scenarios.networks.variants import Variant

__all__ = ["Trained", "RandomInit", "Checkpoint", "checkpoint", "Distilled"]


def _fresh(arch: str, seed: int, data: DataSpec) -> nn.Module:
    """``arch`` initialized under ``torch.manual_seed(seed)`` for ``data``'s images and classes."""
    dataset = data.load()
    torch.manual_seed(seed)
    return build(config_for(arch, dataset.shape, dataset.num_classes))


@dataclass(frozen=True)
class Trained(ModelRecipe):
    """``arch`` trained from seed ``seed`` on ``data`` with ``schedule``; with ``shuffle_labels`` set,
    on training labels permuted by that seed (the label-randomization control: no learned function);
    ``variant`` a training variant of ReSi's groups (``variants.Variant``: part of the labels shuffled,
    a shortcut mark, noise augmentation)."""

    kind: ClassVar[str] = "trained"
    arch: str
    seed: int
    data: DataSpec
    schedule: Schedule
    shuffle_labels: int | None = None
    variant: Variant = Variant()

    def describe(self) -> str:
        shuffled = "" if self.shuffle_labels is None else f"/shuffled_labels({self.shuffle_labels})"
        variant = "" if self.variant.plain else f"/{self.variant.describe()}"
        return f"{self.arch}/seed={self.seed}{shuffled}{variant}"

    def run(self, setup: Setup, label: str, stop_after: int | None = None) -> tuple[nn.Module, dict]:
        """Train (up to epoch ``stop_after`` of the schedule); the model and its record."""
        data = self.variant.training_data(self.data.load())
        if self.shuffle_labels is not None:
            data = dataclasses.replace(data, y_train=shuffled_labels(data.y_train, self.shuffle_labels))
        net = _fresh(self.arch, self.seed, self.data)
        result = train(net, data, self.schedule, self.seed, device=setup.device, label=label, stop_after=stop_after,
                       augment=self.variant.augment)
        return net, {"accuracy": result["test_accuracy"], "train_accuracy": result["train_accuracy"], "sparsity": 0.0}

    def make(self, setup):
        return self.run(setup, self.describe())


@dataclass(frozen=True)
class RandomInit(ModelRecipe):
    """``arch`` as initialized from seed ``seed``, never trained (a control: no learned function)."""

    kind: ClassVar[str] = "random_init"
    action: ClassVar[str] = "initializing"
    arch: str
    seed: int
    data: DataSpec

    def describe(self) -> str:
        return f"{self.arch}/seed={self.seed}/random_init"

    def make(self, setup):
        net, data = _fresh(self.arch, self.seed, self.data), self.data.load()
        return net, {"accuracy": accuracy(net, data.x_test, data.y_test, setup.device), "sparsity": 0.0}


@dataclass(frozen=True)
class Checkpoint(DerivedModelRecipe):
    """The run of ``base`` stopped after ``epoch`` epochs of its schedule (see :func:`checkpoint`)."""

    kind: ClassVar[str] = "checkpoint"
    base: Trained
    epoch: int

    def __post_init__(self):
        if not 1 <= self.epoch < self.base.schedule.epochs:
            raise ValueError(f"checkpoint epoch must be in [1, {self.base.schedule.epochs}), got {self.epoch}")

    def describe(self) -> str:
        return f"{self.base.describe()}/epoch={self.epoch}"

    def make(self, setup):
        return self.base.run(setup, self.describe(), stop_after=self.epoch)


def checkpoint(base: Trained, epoch: int) -> ModelRecipe:
    """``base`` stopped after ``epoch`` epochs; ``base`` itself from its last epoch on."""
    return base if epoch >= base.schedule.epochs else Checkpoint(base, epoch)


@dataclass(frozen=True)
class Distilled(ModelRecipe):
    """Student ``arch`` (seed ``seed``) trained on Hinton et al.'s loss against ``teacher``."""

    kind: ClassVar[str] = "distilled"
    teacher: ModelRecipe
    arch: str
    seed: int
    temperature: float
    alpha: float
    schedule: Schedule

    @property
    def data(self) -> DataSpec:
        return self.teacher.data

    def describe(self) -> str:
        return f"{self.arch}/seed={self.seed}/distilled({self.teacher.describe()})"

    def make(self, setup):
        teacher, _ = self.teacher.load(setup)
        net = _fresh(self.arch, self.seed, self.data)
        result = distill(net, teacher, self.data.load(), self.schedule, self.seed, temperature=self.temperature,
                         alpha=self.alpha, device=setup.device)
        return net, {"accuracy": result["test_accuracy"], "sparsity": 0.0}
