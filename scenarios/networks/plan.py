"""The public API of the networks experiments: how a generator plans a seed's cases, and registers.

An experiment is a module in ``scenarios/networks/experiments/`` (found by being there) whose generators
are registered with :func:`networks_generator`. A generator plans one seed: it names the recipes
(``scenarios.networks.recipes``) its cases read, and the suite builds the missing recipes of every seed
of the scenario first, in parallel processes (``prefetch``), then makes the cases of the seed it is asked
for from the cache or the network bank (:func:`planned`). Most experiments compare one layer of a sender
(a model, or a control) with one layer of a model: they return a list of :class:`PlannedCase`, and each
becomes a :class:`scenarios.Case` with the stitching references
(``runner.schema.REFERENCE_COLUMNS``)::

    from scenarios.networks.plan import ARCH_CHOICES, PlannedCase, layers, networks_generator, trained

    @networks_generator("seed_layers", {"arch": "cnn"}, {"arch": ARCH_CHOICES})
    def seed_layers(scenario, setup, seed):
        arch = scenario.params["arch"]
        a, b = trained(setup, arch, seed), trained(setup, arch, seed + 1)
        return [PlannedCase(layer, a, layer, b, layer) for layer in layers(arch)]

An experiment whose cases are not a stitch of two layers (probes, subspaces) names its recipes in a
:data:`Plan` (``plan=``) and makes its cases itself from them.

Every networks generator takes :data:`COMMON_PARAMS` (data, schedules, probe, device, cache) besides its
own. The recipe helpers: :func:`trained` (the suite's trained model), :func:`skeleton`, :func:`layers`,
:func:`layer`, :func:`layer_shape` (an architecture's layers, with no weights), :func:`swept` (a swept
parameter's values), :func:`model_fields` / :func:`side_fields` (what a case's meta records of a model).
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
from torch import nn

from scenarios import Case, Scenario, Sweep, generator
from scenarios.networks.activations import as_matrix
from scenarios.networks.bank import bank_key
from scenarios.networks.models import ARCHITECTURES, build, config_for, layer_names, prefix
from scenarios.networks.prefetch import prefetch
from scenarios.networks.recipes import (Checkpoint, DataSpec, ModelRecipe, Pruned, Recipe, SenderRecipe, Setup,
                                        Trained, at_chance, bank_source, case_recipes, reference_columns,
                                        relevance_fields, relevance_recipes)
from scenarios.networks.variants import ProbeMarks

__all__ = ["COMMON_PARAMS", "COMMON_CHOICES", "ARCH_CHOICES", "Plan", "PlannedCase", "networks_generator", "planned",
           "trained", "skeleton", "layers", "layer", "layer_shape", "swept", "model_fields", "side_fields"]

#: Parameters every networks generator takes (name -> default); the defaults are the CPU profile.
COMMON_PARAMS = {
    "data": "digits_corrupted",  # digits_corrupted | digits | mnist | cifar10 | imagefolder
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
#: The allowed values of the common string parameters.
COMMON_CHOICES = {
    "data": ("digits_corrupted", "digits", "mnist", "cifar10", "imagefolder"),
    "optimizer": ("sgd", "adam"),
    "lr_schedule": ("cosine", "step"),
    "conv": ("flatten", "positions", "pool"),
    "amp": ("", "bf16", "fp16"),
}
#: The architectures a generator's ``arch`` parameter may name (``models.ARCHITECTURES``).
ARCH_CHOICES = tuple(ARCHITECTURES)

#: A seed's recipes by name: what the cases of a generator with its own ``plan`` read.
Plan = dict[str, Recipe]


# ---- recipe helpers ----------------------------------------------------------------------------------


def trained(setup: Setup, arch: str, seed: int) -> Trained:
    """``arch`` trained from ``seed`` on the run's data with the run's schedule (M_seed)."""
    return Trained(arch, seed, setup.data, setup.schedule)


@functools.lru_cache(maxsize=None)
def skeleton(arch: str) -> nn.Module:
    """``arch`` on the meta device (no memory, no initialization): its layer names and blocks, which
    do not depend on the data's shape. Shared: read it, never modify it."""
    config = config_for(arch, (3, 32, 32), 10)
    with torch.device("meta"):
        return build(config)


def layers(arch: str) -> list[str]:
    """Stitchable layer names of ``arch``, input to output."""
    return layer_names(skeleton(arch))


def layer(arch: str, name: str) -> str:
    """``name``, or the last stitchable layer of ``arch`` when empty (a generator's ``layer = ""``)."""
    return name or layers(arch)[-1]


def layer_shape(data: DataSpec, arch: str, layer: str) -> tuple[int, ...]:
    """The shape of one activation of ``layer`` of ``arch`` on ``data``'s images (computed on the meta
    device: no memory, no initialization)."""
    dataset = data.load()
    with torch.device("meta"):
        net = build(config_for(arch, dataset.shape, dataset.num_classes)).eval()
        return tuple(prefix(net, layer)(torch.empty(1, *dataset.shape)).shape[1:])


def swept(params: dict, sweep: Sweep | None, name: str) -> tuple:
    """The values of parameter ``name``: the sweep's (``scenario.sweep``), else the parameter's own."""
    return tuple(sweep.values) if sweep is not None else (params[name],)


def model_fields(recipe: SenderRecipe, record: dict) -> dict:
    """What ``reports/out/networks_models.csv`` lists of one model (scalar case meta): its recipe hash,
    kind, architecture, seed, training variant, pruning chain, sparsity, test accuracy and, for a pruned
    model, its accuracy before retraining. A sender that is no model has only its kind and seed. The model
    a recipe is made from is the one model among its fields (``base``, ``teacher``...), followed down to a
    model made from none (its root: architecture and training variant)."""
    if not isinstance(recipe, ModelRecipe):
        return {"kind": recipe.kind, "seed": recipe.seed, "accuracy": None, "sparsity": None}
    chain, root = [], recipe
    while len(made_from := [parent for parent in root.parents() if isinstance(parent, ModelRecipe)]) == 1:
        if isinstance(root, Pruned):
            chain.append(root.detail())
        root = made_from[0]
    variant = root.variant.describe() if isinstance(root, Trained) else ""
    if isinstance(root, Trained) and root.shuffle_labels is not None:
        variant = "/".join(v for v in (f"shuffled_labels({root.shuffle_labels})", variant) if v)
    return {"recipe": bank_key(recipe.key())[:16], "kind": recipe.kind,
            "arch": getattr(recipe, "arch", getattr(root, "arch", "")), "seed": recipe.seed, "variant": variant,
            "epoch": recipe.epoch if isinstance(recipe, Checkpoint) else None,
            "pruning": "+".join(reversed(chain)), "sparsity": record.get("sparsity"),
            "accuracy": record.get("accuracy"), "accuracy_before_retraining": record.get("accuracy_before_retraining")}


def side_fields(recipe: SenderRecipe, record: dict, side: str) -> dict:
    """:func:`model_fields` of one side of a case, keys suffixed ``_x`` / ``_y`` (``accuracy_x``...)."""
    return {f"{key}_{side}": value for key, value in model_fields(recipe, record).items()}


# ---- planned cases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedCase:
    """One planned case: X = ``layer_x`` of ``sender``, Y = ``layer_y`` of ``receiver``; ``param`` the
    case's parameter (with ``param_is_sparsity``: the sparsity Y's model reached, known once it is built);
    ``stitches``: which stitches the case reads (``recipes.STITCHES``: ``"both"``; ``"forward"``, X -> Y
    alone, where X's sender carries no function to stitch into; ``"none"``);
    ``relevance``: a conv convention to record the variance of each layer's task-relevant and
    irrelevant part in (``recipes.relevance_fields``, meta ``relevant_variance_x`` ...; "" for none);
    ``marks``: class marks on the test images that X, Y and the agreement read (``variants.ProbeMarks``,
    meta ``probe_marks``; None: unmarked);
    ``meta``: what the case's meta adds."""

    case: str
    sender: SenderRecipe
    layer_x: str
    receiver: ModelRecipe
    layer_y: str
    param: float | None = None
    param_is_sparsity: bool = False
    stitches: str = "both"
    relevance: str = ""
    marks: ProbeMarks | None = None
    meta: dict = field(default_factory=dict)

    def sides(self) -> tuple[tuple[str, SenderRecipe, str], ...]:
        """``("x", sender, layer_x)`` and ``("y", receiver, layer_y)``."""
        return ("x", self.sender, self.layer_x), ("y", self.receiver, self.layer_y)

    def recipes(self, setup: Setup) -> dict[str, Recipe]:
        """What its case reads (``recipes.case_recipes``, and with ``relevance`` the recipes of
        ``recipes.relevance_fields``, suffixed ``_x`` / ``_y``)."""
        read = case_recipes(setup, self.sender, self.layer_x, self.receiver, self.layer_y, self.stitches, self.marks)
        if self.relevance:
            for side, model, name in self.sides():
                split = relevance_recipes(setup, model, name, self.relevance)
                read |= {f"{key}_{side}": recipe for key, recipe in split.items()}
        return read

    def make(self, scenario: Scenario, seed: int, setup: Setup) -> Case:
        """The case: activations, references and records read from the bank or the cache (built if
        missing); X and Y brought to float64 [n, p] by the scenario's ``conv`` convention."""
        read = self.recipes(setup)
        columns = reference_columns(setup, read)
        x, y = read["x"].fetch(setup)["activations"], read["y"].fetch(setup)["activations"]
        record_y = read["record_y"].fetch(setup)["record"]
        record_x = read["record_x"].fetch(setup)["record"] if "record_x" in read else {}
        param, meta = self.param, dict(self.meta)
        if not_informative := at_chance(setup, read):
            meta["not_informative"] = ",".join(not_informative)  # a scalar: results.csv keeps scalar meta
        if self.param_is_sparsity:
            param = meta["sparsity"] = record_y["sparsity"]
        if self.marks is not None:
            meta["probe_marks"] = self.marks.describe()
        conv = scenario.params["conv"]
        if self.relevance:
            for side, model, name in self.sides():
                fields = relevance_fields(setup, model, name, self.relevance)
                meta |= {f"{key}_{side}": value for key, value in fields.items()}
        return Case(
            family=scenario.family, scenario=scenario.name, case=self.case, seed=seed,
            x=as_matrix(x, conv), y=as_matrix(y, conv), param=param, **columns,
            meta={"layer_x": self.layer_x, "layer_y": self.layer_y, "model_x": self.sender.describe(),
                  "model_y": self.receiver.describe(), "conv": conv, "data": setup.data.name,
                  "shape_x": list(x.shape[1:]), "shape_y": list(y.shape[1:]),
                  **side_fields(self.sender, record_x, "x"), **side_fields(self.receiver, record_y, "y"), **meta},
        )


def planned(plan: Callable[[Scenario, Setup, int], Any], recipes: Callable[[Any, Setup], Iterable[Recipe]],
            cases: Callable[[Scenario, Setup, int, Any], Iterable[Case]]) -> Callable[[Scenario, int], Iterable[Case]]:
    """A networks generator ``generate(scenario, seed)`` from ``plan(scenario, setup, seed)`` (what a seed
    compares), ``recipes(plan, setup)`` (what that plan reads) and ``cases(scenario, setup, seed, plan)``:
    it builds the missing recipes of every seed's plan first, in parallel processes (``prefetch``), then
    yields the cases of the seed it is asked for, each with meta ``bank`` (``recipes.bank_source``: the
    network bank's version when it held everything the seed reads, "" when something was built).
    :func:`networks_generator` is this with the registration; use that."""

    def generate(scenario: Scenario, seed: int) -> Iterable[Case]:
        setup = Setup.from_params(scenario.params)
        plans = {s: plan(scenario, setup, s) for s in dict.fromkeys((*scenario.seeds, seed))}
        reads = {s: list(recipes(each, setup)) for s, each in plans.items()}
        prefetch(setup, [recipe for each in reads.values() for recipe in each])
        bank = bank_source(setup, reads[seed])
        for case in cases(scenario, setup, seed, plans[seed]):
            yield dataclasses.replace(case, meta={**case.meta, "bank": bank})

    return generate


def _planned_recipes(planned_cases: list[PlannedCase], setup: Setup) -> list[Recipe]:
    return [recipe for each in planned_cases for recipe in each.recipes(setup).values()]


def _planned_cases(scenario: Scenario, setup: Setup, seed: int, planned_cases: list[PlannedCase]) -> Iterable[Case]:
    return (each.make(scenario, seed, setup) for each in planned_cases)


def _plan_recipes(plan: Plan, setup: Setup) -> Iterable[Recipe]:
    return plan.values()


def networks_generator(name: str, params: dict, choices: dict | None = None, *,
                       plan: Callable[[Scenario, Setup, int], Plan] | None = None,
                       check: Callable[[dict], None] | None = None,
                       case_ids: Callable[[dict, Sweep | None], list[str]] | None = None,
                       use_case: str = ""):
    """Register generator ``networks.<name>`` (``scenarios.generator``, family ``networks``) with
    :data:`COMMON_PARAMS` and :data:`COMMON_CHOICES` added to ``params`` and ``choices``; ``check``,
    ``case_ids`` and ``use_case`` (the question it answers, ``scenarios.use_cases``) as
    ``scenarios.generator`` takes them. Every seed's recipes are built before the seed's
    cases are made (:func:`planned`). Two forms:

    - without ``plan``, the decorated function ``planned_cases(scenario, setup, seed) ->
      list[PlannedCase]`` plans a seed's cases, and each becomes a case with the stitching references
      (:meth:`PlannedCase.make`);
    - with ``plan(scenario, setup, seed) -> Plan`` (a seed's recipes by name), the decorated function
      ``cases(scenario, setup, seed, plan) -> Iterable[Case]`` makes the seed's cases from them.

    The registered function keeps the decorated one as ``__wrapped__`` (its name, docstring, module).
    """

    def register(fn: Callable) -> Callable:
        if plan is None:
            generate = planned(fn, _planned_recipes, _planned_cases)
        else:
            generate = planned(plan, _plan_recipes, fn)
        return generator(f"networks.{name}", family="networks", params={**COMMON_PARAMS, **params},
                         choices={**COMMON_CHOICES, **(choices or {})}, check=check,
                         case_ids=case_ids, use_case=use_case)(functools.wraps(fn)(generate))

    return register
