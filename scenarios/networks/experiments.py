"""The networks family's experiments as scenario generators (DESIGN section 6).

Every case pairs one layer of one model (X) with one layer of another (Y): activations on the probe set
(test split), brought to float64 [n, p] by the ``conv`` convention recorded in ``meta``; ``stitch`` is the
relative accuracy of the trained stitch X -> Y (A = X's model up to X's layer, B = Y's model after Y's
layer), ``stitch_reverse`` that of Y -> X; ``meta`` adds the direct-matching (least-squares) scores, the
models, layers, accuracies and sparsities. A generator's ``seed`` s uses model seeds s and s + 1.

Experiments:
1. ``networks.seed_pairs``: same layer of two seeds, dense-dense and pruned-pruned (IMP).
2. ``networks.pruning_identity``: sim(M_s, prune(M_s)) vs sim(prune(M_s+1), M_s) (cases ``same_seed``,
   ``other_seed``).
3. ``networks.pruning_progression``: M_s vs M_s pruned by one method, swept over steps (param: sparsity).
4. ``networks.distillation``: teacher vs distilled student, same student trained alone, pruned teacher.
5. Layer identification (Kornblith et al. 2019): ``analysis.layer_identification`` over the cases of 6.
6. ``networks.layer_pairs``: every layer pair of two seeds (dense or pruned): measure vs stitching.
"""
from __future__ import annotations

import functools
from typing import Iterable

import torch
from torch import nn

from scenarios import Case, Scenario, generator
from scenarios.networks import zoo
from scenarios.networks.activations import as_matrix
from scenarios.networks.models import ARCHITECTURES, build, config_for, layer_names
from scenarios.networks.zoo import Setup

__all__ = ["COMMON_PARAMS", "seed_pairs", "pruning_identity", "pruning_progression", "distillation", "layer_pairs"]

#: Parameters every networks generator takes (name -> default); the defaults are the CPU profile.
COMMON_PARAMS = {
    "data": "digits",            # digits | cifar10 | imagefolder
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
    "imp_rounds": 3,             # IMP rounds of "pruned" models: sparsity 1 - 0.8^rounds
    "probe_size": 500,           # probe images from the test split (0: all)
    "conv": "pool",              # flatten | positions | pool (metrics.CONVENTIONS); pool: channels are features
    "device": "",                # "" -> $STITCHBENCH_DEVICE, else cuda when available, else cpu
    "cache_dir": "",             # "" -> $STITCHBENCH_CACHE, else ~/.cache/stitchbench
}
COMMON_CHOICES = {
    "data": ("digits", "cifar10", "imagefolder"),
    "optimizer": ("sgd", "adam"),
    "lr_schedule": ("cosine", "step"),
    "conv": ("flatten", "positions", "pool"),
}
ARCH_CHOICES = tuple(ARCHITECTURES)
PRUNING_METHODS = ("imp", "magnitude_global", "magnitude_layer", "obd", "structured_l1", "cka_block")


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


def _make_case(scenario: Scenario, seed: int, setup: Setup, case: str, a: dict, layer_a: str, b: dict,
               layer_b: str, conv: str, param: float | None = None, **meta) -> Case:
    """One case: X = layer_a of model a, Y = layer_b of model b, with stitching both ways."""
    forward = zoo.stitch_scores(setup, a, layer_a, b, layer_b)
    backward = zoo.stitch_scores(setup, b, layer_b, a, layer_a)
    record_a, record_b = zoo.model_record(setup, a), zoo.model_record(setup, b)
    x, y = zoo.activations(setup, a, layer_a), zoo.activations(setup, b, layer_b)
    return Case(
        family=scenario.family, scenario=scenario.name, case=case, seed=seed,
        x=as_matrix(x, conv), y=as_matrix(y, conv), param=param,
        stitch=forward["relative_trained"], stitch_reverse=backward["relative_trained"],
        meta={"layer_x": layer_a, "layer_y": layer_b, "model_x": zoo.describe(a), "model_y": zoo.describe(b),
              "conv": conv, "shape_x": list(x.shape[1:]), "shape_y": list(y.shape[1:]),
              "stitch_direct": forward["relative_direct"], "stitch_direct_reverse": backward["relative_direct"],
              "accuracy_x": record_a["accuracy"], "accuracy_y": record_b["accuracy"],
              "sparsity_x": record_a["sparsity"], "sparsity_y": record_b["sparsity"], **meta},
    )


def _networks_generator(name: str, params: dict, choices: dict | None = None, **options):
    """Register a ``networks.`` generator with the common parameters and choices added."""
    return generator(f"networks.{name}", family="networks", params={**COMMON_PARAMS, **params},
                     choices={**COMMON_CHOICES, **(choices or {})}, **options)


def _check_pairs(params: dict) -> None:
    unknown = set(params["pairs"].split(",")) - {"dense", "pruned"}
    if unknown:
        raise ValueError(f"pairs must be a comma-separated subset of 'dense,pruned'; unknown: {sorted(unknown)}")


@_networks_generator("seed_pairs", {"arch": "cnn", "pairs": "dense,pruned"}, {"arch": ARCH_CHOICES},
                     check=_check_pairs)
def seed_pairs(scenario: Scenario, seed: int) -> Iterable[Case]:
    """Experiment 1: each layer of seeds s and s + 1, both dense (``dense/<layer>``) and both pruned by
    ``imp_rounds`` IMP rounds (``pruned/<layer>``)."""
    p = scenario.params
    setup = Setup.from_params(p)
    models = {"dense": [zoo.trained(setup, p["arch"], s) for s in (seed, seed + 1)]}
    models["pruned"] = [zoo.imp(setup, m, p["imp_rounds"]) for m in models["dense"]]
    for pair in p["pairs"].split(","):
        a, b = models[pair]
        for layer in _layers(p["arch"]):
            yield _make_case(scenario, seed, setup, f"{pair}/{layer}", a, layer, b, layer, p["conv"],
                             arch=p["arch"], pair=pair)


def _identity_ids(params: dict, sweep) -> list[str]:
    return ["same_seed", "other_seed"]


@_networks_generator("pruning_identity", {"arch": "cnn", "layer": ""}, {"arch": ARCH_CHOICES},
                     case_ids=_identity_ids)
def pruning_identity(scenario: Scenario, seed: int) -> Iterable[Case]:
    """Experiment 2, "pruning keeps identity": ``same_seed`` = (M_s, IMP(M_s)), ``other_seed`` =
    (IMP(M_s+1), M_s), at ``layer`` (default: the last stitchable one)."""
    p = scenario.params
    setup = Setup.from_params(p)
    layer = _layer(p["arch"], p["layer"])
    dense = [zoo.trained(setup, p["arch"], s) for s in (seed, seed + 1)]
    pruned = [zoo.imp(setup, m, p["imp_rounds"]) for m in dense]
    yield _make_case(scenario, seed, setup, "same_seed", dense[0], layer, pruned[0], layer, p["conv"], arch=p["arch"])
    yield _make_case(scenario, seed, setup, "other_seed", pruned[1], layer, dense[0], layer, p["conv"], arch=p["arch"])


def _pruned_at(setup: Setup, base: dict, method: str, step: int) -> dict:
    """``base`` pruned by ``method`` at progression step ``step`` (0: ``base`` itself). Weight methods
    reach sparsity 1 - 0.8^step (IMP by rounds, the others at once), structured L1 removes that fraction
    of the filters, CKA-guided removal removes ``step`` blocks."""
    amount = 1 - 0.8 ** step
    if step == 0:
        return base
    if method == "imp":
        return zoo.imp(setup, base, step)
    if method == "structured_l1":
        return zoo.structured(setup, base, amount)
    if method == "cka_block":
        return zoo.cka_blocks(setup, base, step)
    scores, scope = {"magnitude_global": ("magnitude", "global"), "magnitude_layer": ("magnitude", "layer"),
                     "obd": ("obd", "global")}[method]
    return zoo.one_shot(setup, base, amount, scores, scope)


def _check_progression(params: dict) -> None:
    if params["method"] == "cka_block":
        removable = _skeleton(params["arch"])
        if not hasattr(removable, "removable_blocks"):
            raise ValueError(f"method 'cka_block' needs a ResNet architecture, not {params['arch']!r}")
        if params["step"] > len(removable.removable_blocks()):
            raise ValueError(f"{params['arch']!r} has only {len(removable.removable_blocks())} removable blocks")


@_networks_generator("pruning_progression", {"arch": "cnn", "layer": "", "method": "imp", "step": 1},
                     {"arch": ARCH_CHOICES, "method": PRUNING_METHODS}, check=_check_progression)
def pruning_progression(scenario: Scenario, seed: int) -> Iterable[Case]:
    """Experiment 3: M_s against M_s pruned by ``method`` at each swept ``step`` (case ``step=k``;
    ``param`` is the sparsity reached: the fraction of prunable weights, or of parameters, removed)."""
    p = scenario.params
    setup = Setup.from_params(p)
    layer = _layer(p["arch"], p["layer"])
    base = zoo.trained(setup, p["arch"], seed)
    steps = scenario.sweep.values if scenario.sweep else (p["step"],)
    for step in steps:
        pruned = _pruned_at(setup, base, p["method"], step)
        sparsity = zoo.model_record(setup, pruned)["sparsity"]
        yield _make_case(scenario, seed, setup, f"step={step}", base, layer, pruned, layer, p["conv"],
                         param=sparsity, arch=p["arch"], method=p["method"], step=step, sparsity=sparsity)


@_networks_generator("training_progression", {"arch": "cnn", "layer": "", "epoch": 1}, {"arch": ARCH_CHOICES})
def training_progression(scenario: Scenario, seed: int) -> Iterable[Case]:
    """Experiment 3 over training time: the checkpoint of M_s's training run after each swept ``epoch`` (X)
    against the trained M_s (Y), case ``epoch=e``, ``param`` e (the last epoch is M_s itself). The trained
    model is Y so that every stitch X -> Y of a seed is relative to the same accuracy, acc(M_s)."""
    p = scenario.params
    setup = Setup.from_params(p)
    layer = _layer(p["arch"], p["layer"])
    final = zoo.trained(setup, p["arch"], seed)
    for epoch in scenario.sweep.values if scenario.sweep else (p["epoch"],):
        early = zoo.checkpoint(final, int(epoch))
        yield _make_case(scenario, seed, setup, f"epoch={epoch}", early, layer, final, layer, p["conv"],
                         param=float(epoch), arch=p["arch"], epoch=int(epoch))


@_networks_generator("distillation", {"arch": "cnn", "student": "cnn_small", "temperature": 4.0, "alpha": 0.9},
                     {"arch": ARCH_CHOICES, "student": ARCH_CHOICES})
def distillation(scenario: Scenario, seed: int) -> Iterable[Case]:
    """Experiment 4: teacher M_s (X) against, layer by layer (Y): ``distilled`` (the student
    architecture trained on Hinton et al.'s loss), ``scratch`` (the same student trained on labels
    alone), ``structured`` (the teacher with half its filters removed by L1 norm: the student's widths
    when the student is the half-width preset), ``imp`` (the teacher after ``imp_rounds`` IMP rounds)."""
    p = scenario.params
    setup = Setup.from_params(p)
    teacher = zoo.trained(setup, p["arch"], seed)
    students = {
        "distilled": zoo.distilled(setup, teacher, p["student"], seed, p["temperature"], p["alpha"]),
        "scratch": zoo.trained(setup, p["student"], seed),
        "structured": zoo.structured(setup, teacher, 0.5),
        "imp": zoo.imp(setup, teacher, p["imp_rounds"]),
    }
    for kind, student in students.items():
        for layer in _layers(p["arch"]):
            yield _make_case(scenario, seed, setup, f"{kind}/{layer}", teacher, layer, student, layer, p["conv"],
                             arch=p["arch"], student=kind)


@_networks_generator("layer_pairs", {"arch": "cnn", "pair": "dense"},
                     {"arch": ARCH_CHOICES, "pair": ("dense", "pruned")})
def layer_pairs(scenario: Scenario, seed: int) -> Iterable[Case]:
    """Experiments 5 and 6: every (layer of seed s, layer of seed s + 1), case ``<layer_x>-><layer_y>``,
    both models dense or both pruned by ``imp_rounds`` IMP rounds; ``meta`` holds the layer indices."""
    p = scenario.params
    setup = Setup.from_params(p)
    a, b = (zoo.trained(setup, p["arch"], s) for s in (seed, seed + 1))
    if p["pair"] == "pruned":
        a, b = zoo.imp(setup, a, p["imp_rounds"]), zoo.imp(setup, b, p["imp_rounds"])
    layers = _layers(p["arch"])
    for i, layer_x in enumerate(layers):
        for j, layer_y in enumerate(layers):
            yield _make_case(scenario, seed, setup, f"{layer_x}->{layer_y}", a, layer_x, b, layer_y, p["conv"],
                             arch=p["arch"], pair=p["pair"], index_x=i, index_y=j)
