"""Pruning recipes: a model pruned from another one and retrained, one class per method family.

:class:`Pruned` is the base; :class:`Imp` (one round, learning-rate rewinding), :class:`OneShot`
(magnitude or OBD, global or layer-wise, fine-tuned), :class:`StructuredL1` (filters removed for real,
fine-tuned), :class:`CkaBlock` (residual blocks removed by CKA guidance, fine-tuned after each),
:class:`LayerRemoval` (named stages removed at once, fine-tuned). A class that provides progression
methods (``networks.pruning_progression``'s ``method``, a pruned model at step k) registers them with
:func:`pruning_method` in :data:`PRUNING_METHODS`: a new pruning method is one class here.
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Callable, ClassVar

from torch import nn

from scenarios.networks import prune
from scenarios.networks.data import Dataset
from scenarios.networks.recipes.base import DerivedModelRecipe, ModelRecipe, Setup
from scenarios.networks.train import Schedule

__all__ = ["PRUNING_METHODS", "pruning_method", "pruned_at", "Pruned", "Imp", "OneShot", "StructuredL1", "CkaBlock",
           "LayerRemoval"]


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


class Pruned(DerivedModelRecipe):
    """A model pruned from ``base`` and retrained with ``schedule`` (seeded by ``base``'s seed); subclasses
    say how (:meth:`prune`)."""

    base: ModelRecipe
    schedule: Schedule

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
