"""Recipes for every model, activation, stitch and reference the experiments use: one small frozen
dataclass per kind, built on demand and stored in the cache under the hash of its :meth:`Recipe.key`.

A recipe's fields are everything that determines its result, and both its cache key (:meth:`Recipe.key`,
the fields as plain data) and its build (:meth:`Recipe.build`, which reads the same fields) come from
those fields, so the two cannot drift. Derived recipes hold the recipe they start from, so a key changes
whenever anything upstream changes. Model kinds:

- :class:`Trained`: architecture, seed, data, schedule, optionally a label-shuffling seed (a control)
  and a training variant (``variants.Variant``: ReSi's groups);
- :class:`RandomInit`: the architecture's initialization, untrained (a control);
- :class:`Checkpoint`: a :class:`Trained` run stopped after some of its epochs;
- :class:`Distilled`: a student architecture trained on the distillation loss of a teacher;
- pruning, one class per method family (:class:`Pruned`): :class:`Imp` (one round, learning-rate
  rewinding), :class:`OneShot` (magnitude or OBD, global or layer-wise, fine-tuned),
  :class:`StructuredL1` (filters removed for real, fine-tuned), :class:`CkaBlock` (residual blocks
  removed by CKA guidance, fine-tuned after each), :class:`LayerRemoval` (named stages removed at once,
  fine-tuned). Each registers the progression methods it provides
  (:func:`pruning_method`, :data:`PRUNING_METHODS`): a new pruning method is one class here.

Other kinds: :class:`ClusteredNoise` (a sender that is no model: class-clustered noise shaped like a
layer; nothing to store), :class:`Record` (a model's accuracy, sparsity...: a warm run loads no
weights), :class:`Activations` (one layer on the probe set), :class:`Stitch` (sender layer -> receiver
layer: trained and direct), :class:`Agreement` (prediction agreement and accuracy difference of two
models, one entry per unordered pair). Every build runs inside :func:`determinism.deterministic`.
"""
from __future__ import annotations

import contextlib
import contextvars
import copy
import dataclasses
import functools
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable

import torch
from torch import nn

from scenarios.networks import prune
from scenarios.networks.activations import record
from scenarios.networks.bank import Bank, bank_key
from scenarios.networks.cache import Cache
from scenarios.networks.data import DATA_ENV, Dataset, load
from scenarios.networks.determinism import deterministic
from scenarios.networks.distill import distill
from scenarios.networks.models import build, config_for, prefix
from scenarios.networks.stitch import ClusteredNoiseSender, NetworkSender, Sender, prediction_agreement, stitch_from
from scenarios.networks.train import Schedule, accuracy, default_device, shuffled_labels, train
from scenarios.networks.variants import Variant
from scenarios.progress import note

__all__ = [
    "Setup", "DataSpec", "Recipe", "ModelRecipe", "Trained", "RandomInit", "Checkpoint", "Distilled", "Pruned",
    "Imp", "OneShot", "StructuredL1", "CkaBlock", "LayerRemoval", "ClusteredNoise", "Record", "Activations",
    "Stitch", "Agreement", "PRUNING_METHODS", "pruning_method", "pruned_at", "checkpoint", "layer_shape", "model_fields",
    "case_recipes", "references", "reading", "bank_needs", "bank_source",
]


@dataclass(frozen=True)
class DataSpec:
    """The data part of a recipe: a loader name (``data.LOADERS``) and its options (hashable)."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, **options) -> "DataSpec":
        frozen = ((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items())
        return cls(name, tuple(sorted(frozen)))

    def as_dict(self) -> dict:
        return {"name": self.name, **{k: list(v) if isinstance(v, tuple) else v for k, v in self.options}}

    def load(self) -> Dataset:
        return _dataset(self)


@functools.lru_cache(maxsize=4)
def _dataset(spec: DataSpec) -> Dataset:
    options = spec.as_dict()
    del options["name"]
    return load(spec.name, **options)


@dataclass(frozen=True)
class Setup:
    """What every recipe of one run shares: data, schedules, stitching budget, probe, device, cache and
    the network bank (``bank.Bank``: entries taken from there are never built)."""

    data: DataSpec
    schedule: Schedule
    finetune: Schedule
    stitch_epochs: int
    probe_size: int
    device: str
    cache: Cache
    bank: Bank = dataclasses.field(default_factory=lambda: Bank("none"))

    @classmethod
    def from_params(cls, params: dict) -> "Setup":
        """From generator parameters (see ``experiments.COMMON_PARAMS``)."""
        schedule = Schedule(optimizer=params["optimizer"], lr=params["lr"], epochs=params["epochs"],
                            batch_size=params["batch_size"], lr_schedule=params["lr_schedule"],
                            amp=params["amp"])
        return cls(data=data_spec(params), schedule=schedule, finetune=schedule.scaled(params["finetune_fraction"]),
                   stitch_epochs=params["stitch_epochs"], probe_size=params["probe_size"],
                   device=params["device"] or default_device(), cache=Cache.shared(params["cache_dir"] or None),
                   bank=Bank.shared())

def data_spec(params: dict) -> DataSpec:
    """The data part of a recipe from generator parameters (directories resolved)."""
    name = params["data"]
    if name in ("digits", "digits_corrupted"):
        return DataSpec.of(name)
    data_dir = str(os.path.abspath(os.path.expanduser(params["data_dir"] or os.environ.get(DATA_ENV, ""))))
    per_class = params["per_class"] or None
    if name == "cifar10":
        return DataSpec.of(name, data_dir=data_dir, train_per_class=per_class,
                           test_per_class=per_class and max(1, per_class // 5))
    classes = [c for c in params["classes"].split(",") if c] or None
    return DataSpec.of(name, data_dir=data_dir, classes=classes, per_class=per_class, size=params["image_size"])


def _plain(value):
    """A recipe field as plain JSON data (the form it takes in the cache key)."""
    if isinstance(value, Recipe):
        return value.key()
    if isinstance(value, (Schedule, DataSpec, Variant)):
        return value.as_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


#: The recipes read by cases (not by other recipes' builds) while :func:`reading` is active.
_READS: contextvars.ContextVar[set | None] = contextvars.ContextVar("reads", default=None)
_BUILDING: contextvars.ContextVar[bool] = contextvars.ContextVar("building", default=False)


@contextlib.contextmanager
def reading():
    """Collect every (recipe, setup) that cases fetch inside (the fetches another recipe's build makes
    are left out): what a bank of these scenarios must hold (with :func:`bank_needs`)."""
    reads: set = set()
    token = _READS.set(reads)
    try:
        yield reads
    finally:
        _READS.reset(token)


class Recipe:
    """One cache entry's recipe (subclasses are frozen dataclasses whose fields determine the entry)."""

    kind: ClassVar[str]
    #: what building it is called in the progress notes
    action: ClassVar[str] = "building"
    #: False for recipes that are computed when used and never stored
    stored: ClassVar[bool] = True
    #: False for entries a forward pass makes from banked ones (activations): not in the network bank
    banked: ClassVar[bool] = True

    def key(self) -> dict:
        """The cache key: the kind and every field, as plain data."""
        return {"kind": self.kind, **{f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}}

    def parents(self) -> tuple["Recipe", ...]:
        """The recipes this one reads when it is built (its fields that are recipes)."""
        return tuple(v for f in dataclasses.fields(self) if isinstance(v := getattr(self, f.name), Recipe))

    def describe(self) -> str:
        raise NotImplementedError

    def build(self, setup: Setup) -> dict:
        """The cache entry (a dict of tensors and plain values)."""
        raise NotImplementedError

    def fetch(self, setup: Setup) -> dict:
        """The entry: from the network bank when it holds it, else from the cache, else built
        (deterministically) and stored in the cache."""
        reads = _READS.get()
        if reads is not None and not _BUILDING.get():
            reads.add((self, setup))
        key = self.key()
        banked = setup.bank.load(key) if self.banked else None
        if banked is not None:
            return banked

        def build_entry():
            note(f"{self.action} {self.describe()}")
            token = _BUILDING.set(True)
            try:
                with deterministic():
                    return self.build(setup)
            finally:
                _BUILDING.reset(token)

        return setup.cache.fetch(key, build_entry)

    def is_stored(self, setup: Setup) -> bool:
        """Whether the bank or the cache holds a complete entry (or none is needed)."""
        if not self.stored or (self.banked and setup.bank.holds(self.key())):
            return True
        return all(p.is_file() for p in setup.cache.paths(self.key()))


class SenderRecipe(Recipe):
    """A recipe that can send activations at a layer: a model, or a control that is no model."""

    data: DataSpec

    def sender(self, setup: Setup, layer: str) -> Sender:
        raise NotImplementedError

    def probe(self, setup: Setup, layer: str, n: int) -> torch.Tensor:
        """CPU activations of ``layer`` on the first ``n`` test images (all if 0): float64 for a model
        (``activations.record``)."""
        raise NotImplementedError


class ModelRecipe(SenderRecipe):
    """A recipe whose entry is a model: ``{"config", "state", "record"}``."""

    action: ClassVar[str] = "training"
    seed: int

    def make(self, setup: Setup) -> tuple[nn.Module, dict]:
        """The model and its record (at least ``accuracy`` and ``sparsity``)."""
        raise NotImplementedError

    def build(self, setup: Setup) -> dict:
        net, info = self.make(setup)
        return {"config": net.config, "state": net.cpu().state_dict(), "record": info}

    def load(self, setup: Setup) -> tuple[nn.Module, dict]:
        """The model (eval mode, on the CPU) and its record."""
        entry = self.fetch(setup)
        net = build(entry["config"])
        net.load_state_dict(entry["state"])
        return net.eval(), entry["record"]

    def sender(self, setup: Setup, layer: str) -> Sender:
        return NetworkSender(self.load(setup)[0], layer, self.data.load(), setup.device)

    def probe(self, setup: Setup, layer: str, n: int) -> torch.Tensor:
        net, _ = self.load(setup)
        return record(net, self.data.load().x_test[: n or None], [layer], setup.device, dtype=torch.float64)[layer]


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
class Checkpoint(ModelRecipe):
    """The run of ``base`` stopped after ``epoch`` epochs of its schedule (see :func:`checkpoint`)."""

    kind: ClassVar[str] = "checkpoint"
    base: Trained
    epoch: int

    @property
    def seed(self) -> int:
        return self.base.seed

    @property
    def data(self) -> DataSpec:
        return self.base.data

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


#: Pruning progression methods: name -> ``at_step(setup, base, step)`` (the model at step ``step``, the
#: base itself at 0) and ``check(skeleton, step)`` (ValueError when the method cannot reach that step).
PRUNING_METHODS: dict[str, tuple[Callable, Callable]] = {}


def pruning_method(name: str, **options):
    """Class decorator: register progression method ``name`` as the class's ``at_step`` and
    ``check_step`` with ``options`` fixed."""

    def register(cls):
        PRUNING_METHODS[name] = (functools.partial(cls.at_step, **options), cls.check_step)
        return cls

    return register


def pruned_at(setup: Setup, base: ModelRecipe, method: str, step: int) -> ModelRecipe:
    """``base`` pruned by progression ``method`` at ``step`` (0: ``base`` itself)."""
    return base if step == 0 else PRUNING_METHODS[method][0](setup, base, step)


class Pruned(ModelRecipe):
    """A model pruned from ``base`` and retrained with ``schedule``; subclasses say how (:meth:`prune`)."""

    base: ModelRecipe
    schedule: Schedule

    @property
    def seed(self) -> int:
        """The seed of the model it was pruned from (the retraining's batch order)."""
        return self.base.seed

    @property
    def data(self) -> DataSpec:
        return self.base.data

    def detail(self) -> str:
        raise NotImplementedError

    def prune(self, net: nn.Module, data: Dataset, device: str) -> dict:
        """Prune and retrain ``net`` in place; the ``prune`` module's record."""
        raise NotImplementedError

    @classmethod
    def check_step(cls, skeleton: nn.Module, step: int) -> None:
        """Raise ValueError when ``skeleton``'s architecture cannot be pruned to progression ``step``."""

    def describe(self) -> str:
        return f"{self.base.describe()}/{self.detail()}"

    def make(self, setup):
        net = copy.deepcopy(self.base.load(setup)[0])
        result = self.prune(net, self.data.load(), setup.device)
        return net, {"accuracy": result["accuracy_after_retraining"], **result}


def _sparsity_at(step: int) -> float:
    """The weight sparsity of progression step ``step``: 1 - 0.8^step (20 % of the rest per step)."""
    return 1 - 0.8 ** step


@pruning_method("imp")
@dataclass(frozen=True)
class Imp(Pruned):
    """One IMP round with learning-rate rewinding: prune ``amount`` of the remaining weights by global
    magnitude, retrain with the full original schedule (progression step k: k rounds)."""

    kind: ClassVar[str] = "imp"
    base: ModelRecipe
    schedule: Schedule
    amount: float = 0.2

    def detail(self) -> str:
        return "imp"

    def prune(self, net, data, device):
        return prune.imp_round(net, data, self.schedule, self.seed, amount=self.amount, device=device)

    @classmethod
    def rounds(cls, setup: Setup, base: ModelRecipe, rounds: int) -> ModelRecipe:
        """``rounds`` rounds from ``base`` (0: ``base``)."""
        for _ in range(rounds):
            base = cls(base, setup.schedule)
        return base

    @classmethod
    def at_step(cls, setup, base, step):
        return cls.rounds(setup, base, step)


@pruning_method("magnitude_global", scores="magnitude", scope="global")
@pruning_method("magnitude_layer", scores="magnitude", scope="layer")
@pruning_method("obd", scores="obd", scope="global")
@dataclass(frozen=True)
class OneShot(Pruned):
    """``amount`` of the weights pruned at once by magnitude or OBD saliency (empirical Fisher), one
    global threshold or per layer, then fine-tuned (progression step k: amount 1 - 0.8^k)."""

    kind: ClassVar[str] = "one_shot"
    base: ModelRecipe
    schedule: Schedule
    amount: float
    scores: str
    scope: str
    hessian: str = "fisher"

    def detail(self) -> str:
        return f"{self.scores}_{self.scope}({self.amount:.3g})"

    def prune(self, net, data, device):
        return prune.one_shot(net, data, self.schedule, self.seed, self.amount, scores=self.scores,
                              scope=self.scope, hessian=self.hessian, device=device)

    @classmethod
    def at_step(cls, setup, base, step, *, scores, scope):
        return cls(base, setup.finetune, _sparsity_at(step), scores, scope)


@pruning_method("structured_l1")
@dataclass(frozen=True)
class StructuredL1(Pruned):
    """``fraction`` of every layer's filters removed for real (smallest L1 norm), then fine-tuned
    (progression step k: fraction 1 - 0.8^k)."""

    kind: ClassVar[str] = "structured_l1"
    base: ModelRecipe
    schedule: Schedule
    fraction: float

    def detail(self) -> str:
        return f"structured_l1({self.fraction:.3g})"

    def prune(self, net, data, device):
        return prune.structured_l1(net, data, self.schedule, self.seed, self.fraction, device=device)

    @classmethod
    def at_step(cls, setup, base, step):
        return cls(base, setup.finetune, _sparsity_at(step))


@pruning_method("cka_block")
@dataclass(frozen=True)
class CkaBlock(Pruned):
    """``n_blocks`` residual blocks removed one at a time by CKA guidance (Pons et al. 2024),
    fine-tuned after each (progression step k: k blocks)."""

    kind: ClassVar[str] = "cka_block"
    base: ModelRecipe
    schedule: Schedule
    n_blocks: int

    def detail(self) -> str:
        return f"cka_block({self.n_blocks})"

    def prune(self, net, data, device):
        return prune.cka_block_removal(net, data, self.schedule, self.seed, self.n_blocks, device=device)

    @classmethod
    def at_step(cls, setup, base, step):
        return cls(base, setup.finetune, step)

    @classmethod
    def check_step(cls, skeleton, step):
        if not hasattr(skeleton, "removable_blocks"):
            raise ValueError("method 'cka_block' needs a ResNet architecture")
        if step > len(skeleton.removable_blocks()):
            raise ValueError(f"the architecture has only {len(skeleton.removable_blocks())} removable blocks")


@dataclass(frozen=True)
class LayerRemoval(Pruned):
    """The named stages ``remove`` taken out at once (``prune.layer_removal``: VGG stages that keep the
    shape, residual blocks with an identity shortcut), then fine-tuned: the seed study's fixed removal,
    no CKA guidance."""

    kind: ClassVar[str] = "layer_removal"
    base: ModelRecipe
    schedule: Schedule
    remove: tuple[str, ...]

    def __post_init__(self):
        if not isinstance(self.remove, tuple) or not self.remove or len(set(self.remove)) != len(self.remove):
            raise ValueError(f"remove must be a non-empty tuple of distinct stage names, got {self.remove!r}")

    def detail(self) -> str:
        return f"layer_removal({','.join(self.remove)})"

    def prune(self, net, data, device):
        return prune.layer_removal(net, data, self.schedule, self.seed, self.remove, device=device)


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

    def probe(self, setup: Setup, layer: str, n: int) -> torch.Tensor:
        index = torch.arange(n or len(self.data.load().x_test))
        return self.sender(setup, layer)("test", index).cpu()


def model_fields(recipe: SenderRecipe, record: dict) -> dict:
    """What ``reports/out/networks_models.csv`` lists of one model (scalar case meta): its recipe hash,
    kind, architecture, seed, training variant, pruning chain, sparsity, test accuracy and, for a pruned
    model, its accuracy before retraining. A sender that is no model has only its kind and seed."""
    if not isinstance(recipe, ModelRecipe):
        return {"kind": recipe.kind, "seed": recipe.seed, "accuracy": None, "sparsity": None}
    chain, root = [], recipe
    while isinstance(root, (Pruned, Checkpoint, Distilled)):
        if isinstance(root, Pruned):
            chain.append(root.detail())
        root = root.teacher if isinstance(root, Distilled) else root.base
    variant = root.variant.describe() if isinstance(root, Trained) else ""
    if isinstance(root, Trained) and root.shuffle_labels is not None:
        variant = "/".join(v for v in (f"shuffled_labels({root.shuffle_labels})", variant) if v)
    return {"recipe": bank_key(recipe.key())[:16], "kind": recipe.kind,
            "arch": getattr(recipe, "arch", getattr(root, "arch", "")), "seed": recipe.seed, "variant": variant,
            "epoch": recipe.epoch if isinstance(recipe, Checkpoint) else None,
            "pruning": "+".join(reversed(chain)), "sparsity": record.get("sparsity"),
            "accuracy": record.get("accuracy"), "accuracy_before_retraining": record.get("accuracy_before_retraining")}


def layer_shape(data: DataSpec, arch: str, layer: str) -> tuple[int, ...]:
    """The shape of one activation of ``layer`` of ``arch`` on ``data``'s images (computed on the meta
    device: no memory, no initialization)."""
    dataset = data.load()
    with torch.device("meta"):
        net = build(config_for(arch, dataset.shape, dataset.num_classes)).eval()
        return tuple(prefix(net, layer)(torch.empty(1, *dataset.shape)).shape[1:])


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
    if 0): a float64 forward pass of a model (``activations.record``), made from the bank's weights."""

    kind: ClassVar[str] = "activations"
    action: ClassVar[str] = "recording"
    banked: ClassVar[bool] = False
    source: SenderRecipe
    layer: str
    probe_size: int

    def describe(self) -> str:
        return f"{self.source.describe()}:{self.layer} on the probe set"

    def build(self, setup):
        return {"activations": self.source.probe(setup, self.layer, self.probe_size)}


@dataclass(frozen=True)
class Stitch(Recipe):
    """``sender`` at ``layer_a`` stitched into ``receiver`` after ``layer_b`` (``stitch.stitch_from``):
    the direct (least-squares) and trained stitch's accuracies and relative accuracies."""

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
    """Prediction agreement and accuracy difference of two models on the test images
    (``stitch.prediction_agreement``); :meth:`of` orders the pair, so that there is one entry per pair."""

    kind: ClassVar[str] = "agreement"
    action: ClassVar[str] = "comparing"
    model_a: ModelRecipe
    model_b: ModelRecipe

    @classmethod
    def of(cls, a: ModelRecipe, b: ModelRecipe) -> "Agreement":
        first, second = sorted((a, b), key=lambda r: json.dumps(r.key(), sort_keys=True))
        return cls(first, second)

    def describe(self) -> str:
        return f"the predictions of {self.model_a.describe()} and {self.model_b.describe()}"

    def build(self, setup):
        (net_a, _), (net_b, _) = self.model_a.load(setup), self.model_b.load(setup)
        return prediction_agreement(net_a, net_b, self.model_a.data.load(), setup.device)


def bank_needs(recipe: Recipe) -> set[Recipe]:
    """The banked recipes that make ``recipe`` without training: itself when it is banked, else (an
    activation, or a sender that is computed when used) the banked recipes it reads, recursively."""
    if recipe.stored and recipe.banked:
        return {recipe}
    return set().union(*(bank_needs(parent) for parent in recipe.parents()))


def bank_source(setup: Setup, recipes: Iterable[Recipe]) -> str:
    """What a case records in its meta ``bank``: the bank's version when the bank holds every banked
    recipe the ``recipes`` need (so nothing of it was trained on this machine), else ""."""
    needs = set().union(*(bank_needs(recipe) for recipe in recipes))
    version = setup.bank.version
    return version if version and all(setup.bank.holds(recipe.key()) for recipe in needs) else ""


def case_recipes(setup: Setup, sender: SenderRecipe, layer_a: str, receiver: ModelRecipe, layer_b: str,
                 reverse: bool = True) -> dict[str, Recipe]:
    """The recipes a case X = ``layer_a`` of ``sender``, Y = ``layer_b`` of ``receiver`` reads: both
    activations, the stitch X -> Y, with ``reverse`` the stitch Y -> X (never for a sender that is no
    model), the agreement of two models, and the records of the models."""
    recipes = {"x": Activations(sender, layer_a, setup.probe_size), "y": Activations(receiver, layer_b, setup.probe_size),
               "forward": Stitch(sender, layer_a, receiver, layer_b, setup.stitch_epochs),
               "record_y": Record(receiver)}
    if isinstance(sender, ModelRecipe):
        recipes |= {"agreement": Agreement.of(sender, receiver), "record_x": Record(sender)}
        if reverse:
            recipes["backward"] = Stitch(receiver, layer_b, sender, layer_a, setup.stitch_epochs)
    return recipes


def references(setup: Setup, recipes: dict[str, Recipe]) -> dict[str, float | None]:
    """The reference columns (``runner.schema.REFERENCE_COLUMNS``) of a case from its
    :func:`case_recipes`; None where one does not apply."""
    forward = recipes["forward"].fetch(setup)
    backward = recipes["backward"].fetch(setup) if "backward" in recipes else {}
    whole = recipes["agreement"].fetch(setup) if "agreement" in recipes else {}
    return {"stitch": forward["relative_trained"], "stitch_reverse": backward.get("relative_trained"),
            "stitch_direct": forward["relative_direct"], "stitch_direct_reverse": backward.get("relative_direct"),
            "agreement": whole.get("agreement"), "accuracy_difference": whole.get("accuracy_difference")}

