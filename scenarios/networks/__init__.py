"""The networks family: real trained, pruned, distilled and stitched networks (DESIGN section 6).

Importing this package registers its generators (``networks.*``): every module in ``experiments/``
(found by being there, ``experiments.load``); the spec loader imports it when a spec names one.

- the public API of experiments: ``plan`` (``networks_generator``, ``PlannedCase``, the common
  parameters, the recipe helpers) and ``recipes`` (one frozen dataclass per kind of cache and bank entry:
  ``recipes.base``, ``recipes.models``, ``recipes.pruning``, ``recipes.references``, ``recipes.probes``);
- what recipes build with: ``data`` (digits, CIFAR-10, ImageFolder), ``models``, ``train``, ``prune``,
  ``distill``, ``stitch`` (stitching and the other functional references), ``activations``,
  ``subspaces``, ``variants``, ``checkpoints``;
- where entries live: ``cache``, ``bank`` (the network bank shipped in ``bank/``), ``bank_build``,
  ``determinism`` (one thread inside every build), ``prefetch`` (missing recipes built in parallel
  processes).

Layer identification, an analysis of the results table, lives in ``reports.analysis``.
"""
from scenarios.networks import experiments

experiments.load()

__all__ = ["experiments"]
