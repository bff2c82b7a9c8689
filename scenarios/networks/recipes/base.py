"""The recipe base: what every recipe is, what every recipe of a run shares, and how entries are read.

A recipe is a small frozen dataclass whose fields are everything that determines its result; both its
cache key (:meth:`Recipe.key`: its ``kind`` and every field as plain data; a field declared with
:func:`keyed_when_set` only when it is set) and its build
(:meth:`Recipe.build`, which reads the same fields) come from those fields, so the two cannot drift.
Derived recipes hold the recipe they start from, so a key changes whenever anything upstream changes.
:meth:`Recipe.fetch` takes an entry from the network bank (``bank.Bank``) when it holds it, else from
the cache, else builds it inside :func:`determinism.deterministic` and stores it.

Here: :class:`DataSpec` (the data part of a recipe), :func:`test_data` (its test images, marked or
not: what probe activations and agreements read), :class:`Setup` (what every recipe of one run
shares), :class:`Recipe`, :class:`SenderRecipe` (a model, or a control that is no model, that sends
activations at a layer), :class:`ModelRecipe` (a recipe whose entry is a model) and
:class:`DerivedModelRecipe` (a model made from another one, with its seed and data); :func:`reading`,
:func:`bank_needs` and :func:`bank_source` (what a bank of a run's cases must hold, and whether a case
read only banked entries).
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import os
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

import torch
from torch import nn

from scenarios.networks.activations import record
from scenarios.networks.bank import Bank
from scenarios.networks.cache import Cache
from scenarios.networks.data import DATA_ENV, Dataset, load
from scenarios.networks.determinism import deterministic
from scenarios.networks.models import build
from scenarios.networks.stitch import NetworkSender, Sender
from scenarios.networks.train import Schedule, default_device
from scenarios.networks.variants import ProbeMarks, Variant
from scenarios.progress import note

__all__ = ["DataSpec", "Setup", "data_spec", "test_data", "keyed_when_set", "Recipe", "SenderRecipe", "ModelRecipe",
           "DerivedModelRecipe", "reading", "bank_needs", "bank_source"]


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
        """From generator parameters (see ``plan.COMMON_PARAMS``)."""
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
    if name in ("digits", "digits_corrupted", "mnist"):
        return DataSpec.of(name)
    data_dir = str(os.path.abspath(os.path.expanduser(params["data_dir"] or os.environ.get(DATA_ENV, ""))))
    per_class = params["per_class"] or None
    if name == "cifar10":
        return DataSpec.of(name, data_dir=data_dir, train_per_class=per_class,
                           test_per_class=per_class and max(1, per_class // 5))
    classes = [c for c in params["classes"].split(",") if c] or None
    return DataSpec.of(name, data_dir=data_dir, classes=classes, per_class=per_class, size=params["image_size"])


def test_data(spec: DataSpec, marks: ProbeMarks | None = None) -> Dataset:
    """``spec``'s data set with its test images marked by ``marks`` (``variants.ProbeMarks``; as loaded
    when None): the one source of the test images that probe activations and agreements read."""
    data = spec.load()
    return marks.apply(data) if marks is not None else data


def _plain(value):
    """A recipe field as plain JSON data (the form it takes in the cache key)."""
    if isinstance(value, Recipe):
        return value.key()
    if isinstance(value, (Schedule, DataSpec, Variant, ProbeMarks)):
        return value.as_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def keyed_when_set():
    """A recipe field that defaults to None and enters the cache key only when set: a field added to a
    recipe kind after its entries were built and banked, which keeps their keys."""
    return dataclasses.field(default=None, metadata={"keyed_when_set": True})


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
        return {"kind": self.kind, **{f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)
                                      if getattr(self, f.name) is not None or not f.metadata.get("keyed_when_set")}}

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

    def probe(self, setup: Setup, layer: str, n: int, marks: ProbeMarks | None = None) -> torch.Tensor:
        """CPU activations of ``layer`` on the first ``n`` test images (all if 0), marked by ``marks``
        where given (``variants.ProbeMarks``): float64 for a model (``activations.record``)."""
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

    def probe(self, setup: Setup, layer: str, n: int, marks: ProbeMarks | None = None) -> torch.Tensor:
        net, _ = self.load(setup)
        images = test_data(self.data, marks).x_test[: n or None]
        return record(net, images, [layer], setup.device, dtype=torch.float64)[layer]


class DerivedModelRecipe(ModelRecipe):
    """A model made from the model ``base`` (pruned from it, a checkpoint of its run...), with ``base``'s
    seed and data (a subclass declares ``base`` as a field; it cannot have a ``seed`` field of its own)."""

    base: ModelRecipe

    @property
    def seed(self) -> int:
        """The seed of ``base`` (for a pruned model, the retraining's batch order)."""
        return self.base.seed

    @property
    def data(self) -> DataSpec:
        return self.base.data


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
