"""stitchbench scenarios: declarative cases with a known ground truth and a functional reference.

>>> import scenarios
>>> specs = {s.name: s for s in scenarios.load_specs()}  # every scenarios/specs/*.toml, quick profile
>>> [case.case for case in scenarios.generate(specs["containment"], seed=0)]
['superset_to_subset', 'subset_to_superset']
>>> [case.stitch for case in scenarios.generate(specs["orthogonal"], seed=0)]
[1.0, 1.0]

A spec names a registered generator (``scenarios.generators()``); a generator is a function
``fn(scenario, seed) -> Iterable[Case]`` registered with ``@scenarios.generator``. This package knows
nothing of the measures: it yields cases and their stitching reference (scenarios.stitching).
"""
from scenarios._data import rng_for
from scenarios._registry import (
    Generator,
    SweepPoint,
    case_id,
    cases,
    families,
    generate,
    generator,
    generators,
    lookup,
    sweep_points,
)
from scenarios._specs import PROFILES, SPEC_DIR, SpecEntry, SpecError, load_specs, spec_index
from scenarios.kinds import EXPECTATION_KINDS, KINDS, Kind
from scenarios.types import Case, Expectation, Scenario, Sweep

__all__ = [
    "EXPECTATION_KINDS",
    "KINDS",
    "Kind",
    "PROFILES",
    "SPEC_DIR",
    "Case",
    "Expectation",
    "Generator",
    "Scenario",
    "SpecEntry",
    "SpecError",
    "Sweep",
    "SweepPoint",
    "case_id",
    "cases",
    "generate",
    "generator",
    "families",
    "generators",
    "load_specs",
    "spec_index",
    "lookup",
    "rng_for",
    "sweep_points",
]
