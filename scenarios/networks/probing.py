"""Networks experiments on subspaces of one trained layer (``subspaces``): principal-component deletion and
the "relevance of relevance" hypotheses on real activations; and the relevant and irrelevant variance of a
model's layer along a pruning progression (:func:`relevance_fields`).

Both generators take a layer of the trained model M_s (default: the last stitchable one) on the probe set
as X (``conv`` ``pool`` or ``flatten``: one row per image, so that rows keep their labels), and build Y from
it. Their functional references are linear probes fitted on the training images' activations of the same
layer (:class:`TrainingActivations`) and scored on the probe set, not stitches:

1. ``networks.pc_deletion`` (Ding, Denain & Steinhardt 2021): Y = X with its k top or bottom principal
   components deleted (case ``top=k`` / ``bottom=k``; the components are those of the training
   activations, deleted from both). ``accuracy_difference`` = |acc(probe_Y) - acc(probe_X)|, each probe
   fitted on the training activations with the same deletion (:class:`DeletionProbe`); ``agreement`` the
   fraction of probe images on which the two probes predict the same class. ``meta`` holds both
   accuracies and the fraction of training variance deleted.
2. ``networks.pruning_denoising``: with P the projector onto the class-discriminant subspace of M_s's
   training activations (``subspaces.relevant_basis``, :class:`RelevantBasis`), Y keeps X's relevant part
   X P and replaces its irrelevant part X (I - P): ``h3/scale=f``: f X (I - P) (amplitude); ``h2/other_seed``:
   X' (I - P), X' the same layer of M_s+1 on the same images (structured, but no part of M_s's readout);
   ``h1/noise``: Gaussian noise with the mean and covariance of X (I - P) (seeded), projected onto the
   irrelevant subspace. ``stitch`` = acc(readout on Y Q) / acc(readout on X Q), the readout a linear probe
   fitted on the training activations' relevant coordinates X_train Q (Q the basis, P = Q Q^T). Y Q = X Q
   in every case, so it is 1 up to float rounding; it is computed, not assumed.

A seed s uses models s (and s + 1 for ``h2``); a generator builds the missing recipes of every seed in
parallel processes first (``experiments.planned``), as every networks generator does.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterable, Iterator

import numpy as np
import torch

from scenarios import Case, Scenario, generator
from scenarios._data import rng_for
from scenarios._registry import case_id
from scenarios.networks import zoo
from scenarios.networks.activations import as_matrix, record
from scenarios.networks.experiments import ARCH_CHOICES, COMMON_CHOICES, COMMON_PARAMS, _layer, _trained, planned
from scenarios.networks.subspaces import (DELETIONS, delete_components, gaussian_like, linear_probe, relevant_basis,
                                          split, total_variance)
from scenarios.networks.zoo import Activations, ModelRecipe, Record, Recipe, Setup

__all__ = ["ROW_CONVENTIONS", "TrainingActivations", "DeletionProbe", "RelevantBasis", "relevance_recipes",
           "relevance_fields", "pc_deletion", "pruning_denoising"]

#: The conv conventions that keep one row per image (the probes need each row's label).
ROW_CONVENTIONS = ("pool", "flatten")


def _check_conv(conv: str) -> None:
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
        _check_conv(self.conv)

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


def _probe_matrix(setup: Setup, probe: Activations, conv: str) -> np.ndarray:
    return as_matrix(probe.fetch(setup)["activations"], conv)


def _probe_labels(probe: Activations, n: int) -> np.ndarray:
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
        test = _probe_matrix(setup, self.probe, self.train.conv)
        train, test = delete_components(self.train.matrix(setup), test, self.k, self.which)
        predictions = linear_probe(train, self.train.labels()).predict(test)
        accuracy = float(np.mean(predictions == _probe_labels(self.probe, len(test))))
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
    relevant, irrelevant = split(_probe_matrix(setup, recipes["probe"], conv), basis)
    return {"relevant_variance": total_variance(relevant), "irrelevant_variance": total_variance(irrelevant),
            "relevant_rank": int(basis.shape[1])}


def _model_meta(setup: Setup, model: ModelRecipe, layer: str, conv: str, arch: str) -> dict:
    """The meta both generators record of X's model (``zoo.model_fields``, keys suffixed ``_x``)."""
    fields = zoo.model_fields(model, Record(model).fetch(setup)["record"])
    return {"arch": arch, "layer_x": layer, "layer_y": layer, "model_x": model.describe(), "conv": conv,
            "data": setup.data.name, **{f"{key}_x": value for key, value in fields.items()}}


#: A seed's recipes by name: what its cases read.
Plan = dict[str, Recipe]


def _probing_generator(name: str, params: dict, plan: Callable[[Scenario, Setup, int], Plan],
                       check: Callable[[dict], None], case_ids: Callable):
    """Register ``networks.<name>`` from ``cases(scenario, setup, seed, plan) -> Iterable[Case]`` and
    ``plan(scenario, setup, seed)`` (the seed's recipes by name): the missing recipes of every seed's plan
    are built first (``experiments.planned``), then the seed's cases are made from its plan. The common parameters and
    choices are added; ``check`` also refuses a conv convention without one row per image."""

    def checked(p: dict) -> None:
        _check_conv(p["conv"])
        check(p)

    def register(cases: Callable[[Scenario, Setup, int, Plan], Iterable[Case]]):
        generate = functools.wraps(cases)(planned(plan, lambda recipes, setup: recipes.values(), cases))
        return generator(f"networks.{name}", family="networks", params={**COMMON_PARAMS, **params},
                         choices={**COMMON_CHOICES, "arch": ARCH_CHOICES}, check=checked,
                         case_ids=case_ids)(generate)

    return register


def _swept(params: dict, sweep, name: str) -> tuple:
    """The values of parameter ``name``: the sweep's, else the parameter's own."""
    return tuple(sweep.values) if sweep is not None else (params[name],)


def _check_deletion(p: dict) -> None:
    if p["k"] < 1:
        raise ValueError(f"k (principal components deleted) must be >= 1, got {p['k']}")


def _deletion_ids(p: dict, sweep) -> list[str]:
    return [f"{which}={k}" for which in DELETIONS for k in _swept(p, sweep, "k")]


def _deletion_plan(scenario: Scenario, setup: Setup, seed: int) -> Plan:
    p = scenario.params
    model, layer = _trained(setup, p["arch"], seed), _layer(p["arch"], p["layer"])
    train, probe = TrainingActivations(model, layer, p["conv"]), Activations(model, layer, setup.probe_size)
    deletions = [("top", 0)] + [(which, k) for which in DELETIONS for k in _swept(p, scenario.sweep, "k")]
    return {"train": train, "probe": probe, "record": Record(model),
            **{f"{which}={k}": DeletionProbe(train, probe, which, k) for which, k in deletions}}


@_probing_generator("pc_deletion", {"arch": "cnn", "layer": "", "k": 1}, _deletion_plan, _check_deletion,
                    _deletion_ids)
def pc_deletion(scenario: Scenario, setup: Setup, seed: int, plan: Plan) -> Iterator[Case]:
    """Principal-component deletion on a trained layer (Ding et al. 2021): X = ``layer`` of M_s on the probe
    set, Y = X with its ``k`` top (case ``top=k``) or bottom (``bottom=k``) principal components deleted,
    for each swept ``k``; the references compare linear probes refitted after the deletion (module
    docstring). ``param`` is k."""
    p = scenario.params
    train, x = plan["train"].matrix(setup), _probe_matrix(setup, plan["probe"], p["conv"])
    base = plan["top=0"].fetch(setup)
    meta = _model_meta(setup, plan["train"].model, plan["train"].layer, p["conv"], p["arch"])
    total = total_variance(train)
    for which in DELETIONS:
        for k in _swept(p, scenario.sweep, "k"):
            train_y, y = delete_components(train, x, k, which)
            probe = plan[f"{which}={k}"].fetch(setup)
            yield Case(
                family=scenario.family, scenario=scenario.name, case=f"{which}={k}", seed=seed, x=x, y=y,
                param=float(k), accuracy_difference=abs(probe["accuracy"] - base["accuracy"]),
                agreement=float(np.mean(probe["predictions"].numpy() == base["predictions"].numpy())),
                meta={**meta, "model_y": f"{meta['model_x']} minus its {which} {k} principal components",
                      "which": which, "k": k, "deleted_variance": 1 - total_variance(train_y) / total,
                      "probe_accuracy_x": base["accuracy"], "probe_accuracy_y": probe["accuracy"]},
            )


def _check_denoising(p: dict) -> None:
    if p["scale"] < 0:
        raise ValueError(f"scale (of the irrelevant part) must be >= 0, got {p['scale']}")


#: The cases of ``networks.pruning_denoising`` after the ``h3/scale=f`` sweep.
DENOISING_CONTROLS = ("h2/other_seed", "h1/noise")


def _denoising_ids(p: dict, sweep) -> list[str]:
    return [f"h3/{case_id('scale', f)}" for f in _swept(p, sweep, "scale")] + list(DENOISING_CONTROLS)


def _denoising_plan(scenario: Scenario, setup: Setup, seed: int) -> Plan:
    p = scenario.params
    model, other = (_trained(setup, p["arch"], s) for s in (seed, seed + 1))
    layer = _layer(p["arch"], p["layer"])
    train = TrainingActivations(model, layer, p["conv"])
    return {"train": train, "basis": RelevantBasis(train), "x": Activations(model, layer, setup.probe_size),
            "other": Activations(other, layer, setup.probe_size), "record": Record(model)}


@_probing_generator("pruning_denoising", {"arch": "cnn", "layer": "", "scale": 1.0}, _denoising_plan,
                    _check_denoising, _denoising_ids)
def pruning_denoising(scenario: Scenario, setup: Setup, seed: int, plan: Plan) -> Iterator[Case]:
    """The relevance-of-relevance hypotheses on ``layer`` of M_s (module docstring): Y keeps X's relevant
    part X P and replaces its irrelevant part (cases ``h3/scale=f`` for each swept ``scale``,
    ``h2/other_seed``, ``h1/noise``); ``stitch`` is the relative accuracy of the readout of the relevant part
    on Y. ``param`` is f for the h3 cases."""
    p = scenario.params
    basis, conv = plan["basis"].matrix(setup), p["conv"]
    x = _probe_matrix(setup, plan["x"], conv)
    relevant, irrelevant = split(x, basis)
    labels = _probe_labels(plan["x"], len(x))
    readout = linear_probe(plan["train"].matrix(setup) @ basis, plan["train"].labels())
    accuracy_x = float(np.mean(readout.predict(x @ basis) == labels))
    if accuracy_x == 0:
        raise ValueError(f"{scenario.name}, seed {seed}: the readout of the relevant part gets no probe image "
                         f"right; its relative accuracy is undefined")
    noise = gaussian_like(irrelevant, rng_for(scenario.name, seed, "noise"))
    parts = {f"h3/{case_id('scale', f)}": (f, f * irrelevant) for f in _swept(p, scenario.sweep, "scale")}
    parts |= {"h2/other_seed": (None, split(_probe_matrix(setup, plan["other"], conv), basis)[1]),
              "h1/noise": (None, split(noise, basis)[1])}
    meta = _model_meta(setup, plan["x"].source, plan["x"].layer, conv, p["arch"])
    meta |= {"relevant_rank": int(basis.shape[1]), "relevant_variance_x": total_variance(relevant),
             "irrelevant_variance_x": total_variance(irrelevant), "readout_accuracy_x": accuracy_x}
    for case, (scale, replaced) in parts.items():
        y = relevant + replaced
        accuracy_y = float(np.mean(readout.predict(y @ basis) == labels))
        yield Case(
            family=scenario.family, scenario=scenario.name, case=case, seed=seed, x=x, y=y, param=scale,
            stitch=accuracy_y / accuracy_x,
            meta={**meta, "hypothesis": case.split("/")[0], "model_y": f"{meta['model_x']}: {case}",
                  "irrelevant_variance_y": total_variance(replaced), "readout_accuracy_y": accuracy_y},
        )
