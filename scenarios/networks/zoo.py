"""The old name of the recipes, kept only because ``benchmarks/conftest.py`` (``--rebuild-networks``) calls
``zoo.reading()``: the recipes are in ``scenarios.networks.recipes``. Delete this module once that
import reads ``from scenarios.networks.recipes import reading``."""
from scenarios.networks.recipes.base import reading

__all__ = ["reading"]
