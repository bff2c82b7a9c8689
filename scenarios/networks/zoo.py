"""Recipes (plain dicts) for every model, activation and stitch the experiments use, built on demand
and stored in the cache under the hash of the recipe.

A recipe names everything that determines its result; derived recipes nest the recipe of the model
they start from, so a key changes whenever anything upstream changes:

- ``trained``: architecture, seed, data, schedule;
- ``imp``: one IMP round (learning-rate rewinding) from ``base`` (a trained model or the previous round);
- ``one_shot``: magnitude or OBD pruning of ``amount`` (global or layer-wise), fine-tuned;
- ``structured_l1``: ``fraction`` of filters removed for real, fine-tuned;
- ``cka_block``: ``n_blocks`` residual blocks removed by CKA guidance, fine-tuned after each;
- ``distilled``: a student architecture trained on the distillation loss of a teacher;
- ``record`` of a model (accuracy, sparsity...) on its own, so that a warm run loads no weights;
- ``activations`` of one layer of a model on the probe set; ``stitch`` of (model, layer) -> (model, layer).
"""
from __future__ import annotations

import copy
import functools
import json
import os
from dataclasses import dataclass

import torch
from torch import nn

from scenarios.networks import prune
from scenarios.networks.activations import record
from scenarios.networks.cache import Cache
from scenarios.networks.data import DATA_ENV, Dataset, load
from scenarios.networks.distill import distill
from scenarios.networks.models import build, config_for
from scenarios.networks.stitch import stitch
from scenarios.networks.train import Schedule, default_device, train

__all__ = ["Setup", "trained", "checkpoint", "imp", "one_shot", "structured", "cka_blocks", "distilled", "model",
           "model_record", "activations", "stitch_scores", "describe"]


@dataclass(frozen=True)
class Setup:
    """What every recipe of one run shares: data, schedules, stitching budget, probe, device, cache."""

    data: dict
    schedule: Schedule
    finetune: Schedule
    stitch_epochs: int
    probe_size: int
    device: str
    cache: Cache

    @classmethod
    def from_params(cls, params: dict) -> "Setup":
        """From generator parameters (see ``experiments.COMMON_PARAMS``)."""
        schedule = Schedule(optimizer=params["optimizer"], lr=params["lr"], epochs=params["epochs"],
                            batch_size=params["batch_size"], lr_schedule=params["lr_schedule"])
        return cls(data=data_spec(params), schedule=schedule, finetune=schedule.scaled(params["finetune_fraction"]),
                   stitch_epochs=params["stitch_epochs"], probe_size=params["probe_size"],
                   device=params["device"] or default_device(), cache=Cache.shared(params["cache_dir"] or None))


def data_spec(params: dict) -> dict:
    """The data part of a recipe: the loader name and its options (directories resolved)."""
    name = params["data"]
    if name == "digits":
        return {"name": "digits"}
    data_dir = str(os.path.abspath(os.path.expanduser(params["data_dir"] or os.environ.get(DATA_ENV, ""))))
    per_class = params["per_class"] or None
    if name == "cifar10":
        return {"name": name, "data_dir": data_dir, "train_per_class": per_class,
                "test_per_class": per_class and max(1, per_class // 5)}
    classes = [c for c in params["classes"].split(",") if c] or None
    return {"name": name, "data_dir": data_dir, "classes": classes, "per_class": per_class,
            "size": params["image_size"]}


@functools.lru_cache(maxsize=4)
def _dataset(spec_json: str) -> Dataset:
    spec = json.loads(spec_json)
    return load(spec.pop("name"), **spec)


def dataset(setup: Setup) -> Dataset:
    return _dataset(json.dumps(setup.data, sort_keys=True))


def trained(setup: Setup, arch: str, seed: int) -> dict:
    return {"kind": "trained", "arch": arch, "seed": seed, "data": setup.data, "schedule": setup.schedule.as_dict()}


def imp(setup: Setup, base: dict, rounds: int) -> dict:
    """``rounds`` IMP rounds (20 % of the remaining weights each) from ``base``; 0 rounds is ``base``."""
    for _ in range(rounds):
        base = {"kind": "imp", "base": base, "amount": 0.2, "schedule": setup.schedule.as_dict()}
    return base


def one_shot(setup: Setup, base: dict, amount: float, scores: str = "magnitude", scope: str = "global") -> dict:
    return {"kind": "one_shot", "base": base, "amount": amount, "scores": scores, "scope": scope,
            "hessian": "fisher", "schedule": setup.finetune.as_dict()}


def structured(setup: Setup, base: dict, fraction: float) -> dict:
    return {"kind": "structured_l1", "base": base, "fraction": fraction, "schedule": setup.finetune.as_dict()}


def cka_blocks(setup: Setup, base: dict, n_blocks: int) -> dict:
    return {"kind": "cka_block", "base": base, "n_blocks": n_blocks, "schedule": setup.finetune.as_dict()}


def checkpoint(base: dict, epoch: int) -> dict:
    """The ``trained`` recipe ``base`` stopped after ``epoch`` epochs of its schedule (``base`` itself from
    its last epoch on)."""
    if epoch >= base["schedule"]["epochs"]:
        return base
    return {"kind": "checkpoint", "base": base, "epoch": epoch}


def distilled(setup: Setup, teacher: dict, arch: str, seed: int, temperature: float, alpha: float) -> dict:
    return {"kind": "distilled", "teacher": teacher, "arch": arch, "seed": seed, "temperature": temperature,
            "alpha": alpha, "data": setup.data, "schedule": setup.schedule.as_dict()}


def describe(recipe: dict) -> str:
    """A short readable name: ``cnn/seed=0``, ``cnn/seed=0/imp/imp``, ``cnn_small/seed=0/distilled``."""
    kind = recipe["kind"]
    if kind == "trained":
        return f"{recipe['arch']}/seed={recipe['seed']}"
    if kind == "distilled":
        return f"{recipe['arch']}/seed={recipe['seed']}/distilled({describe(recipe['teacher'])})"
    if kind == "checkpoint":
        return f"{describe(recipe['base'])}/epoch={recipe['epoch']}"
    detail = {"one_shot": lambda r: f"{r['scores']}_{r['scope']}({r['amount']:.3g})",
              "structured_l1": lambda r: f"structured_l1({r['fraction']:.3g})",
              "cka_block": lambda r: f"cka_block({r['n_blocks']})",
              "imp": lambda r: "imp"}[kind](recipe)
    return f"{describe(recipe['base'])}/{detail}"


def _fresh(setup: Setup, arch: str, seed: int) -> nn.Module:
    data = dataset(setup)
    torch.manual_seed(seed)
    return build(config_for(arch, data.shape, data.num_classes))


def _build_trained(setup, recipe):
    net = _fresh(setup, recipe["arch"], recipe["seed"])
    result = train(net, dataset(setup), Schedule(**recipe["schedule"]), recipe["seed"], device=setup.device,
                   label=describe(recipe))
    return net, {"accuracy": result["test_accuracy"], "sparsity": 0.0}


def _build_checkpoint(setup, recipe):
    base = recipe["base"]
    net = _fresh(setup, base["arch"], base["seed"])
    result = train(net, dataset(setup), Schedule(**base["schedule"]), base["seed"], device=setup.device,
                   label=describe(recipe), stop_after=recipe["epoch"])
    return net, {"accuracy": result["test_accuracy"], "sparsity": 0.0}


def _build_distilled(setup, recipe):
    teacher, _ = model(setup, recipe["teacher"])
    net = _fresh(setup, recipe["arch"], recipe["seed"])
    result = distill(net, teacher, dataset(setup), Schedule(**recipe["schedule"]), recipe["seed"],
                     temperature=recipe["temperature"], alpha=recipe["alpha"], device=setup.device)
    return net, {"accuracy": result["test_accuracy"], "sparsity": 0.0}


def _build_pruned(setup, recipe):
    base, _ = model(setup, recipe["base"])
    net, data, schedule = copy.deepcopy(base), dataset(setup), Schedule(**recipe["schedule"])
    seed, kind, device = _root_seed(recipe), recipe["kind"], setup.device
    if kind == "imp":
        result = prune.imp_round(net, data, schedule, seed, amount=recipe["amount"], device=device)
    elif kind == "one_shot":
        result = prune.one_shot(net, data, schedule, seed, recipe["amount"], scores=recipe["scores"],
                                scope=recipe["scope"], hessian=recipe["hessian"], device=device)
    elif kind == "structured_l1":
        result = prune.structured_l1(net, data, schedule, seed, recipe["fraction"], device=device)
    else:
        result = prune.cka_block_removal(net, data, schedule, seed, recipe["n_blocks"], device=device)
    return net, {"accuracy": result["accuracy_after_retraining"], **result}


def _root_seed(recipe: dict) -> int:
    while "base" in recipe:
        recipe = recipe["base"]
    return recipe["seed"]


BUILDERS = {"trained": _build_trained, "checkpoint": _build_checkpoint, "distilled": _build_distilled, "imp": _build_pruned,
            "one_shot": _build_pruned, "structured_l1": _build_pruned, "cka_block": _build_pruned}


def model(setup: Setup, recipe: dict) -> tuple[nn.Module, dict]:
    """The model of ``recipe`` (eval mode, on the CPU) and its record (accuracy, sparsity, ...)."""

    def build_entry():
        net, info = BUILDERS[recipe["kind"]](setup, recipe)
        return {"config": net.config, "state": net.cpu().state_dict(), "record": info}

    entry = setup.cache.fetch(recipe, build_entry)
    net = build(entry["config"])
    net.load_state_dict(entry["state"])
    return net.eval(), entry["record"]


def model_record(setup: Setup, recipe: dict) -> dict:
    """The record of ``recipe``'s model (accuracy, sparsity, ...), from a small entry of its own so
    that a warm run reads no weights."""
    return setup.cache.fetch({"kind": "record", "model": recipe}, lambda: {"record": model(setup, recipe)[1]})["record"]


def activations(setup: Setup, recipe: dict, layer: str) -> torch.Tensor:
    """Float32 activations of ``layer`` on the probe set (the first ``probe_size`` test images, all if 0)."""
    key = {"kind": "activations", "model": recipe, "layer": layer, "probe": "test", "probe_size": setup.probe_size}

    def build_entry():
        net, _ = model(setup, recipe)
        probe = dataset(setup).x_test[: setup.probe_size or None]
        return {"activations": record(net, probe, [layer], setup.device)[layer]}

    return setup.cache.fetch(key, build_entry)["activations"]


def stitch_scores(setup: Setup, recipe_a: dict, layer_a: str, recipe_b: dict, layer_b: str) -> dict:
    """Stitching A[:layer_a] -> S -> B[layer_b:] (see ``stitch.stitch``): accuracies and relative accuracies."""
    key = {"kind": "stitch", "a": recipe_a, "layer_a": layer_a, "b": recipe_b, "layer_b": layer_b,
           "epochs": setup.stitch_epochs, "lr": 1e-3, "seed": 0}

    def build_entry():
        (net_a, _), (net_b, _) = model(setup, recipe_a), model(setup, recipe_b)
        return stitch(net_a, layer_a, net_b, layer_b, dataset(setup), epochs=setup.stitch_epochs, lr=1e-3,
                      seed=0, device=setup.device)

    return setup.cache.fetch(key, build_entry)
