"""The networks family's experiments: every module in this folder is one, found by being there.

:func:`load` imports each module here (names starting with ``_`` are left alone), and importing a module
registers its generators (``networks.*``); ``scenarios.networks`` calls it when it is imported, which
the spec loader does when a spec names a ``networks.`` generator. A new experiment is a new module here
(its generators registered with ``plan.networks_generator``) and a spec in ``scenarios/specs/``: no list
names it. Experiment modules build on the public API only (``scenarios.networks.plan``,
``scenarios.networks.recipes`` and the public names of the other ``scenarios.networks`` modules), never
on each other.

- ``seeds``: the same layer of two seeds, dense and pruned (``networks.seed_pairs``), "pruning keeps
  identity" (``networks.pruning_identity``), every layer pair of two seeds (``networks.layer_pairs``);
- ``progression``: a model along a pruning progression (``networks.pruning_progression``) or along its
  training (``networks.training_progression``);
- ``distillation``: a teacher against its distilled student and other students (``networks.distillation``);
- ``controls``: senders that carry no learned function (``networks.controls``);
- ``resi``: ReSi's tests (``networks.groups``, ``networks.layer_monotonicity``, ``networks.mixed_quality``);
- ``probing``: subspaces of one trained layer (``networks.pc_deletion``, ``networks.pruning_denoising``);
- ``removal``: layer removal (``networks.layer_removal``);
- ``user_models``: the users' own networks (``networks.user_models``; registered with ``scenarios.generator``
  itself: its models are the user's factory's, not recipes, so there is nothing to plan or bank).
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

__all__ = ["load"]


def load() -> list[ModuleType]:
    """Import every experiment module of this folder (each registers its generators), in name order."""
    names = sorted(module.name for module in pkgutil.iter_modules(__path__) if not module.name.startswith("_"))
    return [importlib.import_module(f"{__name__}.{name}") for name in names]
