"""Reference recipes: what a case reads besides the models.

:class:`ClusteredNoise` (a sender that is no model: class-clustered noise shaped like a layer; nothing to
store), :class:`Record` (a model's accuracy, sparsity...: a warm run loads no weights), :class:`Activations`
(one layer on the probe set), :class:`Stitch` (sender layer -> receiver layer: trained and direct),
:class:`Agreement` (prediction agreement and accuracy difference of two models, one entry per unordered
pair); :func:`case_recipes` lists what a case X = a sender's layer, Y = a model's layer reads, and
:func:`reference_columns` turns them into the case's reference columns.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import torch

from scenarios.networks.recipes.base import (DataSpec, ModelRecipe, Recipe, SenderRecipe, Setup, keyed_when_set,
                                             test_data)
from scenarios.networks.stitch import ClusteredNoiseSender, Sender, prediction_agreement, stitch_from, stitch_scores
from scenarios.networks.variants import ProbeMarks

__all__ = ["ClusteredNoise", "Record", "Activations", "Stitch", "Agreement", "STITCHES", "at_chance", "case_recipes",
           "reference_columns"]


@dataclass(frozen=True)
class ClusteredNoise(SenderRecipe):
    """Class-clustered Gaussian noise of ``shape`` (Smith et al. 2025; ``stitch.ClusteredNoiseSender``):
    a sender that is a function of the label alone. Computed when used, never stored."""

    kind: ClassVar[str] = "clustered_noise"
    stored: ClassVar[bool] = False
    data: DataSpec
    shape: tuple[int, ...]
    seed: int
    scale: float = 1.0

    def describe(self) -> str:
        return f"clustered_noise/seed={self.seed}"

    def sender(self, setup: Setup, layer: str) -> Sender:
        return ClusteredNoiseSender(self.data.load(), self.shape, self.seed, self.scale, setup.device)

    def probe(self, setup: Setup, layer: str, n: int, marks: ProbeMarks | None = None) -> torch.Tensor:
        """The noise of the first ``n`` test labels (``marks`` change no label: the noise ignores them)."""
        index = torch.arange(n or len(self.data.load().x_test))
        return self.sender(setup, layer)("test", index).cpu()


@dataclass(frozen=True)
class Record(Recipe):
    """The record of ``model`` (accuracy, sparsity...) as a small entry of its own."""

    kind: ClassVar[str] = "record"
    action: ClassVar[str] = "recording"
    model: ModelRecipe

    def describe(self) -> str:
        return f"the record of {self.model.describe()}"

    def build(self, setup):
        return {"record": self.model.fetch(setup)["record"]}


@dataclass(frozen=True)
class Activations(Recipe):
    """Activations of ``layer`` of ``source`` on the probe set (the first ``probe_size`` test images, all
    if 0, marked by ``marks`` where set: ``variants.ProbeMarks``): a float64 forward pass of a model
    (``activations.record``), made from the bank's weights."""

    kind: ClassVar[str] = "activations"
    action: ClassVar[str] = "recording"
    banked: ClassVar[bool] = False
    source: SenderRecipe
    layer: str
    probe_size: int
    marks: ProbeMarks | None = keyed_when_set()

    def describe(self) -> str:
        marked = f" ({self.marks.describe()})" if self.marks is not None else ""
        return f"{self.source.describe()}:{self.layer} on the probe set{marked}"

    def build(self, setup):
        return {"activations": self.source.probe(setup, self.layer, self.probe_size, self.marks)}


@dataclass(frozen=True)
class Stitch(Recipe):
    """``sender`` at ``layer_a`` stitched into ``receiver`` after ``layer_b`` (``stitch.stitch_from``):
    the direct (least-squares) and trained stitch's accuracies (scored by ``stitch.stitch_scores`` when a
    case reads them)."""

    kind: ClassVar[str] = "stitch"
    action: ClassVar[str] = "stitching"
    sender: SenderRecipe
    layer_a: str
    receiver: ModelRecipe
    layer_b: str
    epochs: int
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self):
        if self.sender.data != self.receiver.data:
            raise ValueError(f"stitch: sender {self.sender.describe()} and receiver {self.receiver.describe()} "
                             f"were made on different data")

    def describe(self) -> str:
        return f"{self.sender.describe()}:{self.layer_a} -> {self.receiver.describe()}:{self.layer_b}"

    def build(self, setup):
        net_b, _ = self.receiver.load(setup)
        return stitch_from(self.sender.sender(setup, self.layer_a), net_b, self.layer_b, self.receiver.data.load(),
                           epochs=self.epochs, lr=self.lr, seed=self.seed, device=setup.device)


@dataclass(frozen=True)
class Agreement(Recipe):
    """Prediction agreement and accuracy difference of two models on the test images, marked by
    ``marks`` where set (``variants.ProbeMarks``; the images the probe activations see:
    ``base.test_data``) (``stitch.prediction_agreement``); :meth:`of` orders the pair, so that there is
    one entry per pair."""

    kind: ClassVar[str] = "agreement"
    action: ClassVar[str] = "comparing"
    model_a: ModelRecipe
    model_b: ModelRecipe
    marks: ProbeMarks | None = keyed_when_set()

    @classmethod
    def of(cls, a: ModelRecipe, b: ModelRecipe, marks: ProbeMarks | None = None) -> "Agreement":
        first, second = sorted((a, b), key=lambda r: json.dumps(r.key(), sort_keys=True))
        return cls(first, second, marks)

    def describe(self) -> str:
        marked = f" on test images {self.marks.describe()}" if self.marks is not None else ""
        return f"the predictions of {self.model_a.describe()} and {self.model_b.describe()}{marked}"

    def build(self, setup):
        (net_a, _), (net_b, _) = self.model_a.load(setup), self.model_b.load(setup)
        return prediction_agreement(net_a, net_b, test_data(self.model_a.data, self.marks), setup.device)


#: Which stitches a case reads: both ways, or X -> Y alone (where X's sender carries no function to
#: stitch into: a model at chance, or no model).
STITCHES = ("both", "forward")


def case_recipes(setup: Setup, sender: SenderRecipe, layer_a: str, receiver: ModelRecipe, layer_b: str,
                 stitches: str = "both", marks: ProbeMarks | None = None) -> dict[str, Recipe]:
    """The recipes a case X = ``layer_a`` of ``sender``, Y = ``layer_b`` of ``receiver`` reads: both
    activations and the agreement of two models on the test images marked by ``marks`` (where set:
    ``variants.ProbeMarks``; X, Y and the agreement see the same images), the stitches ``stitches``
    asks for (:data:`STITCHES`; Y -> X never for a sender that is no model; trained and scored on the
    receiver's data as loaded, unmarked), and the records of the models."""
    if stitches not in STITCHES:
        raise ValueError(f"stitches must be one of {STITCHES}, got {stitches!r}")
    recipes = {"x": Activations(sender, layer_a, setup.probe_size, marks),
               "y": Activations(receiver, layer_b, setup.probe_size, marks),
               "forward": Stitch(sender, layer_a, receiver, layer_b, setup.stitch_epochs), "record_y": Record(receiver)}
    if isinstance(sender, ModelRecipe):
        recipes |= {"agreement": Agreement.of(sender, receiver, marks), "record_x": Record(sender)}
        if stitches == "both":
            recipes["backward"] = Stitch(receiver, layer_b, sender, layer_a, setup.stitch_epochs)
    return recipes


#: The reference columns of each stitch a case reads: (trained, direct).
_STITCH_COLUMNS = {"forward": ("stitch", "stitch_direct"), "backward": ("stitch_reverse", "stitch_direct_reverse")}


def _stitch_columns(setup: Setup, recipes: dict[str, Recipe]) -> dict[str, float | None]:
    """The stitch columns of the stitches a case reads (``stitch.stitch_scores``)."""
    columns = {}
    for name, pair in _STITCH_COLUMNS.items():
        if name in recipes:
            stitch = recipes[name]
            scores = stitch_scores(stitch.fetch(setup), stitch.receiver.data.load().num_classes)
            columns |= dict(zip(pair, (scores["trained"], scores["direct"])))
    return columns


def reference_columns(setup: Setup, recipes: dict[str, Recipe]) -> dict[str, float | None]:
    """The reference columns (``runner.schema.REFERENCE_COLUMNS``) of a case from its
    :func:`case_recipes`; None where one does not apply, and for the stitches into a receiver within
    ``stitch.CHANCE_MARGIN`` of chance (not informative: :func:`at_chance` names them)."""
    whole = recipes["agreement"].fetch(setup) if "agreement" in recipes else {}
    return {**dict.fromkeys(column for pair in _STITCH_COLUMNS.values() for column in pair),
            **_stitch_columns(setup, recipes),
            "agreement": whole.get("agreement"), "accuracy_difference": whole.get("accuracy_difference")}


def at_chance(setup: Setup, recipes: dict[str, Recipe]) -> list[str]:
    """The stitch columns of a case that :func:`reference_columns` leaves empty because their receiver is
    within ``stitch.CHANCE_MARGIN`` of chance: not informative (the case's meta ``not_informative``,
    comma-separated)."""
    return [column for column, score in _stitch_columns(setup, recipes).items() if score is None]
