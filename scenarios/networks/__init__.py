"""The networks family: real trained, pruned, distilled and stitched networks (DESIGN section 6).

Importing this package registers its generators (``networks.*``) in the scenario registry; the spec
loader imports it when a spec names one. Modules: ``data`` (digits, CIFAR-10, ImageFolder), ``models``,
``train``, ``prune``, ``distill``, ``stitch`` (stitching and the other functional references),
``activations``, ``cache``, ``zoo`` (the recipe types, one per kind), ``determinism`` (one thread inside
every build), ``prefetch`` (missing recipes built in parallel processes) and ``experiments`` (the
generators). Layer identification, an analysis of the results table, lives in
``reports.analysis``.
"""
from scenarios.networks import experiments, probing, removal, resi, user_models

__all__ = ["experiments", "probing", "removal", "resi", "user_models"]
