"""The networks family's experiments as scenario generators (DESIGN section 6).

Every case pairs one layer of one sender (X: a model, or a control) with one layer of a model (Y):
activations on the probe set (test split), brought to float64 [n, p] by the ``conv`` convention recorded
in ``meta``. Its functional references (``runner.schema.REFERENCE_COLUMNS``): ``stitch`` is the relative
accuracy of the trained stitch X -> Y (A = X's model up to X's layer, B = Y's model after Y's layer),
``stitch_reverse`` that of Y -> X, ``stitch_direct`` / ``stitch_direct_reverse`` those of the
least-squares stitch (fitted on the training images, scored on the test images), and ``agreement`` /
``accuracy_difference`` compare the two whole models' test predictions (None when X is no model).
``meta`` adds the models, layers, accuracies and sparsities. A generator's ``seed`` s uses model seeds
s and s + 1. A generator lists its cases' recipes for every seed of the scenario first and builds the
missing ones in parallel processes (``prefetch``), then reads them.

Experiments:
1. ``networks.seed_pairs``: same layer of two seeds, dense-dense and pruned-pruned (IMP).
2. ``networks.pruning_identity``: sim(M_s, prune(M_s)) vs sim(prune(M_s+1), M_s) (cases ``same_seed``,
   ``other_seed``).
3. ``networks.pruning_progression``: M_s vs M_s pruned by one method, swept over steps (param: sparsity).
4. ``networks.distillation``: teacher vs distilled student, same student trained alone, pruned teacher.
5. Layer identification (Kornblith et al. 2019): ``reports.analysis.layer_identification`` over the cases of 6.
6. ``networks.layer_pairs``: every layer pair of two seeds (dense or pruned): measure vs stitching.
7. ``networks.controls``: senders that carry no learned function (a random initialization, a model
   trained on shuffled labels, class-clustered noise; Smith et al. 2025) and a trained one, each against
   a trained receiver at the same layer.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
from torch import nn

from scenarios import Case, Scenario, generator
from scenarios.networks import zoo
from scenarios.networks.activations import as_matrix
from scenarios.networks.models import ARCHITECTURES, build, config_for, layer_names
from scenarios.networks.prefetch import prefetch
from scenarios.networks.zoo import (ClusteredNoise, Distilled, Imp, ModelRecipe, RandomInit, SenderRecipe, Setup,
                                    StructuredL1, Trained)

__all__ = ["COMMON_PARAMS", "CONTROL_SENDERS", "Pair", "planned", "seed_pairs", "pruning_identity",
           "pruning_progression", "training_progression", "distillation", "layer_pairs", "controls"]

#: Parameters every networks generator takes (name -> default); the defaults are the CPU profile.
COMMON_PARAMS = {
    "data": "digits_corrupted",  # digits_corrupted | digits | cifar10 | imagefolder
    "data_dir": "",              # "" -> $STITCHBENCH_DATA (cifar10, imagefolder)
    "per_class": 0,              # images per class kept (0: all)
    "classes": "",               # imagefolder: comma-separated class folders ("" : all)
    "image_size": 32,            # imagefolder: images resized to this square size
    "epochs": 8,
    "optimizer": "sgd",
    "lr": 0.1,
    "lr_schedule": "cosine",
    "batch_size": 64,
    "finetune_fraction": 0.5,    # fine-tuning after one-shot pruning: this fraction of the epochs
    "stitch_epochs": 4,
    "amp": "",                   # mixed-precision training on CUDA: "" (off) | bf16 | fp16 (off on the CPU)
    "imp_rounds": 3,             # IMP rounds of "pruned" models: sparsity 1 - 0.8^rounds
    "probe_size": 500,           # probe images from the test split (0: all)
    "conv": "pool",              # flatten | positions | pool (metrics.CONVENTIONS); pool: channels are features
    "device": "",                # "" -> $STITCHBENCH_DEVICE, else cuda when available, else cpu
    "cache_dir": "",             # "" -> $STITCHBENCH_CACHE, else ~/.cache/stitchbench
}
COMMON_CHOICES = {
    "data": ("digits_corrupted", "digits", "cifar10", "imagefolder"),
    "optimizer": ("sgd", "adam"),
    "lr_schedule": ("cosine", "step"),
    "conv": ("flatten", "positions", "pool"),
    "amp": ("", "bf16", "fp16"),
}
ARCH_CHOICES = tuple(ARCHITECTURES)
PRUNING_METHODS = tuple(zoo.PRUNING_METHODS)
#: The senders of ``networks.controls``: a trained model, then the controls that carry no learned function.
CONTROL_SENDERS = ("trained", "random_init", "shuffled_labels", "clustered_noise")


@functools.lru_cache(maxsize=None)
def _skeleton(arch: str) -> nn.Module:
    """``arch`` on the meta device (no memory, no initialization): its layer names and blocks, which
    do not depend on the data's shape."""
    config = config_for(arch, (3, 32, 32), 10)
    with torch.device("meta"):
        return build(config)


def _layers(arch: str) -> list[str]:
    """Stitchable layer names of ``arch``."""
    return layer_names(_skeleton(arch))


def _layer(arch: str, layer: str) -> str:
    """``layer``, or the last stitchable layer of ``arch`` when empty."""
    return layer or _layers(arch)[-1]


@dataclass(frozen=True)
class Pair:
    """One planned case: X = ``layer_x`` of ``sender``, Y = ``layer_y`` of ``receiver``; ``param`` the
    case's parameter (with ``param_is_sparsity``: the sparsity Y's model reached, known once it is built);
    ``reverse``: whether to stitch Y -> X too (not into a receiver that carries no function);
    ``relevance``: a conv convention to record the variance of each layer's task-relevant and
    irrelevant part in (``probing.relevance_fields``, meta ``relevant_variance_x`` ...; "" for none)."""

    case: str
    sender: SenderRecipe
    layer_x: str
    receiver: ModelRecipe
    layer_y: str
    param: float | None = None
    param_is_sparsity: bool = False
    reverse: bool = True
    relevance: str = ""
    meta: dict = field(default_factory=dict)

    def recipes(self, setup: Setup) -> dict[str, zoo.Recipe]:
        """What its case reads (``zoo.case_recipes``, and with ``relevance`` the recipes of
        ``probing.relevance_fields``)."""
        recipes = zoo.case_recipes(setup, self.sender, self.layer_x, self.receiver, self.layer_y, self.reverse)
        if self.relevance:
            from scenarios.networks import probing  # probing builds on this module

            for side, model, layer in (("x", self.sender, self.layer_x), ("y", self.receiver, self.layer_y)):
                split = probing.relevance_recipes(setup, model, layer, self.relevance)
                recipes |= {f"{name}_{side}": recipe for name, recipe in split.items()}
        return recipes


def _make_case(scenario: Scenario, seed: int, setup: Setup, pair: Pair) -> Case:
    """The case of ``pair``: activations, references and records read from the cache (built if missing)."""
    recipes = pair.recipes(setup)
    references = zoo.references(setup, recipes)
    x, y = recipes["x"].fetch(setup)["activations"], recipes["y"].fetch(setup)["activations"]
    record_y = recipes["record_y"].fetch(setup)["record"]
    record_x = recipes["record_x"].fetch(setup)["record"] if "record_x" in recipes else {}
    param, meta = pair.param, dict(pair.meta)
    if pair.param_is_sparsity:
        param = meta["sparsity"] = record_y["sparsity"]
    conv = scenario.params["conv"]
    if pair.relevance:
        from scenarios.networks import probing

        for side, model, layer in (("x", pair.sender, pair.layer_x), ("y", pair.receiver, pair.layer_y)):
            fields = probing.relevance_fields(setup, model, layer, pair.relevance)
            meta |= {f"{key}_{side}": value for key, value in fields.items()}
    return Case(
        family=scenario.family, scenario=scenario.name, case=pair.case, seed=seed,
        x=as_matrix(x, conv), y=as_matrix(y, conv), param=param, **references,
        meta={"layer_x": pair.layer_x, "layer_y": pair.layer_y, "model_x": pair.sender.describe(),
              "model_y": pair.receiver.describe(), "conv": conv, "data": setup.data.name,
              "shape_x": list(x.shape[1:]), "shape_y": list(y.shape[1:]),
              **_side_fields(pair.sender, record_x, "x"), **_side_fields(pair.receiver, record_y, "y"), **meta},
    )


def _side_fields(recipe: SenderRecipe, record: dict, side: str) -> dict:
    """``zoo.model_fields`` of one side of a case, keys suffixed ``_x`` / ``_y`` (``accuracy_x``...)."""
    return {f"{key}_{side}": value for key, value in zoo.model_fields(recipe, record).items()}


def planned(plan: Callable[[Scenario, Setup, int], Any], recipes: Callable[[Any, Setup], Iterable[zoo.Recipe]],
            cases: Callable[[Scenario, Setup, int, Any], Iterable[Case]]) -> Callable[[Scenario, int], Iterable[Case]]:
    """A networks generator ``generate(scenario, seed)`` from ``plan(scenario, setup, seed)`` (what a seed
    compares), ``recipes(plan, setup)`` (what that plan reads) and ``cases(scenario, setup, seed, plan)``:
    it builds the missing recipes of every seed's plan first, in parallel processes (``prefetch``), then
    yields the cases of the seed it is asked for, each with meta ``bank`` (``zoo.bank_source``: the
    network bank's version when it held everything the seed reads, "" when something was built)."""

    def generate(scenario: Scenario, seed: int) -> Iterable[Case]:
        setup = Setup.from_params(scenario.params)
        plans = {s: plan(scenario, setup, s) for s in dict.fromkeys((*scenario.seeds, seed))}
        reads = {s: list(recipes(each, setup)) for s, each in plans.items()}
        prefetch(setup, [recipe for each in reads.values() for recipe in each])
        bank = zoo.bank_source(setup, reads[seed])
        for case in cases(scenario, setup, seed, plans[seed]):
            yield dataclasses.replace(case, meta={**case.meta, "bank": bank})

    return generate


def _pair_recipes(pairs: list[Pair], setup: Setup) -> list[zoo.Recipe]:
    return [recipe for pair in pairs for recipe in pair.recipes(setup).values()]


def _pair_cases(scenario: Scenario, setup: Setup, seed: int, pairs: list[Pair]) -> Iterable[Case]:
    return (_make_case(scenario, seed, setup, pair) for pair in pairs)


def _networks_generator(name: str, params: dict, choices: dict | None = None, **options):
    """Register a ``networks.`` generator from ``pairs(scenario, setup, seed) -> list[Pair]`` (:func:`planned`:
    every seed's recipes built first, then the seed's cases), with the common parameters and choices added."""

    def register(pairs: Callable[[Scenario, Setup, int], list[Pair]]):
        generate = functools.wraps(pairs)(planned(pairs, _pair_recipes, _pair_cases))
        return generator(f"networks.{name}", family="networks", params={**COMMON_PARAMS, **params},
                         choices={**COMMON_CHOICES, **(choices or {})}, **options)(generate)

    return register


def _trained(setup: Setup, arch: str, seed: int) -> Trained:
    return Trained(arch, seed, setup.data, setup.schedule)


def _check_pairs(params: dict) -> None:
    unknown = set(params["pairs"].split(",")) - {"dense", "pruned"}
    if unknown:
        raise ValueError(f"pairs must be a comma-separated subset of 'dense,pruned'; unknown: {sorted(unknown)}")


@_networks_generator("seed_pairs", {"arch": "cnn", "pairs": "dense,pruned"}, {"arch": ARCH_CHOICES},
                     check=_check_pairs)
def seed_pairs(scenario: Scenario, setup: Setup, seed: int) -> list[Pair]:
    """Experiment 1: each layer of seeds s and s + 1, both dense (``dense/<layer>``) and both pruned by
    ``imp_rounds`` IMP rounds (``pruned/<layer>``)."""
    p = scenario.params
    models = {"dense": [_trained(setup, p["arch"], s) for s in (seed, seed + 1)]}
    models["pruned"] = [Imp.rounds(setup, m, p["imp_rounds"]) for m in models["dense"]]
    return [Pair(f"{pair}/{layer}", models[pair][0], layer, models[pair][1], layer, meta={"arch": p["arch"], "pair": pair})
            for pair in p["pairs"].split(",") for layer in _layers(p["arch"])]


def _identity_ids(params: dict, sweep) -> list[str]:
    return ["same_seed", "other_seed"]


@_networks_generator("pruning_identity", {"arch": "cnn", "layer": ""}, {"arch": ARCH_CHOICES},
                     case_ids=_identity_ids)
def pruning_identity(scenario: Scenario, setup: Setup, seed: int) -> list[Pair]:
    """Experiment 2, "pruning keeps identity": ``same_seed`` = (M_s, IMP(M_s)), ``other_seed`` =
    (IMP(M_s+1), M_s), at ``layer`` (default: the last stitchable one)."""
    p = scenario.params
    layer = _layer(p["arch"], p["layer"])
    dense = [_trained(setup, p["arch"], s) for s in (seed, seed + 1)]
    pruned = [Imp.rounds(setup, m, p["imp_rounds"]) for m in dense]
    meta = {"arch": p["arch"]}
    return [Pair("same_seed", dense[0], layer, pruned[0], layer, meta=meta),
            Pair("other_seed", pruned[1], layer, dense[0], layer, meta=meta)]


def _check_progression(params: dict) -> None:
    zoo.PRUNING_METHODS[params["method"]][1](_skeleton(params["arch"]), params["step"])


@_networks_generator("pruning_progression", {"arch": "cnn", "layer": "", "method": "imp", "step": 1},
                     {"arch": ARCH_CHOICES, "method": PRUNING_METHODS}, check=_check_progression)
def pruning_progression(scenario: Scenario, setup: Setup, seed: int) -> list[Pair]:
    """Experiment 3: M_s against M_s pruned by ``method`` at each swept ``step`` (case ``step=k``;
    ``param`` is the sparsity reached: the fraction of prunable weights, or of parameters, removed).
    Weight methods reach sparsity 1 - 0.8^step (IMP by rounds, the others at once), structured L1
    removes that fraction of the filters, CKA-guided removal removes ``step`` blocks. Each case also
    records how much task-relevant and irrelevant variance each layer holds (``Pair.relevance``; the
    pruning-as-denoising report, ``reports.denoising``)."""
    p = scenario.params
    layer = _layer(p["arch"], p["layer"])
    base = _trained(setup, p["arch"], seed)
    steps = scenario.sweep.values if scenario.sweep else (p["step"],)
    relevance = "" if p["conv"] == "positions" else p["conv"]  # the relevant subspace needs one row per image
    return [Pair(f"step={step}", base, layer, zoo.pruned_at(setup, base, p["method"], step), layer,
                 param_is_sparsity=True, relevance=relevance,
                 meta={"arch": p["arch"], "method": p["method"], "step": step})
            for step in steps]


@_networks_generator("training_progression", {"arch": "cnn", "layer": "", "epoch": 1}, {"arch": ARCH_CHOICES})
def training_progression(scenario: Scenario, setup: Setup, seed: int) -> list[Pair]:
    """Experiment 3 over training time: the checkpoint of M_s's training run after each swept ``epoch`` (X)
    against the trained M_s (Y), case ``epoch=e``, ``param`` e (the last epoch is M_s itself). The trained
    model is Y so that every stitch X -> Y of a seed is relative to the same accuracy, acc(M_s)."""
    p = scenario.params
    layer = _layer(p["arch"], p["layer"])
    final = _trained(setup, p["arch"], seed)
    epochs = scenario.sweep.values if scenario.sweep else (p["epoch"],)
    return [Pair(f"epoch={epoch}", zoo.checkpoint(final, int(epoch)), layer, final, layer, param=float(epoch),
                 meta={"arch": p["arch"], "epoch": int(epoch)})
            for epoch in epochs]


@_networks_generator("distillation", {"arch": "cnn", "student": "cnn_small", "temperature": 4.0, "alpha": 0.9},
                     {"arch": ARCH_CHOICES, "student": ARCH_CHOICES})
def distillation(scenario: Scenario, setup: Setup, seed: int) -> list[Pair]:
    """Experiment 4: teacher M_s (X) against, layer by layer (Y): ``distilled`` (the student
    architecture trained on Hinton et al.'s loss), ``scratch`` (the same student trained on labels
    alone), ``structured`` (the teacher with half its filters removed by L1 norm: the student's widths
    when the student is the half-width preset), ``imp`` (the teacher after ``imp_rounds`` IMP rounds)."""
    p = scenario.params
    teacher = _trained(setup, p["arch"], seed)
    students = {
        "distilled": Distilled(teacher, p["student"], seed, p["temperature"], p["alpha"], setup.schedule),
        "scratch": _trained(setup, p["student"], seed),
        "structured": StructuredL1(teacher, setup.finetune, 0.5),
        "imp": Imp.rounds(setup, teacher, p["imp_rounds"]),
    }
    return [Pair(f"{kind}/{layer}", teacher, layer, student, layer, meta={"arch": p["arch"], "student": kind})
            for kind, student in students.items() for layer in _layers(p["arch"])]


@_networks_generator("layer_pairs", {"arch": "cnn", "pair": "dense"},
                     {"arch": ARCH_CHOICES, "pair": ("dense", "pruned")})
def layer_pairs(scenario: Scenario, setup: Setup, seed: int) -> list[Pair]:
    """Experiments 5 and 6: every (layer of seed s, layer of seed s + 1), case ``<layer_x>-><layer_y>``,
    both models dense or both pruned by ``imp_rounds`` IMP rounds; ``meta`` holds the layer indices."""
    p = scenario.params
    a, b = (_trained(setup, p["arch"], s) for s in (seed, seed + 1))
    if p["pair"] == "pruned":
        a, b = Imp.rounds(setup, a, p["imp_rounds"]), Imp.rounds(setup, b, p["imp_rounds"])
    layers = _layers(p["arch"])
    return [Pair(f"{layer_x}->{layer_y}", a, layer_x, b, layer_y,
                 meta={"arch": p["arch"], "pair": p["pair"], "index_x": i, "index_y": j})
            for i, layer_x in enumerate(layers) for j, layer_y in enumerate(layers)]


def _control_layers(params: dict) -> list[str]:
    """The ``layers`` parameter (comma-separated; empty: every stitchable layer of ``arch``)."""
    return [layer for layer in params["layers"].split(",") if layer] or _layers(params["arch"])


def _check_controls(params: dict) -> None:
    unknown = sorted(set(_control_layers(params)) - set(_layers(params["arch"])))
    if unknown:
        raise ValueError(f"layers {unknown} are not stitchable layers of {params['arch']!r}: {_layers(params['arch'])}")
    if params["noise_scale"] < 0:
        raise ValueError(f"noise_scale must be >= 0, got {params['noise_scale']}")


def _control_ids(params: dict, sweep) -> list[str]:
    return [f"{sender}/{layer}" for sender in CONTROL_SENDERS for layer in _control_layers(params)]


@_networks_generator("controls", {"arch": "cnn", "layers": "", "noise_scale": 1.0}, {"arch": ARCH_CHOICES},
                     check=_check_controls, case_ids=_control_ids)
def controls(scenario: Scenario, setup: Setup, seed: int) -> list[Pair]:
    """Controls that stitching can fool: senders that carry no learned function, and a trained one, each
    (X) against the trained receiver M_s (Y) at the same layer, case ``<sender>/<layer>``:

    - ``trained``: M_s+1, trained like M_s (the reference point);
    - ``random_init``: the architecture as initialized from seed s + 1, never trained;
    - ``shuffled_labels``: the architecture trained from seed s + 1 on training labels shuffled by
      seed s + 1 (Zhang et al. 2017): it memorizes, it does not generalize;
    - ``clustered_noise``: class-clustered Gaussian noise shaped like the layer (Smith et al. 2025): per
      class a random mean, per image that mean plus ``noise_scale`` times standard Gaussian noise, on
      the training and test images alike. It is no model: it has no predictions.

    Only the trained sender is also stitched the other way (receiver -> sender): a control that
    classifies at chance is no receiver, and acc(stitched) / acc(control) would divide by chance.

    ``layers``: the layers compared (comma-separated; empty: every stitchable layer).
    """
    p = scenario.params
    receiver = _trained(setup, p["arch"], seed)
    models = {"trained": _trained(setup, p["arch"], seed + 1),
              "random_init": RandomInit(p["arch"], seed + 1, setup.data),
              "shuffled_labels": Trained(p["arch"], seed + 1, setup.data, setup.schedule, shuffle_labels=seed + 1)}

    def sender(name: str, layer: str) -> SenderRecipe:
        if name in models:
            return models[name]
        return ClusteredNoise(setup.data, zoo.layer_shape(setup.data, p["arch"], layer), seed + 1, p["noise_scale"])

    return [Pair(f"{name}/{layer}", sender(name, layer), layer, receiver, layer, reverse=name == "trained",
                 meta={"arch": p["arch"], "sender": name})
            for name in CONTROL_SENDERS for layer in _control_layers(p)]
