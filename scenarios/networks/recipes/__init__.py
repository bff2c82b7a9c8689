"""Recipes for every model, activation, stitch, probe and reference the networks experiments read: one
small frozen dataclass per kind, built on demand and stored in the cache (and shipped in the network
bank) under the hash of its :meth:`Recipe.key`.

A recipe's fields are everything that determines its result: its key (its ``kind`` and every field, as
plain data) and its build read the same fields, so they cannot drift. The public names of the modules
below are importable from here (``from scenarios.networks.recipes import Trained, Stitch``):

- ``base``: :class:`Recipe`, :class:`SenderRecipe`, :class:`ModelRecipe`, :class:`Setup` (what every
  recipe of a run shares), :class:`DataSpec`; :func:`reading`, :func:`bank_needs`, :func:`bank_source`
  (what a bank of a run's cases holds);
- ``models``: :class:`Trained`, :class:`RandomInit`, :class:`Checkpoint` (:func:`checkpoint`),
  :class:`Distilled`: a new model kind is one class there;
- ``pruning``: :class:`Pruned` and its methods (:class:`Imp`, :class:`OneShot`, :class:`StructuredL1`,
  :class:`CkaBlock`, :class:`LayerRemoval`), :data:`PRUNING_METHODS` (:func:`pruning_method`,
  :func:`pruned_at`): a new pruning method is one class there;
- ``references``: :class:`ClusteredNoise`, :class:`Record`, :class:`Activations`, :class:`Stitch`,
  :class:`Agreement`; :func:`case_recipes`, :func:`reference_columns` (a case's reference columns) and
  :func:`at_chance` (its stitches into a receiver at chance);
- ``probes``: :class:`TrainingActivations`, :class:`DeletionProbe`, :class:`RelevantBasis`,
  :func:`relevance_fields` (a layer's task-relevant and irrelevant variance).

Every build runs inside ``determinism.deterministic``. Importing a module here registers its classes'
pruning methods; nothing here registers a generator (``scenarios.networks.experiments`` does).
"""
from scenarios.networks.recipes import base, models, probes, pruning, references
from scenarios.networks.recipes.base import *  # noqa: F403
from scenarios.networks.recipes.models import *  # noqa: F403
from scenarios.networks.recipes.probes import *  # noqa: F403
from scenarios.networks.recipes.pruning import *  # noqa: F403
from scenarios.networks.recipes.references import *  # noqa: F403

__all__ = [*base.__all__, *models.__all__, *pruning.__all__, *references.__all__, *probes.__all__]
