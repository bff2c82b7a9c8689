"""The networks family: real trained, pruned, distilled and stitched networks (DESIGN section 6).

Importing this package registers its generators (``networks.*``) in the scenario registry; the spec
loader imports it when a spec names one. Modules: ``data`` (digits, CIFAR-10, ImageFolder), ``models``,
``train``, ``prune``, ``distill``, ``stitch``, ``activations``, ``cache``, ``zoo`` (cached recipes),
``experiments`` (the generators) and ``analysis`` (layer identification).
"""
from scenarios.networks import experiments

__all__ = ["experiments"]
